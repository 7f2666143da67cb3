//! Training a CTC network: length-bucketed batches, SpecAugment, AdamW with
//! warm-up then a newbob (plateau) or cosine schedule, global gradient-norm
//! clipping, dev-set checkpoint selection, stopping on work (patience on dev
//! error, an epoch cap, an update cap; a wall-clock safety valve only when
//! asked for, marked `time-capped`), per-epoch checkpoints that resume exactly
//! (weights, AdamW moments, schedule state and RNG streams), and an indicatif
//! progress bar (loss, dev CER, ETA).
//!
//! Randomness: `tch::manual_seed` seeds weight initialisation and, re-seeded at
//! the start of each epoch from (seed, epoch), dropout; a ChaCha8 stream per
//! epoch shuffles batches and draws SpecAugment masks. A resumed run therefore
//! continues exactly as the uninterrupted one would have, and nothing but the
//! safety valve reads the clock, so speed never changes what is learnt.
use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{nn, Device, Kind, Tensor};

use super::config::{LrSchedule, SpecAugmentConfig, SpeedPerturbMode, TrainConfig};
use super::ctc_decode;
use super::model::CtcNet;
use super::tokens::{TokenSet, BLANK};
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::score::edit_distance;

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

fn torch_err(context: impl Into<String>) -> impl FnOnce(tch::TchError) -> Error {
    let context = context.into();
    move |source| Error::Torch { context, source }
}

/// SpecAugment masks (zeros, the CMVN mean) on one utterance, in place.
pub fn spec_augment(m: &mut Matrix, c: &SpecAugmentConfig, rng: &mut impl Rng) {
    let (t, f) = (m.rows, m.cols);
    for _ in 0..c.freq_masks {
        let w = rng.gen_range(0..=c.freq_width.min(f));
        let start = rng.gen_range(0..=f - w);
        for r in 0..t {
            m.row_mut(r)[start..start + w]
                .iter_mut()
                .for_each(|x| *x = 0.0);
        }
    }
    let max_t = c.time_width.min((c.time_ratio * t as f64) as usize);
    for _ in 0..c.time_masks {
        let w = rng.gen_range(0..=max_t);
        let start = rng.gen_range(0..=t - w);
        for r in start..start + w {
            m.row_mut(r).iter_mut().for_each(|x| *x = 0.0);
        }
    }
}

/// A padded batch on `device`: features [B, T, F], frame counts, and the CTC targets.
pub struct Batch {
    pub xs: Tensor,
    pub lens: Vec<i64>,
    pub targets: Tensor,
    pub target_lens: Vec<i64>,
    /// The auxiliary targets and their lengths, when every example has one.
    pub aux: Option<(Tensor, Vec<i64>)>,
    pub frames: usize,
}

pub fn make_batch(
    examples: &[&Example],
    aug: Option<(&SpecAugmentConfig, &mut ChaCha8Rng)>,
    device: Device,
) -> Batch {
    let f = examples[0].feats.cols;
    let t_max = examples.iter().map(|e| e.feats.rows).max().unwrap_or(0);
    let mut data = vec![0f32; examples.len() * t_max * f];
    let mut aug = aug;
    for (b, e) in examples.iter().enumerate() {
        let dst = &mut data[b * t_max * f..b * t_max * f + e.feats.data.len()];
        match aug.as_mut() {
            Some((c, rng)) => {
                let mut m = e.feats.clone();
                spec_augment(&mut m, c, *rng);
                dst.copy_from_slice(&m.data);
            }
            None => dst.copy_from_slice(&e.feats.data),
        }
    }
    let xs = Tensor::from_slice(&data)
        .view([examples.len() as i64, t_max as i64, f as i64])
        .to_device(device);
    let targets: Vec<i64> = examples
        .iter()
        .flat_map(|e| e.target.iter().copied())
        .collect();
    let aux = examples.iter().all(|e| !e.aux_target.is_empty()).then(|| {
        let flat: Vec<i64> = examples
            .iter()
            .flat_map(|e| e.aux_target.iter().copied())
            .collect();
        (
            Tensor::from_slice(&flat).to_device(device),
            examples.iter().map(|e| e.aux_target.len() as i64).collect(),
        )
    });
    Batch {
        xs,
        lens: examples.iter().map(|e| e.feats.rows as i64).collect(),
        targets: Tensor::from_slice(&targets).to_device(device),
        target_lens: examples.iter().map(|e| e.target.len() as i64).collect(),
        aux,
        frames: examples.iter().map(|e| e.feats.rows).sum(),
    }
}

/// Mean CTC loss of a batch (PyTorch's `reduction="mean"`: per-utterance loss
/// divided by target length, averaged over the batch).
pub fn ctc_loss(net: &CtcNet, batch: &Batch, train: bool) -> Tensor {
    mtl_ctc_loss(net, batch, 0.0, train)
}

/// Multi-task CTC: `(1 - w) * main + w * aux` where the network has an
/// auxiliary head, the batch its targets and `w > 0`; else the main loss.
pub fn mtl_ctc_loss(net: &CtcNet, batch: &Batch, aux_weight: f64, train: bool) -> Tensor {
    let use_aux = aux_weight > 0.0 && batch.aux.is_some() && net.aux_head().is_some();
    let (logp, aux, out_lens) = net.forward_heads(&batch.xs, &batch.lens, train, use_aux);
    let ctc = |lp: &Tensor, targets: &Tensor, lens: &[i64]| {
        Tensor::ctc_loss(
            &lp.transpose(0, 1),
            targets,
            &out_lens,
            lens,
            BLANK as i64,
            tch::Reduction::Mean,
            true,
        )
    };
    let main = ctc(&logp, &batch.targets, &batch.target_lens);
    match (aux, &batch.aux) {
        (Some(alp), Some((t, l))) if use_aux => {
            main * (1.0 - aux_weight) + ctc(&alp, t, l) * aux_weight
        }
        _ => main,
    }
}

/// AdamW (Loshchilov & Hutter) written out so its moments can be checkpointed
/// (tch's built-in optimizer does not expose its state). Same update as
/// `torch.optim.AdamW`: decoupled weight decay, bias-corrected moments.
pub struct AdamW {
    names: Vec<String>,
    params: Vec<Tensor>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    pub step: i64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
}

impl AdamW {
    pub fn new(vs: &nn::VarStore, c: &TrainConfig) -> Self {
        let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let m = vars.iter().map(|(_, p)| p.zeros_like()).collect();
        let v = vars.iter().map(|(_, p)| p.zeros_like()).collect();
        let (names, params) = vars.into_iter().unzip();
        AdamW {
            names,
            params,
            m,
            v,
            step: 0,
            beta1: c.beta1,
            beta2: c.beta2,
            eps: 1e-8,
            weight_decay: c.weight_decay,
        }
    }

    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.zero_grad();
        }
    }

    /// Scale gradients so their global L2 norm is at most `max_norm`; returns the norm before clipping.
    pub fn clip_grad_norm(&mut self, max_norm: f64) -> f64 {
        tch::no_grad(|| {
            let norms: Vec<Tensor> = self
                .params
                .iter()
                .map(|p| p.grad())
                .filter(|g| g.defined())
                .map(|g| g.norm())
                .collect();
            if norms.is_empty() {
                return 0.0;
            }
            let total = Tensor::stack(&norms, 0).norm().double_value(&[]);
            if total > max_norm {
                let scale = max_norm / (total + 1e-6);
                for p in &self.params {
                    let mut g = p.grad();
                    if g.defined() {
                        g *= scale;
                    }
                }
            }
            total
        })
    }

    pub fn step(&mut self, lr: f64) {
        self.step += 1;
        let bc1 = 1.0 - self.beta1.powi(self.step as i32);
        let bc2 = 1.0 - self.beta2.powi(self.step as i32);
        tch::no_grad(|| {
            for ((p, m), v) in self.params.iter_mut().zip(&mut self.m).zip(&mut self.v) {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                *p *= 1.0 - lr * self.weight_decay;
                *m *= self.beta1;
                *m += &g * (1.0 - self.beta1);
                *v *= self.beta2;
                *v += &g * &g * (1.0 - self.beta2);
                let denom = (&*v / bc2).sqrt() + self.eps;
                *p -= (&*m / &denom) * (lr / bc1);
            }
        });
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let mut named: Vec<(String, Tensor)> = Vec::new();
        for (i, n) in self.names.iter().enumerate() {
            named.push((format!("m.{n}"), self.m[i].shallow_clone()));
            named.push((format!("v.{n}"), self.v[i].shallow_clone()));
        }
        named.push(("step".into(), Tensor::from_slice(&[self.step])));
        Tensor::save_multi(&named, path).map_err(torch_err(format!(
            "saving optimizer state {}",
            path.display()
        )))
    }

    pub fn load(&mut self, path: &Path) -> Result<()> {
        let loaded = Tensor::load_multi(path).map_err(torch_err(format!(
            "loading optimizer state {}",
            path.display()
        )))?;
        let map: std::collections::HashMap<String, Tensor> = loaded.into_iter().collect();
        let get = |k: &str| {
            map.get(k)
                .ok_or_else(|| Error::parse(path, format!("optimizer state lacks {k}")))
        };
        tch::no_grad(|| -> Result<()> {
            for (i, n) in self.names.iter().enumerate() {
                self.m[i].copy_(get(&format!("m.{n}"))?);
                self.v[i].copy_(get(&format!("v.{n}"))?);
            }
            Ok(())
        })?;
        self.step = get("step")?.int64_value(&[0]);
        Ok(())
    }
}

/// Learning rate at `step`: linear warm-up, then either cosine decay to
/// `final_lr_ratio` of the peak over `progress` in [0, 1], or the peak times
/// the plateau schedule's current `lr_scale` (floored at `final_lr_ratio`).
/// Both depend on work done, never on the clock.
pub fn learning_rate(c: &TrainConfig, step: usize, progress: f64, lr_scale: f64) -> f64 {
    if step < c.warmup_steps {
        return c.lr * (step + 1) as f64 / c.warmup_steps as f64;
    }
    match c.schedule {
        LrSchedule::Cosine => {
            let p = progress.clamp(0.0, 1.0);
            c.lr * (c.final_lr_ratio
                + (1.0 - c.final_lr_ratio) * 0.5 * (1.0 + (std::f64::consts::PI * p).cos()))
        }
        LrSchedule::Plateau => c.lr * lr_scale.max(c.final_lr_ratio),
    }
}

/// Log posteriors of one utterance (no padding, eval mode) as a frames x tokens matrix.
pub fn posteriors(net: &CtcNet, feats: &Matrix, device: Device) -> Matrix {
    tch::no_grad(|| {
        let xs = Tensor::from_slice(&feats.data)
            .view([1, feats.rows as i64, feats.cols as i64])
            .to_device(device);
        let (lp, lens) = net.forward(&xs, &[feats.rows as i64], false);
        frames_matrix(&lp.get(0).narrow(0, 0, lens[0]))
    })
}

/// [`posteriors`] of the main head and, where the network has one, the auxiliary head.
pub fn posteriors_heads(net: &CtcNet, feats: &Matrix, device: Device) -> (Matrix, Option<Matrix>) {
    tch::no_grad(|| {
        let xs = Tensor::from_slice(&feats.data)
            .view([1, feats.rows as i64, feats.cols as i64])
            .to_device(device);
        let (lp, aux, lens) = net.forward_heads(&xs, &[feats.rows as i64], false, true);
        (
            frames_matrix(&lp.get(0).narrow(0, 0, lens[0])),
            aux.map(|a| frames_matrix(&a.get(0).narrow(0, 0, lens[0]))),
        )
    })
}

/// A frames x tokens tensor (any device and float kind) as a CPU matrix.
fn frames_matrix(lp: &Tensor) -> Matrix {
    let lp = lp.to_device(Device::Cpu).to_kind(Kind::Float).contiguous();
    let (t, v) = (lp.size()[0] as usize, lp.size()[1] as usize);
    let data: Vec<f32> = Vec::<f32>::try_from(lp.view([-1])).expect("float tensor");
    Matrix::from_vec(t, v, data)
}

/// Padded frames per dev-scoring batch (200 s of audio).
const DEV_BATCH_FRAMES: usize = 20_000;

/// Token error rate (CER for characters incl. spaces, PER for phones) with
/// greedy decoding, scored every epoch on dev. The dev set runs through the
/// network in length-sorted batches (as ESPnet and icefall validate), not
/// one utterance at a time: a recurrent layer on 2 CPU cores runs several
/// times faster on a batch, and per-utterance scoring of the 0.5 h synthetic
/// dev set was half of each small-subset epoch. Batches are sorted by
/// length, so padding is a few frames; the backward direction of a BiRNN
/// reads them, so this figure can differ from a per-utterance decode (test
/// decoding stays per utterance) in the last digit. It only ranks
/// checkpoints and drives the stopping rule, and is deterministic.
pub fn token_error_rate(net: &CtcNet, examples: &[Example], device: Device) -> f64 {
    head_error_rate(net, examples, device, false)
}

/// [`token_error_rate`] of the main head, or (with `aux`) of the auxiliary
/// head against the examples' `aux_target`s (mtl-ctc's dev PER).
pub fn head_error_rate(net: &CtcNet, examples: &[Example], device: Device, aux: bool) -> f64 {
    let (mut errs, mut total) = (0usize, 0usize);
    let lens: Vec<usize> = examples.iter().map(|e| e.feats.rows).collect();
    for batch in crate::loader::length_buckets_sorted(&lens, DEV_BATCH_FRAMES, usize::MAX) {
        let exs: Vec<&Example> = batch.iter().map(|&i| &examples[i]).collect();
        let b = make_batch(&exs, None, device);
        let (main, aux_lp, out_lens) =
            tch::no_grad(|| net.forward_heads(&b.xs, &b.lens, false, aux));
        let lp = match (aux, aux_lp) {
            (true, Some(a)) => a,
            (true, None) => return f64::NAN,
            (false, _) => main,
        };
        for (k, e) in exs.iter().enumerate() {
            let one = frames_matrix(&lp.get(k as i64).narrow(0, 0, out_lens[k]));
            let hyp = ctc_decode::greedy(&one, BLANK);
            let target = if aux { &e.aux_target } else { &e.target };
            let reference: Vec<usize> = target.iter().map(|&i| i as usize).collect();
            errs += edit_distance(&hyp, &reference);
            total += reference.len();
        }
    }
    errs as f64 / total.max(1) as f64
}

/// Why training ended (results.csv `stop_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    /// Dev error stopped improving for `patience` epochs (or reached 0).
    Converged,
    /// `max_epochs` epochs done.
    EpochCap,
    /// The update cap was reached.
    UpdateCap,
    /// The wall-clock safety valve fired: the result depends on the machine.
    TimeCapped,
}

impl StopReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Converged => "converged",
            StopReason::EpochCap => "epoch-cap",
            StopReason::UpdateCap => "update-cap",
            StopReason::TimeCapped => "time-capped",
        }
    }
}

fn one() -> f64 {
    1.0
}

/// What is written to `checkpoints/state.json` after each epoch.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TrainState {
    /// Fingerprint of config, tokens and training utterance ids: a checkpoint
    /// folder is only resumed by the same training job.
    pub fingerprint: String,
    pub epochs_done: usize,
    /// Optimizer updates done.
    pub step: usize,
    pub best_dev_error: Option<f64>,
    pub best_epoch: usize,
    /// Epochs since dev error last fell by more than `min_improvement`.
    pub epochs_since_best: usize,
    pub train_seconds: f64,
    pub audio_seconds_trained: f64,
    pub history: Vec<EpochLog>,
    /// Why training ended; None while it may go on (or paused by `stop_after_epochs`).
    #[serde(default)]
    pub stop_reason: Option<StopReason>,
    /// The same, in words.
    pub stopped: Option<String>,
    /// Plateau schedule: the current fraction of the peak rate, and epochs since the last cut or improvement.
    #[serde(default = "one")]
    pub lr_scale: f64,
    #[serde(default)]
    pub epochs_since_cut: usize,
    /// `train_seconds` when this run picked the checkpoint up (not saved:
    /// it is what the earlier runs spent, as seen by this one).
    #[serde(skip)]
    pub resumed_seconds: f64,
}

impl TrainState {
    /// A training not yet started: the plateau schedule at the full peak
    /// rate. (`Default` would start it at `lr_scale = 0`, which
    /// `learning_rate` floors to `final_lr_ratio` of the peak.)
    pub fn new(fingerprint: String) -> Self {
        TrainState {
            fingerprint,
            lr_scale: 1.0,
            ..Default::default()
        }
    }

    /// The summary's record of this training (results.csv's convergence columns, the curve).
    pub fn record(&self) -> crate::pipeline::TrainingRecord {
        crate::pipeline::TrainingRecord {
            epochs: self.epochs_done,
            updates: self.step,
            best_epoch: self.best_epoch,
            stop_reason: self
                .stop_reason
                .map_or("paused", |r| r.as_str())
                .to_string(),
            final_train_loss: self.final_train_loss(),
            best_dev_error: self.best_dev_error,
            curve: self
                .history
                .iter()
                .map(|e| (e.epoch, e.train_loss, e.dev_error))
                .collect(),
            train_seconds: self.train_seconds,
            resumed_seconds: self.resumed_seconds,
            reused_network_seconds: 0.0,
        }
    }

    /// Training loss of the last epoch.
    pub fn final_train_loss(&self) -> Option<f64> {
        self.history.last().map(|e| e.train_loss)
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EpochLog {
    pub epoch: usize,
    pub train_loss: f64,
    pub dev_error: Option<f64>,
    pub lr: f64,
    pub seconds: f64,
    /// Updates done by the end of this epoch.
    #[serde(default)]
    pub updates: usize,
}

pub struct TrainJob<'a> {
    pub cfg: &'a TrainConfig,
    pub tokens: &'a TokenSet,
    pub train: &'a TrainSet<'a>,
    pub dev: &'a [Example],
    pub seed: u64,
    pub device: Device,
    pub checkpoint_dir: PathBuf,
    pub fingerprint: String,
    pub progress: bool,
    /// Stop after this many optimizer updates in all (TrainConfig::update_cap).
    pub update_cap: Option<usize>,
    /// The wall-clock safety valve (TrainConfig::time_cap).
    pub time_cap: Option<f64>,
    /// mtl-ctc: the auxiliary loss weight (0 = single task).
    pub aux_weight: f64,
    /// Fine-tuning: variable-name prefixes kept frozen (no gradient, no
    /// update) for the first `freeze_updates` updates.
    pub freeze: Vec<String>,
    pub freeze_updates: usize,
}

fn write_json(path: &Path, v: &impl Serialize) -> Result<()> {
    crate::atomic_file::write(path, serde_json::to_string_pretty(v).expect("serialisable"))
}

fn save_vs(vs: &nn::VarStore, path: &Path) -> Result<()> {
    crate::atomic_file::write_via_path(path, |tmp| {
        vs.save(tmp)
            .map_err(torch_err(format!("saving {}", path.display())))
    })
}

fn describe_stop(r: StopReason, c: &TrainConfig, job: &TrainJob) -> String {
    match r {
        StopReason::Converged => format!(
            "converged: dev error flat (no fall of more than {} points) for {} epochs, or 0",
            100.0 * c.min_improvement,
            c.patience
        ),
        StopReason::EpochCap => format!("epoch cap of {} reached", c.max_epochs),
        StopReason::UpdateCap => format!(
            "update cap of {} reached",
            job.update_cap.unwrap_or_default()
        ),
        StopReason::TimeCapped => format!(
            "time-capped: the {:.0} s wall-clock safety valve fired (the result depends on the machine's speed)",
            job.time_cap.unwrap_or_default()
        ),
    }
}

/// Freeze (or thaw) the variables whose names start with one of `prefixes`:
/// a frozen variable takes no gradient, so AdamW skips it (no update, no
/// weight decay, its moments untouched) and backward does not compute it.
fn set_frozen(vs: &nn::VarStore, prefixes: &[String], frozen: bool) {
    if prefixes.is_empty() {
        return;
    }
    for (name, t) in vs.variables() {
        if prefixes.iter().any(|p| name.starts_with(p.as_str())) && t.requires_grad() == frozen {
            let _ = t.set_requires_grad(!frozen);
        }
    }
}

/// Dev token error at or above which a CTC network has learned nothing yet
/// (all blanks give exactly 1.0, an untrained network's random output more).
const ALL_BLANK_ERROR: f64 = 0.999;

/// Train `net` (whose variables live in `vs`) and leave the best dev checkpoint
/// loaded in `vs`. Resumes from `checkpoint_dir` when it holds a checkpoint of
/// the same job.
pub fn train_loop(job: &TrainJob, vs: &mut nn::VarStore, net: &CtcNet) -> Result<TrainState> {
    let c = job.cfg;
    let dir = &job.checkpoint_dir;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let (state_path, last_path, opt_path, best_path) = (
        dir.join("state.json"),
        dir.join("last.ot"),
        dir.join("last.adamw.ot"),
        dir.join("best.ot"),
    );
    let mut opt = AdamW::new(vs, c);
    let mut st = TrainState::new(job.fingerprint.clone());
    if state_path.exists() {
        let text = std::fs::read_to_string(&state_path).map_err(|e| Error::io(&state_path, e))?;
        let prev: TrainState =
            serde_json::from_str(&text).map_err(|e| Error::parse(&state_path, e.to_string()))?;
        if prev.fingerprint != job.fingerprint {
            return Err(Error::Invalid(format!(
                "{} holds checkpoints of a different training job (config, tokens or training set differ): remove the folder or train into another --out",
                dir.display()
            )));
        }
        vs.load(&last_path).map_err(torch_err(format!(
            "loading checkpoint {}",
            last_path.display()
        )))?;
        opt.load(&opt_path)?;
        st = prev;
        st.resumed_seconds = st.train_seconds;
    }

    let max_frames = (c.batch_seconds * 100.0) as usize;
    // An epoch's items and their length-bucketed batches (the same every
    // epoch unless perturbation factors are drawn per epoch).
    let plan = |epoch: usize| {
        let items = job.train.epoch_items(job.seed, epoch);
        let lens = job.train.item_frames(&items);
        let batches = crate::loader::length_buckets_sorted(&lens, max_frames, usize::MAX);
        (items, batches)
    };
    let (_, batches) = plan(0);
    let passes = c
        .min_updates_per_epoch
        .div_ceil(batches.len().max(1))
        .max(1);
    // The planned length: what the cosine schedule decays over and the bar shows.
    let planned_steps = (c.max_epochs * passes * batches.len())
        .min(job.update_cap.unwrap_or(usize::MAX))
        .max(1);
    let bar = if job.progress {
        indicatif::ProgressBar::new(planned_steps as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} updates (cap), ETA {eta} {msg}",
        )
        .expect("valid template"),
    );
    bar.set_prefix("train");
    bar.set_position(st.step as u64);
    let started = Instant::now();
    let base_seconds = st.train_seconds;
    let mut last_msg = String::new();

    let stop_at = if c.stop_after_epochs > 0 {
        c.stop_after_epochs.min(c.max_epochs)
    } else {
        c.max_epochs
    };
    // A cap raised since the run stopped lets it go on; convergence is final.
    let raised = match st.stop_reason {
        Some(StopReason::TimeCapped) => job.time_cap.is_none_or(|t| t > st.train_seconds),
        Some(StopReason::UpdateCap) => job.update_cap.is_none_or(|u| u > st.step),
        Some(StopReason::EpochCap) => c.max_epochs > st.epochs_done,
        _ => false,
    };
    if raised {
        st.stop_reason = None;
        st.stopped = None;
    }
    while st.epochs_done < stop_at && st.stop_reason.is_none() {
        let epoch = st.epochs_done;
        let epoch_start = Instant::now();
        tch::manual_seed(
            (job.seed as i64)
                .wrapping_mul(1_000_003)
                .wrapping_add(epoch as i64 + 1),
        );
        let mut rng = ChaCha8Rng::seed_from_u64(
            job.seed ^ (0x9E37_79B9_7F4A_7C15u64.wrapping_mul(epoch as u64 + 1)),
        );
        // An epoch is at least `min_updates_per_epoch` updates: whole
        // shuffled passes over the data, as many as that takes, so a tiny
        // subset is not judged (and stopped) after a handful of updates.
        let (items, batches) = plan(epoch);
        let mut order: Vec<usize> = Vec::with_capacity(passes * batches.len());
        for _ in 0..passes {
            let mut pass: Vec<usize> = (0..batches.len()).collect();
            pass.shuffle(&mut rng);
            order.extend(pass);
        }
        let (mut loss_sum, mut loss_n) = (0.0, 0usize);
        let mut lr = 0.0;
        let mut cap_hit = None;
        for &bi in &order {
            if job.update_cap.is_some_and(|u| st.step >= u) {
                cap_hit = Some(StopReason::UpdateCap);
                break;
            }
            if job
                .time_cap
                .is_some_and(|t| base_seconds + started.elapsed().as_secs_f64() >= t)
            {
                cap_hit = Some(StopReason::TimeCapped);
                break;
            }
            set_frozen(vs, &job.freeze, st.step < job.freeze_updates);
            let batch_items: Vec<(usize, usize)> = batches[bi].iter().map(|&k| items[k]).collect();
            let loaded = job.train.examples(&batch_items)?;
            let exs: Vec<&Example> = loaded.iter().collect();
            let batch = make_batch(&exs, Some((&c.spec_augment, &mut rng)), job.device);
            let progress = st.step.saturating_sub(c.warmup_steps) as f64
                / (planned_steps.saturating_sub(c.warmup_steps)).max(1) as f64;
            lr = learning_rate(c, st.step, progress, st.lr_scale);
            opt.zero_grad();
            let loss = mtl_ctc_loss(net, &batch, job.aux_weight, true);
            let lv = loss.double_value(&[]);
            if !lv.is_finite() {
                return Err(Error::Invalid(format!(
                    "training diverged at epoch {} step {}: loss {lv}",
                    epoch + 1,
                    st.step
                )));
            }
            loss.backward();
            opt.clip_grad_norm(c.grad_clip);
            opt.step(lr);
            st.step += 1;
            st.audio_seconds_trained += batch.frames as f64 / 100.0;
            loss_sum += lv;
            loss_n += 1;
            bar.set_position(st.step as u64);
            bar.set_message(format!(
                "epoch {} loss {:.3}{}",
                epoch + 1,
                loss_sum / loss_n as f64,
                last_msg
            ));
        }
        if loss_n == 0 {
            // A cap fired before this epoch's first update: nothing to log.
            let reason = cap_hit.unwrap_or(StopReason::EpochCap);
            st.stop_reason = Some(reason);
            st.stopped = Some(describe_stop(reason, c, job));
            write_json(&state_path, &st)?;
            break;
        }
        let dev_error = if job.dev.is_empty() {
            None
        } else {
            Some(token_error_rate(net, job.dev, job.device))
        };
        st.epochs_done += 1;
        st.train_seconds = base_seconds + started.elapsed().as_secs_f64();
        st.history.push(EpochLog {
            epoch: epoch + 1,
            train_loss: loss_sum / loss_n as f64,
            dev_error,
            lr,
            seconds: epoch_start.elapsed().as_secs_f64(),
            updates: st.step,
        });
        // Checkpoint selection: the lowest dev error; without a dev set, the latest epoch.
        let (best, significant) = match (dev_error, st.best_dev_error) {
            (Some(e), Some(b)) => (e < b, e < b - c.min_improvement),
            _ => (true, true),
        };
        if best {
            st.best_dev_error = dev_error;
            st.best_epoch = epoch + 1;
            save_vs(vs, &best_path)?;
        }
        // CTC's all-blank phase: the network first outputs nothing (dev
        // error exactly 100 %), for a number of updates that depends on the
        // encoder (a BiLSTM needs several hundred, a BiGRU far fewer). Until
        // it has left that phase, and before min_epochs, nothing counts
        // against the run: a run that never leaves it ends at a cap, never as
        // "converged".
        let still_blank = st.best_dev_error.is_some_and(|b| b >= ALL_BLANK_ERROR);
        if significant || st.epochs_done <= c.min_epochs || still_blank {
            st.epochs_since_best = 0;
            st.epochs_since_cut = 0;
        } else {
            st.epochs_since_best += 1;
            st.epochs_since_cut += 1;
            if c.schedule == LrSchedule::Plateau && st.epochs_since_cut >= c.plateau_patience.max(1)
            {
                st.lr_scale = (st.lr_scale * c.plateau_factor).max(c.final_lr_ratio);
                st.epochs_since_cut = 0;
            }
        }
        if let Some(e) = dev_error {
            last_msg = format!(
                ", dev err {:.1}% (best {:.1}% @{})",
                100.0 * e,
                100.0 * st.best_dev_error.unwrap_or(e),
                st.best_epoch
            );
        }
        let reason =
            if dev_error == Some(0.0) || (c.patience > 0 && st.epochs_since_best >= c.patience) {
                Some(StopReason::Converged)
            } else if cap_hit.is_some() {
                cap_hit
            } else if job.update_cap.is_some_and(|u| st.step >= u) {
                Some(StopReason::UpdateCap)
            } else if st.epochs_done >= c.max_epochs {
                Some(StopReason::EpochCap)
            } else {
                None
            };
        if let Some(r) = reason {
            st.stop_reason = Some(r);
            st.stopped = Some(describe_stop(r, c, job));
        }
        save_vs(vs, &last_path)?;
        opt.save(&opt_path)?;
        write_json(&state_path, &st)?;
    }
    bar.finish_and_clear();
    set_frozen(vs, &job.freeze, false);
    if best_path.exists() {
        vs.load(&best_path).map_err(torch_err(format!(
            "loading best checkpoint {}",
            best_path.display()
        )))?;
    }
    Ok(st)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_augment_masks_within_limits_and_is_seeded() {
        let c = SpecAugmentConfig {
            freq_masks: 1,
            freq_width: 10,
            time_masks: 1,
            time_width: 20,
            time_ratio: 0.2,
        };
        let m = Matrix::from_vec(50, 80, vec![1.0; 4000]);
        let run = |seed| {
            let mut x = m.clone();
            spec_augment(&mut x, &c, &mut ChaCha8Rng::seed_from_u64(seed));
            x
        };
        assert_eq!(run(3), run(3));
        let x = run(3);
        let zeros = x.data.iter().filter(|&&v| v == 0.0).count();
        assert!(zeros <= 10 * 50 + 10 * 80, "{zeros}");
    }

    #[test]
    fn schedule_warms_up_then_decays() {
        let c = TrainConfig {
            warmup_steps: 10,
            lr: 1e-3,
            final_lr_ratio: 0.1,
            schedule: LrSchedule::Cosine,
            ..Default::default()
        };
        assert!((learning_rate(&c, 0, 0.0, 1.0) - 1e-4).abs() < 1e-12);
        assert!((learning_rate(&c, 9, 0.0, 1.0) - 1e-3).abs() < 1e-12);
        assert!((learning_rate(&c, 50, 0.5, 1.0) - 0.55e-3).abs() < 1e-9);
        assert!((learning_rate(&c, 99, 1.0, 1.0) - 1e-4).abs() < 1e-12);
        // Plateau: the peak times the current scale, floored at final_lr_ratio.
        let p = TrainConfig {
            schedule: LrSchedule::Plateau,
            ..c
        };
        assert!(
            (learning_rate(&p, 0, 0.0, 0.5) - 1e-4).abs() < 1e-12,
            "warm-up first"
        );
        assert!((learning_rate(&p, 50, 0.9, 0.5) - 0.5e-3).abs() < 1e-12);
        assert!((learning_rate(&p, 50, 0.9, 0.01) - 1e-4).abs() < 1e-12);
    }
}
