//! [`FeatureConfig`]: one struct for MFCC and log-mel filterbank extraction,
//! with Kaldi's option names and defaults (`compute-mfcc-feats`,
//! `compute-fbank-feats`), plus the post-processing crossover applies on top
//! (deltas, CMVN). Config files list only the values that differ from these
//! defaults, as in Kaldi recipes' `conf/mfcc.conf`.
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Which features to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeatureKind {
    /// Mel-frequency cepstral coefficients (Kaldi `compute-mfcc-feats`).
    #[default]
    Mfcc,
    /// Log mel filterbank energies (Kaldi `compute-fbank-feats`).
    Fbank,
}

/// Analysis window (Kaldi `--window-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowType {
    /// Hann window raised to the power 0.85 (Kaldi's default).
    #[default]
    Povey,
    Hamming,
    Hanning,
    Rectangular,
}

/// Cepstral mean and variance normalisation applied after extraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum CmvnMode {
    /// No normalisation.
    #[default]
    #[serde(rename = "none")]
    None,
    /// Mean (and variance) normalisation over each utterance on its own.
    #[serde(rename = "utt")]
    Utterance,
    /// Statistics pooled over all utterances of a speaker; applied by the
    /// caller with [`crate::features::CmvnStats`], since one file does not
    /// know its speaker's other files.
    #[serde(rename = "spk")]
    Speaker,
}

/// Feature extraction options. Field names follow Kaldi's command-line
/// options (`--frame-length` is `frame_length_ms`, `--num-mel-bins` is
/// `num_mel_bins`, ...); `Default` gives Kaldi's defaults except `dither`,
/// which is 0 here so that features are deterministic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeatureConfig {
    /// MFCC or fbank. Default: mfcc.
    pub kind: FeatureKind,
    /// Sample rate in Hz the audio is resampled to (Kaldi `--sample-frequency`, default 16000).
    pub sample_frequency: f32,
    /// Window length in milliseconds (Kaldi `--frame-length`, default 25).
    pub frame_length_ms: f32,
    /// Hop between windows in milliseconds (Kaldi `--frame-shift`, default 10).
    pub frame_shift_ms: f32,
    /// Gaussian dither added to every sample, on the 16-bit scale (Kaldi
    /// `--dither`, default 1.0 in Kaldi; **0.0 here** for determinism). When
    /// nonzero the noise comes from a ChaCha RNG seeded with `dither_seed`.
    pub dither: f32,
    /// Seed for dither noise (not a Kaldi option; default 0).
    pub dither_seed: u64,
    /// Subtract each window's mean before anything else (Kaldi `--remove-dc-offset`, default true).
    pub remove_dc_offset: bool,
    /// Pre-emphasis coefficient (Kaldi `--preemphasis-coefficient`, default 0.97).
    pub preemph_coeff: f32,
    /// Window function (Kaldi `--window-type`, default povey).
    pub window_type: WindowType,
    /// Zero-pad each window to the next power of two before the FFT (Kaldi `--round-to-power-of-two`, default true).
    pub round_to_power_of_two: bool,
    /// Only whole windows inside the signal; if false, frames are centred on
    /// multiples of the shift and the signal is reflected at its edges
    /// (Kaldi `--snip-edges`, default true).
    pub snip_edges: bool,
    /// Number of triangular mel bins (Kaldi `--num-mel-bins`); `None` means
    /// Kaldi's default for the kind: 23 for MFCC, and 80 for fbank (Kaldi's
    /// own fbank default is 23, but recipes use 80).
    pub num_mel_bins: Option<usize>,
    /// Lowest mel-bin edge in Hz (Kaldi `--low-freq`, default 20).
    pub low_freq: f32,
    /// Highest mel-bin edge in Hz; if <= 0 it is an offset from Nyquist
    /// (Kaldi `--high-freq`, default 0, i.e. Nyquist).
    pub high_freq: f32,
    /// Number of cepstra kept, C0 included (Kaldi `--num-ceps`, default 13). MFCC only.
    pub num_ceps: usize,
    /// Replace C0 with the log energy of the frame (Kaldi `--use-energy`,
    /// default true). MFCC only: fbank output is always the mel bins alone.
    pub use_energy: bool,
    /// Floor on the energy, absolute not log (Kaldi `--energy-floor`, default 0 = no floor).
    pub energy_floor: f32,
    /// Compute the energy before pre-emphasis and windowing (Kaldi `--raw-energy`, default true).
    pub raw_energy: bool,
    /// Cepstral liftering coefficient Q, 0 = none (Kaldi `--cepstral-lifter`, default 22). MFCC only.
    pub cepstral_lifter: f32,
    /// Take the log of the mel energies (Kaldi `--use-log-fbank`, default true). Fbank only.
    pub use_log_fbank: bool,
    /// Power spectrum rather than magnitude (Kaldi `--use-power`, default
    /// true). Fbank only: Kaldi's MFCC always uses the power spectrum.
    pub use_power: bool,
    /// Append first- and second-order deltas (Kaldi `add-deltas`, order 2,
    /// window 2). Default false.
    pub deltas: bool,
    /// Mean and variance normalisation ("none", "utt", "spk"). Default none.
    /// Normalises means, and variances too when `norm_vars`; see
    /// [`crate::features::apply_cmvn`].
    pub cmvn: CmvnMode,
    /// With `cmvn`, also scale each dimension to unit variance (Kaldi
    /// `apply-cmvn --norm-vars`). Default false.
    pub norm_vars: bool,
    /// With `deltas` and `cmvn`, normalise the static features first and
    /// compute the deltas from the normalised ones, as Kaldi's recipes do
    /// (`apply-cmvn ... | add-deltas`). Default false: normalise all
    /// dimensions after the deltas.
    pub cmvn_before_deltas: bool,
    /// Speed perturbation (Kaldi's `sox speed`, ESPnet's
    /// `speed_perturb_factors`): the audio is resampled so that it plays
    /// `speed` times as fast (shorter, higher-pitched) before anything
    /// else. Default 1.0 (none); left out of the serialised config then, so
    /// caches and cache keys of unperturbed features are what they were.
    /// Network training sets it for its perturbed copies (`[train]
    /// speed_perturb`).
    #[serde(skip_serializing_if = "is_unit_speed")]
    pub speed: f32,
    /// Additive babble noise (after any speed perturbation): other training
    /// utterances of the corpus mixed in at a drawn SNR. Default none; left
    /// out of the serialised config then. Network training sets it for its
    /// noisy copy (`[train] babble`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub babble: Option<BabbleNoise>,
}

/// Babble noise as the synthetic generator makes it, from real speech: a
/// mix of `talkers` other training utterances (drawn per utterance from
/// `seed` and the utterance id, each from a drawn offset, looped to the
/// length), scaled to an SNR drawn uniformly from `snr_db`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BabbleNoise {
    /// Other utterances summed into the babble. Default 3.
    pub talkers: usize,
    /// Lowest and highest SNR in dB. Default 10 to 20 dB.
    pub snr_db: [f32; 2],
    /// Seed of the draws. Default 0.
    pub seed: u64,
}

impl Default for BabbleNoise {
    fn default() -> Self {
        BabbleNoise {
            talkers: 3,
            snr_db: [10.0, 20.0],
            seed: 0,
        }
    }
}

fn is_unit_speed(s: &f32) -> bool {
    *s == 1.0
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            kind: FeatureKind::Mfcc,
            sample_frequency: 16000.0,
            frame_length_ms: 25.0,
            frame_shift_ms: 10.0,
            dither: 0.0,
            dither_seed: 0,
            remove_dc_offset: true,
            preemph_coeff: 0.97,
            window_type: WindowType::Povey,
            round_to_power_of_two: true,
            snip_edges: true,
            num_mel_bins: None,
            low_freq: 20.0,
            high_freq: 0.0,
            num_ceps: 13,
            use_energy: true,
            energy_floor: 0.0,
            raw_energy: true,
            cepstral_lifter: 22.0,
            use_log_fbank: true,
            use_power: true,
            deltas: false,
            cmvn: CmvnMode::None,
            norm_vars: false,
            cmvn_before_deltas: false,
            speed: 1.0,
            babble: None,
        }
    }
}

/// Order and window of the deltas `deltas = true` appends (Kaldi's `add-deltas` defaults).
pub const DELTA_ORDER: usize = 2;
pub const DELTA_WINDOW: usize = 2;

impl FeatureConfig {
    /// Kaldi's MFCC defaults (13 cepstra from 23 mel bins, energy as C0).
    pub fn mfcc() -> Self {
        FeatureConfig::default()
    }

    /// Log mel filterbank with `bins` bins and no energy.
    pub fn fbank(bins: usize) -> Self {
        FeatureConfig {
            kind: FeatureKind::Fbank,
            num_mel_bins: Some(bins),
            use_energy: false,
            ..Default::default()
        }
    }

    /// Read a TOML file of `FeatureConfig` fields (only non-defaults needed).
    pub fn from_toml_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        toml::from_str(&text).map_err(|e| Error::parse(path, format!("feature config: {e}")))
    }

    /// Mel bins actually used: `num_mel_bins`, or 23 (MFCC) / 80 (fbank).
    pub fn mel_bins(&self) -> usize {
        self.num_mel_bins.unwrap_or(match self.kind {
            FeatureKind::Mfcc => 23,
            FeatureKind::Fbank => 80,
        })
    }

    /// Window length in samples, computed as Kaldi does (truncating).
    pub fn window_size(&self) -> usize {
        (self.sample_frequency as f64 * 0.001 * self.frame_length_ms as f64) as usize
    }

    /// Frame shift in samples, computed as Kaldi does (truncating).
    pub fn window_shift(&self) -> usize {
        (self.sample_frequency as f64 * 0.001 * self.frame_shift_ms as f64) as usize
    }

    /// FFT length: the window size, rounded up to a power of two if asked.
    pub fn padded_window_size(&self) -> usize {
        let n = self.window_size();
        if self.round_to_power_of_two {
            n.next_power_of_two()
        } else {
            n
        }
    }

    /// Mel-bin band edges in Hz after resolving `high_freq <= 0` against Nyquist.
    pub fn mel_range(&self) -> (f32, f32) {
        let nyquist = 0.5 * self.sample_frequency;
        let high = if self.high_freq > 0.0 {
            self.high_freq
        } else {
            nyquist + self.high_freq
        };
        (self.low_freq, high)
    }

    /// Static feature dimension (before deltas).
    pub fn dim(&self) -> usize {
        match self.kind {
            FeatureKind::Mfcc => self.num_ceps,
            FeatureKind::Fbank => self.mel_bins(),
        }
    }

    /// Output dimension after deltas.
    pub fn out_dim(&self) -> usize {
        if self.deltas {
            self.dim() * (DELTA_ORDER + 1)
        } else {
            self.dim()
        }
    }

    /// Check the options against each other, as Kaldi does when it builds its computers.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(format!("feature config: {m}")));
        if let Some(b) = &self.babble {
            if b.talkers == 0 || !(b.snr_db[0] <= b.snr_db[1]) || !b.snr_db[0].is_finite() {
                return bad(format!(
                    "babble: talkers must be at least 1 and snr_db a finite [low, high], got {} and {:?}",
                    b.talkers, b.snr_db
                ));
            }
        }
        if !(0.5..=2.0).contains(&self.speed) {
            return bad(format!(
                "speed must lie between 0.5 and 2.0, got {}",
                self.speed
            ));
        }
        if self.sample_frequency.is_nan() || self.sample_frequency <= 0.0 {
            return bad(format!(
                "sample_frequency must be positive, got {}",
                self.sample_frequency
            ));
        }
        if self.window_size() < 2 {
            return bad(format!(
                "frame_length_ms {} gives a window of fewer than 2 samples",
                self.frame_length_ms
            ));
        }
        if self.window_shift() < 1 {
            return bad(format!(
                "frame_shift_ms {} gives a shift of less than 1 sample",
                self.frame_shift_ms
            ));
        }
        if self.dither.is_nan() || self.dither < 0.0 || !(0.0..=1.0).contains(&self.preemph_coeff) {
            return bad(format!(
                "dither must be >= 0 and preemph_coeff in 0..=1 (got {}, {})",
                self.dither, self.preemph_coeff
            ));
        }
        let bins = self.mel_bins();
        if bins < 3 {
            return bad(format!("num_mel_bins must be at least 3, got {bins}"));
        }
        let nyquist = 0.5 * self.sample_frequency;
        let (low, high) = self.mel_range();
        if low < 0.0 || low >= nyquist || high <= 0.0 || high > nyquist || high <= low {
            return bad(format!(
                "bad mel range low_freq {} high_freq {} (resolved {low}..{high} Hz) for Nyquist {nyquist} Hz",
                self.low_freq, self.high_freq
            ));
        }
        if self.kind == FeatureKind::Mfcc && (self.num_ceps == 0 || self.num_ceps > bins) {
            return bad(format!(
                "num_ceps must be in 1..={bins} (num_mel_bins), got {}",
                self.num_ceps
            ));
        }
        if self.energy_floor < 0.0 || self.cepstral_lifter < 0.0 {
            return bad("energy_floor and cepstral_lifter must be >= 0".into());
        }
        Ok(())
    }

    /// The same extraction without normalisation: what the feature cache
    /// stores, so that configs differing only in CMVN share one computation.
    pub fn unnormalised(&self) -> Self {
        FeatureConfig {
            cmvn: CmvnMode::None,
            norm_vars: false,
            cmvn_before_deltas: false,
            ..self.clone()
        }
    }

    /// What the feature cache stores for this config: the unnormalised
    /// features, without the deltas when they are computed after CMVN.
    pub fn cached_part(&self) -> Self {
        let mut raw = self.unnormalised();
        if self.normalises_before_deltas() {
            raw.deltas = false;
        }
        raw
    }

    /// Deltas computed from CMVN-normalised statics (`cmvn_before_deltas`
    /// with deltas and some CMVN).
    pub fn normalises_before_deltas(&self) -> bool {
        self.cmvn_before_deltas && self.deltas && self.cmvn != CmvnMode::None
    }

    /// A short hex digest of the full configuration, for naming feature caches:
    /// equal configs give equal hashes, any changed field changes it.
    pub fn stable_hash(&self) -> String {
        let json = serde_json::to_string(self).expect("FeatureConfig serialises");
        let digest = Sha256::digest(json.as_bytes());
        hex::encode(&digest[..8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_lists_only_non_defaults() {
        let c: FeatureConfig =
            toml::from_str("kind = \"fbank\"\nnum_mel_bins = 40\ncmvn = \"utt\"\n").unwrap();
        assert_eq!(c.kind, FeatureKind::Fbank);
        assert_eq!(c.mel_bins(), 40);
        assert_eq!(c.cmvn, CmvnMode::Utterance);
        assert_eq!(c.frame_shift_ms, 10.0);
        assert!(
            toml::from_str::<FeatureConfig>("num_mel_bin = 40\n").is_err(),
            "unknown fields rejected"
        );
        let back: FeatureConfig = toml::from_str(&toml::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn derived_sizes_match_kaldi() {
        let c = FeatureConfig::mfcc();
        assert_eq!(
            (c.window_size(), c.window_shift(), c.padded_window_size()),
            (400, 160, 512)
        );
        assert_eq!(c.mel_bins(), 23);
        assert_eq!(FeatureConfig::fbank(80).dim(), 80);
        assert_eq!(
            FeatureConfig {
                deltas: true,
                ..c.clone()
            }
            .out_dim(),
            39
        );
        assert_eq!(c.mel_range(), (20.0, 8000.0));
        assert_eq!(
            FeatureConfig {
                high_freq: -400.0,
                ..c
            }
            .mel_range(),
            (20.0, 7600.0)
        );
    }

    #[test]
    fn stable_hash_changes_with_config() {
        let a = FeatureConfig::mfcc();
        assert_eq!(a.stable_hash(), FeatureConfig::mfcc().stable_hash());
        assert_eq!(a.stable_hash().len(), 16);
        assert_ne!(
            a.stable_hash(),
            FeatureConfig {
                deltas: true,
                ..a.clone()
            }
            .stable_hash()
        );
        assert_ne!(a.stable_hash(), FeatureConfig::fbank(80).stable_hash());
    }

    #[test]
    fn validate_rejects_bad_ranges() {
        assert!(FeatureConfig::mfcc().validate().is_ok());
        assert!(FeatureConfig {
            num_ceps: 30,
            ..Default::default()
        }
        .validate()
        .is_err());
        assert!(FeatureConfig {
            high_freq: 9000.0,
            ..Default::default()
        }
        .validate()
        .is_err());
        assert!(FeatureConfig {
            low_freq: 8000.0,
            ..Default::default()
        }
        .validate()
        .is_err());
        assert!(FeatureConfig {
            frame_length_ms: 0.0,
            ..Default::default()
        }
        .validate()
        .is_err());
    }
}
