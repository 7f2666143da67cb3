//! The work a sweep's cells share, done once before any cell runs, so that
//! cells (and concurrent Slurm array tasks) never race to do it: each
//! pipeline's `prepare` (a pre-trained initial model), and, for a sweep
//! spread over array tasks, every feature set the cells will read.
use std::path::Path;

use super::{SweepProgress, SweepSpec};
use crate::corpus::Corpus;
use crate::error::{Error, Result};
use crate::loader::Loader;
use crate::pipeline::RunSettings;

/// Run each pipeline's shared work. A pipeline whose preparation fails is
/// reported and left to its cells, which fail with the same error and are
/// recorded like any failure.
pub fn prepare_pipelines(
    spec: &SweepSpec,
    out: &Path,
    show_progress: bool,
    progress: &dyn SweepProgress,
) -> Result<()> {
    let overlay = spec.overlay()?;
    for p in &spec.pipelines {
        progress.stage(&format!("preparing {}", p.display()));
        let run = RunSettings {
            threads: spec.threads,
            device: spec.device,
            out_dir: out.to_path_buf(),
            progress: show_progress,
            shared_networks: None,
        };
        match crate::registry::prepare(p, &overlay, &run) {
            Ok(Some(line)) => eprintln!("crossover: {}: {line}", p.display()),
            Ok(None) => {}
            Err(e) => eprintln!("crossover: {}: preparing failed: {e}", p.display()),
        }
    }
    Ok(())
}

/// Compute every feature set the pipelines' cells read, for every
/// utterance of the corpus, into the loader's cache (array tasks then only
/// read it). Pipelines that do not parse are skipped: their cells record
/// the error.
pub fn precompute_features(
    spec: &SweepSpec,
    corpus: &Corpus,
    loader: &Loader,
    show_progress: bool,
    progress: &dyn SweepProgress,
) -> Result<()> {
    let overlay = spec.overlay()?;
    let utts: Vec<&crate::corpus::Utterance> = corpus.utterances.iter().collect();
    for p in &spec.pipelines {
        let Ok(configs) = crate::registry::feature_configs(p, &overlay) else {
            continue;
        };
        for fc in configs {
            progress.stage(&format!("features for {}", p.display()));
            loader
                .cache(&fc)
                .and_then(|c| c.precompute(&utts, show_progress))
                .map_err(|e| {
                    Error::Invalid(format!(
                        "features of {} for {}: {e}",
                        spec.corpus.display(),
                        p.display()
                    ))
                })?;
        }
    }
    Ok(())
}
