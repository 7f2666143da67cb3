//! What a training run leaves in `checkpoints/` after each epoch (the
//! state, weights and optimizer moments it resumes from exactly) and why it
//! stopped.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::nn;

use super::device::torch_err;
use super::optimizer::AdamW;
use crate::error::{Error, Result};

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
    /// Process CPU seconds (every thread) spent in the training loop, summed
    /// over resumed runs like `train_seconds`.
    #[serde(default)]
    pub cpu_seconds: f64,
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
    /// `cpu_seconds` when this run picked the checkpoint up (not saved).
    #[serde(skip)]
    pub resumed_cpu_seconds: f64,
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
            cpu_seconds: self.cpu_seconds,
            resumed_cpu_seconds: self.resumed_cpu_seconds,
            reused_network_cpu_seconds: 0.0,
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

/// The files of a training's checkpoint folder: the state, the last
/// epoch's weights and AdamW moments (what a resumed run continues from),
/// and the best epoch's weights (what training keeps).
pub struct CheckpointFiles {
    dir: PathBuf,
    pub state: PathBuf,
    last: PathBuf,
    moments: PathBuf,
    pub best: PathBuf,
}

impl CheckpointFiles {
    pub fn in_dir(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        Ok(CheckpointFiles {
            dir: dir.to_path_buf(),
            state: dir.join("state.json"),
            last: dir.join("last.ot"),
            moments: dir.join("last.adamw.ot"),
            best: dir.join("best.ot"),
        })
    }

    /// The job's training state: a fresh one, or the saved one with the
    /// last weights and moments loaded into `vs` and `opt` (only a
    /// checkpoint of the same job, `fingerprint`, is resumed).
    pub fn resume(
        &self,
        fingerprint: &str,
        vs: &mut nn::VarStore,
        opt: &mut AdamW,
    ) -> Result<TrainState> {
        if !self.state.exists() {
            return Ok(TrainState::new(fingerprint.to_string()));
        }
        let path = &self.state;
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut st: TrainState =
            serde_json::from_str(&text).map_err(|e| Error::parse(path, e.to_string()))?;
        if st.fingerprint != fingerprint {
            return Err(Error::Invalid(format!(
                "{} holds checkpoints of a different training job (config, tokens or training set differ): remove the folder or train into another --out",
                self.dir.display()
            )));
        }
        vs.load(&self.last).map_err(torch_err(format!(
            "loading checkpoint {}",
            self.last.display()
        )))?;
        opt.load(&self.moments)?;
        st.resumed_seconds = st.train_seconds;
        st.resumed_cpu_seconds = st.cpu_seconds;
        Ok(st)
    }

    /// After an epoch: the last weights, the moments, then the state (last,
    /// so a state on disk always has its weights).
    pub fn save(&self, vs: &nn::VarStore, opt: &AdamW, st: &TrainState) -> Result<()> {
        save_vs(vs, &self.last)?;
        opt.save(&self.moments)?;
        write_json(&self.state, st)
    }

    /// Leave the best epoch's weights in `vs`, where an epoch was kept.
    pub fn load_best(&self, vs: &mut nn::VarStore) -> Result<()> {
        if self.best.exists() {
            vs.load(&self.best).map_err(torch_err(format!(
                "loading best checkpoint {}",
                self.best.display()
            )))?;
        }
        Ok(())
    }
}

pub(crate) fn write_json(path: &Path, v: &impl Serialize) -> Result<()> {
    crate::atomic_file::write(path, serde_json::to_string_pretty(v).expect("serialisable"))
}

pub(crate) fn save_vs(vs: &nn::VarStore, path: &Path) -> Result<()> {
    crate::atomic_file::write_via_path(path, |tmp| {
        vs.save(tmp)
            .map_err(torch_err(format!("saving {}", path.display())))
    })
}
