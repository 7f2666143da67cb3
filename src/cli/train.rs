//! `crossover train`: train a recogniser from a pipeline config on a corpus.
use std::path::PathBuf;

use anyhow::Context;
use crossover::corpus::Corpus;
use crossover::loader::{Loader, SplitPooling};
use crossover::overlay::Overlay;
use crossover::pipeline::{DeviceChoice, RunSettings, TrainContext};

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
    /// shorthand for `--set lexicon.file=FILE` (classical and phone-ctc).
    /// Words missing from it go to espeak-ng (the `[lexicon] oov` policy).
    #[arg(long)]
    pub lexicon: Option<PathBuf>,
    /// Override a pipeline setting, `SECTION.KEY=VALUE` (repeatable; e.g.
    /// `--set tri.enabled=false --set decode.beam=160`). Applied to the
    /// pipeline file before it is read; the model folder records the result
    /// in pipeline.toml and the overrides in overrides.txt.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// No progress output.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let mut sets = a.set.clone();
    if let Some(f) = &a.lexicon {
        sets.insert(
            0,
            format!("lexicon.file={}", toml_string(&f.display().to_string())),
        );
    }
    let overlay = Overlay::parse(&sets)?;
    // Fail on a bad pipeline file (or override) before loading the corpus.
    crossover::registry::effective_config(&a.pipeline, &overlay)?;
    let corpus = Corpus::load(&a.corpus)?;
    let loader = Loader::with_pooling(
        &corpus,
        if a.dev_into_train {
            SplitPooling::DevWithTrain
        } else {
            SplitPooling::PerSplit
        },
    );
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let run = RunSettings {
        threads: a.threads,
        device: a.device,
        out_dir: a.out.clone(),
        progress: !a.quiet,
        shared_networks: None,
    };
    let (ctx, data) = TrainContext::for_subset(&loader, a.hours, a.seed, a.dev_into_train, run)?;
    if let Some(h) = a.hours {
        if data.truncated {
            eprintln!(
                "--hours {h}: the training set holds only {:.3} h; using all of it",
                data.hours
            );
        }
        eprintln!(
            "training subset: {} utterances, {:.3} h, {} speakers (seed {})",
            data.utterances, data.hours, data.speakers, a.seed
        );
    }
    let model = crossover::registry::train(&a.pipeline, &overlay, &ctx)?;
    model.save(&a.out)?;
    if !overlay.is_empty() {
        let p = a.out.join("overrides.txt");
        std::fs::write(&p, overlay.describe())
            .with_context(|| format!("writing {}", p.display()))?;
    }
    let s = model.summary();
    eprintln!(
        "saved {} model ({} {}) to {}; {}",
        s.kind,
        s.size,
        s.size_unit,
        a.out.display(),
        loader.counts()
    );
    Ok(())
}

/// A TOML basic string (quotes and backslashes escaped).
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}
