//! The architecture the docs describe, checked on the source: no import
//! circle among the library's top-level modules, `neural` never reaches into
//! `classical`, and the registry is the only library module that names every
//! recogniser kind's module.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `crate::X` references outside comments and unit-test modules, per top-level module.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if top == "main" || top == "lib" || top == "cli" {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        let deps = g.entry(top.clone()).or_default();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for piece in line.split("crate::").skip(1) {
                let name: String = piece
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
                    .collect();
                if !name.is_empty() && name != top {
                    deps.insert(name);
                }
            }
        }
    }
    g
}

#[test]
fn no_import_circle_among_modules() {
    let g = module_graph();
    // Depth-first search for a back edge; report the circle found.
    fn visit(
        m: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == m) {
            let mut c = path[i..].to_vec();
            c.push(m.to_string());
            return Some(c);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_string());
        for d in g.get(m).into_iter().flatten() {
            if let Some(c) = visit(d, g, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for m in g.keys() {
        if let Some(c) = visit(m, &g, &mut Vec::new(), &mut done) {
            panic!("import circle: {}", c.join(" -> "));
        }
    }
    assert!(g.len() > 10, "{g:?}");
}

#[test]
fn recognisers_meet_only_in_the_registry() {
    let g = module_graph();
    assert!(
        !g["neural"].contains("classical"),
        "neural imports classical: shared parts belong in lang"
    );
    assert!(!g["classical"].contains("neural"));
    let naming_all: Vec<&String> = g
        .iter()
        .filter(|(_, d)| d.contains("classical") && d.contains("neural"))
        .map(|(m, _)| m)
        .collect();
    assert_eq!(naming_all, vec!["registry"], "{g:?}");
    for shared in ["lang", "loader", "pipeline", "score", "sweep"] {
        for kind in ["classical", "neural"] {
            assert!(
                !g[shared].contains(kind),
                "{shared} imports {kind}: it must reach recognisers through the registry"
            );
        }
    }
}
