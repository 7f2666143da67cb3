//! Network input: the shared Kaldi-compatible log-mel filterbank
//! ([`crate::features`]) with per-utterance mean and variance normalisation,
//! served by the loader ([`crate::loader::Loader`]) like every other feature.
use crate::features::{CmvnMode, FeatureConfig};

/// The feature config of the network input: `num_mel_bins` log-mel bins
/// (Kaldi defaults otherwise), utterance mean and variance normalisation.
pub fn input_features(num_mel_bins: usize) -> FeatureConfig {
    FeatureConfig {
        cmvn: CmvnMode::Utterance,
        norm_vars: true,
        ..FeatureConfig::fbank(num_mel_bins)
    }
}
