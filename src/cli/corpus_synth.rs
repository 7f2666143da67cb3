//! `crossover corpus synth`: generate the synthetic multi-voice corpus.
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;

use crossover::corpus::synth::{self, SynthConfig};

/// Make a synthetic speech corpus with espeak-ng and flite voices (see docs/SYNTH.md).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output corpus folder (manifest.tsv, wav/, synth.toml, VOICES.md). An interrupted run
    /// resumes here; the same settings with more --hours extend the corpus.
    #[arg(long)]
    pub out: PathBuf,
    /// Hours of training audio [default: 1, or the --config value].
    #[arg(long)]
    pub hours: Option<f64>,
    /// Seed for every random choice [default: 1].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Sentences from this file (one per line) instead of the built-in grammar.
    #[arg(long)]
    pub text: Option<PathBuf>,
    /// Settings file (TOML, the fields of synth.toml's [config]); flags override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Hours of audio in each of dev and test [default: 0.1].
    #[arg(long)]
    pub eval_hours: Option<f64>,
    /// Number of training voices, 1..=39 [default: 39].
    #[arg(long)]
    pub train_voices: Option<usize>,
    /// Words kept per grammar category (first N of each list) [default: 1000 = all].
    #[arg(long)]
    pub vocab: Option<usize>,
    /// Probability of additive noise per utterance [default: 0.6].
    #[arg(long)]
    pub noise_prob: Option<f64>,
    /// SNR range in dB, MIN,MAX [default: 5,30].
    #[arg(long, value_parser = parse_range)]
    pub snr: Option<[f64; 2]>,
    /// Speed-perturbation range, MIN,MAX [default: 0.9,1.1].
    #[arg(long, value_parser = parse_range)]
    pub speed: Option<[f64; 2]>,
    /// Probability of reverberation per utterance [default: 0.3].
    #[arg(long)]
    pub reverb_prob: Option<f64>,
    /// Worker threads [default: all cores].
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

fn parse_range(s: &str) -> Result<[f64; 2], String> {
    let (a, b) = s
        .split_once([',', ':'])
        .ok_or_else(|| format!("{s:?}: expected MIN,MAX"))?;
    let a: f64 = a
        .trim()
        .parse()
        .map_err(|_| format!("{a:?} is not a number"))?;
    let b: f64 = b
        .trim()
        .parse()
        .map_err(|_| format!("{b:?} is not a number"))?;
    Ok([a, b])
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut cfg = match &args.config {
        Some(p) => SynthConfig::load(p)?,
        None => SynthConfig::default(),
    };
    if let Some(v) = args.hours {
        cfg.hours = v;
    }
    if let Some(v) = args.seed {
        cfg.seed = v;
    }
    if let Some(v) = &args.text {
        cfg.text = Some(
            std::fs::canonicalize(v)
                .with_context(|| format!("{}: cannot open the text file", v.display()))?,
        );
    }
    if let Some(v) = args.eval_hours {
        cfg.eval_hours = v;
    }
    if let Some(v) = args.train_voices {
        cfg.train_voices = v;
    }
    if let Some(v) = args.vocab {
        cfg.vocab_per_category = v;
    }
    if let Some(v) = args.noise_prob {
        cfg.augment.noise_prob = v;
    }
    if let Some(v) = args.snr {
        cfg.augment.snr_db = v;
    }
    if let Some(v) = args.speed {
        cfg.augment.speed = v;
    }
    if let Some(v) = args.reverb_prob {
        cfg.augment.reverb_prob = v;
    }
    let threads = args.threads.unwrap_or_else(crossover::threads::available);
    let t0 = Instant::now();
    let report =
        crossover::threads::install(threads, || synth::generate(&cfg, &args.out, !args.quiet))??;
    let wall = t0.elapsed().as_secs_f64();
    let hours: f64 = report.splits.iter().map(|s| s.2).sum();
    for (split, n, h) in &report.splits {
        println!("{split}: {n} utterances, {h:.3} h");
    }
    println!(
        "{}: {:.3} h of audio in {:.1} s ({:.0}x real time; {} chunks made, {} reused), {:.1} MB of WAV ({:.0} MB per hour)",
        args.out.display(),
        hours,
        wall,
        hours * 3600.0 / wall.max(1e-9),
        report.chunks_made,
        report.chunks_reused,
        report.wav_bytes as f64 / 1e6,
        report.wav_bytes as f64 / 1e6 / hours.max(1e-9)
    );
    Ok(())
}
