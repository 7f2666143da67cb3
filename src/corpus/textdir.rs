//! Importer for a folder of audio files, each with a same-stem `.txt`
//! transcript beside it (e.g. the shared `kathleen` corpus).
//!
//! - Audio: `.wav` and `.flac` files directly in the folder (and below it with `recursive`).
//! - Speaker: the given name, else the first-level subfolder a file is in, else the folder's name.
//! - Utterance id: `{speaker}-{stem}`.
//! - Group: the first capture group of `group_by` matched against the file stem
//!   (for kathleen `arctic_([ab][0-9]{4})_` gives the ARCTIC prompt id); without
//!   `group_by`, every file is its own group. All rows of a group land in one split.
//! - Split: by lists of group ids (test/dev; everything else train), or by seeded
//!   fractions of the distinct groups (counted in groups, not hours).
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::corpus::import::{absolute, has_ext, read_id_list, walk, BadReason, BadRow, Candidate};
use crate::corpus::manifest::Split;
use crate::error::{Error, Result};

/// How groups are assigned to splits.
#[derive(Debug, Clone)]
pub enum GroupSplit {
    /// Groups listed in `test` go to test, in `dev` to dev, all others to train.
    Lists {
        test: HashSet<String>,
        dev: HashSet<String>,
    },
    /// Seeded shuffle of the sorted distinct groups: the first `round(test * n)` are test, the next `round(dev * n)` dev.
    Fractions { dev: f64, test: f64, seed: u64 },
}

impl GroupSplit {
    /// Lists read from files (one group id a line).
    pub fn from_files(test: Option<&Path>, dev: Option<&Path>) -> Result<Self> {
        let read = |p: Option<&Path>| -> Result<HashSet<String>> {
            Ok(p.map(read_id_list)
                .transpose()?
                .unwrap_or_default()
                .into_iter()
                .collect())
        };
        let (test, dev) = (read(test)?, read(dev)?);
        if let Some(g) = test.intersection(&dev).next() {
            return Err(Error::Config(format!(
                "group {g} is in both the test and the dev list"
            )));
        }
        Ok(GroupSplit::Lists { test, dev })
    }
}

#[derive(Debug, Clone)]
pub struct TextdirOptions {
    pub group_by: Option<regex::Regex>,
    pub speaker: Option<String>,
    pub recursive: bool,
    pub split: GroupSplit,
}

/// Rows found, plus warnings (e.g. listed groups that no file has).
pub struct TextdirRows {
    pub rows: Vec<std::result::Result<Candidate, BadRow>>,
    pub warnings: Vec<String>,
}

pub fn rows(src: &Path, opts: &TextdirOptions) -> Result<TextdirRows> {
    if let Some(re) = &opts.group_by {
        if re.captures_len() < 2 {
            return Err(Error::Config(format!(
                "--group-by {:?} needs one capture group, e.g. 'arctic_([ab][0-9]{{4}})_'",
                re.as_str()
            )));
        }
    }
    let src = absolute(src)?;
    if !src.is_dir() {
        return Err(Error::parse(&src, "not a folder"));
    }
    let files: Vec<PathBuf> = if opts.recursive {
        walk(&src)?
    } else {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&src)
            .map_err(|e| Error::io(&src, e))?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.path())
            .collect();
        v.sort();
        v
    };
    let dir_name = src
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or("speaker")
        .to_string();
    // Audio and transcripts by (folder, stem).
    let mut audio: HashMap<PathBuf, PathBuf> = HashMap::new();
    let mut texts: HashMap<PathBuf, PathBuf> = HashMap::new();
    let mut keys = BTreeSet::new();
    for f in &files {
        let key = f.with_extension("");
        if has_ext(f, &["wav", "flac"]) {
            if let Some(prev) = audio.insert(key.clone(), f.clone()) {
                return Err(Error::parse(
                    f,
                    format!(
                        "two audio files with one stem: {} and {}",
                        prev.display(),
                        f.display()
                    ),
                ));
            }
            keys.insert(key);
        } else if has_ext(f, &["txt"]) {
            texts.insert(key.clone(), f.clone());
            keys.insert(key);
        }
    }
    if audio.is_empty() {
        return Err(Error::parse(&src, "no .wav or .flac files here"));
    }
    let mut rows = Vec::new();
    let mut groups = Vec::new(); // group per Ok row, parallel to rows
    for key in keys {
        let stem = key
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_string();
        let speaker = opts.speaker.clone().unwrap_or_else(|| {
            let rel = key.strip_prefix(&src).unwrap_or(&key);
            let mut comps = rel.components();
            match (comps.next(), comps.next()) {
                (Some(first), Some(_)) => first.as_os_str().to_string_lossy().into_owned(),
                _ => dir_name.clone(),
            }
        });
        let row = match (audio.get(&key), texts.get(&key)) {
            (None, Some(t)) => Err(BadRow::new(
                BadReason::MissingAudio,
                t,
                "transcript has no audio file beside it (.wav or .flac)",
            )),
            (Some(a), None) => Err(BadRow::new(
                BadReason::MissingTranscript,
                a,
                format!("no transcript {}", key.with_extension("txt").display()),
            )),
            (Some(a), Some(t)) => read_transcript(t).and_then(|text| {
                let group = match &opts.group_by {
                    None => stem.clone(),
                    Some(re) => match re.captures(&stem).and_then(|c| c.get(1)) {
                        Some(m) => m.as_str().to_string(),
                        None => {
                            return Err(BadRow::new(
                                BadReason::BadSource,
                                a,
                                format!("file name does not match --group-by {:?}", re.as_str()),
                            ))
                        }
                    },
                };
                Ok(Candidate {
                    id: format!("{speaker}-{stem}").replace(char::is_whitespace, "_"),
                    audio: a.clone(),
                    speaker: speaker.replace(char::is_whitespace, "_"),
                    split: Split::Train,
                    text,
                    norm_text: None,
                    group,
                    expected_duration: None,
                    text_source: t.clone(),
                    audio_origin: None,
                })
            }),
            (None, None) => unreachable!("every key comes from an audio or a transcript file"),
        };
        rows.push(row);
    }
    for c in rows.iter().flatten() {
        groups.push(c.group.clone());
    }
    let (assign, warnings) = assign_groups(&groups, &opts.split);
    for c in rows.iter_mut().flatten() {
        c.split = assign[&c.group];
    }
    Ok(TextdirRows { rows, warnings })
}

fn read_transcript(t: &Path) -> std::result::Result<String, BadRow> {
    match std::fs::read(t) {
        Err(e) => Err(BadRow::new(
            BadReason::MissingTranscript,
            t,
            format!("cannot read transcript: {e}"),
        )),
        Ok(bytes) => match String::from_utf8(bytes) {
            Err(_) => Err(BadRow::new(
                BadReason::BadSource,
                t,
                "transcript is not UTF-8 text",
            )),
            Ok(s) => Ok(s.split_whitespace().collect::<Vec<_>>().join(" ")),
        },
    }
}

/// The split of each distinct group, and warnings about list entries no file has.
pub fn assign_groups(groups: &[String], how: &GroupSplit) -> (HashMap<String, Split>, Vec<String>) {
    let distinct: BTreeSet<&String> = groups.iter().collect();
    let mut out = HashMap::new();
    let mut warnings = Vec::new();
    match how {
        GroupSplit::Lists { test, dev } => {
            for g in &distinct {
                let s = if test.contains(*g) {
                    Split::Test
                } else if dev.contains(*g) {
                    Split::Dev
                } else {
                    Split::Train
                };
                out.insert((*g).clone(), s);
            }
            for (name, list) in [("test", test), ("dev", dev)] {
                let mut missing: Vec<&String> =
                    list.iter().filter(|g| !distinct.contains(g)).collect();
                missing.sort();
                if !missing.is_empty() {
                    warnings.push(format!(
                        "{} group(s) in the {name} list have no files: {}{}",
                        missing.len(),
                        missing
                            .iter()
                            .take(5)
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        if missing.len() > 5 { ", ..." } else { "" }
                    ));
                }
            }
        }
        GroupSplit::Fractions { dev, test, seed } => {
            let mut v: Vec<&String> = distinct.into_iter().collect();
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(*seed);
            v.shuffle(&mut rng);
            let n = v.len() as f64;
            let n_test = (test * n).round() as usize;
            let n_dev = ((dev * n).round() as usize).min(v.len().saturating_sub(n_test));
            for (i, g) in v.into_iter().enumerate() {
                let s = if i < n_test {
                    Split::Test
                } else if i < n_test + n_dev {
                    Split::Dev
                } else {
                    Split::Train
                };
                out.insert(g.clone(), s);
            }
        }
    }
    (out, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn fractions_are_seeded_and_by_group() {
        let groups: Vec<String> = (0..100)
            .map(|i| format!("g{i:03}"))
            .flat_map(|g| [g.clone(), g])
            .collect();
        let how = GroupSplit::Fractions {
            dev: 0.1,
            test: 0.2,
            seed: 7,
        };
        let (a, _) = assign_groups(&groups, &how);
        let (b, _) = assign_groups(&groups, &how);
        assert_eq!(a, b);
        assert_eq!(a.values().filter(|s| **s == Split::Test).count(), 20);
        assert_eq!(a.values().filter(|s| **s == Split::Dev).count(), 10);
        let (c, _) = assign_groups(
            &groups,
            &GroupSplit::Fractions {
                dev: 0.1,
                test: 0.2,
                seed: 8,
            },
        );
        assert_ne!(a, c);
    }
}
