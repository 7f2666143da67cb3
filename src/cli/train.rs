//! `crossover train`: train a recogniser from a pipeline config on a corpus.
use std::path::PathBuf;

use anyhow::{bail, Context};
use crossover::corpus::{Corpus, Split};
use crossover::pipeline::{pipeline_kind, DeviceChoice, TrainContext};

#[derive(clap::Args)]
pub struct Args {
    /// Pipeline config (pipelines/*.toml); its `kind` picks the recogniser.
    #[arg(long)]
    pub pipeline: PathBuf,
    /// Corpus folder (with manifest.tsv).
    #[arg(long)]
    pub corpus: PathBuf,
    /// Train on the nested subset of this many hours (all training data when absent).
    #[arg(long)]
    pub hours: Option<f64>,
    /// Seed for every random choice.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Threads for numeric work.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Device for neural pipelines (classical ignores it).
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,
    /// Model folder to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Train on the train and dev splits together (no dev tuning), as the
    /// canonical kathleen and FSDD figures do.
    #[arg(long)]
    pub dev_into_train: bool,
    /// CMUdict-format lexicon file (`WORD  AH0 B ...`, `WORD(2)` variants);
    /// overrides the pipeline's `[lexicon] file`. classical and phone-ctc
    /// only. Words missing from it go to espeak-ng (the `[lexicon] oov` policy).
    #[arg(long)]
    pub lexicon: Option<PathBuf>,
    /// No progress output.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    // Fail on a bad pipeline file before loading the corpus.
    pipeline_kind(&a.pipeline)?;
    let corpus = Corpus::load(&a.corpus)?;
    let mut train = corpus.split(Split::Train);
    if a.dev_into_train {
        train.extend(corpus.split(Split::Dev));
    }
    if let Some(h) = a.hours {
        if h <= 0.0 {
            bail!("--hours must be positive, got {h}");
        }
        let sub = crossover::corpus::subset::subset(&train, h, a.seed);
        if sub.truncated {
            eprintln!(
                "--hours {h}: the training set holds only {:.3} h; using all of it",
                sub.hours
            );
        }
        eprintln!(
            "training subset: {} utterances, {:.3} h, {} speakers (seed {})",
            sub.utterances.len(),
            sub.hours,
            sub.speakers(),
            a.seed
        );
        train = sub.utterances;
    }
    if train.is_empty() {
        bail!("{}: no training utterances", a.corpus.display());
    }
    train.sort_by(|x, y| x.id.cmp(&y.id));
    let dev = if a.dev_into_train {
        vec![]
    } else {
        corpus.split(Split::Dev)
    };
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let ctx = TrainContext {
        corpus: &corpus,
        train,
        dev,
        seed: a.seed,
        threads: a.threads,
        device: a.device,
        out_dir: a.out.clone(),
        progress: !a.quiet,
        lexicon: a.lexicon.clone(),
    };
    let model = crossover::registry::train(&a.pipeline, &ctx)?;
    model.save(&a.out)?;
    let s = model.summary();
    eprintln!(
        "saved {} model ({} {}) to {}",
        s.kind,
        s.size,
        s.size_unit,
        a.out.display()
    );
    Ok(())
}
