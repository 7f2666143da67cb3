//! Speaker attributes a corpus records (`speakers.tsv` in the corpus folder:
//! `speaker`, `gender`, `age`, tab-separated with a header; empty where
//! unknown), imported from Kaldi's `spk2gender` and `spk2age`. The report
//! breaks test WER down by them (children against older speakers, female
//! against male): which system degrades least on whose speech.
use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const SPEAKERS_FILE: &str = "speakers.tsv";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SpeakerInfo {
    pub speaker: String,
    /// `f` or `m` as Kaldi's spk2gender writes it.
    pub gender: Option<String>,
    /// Age in years.
    pub age: Option<u32>,
}

/// Write `dir/speakers.tsv` (nothing when `speakers` is empty).
pub fn write(dir: &Path, speakers: &BTreeMap<String, SpeakerInfo>) -> Result<()> {
    if speakers.is_empty() {
        return Ok(());
    }
    let p = dir.join(SPEAKERS_FILE);
    let mut w = csv::WriterBuilder::new()
        .delimiter(b'\t')
        .from_path(&p)
        .map_err(|e| Error::parse(&p, e.to_string()))?;
    for s in speakers.values() {
        w.serialize(s)
            .map_err(|e| Error::parse(&p, e.to_string()))?;
    }
    w.flush().map_err(|e| Error::io(&p, e))
}

/// The corpus's speaker attributes, if it records any.
pub fn read(dir: &Path) -> Result<Option<BTreeMap<String, SpeakerInfo>>> {
    let p = dir.join(SPEAKERS_FILE);
    if !p.is_file() {
        return Ok(None);
    }
    let mut r = csv::ReaderBuilder::new()
        .delimiter(b'\t')
        .from_path(&p)
        .map_err(|e| Error::parse(&p, e.to_string()))?;
    let mut out = BTreeMap::new();
    for (i, row) in r.deserialize::<SpeakerInfo>().enumerate() {
        let s = row.map_err(|e| Error::parse(&p, format!("row {}: {e}", i + 2)))?;
        out.insert(s.speaker.clone(), s);
    }
    Ok(Some(out))
}
