//! The classical staged recogniser: MFCC+deltas (CMVN) -> 3-state GMM-HMM
//! phone models (monophones, then optionally decision-tree-tied triphones)
//! -> pronunciation lexicon + n-gram word LM -> words, decoded by a
//! time-synchronous beam search over a lexicon prefix tree.
//!
//! Stages, each inspectable on its own: acoustic training ([`train_mono`],
//! [`train_tri`]) with alignment statistics, forced alignment ([`align`]),
//! phone recognition for PER ([`phone_decoder`]). The lexicon, LMs and the
//! word decoder are the shared language layer ([`crate::lang`]).
pub mod align;
pub mod config;
pub mod get_train_ctm;
pub mod gmm;
pub mod hmm;
pub mod lda_sat;
pub mod model;
pub mod phone_decoder;
pub mod recipe;
pub mod train_mono;
pub mod train_tri;
pub mod transforms;
pub mod tree;

use std::path::Path;

use crate::error::Result;
use crate::overlay::Overlay;
use crate::pipeline::{KindTraits, RecogniserKind};
use crate::pipeline::{Recogniser, TrainContext};

pub use config::{
    default_features, ClassicalConfig, LadderConfig, Rung, RungSelection, TuneConfig,
};
pub use model::ClassicalModel;
pub use recipe::{alignment_stats, train_classical};

pub const KIND: &str = "classical";

/// The registry's handle on this module (`kind = "classical"`).
pub struct Classical;

impl RecogniserKind for Classical {
    const NAME: &'static str = KIND;
    const ABOUT: &'static str =
        "MFCC + deltas -> GMM-HMM phones (mono, tri) -> lexicon + n-gram LM -> words";
    const TRAITS: KindTraits = KindTraits::HAND_DESIGNED;
    type Config = ClassicalConfig;
    fn train(cfg: &ClassicalConfig, ctx: &TrainContext) -> Result<Box<dyn Recogniser>> {
        Ok(Box::new(train_classical(cfg, ctx)?))
    }
    fn load(dir: &Path, overlay: &Overlay) -> Result<Box<dyn Recogniser>> {
        Ok(Box::new(ClassicalModel::load_with(dir, overlay)?))
    }
    fn feature_configs(cfg: &ClassicalConfig) -> Vec<crate::features::FeatureConfig> {
        // The delta front end of mono/tri1 and the static cepstra the LDA rungs splice.
        vec![cfg.features.clone(), cfg.static_features()]
    }
}
