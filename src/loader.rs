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
//! What is cached is the output of [`crate::features::compute_samples`]: static
//! features, deltas if configured, and utterance CMVN if `cmvn = "utt"`. With
//! `cmvn = "spk"` the cache holds un-normalised features and [`FeatureCache::get`]
//! applies per-speaker mean normalisation (Kaldi `apply-cmvn` with per-speaker
//! stats, means only): the statistics pool a speaker's utterances *in the set
//! given to [`FeatureCache::precompute`]* (per split), or, for a speaker no
//! precompute covered, all of that speaker's utterances in the utterance's split.
//!
//! Memory: nothing holds all audio or all features; [`FeatureCache::get`]
//! decodes or reads one utterance at a time, and [`FeatureCache::frames`]
//! reads only a header, so batches can be planned without loading features.
use std::collections::HashMap;
use std::io::{Read, Write};
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
    compute_samples, read_samples, CmvnMode, CmvnStats, FeatureConfig, FeatureExtractor,
};
use crate::matrix::Matrix;

const MAGIC: &[u8; 8] = b"XOFEAT1\0";
const HEADER: usize = 8 + 4 + 4 + 16 + 8;

type AudioStamp = (PathBuf, u64, Option<std::time::SystemTime>);

/// On-disk feature cache for one corpus and one feature config.
pub struct FeatureCache {
    dir: PathBuf,
    root: PathBuf,
    config_hash: String,
    extractor: FeatureExtractor,
    /// Utterance ids of each (split, speaker) in the corpus, for default speaker CMVN.
    speaker_utts: HashMap<(Split, String), Vec<Utterance>>,
    speaker_stats: Mutex<HashMap<(Split, String), Arc<CmvnStats>>>,
    audio_hashes: Mutex<HashMap<AudioStamp, [u8; 32]>>,
    computed: AtomicUsize,
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
        let extractor = FeatureExtractor::new(cfg)?;
        let config_hash = cfg.stable_hash();
        let dir = corpus
            .root
            .join(".cache")
            .join("features")
            .join(&config_hash);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let cfg_path = dir.join("config.json");
        if !cfg_path.exists() {
            let json =
                serde_json::to_string_pretty(cfg).map_err(|e| Error::Config(e.to_string()))?;
            write_atomic(&cfg_path, json.as_bytes())?;
        }
        let mut speaker_utts: HashMap<(Split, String), Vec<Utterance>> = HashMap::new();
        if cfg.cmvn == CmvnMode::Speaker {
            for u in &corpus.utterances {
                speaker_utts
                    .entry((u.split, u.speaker.clone()))
                    .or_default()
                    .push(u.clone());
            }
        }
        Ok(FeatureCache {
            dir,
            root: corpus.root.clone(),
            config_hash,
            extractor,
            speaker_utts,
            speaker_stats: Mutex::new(HashMap::new()),
            audio_hashes: Mutex::new(HashMap::new()),
            computed: AtomicUsize::new(0),
            recovered: AtomicUsize::new(0),
        })
    }

    /// The cache folder (`DIR/.cache/features/<config hash>`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> &FeatureConfig {
        self.extractor.config()
    }

    /// Feature dimension of every matrix [`get`](Self::get) returns.
    pub fn dim(&self) -> usize {
        self.extractor.out_dim()
    }

    /// Utterances whose features were extracted (cache misses) by this cache so far.
    pub fn computed(&self) -> usize {
        self.computed.load(Ordering::Relaxed)
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

    /// The cache key of an utterance: hash of (config hash, SHA-256 of the audio file).
    fn key(&self, u: &Utterance) -> Result<[u8; 32]> {
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
            return Ok(self.key_from_audio_hash(h));
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
        Ok(self.key_from_audio_hash(&h))
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
            Ok(Some(m)) => return Ok(m),
            Ok(None) => {}
            Err(_) => {
                self.recovered.fetch_add(1, Ordering::Relaxed);
            }
        }
        let path = self.audio_path(u);
        let samples = read_samples(&path, self.config())?;
        let m = compute_samples(&self.extractor, &samples)
            .map_err(|e| Error::audio(&path, e.to_string()))?;
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

    /// Features of one utterance, ready for a model (speaker CMVN applied if configured).
    pub fn get(&self, u: &Utterance) -> Result<Matrix> {
        let mut m = self.cached(u)?;
        if self.config().cmvn == CmvnMode::Speaker {
            let stats = self.stats_for(u)?;
            stats.apply(&mut m, false);
        }
        Ok(m)
    }

    fn stats_for(&self, u: &Utterance) -> Result<Arc<CmvnStats>> {
        let k = (u.split, u.speaker.clone());
        if let Some(s) = self.speaker_stats.lock().expect("stats lock").get(&k) {
            return Ok(s.clone());
        }
        let utts: Vec<&Utterance> = match self.speaker_utts.get(&k) {
            Some(v) => v.iter().collect(),
            None => vec![u],
        };
        let mut s = CmvnStats::new(self.dim());
        for x in utts {
            s.accumulate(&self.cached(x)?);
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

    /// Per-(split, speaker) CMVN statistics over the given utterances (from the cache).
    pub fn speaker_stats(
        &self,
        utts: &[&Utterance],
    ) -> Result<HashMap<(Split, String), CmvnStats>> {
        let mut out: HashMap<(Split, String), CmvnStats> = HashMap::new();
        for u in utts {
            let m = self.cached(u)?;
            out.entry((u.split, u.speaker.clone()))
                .or_insert_with(|| CmvnStats::new(m.cols))
                .accumulate(&m);
        }
        Ok(out)
    }

    /// Compute and store the features of `utts` in parallel (rayon); cached ones are
    /// only checked. With speaker CMVN, also sets each (split, speaker)'s statistics
    /// to those of its utterances in `utts`. The first failure is an error naming the file.
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
        r?;
        if self.config().cmvn == CmvnMode::Speaker {
            let stats = self.speaker_stats(utts)?;
            let mut map = self.speaker_stats.lock().expect("stats lock");
            for (k, s) in stats {
                map.insert(k, Arc::new(s));
            }
        }
        Ok(())
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

static TMP_COUNTER: AtomicUsize = AtomicUsize::new(0);

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Length-bucketed batches: indices into `lengths`, sorted by length and cut
/// into batches whose padded size (count x longest) stays within
/// `max_frames_per_batch` and count within `max_batch` (an utterance longer
/// than the frame budget gets a batch of its own); the batch order is then
/// shuffled by `seed`. Every index appears in exactly one batch.
pub fn length_buckets(
    lengths: &[usize],
    max_frames_per_batch: usize,
    max_batch: usize,
    seed: u64,
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
