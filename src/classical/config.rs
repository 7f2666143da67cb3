//! The classical pipeline's configuration: one `pipelines/classical*.toml`
//! file, every default stated on the `Default` impls here and in the stage
//! configs ([`MonoConfig`], [`TriConfig`], the shared [`LexiconConfig`],
//! [`LmConfig`] and [`DecodeConfig`]).
use serde::{Deserialize, Serialize};

use super::lda_sat::{LdaMlltConfig, SatConfig};
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
    /// Which rungs are trained and which one decodes.
    pub ladder: LadderConfig,
    /// Tree and passes of the LDA+MLLT rung (same keys and defaults as `[tri]`).
    pub tri2b: TriConfig,
    pub lda_mllt: LdaMlltConfig,
    /// Tree and passes of the SAT rung (same keys and defaults as `[tri]`).
    pub tri3b: TriConfig,
    pub sat: SatConfig,
    pub decode: DecodeConfig,
    pub tune: TuneConfig,
}

/// A rung of Kaldi's classical ladder, each trained from the alignments of
/// the one below: `mono` (`train_mono.sh`), `tri1` (`train_deltas.sh`),
/// `tri2b` (`train_lda_mllt.sh`), `tri3b` (`train_sat.sh`, decoded with fMLLR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rung {
    Mono,
    Tri1,
    Tri2b,
    Tri3b,
}

impl Rung {
    pub const ALL: [Rung; 4] = [Rung::Mono, Rung::Tri1, Rung::Tri2b, Rung::Tri3b];
    pub fn name(self) -> &'static str {
        match self {
            Rung::Mono => "mono",
            Rung::Tri1 => "tri1",
            Rung::Tri2b => "tri2b",
            Rung::Tri3b => "tri3b",
        }
    }
}

impl std::fmt::Display for Rung {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which trained rung decodes test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RungSelection {
    /// The highest rung trained.
    Top,
    /// Every rung is tuned on dev; the one with the lowest dev WER decodes
    /// test (ties go to the higher rung).
    BestDev,
}

/// `[ladder]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LadderConfig {
    /// The highest rung trained. Unset (the default): `tri1` when `[tri]
    /// enabled = true`, else `mono`, as before the ladder existed.
    pub top: Option<Rung>,
    /// `top` (default) or `best-dev`.
    pub select: RungSelection,
}

impl Default for LadderConfig {
    fn default() -> Self {
        LadderConfig {
            top: None,
            select: RungSelection::Top,
        }
    }
}

impl ClassicalConfig {
    /// The highest rung this config trains.
    pub fn top_rung(&self) -> Rung {
        match self.ladder.top {
            Some(r) => r,
            None if self.tri.enabled => Rung::Tri1,
            None => Rung::Mono,
        }
    }
    /// The static cepstra the LDA rungs splice: the front end without deltas.
    pub fn static_features(&self) -> FeatureConfig {
        FeatureConfig {
            deltas: false,
            ..self.features.clone()
        }
    }
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
            ladder: LadderConfig::default(),
            tri2b: TriConfig::default(),
            lda_mllt: LdaMlltConfig::default(),
            tri3b: TriConfig::default(),
            sat: SatConfig::default(),
            decode: DecodeConfig::default(),
            tune: TuneConfig::default(),
        }
    }
}
