//! Times crossover's one-thread MFCC + deltas on raw f32 sample files (as
//! written by `crossover features --dump-samples DIR`), for
//! scripts/bench_features.sh, which times kaldi-native-fbank on the same
//! files in the same run. Prints the median x real time over the repeats.
//!
//! cargo run --release --example feature_speed -- DIR [REPEATS]
use std::time::Instant;

use crossover::features::{add_deltas, FeatureConfig, FeatureExtractor};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("usage: feature_speed DIR [REPEATS]");
    let repeats: usize = args
        .next()
        .map_or(7, |s| s.parse().expect("REPEATS must be a number"));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "f32"))
        .collect();
    files.sort();
    let audio: Vec<Vec<f32>> = files
        .iter()
        .map(|p| {
            std::fs::read(p)
                .unwrap()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        })
        .collect();
    let seconds: f64 = audio.iter().map(|a| a.len() as f64 / 16000.0).sum();
    let ex = FeatureExtractor::new(&FeatureConfig::mfcc()).unwrap();
    let mut rates = Vec::new();
    for _ in 0..repeats {
        let t = Instant::now();
        for a in &audio {
            let m = ex.compute(a).unwrap();
            std::hint::black_box(add_deltas(&m, 2, 2));
        }
        rates.push(seconds / t.elapsed().as_secs_f64());
    }
    rates.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("crossover {} files {seconds:.1} s audio: median {:.0}x real time (min {:.0}, max {:.0}) over {repeats} repeats",
        audio.len(), rates[repeats / 2], rates[0], rates[repeats - 1]);
}
