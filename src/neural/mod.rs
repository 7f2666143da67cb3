//! Neural recognisers with tch (libtorch): one CTC encoder, two heads.
//! - `char-ctc`: audio -> characters, decoded greedily or by prefix beam
//!   search with no lexicon and no LM (the pure end-to-end system).
//! - `phone-ctc`: audio -> phones; the classical lexicon tree and word LM
//!   turn the phone posteriors into words ([`phone_words`]).
//! - `mtl-ctc`: char-ctc trained jointly with a phone CTC head on the same
//!   encoder (phone targets from the shared lexicon); only the character
//!   head is decoded, so it stays end to end at test time.
//!
//! Any of them may start from a trained model's weights ([`init`]).
//!
//! Data flow: manifest utterances -> log-mel fbank + utterance CMVN
//! ([`fbank`]) -> [`model::CtcNet`] -> CTC loss ([`train`]) or log posteriors
//! -> [`ctc_decode`] -> text.
mod batch;
mod checkpoint;
pub mod config;
pub mod ctc_decode;
mod device;
mod evaluate;
mod examples;
pub mod fbank;
pub mod fusion;
pub mod init;
pub mod lm_decode;
pub mod model;
pub mod network_store;
mod optimizer;
pub mod phone_words;
mod pretrain;
mod recogniser;
mod saved_model;
pub mod tokens;
pub mod train;
mod train_ctc;
mod train_set;

use std::path::Path;

use tch::Device;

pub use config::{CtcConfig, DecodeMethod, EncoderKind, ModelConfig};
pub use model::{AuxHead, CtcNet};
pub use tokens::{TokenKind, TokenSet};

use crate::error::Result;
use crate::overlay::Overlay;
use crate::pipeline::{KindTraits, RecogniserKind};
use crate::pipeline::{Recogniser, TrainContext};

pub use device::resolve_device;
pub(crate) use examples::perturbation_configs;
pub use examples::{examples, examples_with_aux, TargetFn};
pub(crate) use recogniser::token_kind;
pub use recogniser::{CtcModel, FusionSettings};
pub(crate) use saved_model::{SavedModel, MODEL_FILE, TOKENS_FILE, WEIGHTS_FILE};
pub use train_ctc::{train_ctc, TRAINER_REVISION};

/// A CTC pipeline in a phrase: the kind's own, or the end-to-end network
/// + external LM's, and the augmentation it trains with.
fn describe_ctc(cfg: &CtcConfig, about: &str) -> String {
    let mut d = match &cfg.decode.external_lm {
        Some(x) => format!(
            "end-to-end network + external LM: log-mel -> CTC network -> characters, prefix beam search (beam {}) fused with an n-gram LM of the training transcripts ({} tried on dev)",
            cfg.decode.beam,
            x.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
        ),
        None => about.to_string(),
    };
    if !cfg.train.speed_perturb.is_empty() {
        d.push_str(
            &format!(
                "; trained with speed perturbation {:?} ({:?})",
                cfg.train.speed_perturb, cfg.train.speed_perturb_mode
            )
            .to_lowercase(),
        );
    }
    if let Some(b) = &cfg.train.babble {
        d.push_str(&format!(
            "; with babble of {} other training utterances at {}-{} dB SNR",
            b.talkers, b.snr_db[0], b.snr_db[1]
        ));
    }
    d
}

/// The table of CTC kinds: each row is a kind's whole description (its
/// registry handle, `kind` name, task, traits and one-line summary); every
/// CTC kind shares one config type, trainer and loader, and the code asks a
/// kind's [`CtcTask`](config::CtcTask) (through [`CtcConfig::task`]) instead
/// of matching its name. A new CTC variant is a row here, a line in the
/// registry's `KINDS` and a pipeline file.
macro_rules! ctc_kinds {
    ($($(#[$doc:meta])* $handle:ident = $name:literal, $task:expr, $traits:expr, $about:literal;)*) => {
        $(ctc_kinds!(@kind $(#[$doc])* $handle, $name, $traits, $about);)*
        /// Every CTC kind's name and task, in the table's order.
        pub const CTC_KINDS: &[(&str, config::CtcTask)] = &[$(($name, $task)),*];
    };
    (@kind $(#[$doc:meta])* $handle:ident, $name:literal, $traits:expr, $about:literal) => {
        $(#[$doc])*
        pub struct $handle;

        impl RecogniserKind for $handle {
            const NAME: &'static str = $name;
            const ABOUT: &'static str = $about;
            const TRAITS: KindTraits = $traits;
            type Config = CtcConfig;
            fn initial_model(cfg: &CtcConfig) -> Option<String> {
                init::describe(&cfg.init)
            }
            fn validate(cfg: &CtcConfig) -> Result<()> {
                cfg.validate()
            }
            fn describe(cfg: &CtcConfig) -> String {
                describe_ctc(cfg, $about)
            }
            fn provenance(cfg: &CtcConfig) -> Result<String> {
                let mut p = format!("ctc-trainer-revision={TRAINER_REVISION}");
                if let Some(f) = init::fingerprint(&cfg.init)? {
                    p.push('\n');
                    p.push_str(&f);
                }
                Ok(p)
            }
            fn prepare(
                cfg: &CtcConfig,
                run: &crate::pipeline::RunSettings,
            ) -> Result<Option<String>> {
                if cfg.init.pretrain.is_none() {
                    return Ok(None);
                }
                let dir = pretrain::ensure_pretrained(&cfg.init, run.threads, run.device, run.progress)?;
                Ok(Some(format!("pre-trained model ready in {}", dir.display())))
            }
            fn feature_configs(cfg: &CtcConfig) -> Vec<crate::features::FeatureConfig> {
                // An initial model with other mel bins reads its own cache,
                // which its cells then compute themselves.
                let mel = cfg.model.num_mel_bins as usize;
                let mut v = vec![fbank::input_features(mel)];
                v.extend(perturbation_configs(&cfg.train, mel));
                v
            }
            fn train(cfg: &CtcConfig, ctx: &TrainContext) -> Result<Box<dyn Recogniser>> {
                // The initial model first (cached after the sweep's `prepare`).
                if cfg.init.pretrain.is_some() {
                    pretrain::ensure_pretrained(&cfg.init, ctx.threads, ctx.device, ctx.progress)?;
                }
                Ok(Box::new(train_ctc(cfg, ctx)?))
            }
            fn load(dir: &Path, overlay: &Overlay) -> Result<Box<dyn Recogniser>> {
                Ok(Box::new(CtcModel::load_with(dir, overlay, Device::Cpu)?))
            }
        }
    };
}

ctc_kinds! {
    /// `kind = "char-ctc"`.
    CharCtc = "char-ctc",
    config::CtcTask { phone_output: false, phone_head: false },
    KindTraits::NETWORK,
    "log-mel -> CTC network -> characters (end to end, no lexicon, no LM)";

    /// `kind = "phone-ctc"`.
    PhoneCtc = "phone-ctc",
    config::CtcTask { phone_output: true, phone_head: false },
    KindTraits::NETWORK,
    "log-mel -> CTC network -> phones -> lexicon + n-gram LM -> words";

    /// `kind = "mtl-ctc"`.
    MtlCtc = "mtl-ctc",
    config::CtcTask { phone_output: false, phone_head: true },
    KindTraits { network: true, multitask_of: Some(CharCtc::NAME) },
    "log-mel -> CTC network with character and phone heads -> characters (end to end; the phone head only trains)";
}
