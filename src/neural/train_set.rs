//! The training set as the fitting loop sees it: ids, frame counts and
//! targets in memory, features read batch by batch from the loader's cache,
//! one version per speed-perturbation factor.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::config::SpeedPerturbMode;
use crate::error::Result;
use crate::matrix::Matrix;

/// The training utterances as the loop sees them: ids, frame counts and
/// targets in memory, features read from the loader's cache one batch at a
/// time, so memory holds one batch of features, not the training set.
/// With speed perturbation each utterance has several versions (the
/// unperturbed one first), each with its own cache; an epoch's examples are
/// (utterance, version) pairs ([`TrainSet::epoch_items`]).
pub struct TrainSet<'a> {
    pub ids: Vec<String>,
    /// Frames of each utterance's shortest version (what CTC's length
    /// check must hold for).
    pub frames: Vec<usize>,
    pub targets: Vec<Vec<i64>>,
    /// mtl-ctc: the auxiliary head's targets (phones); empty otherwise.
    pub aux_targets: Vec<Vec<i64>>,
    utts: Vec<&'a crate::corpus::Utterance>,
    versions: Vec<Version>,
    mode: SpeedPerturbMode,
}

/// One version of the training set: a speed factor, the cache of its
/// features and each utterance's frames in it.
struct Version {
    cache: std::sync::Arc<crate::loader::FeatureCache>,
    frames: Vec<usize>,
}

/// Mixed into the seed of the per-epoch draw of perturbation factors, so it
/// is a stream of its own (the shuffle and SpecAugment streams are untouched).
const SPEED_DRAW_STREAM: u64 = 0x5EED_5BEE_D000_0001;

impl<'a> TrainSet<'a> {
    /// `utts` with their `targets`, features from `cache`.
    pub fn new(
        utts: Vec<&'a crate::corpus::Utterance>,
        targets: Vec<Vec<i64>>,
        cache: std::sync::Arc<crate::loader::FeatureCache>,
    ) -> Result<Self> {
        let frames = cache.lengths(&utts)?;
        Ok(TrainSet {
            ids: utts.iter().map(|u| u.id.clone()).collect(),
            frames: frames.clone(),
            targets,
            aux_targets: Vec::new(),
            utts,
            versions: vec![Version { cache, frames }],
            mode: SpeedPerturbMode::Copies,
        })
    }

    /// Add speed-perturbed versions, one per cache (features of the
    /// perturbed audio), used as `mode` says.
    pub fn with_perturbed(
        mut self,
        caches: Vec<std::sync::Arc<crate::loader::FeatureCache>>,
        mode: SpeedPerturbMode,
    ) -> Result<Self> {
        for cache in caches {
            let frames = cache.lengths(&self.utts)?;
            for (f, &n) in self.frames.iter_mut().zip(&frames) {
                *f = (*f).min(n);
            }
            self.versions.push(Version { cache, frames });
        }
        self.mode = mode;
        Ok(self)
    }

    /// Give every utterance an auxiliary target (mtl-ctc), in the same order.
    pub fn with_aux_targets(mut self, aux: Vec<Vec<i64>>) -> Self {
        assert_eq!(aux.len(), self.ids.len(), "one aux target per utterance");
        self.aux_targets = aux;
        self
    }

    /// Keep the utterances for which `keep(frames, target)` holds for the
    /// target and, where there is one, the auxiliary target.
    pub fn retain(&mut self, keep: impl Fn(usize, &[i64]) -> bool) {
        let k: Vec<bool> = (0..self.ids.len())
            .map(|i| {
                keep(self.frames[i], &self.targets[i])
                    && self
                        .aux_targets
                        .get(i)
                        .is_none_or(|a| keep(self.frames[i], a))
            })
            .collect();
        fn keep_marked<T>(v: &mut Vec<T>, k: &[bool]) {
            let mut it = k.iter();
            v.retain(|_| *it.next().expect("same length"));
        }
        if !self.aux_targets.is_empty() {
            keep_marked(&mut self.aux_targets, &k);
        }
        keep_marked(&mut self.ids, &k);
        keep_marked(&mut self.frames, &k);
        keep_marked(&mut self.targets, &k);
        keep_marked(&mut self.utts, &k);
        for v in &mut self.versions {
            keep_marked(&mut v.frames, &k);
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The (utterance, version) pairs of one epoch, in utterance order:
    /// every utterance once, unperturbed, without perturbation; every
    /// version of every utterance (`copies`); or every utterance once at a
    /// version drawn from (seed, epoch) (`random`).
    pub fn epoch_items(&self, seed: u64, epoch: usize) -> Vec<(usize, usize)> {
        let n = self.len();
        match (self.versions.len(), self.mode) {
            (1, _) => (0..n).map(|i| (i, 0)).collect(),
            (v, SpeedPerturbMode::Copies) => {
                (0..v).flat_map(|k| (0..n).map(move |i| (i, k))).collect()
            }
            (v, SpeedPerturbMode::Random) => {
                let mut rng = ChaCha8Rng::seed_from_u64(
                    seed ^ SPEED_DRAW_STREAM ^ (epoch as u64).wrapping_mul(0x9E37_79B9),
                );
                (0..n).map(|i| (i, rng.gen_range(0..v))).collect()
            }
        }
    }

    /// Frames of each item.
    pub fn item_frames(&self, items: &[(usize, usize)]) -> Vec<usize> {
        items
            .iter()
            .map(|&(i, v)| self.versions[v].frames[i])
            .collect()
    }

    /// The examples of `items`, features read from their versions' caches.
    pub fn examples(&self, items: &[(usize, usize)]) -> Result<Vec<Example>> {
        use rayon::prelude::*;
        let feats: Vec<Matrix> = items
            .par_iter()
            .map(|&(i, v)| self.versions[v].cache.get(self.utts[i]))
            .collect::<Result<_>>()?;
        Ok(items
            .iter()
            .zip(feats)
            .map(|(&(i, _), feats)| Example {
                id: self.ids[i].clone(),
                feats,
                target: self.targets[i].clone(),
                aux_target: self.aux_targets.get(i).cloned().unwrap_or_default(),
            })
            .collect())
    }
}

/// One utterance ready for the network.
#[derive(Debug, Clone)]
pub struct Example {
    pub id: String,
    pub feats: Matrix,
    /// Token ids (no blanks); empty for decoding-only examples.
    pub target: Vec<i64>,
    /// mtl-ctc: the auxiliary head's token ids (phones); empty otherwise.
    pub aux_target: Vec<i64>,
}
