//! Helpers the integration tests share: the real binary, its runs, the
//! FSDD import and results.csv reading. (Each test file is its own crate;
//! one that does not use every helper would warn without the allow.)
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::Command;

pub const BIN: &str = env!("CARGO_BIN_EXE_crossover");

pub fn run_ok(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("run crossover");
    assert!(
        out.status.success(),
        "crossover {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// FSDD (official split) imported into `dir/fsdd`.
pub fn import_fsdd(dir: &Path) -> PathBuf {
    let shared = crossover::shared::require_corpora();
    let corpus = dir.join("fsdd");
    run_ok(&[
        "corpus",
        "import",
        "fsdd",
        shared.join("fsdd").to_str().unwrap(),
        "--split",
        "official",
        "--out",
        corpus.to_str().unwrap(),
        "--no-progress",
    ]);
    corpus
}

pub fn read_rows(path: &Path) -> Vec<csv::StringRecord> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.records().map(|x| x.unwrap()).collect()
}

/// Columns that must be identical across runs (timing columns excluded).
pub fn stable(rows: &[csv::StringRecord], header: &csv::StringRecord) -> Vec<Vec<String>> {
    let skip = ["train_seconds", "decode_rtf"];
    rows.iter()
        .map(|r| {
            header
                .iter()
                .zip(r.iter())
                .filter(|(h, _)| !skip.contains(h))
                .map(|(_, v)| v.to_string())
                .collect()
        })
        .collect()
}

/// A small sweep of `pipelines` (comma-separated files) over `hours` and
/// `seeds` (comma-separated) into `out`: 2 threads, 50 bootstrap replicates.
pub fn sweep_ok(corpus: &Path, pipelines: &str, hours: &str, seeds: &str, out: &Path) -> String {
    run_ok(&[
        "sweep",
        "--corpus",
        corpus.to_str().unwrap(),
        "--pipelines",
        pipelines,
        "--hours",
        hours,
        "--seeds",
        seeds,
        "--threads",
        "2",
        "--bootstrap",
        "50",
        "--no-progress",
        "--out",
        out.to_str().unwrap(),
    ])
}

/// `OUT/results.csv`: its header and rows.
pub fn results(out: &Path) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let path = out.join("results.csv");
    let header = csv::Reader::from_path(&path)
        .unwrap()
        .headers()
        .unwrap()
        .clone();
    (header, read_rows(&path))
}
