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
use std::path::PathBuf;
use std::time::Instant;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{nn, Device};

use super::config::{LrSchedule, TrainConfig};
use super::model::CtcNet;
use super::tokens::TokenSet;
use crate::error::{Error, Result};

pub use super::batch::{ctc_loss, make_batch, mtl_ctc_loss, spec_augment, Batch};
use super::checkpoint::{save_vs, write_json, CheckpointFiles};
pub use super::checkpoint::{EpochLog, StopReason, TrainState};
pub use super::evaluate::{head_error_rate, posteriors, posteriors_heads, token_error_rate};
pub use super::optimizer::{learning_rate, AdamW};
pub use super::train_set::{Example, TrainSet};

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
    let files = CheckpointFiles::in_dir(&job.checkpoint_dir)?;
    let mut opt = AdamW::new(vs, c);
    let mut st = files.resume(&job.fingerprint, vs, &mut opt)?;
    let plan = EpochPlan::new(job);
    let bar = progress_bar(job.progress, plan.planned_steps, st.step);
    let clock = Clock::start(&st);
    let stop_at = if c.stop_after_epochs > 0 {
        c.stop_after_epochs.min(c.max_epochs)
    } else {
        c.max_epochs
    };
    reopen_if_cap_raised(&mut st, job);
    let mut last_msg = String::new();
    while st.epochs_done < stop_at && st.stop_reason.is_none() {
        let epoch = st.epochs_done;
        let epoch_start = Instant::now();
        let fitted = fit_epoch(
            job, vs, net, &mut opt, &mut st, &plan, &clock, &bar, &last_msg,
        )?;
        if fitted.updates == 0 {
            // A cap fired before this epoch's first update: nothing to log.
            stop(&mut st, fitted.cap_hit.unwrap_or(StopReason::EpochCap), job);
            write_json(&files.state, &st)?;
            break;
        }
        let dev_error = (!job.dev.is_empty()).then(|| token_error_rate(net, job.dev, job.device));
        st.epochs_done += 1;
        clock.stamp(&mut st);
        st.history.push(EpochLog {
            epoch: epoch + 1,
            train_loss: fitted.mean_loss,
            dev_error,
            lr: fitted.lr,
            seconds: epoch_start.elapsed().as_secs_f64(),
            updates: st.step,
        });
        if track_dev_error(&mut st, dev_error, c) {
            save_vs(vs, &files.best)?;
        }
        if let Some(e) = dev_error {
            last_msg = format!(
                ", dev err {:.1}% (best {:.1}% @{})",
                100.0 * e,
                100.0 * st.best_dev_error.unwrap_or(e),
                st.best_epoch
            );
        }
        if let Some(r) = stop_reason(&st, dev_error, fitted.cap_hit, job) {
            stop(&mut st, r, job);
        }
        files.save(vs, &opt, &st)?;
    }
    bar.finish_and_clear();
    set_frozen(vs, &job.freeze, false);
    files.load_best(vs)?;
    Ok(st)
}

/// The batches of each epoch and how many updates the run plans.
struct EpochPlan<'j> {
    job: &'j TrainJob<'j>,
    max_frames: usize,
    /// Whole shuffled passes per epoch (`min_updates_per_epoch`).
    passes: usize,
    /// The planned length: what the cosine schedule decays over and the bar shows.
    planned_steps: usize,
}

impl<'j> EpochPlan<'j> {
    fn new(job: &'j TrainJob<'j>) -> Self {
        let c = job.cfg;
        let mut plan = EpochPlan {
            job,
            max_frames: (c.batch_seconds * 100.0) as usize,
            passes: 1,
            planned_steps: 1,
        };
        let batches = plan.epoch(0).1.len();
        plan.passes = c.min_updates_per_epoch.div_ceil(batches.max(1)).max(1);
        plan.planned_steps = (c.max_epochs * plan.passes * batches)
            .min(job.update_cap.unwrap_or(usize::MAX))
            .max(1);
        plan
    }

    /// An epoch's items and their length-bucketed batches (the same every
    /// epoch unless perturbation factors are drawn per epoch).
    fn epoch(&self, epoch: usize) -> (Vec<(usize, usize)>, Vec<Vec<usize>>) {
        let items = self.job.train.epoch_items(self.job.seed, epoch);
        let lens = self.job.train.item_frames(&items);
        let batches = crate::loader::length_buckets_sorted(&lens, self.max_frames, usize::MAX);
        (items, batches)
    }
}

fn progress_bar(show: bool, planned_steps: usize, step: usize) -> indicatif::ProgressBar {
    let bar = if show {
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
    bar.set_position(step as u64);
    bar
}

/// This run's clock, on top of what earlier (interrupted) runs spent.
struct Clock {
    started: Instant,
    base_seconds: f64,
    base_cpu: f64,
    cpu_started: f64,
}

impl Clock {
    fn start(st: &TrainState) -> Self {
        Clock {
            started: Instant::now(),
            base_seconds: st.train_seconds,
            base_cpu: st.cpu_seconds,
            cpu_started: crate::process_usage::cpu_seconds(),
        }
    }

    /// Training seconds so far, over every run.
    fn seconds(&self) -> f64 {
        self.base_seconds + self.started.elapsed().as_secs_f64()
    }

    fn stamp(&self, st: &mut TrainState) {
        st.train_seconds = self.seconds();
        st.cpu_seconds = self.base_cpu + (crate::process_usage::cpu_seconds() - self.cpu_started);
    }
}

/// A cap raised since the run stopped lets it go on; convergence is final.
fn reopen_if_cap_raised(st: &mut TrainState, job: &TrainJob) {
    let raised = match st.stop_reason {
        Some(StopReason::TimeCapped) => job.time_cap.is_none_or(|t| t > st.train_seconds),
        Some(StopReason::UpdateCap) => job.update_cap.is_none_or(|u| u > st.step),
        Some(StopReason::EpochCap) => job.cfg.max_epochs > st.epochs_done,
        _ => false,
    };
    if raised {
        st.stop_reason = None;
        st.stopped = None;
    }
}

/// What an epoch of updates did.
struct EpochFit {
    mean_loss: f64,
    updates: usize,
    /// The learning rate of its last update.
    lr: f64,
    /// The cap that ended it early, if one did.
    cap_hit: Option<StopReason>,
}

/// One epoch of updates: at least `min_updates_per_epoch`, as whole
/// shuffled passes over the batches, until a cap fires.
#[allow(clippy::too_many_arguments)]
fn fit_epoch(
    job: &TrainJob,
    vs: &nn::VarStore,
    net: &CtcNet,
    opt: &mut AdamW,
    st: &mut TrainState,
    plan: &EpochPlan,
    clock: &Clock,
    bar: &indicatif::ProgressBar,
    last_msg: &str,
) -> Result<EpochFit> {
    let c = job.cfg;
    let epoch = st.epochs_done;
    tch::manual_seed(
        (job.seed as i64)
            .wrapping_mul(1_000_003)
            .wrapping_add(epoch as i64 + 1),
    );
    let mut rng = ChaCha8Rng::seed_from_u64(
        job.seed ^ (0x9E37_79B9_7F4A_7C15u64.wrapping_mul(epoch as u64 + 1)),
    );
    // An epoch is at least `min_updates_per_epoch` updates: whole shuffled
    // passes over the data, as many as that takes, so a tiny subset is not
    // judged (and stopped) after a handful of updates.
    let (items, batches) = plan.epoch(epoch);
    let mut order: Vec<usize> = Vec::with_capacity(plan.passes * batches.len());
    for _ in 0..plan.passes {
        let mut pass: Vec<usize> = (0..batches.len()).collect();
        pass.shuffle(&mut rng);
        order.extend(pass);
    }
    let mut fit = EpochFit {
        mean_loss: 0.0,
        updates: 0,
        lr: 0.0,
        cap_hit: None,
    };
    let mut loss_sum = 0.0;
    for &bi in &order {
        if job.update_cap.is_some_and(|u| st.step >= u) {
            fit.cap_hit = Some(StopReason::UpdateCap);
            break;
        }
        if job.time_cap.is_some_and(|t| clock.seconds() >= t) {
            fit.cap_hit = Some(StopReason::TimeCapped);
            break;
        }
        set_frozen(vs, &job.freeze, st.step < job.freeze_updates);
        let batch_items: Vec<(usize, usize)> = batches[bi].iter().map(|&k| items[k]).collect();
        let loaded = job.train.examples(&batch_items)?;
        let exs: Vec<&Example> = loaded.iter().collect();
        let batch = make_batch(&exs, Some((&c.spec_augment, &mut rng)), job.device);
        let progress = st.step.saturating_sub(c.warmup_steps) as f64
            / (plan.planned_steps.saturating_sub(c.warmup_steps)).max(1) as f64;
        fit.lr = learning_rate(c, st.step, progress, st.lr_scale);
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
        opt.step(fit.lr);
        st.step += 1;
        st.audio_seconds_trained += batch.frames as f64 / 100.0;
        loss_sum += lv;
        fit.updates += 1;
        bar.set_position(st.step as u64);
        bar.set_message(format!(
            "epoch {} loss {:.3}{last_msg}",
            epoch + 1,
            loss_sum / fit.updates as f64,
        ));
    }
    fit.mean_loss = loss_sum / fit.updates.max(1) as f64;
    Ok(fit)
}

/// Checkpoint selection and patience after an epoch: whether this epoch's
/// weights are the best so far (the lowest dev error; without a dev set,
/// the latest epoch), and the patience and plateau counters.
fn track_dev_error(st: &mut TrainState, dev_error: Option<f64>, c: &TrainConfig) -> bool {
    let (best, significant) = match (dev_error, st.best_dev_error) {
        (Some(e), Some(b)) => (e < b, e < b - c.min_improvement),
        _ => (true, true),
    };
    if best {
        st.best_dev_error = dev_error;
        st.best_epoch = st.epochs_done;
    }
    // CTC's all-blank phase: the network first outputs nothing (dev error
    // exactly 100 %), for a number of updates that depends on the encoder (a
    // BiLSTM needs several hundred, a BiGRU far fewer). Until it has left
    // that phase, and before min_epochs, nothing counts against the run: a
    // run that never leaves it ends at a cap, never as "converged".
    let still_blank = st.best_dev_error.is_some_and(|b| b >= ALL_BLANK_ERROR);
    if significant || st.epochs_done <= c.min_epochs || still_blank {
        st.epochs_since_best = 0;
        st.epochs_since_cut = 0;
    } else {
        st.epochs_since_best += 1;
        st.epochs_since_cut += 1;
        if c.schedule == LrSchedule::Plateau && st.epochs_since_cut >= c.plateau_patience.max(1) {
            st.lr_scale = (st.lr_scale * c.plateau_factor).max(c.final_lr_ratio);
            st.epochs_since_cut = 0;
        }
    }
    best
}

/// Why training ends after this epoch, if it does: convergence (patience
/// on dev error, or a perfect dev set) before any cap.
fn stop_reason(
    st: &TrainState,
    dev_error: Option<f64>,
    cap_hit: Option<StopReason>,
    job: &TrainJob,
) -> Option<StopReason> {
    let c = job.cfg;
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
    }
}

fn stop(st: &mut TrainState, reason: StopReason, job: &TrainJob) {
    st.stop_reason = Some(reason);
    st.stopped = Some(describe_stop(reason, job.cfg, job));
}

#[cfg(test)]
mod tests {
    use super::super::config::SpecAugmentConfig;
    use super::*;
    use crate::matrix::Matrix;

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
