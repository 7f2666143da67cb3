//! Network inputs and targets of utterances, from the loader's feature
//! cache (with the augmented copies training asks for).
use rayon::prelude::*;

use super::train::Example;
use super::{config, fbank};
use crate::corpus::Utterance;
use crate::error::Result;
use crate::loader::Loader;

/// The loader features of the augmented copies `[train]` asks for: each
/// speed factor but 1.0 (the unperturbed input itself), then the babble copy.
pub(crate) fn perturbation_configs(
    train: &config::TrainConfig,
    num_mel_bins: usize,
) -> Vec<crate::features::FeatureConfig> {
    train
        .speed_perturb
        .iter()
        .filter(|&&f| f != 1.0)
        .map(|&f| fbank::perturbed_input_features(num_mel_bins, f))
        .chain(
            train
                .babble
                .iter()
                .map(|b| fbank::noisy_input_features(num_mel_bins, b)),
        )
        .collect()
}

/// How an utterance becomes token ids for training.
pub type TargetFn<'a> = dyn Fn(&Utterance) -> Result<Vec<i64>> + Sync + 'a;

/// Network inputs (and targets, when `targets` is given) of `utts`, in
/// order, from the loader's cache.
pub fn examples(
    loader: &Loader,
    utts: &[&Utterance],
    targets: Option<&TargetFn>,
    num_mel_bins: usize,
    threads: usize,
) -> Result<Vec<Example>> {
    examples_with_aux(loader, utts, targets, None, num_mel_bins, threads)
}

/// [`examples`] with auxiliary targets too (mtl-ctc's phones).
pub fn examples_with_aux(
    loader: &Loader,
    utts: &[&Utterance],
    targets: Option<&TargetFn>,
    aux: Option<&TargetFn>,
    num_mel_bins: usize,
    threads: usize,
) -> Result<Vec<Example>> {
    let cfg = fbank::input_features(num_mel_bins);
    crate::threads::pool(threads)?.install(|| {
        let feats = loader.features(&cfg, utts)?;
        utts.par_iter()
            .zip(feats.into_par_iter())
            .map(|(u, feats)| {
                let target = match targets {
                    Some(t) => t(u)?,
                    None => Vec::new(),
                };
                let aux_target = match aux {
                    Some(t) => t(u)?,
                    None => Vec::new(),
                };
                Ok(Example {
                    id: u.id.clone(),
                    feats,
                    target,
                    aux_target,
                })
            })
            .collect()
    })
}
