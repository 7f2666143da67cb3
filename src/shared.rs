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

/// The shared corpora folder, or a panic message (for tests) naming where it looked.
pub fn require_corpora() -> PathBuf {
    let d = corpora_dir();
    if !d.join("fsdd").is_dir() || !d.join("kathleen").is_dir() {
        panic!(
            "shared corpora not found: looked for fsdd/ and kathleen/ in {} (set CROSSOVER_SHARED to override)",
            d.display()
        );
    }
    d
}
