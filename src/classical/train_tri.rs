//! Triphone training (Kaldi's train_deltas.sh shape): placeholder config
//! until the tree builder lands.
use serde::{Deserialize, Serialize};

use super::align::Alignment;
use super::hmm::AcousticModel;
use super::train_mono::{MonoConfig, TrainData};
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TriConfig {
    pub enabled: bool,
    /// Number of tied states (tree leaves) to aim for.
    pub num_leaves: usize,
    pub total_gaussians: usize,
    pub iters: usize,
    pub realign_iters: Vec<usize>,
}

impl Default for TriConfig {
    fn default() -> Self {
        TriConfig { enabled: false, num_leaves: 2000, total_gaussians: 10000, iters: 35, realign_iters: vec![10, 20, 30] }
    }
}

pub fn train_tri(_mono: &AcousticModel, _data: &TrainData, _alis: &[Option<Alignment>], _cfg: &TriConfig, _mcfg: &MonoConfig, _log: &mut dyn FnMut(String)) -> Result<(AcousticModel, Vec<Option<Alignment>>)> {
    Err(Error::Config("triphone training is not implemented yet".into()))
}
