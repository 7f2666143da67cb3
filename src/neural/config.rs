//! Pipeline configs for the CTC recognisers (`pipelines/char-ctc.toml`,
//! `pipelines/phone-ctc.toml`). Every field has a default stated in the
//! `Default` impls below, so a pipeline file lists only what differs.
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Which sequence encoder follows the convolutional subsampling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncoderKind {
    /// Bidirectional GRU layers (`hidden` units per direction).
    Gru,
    /// Bidirectional LSTM layers (`hidden` units per direction).
    Lstm,
    /// Pre-norm Transformer encoder blocks (`hidden` = model width).
    Transformer,
    /// Conformer blocks: half-step FFN, self-attention, convolution module, half-step FFN.
    Conformer,
}

/// The network. Defaults: the 3-layer BiGRU-256 with x4 subsampling of the
/// PyTorch reference in issue 5 (about 3.4 M parameters with 29 outputs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    pub encoder: EncoderKind,
    /// Log-mel bins of the input.
    pub num_mel_bins: i64,
    /// Time subsampling of the convolutional front end: 2 or 4.
    pub subsampling: i64,
    /// Channels of the two 3x3 convolutions.
    pub conv_channels: i64,
    /// Units per direction (RNN) or model width (Transformer/Conformer).
    pub hidden: i64,
    pub layers: i64,
    /// Attention heads (Transformer/Conformer).
    pub heads: i64,
    /// Feed-forward width (Transformer/Conformer).
    pub ff_dim: i64,
    /// Depthwise convolution kernel of the Conformer convolution module (odd).
    pub conv_kernel: i64,
    pub dropout: f64,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            encoder: EncoderKind::Gru,
            num_mel_bins: 80,
            subsampling: 4,
            conv_channels: 32,
            hidden: 256,
            layers: 3,
            heads: 4,
            ff_dim: 1024,
            conv_kernel: 15,
            dropout: 0.1,
        }
    }
}

/// A model size chosen by the amount of training audio: the first preset
/// whose `max_hours` is at least the training set's hours overrides
/// `hidden` and `layers` (and `conv_channels` when given).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SizePreset {
    pub name: String,
    pub max_hours: f64,
    pub hidden: i64,
    pub layers: i64,
    #[serde(default)]
    pub conv_channels: Option<i64>,
}

/// SpecAugment (Park et al. 2019) without time warping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpecAugmentConfig {
    pub freq_masks: usize,
    /// Maximum width of a frequency mask, in mel bins.
    pub freq_width: usize,
    pub time_masks: usize,
    /// Maximum width of a time mask, in frames (10 ms) ...
    pub time_width: usize,
    /// ... and at most this fraction of the utterance.
    pub time_ratio: f64,
}

impl Default for SpecAugmentConfig {
    fn default() -> Self {
        SpecAugmentConfig {
            freq_masks: 2,
            freq_width: 15,
            time_masks: 2,
            time_width: 40,
            time_ratio: 0.1,
        }
    }
}

/// The learning-rate schedule after the linear warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LrSchedule {
    /// Cosine decay to `final_lr_ratio` of the peak over the planned
    /// updates (`max_epochs` epochs, or the update cap when it is smaller).
    Cosine,
    /// Newbob (Kaldi nnet1, ESPnet's plateau decay): the rate is multiplied
    /// by `plateau_factor` whenever dev error has not improved for
    /// `plateau_patience` epochs, never below `final_lr_ratio` of the peak.
    /// It does not depend on a planned length, so early stopping ends a run
    /// that has converged rather than one whose rate is still high.
    Plateau,
}

/// How long training runs and how it learns. Training is bounded by work
/// (epochs and optimizer updates) and stopped on dev error, never by the
/// clock, so a result depends only on (config, data, seed, threads, device).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Epoch cap (stop reason `epoch-cap`). Default 60.
    pub max_epochs: usize,
    /// Optimizer-update cap (0 = none; stop reason `update-cap`), plus
    /// `updates_per_hour` per hour of training audio, so the cap can grow
    /// with the data: cap = max_updates + updates_per_hour x hours. Default 0 / 0.
    pub max_updates: usize,
    pub updates_per_hour: f64,
    /// A safety valve only (0 = off, the default): stop after this much
    /// training time, plus `train_seconds_per_hour` per hour of training
    /// audio. A run it stops is marked `time-capped` and depends on the
    /// machine's speed; shipped pipelines never rely on it.
    pub max_train_seconds: f64,
    pub train_seconds_per_hour: f64,
    /// Audio per batch, in seconds (batches are length-bucketed). 40 s rather
    /// than the 160 s of a GPU recipe: on CPU a 40 s batch runs at about the
    /// same audio-seconds per second, and small subsets get four times the
    /// updates (a 0.2 h subset is 18 batches, not 5).
    pub batch_seconds: f64,
    /// Peak learning rate of AdamW. Default 2e-3.
    pub lr: f64,
    /// Schedule after warm-up. Default plateau.
    pub schedule: LrSchedule,
    /// Final (cosine) or lowest (plateau) learning rate as a fraction of the peak. Default 0.05.
    pub final_lr_ratio: f64,
    /// Plateau schedule: epochs without dev improvement before the rate is cut. Default 1.
    pub plateau_patience: usize,
    /// Plateau schedule: the factor of each cut. Default 0.5.
    pub plateau_factor: f64,
    pub warmup_steps: usize,
    pub weight_decay: f64,
    pub beta1: f64,
    pub beta2: f64,
    /// Global gradient-norm clipping threshold.
    pub grad_clip: f64,
    /// Stop when dev error has not improved for this many epochs (0 = never;
    /// stop reason `converged`). Default 4.
    pub patience: usize,
    /// Epochs that never count against the run (neither toward patience nor
    /// toward a plateau cut): a CTC network first outputs only blanks, and
    /// its dev error can sit at 100 % for a few hundred updates. Default 5.
    pub min_epochs: usize,
    /// An epoch is at least this many updates: small subsets do several
    /// shuffled passes per epoch (0.02 h is 2 batches of 40 s), so dev
    /// error is checked, and patience counted, per unit of work rather
    /// than per pass. Default 50.
    pub min_updates_per_epoch: usize,
    /// An epoch counts as an improvement only when dev error falls by more
    /// than this (absolute, as a fraction: 0.001 = 0.1 points), so noise
    /// on a small dev set does not keep a flat run alive. Default 0.001.
    pub min_improvement: f64,
    pub spec_augment: SpecAugmentConfig,
    /// Training utterances longer than this are skipped (seconds).
    pub max_utterance_seconds: f64,
    /// End this run after this many epochs in total (0 = off) while the
    /// schedule still plans for `max_epochs`; a later run with the same
    /// config resumes from the checkpoint. For training in chunks.
    pub stop_after_epochs: usize,
    /// Speed perturbation factors (Kaldi's nnet3 recipes and ESPnet's
    /// `speed_perturb_factors 0.9 1.0 1.1`): each training utterance is
    /// also seen resampled to play this many times as fast. The perturbed
    /// features go through the loader and its cache like any other
    /// (computed once per corpus and factor). Default empty: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub speed_perturb: Vec<f32>,
    /// How the perturbed versions are used. Default `copies`.
    #[serde(skip_serializing_if = "SpeedPerturbMode::is_copies")]
    pub speed_perturb_mode: SpeedPerturbMode,
    /// Additive babble noise (`[train.babble]`): one more version of the
    /// training set, each utterance mixed with other training utterances
    /// at a drawn SNR (as Kaldi's and icefall's recipes add MUSAN babble),
    /// used like the speed-perturbed ones. Default none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub babble: Option<crate::features::BabbleNoise>,
}

/// How `[train] speed_perturb` versions of the training set are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpeedPerturbMode {
    /// Every version is a training example: an epoch is one pass over all
    /// of them (as Kaldi's `perturb_data_dir_speed_3way.sh` and ESPnet's
    /// recipes triple the data).
    #[default]
    Copies,
    /// Each utterance is seen once per epoch, at a factor drawn per
    /// utterance and epoch from the seed (lhotse's on-the-fly `PerturbSpeed`):
    /// an epoch costs what an unperturbed one does.
    Random,
}

impl SpeedPerturbMode {
    fn is_copies(&self) -> bool {
        *self == SpeedPerturbMode::Copies
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            max_epochs: 60,
            max_updates: 0,
            updates_per_hour: 0.0,
            max_train_seconds: 0.0,
            train_seconds_per_hour: 0.0,
            batch_seconds: 40.0,
            lr: 2e-3,
            schedule: LrSchedule::Plateau,
            final_lr_ratio: 0.05,
            plateau_patience: 1,
            plateau_factor: 0.5,
            warmup_steps: 50,
            weight_decay: 1e-2,
            beta1: 0.9,
            beta2: 0.98,
            grad_clip: 5.0,
            patience: 4,
            min_epochs: 5,
            min_updates_per_epoch: 50,
            min_improvement: 0.001,
            spec_augment: SpecAugmentConfig::default(),
            max_utterance_seconds: 30.0,
            stop_after_epochs: 0,
            speed_perturb: Vec::new(),
            speed_perturb_mode: SpeedPerturbMode::Copies,
            babble: None,
        }
    }
}

impl TrainConfig {
    /// The update cap for `hours` of training audio (None = no cap).
    pub fn update_cap(&self, hours: f64) -> Option<usize> {
        let cap = self.max_updates as f64 + self.updates_per_hour * hours;
        (cap >= 1.0).then(|| cap.round() as usize)
    }

    /// The time safety valve for `hours` of training audio (None = off).
    pub fn time_cap(&self, hours: f64) -> Option<f64> {
        let cap = self.max_train_seconds + self.train_seconds_per_hour * hours;
        (cap > 0.0).then_some(cap)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DecodeMethod {
    Greedy,
    Beam,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecodeConfig {
    /// Greedy (best path) or prefix beam search. Default greedy.
    pub method: DecodeMethod,
    /// Prefix beam width. Default 8.
    pub beam: usize,
    /// Prune symbols whose log posterior in a frame is below this (beam search). Default -12.
    pub prune_logp: f32,
    /// char-ctc only, an ablation: shallow fusion with this word n-gram LM
    /// (ARPA, e.g. the `lm.arpa` of a classical model trained on the same
    /// data) in beam search (`--set decode.fusion_lm=PATH` implies beam). The
    /// pure end-to-end system never uses it. Default none.
    pub fusion_lm: Option<std::path::PathBuf>,
    /// Weight of the fused LM's natural-log probabilities (0.3 was best of
    /// 0.3/0.6/1.0 on kathleen dev with a bigram; docs/NEURAL.md). Default 0.3.
    pub fusion_weight: f32,
    /// Bonus per word with fusion (natural-log units), against short outputs. Default 1.0.
    pub fusion_bonus: f32,
    /// char-ctc and mtl-ctc: the end-to-end network + external LM variant
    /// (`[decode.external_lm]`, [`super::lm_decode`]): prefix beam search
    /// fused with a word n-gram (open or vocabulary-constrained) or a
    /// character n-gram estimated from the cell's training transcripts,
    /// chosen with its weight and bonus on dev. The network is the one the
    /// same pipeline trains without it (a decoding variant: its training
    /// is shared, see `train_ctc`). Default none: the pure network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_lm: Option<super::lm_decode::ExternalLmConfig>,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        DecodeConfig {
            method: DecodeMethod::Greedy,
            beam: 8,
            prune_logp: -12.0,
            fusion_lm: None,
            fusion_weight: 0.3,
            fusion_bonus: 1.0,
            external_lm: None,
        }
    }
}

/// A whole CTC pipeline file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CtcConfig {
    /// "char-ctc" or "phone-ctc".
    pub kind: String,
    pub model: ModelConfig,
    pub presets: Vec<SizePreset>,
    pub train: TrainConfig,
    /// Token-level decoding (characters for char-ctc, phones for phone-ctc's PER).
    pub decode: DecodeConfig,
    /// phone-ctc only: the classical lexicon settings (same meaning as in `classical.toml`).
    pub lexicon: crate::lang::LexiconConfig,
    /// phone-ctc only: the word n-gram LM settings.
    pub lm: crate::lang::LmConfig,
    /// phone-ctc only: the lexicon-tree word search over CTC phone posteriors.
    pub word_decode: crate::lang::decoder::DecodeConfig,
    /// phone-ctc only: LM weights and word penalties of the word search
    /// tried on dev after training; the lowest dev WER is kept (never test).
    pub word_tune: crate::lang::TuneConfig,
    /// Where the network's first weights come from (transfer learning);
    /// default: none, trained from scratch. Left out of the serialised
    /// config when unset, so from-scratch pipelines keep their cache keys.
    #[serde(skip_serializing_if = "InitConfig::is_unset")]
    pub init: InitConfig,
    /// mtl-ctc only: the auxiliary phone head and its loss weight.
    #[serde(skip_serializing_if = "MtlConfig::is_default")]
    pub mtl: MtlConfig,
}

/// `[init]`: fine-tune from a trained model instead of a random
/// initialisation. Either `model` (a trained char-ctc, phone-ctc or mtl-ctc
/// model folder) or `pretrain` + `corpus` (+ `hours`, `seed`): that pipeline
/// trained once on that corpus and cached beside the corpus's feature cache
/// (`ROOT/.cache/pretrained/`), then reused by every cell and run. The
/// network takes the initial model's architecture (its `[model]`), every
/// weight is copied except an output layer whose token set differs (and a
/// head the initial model lacks), which start from random. What the
/// initial model is (the weights' fingerprint, or the pre-training's
/// config, corpus, hours and seed) is part of the cell's cache key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InitConfig {
    /// A trained model folder (with `model.ot`, `model.json`, `tokens.txt`).
    pub model: Option<std::path::PathBuf>,
    /// A CTC pipeline file to pre-train with (instead of `model`).
    pub pretrain: Option<std::path::PathBuf>,
    /// The pre-training corpus: a recipe (`corpora/NAME.toml`, built on
    /// first use) or a corpus folder. Required with `pretrain`.
    pub corpus: Option<std::path::PathBuf>,
    /// Hours of the pre-training corpus's train split (a nested subset);
    /// none = all of it. Default none.
    pub hours: Option<f64>,
    /// Seed of the pre-training: one seed for every cell, so it is trained
    /// once. Default 1.
    pub seed: u64,
    /// Freeze the first N layers (the convolutional front end counts as
    /// layer 1, then the encoder layers) for the first `freeze_updates`
    /// updates, so the new output layer settles before the pre-trained
    /// layers move. Default 0 (nothing frozen).
    pub freeze_layers: usize,
    pub freeze_updates: usize,
    /// Fine-tuning learning rate and warm-up, replacing `[train] lr` and
    /// `warmup_steps` when weights come from `[init]` (so `--set
    /// init.model=DIR` on a from-scratch pipeline gets a fine-tuning rate).
    /// Default: those of `[train]`.
    pub lr: Option<f64>,
    pub warmup_steps: Option<usize>,
}

impl Default for InitConfig {
    fn default() -> Self {
        InitConfig {
            model: None,
            pretrain: None,
            corpus: None,
            hours: None,
            seed: 1,
            freeze_layers: 0,
            freeze_updates: 0,
            lr: None,
            warmup_steps: None,
        }
    }
}

impl InitConfig {
    /// No initial model: trained from scratch.
    pub fn is_unset(&self) -> bool {
        self.model.is_none() && self.pretrain.is_none()
    }
}

/// `[mtl]` of an mtl-ctc pipeline: one shared encoder, a character CTC head
/// (decoded at test time) and a phone CTC head (targets from the shared
/// lexicon) trained with `loss = (1 - phone_weight) * char + phone_weight * phone`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MtlConfig {
    /// Weight of the phone CTC loss, in [0, 1). Default 0.5: the lowest
    /// character dev CER of 0.1 / 0.3 / 0.5 on kathleen and the synthetic
    /// corpus at 0.3 h (docs/TRANSFER.md, "Choosing phone_weight").
    pub phone_weight: f64,
    /// Encoder layer (1-based) whose output feeds the phone head; 0 = the
    /// top layer, the character head's input. Default 0.
    pub phone_layer: usize,
}

impl Default for MtlConfig {
    fn default() -> Self {
        MtlConfig {
            phone_weight: 0.5,
            phone_layer: 0,
        }
    }
}

impl MtlConfig {
    pub fn is_default(&self) -> bool {
        *self == MtlConfig::default()
    }
}

impl Default for CtcConfig {
    fn default() -> Self {
        CtcConfig {
            kind: "char-ctc".into(),
            model: ModelConfig::default(),
            // Small subsets are not judged with an oversized network.
            presets: vec![
                SizePreset {
                    name: "tiny".into(),
                    max_hours: 0.2,
                    hidden: 128,
                    layers: 2,
                    conv_channels: Some(16),
                },
                SizePreset {
                    name: "small".into(),
                    max_hours: 0.5,
                    hidden: 192,
                    layers: 2,
                    conv_channels: None,
                },
            ],
            train: TrainConfig::default(),
            decode: DecodeConfig::default(),
            lexicon: Default::default(),
            lm: Default::default(),
            word_decode: super::phone_words::default_word_decode(),
            word_tune: Default::default(),
            init: InitConfig::default(),
            mtl: MtlConfig::default(),
        }
    }
}

/// What a CTC kind trains and decodes (each kind's row in the table of
/// `neural/mod.rs`, `ctc_kinds!`). The CTC kinds are told apart by it
/// only: everything else asks [`CtcConfig::task`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CtcTask {
    /// The output layer emits phones, decoded into words with the lexicon
    /// and word LM (else characters, end to end).
    pub phone_output: bool,
    /// A second CTC head over phones, trained beside the character head and
    /// never decoded for words (multi-task).
    pub phone_head: bool,
}

impl CtcTask {
    /// Whether training reads the lexicon (phone targets).
    pub fn needs_lexicon(self) -> bool {
        self.phone_output || self.phone_head
    }
}

/// The task of the CTC kind named `kind`, if it is one.
pub fn task_of(kind: &str) -> Option<CtcTask> {
    super::CTC_KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, t)| *t)
}

impl CtcConfig {
    /// What this pipeline's kind trains and decodes (validated configs
    /// always name a CTC kind; anything else reads as char-ctc's task).
    pub fn task(&self) -> CtcTask {
        task_of(&self.kind).unwrap_or(super::CTC_KINDS[0].1)
    }

    /// Parse and validate a pipeline file; errors name the file.
    /// A file with `base = "..."` takes that file's settings first.
    pub fn load(path: &Path) -> Result<Self> {
        let table = crate::pipeline::pipeline_table(path)?;
        let cfg: CtcConfig = table
            .try_into()
            .map_err(|e: toml::de::Error| Error::parse(path, e.to_string()))?;
        cfg.validate().map_err(|e| match e {
            Error::Config(what) => Error::parse(path, what),
            other => other,
        })?;
        Ok(cfg)
    }

    pub fn from_toml(text: &str) -> Result<Self> {
        let cfg: CtcConfig = toml::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("config serialises")
    }

    // `!(x > 0.0)` on purpose: it also rejects NaN.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    pub fn validate(&self) -> Result<()> {
        let Some(task) = task_of(&self.kind) else {
            return Err(Error::Config(format!(
                "kind = {:?}: a CTC pipeline is one of {}",
                self.kind,
                super::CTC_KINDS
                    .iter()
                    .map(|(k, _)| format!("{k:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        self.model.validate()?;
        if self.decode.fusion_lm.is_some() && (task.phone_output || task.phone_head) {
            return Err(Error::Config(
                "decode.fusion_lm: shallow fusion applies to char-ctc only (phone-ctc already decodes words with the lexicon and LM)".into(),
            ));
        }
        if self.decode.beam == 0 {
            return Err(Error::Config("decode.beam must be at least 1".into()));
        }
        if let Some(x) = &self.decode.external_lm {
            if super::token_kind(&self.kind) != super::TokenKind::Chars {
                return Err(Error::Config(
                    "decode.external_lm applies to networks that output characters (char-ctc, mtl-ctc); phone-ctc decodes words with the lexicon and LM already".into(),
                ));
            }
            if self.decode.fusion_lm.is_some() {
                return Err(Error::Config(
                    "decode.external_lm and decode.fusion_lm: give one external LM, not both"
                        .into(),
                ));
            }
            x.validate()?;
        }
        self.word_decode.validate()?;
        for p in &self.presets {
            if p.hidden <= 0 || p.layers <= 0 || !(p.max_hours > 0.0) {
                return Err(Error::Config(format!(
                    "preset {:?}: hidden, layers and max_hours must be positive",
                    p.name
                )));
            }
        }
        let t = &self.train;
        if t.max_epochs == 0 || !(t.batch_seconds > 0.0) || !(t.lr > 0.0) || !(t.grad_clip > 0.0) {
            return Err(Error::Config(
                "train: max_epochs, batch_seconds, lr and grad_clip must be positive".into(),
            ));
        }
        if !(t.plateau_factor > 0.0 && t.plateau_factor < 1.0) {
            return Err(Error::Config(format!(
                "train.plateau_factor = {}: must lie between 0 and 1",
                t.plateau_factor
            )));
        }
        if t.updates_per_hour < 0.0
            || t.train_seconds_per_hour < 0.0
            || t.max_train_seconds < 0.0
            || t.min_improvement < 0.0
        {
            return Err(Error::Config(
                "train: updates_per_hour, max_train_seconds, train_seconds_per_hour and min_improvement must not be negative".into(),
            ));
        }
        if let Some(f) = t.speed_perturb.iter().find(|f| !(0.5..=2.0).contains(*f)) {
            return Err(Error::Config(format!(
                "train.speed_perturb: factor {f} must lie between 0.5 and 2.0"
            )));
        }
        let i = &self.init;
        if i.model.is_some() && i.pretrain.is_some() {
            return Err(Error::Config(
                "[init]: give either `model` (a trained model folder) or `pretrain` + `corpus`, not both".into(),
            ));
        }
        if i.pretrain.is_some() != i.corpus.is_some() {
            return Err(Error::Config(
                "[init]: `pretrain` (a pipeline file) and `corpus` (the corpus to pre-train on) go together".into(),
            ));
        }
        if i.model.is_none() && i.pretrain.is_none() && (i.hours.is_some() || i.freeze_layers > 0) {
            return Err(Error::Config(
                "[init]: hours and freeze_layers need an initial model (`model` or `pretrain`)"
                    .into(),
            ));
        }
        if i.hours.is_some_and(|h| !(h > 0.0)) || i.lr.is_some_and(|l| !(l > 0.0)) {
            return Err(Error::Config(
                "[init]: hours and lr must be positive".into(),
            ));
        }
        if !(0.0..1.0).contains(&self.mtl.phone_weight) {
            return Err(Error::Config(format!(
                "mtl.phone_weight = {}: must lie in [0, 1) (the character head is the one decoded)",
                self.mtl.phone_weight
            )));
        }
        if !task.phone_head && !self.mtl.is_default() {
            return Err(Error::Config(
                "[mtl] applies to kind = \"mtl-ctc\" only".into(),
            ));
        }
        if self.mtl.phone_layer as i64 > self.model.layers {
            return Err(Error::Config(format!(
                "mtl.phone_layer = {}: the encoder has {} layers",
                self.mtl.phone_layer, self.model.layers
            )));
        }
        Ok(())
    }

    /// The model actually built for `hours` of training audio, and the preset name used.
    pub fn model_for_hours(&self, hours: f64) -> (ModelConfig, String) {
        let mut m = self.model.clone();
        for p in &self.presets {
            if hours <= p.max_hours {
                m.hidden = p.hidden;
                m.layers = p.layers;
                if let Some(c) = p.conv_channels {
                    m.conv_channels = c;
                }
                return (
                    m,
                    format!(
                        "preset {} (<= {} h; training set {hours:.3} h)",
                        p.name, p.max_hours
                    ),
                );
            }
        }
        (
            m,
            format!("full model (training set {hours:.3} h above every preset)"),
        )
    }
}

impl ModelConfig {
    pub fn validate(&self) -> Result<()> {
        if self.subsampling != 2 && self.subsampling != 4 {
            return Err(Error::Config(format!(
                "model.subsampling = {}: the convolutional front end subsamples time by 2 or 4",
                self.subsampling
            )));
        }
        if self.num_mel_bins < 8 || self.conv_channels <= 0 || self.hidden <= 0 || self.layers <= 0
        {
            return Err(Error::Config(
                "model: num_mel_bins >= 8, conv_channels, hidden and layers > 0".into(),
            ));
        }
        if matches!(
            self.encoder,
            EncoderKind::Transformer | EncoderKind::Conformer
        ) {
            if self.heads <= 0 || self.hidden % self.heads != 0 {
                return Err(Error::Config(format!(
                    "model.hidden = {} must be divisible by model.heads = {}",
                    self.hidden, self.heads
                )));
            }
            if self.conv_kernel % 2 == 0 {
                return Err(Error::Config(format!(
                    "model.conv_kernel = {} must be odd",
                    self.conv_kernel
                )));
            }
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::Config(format!(
                "model.dropout = {} must be in [0, 1)",
                self.dropout
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_configs_have_clear_errors() {
        let e = CtcConfig::from_toml("[model]\nencoder = \"wavenet\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("wavenet") && e.contains("gru") && e.contains("conformer"),
            "{e}"
        );
        let e = CtcConfig::from_toml("[model]\nsubsampling = 3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("subsampling = 3") && e.contains("2 or 4"), "{e}");
        let e = CtcConfig::from_toml("kind = \"char-ctc\"\n[model]\nlayerz = 3\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("layerz"), "{e}");
        let e = CtcConfig::from_toml("kind = \"classical\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("char-ctc"), "{e}");
        let e =
            CtcConfig::from_toml("[model]\nencoder = \"transformer\"\nhidden = 100\nheads = 3\n")
                .unwrap_err()
                .to_string();
        assert!(e.contains("divisible"), "{e}");
    }

    #[test]
    fn pipeline_files_parse_and_presets_apply() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
        for (f, kind) in [
            ("char-ctc.toml", "char-ctc"),
            ("phone-ctc.toml", "phone-ctc"),
            ("char-ctc-lm.toml", "char-ctc"),
        ] {
            let c = CtcConfig::load(&dir.join(f)).unwrap();
            assert_eq!(c.kind, kind);
        }
        // The LM variant trains exactly the char-ctc network: only decoding differs.
        let (plain, lm) = (
            CtcConfig::load(&dir.join("char-ctc.toml")).unwrap(),
            CtcConfig::load(&dir.join("char-ctc-lm.toml")).unwrap(),
        );
        assert!(plain.decode.external_lm.is_none() && lm.decode.external_lm.is_some());
        // The transfer pipelines' pre-training is char-ctc without speed
        // perturbation, serialised as char-ctc was before it had any (so
        // its cache key, the effective config, is the one measured).
        let pre = CtcConfig::load(&dir.join("char-ctc-pretrain.toml")).unwrap();
        let mut unperturbed = plain.clone();
        unperturbed.train.speed_perturb.clear();
        assert_eq!(pre, unperturbed);
        assert!(!serde_json::to_string(&pre)
            .unwrap()
            .contains("speed_perturb"));
        assert!(serde_json::to_string(&plain)
            .unwrap()
            .contains("speed_perturb"));
        assert_eq!(
            CtcConfig {
                decode: Default::default(),
                ..plain
            },
            CtcConfig {
                decode: Default::default(),
                ..lm
            }
        );
        // So do a corpus's own pair (`pipelines/speechocean762/` sets the
        // learning rate in both), or the sweep would train two networks.
        let so762 = dir.join("speechocean762");
        let load = |f: &str| CtcConfig {
            decode: Default::default(),
            ..CtcConfig::load(&so762.join(f)).unwrap()
        };
        let (plain, lm) = (load("char-ctc.toml"), load("char-ctc-lm.toml"));
        assert_eq!(plain, lm);
        assert_eq!(plain.train.lr, 1e-3);
        let c = CtcConfig::default();
        assert_eq!(c.model_for_hours(0.1).0.hidden, 128);
        assert_eq!(c.model_for_hours(0.4).0.hidden, 192);
        assert_eq!(c.model_for_hours(1.12).0, c.model);
        // Round trip through TOML.
        assert_eq!(CtcConfig::from_toml(&c.to_toml()).unwrap(), c);
    }
}
