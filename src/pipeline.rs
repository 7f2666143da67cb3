//! The one interface every recogniser implements (classical GMM-HMM,
//! phone-ctc, char-ctc). The sweep and the `train`/`decode` subcommands know
//! nothing else about a recogniser: train on a list of utterances, save to a
//! folder, load from it, transcribe utterances into text.
//!
//! A model folder always holds `pipeline.toml` (the pipeline config it was
//! trained with, `kind = "..."` first) so [`crate::registry::load`] can tell
//! which recogniser to rebuild.
use std::path::{Path, PathBuf};

use crate::corpus::{Corpus, Utterance};
use crate::error::{Error, Result};
use crate::loader::Loader;
use crate::overlay::Overlay;

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

/// Everything a recogniser may use while training. Built by
/// [`TrainContext::for_subset`] for `crossover train` and the sweep alike.
pub struct TrainContext<'a> {
    pub corpus: &'a Corpus,
    /// Where every feature comes from (computed once per corpus and config).
    pub loader: &'a Loader<'a>,
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
    /// Where trained networks are shared between the cells of one sweep,
    /// keyed by what decides them, so that a decoding variant (the same
    /// network with an external LM) never trains its network twice. None
    /// outside a sweep.
    pub shared_networks: Option<PathBuf>,
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
    /// What training chose on dev, as `key=value` pairs separated by
    /// spaces (e.g. `rung=tri2b lm_weight=12 word_penalty=0`); results.csv
    /// column `dev_choices`.
    #[serde(default)]
    pub choices: String,
    /// How training went, for networks trained by epochs (None for GMMs).
    #[serde(default)]
    pub training: Option<TrainingRecord>,
    /// What the weights were initialised from (transfer learning); empty
    /// when trained from scratch. results.csv column `init`.
    #[serde(default)]
    pub init: String,
}

/// A network's training on record: the convergence columns of results.csv
/// and the per-epoch curve the sweep draws into each cell folder.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainingRecord {
    pub epochs: usize,
    /// Optimizer updates.
    pub updates: usize,
    /// The epoch whose weights were kept (lowest dev error).
    pub best_epoch: usize,
    /// `converged`, `epoch-cap`, `update-cap`, `time-capped` or `paused`.
    pub stop_reason: String,
    pub final_train_loss: Option<f64>,
    /// Best dev token error rate (CER or PER), as a fraction.
    pub best_dev_error: Option<f64>,
    /// (epoch, train loss, dev error) per epoch.
    pub curve: Vec<(usize, f64, Option<f64>)>,
    /// Seconds spent in the training loop, summed over resumed runs.
    #[serde(default)]
    pub train_seconds: f64,
    /// Seconds of the earlier, interrupted runs this training resumed from
    /// (included in `train_seconds`; the sweep adds them to the cell's
    /// clock, which sees only the last run).
    #[serde(default)]
    pub resumed_seconds: f64,
    /// Training seconds of a network this cell reused rather than trained
    /// (a decoding variant that shares its sweep's network with its base
    /// pipeline); the sweep adds them to the cell's train_seconds.
    #[serde(default)]
    pub reused_network_seconds: f64,
    /// The same three, in process CPU seconds (every thread).
    #[serde(default)]
    pub cpu_seconds: f64,
    #[serde(default)]
    pub resumed_cpu_seconds: f64,
    #[serde(default)]
    pub reused_network_cpu_seconds: f64,
}

impl TrainingRecord {
    /// Stopped by convergence, or at an epoch cap with dev error flat over
    /// the last `flat_epochs` epochs (no fall of more than `min_fall`).
    pub fn converged_or_flat(&self, flat_epochs: usize, min_fall: f64) -> bool {
        match self.stop_reason.as_str() {
            "converged" => true,
            "epoch-cap" | "update-cap" => {
                let devs: Vec<f64> = self.curve.iter().filter_map(|c| c.2).collect();
                if devs.len() <= flat_epochs {
                    return false;
                }
                let before = devs[..devs.len() - flat_epochs]
                    .iter()
                    .copied()
                    .fold(f64::INFINITY, f64::min);
                let after = devs[devs.len() - flat_epochs..]
                    .iter()
                    .copied()
                    .fold(f64::INFINITY, f64::min);
                before - after <= min_fall
            }
            _ => false,
        }
    }
}

/// A trained recogniser, object safe so the sweep can hold any of them.
pub trait Recogniser: Send + Sync {
    fn summary(&self) -> ModelSummary;
    /// Write the model (and its `pipeline.toml`) to `dir`.
    fn save(&self, dir: &Path) -> Result<()>;
    /// Decode with another language folder's lexicon and LM (`lexicon.txt`,
    /// `lm.arpa`), as Kaldi decodes one acoustic model with any `data/lang`.
    /// Recognisers without a lexicon refuse.
    fn set_language(&mut self, lang_dir: &Path) -> Result<()> {
        Err(Error::Config(format!(
            "{}: this recogniser uses no lexicon or LM, so it cannot decode with {}",
            self.summary().kind,
            lang_dir.display()
        )))
    }
    /// Phone strings of `utts` from a free phone recognition, for PER, where
    /// the recogniser has one that [`Recogniser::transcribe`] does not already
    /// fill in `Transcript::phones` (the classical phone loop, a second search).
    fn transcribe_phones(
        &self,
        _loader: &Loader,
        _utts: &[&Utterance],
        _threads: usize,
    ) -> Result<Option<Vec<String>>> {
        Ok(None)
    }
    /// Transcribe utterances of the loader's corpus, in the given order.
    fn transcribe(
        &self,
        loader: &Loader,
        utts: &[&Utterance],
        threads: usize,
    ) -> Result<Vec<Transcript>>;
    /// Forced alignment of `utts` to their own transcripts (`crossover
    /// align`), in the given order: each utterance's word and phone
    /// segments, or why it could not be aligned. None for recognisers with
    /// no frame-level model of phones to align with (the CTC networks).
    fn force_align(
        &self,
        _loader: &Loader,
        _utts: &[&Utterance],
        _threads: usize,
    ) -> Result<Option<Vec<std::result::Result<ForcedAlignment, String>>>> {
        Ok(None)
    }
}

/// One utterance's forced alignment: word and phone segments in order.
#[derive(Debug, Clone, PartialEq)]
pub struct ForcedAlignment {
    pub words: Vec<Segment>,
    pub phones: Vec<Segment>,
}

/// A token's time span, in seconds from the start of the utterance.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub start: f64,
    pub duration: f64,
    pub token: String,
}

/// What the sweep, the report and the Slurm executor need to know about a
/// kind, declared by the kind itself (never inferred from its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindTraits {
    /// Trained by gradient descent: its cells have training curves and an
    /// initialisation (from scratch or transferred), and the Slurm executor
    /// asks a GPU for them (`--neural-gres`). False for the hand-designed
    /// pipeline, which the report sets every network against first.
    pub network: bool,
    /// For a multi-task kind, the single-task kind whose network it extends
    /// with a second task: the report compares the two on the same cells.
    pub multitask_of: Option<&'static str>,
}

impl KindTraits {
    pub const HAND_DESIGNED: KindTraits = KindTraits {
        network: false,
        multitask_of: None,
    };
    pub const NETWORK: KindTraits = KindTraits {
        network: true,
        multitask_of: None,
    };
}

/// How a recogniser module plugs into [`crate::registry`]: the factory
/// table type-erases these into one row per kind.
pub trait RecogniserKind {
    /// The `kind = "..."` of its pipeline files.
    const NAME: &'static str;
    /// One line for `--help` and error messages.
    const ABOUT: &'static str;
    /// How the sweep and report treat it; see [`KindTraits`].
    const TRAITS: KindTraits;
    /// A pipeline file's contents; `Default` states every default.
    type Config: serde::Serialize + serde::de::DeserializeOwned;
    /// Checks serde cannot express (ranges, combinations).
    fn validate(_cfg: &Self::Config) -> Result<()> {
        Ok(())
    }
    /// What a pipeline of this kind is, in a phrase for the report: the
    /// kind's `ABOUT` unless its settings make it something more specific
    /// (a network decoded with an external LM).
    fn describe(_cfg: &Self::Config) -> String {
        Self::ABOUT.to_string()
    }
    /// Where training starts from, when not from scratch (a pre-training
    /// pipeline or a given model folder), in a phrase; None from scratch.
    fn initial_model(_cfg: &Self::Config) -> Option<String> {
        None
    }
    /// What else, beyond the config itself, decides the trained model (an
    /// initial model's fingerprint): appended to the sweep's cache key.
    fn provenance(_cfg: &Self::Config) -> Result<String> {
        Ok(String::new())
    }
    /// Work shared by every cell, done once before any trains (a
    /// pre-trained model); returns a line saying what it did.
    fn prepare(_cfg: &Self::Config, _run: &RunSettings) -> Result<Option<String>> {
        Ok(None)
    }
    /// The loader features its cells read, so that a spread-out sweep can
    /// compute them once before its tasks start instead of letting them race.
    fn feature_configs(_cfg: &Self::Config) -> Vec<crate::features::FeatureConfig> {
        Vec::new()
    }
    fn train(cfg: &Self::Config, ctx: &TrainContext) -> Result<Box<dyn Recogniser>>;
    /// Rebuild a trained recogniser from its model folder. `overlay` holds
    /// decode-time overrides (`crossover decode --set`), applied to the
    /// folder's `pipeline.toml` by [`model_config`]; a kind that keeps
    /// tuned settings elsewhere applies the overlay to them too.
    fn load(dir: &Path, overlay: &Overlay) -> Result<Box<dyn Recogniser>>;
}

/// Parse a pipeline table as kind `K`'s config; errors name the file.
pub fn parse_config<K: RecogniserKind>(table: toml::Table, path: &Path) -> Result<K::Config> {
    let cfg: K::Config = table
        .try_into()
        .map_err(|e: toml::de::Error| Error::parse(path, e.to_string()))?;
    K::validate(&cfg).map_err(|e| match e {
        Error::Config(what) => Error::parse(path, what),
        other => other,
    })?;
    Ok(cfg)
}

/// A parsed config in the form the sweep keys cells by: the JSON with every
/// default filled in, then the kind's provenance line when it has one.
pub fn effective_json<K: RecogniserKind>(cfg: &K::Config, path: &Path) -> Result<String> {
    let json = serde_json::to_string(cfg)
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    let extra = K::provenance(cfg).map_err(|e| match e {
        Error::Config(what) => Error::parse(path, what),
        other => other,
    })?;
    Ok(if extra.is_empty() {
        json
    } else {
        format!("{json}\n{extra}")
    })
}

/// A model folder's `pipeline.toml` with `overlay` applied, parsed as `K`'s config.
pub fn model_config<K: RecogniserKind>(dir: &Path, overlay: &Overlay) -> Result<K::Config> {
    let path = dir.join("pipeline.toml");
    // The registry dispatched on the folder's kind already; kinds that share
    // a config type (char-ctc, phone-ctc) validate their own `kind`.
    let (_, mut table) = pipeline_kind(&path)?;
    overlay
        .apply(&mut table)
        .map_err(|e| Error::parse(&path, e.to_string()))?;
    parse_config::<K>(table, &path)
}

/// A pipeline file's table with its `base` resolved: `base = "FILE"` (a
/// path relative to the file) takes every setting of that pipeline file,
/// and the file's own settings override it, table by table. So a variant
/// lists only what differs from its base (`pipelines/char-ctc-lm.toml`
/// is `pipelines/char-ctc.toml` decoded with an external LM) and follows
/// any later edit of it.
pub fn pipeline_table(path: &Path) -> Result<toml::Table> {
    pipeline_table_within(path, 0)
}

fn pipeline_table_within(path: &Path, depth: usize) -> Result<toml::Table> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| Error::parse(path, e.to_string()))?;
    let Some(base) = table.remove("base") else {
        return Ok(table);
    };
    let base = base
        .as_str()
        .ok_or_else(|| Error::parse(path, "`base` must be a pipeline file's path (a string)"))?;
    if depth >= 8 {
        return Err(Error::parse(
            path,
            "`base` chains more than 8 files deep (a cycle?)",
        ));
    }
    let base_path = path.parent().unwrap_or(Path::new(".")).join(base);
    let mut merged = pipeline_table_within(&base_path, depth + 1).map_err(|e| {
        Error::parse(
            path,
            format!("base = {base:?} ({}): {e}", base_path.display()),
        )
    })?;
    merge_tables(&mut merged, table);
    Ok(merged)
}

/// `over`'s values replace `into`'s; tables present in both merge key by key.
fn merge_tables(into: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (into.get_mut(&k), v) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge_tables(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

/// Read the `kind` of a pipeline config file (`pipelines/*.toml`), and its
/// table with any `base` resolved ([`pipeline_table`]).
pub fn pipeline_kind(path: &Path) -> Result<(String, toml::Table)> {
    let table = pipeline_table(path)?;
    let kind = table
        .get("kind")
        .and_then(|k| k.as_str())
        .ok_or_else(|| {
            Error::parse(
                path,
                "missing `kind = \"...\"` (the recogniser kind; `crossover train --help` lists them)",
            )
        })?
        .to_string();
    Ok((kind, table))
}

/// Which training data a [`TrainContext`] holds, and how it came about.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingData {
    /// Requested hours of the nested subset (`None`: the whole training set).
    pub target_hours: Option<f64>,
    /// Hours actually drawn.
    pub hours: f64,
    pub utterances: usize,
    pub speakers: usize,
    /// The training set holds less than `target_hours`; all of it is used.
    pub truncated: bool,
}

/// Where a [`TrainContext`] runs: everything but the data.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub threads: usize,
    pub device: DeviceChoice,
    /// The model folder being written.
    pub out_dir: PathBuf,
    pub progress: bool,
    /// See [`TrainContext::shared_networks`].
    pub shared_networks: Option<PathBuf>,
}

impl<'a> TrainContext<'a> {
    /// The one way training data is chosen, shared by `crossover train
    /// --hours H --seed S` and the sweep's (pipeline, H, S) cell, so both
    /// train on the same utterances in the same order: the nested,
    /// speaker-balanced subset of `hours` drawn with `seed` from the train
    /// split (plus dev when `dev_into_train`, which then leaves dev empty),
    /// sorted by utterance id as Kaldi data folders are. With
    /// `dev_into_train` the loader must pool dev with train
    /// ([`crate::loader::SplitPooling::DevWithTrain`]).
    pub fn for_subset(
        loader: &'a Loader<'a>,
        hours: Option<f64>,
        seed: u64,
        dev_into_train: bool,
        run: RunSettings,
    ) -> Result<(Self, TrainingData)> {
        use crate::corpus::Split;
        let corpus = loader.corpus();
        let pooling = if dev_into_train {
            crate::loader::SplitPooling::DevWithTrain
        } else {
            crate::loader::SplitPooling::PerSplit
        };
        if loader.pooling() != pooling {
            return Err(Error::Config(format!(
                "the loader pools speaker statistics as {:?}; training with dev_into_train = {dev_into_train} needs {pooling:?} (make it with Loader::with_pooling)",
                loader.pooling()
            )));
        }
        let mut pool = corpus.split(Split::Train);
        if dev_into_train {
            pool.extend(corpus.split(Split::Dev));
        }
        if pool.is_empty() {
            return Err(Error::Invalid(format!(
                "corpus {} has no training utterances",
                corpus.root.display()
            )));
        }
        let (mut train, data) = match hours {
            Some(h) if !(h.is_finite() && h > 0.0) => {
                return Err(Error::Config(format!("hours must be positive, got {h}")))
            }
            Some(h) => {
                let sub = crate::corpus::subset::subset(&pool, h, seed);
                let data = TrainingData {
                    target_hours: Some(h),
                    hours: sub.hours,
                    utterances: sub.utterances.len(),
                    speakers: sub.speakers(),
                    truncated: sub.truncated,
                };
                (sub.utterances, data)
            }
            None => {
                let speakers: std::collections::BTreeSet<&str> =
                    pool.iter().map(|u| u.speaker.as_str()).collect();
                let data = TrainingData {
                    target_hours: None,
                    hours: pool.iter().map(|u| u.duration).sum::<f64>() / 3600.0,
                    utterances: pool.len(),
                    speakers: speakers.len(),
                    truncated: false,
                };
                (pool, data)
            }
        };
        train.sort_by(|x, y| x.id.cmp(&y.id));
        let dev = if dev_into_train {
            vec![]
        } else {
            corpus.split(Split::Dev)
        };
        let ctx = TrainContext {
            corpus,
            loader,
            train,
            dev,
            seed,
            threads: run.threads.max(1),
            device: run.device,
            out_dir: run.out_dir,
            progress: run.progress,
            shared_networks: run.shared_networks,
        };
        Ok((ctx, data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_file_gives_every_setting_the_variant_does_not_override() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("sub")).unwrap();
        std::fs::write(
            d.path().join("base.toml"),
            "kind = \"char-ctc\"\n[train]\nlr = 0.003\npatience = 3\n[decode]\nbeam = 8\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("sub/variant.toml"),
            "base = \"../base.toml\"\n[train]\npatience = 5\n[decode.external_lm]\nweights = [1.0]\n",
        )
        .unwrap();
        let (kind, t) = pipeline_kind(&d.path().join("sub/variant.toml")).unwrap();
        assert_eq!(kind, "char-ctc");
        assert!(t.get("base").is_none());
        assert_eq!(t["train"]["lr"].as_float(), Some(0.003));
        assert_eq!(t["train"]["patience"].as_integer(), Some(5));
        assert_eq!(t["decode"]["beam"].as_integer(), Some(8));
        assert!(t["decode"]["external_lm"].is_table());
        // A missing base names both files; a cycle is stopped.
        std::fs::write(d.path().join("lost.toml"), "base = \"nowhere.toml\"\n").unwrap();
        let e = pipeline_kind(&d.path().join("lost.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("lost.toml") && e.contains("nowhere.toml"), "{e}");
        std::fs::write(d.path().join("loop.toml"), "base = \"loop.toml\"\n").unwrap();
        let e = pipeline_kind(&d.path().join("loop.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("8 files deep"), "{e}");
    }
}
