//! The saved-model format: `model.ot` (weights), `model.json` (config,
//! summary, training record), `tokens.txt` (and `aux_tokens.txt` for a phone
//! head), `pipeline.toml`.
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::config::ModelConfig;
use super::model::AuxHead;
use super::tokens::{TokenKind, TokenSet};
use super::train;
use crate::error::{Error, Result};
use crate::pipeline::ModelSummary;

pub(crate) const WEIGHTS_FILE: &str = "model.ot";
pub(crate) const MODEL_FILE: &str = "model.json";
pub(crate) const TOKENS_FILE: &str = "tokens.txt";
/// mtl-ctc: the phone head's tokens.
pub(crate) const AUX_TOKENS_FILE: &str = "aux_tokens.txt";
pub(crate) const PIPELINE_FILE: &str = "pipeline.toml";

/// What `model.json` holds besides the weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SavedModel {
    pub(crate) model: ModelConfig,
    pub(crate) summary: ModelSummary,
    pub(crate) training: Option<train::TrainState>,
    /// mtl-ctc: the phone head (its tokens in `aux_tokens.txt`).
    #[serde(default)]
    pub(crate) aux: Option<AuxHead>,
}

impl SavedModel {
    /// The token lists saved beside `DIR/model.json`: the output layer's
    /// (`tokens.txt`, of `kind`) and, for a model with a phone head, the
    /// head's (`aux_tokens.txt`).
    pub(crate) fn token_sets(
        &self,
        dir: &Path,
        kind: TokenKind,
    ) -> Result<(TokenSet, Option<TokenSet>)> {
        let tokens = TokenSet::load(&dir.join(TOKENS_FILE), kind)?;
        let aux_tokens = match self.aux {
            Some(_) => Some(TokenSet::load(
                &dir.join(AUX_TOKENS_FILE),
                TokenKind::Phones,
            )?),
            None => None,
        };
        Ok((tokens, aux_tokens))
    }

    /// Read and check `DIR/model.json`; errors name the file.
    pub(crate) fn read(dir: &Path) -> Result<Self> {
        let mpath = dir.join(MODEL_FILE);
        let text = std::fs::read_to_string(&mpath).map_err(|e| Error::io(&mpath, e))?;
        let saved: SavedModel =
            serde_json::from_str(&text).map_err(|e| Error::parse(&mpath, e.to_string()))?;
        saved
            .model
            .validate()
            .map_err(|e| Error::parse(&mpath, e.to_string()))?;
        Ok(saved)
    }
}
