//! The synthetic corpus generator (`crossover corpus synth`): speech from
//! text with espeak-ng and flite voices, text from a seeded grammar (or a
//! file of sentences), per-utterance augmentation, and dev/test splits whose
//! voices and sentences never occur in training. See docs/SYNTH.md.
//!
//! Determinism: every utterance's text, voice and augmentation come from an
//! RNG seeded by (seed, split, utterance index) alone, so the output is the
//! same whatever the thread count, and a corpus of H hours is a prefix of one
//! of H' > H hours with the same settings (dev and test are identical).
//!
//! Scale: utterances are made in chunks of `chunk` in parallel (rayon); each
//! worker writes its WAV and keeps only the manifest row, so memory is bounded
//! by one chunk's audio plus the rows. Each finished chunk is journalled in
//! `DIR/.synth-chunks/`, so an interrupted run resumes where it stopped, and
//! re-running with more `--hours` extends the corpus.
pub mod augment;
pub mod grammar;
pub mod phonemes;
pub mod voices;
mod words;

use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use augment::AugmentConfig;
pub use grammar::Grammar;
pub use voices::{Voice, VOICES};

use crate::audio::TARGET_RATE;
use crate::corpus::{Corpus, Split, Utterance};
use crate::error::{Error, Result};

/// Every setting of a synthetic corpus. Loadable from TOML (`--config`);
/// fields left out take these defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SynthConfig {
    /// Seed for every random choice.
    pub seed: u64,
    /// Hours of training audio.
    pub hours: f64,
    /// Hours of audio in each of dev and test.
    pub eval_hours: f64,
    /// Number of training voices used (the first N of the inventory's training voices, at most 39).
    pub train_voices: usize,
    /// Open-class words kept per grammar category (first N of each list); 1000 keeps all.
    pub vocab_per_category: usize,
    /// Zipf exponent of word frequencies within a category (0 = uniform).
    pub zipf: f64,
    /// Fraction of distinct sentences reserved for dev, and the same again for test.
    pub heldout_sentence_fraction: f64,
    /// Per-utterance speaking-rate jitter around the voice's rate (relative, +/-).
    pub rate_jitter: f64,
    /// Per-utterance pitch jitter around the voice's pitch (espeak-ng units 0-99, +/-).
    pub pitch_jitter: u32,
    /// Utterances per chunk (the unit of parallel work, journalling and resumption).
    pub chunk: usize,
    /// Synthetic utterances in the babble-noise pool.
    pub babble_pool: usize,
    /// Training-split sentences written to `lm_text.txt` (text-only data for
    /// language models; never a dev/test sentence). 0 writes none.
    pub lm_sentences: usize,
    /// Sentences from this file (one per line) instead of the grammar.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<PathBuf>,
    pub augment: AugmentConfig,
}

/// Words per open-class list in [`SynthConfig::sweep_demo`].
pub const DEMO_VOCAB: usize = 2;
/// Hours each of dev and test in the sweep corpora (about 4,500 words each).
pub const DEMO_EVAL_HOURS: f64 = 0.5;

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            seed: 1,
            hours: 1.0,
            eval_hours: 0.1,
            train_voices: voices::train_voices().len(),
            vocab_per_category: 1000,
            zipf: 1.0,
            heldout_sentence_fraction: 0.1,
            rate_jitter: 0.06,
            pitch_jitter: 5,
            chunk: 128,
            babble_pool: 32,
            lm_sentences: 20_000,
            text: None,
            augment: AugmentConfig::default(),
        }
    }
}

impl SynthConfig {
    /// The difficulty of the default sweep's corpus (`crossover sweep` without
    /// `--corpus`, and `--quick`): the first 8 training voices, the first
    /// `DEMO_VOCAB` words of each open-class list, no added noise or
    /// reverberation; dev and test voices are still held out.
    ///
    /// Why: the demo exists to show the crossing on 2 CPU cores in 30 minutes,
    /// where the CTC models are compute-bound. At 2 h, with the same budgets,
    /// the end-to-end model's WER gap to the classical pipeline shrank as the
    /// task got easier (all measured, docs/SYNTH.md "Sweep difficulty"):
    /// 56 points with `SynthConfig::default()`, 24 with 20 words per list,
    /// 11 with 5; harder acoustics (noise on every utterance at 0-15 dB,
    /// reverberation on 70 %) left it at 36.
    pub fn sweep_demo() -> Self {
        let mut c = SynthConfig {
            train_voices: 8,
            vocab_per_category: DEMO_VOCAB,
            // About 4,500 words each of dev and test: a sweep's intervals
            // and dev choices need more than the 905 test words of 0.1 h.
            eval_hours: DEMO_EVAL_HOURS,
            ..Default::default()
        };
        c.augment.noise_prob = 0.0;
        c.augment.reverb_prob = 0.0;
        c
    }

    /// The settings that define the task (everything but sizes and
    /// work-splitting), for comparing an existing corpus with a config.
    pub fn same_task(&self, other: &SynthConfig) -> bool {
        let strip = |c: &SynthConfig| SynthConfig {
            hours: 0.0,
            eval_hours: 0.0,
            chunk: 0,
            lm_sentences: 0,
            ..c.clone()
        };
        strip(self) == strip(other)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let s = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        toml::from_str(&s).map_err(|e| Error::parse(path, e.to_string()))
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        let n_train = voices::train_voices().len();
        if !self.hours.is_finite()
            || self.hours < 0.0
            || !self.eval_hours.is_finite()
            || self.eval_hours < 0.0
        {
            return bad(format!(
                "hours = {}, eval_hours = {}: must be >= 0",
                self.hours, self.eval_hours
            ));
        }
        if self.train_voices == 0 || self.train_voices > n_train {
            return bad(format!(
                "train_voices = {}: must be 1..={n_train}",
                self.train_voices
            ));
        }
        if self.vocab_per_category == 0 {
            return bad("vocab_per_category must be at least 1".into());
        }
        if !(0.0..0.45).contains(&self.heldout_sentence_fraction)
            || self.heldout_sentence_fraction <= 0.0
        {
            return bad(format!(
                "heldout_sentence_fraction = {}: must be in (0, 0.45)",
                self.heldout_sentence_fraction
            ));
        }
        if !(0.0..0.5).contains(&self.rate_jitter) || self.pitch_jitter > 40 {
            return bad("rate_jitter must be in 0..0.5 and pitch_jitter in 0..=40".into());
        }
        if self.chunk == 0 || self.babble_pool == 0 {
            return bad("chunk and babble_pool must be at least 1".into());
        }
        if !(0.0..=5.0).contains(&self.zipf) {
            return bad(format!("zipf = {}: must be in 0..5", self.zipf));
        }
        self.augment.validate().map_err(Error::Config)
    }
}

/// What a run made.
#[derive(Debug, Clone, Default)]
pub struct SynthReport {
    /// (split, utterances, hours) for train, dev, test.
    pub splits: Vec<(Split, usize, f64)>,
    /// Chunks reused from an earlier (interrupted or smaller) run.
    pub chunks_reused: usize,
    pub chunks_made: usize,
    /// Bytes of WAV audio in the corpus.
    pub wav_bytes: u64,
}

/// The settings file written beside the manifest.
pub const SETTINGS_FILE: &str = "synth.toml";
const JOURNAL_DIR: &str = ".synth-chunks";

#[derive(Serialize, Deserialize)]
struct Settings {
    tool: String,
    /// [`ID_FORM`]; empty in folders made before ids took this form.
    #[serde(default)]
    ids: String,
    /// sha256 of the `--text` file, when one is used.
    #[serde(skip_serializing_if = "Option::is_none")]
    text_sha256: Option<String>,
    train_voices: Vec<String>,
    held_out_voices: Vec<String>,
    config: SynthConfig,
}

/// Where sentences come from.
enum TextSource {
    Grammar(Box<Grammar>),
    /// (text, normalised) per split: train, dev, test.
    Lines([Vec<(String, String)>; 3]),
}

fn split_index(s: Split) -> usize {
    match s {
        Split::Train => 0,
        Split::Dev => 1,
        Split::Test => 2,
    }
}

/// splitmix64: turns (seed, split, index, stream) into independent RNG seeds.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn rng_for(seed: u64, split: usize, index: usize, stream: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(mix(
        mix(mix(mix(seed) ^ split as u64) ^ index as u64) ^ stream
    ))
}

fn sha(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Which split a normalised sentence belongs to (a seeded hash, so every
/// distinct sentence has exactly one split).
pub fn sentence_split(seed: u64, norm: &str, heldout_fraction: f64) -> Split {
    let h = sha(&[&seed.to_le_bytes(), norm.as_bytes()]);
    let u = u64::from_le_bytes(h[..8].try_into().unwrap()) as f64 / 2f64.powi(64);
    if u < heldout_fraction {
        Split::Dev
    } else if u < 2.0 * heldout_fraction {
        Split::Test
    } else {
        Split::Train
    }
}

/// The sentence id in the manifest's `group` column.
pub fn sentence_id(norm: &str) -> String {
    format!("s{}", hex::encode(&sha(&[norm.as_bytes()])[..6]))
}

/// The form of utterance ids, recorded in `synth.toml` (a folder made with
/// another form is refused rather than extended with mixed ids).
pub const ID_FORM: &str = "{voice}-{tr|dv|te}-{index:07}";

/// The manifest id of utterance `index` of `split` spoken by `voice`:
/// `{voice}-{tr|dv|te}-{index:07}`, e.g. `fl-kal-d100-tr-0000002`. It starts
/// with `{speaker}-` (the speaker is the voice id), so Kaldi's export keeps it
/// as it is, and its fixed-width index sorts in C byte order; no voice id
/// holds `-tr-`, `-dv-` or `-te-` followed by digits, so no two voices' ids
/// interleave when sorted (unit-tested against the whole inventory).
pub fn utterance_id(voice: &Voice, split: Split, index: usize) -> String {
    let s = match split {
        Split::Train => "tr",
        Split::Dev => "dv",
        Split::Test => "te",
    };
    format!("{}-{s}-{index:07}", voice.id())
}

/// What one utterance will be, decided before any audio is made.
struct Plan {
    index: usize,
    id: String,
    voice: &'static Voice,
    text: String,
    norm: String,
    rate: u32,
    pitch: u32,
}

fn voices_for(cfg: &SynthConfig, split: Split) -> Vec<&'static Voice> {
    match split {
        Split::Train => voices::train_voices()
            .into_iter()
            .take(cfg.train_voices)
            .collect(),
        _ => voices::held_out_voices(),
    }
}

fn plan(
    cfg: &SynthConfig,
    src: &TextSource,
    split: Split,
    index: usize,
    voices: &[&'static Voice],
) -> Result<Plan> {
    let si = split_index(split);
    let mut rng = rng_for(cfg.seed, si, index, 0);
    // Round robin over the split's voices: every voice gets the same share.
    let voice = voices[index % voices.len()];
    let (text, norm) = match src {
        TextSource::Grammar(g) => {
            let mut found = None;
            for _ in 0..100_000 {
                let t = g.sentence(&mut rng);
                let n = crate::text::normalise(&t);
                if sentence_split(cfg.seed, &n, cfg.heldout_sentence_fraction) == split {
                    found = Some((t, n));
                    break;
                }
            }
            found.ok_or_else(|| {
                Error::Invalid(format!(
                    "the grammar produced no {split} sentence in 100000 draws"
                ))
            })?
        }
        TextSource::Lines(pools) => {
            let pool = &pools[si];
            pool[rng.gen_range(0..pool.len())].clone()
        }
    };
    let (rate, pitch) = match voice.engine {
        voices::Engine::Espeak => {
            let r = voice.rate as f64 * (1.0 + rng.gen_range(-cfg.rate_jitter..=cfg.rate_jitter));
            let p = voice.pitch as i64
                + rng.gen_range(-(cfg.pitch_jitter as i64)..=cfg.pitch_jitter as i64);
            (r.round().max(80.0) as u32, p.clamp(0, 99) as u32)
        }
        voices::Engine::Flite => {
            // Rate is the duration stretch x 100: jitter it the other way round (slower = longer).
            let r = voice.rate as f64 * (1.0 + rng.gen_range(-cfg.rate_jitter..=cfg.rate_jitter));
            let p = if voice.pitch > 0 {
                voice.pitch as i64
                    + 2 * rng.gen_range(-(cfg.pitch_jitter as i64)..=cfg.pitch_jitter as i64)
            } else {
                0
            };
            (r.round().max(50.0) as u32, p.max(0) as u32)
        }
    };
    let id = utterance_id(voice, split, index);
    Ok(Plan {
        index,
        id,
        voice,
        text,
        norm,
        rate,
        pitch,
    })
}

/// Write 16-bit mono 16 kHz WAV atomically.
fn write_wav(path: &Path, samples: &[f32]) -> Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: TARGET_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let werr = |e: hound::Error| Error::audio(path, e.to_string());
    crate::atomic_file::write_with(path, |f| {
        let mut w = hound::WavWriter::new(std::io::BufWriter::new(f), spec).map_err(werr)?;
        {
            let mut iw = w.get_i16_writer(samples.len() as u32);
            for s in samples {
                iw.write_sample(s.round().clamp(-32768.0, 32767.0) as i16);
            }
            iw.flush().map_err(werr)?;
        }
        w.finalize().map_err(werr)
    })
}

fn make_utterance(
    cfg: &SynthConfig,
    p: &Plan,
    split: Split,
    phonemes: String,
    babble: &[Vec<f32>],
    root: &Path,
) -> Result<Utterance> {
    let raw = voices::speak(p.voice, &p.text, p.rate, p.pitch)?;
    let mut rng = rng_for(cfg.seed, split_index(split), p.index, 1);
    let a = augment::augment(&raw.samples, raw.rate, &cfg.augment, babble, &mut rng)
        .map_err(|e| Error::Invalid(format!("utterance {} ({}): {e}", p.id, p.voice.id())))?;
    let rel = PathBuf::from("wav").join(format!("{}.wav", p.id));
    write_wav(&root.join(&rel), &a.samples)?;
    let mut record = vec![("rate".to_string(), p.rate.to_string())];
    if p.pitch > 0 {
        record.push(("pitch".into(), p.pitch.to_string()));
    }
    record.extend(a.record);
    Ok(Utterance {
        id: p.id.clone(),
        audio: rel,
        speaker: p.voice.id(),
        split,
        duration: a.samples.len() as f64 / TARGET_RATE as f64,
        text: p.text.clone(),
        norm_text: p.norm.clone(),
        phonemes,
        group: sentence_id(&p.norm),
        augment: record
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(";"),
    })
}

/// The babble pool: `babble_pool` utterances by training espeak-ng voices,
/// 16 kHz, level-normalised. Built from its own seed stream.
fn babble_pool(cfg: &SynthConfig, src: &TextSource) -> Result<Vec<Vec<f32>>> {
    let train: Vec<&'static Voice> = voices_for(cfg, Split::Train);
    (0..cfg.babble_pool)
        .into_par_iter()
        .map(|k| {
            let mut rng = rng_for(cfg.seed, 3, k, 2);
            let text = match src {
                TextSource::Grammar(g) => g.sentence(&mut rng),
                TextSource::Lines(p) => p[0][rng.gen_range(0..p[0].len())].0.clone(),
            };
            let v = train[k % train.len()];
            let raw = voices::speak(v, &text, v.rate, v.pitch)?;
            let mut x = crate::audio::resample(&raw.samples, raw.rate, TARGET_RATE)
                .map_err(Error::Invalid)?;
            let r = (x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / x.len().max(1) as f64)
                .sqrt() as f32;
            if r > 0.0 {
                x.iter_mut().for_each(|v| *v /= r);
            }
            Ok(x)
        })
        .collect()
}

fn load_text(path: &Path, cfg: &SynthConfig) -> Result<(TextSource, String)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let s = String::from_utf8(bytes.clone()).map_err(|_| Error::parse(path, "not UTF-8 text"))?;
    let mut pools: [Vec<(String, String)>; 3] = Default::default();
    let mut seen = std::collections::HashSet::new();
    let mut empty = 0;
    for line in s.lines() {
        let t = line.trim();
        let n = crate::text::normalise(t);
        if n.is_empty() {
            empty += 1;
            continue;
        }
        if t.contains('\t') {
            return Err(Error::parse(path, format!("line {t:?} contains a tab")));
        }
        if seen.insert(n.clone()) {
            pools[split_index(sentence_split(cfg.seed, &n, cfg.heldout_sentence_fraction))]
                .push((t.to_string(), n));
        }
    }
    for (i, split) in Split::ALL.iter().enumerate() {
        let needed = if *split == Split::Train {
            cfg.hours
        } else {
            cfg.eval_hours
        } > 0.0;
        if needed && pools[i].is_empty() {
            return Err(Error::parse(
                path,
                format!(
                    "no sentence falls in the {split} split ({} distinct sentences, {empty} empty lines); give more sentences or raise heldout_sentence_fraction",
                    seen.len()
                ),
            ));
        }
    }
    if empty > 0 {
        eprintln!("{}: skipped {empty} lines with no words", path.display());
    }
    Ok((TextSource::Lines(pools), hex::encode(sha(&[&bytes]))))
}

fn journal_path(root: &Path, split: Split, first: usize) -> PathBuf {
    root.join(JOURNAL_DIR)
        .join(format!("{split}-{first:07}.tsv"))
}

/// Rows of a finished chunk, if its journal exists and all its WAVs are there.
fn read_journal(root: &Path, path: &Path) -> Option<Vec<Utterance>> {
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(b'\t')
        .quoting(false)
        .has_headers(true)
        .from_path(path)
        .ok()?;
    let rows: Vec<Utterance> = rdr
        .deserialize()
        .collect::<std::result::Result<_, _>>()
        .ok()?;
    let all_there = rows.iter().all(|u| {
        std::fs::metadata(root.join(&u.audio))
            .map(|m| m.len() as f64 >= 44.0 + u.duration * TARGET_RATE as f64 * 2.0 - 2.0)
            .unwrap_or(false)
    });
    (all_there && !rows.is_empty()).then_some(rows)
}

fn write_journal(path: &Path, rows: &[Utterance]) -> Result<()> {
    crate::atomic_file::write_with(path, |f| {
        let mut w = csv::WriterBuilder::new()
            .delimiter(b'\t')
            .quote_style(csv::QuoteStyle::Never)
            .from_writer(f);
        for u in rows {
            w.serialize(u)
                .map_err(|e| Error::parse(path, e.to_string()))?;
        }
        w.flush().map_err(|e| Error::io(path, e))
    })
}

/// Generate (or resume, or extend) a synthetic corpus in `out`. Runs in the
/// current rayon thread pool. `progress` shows a bar on stderr.
pub fn generate(cfg: &SynthConfig, out: &Path, progress: bool) -> Result<SynthReport> {
    cfg.validate()?;
    voices::check_programs()?;
    let (src, text_sha256) = match &cfg.text {
        Some(p) => {
            let (s, h) = load_text(p, cfg)?;
            (s, Some(h))
        }
        None => (
            TextSource::Grammar(Box::new(Grammar::new(cfg.vocab_per_category, cfg.zipf))),
            None,
        ),
    };
    std::fs::create_dir_all(out.join("wav")).map_err(|e| Error::io(out, e))?;
    std::fs::create_dir_all(out.join(JOURNAL_DIR)).map_err(|e| Error::io(out, e))?;

    // Settings: a folder made with other settings (other than hours) is not reused.
    let settings_path = out.join(SETTINGS_FILE);
    let settings = Settings {
        tool: format!("crossover {}", env!("CARGO_PKG_VERSION")),
        ids: ID_FORM.to_string(),
        text_sha256,
        train_voices: voices_for(cfg, Split::Train)
            .iter()
            .map(|v| v.id())
            .collect(),
        held_out_voices: voices::held_out_voices().iter().map(|v| v.id()).collect(),
        config: cfg.clone(),
    };
    if settings_path.exists() {
        let old: Settings = toml::from_str(
            &std::fs::read_to_string(&settings_path).map_err(|e| Error::io(&settings_path, e))?,
        )
        .map_err(|e| Error::parse(&settings_path, e.to_string()))?;
        if old.ids != settings.ids {
            return Err(Error::Config(format!(
                "{} holds a corpus made by an older crossover ({}) whose utterance ids are not of the form {ID_FORM}; \
                 delete the folder (or use another --out) to regenerate it",
                out.display(),
                old.tool
            )));
        }
        let same = SynthConfig {
            hours: cfg.hours,
            ..old.config.clone()
        } == *cfg
            && old.text_sha256 == settings.text_sha256;
        if !same {
            return Err(Error::Config(format!(
                "{} holds a corpus made with other settings (see {}); use another --out folder or delete this one",
                out.display(),
                settings_path.display()
            )));
        }
    }
    let toml_text = toml::to_string(&settings)
        .map_err(|e| Error::Config(format!("cannot write settings: {e}")))?;
    std::fs::write(
        &settings_path,
        format!(
            "# Written by `crossover corpus synth`; every setting of this corpus.\n{toml_text}"
        ),
    )
    .map_err(|e| Error::io(&settings_path, e))?;

    let targets = [
        cfg.hours * 3600.0,
        cfg.eval_hours * 3600.0,
        cfg.eval_hours * 3600.0,
    ];
    let bar = if progress {
        indicatif::ProgressBar::new(targets.iter().sum::<f64>().ceil() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:>6} [{bar:40}] {pos}/{len} audio s, {elapsed} elapsed, ETA {eta}",
        )
        .unwrap()
        .progress_chars("=> "),
    );
    bar.set_message("babble");
    let babble = babble_pool(cfg, &src)?;

    let mut report = SynthReport::default();
    let mut rows: Vec<Utterance> = Vec::new();
    for (si, split) in Split::ALL.into_iter().enumerate() {
        bar.set_message(split.as_str());
        let voices = voices_for(cfg, split);
        let target = targets[si];
        let mut total = 0.0;
        let mut count = 0;
        // Chunks are keyed by their first utterance index; their size only
        // shapes the work (an utterance depends on its index alone), so the
        // last chunks shrink to about what the target still needs.
        let mut next = 0usize;
        let mut mean_dur = 3.5f64;
        let base: f64 = targets[..si].iter().sum();
        while total < target {
            let jpath = journal_path(out, split, next);
            let chunk_rows = match read_journal(out, &jpath) {
                Some(r) => {
                    report.chunks_reused += 1;
                    r
                }
                None => {
                    let want = ((target - total) / mean_dur * 1.05).ceil() as usize + 2;
                    let size = want.clamp(4, cfg.chunk);
                    let plans: Vec<Plan> = (next..next + size)
                        .map(|i| plan(cfg, &src, split, i, &voices))
                        .collect::<Result<_>>()?;
                    let texts: Vec<String> = plans.iter().map(|p| p.norm.clone()).collect();
                    let phon: Vec<String> = texts
                        .par_chunks(32)
                        .map(phonemes::phonemise)
                        .collect::<Result<Vec<_>>>()?
                        .concat();
                    let r: Vec<Utterance> = plans
                        .par_iter()
                        .zip(phon.into_par_iter())
                        .map(|(p, ph)| make_utterance(cfg, p, split, ph, &babble, out))
                        .collect::<Result<_>>()?;
                    write_journal(&jpath, &r)?;
                    report.chunks_made += 1;
                    r
                }
            };
            next += chunk_rows.len();
            let n_rows = chunk_rows.len();
            let mut kept = 0;
            for u in chunk_rows {
                if total >= target {
                    break;
                }
                total += u.duration;
                count += 1;
                kept += 1;
                rows.push(u);
            }
            if kept < n_rows {
                // The target was reached inside this chunk: journal only the rows
                // kept, so the WAVs of the rest can go and a resumed or extended
                // run carries on from the next index.
                write_journal(&jpath, &rows[rows.len() - kept..])?;
            }
            bar.set_position((base + total.min(target)) as u64);
            if count > 0 {
                mean_dur = total / count as f64;
            }
        }
        report.splits.push((split, count, total / 3600.0));
    }
    bar.finish_and_clear();

    // Remove WAVs no row refers to (the tail of a last chunk, or a larger earlier run).
    let keep: std::collections::HashSet<PathBuf> =
        rows.iter().map(|u| out.join(&u.audio)).collect();
    let wav_dir = out.join("wav");
    for entry in std::fs::read_dir(&wav_dir).map_err(|e| Error::io(&wav_dir, e))? {
        let p = entry.map_err(|e| Error::io(&wav_dir, e))?.path();
        if !keep.contains(&p) {
            std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
        } else {
            report.wav_bytes += std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        }
    }
    write_voices_md(out, cfg)?;
    write_text_files(out, cfg, &src)?;
    Corpus {
        root: out.to_path_buf(),
        utterances: rows,
    }
    .save()?;
    Ok(report)
}

/// `vocab.txt`: every word the text source can produce (one per line, sorted);
/// `lm_text.txt`: `lm_sentences` training-split sentences, normalised.
fn write_text_files(out: &Path, cfg: &SynthConfig, src: &TextSource) -> Result<()> {
    let vocab: std::collections::BTreeSet<String> = match src {
        TextSource::Grammar(g) => g.vocabulary(),
        TextSource::Lines(pools) => pools
            .iter()
            .flatten()
            .flat_map(|(_, n)| n.split(' ').map(String::from))
            .collect(),
    };
    let p = out.join("vocab.txt");
    std::fs::write(&p, vocab.into_iter().map(|w| w + "\n").collect::<String>())
        .map_err(|e| Error::io(&p, e))?;
    let p = out.join("lm_text.txt");
    let mut text = String::new();
    match src {
        TextSource::Grammar(g) => {
            let mut rng = rng_for(cfg.seed, 4, 0, 3);
            let mut n = 0;
            while n < cfg.lm_sentences {
                let norm = crate::text::normalise(&g.sentence(&mut rng));
                if sentence_split(cfg.seed, &norm, cfg.heldout_sentence_fraction) == Split::Train {
                    text += &norm;
                    text.push('\n');
                    n += 1;
                }
            }
        }
        TextSource::Lines(pools) => {
            for (_, norm) in pools[0].iter().take(cfg.lm_sentences) {
                text += norm;
                text.push('\n');
            }
        }
    }
    std::fs::write(&p, text).map_err(|e| Error::io(&p, e))
}

fn write_voices_md(out: &Path, cfg: &SynthConfig) -> Result<()> {
    let mut s = String::from(
        "# Voices of this synthetic corpus\n\nTraining voices (train split only):\n\n",
    );
    for v in voices_for(cfg, Split::Train) {
        s += &format!("- `{}`\n", v.id());
    }
    s += "\nHeld-out voices (dev and test only; never in train):\n\n";
    for v in voices::held_out_voices() {
        s += &format!("- `{}`\n", v.id());
    }
    let p = out.join("VOICES.md");
    std::fs::write(&p, s).map_err(|e| Error::io(&p, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kaldi's rule: sorted by utterance id in C byte order, each speaker's
    /// utterances are contiguous. Checked on every voice of the inventory (as
    /// if every voice spoke in every split) at indices of several widths.
    #[test]
    fn ids_start_with_the_voice_and_sort_by_speaker_in_every_split() {
        for split in Split::ALL {
            let mut ids: Vec<(String, String)> = Vec::new();
            for v in VOICES {
                for i in [0, 7, 10, 99, 123, 4567, 99_999, 1_234_567] {
                    let id = utterance_id(v, split, i);
                    assert!(id.starts_with(&format!("{}-", v.id())), "{id}");
                    assert!(!id.chars().any(char::is_whitespace), "{id}");
                    ids.push((id, v.id()));
                }
            }
            ids.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            let mut seen = std::collections::HashSet::new();
            for w in ids.windows(2) {
                assert_ne!(w[0].0, w[1].0, "duplicate id");
                if w[0].1 != w[1].1 {
                    assert!(
                        seen.insert(w[0].1.clone()),
                        "{split}: voice {} interleaves with {} at {}",
                        w[0].1,
                        w[1].1,
                        w[1].0
                    );
                }
            }
            // Within a voice, the id order is the index order (fixed width).
            let v = &VOICES[0];
            let a = utterance_id(v, split, 9);
            let b = utterance_id(v, split, 10);
            assert!(a.as_bytes() < b.as_bytes(), "{a} {b}");
        }
        assert_eq!(
            utterance_id(&VOICES[2], Split::Test, 12),
            format!("{}-te-0000012", VOICES[2].id())
        );
    }
}
