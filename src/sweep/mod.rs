//! The sweep: every (pipeline, hours, seed) cell trains a recogniser on the
//! nested training subset, decodes dev and test, and is scored by the one
//! evaluator. Cells are independent folders under `OUT/cells/<id>/`; a cell
//! whose `result.json` says `ok` with the same config hash is never redone,
//! so a killed sweep resumes where it stopped. After every cell `results.csv`,
//! the plots and `report.md` are rewritten, so nothing finished is lost.
pub mod cell_files;
pub mod cost;
pub mod crossover;
pub mod local;
pub mod plots;
pub mod prepare;
pub mod projection_check;
pub mod report;
pub mod results;
pub mod slurm;
pub mod speaker_groups;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::corpus::{Corpus, Split, Utterance};
use crate::error::{Error, Result};
use crate::loader::Loader;
use crate::overlay::Overlay;
use crate::pipeline::{DeviceChoice, RunSettings, TrainContext, Transcript};
use crate::score::{self, AlignMode, Level};
use results::CellResult;

/// What to sweep. Stored as `OUT/sweep.json` so `crossover report` and
/// `--cell`/`--collect` runs see the same grid.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SweepSpec {
    pub corpus: PathBuf,
    pub pipelines: Vec<PathBuf>,
    pub hours: Vec<f64>,
    pub seeds: Vec<u64>,
    pub threads: usize,
    pub device: DeviceChoice,
    /// Bootstrap replicates for CIs.
    pub bootstrap: usize,
    /// The command line that reproduces this sweep.
    pub command: String,
    /// Free text describing the corpus (e.g. the synthetic difficulty), shown in the report.
    #[serde(default)]
    pub corpus_note: String,
    /// `--set KEY=VALUE` overrides applied to every pipeline (part of each cell's cache key).
    #[serde(default)]
    pub set: Vec<String>,
    /// `--fit-upto H`: the report checks power-law fits on the sizes at or
    /// below H against the larger sizes measured ([`projection_check`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit_upto: Option<f64>,
    /// The cells' keys, made on first use (not saved).
    #[serde(skip)]
    pub keys: KeysOnce,
}

/// [`CellKeys`] made once per [`SweepSpec`] value, on first use.
#[derive(Debug, Clone, Default)]
pub struct KeysOnce(std::sync::OnceLock<std::sync::Arc<CellKeys>>);

/// A cell's id and folder name: `PIPELINE_hHOURS_sSEED`.
pub fn cell_id(pipeline: &str, hours: f64, seed: u64) -> String {
    format!("{pipeline}_h{hours}_s{seed}")
}

/// One (pipeline, hours, seed) job.
#[derive(Debug, Clone)]
pub struct Cell {
    pub index: usize,
    pub pipeline: PathBuf,
    pub pipeline_name: String,
    pub hours: f64,
    pub seed: u64,
}

impl Cell {
    pub fn id(&self) -> String {
        cell_id(&self.pipeline_name, self.hours, self.seed)
    }
}

pub fn pipeline_name(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

impl SweepSpec {
    /// Cells in run order: small subsets first so early results come early.
    pub fn cells(&self) -> Vec<Cell> {
        let mut hours = self.hours.clone();
        hours.sort_by(|a, b| a.total_cmp(b));
        let mut out = Vec::new();
        for &h in &hours {
            for &s in &self.seeds {
                for p in &self.pipelines {
                    out.push(Cell {
                        index: out.len(),
                        pipeline: p.clone(),
                        pipeline_name: pipeline_name(p),
                        hours: h,
                        seed: s,
                    });
                }
            }
        }
        out
    }

    /// The `--set` overrides as an overlay.
    pub fn overlay(&self) -> Result<Overlay> {
        Overlay::parse(&self.set)
    }

    pub fn validate(&self) -> Result<()> {
        self.overlay()?;
        if self.pipelines.is_empty() || self.hours.is_empty() || self.seeds.is_empty() {
            return Err(Error::Config(
                "a sweep needs at least one pipeline, one hours value and one seed".into(),
            ));
        }
        if let Some(h) = self.hours.iter().find(|h| !(h.is_finite() && **h > 0.0)) {
            return Err(Error::Config(format!("hours must be positive, got {h}")));
        }
        let mut names = std::collections::HashSet::new();
        for p in &self.pipelines {
            crate::pipeline::pipeline_kind(p)?;
            if !names.insert(pipeline_name(p)) {
                return Err(Error::Config(format!(
                    "two pipelines share the name {}",
                    pipeline_name(p)
                )));
            }
        }
        Ok(())
    }

    pub fn save(&self, out: &Path) -> Result<()> {
        std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
        let p = out.join("sweep.json");
        let s = serde_json::to_string_pretty(self).map_err(|e| Error::Invalid(e.to_string()))?;
        std::fs::write(&p, s).map_err(|e| Error::io(&p, e))
    }

    pub fn load(out: &Path) -> Result<Self> {
        let p = out.join("sweep.json");
        let s = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
        serde_json::from_str(&s).map_err(|e| Error::parse(&p, e.to_string()))
    }
}

fn file_hash(p: &Path) -> Result<String> {
    let bytes = std::fs::read(p).map_err(|e| Error::io(p, e))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// The cache key of a cell: the pipeline's effective config (defaults
/// included), manifest, hours, seed, tool version.
pub fn cell_hash(spec: &SweepSpec, cell: &Cell) -> Result<String> {
    spec.cell_keys()?.of(cell)
}

impl SweepSpec {
    /// The cells' keys (see [`CellKeys`]), made once for this spec.
    pub fn cell_keys(&self) -> Result<std::sync::Arc<CellKeys>> {
        if let Some(k) = self.keys.0.get() {
            return Ok(k.clone());
        }
        let k = std::sync::Arc::new(CellKeys::new(self)?);
        Ok(self.keys.0.get_or_init(|| k).clone())
    }
}

/// What every cell key of a sweep is made of, read and hashed once: each
/// pipeline's effective config and the corpus's data files. A sweep (and
/// each re-rendering of its report) then keys all its cells without
/// re-reading pipelines or re-hashing the manifest cell by cell.
#[derive(Debug)]
pub struct CellKeys {
    pipelines: std::collections::HashMap<PathBuf, String>,
    corpus: Vec<String>,
}

impl CellKeys {
    pub fn new(spec: &SweepSpec) -> Result<Self> {
        let overlay = spec.overlay()?;
        let mut pipelines = std::collections::HashMap::new();
        for p in &spec.pipelines {
            let key = match crate::registry::effective_config(p, &overlay) {
                Ok(json) => json,
                // A config that does not parse is keyed by its bytes; training
                // the cell then fails with the parse error, recorded like any
                // failure. (An unreadable file fails the cells that use it.)
                Err(_) => match file_hash(p) {
                    Ok(h) => h,
                    Err(_) => continue,
                },
            };
            pipelines.insert(p.clone(), key);
        }
        let mut corpus = vec![file_hash(&spec.corpus.join(crate::corpus::MANIFEST_FILE))?];
        // A lexicon the corpus ships is data the cells read (corpora without
        // one keep their keys).
        let lexicon = spec.corpus.join(crate::corpus::CORPUS_LEXICON_FILE);
        if lexicon.is_file() {
            corpus.push(file_hash(&lexicon)?);
        }
        Ok(CellKeys { pipelines, corpus })
    }

    /// The key of `cell`, a cell of the sweep these keys were made for.
    pub fn of(&self, cell: &Cell) -> Result<String> {
        let mut h = Sha256::new();
        match self.pipelines.get(&cell.pipeline) {
            Some(k) => h.update(k),
            None => h.update(file_hash(&cell.pipeline)?),
        }
        for c in &self.corpus {
            h.update(c);
        }
        h.update(format!(
            "{}|{}|{}",
            cell.hours,
            cell.seed,
            env!("CARGO_PKG_VERSION")
        ));
        Ok(hex::encode(&h.finalize()[..8]))
    }
}

/// The sweep's store of trained networks (`OUT/networks/`), shared by
/// cells whose networks are the same (a decoding variant and its base).
pub const SHARED_NETWORKS_DIR: &str = "networks";

/// Written into a cell folder when its training starts: the config hash of
/// the job whose model (and checkpoints) the folder holds.
pub const CELL_HASH_FILE: &str = "config_hash.txt";

pub fn cell_dir(out: &Path, cell: &Cell) -> PathBuf {
    out.join("cells").join(cell.id())
}

fn read_result(dir: &Path) -> Option<CellResult> {
    let s = std::fs::read_to_string(dir.join("result.json")).ok()?;
    serde_json::from_str(&s).ok()
}

use crate::atomic_file::write as write_atomic;

/// `word` as the shell reads it back (quoted only where needed; shlex's
/// rules), for the command lines written to sweep.json and Slurm scripts.
pub fn shell_quote(word: &str) -> String {
    // Only a NUL byte cannot be quoted, and no command-line argument holds one.
    shlex::try_quote(word)
        .map(|q| q.into_owned())
        .unwrap_or_else(|_| word.replace('\0', ""))
}

fn write_text_file(path: &Path, rows: &[(String, String)]) -> Result<()> {
    let mut s = String::new();
    for (id, text) in rows {
        s.push_str(id);
        if !text.is_empty() {
            s.push(' ');
            s.push_str(text);
        }
        s.push('\n');
    }
    write_atomic(path, &s)
}

/// Progress callbacks so the CLI can show one view over the whole sweep.
pub trait SweepProgress {
    fn cell_started(&self, cell: &Cell, total: usize);
    fn stage(&self, msg: &str);
    fn cell_finished(&self, cell: &Cell, result: &CellResult, cached: bool);
}

/// A finished cell, cached or not, is returned as is; a failing cell returns
/// a `failed` result carrying the error instead of an `Err`.
pub fn run_cell(
    spec: &SweepSpec,
    loader: &Loader,
    out: &Path,
    cell: &Cell,
    progress: &dyn SweepProgress,
) -> Result<(CellResult, bool)> {
    let corpus = loader.corpus();
    let dir = cell_dir(out, cell);
    let hash = cell_hash(spec, cell)?;
    if let Some(r) = read_result(&dir) {
        if r.ok() && r.config_hash == hash {
            return Ok((r, true));
        }
    }
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let started = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        train_and_score(spec, loader, &dir, cell, &hash, progress)
    }));
    let result = match started {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => failed(spec, corpus, cell, &hash, format!("{e}")),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            failed(spec, corpus, cell, &hash, format!("panicked: {msg}"))
        }
    };
    let json = serde_json::to_string_pretty(&result).map_err(|e| Error::Invalid(e.to_string()))?;
    write_atomic(&dir.join("result.json"), &json)?;
    if !result.ok() {
        write_atomic(&dir.join("error.txt"), &format!("{}\n", result.error))?;
    }
    Ok((result, false))
}

/// The machine a cell ran on: Slurm's node name inside an array task, else the host name.
pub fn node_name() -> String {
    std::env::var("SLURMD_NODENAME")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_default()
}

fn corpus_name(corpus: &Corpus) -> String {
    corpus
        .root
        .canonicalize()
        .unwrap_or(corpus.root.clone())
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn failed(spec: &SweepSpec, corpus: &Corpus, cell: &Cell, hash: &str, error: String) -> CellResult {
    CellResult {
        corpus: corpus_name(corpus),
        pipeline: cell.pipeline_name.clone(),
        config_hash: hash.to_string(),
        target_hours: cell.hours,
        seed: cell.seed,
        threads: spec.threads,
        version: env!("CARGO_PKG_VERSION").into(),
        status: "failed".into(),
        error: format!("cell {}: {error}", cell.id()),
        ..Default::default()
    }
}

/// Score transcripts of `utts` at word and character level.
fn score_split(
    utts: &[&Utterance],
    hyps: &[Transcript],
) -> Result<(score::ScoreReport, score::ScoreReport)> {
    let refs: BTreeMap<String, String> = utts
        .iter()
        .map(|u| (u.id.clone(), u.norm_text.clone()))
        .collect();
    let hyp: BTreeMap<String, String> = hyps
        .iter()
        .map(|t| (t.id.clone(), crate::text::normalise(&t.words)))
        .collect();
    let w = score::score(&refs, &hyp, Level::Word, AlignMode::Levenshtein)?;
    let c = score::score(&refs, &hyp, Level::Char, AlignMode::Levenshtein)?;
    Ok((w, c))
}

/// espeak-ng phonemes of the manifest (words separated by two spaces) in the
/// classical phone set, or None when a symbol has no mapping.
fn reference_phones(espeak: &str) -> Option<String> {
    let mut out = Vec::new();
    for word in espeak.split("  ").filter(|w| !w.trim().is_empty()) {
        out.extend(crate::lang::phones::map_espeak_word(word).ok()?);
    }
    Some(out.join(" "))
}

/// PER (%) where the recogniser outputs phones and the corpus has espeak-ng
/// phoneme references (synthetic corpora); both sides in the classical phone
/// set, silence removed.
fn phone_error_rate(utts: &[&Utterance], hyps: &[Transcript]) -> Result<Option<f64>> {
    if hyps.iter().any(|h| h.phones.is_none()) || utts.iter().any(|u| u.phonemes.trim().is_empty())
    {
        return Ok(None);
    }
    let mut refs = BTreeMap::new();
    for u in utts {
        match reference_phones(&u.phonemes) {
            Some(p) => refs.insert(u.id.clone(), p),
            None => return Ok(None),
        };
    }
    let sil = crate::lang::phones::SILENCE;
    let hyp: BTreeMap<String, String> = hyps
        .iter()
        .map(|t| {
            (
                t.id.clone(),
                t.phones
                    .as_deref()
                    .unwrap_or("")
                    .split_whitespace()
                    .filter(|p| *p != sil)
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        })
        .collect();
    let r = score::score(&refs, &hyp, Level::Phone, AlignMode::Levenshtein)?;
    Ok(Some(100.0 * r.rate()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn espeak_reference_maps_to_the_classical_phone_set() {
        let p = super::reference_phones("m 'e@ r i  n 'u:  D a t").unwrap();
        assert!(
            !p.is_empty()
                && p.split(' ')
                    .all(|x| x.chars().all(|c| c.is_ascii_uppercase())),
            "{p}"
        );
        assert!(p.starts_with("M ") && p.contains(" N UW "), "{p}");
        assert_eq!(super::reference_phones("q@@@"), None);
    }
}

fn train_and_score(
    spec: &SweepSpec,
    loader: &Loader,
    dir: &Path,
    cell: &Cell,
    hash: &str,
    progress: &dyn SweepProgress,
) -> Result<CellResult> {
    let corpus = loader.corpus();
    let dev = corpus.split(Split::Dev);
    let test = corpus.split(Split::Test);
    if test.is_empty() {
        return Err(Error::Invalid(format!(
            "corpus {} has no test utterances",
            corpus.root.display()
        )));
    }
    let model_dir = dir.join("model");
    // A model folder left by another configuration (an edited pipeline, a
    // changed default, an older crossover) is cleared, so its checkpoints are
    // never mistaken for this job's; one left by this same job (an
    // interrupted run) is kept and training resumes from it.
    let marker = dir.join(CELL_HASH_FILE);
    let started_as = std::fs::read_to_string(&marker).ok();
    if model_dir.exists() && started_as.as_deref().map(str::trim) != Some(hash) {
        std::fs::remove_dir_all(&model_dir).map_err(|e| Error::io(&model_dir, e))?;
    }
    std::fs::create_dir_all(&model_dir).map_err(|e| Error::io(&model_dir, e))?;
    std::fs::write(&marker, hash).map_err(|e| Error::io(&marker, e))?;
    let run = RunSettings {
        threads: spec.threads,
        device: spec.device,
        out_dir: model_dir.clone(),
        progress: false,
        // OUT/cells/<id> -> OUT/networks: one store per sweep.
        shared_networks: dir
            .parent()
            .and_then(Path::parent)
            .map(|out| out.join(SHARED_NETWORKS_DIR)),
    };
    // The same context `crossover train --hours H --seed S` builds.
    let (ctx, sub) = TrainContext::for_subset(loader, Some(cell.hours), cell.seed, false, run)?;
    progress.stage(&format!(
        "training on {:.3} h ({} utterances)",
        sub.hours, sub.utterances
    ));
    let caches_before = loader.use_counts();
    crate::process_usage::reset_peak_rss();
    let cpu0 = crate::process_usage::cpu_seconds();
    let t0 = Instant::now();
    let overlay = spec.overlay()?;
    let model = crate::registry::train(&cell.pipeline, &overlay, &ctx)?;
    let cpu_this_run = crate::process_usage::cpu_seconds() - cpu0;
    // This run's clock sees only itself: a network resumed from its
    // checkpoints adds its earlier, interrupted runs, and a cell that reused
    // another cell's network adds that network's training (train_seconds is
    // what it costs to make this system); CPU time is counted the same way.
    let earlier = model.summary().training.unwrap_or_default();
    let train_seconds =
        earlier.resumed_seconds + t0.elapsed().as_secs_f64() + earlier.reused_network_seconds;
    let train_cpu_seconds =
        earlier.resumed_cpu_seconds + cpu_this_run + earlier.reused_network_cpu_seconds;
    model.save(&model_dir)?;

    progress.stage("decoding test");
    let t1 = Instant::now();
    let mut hyp_test = model.transcribe(loader, &test, spec.threads)?;
    let decode_seconds = t1.elapsed().as_secs_f64();
    if hyp_test.iter().any(|t| t.phones.is_none()) {
        progress.stage("phone recognition of test (PER)");
        if let Some(phones) = model.transcribe_phones(loader, &test, spec.threads)? {
            for (t, p) in hyp_test.iter_mut().zip(phones) {
                t.phones = Some(p);
            }
        }
    }
    let test_audio: f64 = test.iter().map(|u| u.duration).sum();
    progress.stage("decoding dev");
    let hyp_dev = if dev.is_empty() {
        Vec::new()
    } else {
        model.transcribe(loader, &dev, spec.threads)?
    };

    write_text_file(
        &dir.join("hyp_test.txt"),
        &hyp_test
            .iter()
            .map(|t| (t.id.clone(), t.words.clone()))
            .collect::<Vec<_>>(),
    )?;
    write_text_file(
        &dir.join("hyp_dev.txt"),
        &hyp_dev
            .iter()
            .map(|t| (t.id.clone(), t.words.clone()))
            .collect::<Vec<_>>(),
    )?;
    if hyp_test.iter().all(|t| t.phones.is_some()) {
        write_text_file(
            &dir.join("phones_test.txt"),
            &hyp_test
                .iter()
                .map(|t| (t.id.clone(), t.phones.clone().unwrap_or_default()))
                .collect::<Vec<_>>(),
        )?;
    }

    let peak_rss = crate::process_usage::peak_rss_bytes();
    let cell_utts: Vec<&Utterance> = ctx.train.iter().chain(&dev).chain(&test).copied().collect();
    let cache_bytes = loader.cache_bytes_used_since(&caches_before, &cell_utts)?;
    let model_bytes = crate::process_usage::top_level_file_bytes(&model_dir);

    progress.stage("scoring");
    let (w, c) = score_split(&test, &hyp_test)?;
    let per_utt = w.per_utt_errors();
    let rows: Vec<cell_files::UttErrors> = w
        .utterances
        .iter()
        .zip(&per_utt)
        .map(|(u, &(errors, ref_words))| cell_files::UttErrors {
            id: u.id.clone(),
            errors: errors as u32,
            ref_words: ref_words as u32,
        })
        .collect();
    cell_files::write_per_utt(dir, &rows)?;
    let (lo, hi) = score::bootstrap_ci(&per_utt, spec.bootstrap, cell.seed, 0.95);
    let dev_wer = if dev.is_empty() {
        f64::NAN
    } else {
        100.0 * score_split(&dev, &hyp_dev)?.0.rate()
    };
    let per = phone_error_rate(&test, &hyp_test).unwrap_or(None);
    let summary = model.summary();
    if let Some(tr) = &summary.training {
        plots::training_curve(dir, &cell.id(), tr)?;
    }
    let tr = summary.training.clone().unwrap_or_default();
    let neural = summary.training.is_some();
    let t = &w.totals;
    Ok(CellResult {
        corpus: corpus_name(corpus),
        pipeline: cell.pipeline_name.clone(),
        config_hash: hash.to_string(),
        target_hours: cell.hours,
        actual_hours: sub.hours,
        seed: cell.seed,
        utterances: sub.utterances,
        test_utterances: test.len(),
        wer: 100.0 * w.rate(),
        wer_lo: 100.0 * lo,
        wer_hi: 100.0 * hi,
        cer: 100.0 * c.rate(),
        per,
        dev_wer,
        dev_choices: summary.choices.clone(),
        sub: t.sub,
        del: t.del,
        ins: t.ins,
        ref_words: t.ref_len,
        train_seconds,
        epochs: neural.then_some(tr.epochs),
        updates: neural.then_some(tr.updates),
        best_epoch: neural.then_some(tr.best_epoch),
        stop_reason: tr.stop_reason.clone(),
        final_train_loss: tr.final_train_loss,
        best_dev_error: tr.best_dev_error.map(|e| 100.0 * e),
        init: summary.init.clone(),
        node: node_name(),
        decode_rtf: decode_seconds / test_audio.max(1e-9),
        threads: spec.threads,
        model_size: summary.size,
        size_unit: summary.size_unit,
        device: summary.device,
        version: env!("CARGO_PKG_VERSION").into(),
        status: "ok".into(),
        error: String::new(),
        train_cpu_seconds: Some(train_cpu_seconds),
        peak_rss_mb: peak_rss.map(|b| b as f64 / 1e6),
        feature_cache_mb: Some(cache_bytes as f64 / 1e6),
        model_disk_mb: Some(model_bytes as f64 / 1e6),
    })
}

/// Read every cell's result (finished or failed) in plan order; missing cells are skipped.
/// A cell whose result was made by another configuration (an edited
/// pipeline, a changed default) is stale and left out, as if not run.
pub fn collect_results(spec: &SweepSpec, out: &Path) -> Vec<CellResult> {
    let Ok(keys) = spec.cell_keys() else {
        return Vec::new();
    };
    spec.cells()
        .iter()
        .filter_map(|c| {
            let r = read_result(&cell_dir(out, c))?;
            let current = keys.of(c).ok()?;
            (r.config_hash == current).then_some(r)
        })
        .collect()
}

/// Per-utterance test errors of a finished cell, for the crossover bootstrap.
pub fn read_per_utt(out: &Path, r: &CellResult) -> Option<crossover::UttErrors> {
    let rows = cell_files::read_per_utt(&cell_files::dir_of(out, r)).ok()?;
    Some(rows.into_iter().map(|u| (u.errors, u.ref_words)).collect())
}
