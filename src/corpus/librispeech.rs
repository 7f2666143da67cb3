//! Importer for the LibriSpeech layout: `SUBSET/speaker/chapter/*.flac` with
//! `speaker-chapter.trans.txt` (lines `ID TRANSCRIPT`) in each chapter folder.
//!
//! `src` is either one subset folder (its rows all go to the split given), or a
//! folder holding subsets whose names start with `train`, `dev` or `test`
//! (`train-clean-100`, `dev-clean`, `test-other`, ...), which go to that split.
//! Ids are LibriSpeech's own (`speaker-chapter-nnnn`, already speaker-prefixed);
//! the speaker is the speaker folder; the group is empty (LibriSpeech's own
//! subsets are already speaker-disjoint).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::corpus::import::{absolute, has_ext, BadReason, BadRow, Candidate};
use crate::corpus::manifest::Split;
use crate::error::{Error, Result};

fn subdirs(d: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(d)
        .map_err(|e| Error::io(d, e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    v.sort();
    Ok(v)
}

fn name(p: &Path) -> String {
    p.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The subsets under `src` and their splits.
pub fn subsets(src: &Path, single: Split) -> Result<Vec<(PathBuf, Split)>> {
    let mut out = Vec::new();
    for d in subdirs(src)? {
        let n = name(&d);
        let s = if n.starts_with("train") {
            Split::Train
        } else if n.starts_with("dev") {
            Split::Dev
        } else if n.starts_with("test") {
            Split::Test
        } else {
            continue;
        };
        out.push((d, s));
    }
    if out.is_empty() {
        out.push((src.to_path_buf(), single));
    }
    Ok(out)
}

pub fn rows(src: &Path, single: Split) -> Result<Vec<std::result::Result<Candidate, BadRow>>> {
    let src = absolute(src)?;
    if !src.is_dir() {
        return Err(Error::parse(&src, "not a folder"));
    }
    let mut rows = Vec::new();
    for (subset, split) in subsets(&src, single)? {
        for spk_dir in subdirs(&subset)? {
            let speaker = name(&spk_dir);
            for ch_dir in subdirs(&spk_dir)? {
                let chapter = name(&ch_dir);
                let trans = ch_dir.join(format!("{speaker}-{chapter}.trans.txt"));
                let mut flacs: BTreeMap<String, PathBuf> = std::fs::read_dir(&ch_dir)
                    .map_err(|e| Error::io(&ch_dir, e))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| has_ext(p, &["flac"]))
                    .map(|p| {
                        (
                            p.file_stem()
                                .unwrap_or_default()
                                .to_string_lossy()
                                .into_owned(),
                            p,
                        )
                    })
                    .collect();
                let lines = match std::fs::read_to_string(&trans) {
                    Ok(s) => s,
                    Err(e) => {
                        let what = format!("no readable transcript file {} ({e})", trans.display());
                        rows.extend(flacs.values().map(|p| {
                            Err(BadRow::new(BadReason::MissingTranscript, p, what.clone()))
                        }));
                        continue;
                    }
                };
                for (ln, line) in lines.lines().enumerate() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let (id, text) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
                    let id = id.trim();
                    let audio = ch_dir.join(format!("{id}.flac"));
                    flacs.remove(id);
                    if !id.starts_with(&format!("{speaker}-{chapter}-")) {
                        rows.push(Err(BadRow::new(
                            BadReason::BadSource,
                            &trans,
                            format!("line {}: id {id} is not {speaker}-{chapter}-NNNN", ln + 1),
                        )));
                        continue;
                    }
                    rows.push(Ok(Candidate {
                        id: id.to_string(),
                        audio,
                        speaker: speaker.clone(),
                        split,
                        text: text.trim().to_string(),
                        norm_text: None,
                        group: String::new(),
                        expected_duration: None,
                        text_source: trans.clone(),
                        audio_origin: None,
                    }));
                }
                for p in flacs.into_values() {
                    rows.push(Err(BadRow::new(
                        BadReason::MissingTranscript,
                        &p,
                        format!("no line for it in {}", trans.display()),
                    )));
                }
            }
        }
    }
    if rows.is_empty() {
        return Err(Error::parse(&src, "no LibriSpeech chapters here: expected speaker/chapter/*.flac with speaker-chapter.trans.txt"));
    }
    Ok(rows)
}
