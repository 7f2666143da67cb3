//! Helpers the integration tests share: the real binary and its runs, the
//! shared corpora (with a clear failure naming where they were looked for),
//! the FSDD import, test WAVs and results.csv reading. (Each test file is
//! its own crate; one that does not use every helper would warn without the
//! allow.)
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_crossover");

/// The binary, run in the current folder.
pub fn bin() -> Command {
    Command::new(BIN)
}

/// The binary, run in `dir`.
pub fn bin_in(dir: &Path) -> Command {
    let mut c = bin();
    c.current_dir(dir);
    c
}

fn both(o: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Run `cmd`, asserting that it succeeds (the failure shows both streams).
pub fn output_ok(cmd: &mut Command) -> Output {
    let o = cmd.output().expect("run crossover");
    assert!(o.status.success(), "command failed: {cmd:?}\n{}", both(&o));
    o
}

/// `cmd`'s standard output; it must succeed.
pub fn stdout_ok(cmd: &mut Command) -> String {
    String::from_utf8_lossy(&output_ok(cmd).stdout).into_owned()
}

/// `cmd`'s standard error; it must fail.
pub fn stderr_err(cmd: &mut Command) -> String {
    let o = cmd.output().expect("run crossover");
    assert!(
        !o.status.success(),
        "command should fail: {cmd:?}\n{}",
        both(&o)
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `cmd`'s standard output then standard error; it must succeed.
pub fn text_ok(cmd: &mut Command) -> String {
    let o = output_ok(cmd);
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

/// `crossover ARGS`, which must succeed: its standard output then error.
pub fn run_ok(args: &[&str]) -> String {
    text_ok(bin().args(args))
}

/// The shared corpora folder (`$CROSSOVER_SHARED`, else `../shared/corpora`
/// beside the project), or a failure naming where it looked.
pub fn require_corpora() -> PathBuf {
    let d = crossover::shared::corpora_dir();
    if !d.join("fsdd").is_dir() || !d.join("kathleen").is_dir() {
        panic!(
            "shared corpora not found: looked for fsdd/ and kathleen/ in {} (set CROSSOVER_SHARED to override)",
            d.display()
        );
    }
    d
}

/// A 16-bit mono 16 kHz WAV of `secs` seconds (folders made): a 300 Hz tone
/// of amplitude `amp` plus a little deterministic noise (0 = digital silence).
pub fn write_wav(path: &Path, secs: f32, amp: f32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).unwrap();
    }
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let n = (secs * 16000.0) as usize;
    for i in 0..n {
        let x = amp * (2.0 * std::f32::consts::PI * 300.0 * i as f32 / 16000.0).sin()
            + amp * 0.3 * ((i * 7919 % 101) as f32 / 50.0 - 1.0);
        w.write_sample(x as i16).unwrap();
    }
    w.finalize().unwrap();
}

/// FSDD (official split) imported into `dir/fsdd`.
pub fn import_fsdd(dir: &Path) -> PathBuf {
    let shared = require_corpora();
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

/// Columns that must be identical across runs: all but those that say when
/// and where (timings and the node) and what it cost (CPU time, memory,
/// disk: a resumed cell reads less, a model's notes hold its timings), not
/// what was learnt.
pub fn stable(rows: &[csv::StringRecord], header: &csv::StringRecord) -> Vec<Vec<String>> {
    let skip = [
        "train_seconds",
        "decode_rtf",
        "node",
        "train_cpu_seconds",
        "peak_rss_mb",
        "feature_cache_mb",
        "model_disk_mb",
    ];
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

/// [`stable`] of the results.csv at `path`.
pub fn stable_csv(path: &Path) -> Vec<Vec<String>> {
    let header = csv::Reader::from_path(path)
        .unwrap()
        .headers()
        .unwrap()
        .clone();
    stable(&read_rows(path), &header)
}
