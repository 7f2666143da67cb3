//! The classical pipeline's configuration: one `pipelines/classical*.toml`
//! file, every default stated on the `Default` impls here and in the stage
//! configs ([`MonoConfig`], [`TriConfig`], the shared [`LexiconConfig`],
//! [`LmConfig`] and [`DecodeConfig`]).
use serde::{Deserialize, Serialize};

use super::train_mono::MonoConfig;
use super::train_tri::TriConfig;
use super::KIND;
use crate::features::{CmvnMode, FeatureConfig};
use crate::lang::decoder::DecodeConfig;
use crate::lang::{LexiconConfig, LmConfig};

pub use crate::lang::TuneConfig;

/// The classical front end: Kaldi MFCC (13, C0 as energy) + deltas +
/// delta-deltas (39 dims), utterance mean normalisation (`[features]
/// cmvn = "spk"` for Kaldi's per-speaker CMVN, `norm_vars = true` for
/// `--norm-vars`).
pub fn default_features() -> FeatureConfig {
    FeatureConfig {
        deltas: true,
        cmvn: CmvnMode::Utterance,
        ..FeatureConfig::default()
    }
}

/// `[features]` keys override [`default_features`] (not FeatureConfig's own defaults).
fn de_features<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<FeatureConfig, D::Error> {
    use serde::de::Error as _;
    let given = toml::Table::deserialize(d)?;
    let mut base = toml::Table::try_from(default_features()).map_err(D::Error::custom)?;
    base.extend(given);
    base.try_into().map_err(D::Error::custom)
}

/// A `pipelines/classical*.toml` file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassicalConfig {
    pub kind: String,
    /// Front end; keys given override [`default_features`].
    #[serde(deserialize_with = "de_features")]
    pub features: FeatureConfig,
    pub lexicon: LexiconConfig,
    pub lm: LmConfig,
    pub mono: MonoConfig,
    pub tri: TriConfig,
    pub decode: DecodeConfig,
    pub tune: TuneConfig,
}

impl Default for ClassicalConfig {
    fn default() -> Self {
        ClassicalConfig {
            kind: KIND.into(),
            features: default_features(),
            lexicon: LexiconConfig::default(),
            lm: LmConfig::default(),
            mono: MonoConfig::default(),
            tri: TriConfig::default(),
            decode: DecodeConfig::default(),
            tune: TuneConfig::default(),
        }
    }
}
