//! The corpus manifest: one row per utterance, the only way any recogniser or
//! the sweep learns about data. A corpus is a folder holding `manifest.tsv`
//! (tab-separated, with a header row); audio paths in it are relative to the
//! folder or absolute.
//!
//! Columns (schema version 1, documented in docs/CORPORA.md):
//! | column      | meaning |
//! |-------------|---------|
//! | id          | utterance id, unique, no white space (Kaldi-safe) |
//! | audio       | path to a WAV or FLAC file (relative to the corpus folder, or absolute) |
//! | speaker     | speaker or synthetic voice id |
//! | split       | `train`, `dev` or `test` |
//! | duration    | seconds, from the audio header |
//! | text        | transcript as written |
//! | norm_text   | normalised transcript ([`crate::text::normalise`]) used for training and scoring |
//! | phonemes    | espeak-ng phoneme string of the text, if known (synthetic corpora), else empty |
//! | group       | prompt/sentence group id used to keep readings of one prompt in one split, else empty |
//! | augment     | augmentation applied, `key=value;...`, else empty |
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const MANIFEST_FILE: &str = "manifest.tsv";

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Dev,
    Test,
}

impl Split {
    pub const ALL: [Split; 3] = [Split::Train, Split::Dev, Split::Test];
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Dev => "dev",
            Split::Test => "test",
        }
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Split {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "train" => Ok(Split::Train),
            "dev" => Ok(Split::Dev),
            "test" => Ok(Split::Test),
            _ => Err(Error::Invalid(format!(
                "unknown split {s:?} (expected train, dev or test)"
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Utterance {
    pub id: String,
    pub audio: PathBuf,
    pub speaker: String,
    pub split: Split,
    pub duration: f64,
    pub text: String,
    pub norm_text: String,
    #[serde(default)]
    pub phonemes: String,
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub augment: String,
}

/// A corpus folder and its manifest rows, in manifest order.
#[derive(Debug, Clone)]
pub struct Corpus {
    pub root: PathBuf,
    pub utterances: Vec<Utterance>,
}

impl Corpus {
    /// Load `DIR/manifest.tsv`. Errors name the file and the row.
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(MANIFEST_FILE);
        if !path.exists() {
            return Err(Error::parse(&path, "no manifest here: is this a crossover corpus folder? (make one with `crossover corpus import` or `crossover corpus synth`)"));
        }
        let mut rdr = csv::ReaderBuilder::new()
            .delimiter(b'\t')
            .quoting(false)
            .from_path(&path)
            .map_err(|e| Error::parse(&path, e.to_string()))?;
        let mut utterances = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (i, row) in rdr.deserialize::<Utterance>().enumerate() {
            let u = row.map_err(|e| Error::parse(&path, format!("row {}: {e}", i + 2)))?;
            if !seen.insert(u.id.clone()) {
                return Err(Error::parse(
                    &path,
                    format!("row {}: duplicate utterance id {}", i + 2, u.id),
                ));
            }
            utterances.push(u);
        }
        Ok(Corpus {
            root: dir.to_path_buf(),
            utterances,
        })
    }

    /// Write `DIR/manifest.tsv` (atomically: a temp file renamed into place).
    pub fn save(&self) -> Result<()> {
        std::fs::create_dir_all(&self.root).map_err(|e| Error::io(&self.root, e))?;
        let path = self.root.join(MANIFEST_FILE);
        crate::atomic_file::write_with(&path, |f| {
            let mut w = csv::WriterBuilder::new()
                .delimiter(b'\t')
                .quote_style(csv::QuoteStyle::Never)
                .from_writer(f);
            for u in &self.utterances {
                for field in [
                    &u.id,
                    &u.speaker,
                    &u.text,
                    &u.norm_text,
                    &u.phonemes,
                    &u.group,
                    &u.augment,
                ] {
                    if field.contains('\t') || field.contains('\n') {
                        return Err(Error::Invalid(format!(
                            "utterance {}: a field contains a tab or newline",
                            u.id
                        )));
                    }
                }
                w.serialize(u)
                    .map_err(|e| Error::parse(&path, e.to_string()))?;
            }
            w.flush().map_err(|e| Error::io(&path, e))
        })
    }

    /// Absolute path of an utterance's audio.
    pub fn audio_path(&self, u: &Utterance) -> PathBuf {
        if u.audio.is_absolute() {
            u.audio.clone()
        } else {
            self.root.join(&u.audio)
        }
    }

    pub fn split(&self, split: Split) -> Vec<&Utterance> {
        self.utterances
            .iter()
            .filter(|u| u.split == split)
            .collect()
    }

    /// Hours of audio in a split.
    pub fn hours(&self, split: Split) -> f64 {
        self.split(split).iter().map(|u| u.duration).sum::<f64>() / 3600.0
    }
}
