//! The architecture the docs describe, checked on the source (every file of
//! `src/`, `src/cli` included, read whole with only its `#[cfg(test)]`
//! modules left out):
//! - no import circle among the top-level modules (folders), nor among the
//!   files inside a folder (a child file may use its folder's `mod.rs`,
//!   whose shared types it builds on; any other circle is reported);
//! - `neural` never reaches into `classical`, and the registry is the only
//!   library module that names every recogniser kind's module;
//! - no kind name (`"char-ctc"`, ...) as a string literal outside the
//!   registry and the one module that defines the kind.
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

/// A source file's code with comments removed and each string literal
/// replaced by a numbered placeholder `"@N@"`, and the literals' contents.
/// (Braces inside literals and comments then cannot confuse brace matching.)
fn lex(text: &str) -> (String, Vec<String>) {
    let b: Vec<char> = text.chars().collect();
    let (mut code, mut lits) = (String::new(), Vec::new());
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            continue;
        }
        let after_ident = i > 0 && ident(b[i - 1]);
        // Raw strings: r"..", r#".."#, br"..".
        let raw_start = if !after_ident && c == 'r' {
            Some(i + 1)
        } else if !after_ident && c == 'b' && next == Some('r') {
            Some(i + 2)
        } else {
            None
        };
        if let Some(mut j) = raw_start {
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) == Some(&'"') {
                let start = j + 1;
                let mut k = start;
                loop {
                    if b[k] == '"' && (0..hashes).all(|h| b.get(k + 1 + h) == Some(&'#')) {
                        break;
                    }
                    k += 1;
                }
                lits.push(b[start..k].iter().collect());
                code.push_str(&format!("\"@{}@\"", lits.len() - 1));
                i = k + 1 + hashes;
                continue;
            }
        }
        if c == '"' || (c == 'b' && next == Some('"') && !after_ident) {
            let mut j = if c == 'b' { i + 2 } else { i + 1 };
            let mut s = String::new();
            while b[j] != '"' {
                if b[j] == '\\' {
                    s.push(b[j]);
                    s.push(b[j + 1]);
                    j += 2;
                } else {
                    s.push(b[j]);
                    j += 1;
                }
            }
            lits.push(s);
            code.push_str(&format!("\"@{}@\"", lits.len() - 1));
            i = j + 1;
            continue;
        }
        if c == '\'' {
            // A char literal ('x', '\n', '\u{7f}', '{'), else a lifetime.
            if next == Some('\\') {
                let mut j = i + 3;
                while b[j] != '\'' {
                    j += 1;
                }
                code.push_str("' '");
                i = j + 1;
                continue;
            }
            if b.get(i + 2) == Some(&'\'') {
                code.push_str("' '");
                i += 3;
                continue;
            }
        }
        code.push(c);
        i += 1;
    }
    (code, lits)
}

/// `code` without its `#[cfg(test)] mod NAME { ... }` blocks, wherever in
/// the file they stand.
fn without_test_modules(mut code: String) -> String {
    let re = regex::Regex::new(r"#\[cfg\(test\)\]\s*(pub\s+)?mod\s+\w+\s*\{").unwrap();
    while let Some(m) = re.find(&code) {
        let mut depth = 1;
        let mut end = code.len();
        for (k, ch) in code[m.end()..].char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = m.end() + k + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        code.replace_range(m.start()..end, "");
    }
    code
}

/// One source file: its module path (`sweep/report`; a `mod.rs` is its
/// folder, `sweep`), its code and the string literals of that code.
struct SourceFile {
    module: String,
    is_mod_rs: bool,
    code: String,
    literals: Vec<String>,
}

fn read_sources(src: &Path) -> Vec<SourceFile> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    files
        .iter()
        .map(|f| {
            let rel = f.strip_prefix(src).unwrap().with_extension("");
            let rel = rel.to_string_lossy().replace('\\', "/");
            let is_mod_rs = rel.ends_with("/mod");
            let module = rel.trim_end_matches("/mod").to_string();
            let (code, lits) = lex(&std::fs::read_to_string(f).unwrap());
            let code = without_test_modules(code);
            let placeholder = regex::Regex::new(r#""@(\d+)@""#).unwrap();
            let literals = placeholder
                .captures_iter(&code)
                .map(|c| lits[c[1].parse::<usize>().unwrap()].clone())
                .collect();
            SourceFile {
                module,
                is_mod_rs,
                code,
                literals,
            }
        })
        .collect()
}

/// Files of the binary crate (`main.rs`, `src/cli`): their `crate::` is the
/// binary, the library is `crossover::`.
fn in_binary(module: &str) -> bool {
    module == "main" || module == "cli" || module.starts_with("cli/")
}

/// The file-level import graph: an edge from each file to every file its
/// `crate::`, `crossover::`, `super::` and `self::` paths name (the longest
/// prefix of the path that is a module file), `use` lists expanded.
fn file_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let sources = read_sources(src);
    let modules: BTreeSet<String> = sources.iter().map(|s| s.module.clone()).collect();
    let longest = |base: &[String], path: &[String]| -> Option<String> {
        let mut best = None;
        let mut parts = base.to_vec();
        for p in path {
            parts.push(p.clone());
            let m = parts.join("/");
            if modules.contains(&m) {
                best = Some(m);
            } else if !base.is_empty() || best.is_some() {
                break;
            }
        }
        best.or_else(|| (!base.is_empty()).then(|| base.join("/")))
    };
    let path_re = regex::Regex::new(
        r"\b(crate|crossover|super|self)::((?:[a-z_][a-z0-9_]*::)*)(\{|[A-Za-z_][A-Za-z0-9_]*)",
    )
    .unwrap();
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in &sources {
        let binary = in_binary(&s.module);
        let deps = g.entry(s.module.clone()).or_default();
        for m in path_re.captures_iter(&s.code) {
            let root = &m[1];
            let prefix: Vec<String> = m[2]
                .split("::")
                .filter(|x| !x.is_empty())
                .map(String::from)
                .collect();
            // The paths this reference names: one, or each entry of a `{...}` list.
            let mut paths = Vec::new();
            if &m[3] == "{" {
                let start = m.get(3).unwrap().end();
                let mut depth = 1;
                let mut inner = String::new();
                for ch in s.code[start..].chars() {
                    match ch {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    inner.push(ch);
                }
                // Nested lists name their prefix (`a::{b, c}` names `a`).
                for entry in inner.split([',', '{', '}']) {
                    let entry = entry.trim();
                    if entry.is_empty() {
                        continue;
                    }
                    let mut p = prefix.clone();
                    p.extend(
                        entry
                            .split("::")
                            .map(|x| x.split_whitespace().next().unwrap_or(""))
                            .filter(|x| !x.is_empty() && *x != "self")
                            .map(String::from),
                    );
                    paths.push(p);
                }
            } else {
                let mut p = prefix.clone();
                p.push(m[3].to_string());
                paths.push(p);
            }
            let parent: Vec<String> = s
                .module
                .split('/')
                .map(String::from)
                .collect::<Vec<_>>()
                .split_last()
                .map(|(_, p)| p.to_vec())
                .unwrap_or_default();
            for p in paths {
                let target = match root {
                    "crossover" if binary => longest(&[], &p),
                    "crossover" => None,
                    "crate" => longest(&[], &p),
                    // `super::` of a `mod.rs` is the crate root's level.
                    "super" if s.is_mod_rs => longest(&parent, &p).filter(|t| !t.is_empty()),
                    "super" => longest(&parent, &p),
                    _ if s.is_mod_rs => {
                        let own: Vec<String> = s.module.split('/').map(String::from).collect();
                        longest(&own, &p)
                    }
                    _ => None,
                };
                if let Some(t) = target.filter(|t| !t.is_empty() && *t != s.module) {
                    deps.insert(t);
                }
            }
        }
    }
    g
}

/// The top-level module of a module path.
fn top(module: &str) -> &str {
    module.split('/').next().unwrap()
}

/// The folder-level graph: the file graph with each file replaced by its
/// top-level module.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, deps) in file_graph(src) {
        let t = top(&m).to_string();
        let entry = g.entry(t.clone()).or_default();
        for d in deps {
            if top(&d) != t {
                entry.insert(top(&d).to_string());
            }
        }
    }
    g
}

/// A circle in `g`, if it has one.
fn find_circle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
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
    g.keys()
        .find_map(|m| visit(m, g, &mut Vec::new(), &mut done))
}

/// The file graph without the edges from a file to its own folder's
/// `mod.rs` (the folder's shared types, which its files may build on).
fn sibling_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    file_graph(src)
        .into_iter()
        .map(|(m, deps)| {
            let folder = m.rsplit_once('/').map(|(f, _)| f.to_string());
            let deps = deps
                .into_iter()
                .filter(|d| Some(d) != folder.as_ref())
                .collect();
            (m, deps)
        })
        .collect()
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_import_circle_among_modules() {
    let g = module_graph(&src());
    if let Some(c) = find_circle(&g) {
        panic!("import circle between folders: {}", c.join(" -> "));
    }
    assert!(g.len() > 10 && g.contains_key("cli"), "{g:?}");
    assert!(g["cli"].contains("sweep"), "{g:?}");
}

#[test]
fn no_import_circle_among_files() {
    let g = sibling_graph(&src());
    if let Some(c) = find_circle(&g) {
        panic!("import circle between files: {}", c.join(" -> "));
    }
    // The graph sees files, not just folders.
    assert!(g["sweep/report"].contains("sweep/crossover"), "{g:?}");
}

#[test]
fn recognisers_meet_only_in_the_registry() {
    let g = module_graph(&src());
    assert!(
        !g["neural"].contains("classical"),
        "neural imports classical: shared parts belong in lang"
    );
    assert!(!g["classical"].contains("neural"));
    let naming_all: Vec<&String> = g
        .iter()
        .filter(|(m, d)| !in_binary(m) && d.contains("classical") && d.contains("neural"))
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
    // Subcommands too (train, decode, align, sweep), except `crossover
    // bench`, which times the network's kernels themselves.
    for (file, deps) in file_graph(&src()) {
        if !in_binary(&file) || file == "cli/bench" {
            continue;
        }
        for d in deps {
            assert!(
                top(&d) != "classical" && top(&d) != "neural",
                "{file} imports {d}: a subcommand reaches recognisers through the registry"
            );
        }
    }
}

#[test]
fn kind_names_are_spelled_only_in_the_registry_and_the_kind_itself() {
    let kinds: Vec<&str> = crossover::registry::KINDS.iter().map(|k| k.name).collect();
    assert!(kinds.len() >= 4, "{kinds:?}");
    let sources = read_sources(&src());
    for kind in &kinds {
        let spelled_in: BTreeSet<&str> = sources
            .iter()
            .filter(|s| s.literals.iter().any(|l| l == kind))
            .map(|s| top(&s.module))
            .filter(|m| *m != "registry")
            .collect();
        assert!(
            spelled_in.len() <= 1,
            "kind {kind:?} is spelled as a string in {spelled_in:?}: outside its own module, ask the registry (KindTraits, PipelineInfo)"
        );
    }
}

/// The checks themselves, on a made-up source tree: they must find what
/// they look for.
#[test]
fn the_checks_find_circles_and_read_past_test_modules() {
    let d = tempfile::tempdir().unwrap();
    let s = d.path();
    let write = |p: &str, t: &str| {
        let p = s.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, t).unwrap();
    };
    write("lib.rs", "pub mod a;\npub mod b;\n");
    write(
        "a/mod.rs",
        "pub mod x;\npub mod y;\npub struct Shared;\nuse crate::b::Thing;\n",
    );
    // x and y use each other (a circle of files inside folder a), x uses its
    // mod.rs (allowed); code after a test module is still read.
    write(
        "a/x.rs",
        "use super::{y::Y, Shared};\n#[cfg(test)]\nmod tests {\n    fn f() { let _ = \"}\"; let _ = '{'; }\n}\npub fn after() { crate::b::g(); }\n",
    );
    write("a/y.rs", "pub struct Y;\nfn f() { super::x::after(); }\n");
    write(
        "b.rs",
        "pub struct Thing;\npub fn g() {}\n// crate::a::x in a comment\n",
    );
    let files = sibling_graph(s);
    let c = find_circle(&files).expect("the x <-> y circle");
    assert!(
        c.contains(&"a/x".to_string()) && c.contains(&"a/y".to_string()),
        "{c:?}"
    );
    assert!(
        files["a/x"].contains("b"),
        "code after the test module: {files:?}"
    );
    assert!(
        !files["a/x"].contains("a"),
        "edges to the folder's mod.rs are allowed"
    );
    let folders = module_graph(s);
    assert_eq!(find_circle(&folders), None, "{folders:?}");
    // A folder circle: b now uses a.
    write(
        "b.rs",
        "pub struct Thing;\npub fn g() { crate::a::x::after(); }\n",
    );
    assert!(find_circle(&module_graph(s)).is_some());
    // String literals are found, comments are not code.
    let (code, lits) = lex("let k = \"char-ctc\"; // \"mtl-ctc\"\nlet r = r#\"a\"b\"#;");
    assert_eq!(lits, vec!["char-ctc".to_string(), "a\"b".to_string()]);
    assert!(!code.contains("mtl-ctc"));
}
