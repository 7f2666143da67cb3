//! `crossover decode`: transcribe a corpus split with a trained model into a
//! Kaldi `text` file (`utt-id word word ...`).
use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};
use crossover::corpus::{Corpus, Split};

#[derive(clap::Args)]
pub struct Args {
    /// Model folder written by `crossover train`.
    #[arg(long)]
    pub model: PathBuf,
    /// Corpus folder (with manifest.tsv).
    #[arg(long)]
    pub corpus: PathBuf,
    /// Split to decode.
    #[arg(long, value_enum, default_value_t = Split::Test)]
    pub split: Split,
    /// Hypothesis file to write (Kaldi text format).
    #[arg(long)]
    pub out: PathBuf,
    /// Decoding threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let model = crossover::pipeline::load_model(&a.model)?;
    let corpus = Corpus::load(&a.corpus)?;
    let utts = corpus.split(a.split);
    if utts.is_empty() {
        bail!("{}: no utterances in split {}", a.corpus.display(), a.split);
    }
    let t0 = std::time::Instant::now();
    let hyps = model.transcribe(&corpus, &utts, a.threads)?;
    let secs = t0.elapsed().as_secs_f64();
    let audio: f64 = utts.iter().map(|u| u.duration).sum();
    let mut f = std::io::BufWriter::new(std::fs::File::create(&a.out).with_context(|| format!("creating {}", a.out.display()))?);
    for h in &hyps {
        if h.words.is_empty() {
            writeln!(f, "{}", h.id)?;
        } else {
            writeln!(f, "{} {}", h.id, h.words)?;
        }
    }
    f.flush()?;
    eprintln!(
        "decoded {} utterances ({:.1} s of audio) in {:.1} s with {} thread(s): real-time factor {:.4} per thread",
        hyps.len(),
        audio,
        secs,
        a.threads,
        secs * a.threads as f64 / audio.max(1e-9)
    );
    Ok(())
}
