//! Pre-training: the model an `[init] pretrain` pipeline starts from,
//! trained once per pipeline, corpus, hours and seed into the pre-training
//! corpus's cache, before any cell that starts from it trains (the kind's
//! `prepare`, which the sweep calls first, and its `train`). The cache keys,
//! folders and the loading of a finished model are `init`'s.
use std::path::PathBuf;
use std::time::Instant;

use super::config::InitConfig;
use super::init::{
    pretrain_config, pretrain_corpus_dir, pretrain_key, pretrained_dir, PretrainRecord, DONE_FILE,
    PRETRAIN_RECORD,
};
use super::train_ctc::train_ctc;
use crate::error::{Error, Result};
use crate::pipeline::{DeviceChoice, Recogniser};

/// The pre-trained model folder of `init`, training it first when no
/// finished one is cached. Safe to call from concurrent processes: the
/// first takes an exclusive lock and trains, the others wait and reuse.
pub fn ensure_pretrained(
    init: &InitConfig,
    threads: usize,
    device: DeviceChoice,
    progress: bool,
) -> Result<PathBuf> {
    let pipeline = init.pretrain.as_ref().expect("pretrain");
    let corpus_dir = pretrain_corpus_dir(init, progress)?;
    let dir = pretrained_dir(init, &corpus_dir)?;
    let model_dir = dir.join("model");
    if model_dir.join(DONE_FILE).exists() {
        return Ok(model_dir);
    }
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let lock_path = dir.join("lock");
    let lock = std::fs::File::create(&lock_path).map_err(|e| Error::io(&lock_path, e))?;
    lock.lock().map_err(|e| Error::io(&lock_path, e))?;
    if model_dir.join(DONE_FILE).exists() {
        return Ok(model_dir);
    }
    let corpus = crate::corpus::Corpus::load(&corpus_dir)?;
    let loader = crate::loader::Loader::new(&corpus);
    let run = crate::pipeline::RunSettings {
        threads,
        device,
        out_dir: model_dir.clone(),
        progress,
        shared_networks: None,
    };
    let (ctx, data) =
        crate::pipeline::TrainContext::for_subset(&loader, init.hours, init.seed, false, run)?;
    eprintln!(
        "crossover: pre-training {} on {} ({:.3} h, {} utterances, seed {}) into {}",
        pipeline.display(),
        corpus_dir.display(),
        data.hours,
        data.utterances,
        init.seed,
        model_dir.display()
    );
    let record_path = dir.join(PRETRAIN_RECORD);
    // Wall time of earlier, interrupted runs of this pre-training.
    let earlier = std::fs::read_to_string(dir.join("wall_seconds.txt"))
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    let t0 = Instant::now();
    let trained = pretrain_config(pipeline).and_then(|cfg| {
        // A pre-training that itself starts from one: that one first.
        if cfg.init.pretrain.is_some() {
            ensure_pretrained(&cfg.init, threads, device, progress)?;
        }
        train_ctc(&cfg, &ctx)
    });
    let wall = earlier + t0.elapsed().as_secs_f64();
    let _ = std::fs::write(dir.join("wall_seconds.txt"), format!("{wall:.1}\n"));
    let model = trained.map_err(|e| {
        Error::Invalid(format!(
            "pre-training {} on {}: {e}",
            pipeline.display(),
            corpus_dir.display()
        ))
    })?;
    model.save(&model_dir)?;
    let tr = model.summary().training.unwrap_or_default();
    let record = PretrainRecord {
        pipeline: pipeline.clone(),
        corpus: init.corpus.clone().unwrap_or_default(),
        corpus_dir: corpus_dir.clone(),
        target_hours: init.hours,
        hours: data.hours,
        utterances: data.utterances,
        seed: init.seed,
        key: pretrain_key(init)?,
        wall_seconds: wall,
        epochs: tr.epochs,
        updates: tr.updates,
        stop_reason: tr.stop_reason,
        best_dev_error: tr.best_dev_error,
    };
    std::fs::write(
        &record_path,
        serde_json::to_string_pretty(&record).expect("serialisable"),
    )
    .map_err(|e| Error::io(&record_path, e))?;
    // Checkpoints are only for resuming; the finished model is all that is reused.
    let _ = std::fs::remove_dir_all(model_dir.join("checkpoints"));
    std::fs::write(model_dir.join(DONE_FILE), b"").map_err(|e| Error::io(&model_dir, e))?;
    Ok(model_dir)
}
