//! MFCC + deltas throughput in x real time, on one thread, and parallel
//! extraction over files with rayon on 1 vs 2 threads.
//!
//! `cargo bench --bench mfcc` for figures; `cargo test --all-targets` runs
//! each benchmark once (criterion's --test mode), which stays fast.
//! Audio: the first 40 kathleen FLAC files from ../shared/corpora (decoded
//! once, before timing); the figures exclude decoding. x real time =
//! thrpt (Melem/s, elements = 16 kHz samples) / 0.016.
//!
//! Measured 2026-11-29 on the shared 2-core machine, load average ~3-4
//! (noisy): one_thread 91.6 Melem/s = 5,720x real time; rayon_files
//! 1 thread 70.9 Melem/s (4,430x), 2 threads 140.1 Melem/s (8,750x, 1.98x).
//! Against kaldi-native-fbank in the same run: scripts/bench_features.sh.
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use crossover::features::{add_deltas, FeatureConfig, FeatureExtractor};
use rayon::prelude::*;

#[path = "../tests/common/mod.rs"]
mod common;

fn kathleen(n: usize) -> Vec<Vec<f32>> {
    let dir = common::require_corpora().join("kathleen");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "flac"))
        .collect();
    files.sort();
    files
        .iter()
        .take(n)
        .map(|p| {
            crossover::audio::read_16k(p, crossover::audio::ChannelMode::Mix)
                .unwrap()
                .samples
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let audio = kathleen(40);
    let total_samples: usize = audio.iter().map(Vec::len).sum();
    let seconds = total_samples as f64 / 16000.0;
    let ex = FeatureExtractor::new(&FeatureConfig::mfcc()).unwrap();

    let mut g = c.benchmark_group("mfcc_deltas");
    // Throughput in "elements" = audio samples; x real time = elements/s / 16000.
    g.throughput(Throughput::Elements(total_samples as u64));
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    g.bench_function(
        BenchmarkId::new("one_thread", format!("{seconds:.1}s_audio")),
        |b| {
            b.iter(|| {
                for x in &audio {
                    let m = ex.compute(x).unwrap();
                    std::hint::black_box(add_deltas(&m, 2, 2));
                }
            })
        },
    );
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        g.bench_function(
            BenchmarkId::new("rayon_files", format!("{threads}_threads")),
            |b| {
                b.iter(|| {
                    pool.install(|| {
                        audio.par_iter().for_each(|x| {
                            let m = ex.compute(x).unwrap();
                            std::hint::black_box(add_deltas(&m, 2, 2));
                        })
                    })
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
