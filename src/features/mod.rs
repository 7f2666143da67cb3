//! Kaldi-compatible acoustic features: MFCC and log-mel filterbank
//! ([`FeatureExtractor`]), deltas ([`add_deltas`]) and CMVN ([`apply_cmvn`],
//! [`CmvnStats`]), configured by one [`FeatureConfig`] whose defaults are
//! Kaldi's. [`compute_file`] runs the whole chain on one audio file.
mod cmvn;
mod config;
mod deltas;
mod extractor;

use std::path::Path;

pub use cmvn::{apply_cmvn, apply_cmvn_pooled, CmvnStats};
pub use config::{
    BabbleNoise, CmvnMode, FeatureConfig, FeatureKind, WindowType, DELTA_ORDER, DELTA_WINDOW,
};
pub use deltas::{add_deltas, delta_scales};
pub use extractor::{
    dct_matrix, lifter_coeffs, mel_scale, window_function, FeatureExtractor, MelBanks,
};

use crate::audio::{self, ChannelMode};
use crate::error::{Error, Result};
use crate::matrix::Matrix;

/// Read `path` (WAV or FLAC, mixed to mono, resampled to
/// `cfg.sample_frequency`), extract features, add deltas if `cfg.deltas`, and
/// apply per-utterance mean (and with `norm_vars` variance) normalisation if
/// `cfg.cmvn == Utterance`.
/// Speaker CMVN is left to the caller (see [`CmvnStats`]). Errors name the file.
pub fn compute_file(path: &Path, cfg: &FeatureConfig) -> Result<Matrix> {
    let ex = FeatureExtractor::new(cfg)?;
    compute_file_with(&ex, path)
}

/// [`compute_file`] with an extractor built once (for many files, possibly on many threads).
pub fn compute_file_with(ex: &FeatureExtractor, path: &Path) -> Result<Matrix> {
    let samples = read_samples(path, ex.config())?;
    compute_samples(ex, &samples).map_err(|e| Error::audio(path, e.to_string()))
}

/// The samples features are computed from: `path` mixed to mono and resampled to `cfg.sample_frequency`.
pub fn read_samples(path: &Path, cfg: &FeatureConfig) -> Result<Vec<f32>> {
    let rate = cfg.sample_frequency as u32;
    if rate == audio::TARGET_RATE {
        return Ok(audio::read_16k(path, ChannelMode::Mix)?.samples);
    }
    let a = audio::read(path, ChannelMode::Mix)?;
    audio::resample(&a.samples, a.rate, rate).map_err(|e| Error::audio(path, e))
}

/// Static features, deltas and utterance CMVN (per the extractor's config) of in-memory samples.
pub fn compute_samples(ex: &FeatureExtractor, samples: &[f32]) -> Result<Matrix> {
    let cfg = ex.config();
    if cfg.cmvn == CmvnMode::Utterance && cfg.normalises_before_deltas() {
        let mut m = ex.compute(samples)?;
        apply_cmvn(&mut m, cfg.norm_vars);
        return Ok(add_deltas(&m, DELTA_ORDER, DELTA_WINDOW));
    }
    let mut m = ex.compute_with_deltas(samples)?;
    if cfg.cmvn == CmvnMode::Utterance {
        apply_cmvn(&mut m, cfg.norm_vars);
    }
    Ok(m)
}
