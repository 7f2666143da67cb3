//! The one data loader every recogniser trains and decodes through: features
//! computed once per corpus and feature config, cached on disk, and
//! length-bucketed batches for neural training.
//!
//! Cache layout: `DIR/.cache/features/<FeatureConfig::stable_hash()>/`, with
//! `config.json` (the config, for people) and one file per utterance,
//! `ab/abcdef....feat`, named by a hash of (config hash, SHA-256 of the audio
//! file's bytes): an edited audio file or a changed config gives a new key, a
//! renamed or moved one keeps its features. Hashing the file is cheap next to
//! extracting features; the content hash is memoised in memory per
//! (path, size, mtime) so each file is hashed once per process.
//!
//! File format (all little-endian): magic `XOFEAT1\0`, `u32` rows, `u32` cols,
//! 16 bytes of the key, `u64` FNV-1a checksum of the payload, then rows x cols
//! `f32` row-major. Anything that fails these checks on read (wrong size, magic,
//! key or checksum) is recomputed and rewritten, never trusted, never a crash.
//! Files are written to a temporary name and renamed into place, so parallel
//! writers and interrupted runs cannot leave half a file under a real name.
//!
//! What is cached is the output of [`crate::features::compute_samples`] for
//! the config *without normalisation* ([`FeatureConfig::unnormalised`]):
//! static features and deltas if configured. Configs that differ only in
//! CMVN (`cmvn`, `norm_vars`) share one cache folder, and [`FeatureCache::get`]
//! applies the normalisation on read: per utterance, or per speaker (Kaldi
//! `apply-cmvn --utt2spk`, with `--norm-vars` when `norm_vars`) from
//! statistics pooled over *all* of that speaker's utterances in the
//! utterance's split. That is Kaldi's convention too: `compute_cmvn_stats.sh`
//! runs on the whole data folder and `subset_data_dir.sh` keeps its stats, so a
//! nested training subset and the full set normalise a speaker the same way,
//! and the statistics of a test speaker come from test audio only.
//!
//! Memory: nothing holds all audio or all features; [`FeatureCache::get`]
//! decodes or reads one utterance at a time, and [`FeatureCache::frames`]
//! reads only a header, so batches can be planned without loading features.
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::corpus::{Corpus, Split, Utterance};
use crate::error::{Error, Result};
use crate::features::{
    add_deltas, apply_cmvn, compute_samples, read_samples, CmvnMode, CmvnStats, FeatureConfig,
    FeatureExtractor, DELTA_ORDER, DELTA_WINDOW,
};
use crate::matrix::Matrix;

const MAGIC: &[u8; 8] = b"XOFEAT1\0";
const HEADER: usize = 8 + 4 + 4 + 16 + 8;

type AudioStamp = (PathBuf, u64, Option<std::time::SystemTime>);

/// On-disk feature cache for one corpus and one feature config.
pub struct FeatureCache {
    dir: PathBuf,
    root: PathBuf,
    /// Hash of the unnormalised config: the cache key's config part.
    config_hash: String,
    /// The config asked for, normalisation included.
    config: FeatureConfig,
    /// Extracts the unnormalised features.
    extractor: FeatureExtractor,
    /// Utterance ids of each (split, speaker) in the corpus, for default speaker CMVN.
    speaker_utts: HashMap<(Split, String), Vec<Utterance>>,
    /// Which split's statistics an utterance's split uses (dev pooled with
    /// train when the two are one training set).
    pooling: SplitPooling,
    speaker_stats: Mutex<HashMap<(Split, String), Arc<CmvnStats>>>,
    /// Held while a speaker's statistics are computed.
    stats_gate: Mutex<()>,
    audio_hashes: Mutex<HashMap<AudioStamp, [u8; 32]>>,
    /// Babble noise: the corpus's training utterances (sorted by id) the
    /// babble is drawn from; empty without babble.
    babble_pool: Vec<Utterance>,
    computed: AtomicUsize,
    read: AtomicUsize,
    recovered: AtomicUsize,
}

impl std::fmt::Debug for FeatureCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeatureCache")
            .field("dir", &self.dir)
            .finish()
    }
}

impl FeatureCache {
    /// Open (creating if needed) the cache of `corpus` for `cfg`.
    pub fn new(corpus: &Corpus, cfg: &FeatureConfig) -> Result<Self> {
        Self::with_pooling(corpus, cfg, SplitPooling::PerSplit)
    }

    /// [`FeatureCache::new`] with speaker statistics pooled as `pooling` says.
    pub fn with_pooling(
        corpus: &Corpus,
        cfg: &FeatureConfig,
        pooling: SplitPooling,
    ) -> Result<Self> {
        cfg.validate()?;
        let raw = cfg.cached_part();
        let extractor = FeatureExtractor::new(&raw)?;
        let config_hash = raw.stable_hash();
        let dir = cache_root(&corpus.root).join(&config_hash);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let cfg_path = dir.join("config.json");
        if !cfg_path.exists() {
            let json =
                serde_json::to_string_pretty(&raw).map_err(|e| Error::Config(e.to_string()))?;
            write_atomic(&cfg_path, json.as_bytes())?;
        }
        let mut speaker_utts: HashMap<(Split, String), Vec<Utterance>> = HashMap::new();
        if cfg.cmvn == CmvnMode::Speaker {
            for u in &corpus.utterances {
                speaker_utts
                    .entry((pooling.group(u.split), u.speaker.clone()))
                    .or_default()
                    .push(u.clone());
            }
        }
        let mut babble_pool: Vec<Utterance> = match cfg.babble {
            Some(_) => corpus.split(Split::Train).into_iter().cloned().collect(),
            None => Vec::new(),
        };
        babble_pool.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(FeatureCache {
            dir,
            root: corpus.root.clone(),
            config_hash,
            config: cfg.clone(),
            extractor,
            speaker_utts,
            pooling,
            speaker_stats: Mutex::new(HashMap::new()),
            stats_gate: Mutex::new(()),
            audio_hashes: Mutex::new(HashMap::new()),
            babble_pool,
            computed: AtomicUsize::new(0),
            read: AtomicUsize::new(0),
            recovered: AtomicUsize::new(0),
        })
    }

    /// The cache folder (`DIR/.cache/features/<hash of the unnormalised config>`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The config asked for, normalisation included.
    pub fn config(&self) -> &FeatureConfig {
        &self.config
    }

    /// Feature dimension of every matrix [`get`](Self::get) returns.
    pub fn dim(&self) -> usize {
        self.config.out_dim()
    }

    /// Utterances whose features were extracted (cache misses) by this cache so far.
    pub fn computed(&self) -> usize {
        self.computed.load(Ordering::Relaxed)
    }

    /// Utterances whose features were read from the cache (hits) so far.
    pub fn read(&self) -> usize {
        self.read.load(Ordering::Relaxed)
    }

    /// Cache files found corrupt and recomputed so far.
    pub fn recovered(&self) -> usize {
        self.recovered.load(Ordering::Relaxed)
    }

    fn audio_path(&self, u: &Utterance) -> PathBuf {
        if u.audio.is_absolute() {
            u.audio.clone()
        } else {
            self.root.join(&u.audio)
        }
    }

    /// The cache key of an utterance: hash of (config hash, SHA-256 of the
    /// audio file), and of the babble's audio files when there is babble.
    fn key(&self, u: &Utterance) -> Result<[u8; 32]> {
        let audio = self.audio_hash(u)?;
        if self.config.babble.is_none() {
            return Ok(self.key_from_audio_hash(&audio));
        }
        let mut h = Sha256::new();
        h.update(self.key_from_audio_hash(&audio));
        for src in self.babble_sources(u) {
            h.update(self.audio_hash(src)?);
        }
        Ok(h.finalize().into())
    }

    /// The training utterances whose mix is `u`'s babble: drawn from the
    /// babble seed and the utterance id, never `u` itself.
    fn babble_sources(&self, u: &Utterance) -> Vec<&Utterance> {
        use rand::Rng;
        let (Some(b), n) = (&self.config.babble, self.babble_pool.len()) else {
            return Vec::new();
        };
        let mut rng = babble_rng(b.seed, &u.id, 0);
        let others = self.babble_pool.iter().filter(|x| x.id != u.id).count();
        let mut out = Vec::with_capacity(b.talkers);
        while out.len() < b.talkers.min(others) {
            let x = &self.babble_pool[rng.gen_range(0..n)];
            if x.id != u.id {
                out.push(x);
            }
        }
        out
    }

    /// `samples` of `u` with its babble mixed in at the drawn SNR.
    fn add_babble(&self, u: &Utterance, samples: &mut [f32]) -> Result<()> {
        use rand::Rng;
        let Some(b) = &self.config.babble else {
            return Ok(());
        };
        let mut rng = babble_rng(b.seed, &u.id, 1);
        let mut noise = vec![0f32; samples.len()];
        for src in self.babble_sources(u) {
            let path = self.audio_path(src);
            let x = read_samples(&path, self.extractor.config())?;
            if x.is_empty() {
                continue;
            }
            let offset = rng.gen_range(0..x.len());
            for (i, v) in noise.iter_mut().enumerate() {
                *v += x[(offset + i) % x.len()];
            }
        }
        let power =
            |v: &[f32]| v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>() / v.len().max(1) as f64;
        let (ps, pn) = (power(samples), power(&noise));
        let snr = rng.gen_range(b.snr_db[0] as f64..=b.snr_db[1] as f64);
        if pn > 0.0 && ps > 0.0 {
            let scale = (ps / (pn * 10f64.powf(snr / 10.0))).sqrt() as f32;
            for (s, n) in samples.iter_mut().zip(&noise) {
                *s += scale * n;
            }
        }
        Ok(())
    }

    /// SHA-256 of an utterance's audio file, memoised per (path, size, mtime).
    fn audio_hash(&self, u: &Utterance) -> Result<[u8; 32]> {
        let path = self.audio_path(u);
        let meta = std::fs::metadata(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                Error::audio(&path, format!("audio of utterance {} not found", u.id))
            }
            _ => Error::io(&path, e),
        })?;
        let stamp = (path.clone(), meta.len(), meta.modified().ok());
        if let Some(h) = self
            .audio_hashes
            .lock()
            .expect("hash memo lock")
            .get(&stamp)
        {
            return Ok(*h);
        }
        let mut f = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = f.read(&mut buf).map_err(|e| Error::io(&path, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let h: [u8; 32] = hasher.finalize().into();
        self.audio_hashes
            .lock()
            .expect("hash memo lock")
            .insert(stamp, h);
        Ok(h)
    }

    fn key_from_audio_hash(&self, audio: &[u8; 32]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.config_hash.as_bytes());
        h.update(audio);
        h.finalize().into()
    }

    fn file_for(&self, key: &[u8; 32]) -> PathBuf {
        let hex = hex::encode(key);
        self.dir.join(&hex[..2]).join(format!("{hex}.feat"))
    }

    /// Cache file of an utterance (whether or not it exists yet).
    pub fn cache_file(&self, u: &Utterance) -> Result<PathBuf> {
        Ok(self.file_for(&self.key(u)?))
    }

    /// The cached features of `u` before speaker CMVN: read, or computed and stored on a miss.
    fn cached(&self, u: &Utterance) -> Result<Matrix> {
        let key = self.key(u)?;
        let file = self.file_for(&key);
        match read_feat(&file, &key) {
            Ok(Some(m)) => {
                self.read.fetch_add(1, Ordering::Relaxed);
                return Ok(m);
            }
            Ok(None) => {}
            Err(_) => {
                self.recovered.fetch_add(1, Ordering::Relaxed);
            }
        }
        let path = self.audio_path(u);
        let mut samples = read_samples(&path, self.extractor.config())?;
        let speed = self.extractor.config().speed;
        if speed != 1.0 {
            samples = crate::audio::speed_perturb(&samples, speed).map_err(|e| {
                Error::audio(&path, format!("utterance {}: speed {speed}: {e}", u.id))
            })?;
        }
        self.add_babble(u, &mut samples)?;
        let m = compute_samples(&self.extractor, &samples)
            .map_err(|e| Error::audio(&path, format!("utterance {}: {e}", u.id)))?;
        if !m.is_finite() {
            return Err(Error::audio(
                &path,
                format!("utterance {}: features contain NaN or infinity", u.id),
            ));
        }
        write_feat(&file, &key, &m)?;
        self.computed.fetch_add(1, Ordering::Relaxed);
        Ok(m)
    }

    /// Number of frames of `u`'s features, from the cache file's header (computing on a miss).
    pub fn frames(&self, u: &Utterance) -> Result<usize> {
        let key = self.key(u)?;
        let file = self.file_for(&key);
        if let Ok(Some((rows, _))) = read_header(&file, &key) {
            return Ok(rows);
        }
        Ok(self.cached(u)?.rows)
    }

    /// Features of one utterance, ready for a model (CMVN applied as configured).
    pub fn get(&self, u: &Utterance) -> Result<Matrix> {
        let mut m = self.cached(u)?;
        match self.config.cmvn {
            CmvnMode::None => {}
            CmvnMode::Utterance => apply_cmvn(&mut m, self.config.norm_vars),
            CmvnMode::Speaker => self.stats_for(u)?.apply(&mut m, self.config.norm_vars),
        }
        if self.config.normalises_before_deltas() {
            m = add_deltas(&m, DELTA_ORDER, DELTA_WINDOW);
        }
        Ok(m)
    }

    fn stats_for(&self, u: &Utterance) -> Result<Arc<CmvnStats>> {
        let k = (self.pooling.group(u.split), u.speaker.clone());
        if let Some(s) = self.speaker_stats.lock().expect("stats lock").get(&k) {
            return Ok(s.clone());
        }
        // One thread computes a speaker's statistics; the others wait for
        // them instead of extracting the same utterances again.
        let _one_at_a_time = self.stats_gate.lock().expect("stats gate");
        if let Some(s) = self.speaker_stats.lock().expect("stats lock").get(&k) {
            return Ok(s.clone());
        }
        let utts: Vec<&Utterance> = match self.speaker_utts.get(&k) {
            Some(v) => v.iter().collect(),
            None => vec![u],
        };
        // Extract in parallel, accumulate in a fixed order (deterministic
        // sums). Statistics of what the cache holds: the statics alone when
        // deltas follow CMVN.
        let feats: Vec<Matrix> = utts
            .par_iter()
            .map(|x| self.cached(x))
            .collect::<Result<_>>()?;
        let mut s = CmvnStats::new(self.extractor.out_dim());
        for m in &feats {
            s.accumulate(m);
        }
        let s = Arc::new(s);
        self.speaker_stats
            .lock()
            .expect("stats lock")
            .insert(k, s.clone());
        Ok(s)
    }

    /// Frame counts of `utts` (headers only, in parallel; computing misses), for [`length_buckets`].
    pub fn lengths(&self, utts: &[&Utterance]) -> Result<Vec<usize>> {
        utts.par_iter().map(|u| self.frames(u)).collect()
    }

    /// Features of one batch (e.g. the utterances of one [`length_buckets`] batch), read in parallel.
    pub fn batch(&self, utts: &[&Utterance]) -> Result<Vec<Matrix>> {
        utts.par_iter().map(|u| self.get(u)).collect()
    }

    /// Compute and store the features of `utts` in parallel (rayon); cached ones are
    /// only checked. The first failure is an error naming the file.
    pub fn precompute(&self, utts: &[&Utterance], progress: bool) -> Result<()> {
        let pb = crate::corpus::import::progress_bar(utts.len() as u64, progress, "features");
        let r: Result<Vec<()>> = utts
            .par_iter()
            .map(|u| {
                let key = self.key(u)?;
                if !matches!(read_header(&self.file_for(&key), &key), Ok(Some(_))) {
                    self.cached(u)?;
                }
                pb.inc(1);
                Ok(())
            })
            .collect();
        pb.finish_and_clear();
        r.map(|_| ())
    }
}

/// Where a corpus's feature caches live: `ROOT/.cache/features` when the
/// corpus folder is writable, else (a read-only corpus, e.g. one assembled
/// in place over shared recordings) `$CROSSOVER_CACHE/features/<hash of
/// ROOT>` (default `~/.cache/crossover`), so nothing is ever written beside
/// read-only audio.
/// The random stream of one utterance's babble (`stream` 0: which
/// utterances, 1: offsets and SNR), from the babble seed and the id.
fn babble_rng(seed: u64, id: &str, stream: u64) -> rand_chacha::ChaCha8Rng {
    rand_chacha::ChaCha8Rng::seed_from_u64(
        seed ^ fnv1a(id.as_bytes()) ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15),
    )
}

pub fn cache_root(corpus_root: &Path) -> PathBuf {
    corpus_cache_dir(corpus_root, "features")
}

/// A corpus's cache folder for `what` (`features`, `pretrained`):
/// `ROOT/.cache/<what>` when writable, else under `$CROSSOVER_CACHE`, as
/// [`cache_root`] explains.
pub fn corpus_cache_dir(corpus_root: &Path, what: &str) -> PathBuf {
    let local = corpus_root.join(".cache").join(what);
    if writable(&local) {
        return local;
    }
    let base = std::env::var_os("CROSSOVER_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/crossover")))
        .unwrap_or_else(|| std::env::temp_dir().join("crossover"));
    let abs = corpus_root
        .canonicalize()
        .unwrap_or_else(|_| corpus_root.to_path_buf());
    let tag = hex::encode(&Sha256::digest(abs.to_string_lossy().as_bytes())[..8]);
    base.join(what).join(tag)
}

fn writable(dir: &Path) -> bool {
    if std::fs::create_dir_all(dir).is_err() {
        return false;
    }
    let probe = dir.join(format!(".probe-{}", std::process::id()));
    let ok = std::fs::write(&probe, b"").is_ok();
    let _ = std::fs::remove_file(&probe);
    ok
}

/// Which utterances pool their speaker CMVN statistics: a speaker's
/// utterances in one split (the default), or with dev counted as train when
/// the two form one training set (`crossover train --dev-into-train`), as
/// Kaldi computes statistics on the combined data folder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SplitPooling {
    #[default]
    PerSplit,
    DevWithTrain,
}

impl SplitPooling {
    fn group(self, split: Split) -> Split {
        match (self, split) {
            (SplitPooling::DevWithTrain, Split::Dev) => Split::Train,
            _ => split,
        }
    }
}

/// How many utterance features a [`Loader`] computed and read from the cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoaderCounts {
    /// Cache misses: features extracted from audio (and stored).
    pub computed: usize,
    /// Cache hits: features read from disk.
    pub read: usize,
}

impl std::fmt::Display for LoaderCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "features: {} computed, {} read from cache",
            self.computed, self.read
        )
    }
}

/// The data module every recogniser trains and decodes through (lhotse's
/// role in icefall): a recogniser names the [`FeatureConfig`] it wants and
/// the loader serves those features from the corpus's on-disk cache, one
/// [`FeatureCache`] per config, computing each (utterance, config) once per
/// corpus. A sweep holds one loader for all its cells, so dev and test
/// features are computed by the first cell and read by the others.
pub struct Loader<'c> {
    corpus: &'c Corpus,
    pooling: SplitPooling,
    caches: Mutex<BTreeMap<String, Arc<FeatureCache>>>,
}

impl<'c> Loader<'c> {
    pub fn new(corpus: &'c Corpus) -> Self {
        Self::with_pooling(corpus, SplitPooling::PerSplit)
    }

    /// A loader whose speaker statistics pool splits as `pooling` says.
    pub fn with_pooling(corpus: &'c Corpus, pooling: SplitPooling) -> Self {
        Loader {
            corpus,
            pooling,
            caches: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn pooling(&self) -> SplitPooling {
        self.pooling
    }

    pub fn corpus(&self) -> &'c Corpus {
        self.corpus
    }

    /// The cache serving `cfg` (opened on first use).
    pub fn cache(&self, cfg: &FeatureConfig) -> Result<Arc<FeatureCache>> {
        let key = cfg.stable_hash();
        let mut caches = self.caches.lock().expect("loader lock");
        if let Some(c) = caches.get(&key) {
            return Ok(c.clone());
        }
        let c = Arc::new(FeatureCache::with_pooling(self.corpus, cfg, self.pooling)?);
        caches.insert(key, c.clone());
        Ok(c)
    }

    /// Features of `utts` in order, normalised as `cfg` says, read in
    /// parallel on the current rayon pool. Errors name the audio file.
    pub fn features(&self, cfg: &FeatureConfig, utts: &[&Utterance]) -> Result<Vec<Matrix>> {
        self.cache(cfg)?.batch(utts)
    }

    /// Feature frame counts of `utts` (cache headers only), for batching.
    pub fn frames(&self, cfg: &FeatureConfig, utts: &[&Utterance]) -> Result<Vec<usize>> {
        self.cache(cfg)?.lengths(utts)
    }

    /// Computed + read counts per cache this loader opened, to tell later
    /// which caches a piece of work used ([`Self::cache_bytes_used_since`]).
    pub fn use_counts(&self) -> BTreeMap<String, usize> {
        let caches = self.caches.lock().expect("loader lock");
        caches
            .iter()
            .map(|(k, c)| (k.clone(), c.computed() + c.read()))
            .collect()
    }

    /// Bytes on disk of the cached features of `utts` in every cache used
    /// since `before` (a [`Self::use_counts`]): a sweep cell's feature
    /// cache, speed-perturbed copies included (each speed is a cache).
    pub fn cache_bytes_used_since(
        &self,
        before: &BTreeMap<String, usize>,
        utts: &[&Utterance],
    ) -> Result<u64> {
        let used: Vec<Arc<FeatureCache>> = {
            let caches = self.caches.lock().expect("loader lock");
            caches
                .iter()
                .filter(|(k, c)| before.get(*k) != Some(&(c.computed() + c.read())))
                .map(|(_, c)| c.clone())
                .collect()
        };
        let mut bytes = 0;
        for cache in used {
            for u in utts {
                bytes += std::fs::metadata(cache.cache_file(u)?).map_or(0, |m| m.len());
            }
        }
        Ok(bytes)
    }

    /// Computed / read counts over every cache this loader opened.
    pub fn counts(&self) -> LoaderCounts {
        let caches = self.caches.lock().expect("loader lock");
        LoaderCounts {
            computed: caches.values().map(|c| c.computed()).sum(),
            read: caches.values().map(|c| c.read()).sum(),
        }
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Header of a cache file: `Ok(None)` if absent, `Err` if present but wrong.
fn read_header(path: &Path, key: &[u8; 32]) -> std::result::Result<Option<(usize, usize)>, String> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let mut h = [0u8; HEADER];
    f.read_exact(&mut h).map_err(|e| e.to_string())?;
    let (rows, cols) = parse_header(&h, key)?;
    let len = f.metadata().map_err(|e| e.to_string())?.len() as usize;
    if len != HEADER + rows * cols * 4 {
        return Err(format!("size {len} does not match {rows}x{cols}"));
    }
    Ok(Some((rows, cols)))
}

fn parse_header(h: &[u8], key: &[u8; 32]) -> std::result::Result<(usize, usize), String> {
    if &h[..8] != MAGIC {
        return Err("bad magic".into());
    }
    if h[16..32] != key[..16] {
        return Err("key mismatch".into());
    }
    let rows = u32::from_le_bytes(h[8..12].try_into().expect("4 bytes")) as usize;
    let cols = u32::from_le_bytes(h[12..16].try_into().expect("4 bytes")) as usize;
    Ok((rows, cols))
}

/// A cache file's matrix: `Ok(None)` if absent, `Err` if present but corrupt.
fn read_feat(path: &Path, key: &[u8; 32]) -> std::result::Result<Option<Matrix>, String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    if bytes.len() < HEADER {
        return Err("shorter than the header".into());
    }
    let (rows, cols) = parse_header(&bytes[..HEADER], key)?;
    let payload = &bytes[HEADER..];
    if payload.len() != rows * cols * 4 {
        return Err(format!(
            "payload of {} bytes for {rows}x{cols}",
            payload.len()
        ));
    }
    let sum = u64::from_le_bytes(bytes[32..40].try_into().expect("8 bytes"));
    if fnv1a(payload) != sum {
        return Err("checksum mismatch".into());
    }
    let data: Vec<f32> = payload
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect();
    if data.iter().any(|x| !x.is_finite()) {
        return Err("non-finite values".into());
    }
    Ok(Some(Matrix::from_vec(rows, cols, data)))
}

fn write_feat(path: &Path, key: &[u8; 32], m: &Matrix) -> Result<()> {
    let mut payload = Vec::with_capacity(m.data.len() * 4);
    for x in &m.data {
        payload.extend_from_slice(&x.to_le_bytes());
    }
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(m.rows as u32).to_le_bytes());
    out.extend_from_slice(&(m.cols as u32).to_le_bytes());
    out.extend_from_slice(&key[..16]);
    out.extend_from_slice(&fnv1a(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
    }
    write_atomic(path, &out)
}

use crate::atomic_file::write as write_atomic;

/// Length-bucketed batches, shortest first: indices into `lengths`, sorted
/// by length and cut into batches whose padded size (count x longest) stays
/// within `max_frames_per_batch` and count within `max_batch` (an utterance
/// longer than the frame budget gets a batch of its own). Every index
/// appears in exactly one batch. Neural training draws its own batch order
/// per epoch from these.
pub fn length_buckets_sorted(
    lengths: &[usize],
    max_frames_per_batch: usize,
    max_batch: usize,
) -> Vec<Vec<usize>> {
    let max_batch = max_batch.max(1);
    let mut idx: Vec<usize> = (0..lengths.len()).collect();
    idx.sort_by_key(|&i| (lengths[i], i));
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    for i in idx {
        // Sorted ascending, so `lengths[i]` is the longest of `cur` plus it.
        let padded = (cur.len() + 1) * lengths[i];
        if !cur.is_empty() && (padded > max_frames_per_batch || cur.len() >= max_batch) {
            batches.push(std::mem::take(&mut cur));
        }
        cur.push(i);
    }
    if !cur.is_empty() {
        batches.push(cur);
    }
    batches
}

/// [`length_buckets_sorted`] with the batch order shuffled by `seed`.
pub fn length_buckets(
    lengths: &[usize],
    max_frames_per_batch: usize,
    max_batch: usize,
    seed: u64,
) -> Vec<Vec<usize>> {
    let mut batches = length_buckets_sorted(lengths, max_frames_per_batch, max_batch);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    batches.shuffle(&mut rng);
    batches
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn buckets_cover_everything_within_budget() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let lengths: Vec<usize> = (0..500).map(|_| rng.gen_range(20..900)).collect();
        let b = length_buckets(&lengths, 4000, 16, 1);
        let mut all: Vec<usize> = b.iter().flatten().copied().collect();
        all.sort();
        assert_eq!(all, (0..500).collect::<Vec<_>>());
        for batch in &b {
            let longest = batch.iter().map(|&i| lengths[i]).max().unwrap();
            assert!(batch.len() <= 16);
            assert!(
                batch.len() == 1 || batch.len() * longest <= 4000,
                "batch of {} x {longest}",
                batch.len()
            );
        }
        assert_eq!(b, length_buckets(&lengths, 4000, 16, 1));
        let other = length_buckets(&lengths, 4000, 16, 2);
        assert_ne!(b, other, "batch order follows the seed");
        // Same batches, different order.
        let mut x = b.clone();
        let mut y = other.clone();
        x.sort();
        y.sort();
        assert_eq!(x, y);
        // An utterance longer than the budget travels alone.
        let b = length_buckets(&[10, 5000, 20], 1000, 8, 0);
        assert!(b.contains(&vec![1]));
    }

    #[test]
    fn sorted_buckets_fill_shortest_first() {
        let lens = vec![100, 300, 120, 90, 500, 310, 95];
        let b = length_buckets_sorted(&lens, 400, usize::MAX);
        let mut all: Vec<usize> = b.iter().flatten().copied().collect();
        all.sort();
        assert_eq!(all, (0..7).collect::<Vec<_>>());
        for batch in &b {
            let max = batch.iter().map(|&i| lens[i]).max().unwrap();
            assert!(batch.len() == 1 || batch.len() * max <= 400, "{batch:?}");
        }
        // 90, 95, 100 fit (3 * 100 = 300); adding 120 would pad to 4 * 120 = 480.
        assert_eq!(b[0], vec![3, 6, 0]);
        assert_eq!(b.len(), 5);
    }

    #[test]
    fn corrupt_cache_files_are_detected() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.feat");
        let key = [7u8; 32];
        let m = Matrix::from_vec(3, 2, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        write_feat(&p, &key, &m).unwrap();
        assert_eq!(read_feat(&p, &key).unwrap(), Some(m.clone()));
        assert_eq!(read_header(&p, &key).unwrap(), Some((3, 2)));
        assert!(read_feat(&p, &[8u8; 32]).is_err(), "key mismatch");
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[HEADER + 5] ^= 0x40;
        std::fs::write(&p, &bytes).unwrap();
        assert!(read_feat(&p, &key).unwrap_err().contains("checksum"));
        std::fs::write(&p, &bytes[..HEADER + 7]).unwrap();
        assert!(read_feat(&p, &key).is_err());
        assert!(read_header(&p, &key).is_err());
        std::fs::write(&p, b"garbage").unwrap();
        assert!(read_feat(&p, &key).is_err());
        assert_eq!(read_feat(&d.path().join("none.feat"), &key).unwrap(), None);
    }
}
