//! Pipeline kinds -> recognisers. The only place that knows every recogniser;
//! the sweep and the `train`/`decode` subcommands go through it.
use std::path::Path;

use crate::error::{Error, Result};
use crate::pipeline::{pipeline_kind, Recogniser, TrainContext};

pub const KINDS: &str = "classical, phone-ctc or char-ctc";

fn unknown(path: &Path, kind: &str) -> Error {
    Error::Config(format!(
        "{}: unknown pipeline kind {kind:?} (expected {KINDS})",
        path.display()
    ))
}

/// Train the recogniser a pipeline config file describes.
pub fn train(pipeline: &Path, ctx: &TrainContext) -> Result<Box<dyn Recogniser>> {
    let (kind, table) = pipeline_kind(pipeline)?;
    match kind.as_str() {
        crate::classical::KIND => {
            let cfg = crate::classical::ClassicalConfig::from_table(table, pipeline)?;
            Ok(Box::new(crate::classical::train_classical(&cfg, ctx)?))
        }
        k if crate::neural::config::KINDS.contains(&k) => {
            let cfg = crate::neural::config::CtcConfig::load(pipeline)?;
            Ok(Box::new(crate::neural::train_ctc(&cfg, ctx)?))
        }
        other => Err(unknown(pipeline, other)),
    }
}

/// The configuration a pipeline file means, every default filled in, as
/// JSON: the sweep's cache key, so that a changed default (not only an
/// edited file) redoes the cells it affects.
pub fn effective_config(pipeline: &Path) -> Result<String> {
    let (kind, table) = pipeline_kind(pipeline)?;
    let json = match kind.as_str() {
        crate::classical::KIND => serde_json::to_string(
            &crate::classical::ClassicalConfig::from_table(table, pipeline)?,
        ),
        k if crate::neural::config::KINDS.contains(&k) => {
            serde_json::to_string(&crate::neural::config::CtcConfig::load(pipeline)?)
        }
        other => return Err(unknown(pipeline, other)),
    };
    json.map_err(|e| Error::Config(format!("{}: {e}", pipeline.display())))
}

/// Load a trained model folder (its `pipeline.toml` says which recogniser).
pub use crate::pipeline::load_model as load;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_pipeline_file_parses() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
        let mut files = vec![];
        let mut dirs = vec![root];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "toml") {
                    files.push(p);
                }
            }
        }
        assert!(files.len() >= 10, "{files:?}");
        for f in files {
            effective_config(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        }
    }

    #[test]
    fn effective_config_ignores_wording_and_sees_meaning() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let a = write("a.toml", "kind = \"classical\"\n");
        // A comment and a default stated explicitly mean the same pipeline.
        let b = write(
            "b.toml",
            "# the same\nkind = \"classical\"\n[decode]\nlm_weight = 10.0\n",
        );
        let c = write(
            "c.toml",
            "kind = \"classical\"\n[decode]\nlm_weight = 12.0\n",
        );
        let d = write("d.toml", "kind = \"char-ctc\"\n");
        let e = |p: &Path| effective_config(p).unwrap();
        assert_eq!(e(&a), e(&b));
        assert_ne!(e(&a), e(&c));
        assert_ne!(e(&a), e(&d));
        let bad = write("bad.toml", "kind = \"hmm\"\n");
        assert!(effective_config(&bad)
            .unwrap_err()
            .to_string()
            .contains("bad.toml"));
    }
}
