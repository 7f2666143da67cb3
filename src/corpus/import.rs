//! Shared importer machinery: every importer turns its source layout into a
//! list of [`Candidate`] rows (or [`BadRow`]s for rows that are already
//! known to be broken, such as an audio file without a transcript), and
//! [`validate`] decodes every audio file in parallel (rayon, with an
//! indicatif progress bar), measures its duration from the decoded samples
//! and checks it.
//!
//! Bad rows are never dropped silently: without `skip_bad` the first bad row
//! (in source order) is an error naming the file and what is wrong; with it,
//! bad rows are skipped and counted by [`BadReason`] in the [`ImportReport`].
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::audio::{self, ChannelMode};
use crate::corpus::manifest::{Split, Utterance};
use crate::error::{Error, Result};
use crate::text;

/// One row an importer found, before its audio has been checked.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: String,
    /// Absolute path of the audio file (referenced in place, never copied).
    pub audio: PathBuf,
    pub speaker: String,
    pub split: Split,
    /// Transcript as written.
    pub text: String,
    /// Normalised transcript; `None` means `text::normalise(text)`.
    pub norm_text: Option<String>,
    pub group: String,
    /// A duration the source declares (e.g. Kaldi `utt2dur`), checked against the audio.
    pub expected_duration: Option<f64>,
    /// The file the transcript came from, named in transcript errors.
    pub text_source: PathBuf,
    /// How `audio` was found, added to a missing-audio error (e.g. which
    /// folder a relative `wav.scp` path was taken against, and how to change it).
    pub audio_origin: Option<String>,
}

/// Why a row is bad. The order is the order of the printed summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BadReason {
    /// The audio file does not exist.
    MissingAudio,
    /// The audio file has 0 bytes or 0 samples.
    EmptyAudio,
    /// Not a WAV or FLAC file (unrecognised header).
    NotAudio,
    /// The file ends before the header says it should.
    TruncatedAudio,
    /// Any other decoding failure (bad header, corrupt stream, NaN samples).
    CorruptAudio,
    /// Peak amplitude below the silence threshold.
    SilentAudio,
    /// No transcript for an audio file.
    MissingTranscript,
    /// The transcript has no words after normalisation.
    EmptyTranscript,
    /// The audio's duration disagrees with the declared one, or is too short for the words.
    DurationMismatch,
    /// A file name the importer's layout does not allow, or source files that disagree.
    BadSource,
    /// The same utterance id twice.
    DuplicateId,
}

impl BadReason {
    pub fn as_str(self) -> &'static str {
        match self {
            BadReason::MissingAudio => "missing audio",
            BadReason::EmptyAudio => "empty audio",
            BadReason::NotAudio => "not audio",
            BadReason::TruncatedAudio => "truncated audio",
            BadReason::CorruptAudio => "corrupt audio",
            BadReason::SilentAudio => "silent audio",
            BadReason::MissingTranscript => "missing transcript",
            BadReason::EmptyTranscript => "empty transcript",
            BadReason::DurationMismatch => "duration mismatch",
            BadReason::BadSource => "bad source row",
            BadReason::DuplicateId => "duplicate id",
        }
    }
}

/// A rejected row: why, which file, and a sentence saying what is wrong.
#[derive(Debug, Clone)]
pub struct BadRow {
    pub reason: BadReason,
    pub path: PathBuf,
    pub what: String,
}

impl BadRow {
    pub fn new(reason: BadReason, path: impl Into<PathBuf>, what: impl Into<String>) -> Self {
        BadRow {
            reason,
            path: path.into(),
            what: what.into(),
        }
    }
    pub fn into_error(self) -> Error {
        let what = format!("{} ({})", self.what, self.reason.as_str());
        match self.reason {
            BadReason::MissingAudio
            | BadReason::EmptyAudio
            | BadReason::NotAudio
            | BadReason::TruncatedAudio
            | BadReason::CorruptAudio
            | BadReason::SilentAudio
            | BadReason::DurationMismatch => Error::audio(self.path, what),
            _ => Error::parse(self.path, what),
        }
    }
}

/// Options shared by all importers.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Skip bad rows (and count them) instead of failing on the first one.
    pub skip_bad: bool,
    /// Draw a progress bar on stderr (only when stderr is a terminal).
    pub progress: bool,
    /// A file whose peak absolute sample (16-bit scale) is below this is silent.
    pub silence_peak: f32,
    /// Largest allowed difference (seconds) between a declared and the measured duration.
    pub max_duration_diff: f64,
    /// Shortest plausible time per word (seconds): a 0.1 s file cannot hold a ten-word sentence.
    pub min_seconds_per_word: f64,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            skip_bad: false,
            progress: false,
            silence_peak: 8.0,
            max_duration_diff: 0.05,
            min_seconds_per_word: 0.06,
        }
    }
}

/// What an import kept and skipped.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub kept: usize,
    pub skipped: BTreeMap<BadReason, Vec<BadRow>>,
}

impl ImportReport {
    pub fn skipped_total(&self) -> usize {
        self.skipped.values().map(Vec::len).sum()
    }
    pub fn count(&self, r: BadReason) -> usize {
        self.skipped.get(&r).map_or(0, Vec::len)
    }
}

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "kept {} utterances, skipped {}",
            self.kept,
            self.skipped_total()
        )?;
        for (reason, rows) in &self.skipped {
            writeln!(f, "  {:<20} {:>6}", reason.as_str(), rows.len())?;
            for r in rows.iter().take(3) {
                writeln!(f, "      e.g. {}: {}", r.path.display(), r.what)?;
            }
        }
        Ok(())
    }
}

/// Decode and check every candidate, in parallel; return the manifest rows sorted by id.
pub fn validate(
    rows: Vec<std::result::Result<Candidate, BadRow>>,
    opts: &ImportOptions,
) -> Result<(Vec<Utterance>, ImportReport)> {
    let mut report = ImportReport::default();
    let skip = |b: BadRow, report: &mut ImportReport| -> Result<()> {
        if opts.skip_bad {
            report.skipped.entry(b.reason).or_default().push(b);
            Ok(())
        } else {
            Err(b.into_error())
        }
    };
    // Cheap checks first (structure, transcripts, ids), in source order.
    let mut seen = HashSet::new();
    let mut todo = Vec::new();
    for row in rows {
        let mut c = match row {
            Ok(c) => c,
            Err(b) => {
                skip(b, &mut report)?;
                continue;
            }
        };
        let norm = c
            .norm_text
            .take()
            .unwrap_or_else(|| text::normalise(&c.text));
        if norm.is_empty() {
            skip(
                BadRow::new(
                    BadReason::EmptyTranscript,
                    &c.text_source,
                    format!(
                        "transcript of {} has no words after normalisation: {:?}",
                        c.id, c.text
                    ),
                ),
                &mut report,
            )?;
            continue;
        }
        if !seen.insert(c.id.clone()) {
            skip(
                BadRow::new(
                    BadReason::DuplicateId,
                    &c.audio,
                    format!("utterance id {} occurs twice", c.id),
                ),
                &mut report,
            )?;
            continue;
        }
        if c.id.is_empty()
            || c.id.chars().any(char::is_whitespace)
            || c.speaker.is_empty()
            || c.speaker.chars().any(char::is_whitespace)
        {
            skip(
                BadRow::new(
                    BadReason::BadSource,
                    &c.audio,
                    format!(
                        "utterance id {:?} or speaker {:?} is empty or has white space",
                        c.id, c.speaker
                    ),
                ),
                &mut report,
            )?;
            continue;
        }
        // The manifest is tab-separated: white space inside a field becomes a space.
        c.text = c.text.replace(['\t', '\n', '\r'], " ");
        c.group = c.group.replace(['\t', '\n', '\r'], " ");
        c.norm_text = Some(norm);
        todo.push(c);
    }

    let pb = progress_bar(todo.len() as u64, opts.progress, "checking audio");
    let checked: Vec<std::result::Result<Utterance, BadRow>> = todo
        .into_par_iter()
        .map(|c| {
            let r = check_one(c, opts);
            pb.inc(1);
            r
        })
        .collect();
    pb.finish_and_clear();

    let mut out = Vec::with_capacity(checked.len());
    for r in checked {
        match r {
            Ok(u) => out.push(u),
            Err(b) => skip(b, &mut report)?,
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    report.kept = out.len();
    Ok((out, report))
}

/// A progress bar on stderr, hidden when not wanted (indicatif also hides it when stderr is not a terminal).
pub fn progress_bar(n: u64, show: bool, msg: &'static str) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(n);
    pb.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})")
            .expect("static template")
            .progress_chars("=> "),
    );
    pb.set_message(msg);
    pb
}

/// Classify an audio file: the measured duration, or why it is bad.
pub fn check_audio(path: &Path, opts: &ImportOptions) -> std::result::Result<f64, BadRow> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(BadRow::new(
                BadReason::MissingAudio,
                path,
                "audio file not found",
            ));
        }
        Err(e) => {
            return Err(BadRow::new(
                BadReason::MissingAudio,
                path,
                format!("cannot read audio file: {e}"),
            ))
        }
    };
    if !meta.is_file() {
        return Err(BadRow::new(
            BadReason::MissingAudio,
            path,
            "audio path is not a regular file",
        ));
    }
    if meta.len() == 0 {
        return Err(BadRow::new(
            BadReason::EmptyAudio,
            path,
            "audio file is empty (0 bytes)",
        ));
    }
    let a = match audio::read(path, ChannelMode::Mix) {
        Ok(a) => a,
        Err(e) => {
            let what = match &e {
                Error::Audio { what, .. } => what.clone(),
                other => other.to_string(),
            };
            // hound reports a WAV cut inside a sample frame as "Failed to read enough bytes".
            let what = if what.contains("Failed to read enough bytes") {
                format!("truncated WAV: {what}")
            } else {
                what
            };
            let reason = if what.contains("unrecognised header") {
                BadReason::NotAudio
            } else if what.contains("truncated") {
                BadReason::TruncatedAudio
            } else if what.contains("no samples") || what.contains("is empty") {
                BadReason::EmptyAudio
            } else {
                BadReason::CorruptAudio
            };
            return Err(BadRow::new(reason, path, what));
        }
    };
    let peak = a.samples.iter().fold(0f32, |m, x| m.max(x.abs()));
    if peak < opts.silence_peak {
        return Err(BadRow::new(
            BadReason::SilentAudio,
            path,
            format!(
                "audio is silent: peak amplitude {peak} < {} (16-bit scale)",
                opts.silence_peak
            ),
        ));
    }
    Ok(a.duration())
}

fn check_one(c: Candidate, opts: &ImportOptions) -> std::result::Result<Utterance, BadRow> {
    let duration = check_audio(&c.audio, opts).map_err(|mut bad| {
        if let (BadReason::MissingAudio, Some(origin)) = (bad.reason, &c.audio_origin) {
            bad.what = format!("{}: {origin}", bad.what);
        }
        bad
    })?;
    let norm_text = c.norm_text.expect("normalised before checking");
    if let Some(exp) = c.expected_duration {
        if (exp - duration).abs() > opts.max_duration_diff {
            return Err(BadRow::new(
                BadReason::DurationMismatch,
                &c.audio,
                format!("declared duration {exp:.3} s but the audio lasts {duration:.3} s"),
            ));
        }
    }
    let n_words = text::words(&norm_text).len();
    if duration < n_words as f64 * opts.min_seconds_per_word {
        return Err(BadRow::new(
            BadReason::DurationMismatch,
            &c.audio,
            format!(
                "audio lasts {duration:.3} s, too short for the {n_words} words of its transcript"
            ),
        ));
    }
    Ok(Utterance {
        id: c.id,
        audio: c.audio,
        speaker: c.speaker,
        split: c.split,
        duration: (duration * 1e4).round() / 1e4,
        text: c.text,
        norm_text,
        phonemes: String::new(),
        group: c.group,
        augment: String::new(),
    })
}

/// Make a path absolute (against the current directory) and resolve `.` and
/// `..` lexically; symlinks are kept as they are (the user's path is the path).
pub fn absolute(p: &Path) -> Result<PathBuf> {
    let abs = std::path::absolute(p).map_err(|e| Error::io(p, e))?;
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    Ok(out)
}

/// Files directly in or below `dir`, sorted, recursively.
pub fn walk(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(|e| Error::io(&d, e))?;
        for entry in rd {
            let entry = entry.map_err(|e| Error::io(&d, e))?;
            let p = entry.path();
            let ft = entry.file_type().map_err(|e| Error::io(&p, e))?;
            if ft.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

pub fn has_ext(p: &Path, exts: &[&str]) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| exts.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Read a list of ids (one per line; blank lines and `#` comments ignored).
pub fn read_id_list(path: &Path) -> Result<Vec<String>> {
    let s = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    Ok(s.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

/// Write the imported rows as a new corpus `out/manifest.tsv`; refuses to
/// overwrite an existing manifest unless `force`.
pub fn save_new(
    out: &Path,
    utterances: Vec<Utterance>,
    force: bool,
) -> Result<crate::corpus::Corpus> {
    let m = out.join(crate::corpus::MANIFEST_FILE);
    if m.exists() && !force {
        return Err(Error::parse(
            &m,
            "a manifest exists already (use --force to replace it)",
        ));
    }
    if utterances.is_empty() {
        return Err(Error::Invalid(format!(
            "{}: nothing to write, every row was skipped",
            out.display()
        )));
    }
    let c = crate::corpus::Corpus {
        root: out.to_path_buf(),
        utterances,
    };
    c.save()?;
    Ok(c)
}

/// Make a dev split from whole training speakers: every utterance of
/// `speakers` speakers drawn from the training rows (seeded, from the sorted
/// speaker list) moves to dev, so dev speakers are unseen in training as a
/// speaker-disjoint test set's are. For sources that ship train and test but
/// no dev (speechocean762). Returns the chosen speakers, sorted. An error if
/// the rows have a dev split already or too few training speakers.
pub fn carve_dev_by_speaker(
    rows: &mut [std::result::Result<Candidate, BadRow>],
    speakers: usize,
    seed: u64,
) -> Result<Vec<String>> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    if rows.iter().flatten().any(|c| c.split == Split::Dev) {
        return Err(Error::Config(
            "the source has a dev split already; dev speakers are carved from train only when it has none".into(),
        ));
    }
    let mut train: Vec<&str> = rows
        .iter()
        .flatten()
        .filter(|c| c.split == Split::Train)
        .map(|c| c.speaker.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if speakers == 0 || speakers >= train.len() {
        return Err(Error::Config(format!(
            "cannot carve {speakers} dev speakers from {} training speakers (need at least 1 and fewer than all)",
            train.len()
        )));
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    train.shuffle(&mut rng);
    let mut chosen: Vec<String> = train[..speakers].iter().map(|s| s.to_string()).collect();
    chosen.sort();
    for c in rows.iter_mut().flatten() {
        if c.split == Split::Train && chosen.binary_search(&c.speaker).is_ok() {
            c.split = Split::Dev;
        }
    }
    Ok(chosen)
}
