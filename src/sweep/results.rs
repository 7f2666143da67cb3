//! One row of `results.csv` per sweep cell (schema in the README, "results.csv").
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CellResult {
    /// Corpus folder name.
    pub corpus: String,
    /// Pipeline name (the config file's stem, e.g. `char-ctc`).
    pub pipeline: String,
    /// Hash of pipeline config + corpus manifest + hours + seed + tool version.
    pub config_hash: String,
    pub target_hours: f64,
    /// Hours of audio in the nested subset actually used.
    pub actual_hours: f64,
    pub seed: u64,
    /// Training utterances.
    pub utterances: usize,
    /// Test utterances scored.
    pub test_utterances: usize,
    /// Test WER (%), and its 95% bootstrap CI over test utterances.
    pub wer: f64,
    pub wer_lo: f64,
    pub wer_hi: f64,
    /// Test CER (%), characters of the normalised text.
    pub cer: f64,
    /// Test PER (%) where the recogniser outputs phones and the corpus has phone references.
    pub per: Option<f64>,
    /// Dev WER (%).
    pub dev_wer: f64,
    /// What training chose on dev (never test): the classical rung, LM
    /// weight and word penalty; phone-ctc's word-search LM weight.
    #[serde(default)]
    pub dev_choices: String,
    pub sub: u64,
    pub del: u64,
    pub ins: u64,
    pub ref_words: u64,
    pub train_seconds: f64,
    /// Networks: epochs, optimizer updates, the epoch kept (best dev),
    /// why training stopped (`converged`, `epoch-cap`, `update-cap`,
    /// `time-capped`), the last epoch's training loss and the best dev token
    /// error rate (%). Empty for GMM pipelines.
    #[serde(default)]
    pub epochs: Option<usize>,
    #[serde(default)]
    pub updates: Option<usize>,
    #[serde(default)]
    pub best_epoch: Option<usize>,
    #[serde(default)]
    pub stop_reason: String,
    #[serde(default)]
    pub final_train_loss: Option<f64>,
    #[serde(default)]
    pub best_dev_error: Option<f64>,
    /// What a network's weights were initialised from (transfer learning:
    /// the pre-training's pipeline, corpus, hours, seed and cost); empty
    /// when trained from scratch.
    #[serde(default)]
    pub init: String,
    /// The machine the cell ran on (Slurm's node name in an array task).
    #[serde(default)]
    pub node: String,
    /// Decoding wall time / test audio duration, with `threads` threads.
    pub decode_rtf: f64,
    pub threads: usize,
    /// Parameters (neural) or Gaussians (GMM).
    pub model_size: u64,
    pub size_unit: String,
    pub device: String,
    pub version: String,
    /// `ok` or `failed`.
    pub status: String,
    /// The error, for failed cells.
    pub error: String,
    /// What the cell cost, read from the OS (empty in sweeps made before
    /// these columns): process CPU seconds of training, every thread, over
    /// resumed runs and any reused network as `train_seconds` counts them;
    /// peak resident memory of the cell (training and decoding; this run
    /// only); bytes of cached features of its train, dev and test
    /// utterances in every feature cache it used; the saved model folder
    /// (its files, not the trainer's working subfolders such as
    /// checkpoints). MB = 10^6 bytes.
    #[serde(default)]
    pub train_cpu_seconds: Option<f64>,
    #[serde(default)]
    pub peak_rss_mb: Option<f64>,
    #[serde(default)]
    pub feature_cache_mb: Option<f64>,
    #[serde(default)]
    pub model_disk_mb: Option<f64>,
}

impl CellResult {
    pub fn ok(&self) -> bool {
        self.status == "ok"
    }
}

pub fn write_csv(path: &Path, rows: &[CellResult]) -> Result<()> {
    crate::atomic_file::write_with(path, |f| {
        let mut w = csv::Writer::from_writer(f);
        for r in rows {
            w.serialize(r)
                .map_err(|e| Error::parse(path, e.to_string()))?;
        }
        w.flush().map_err(|e| Error::io(path, e))
    })
}

pub fn read_csv(path: &Path) -> Result<Vec<CellResult>> {
    let mut r = csv::Reader::from_path(path).map_err(|e| Error::parse(path, e.to_string()))?;
    let mut out = Vec::new();
    for (i, row) in r.deserialize().enumerate() {
        out.push(row.map_err(|e| Error::parse(path, format!("row {}: {e}", i + 2)))?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn csv_round_trip_keeps_missing_per() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("results.csv");
        let a = CellResult {
            pipeline: "classical".into(),
            wer: 12.5,
            per: Some(20.0),
            status: "ok".into(),
            ..Default::default()
        };
        let b = CellResult {
            pipeline: "char-ctc".into(),
            wer: 40.0,
            per: None,
            status: "failed".into(),
            error: "boom, with comma".into(),
            ..Default::default()
        };
        write_csv(&p, &[a.clone(), b.clone()]).unwrap();
        assert_eq!(read_csv(&p).unwrap(), vec![a, b]);
    }
}
