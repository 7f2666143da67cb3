//! `crossover features` run as a user would: real files from
//! ../shared/corpora, archive parsed back, errors checked on stderr.
use std::path::{Path, PathBuf};
use std::process::Output;

use crossover::features::{compute_file, FeatureConfig};
use crossover::kaldi_io::read_text_archive;
use crossover::matrix::Matrix;

mod common;

fn run(args: &[&str]) -> Output {
    common::bin()
        .arg("features")
        .args(args)
        .output()
        .expect("run crossover")
}

fn ok_archive(args: &[&str]) -> Vec<(String, Matrix)> {
    let out = run(args);
    assert!(
        out.status.success(),
        "crossover features {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    read_text_archive(&out.stdout[..]).expect("stdout is a Kaldi text archive")
}

fn files() -> (PathBuf, PathBuf) {
    let d = common::require_corpora();
    (
        d.join("kathleen/arctic_a0207_1592712443.flac"),
        d.join("fsdd/recordings/3_theo_5.wav"),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn assert_close(a: &Matrix, b: &Matrix) {
    assert_eq!((a.rows, a.cols), (b.rows, b.cols));
    for (x, y) in a.data.iter().zip(&b.data) {
        assert!((x - y).abs() <= 1e-5 * y.abs().max(1.0), "{x} vs {y}");
    }
}

#[test]
fn mfcc_archive_of_real_files() {
    let (k, f) = files();
    let ark = ok_archive(&[s(&k), s(&f)]);
    let keys: Vec<&str> = ark.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        ["arctic_a0207_1592712443", "3_theo_5"],
        "keys are file stems, in argument order"
    );
    // kathleen file: 12127 samples at 16 kHz -> 1 + (12127 - 400) / 160 = 74 frames.
    assert_eq!((ark[0].1.rows, ark[0].1.cols), (74, 13));
    for ((_, m), p) in ark.iter().zip([&k, &f]) {
        assert_close(m, &compute_file(p, &FeatureConfig::mfcc()).unwrap());
    }
    // Kaldi text layout: "KEY  [", frames on lines with two leading spaces, " ]" closes.
    let out = String::from_utf8(run(&[s(&f)]).stdout).unwrap();
    assert!(out.starts_with("3_theo_5  [\n  "), "{}", &out[..40]);
    assert!(out.ends_with(" ]\n"));
}

#[test]
fn fbank_deltas_cmvn_and_config_file() {
    let (k, _) = files();
    let m = &ok_archive(&["--kind", "fbank", "--num-mel-bins", "40", "--deltas", s(&k)])[0].1;
    assert_eq!(m.cols, 120);
    let m = &ok_archive(&["--cmvn", "utt", s(&k)])[0].1;
    for c in 0..m.cols {
        let mean: f64 = m.iter_rows().map(|r| r[c] as f64).sum::<f64>() / m.rows as f64;
        assert!(mean.abs() < 1e-3, "column {c} mean {mean} after --cmvn utt");
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("fbank.toml");
    std::fs::write(
        &cfg,
        "kind = \"fbank\"\nnum_mel_bins = 64\nframe_shift_ms = 20.0\n",
    )
    .unwrap();
    let m = &ok_archive(&["--config", s(&cfg), s(&k)])[0].1;
    assert_eq!((m.rows, m.cols), (1 + (12127 - 400) / 320, 64));
    // Flags override the file.
    assert_eq!(
        ok_archive(&["--config", s(&cfg), "--kind", "mfcc", s(&k)])[0]
            .1
            .cols,
        13
    );
}

#[test]
fn errors_name_the_file_and_exit_nonzero() {
    let dir = tempfile::tempdir().unwrap();
    let (k, _) = files();
    let missing = dir.path().join("nope.wav");
    let out = run(&[s(&k), s(&missing)]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nope.wav") && err.contains("not found"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "no partial archive on error");

    let short = dir.path().join("short.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&short, spec).unwrap();
    for i in 0..300 {
        w.write_sample((i * 37 % 1000) as i16).unwrap();
    }
    w.finalize().unwrap();
    let err = String::from_utf8_lossy(&run(&[s(&short)]).stderr).into_owned();
    assert!(
        err.contains("short.wav") && err.contains("shorter than one 25 ms"),
        "{err}"
    );

    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "num_mel_bin = 40\n").unwrap();
    let out = run(&["--config", s(&cfg), s(&k)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("bad.toml") && err.contains("num_mel_bin"),
        "{err}"
    );
}

#[test]
fn dump_samples_writes_the_16k_samples() {
    let dir = tempfile::tempdir().unwrap();
    let (_, f) = files();
    ok_archive(&["--dump-samples", s(dir.path()), s(&f)]);
    let bytes = std::fs::read(dir.path().join("3_theo_5.f32")).unwrap();
    let a = crossover::audio::read(&f, crossover::audio::ChannelMode::Mix).unwrap();
    assert_eq!(a.rate, 8000);
    let n = bytes.len() / 4;
    assert!(
        (n as i64 - 2 * a.samples.len() as i64).abs() <= 2,
        "{n} samples at 16 kHz from {} at 8 kHz",
        a.samples.len()
    );
}
