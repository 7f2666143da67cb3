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

/// The network input of audio played `speed` times as fast (speed
/// perturbation): a cache of its own, computed once per corpus and factor.
pub fn perturbed_input_features(num_mel_bins: usize, speed: f32) -> FeatureConfig {
    FeatureConfig {
        speed,
        ..input_features(num_mel_bins)
    }
}

/// The network input of audio with babble noise mixed in: a cache of its
/// own, computed once per corpus and babble setting.
pub fn noisy_input_features(
    num_mel_bins: usize,
    babble: &crate::features::BabbleNoise,
) -> FeatureConfig {
    FeatureConfig {
        babble: Some(babble.clone()),
        ..input_features(num_mel_bins)
    }
}
