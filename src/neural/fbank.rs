//! Network input: the shared Kaldi-compatible log-mel filterbank
//! ([`crate::features`]) with per-utterance mean and variance normalisation.
use std::path::Path;

use crate::error::{Error, Result};
use crate::features::{apply_cmvn, compute_file_with, FeatureConfig, FeatureExtractor};
use crate::matrix::Matrix;

/// The extractor for `num_mel_bins` log-mel bins (Kaldi defaults otherwise).
pub fn extractor(num_mel_bins: usize) -> Result<FeatureExtractor> {
    FeatureExtractor::new(&FeatureConfig::fbank(num_mel_bins))
}

/// The network input for one audio file: log-mel fbank with utterance CMVN.
/// Errors name the file (unreadable audio, too short for one frame, NaN).
pub fn utterance_features(fbank: &FeatureExtractor, path: &Path) -> Result<Matrix> {
    let mut m = compute_file_with(fbank, path)?;
    apply_cmvn(&mut m, true);
    if !m.is_finite() {
        return Err(Error::audio(
            path,
            "features contain NaN or infinite values",
        ));
    }
    Ok(m)
}
