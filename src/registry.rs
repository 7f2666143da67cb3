//! Pipeline kinds -> recognisers. The only place that knows every recogniser;
//! the sweep and the `train`/`decode` subcommands go through it.
use std::path::Path;

use crate::error::{Error, Result};
use crate::pipeline::{pipeline_kind, Recogniser, TrainContext};

pub const KINDS: &str = "classical, phone-ctc or char-ctc";

fn unknown(path: &Path, kind: &str) -> Error {
    Error::Config(format!(
        "{}: unknown pipeline kind {kind:?} (expected {KINDS})",
        path.display()
    ))
}

/// Train the recogniser a pipeline config file describes.
pub fn train(pipeline: &Path, ctx: &TrainContext) -> Result<Box<dyn Recogniser>> {
    let (kind, table) = pipeline_kind(pipeline)?;
    match kind.as_str() {
        crate::classical::KIND => {
            let cfg = crate::classical::ClassicalConfig::from_table(table, pipeline)?;
            Ok(Box::new(crate::classical::train_classical(&cfg, ctx)?))
        }
        k if crate::neural::config::KINDS.contains(&k) => {
            let cfg = crate::neural::config::CtcConfig::load(pipeline)?;
            Ok(Box::new(crate::neural::train_ctc(&cfg, ctx)?))
        }
        other => Err(unknown(pipeline, other)),
    }
}

/// Load a trained model folder (its `pipeline.toml` says which recogniser).
pub use crate::pipeline::load_model as load;
