//! Where the read-only shared corpora live: `$CROSSOVER_SHARED` if set, else
//! `../shared/corpora` beside the project root.
use std::path::PathBuf;

pub fn corpora_dir() -> PathBuf {
    if let Ok(p) = std::env::var("CROSSOVER_SHARED") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("shared")
        .join("corpora")
}
