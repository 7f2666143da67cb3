//! The one interface every recogniser implements (classical GMM-HMM,
//! phone-ctc, char-ctc). The sweep and the `train`/`decode` subcommands know
//! nothing else about a recogniser: train on a list of utterances, save to a
//! folder, load from it, transcribe utterances into text.
//!
//! A model folder always holds `pipeline.toml` (the pipeline config it was
//! trained with, `kind = "..."` first) so [`load_model`] can tell which
//! recogniser to rebuild.
use std::path::{Path, PathBuf};

use crate::corpus::{Corpus, Utterance};
use crate::error::{Error, Result};

/// Where to run neural work. Classical recognisers ignore it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// CUDA when available, else CPU.
    #[default]
    Auto,
    Cpu,
    Cuda,
}

/// Everything a recogniser may use while training.
pub struct TrainContext<'a> {
    pub corpus: &'a Corpus,
    /// The training utterances (the nested subset, or the whole train split).
    pub train: Vec<&'a Utterance>,
    /// Dev utterances, for checkpoint selection and LM-weight tuning.
    pub dev: Vec<&'a Utterance>,
    pub seed: u64,
    /// Threads for numeric work (rayon, libtorch).
    pub threads: usize,
    pub device: DeviceChoice,
    /// The model folder being written; recognisers may keep checkpoints here to resume.
    pub out_dir: PathBuf,
    /// Show progress bars.
    pub progress: bool,
    /// A CMUdict-format lexicon file overriding the pipeline's `[lexicon]
    /// file` (classical and phone-ctc; `crossover train --lexicon`).
    pub lexicon: Option<PathBuf>,
}

/// One utterance's recognition result.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    pub id: String,
    /// Words, space separated, in the normalised form of [`crate::text::normalise`].
    pub words: String,
    /// Phones, space separated, where the recogniser produces them (for PER).
    pub phones: Option<String>,
}

/// What a trained model is, for results tables.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ModelSummary {
    pub kind: String,
    /// Trainable parameters (neural) or Gaussians (GMM).
    pub size: u64,
    /// What `size` counts: "parameters" or "gaussians".
    pub size_unit: String,
    /// Device used for training ("cpu", "cuda:0", ...).
    pub device: String,
    /// Free-form notes (e.g. which size preset was chosen for the data amount).
    pub notes: String,
}

/// A trained recogniser, object safe so the sweep can hold any of them.
pub trait Recogniser: Send + Sync {
    fn summary(&self) -> ModelSummary;
    /// Write the model (and its `pipeline.toml`) to `dir`.
    fn save(&self, dir: &Path) -> Result<()>;
    /// Transcribe utterances of `corpus`, in the given order.
    fn transcribe(
        &self,
        corpus: &Corpus,
        utts: &[&Utterance],
        threads: usize,
    ) -> Result<Vec<Transcript>>;
}

/// Read the `kind` of a pipeline config file (`pipelines/*.toml`).
pub fn pipeline_kind(path: &Path) -> Result<(String, toml::Table)> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| Error::parse(path, e.to_string()))?;
    let kind = table
        .get("kind")
        .and_then(|k| k.as_str())
        .ok_or_else(|| {
            Error::parse(
                path,
                "missing `kind = \"classical\" | \"phone-ctc\" | \"char-ctc\"`",
            )
        })?
        .to_string();
    Ok((kind, table))
}

/// Rebuild a trained recogniser from its model folder, dispatching on the
/// `kind` in its `pipeline.toml`.
pub fn load_model(dir: &Path) -> Result<Box<dyn Recogniser>> {
    let cfg = dir.join("pipeline.toml");
    if !cfg.exists() {
        return Err(Error::parse(
            &cfg,
            "not a model folder (no pipeline.toml; train one with `crossover train`)",
        ));
    }
    let (kind, _) = pipeline_kind(&cfg)?;
    match kind.as_str() {
        crate::classical::KIND => Ok(Box::new(crate::classical::ClassicalModel::load(dir)?)),
        k if crate::neural::config::KINDS.contains(&k) => {
            Ok(Box::new(crate::neural::CtcModel::load(dir)?))
        }
        other => Err(Error::parse(
            &cfg,
            format!(
                "unknown pipeline kind {other:?} (known: {})",
                crate::classical::KIND
            ),
        )),
    }
}
