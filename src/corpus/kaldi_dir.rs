//! Kaldi data directories (`wav.scp`, `text`, `utt2spk`, `spk2utt`, `utt2dur`).
//!
//! Export writes one data dir per non-empty split, `OUT/{train,dev,test}`:
//! - every file sorted by utterance id in C (byte) order, as Kaldi's
//!   `utils/validate_data_dir.sh` requires;
//! - utterance ids are the manifest's, unchanged, so that `crossover decode`
//!   output (manifest ids) scores against the exported `text`;
//! - Kaldi also requires `utt2spk` sorted by utterance to be sorted by speaker too
//!   (`utils/validate_data_dir.sh`), which holds when every utterance id starts
//!   with its speaker id and a `-`. Our importers and the synthetic generator make
//!   ids that way; a corpus whose ids break the rule (speakers not contiguous when
//!   sorted by id) is refused with an error naming the utterance, rather than
//!   exported under ids that differ from the manifest;
//! - `text` holds the normalised transcript; `wav.scp` an absolute audio path
//!   (with `flac_pipe`, FLAC files become `flac -c -d -s PATH |`, since Kaldi itself reads only WAV);
//! - `utt2dur` holds the manifest durations.
//!
//! Only id, speaker, split, audio, duration and normalised text survive a round
//! trip: phonemes, groups and augmentation have no Kaldi file.
//!
//! Import reads a data dir (its rows go to one split) or a parent folder with
//! `train`/`dev`/`test` data dirs. `wav.scp` entries must be file paths.
//! Relative ones are taken against a *wav root*: the folder given to the
//! importer unless `wav_root` says otherwise (`[kaldi] wav_root` in a recipe,
//! `--wav-root` on the command line). Kaldi itself takes them against the
//! current directory (the recipe's `s5/`), which makes an import depend on
//! where it is run; corpora that ship data dirs (speechocean762:
//! `WAVE/SPEAKER0001/...` beside `train/` and `test/`) write them against
//! their own root. A missing file's error says which root was used;
//! piped commands are rejected, except `flac -c -d -s PATH |` (and `-d -c`),
//! whose file we decode ourselves. A `segments` file is rejected (not supported).
//! If `utt2dur` is present, each declared duration is checked against the audio.
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::corpus::import::{absolute, BadReason, BadRow, Candidate};
use crate::corpus::manifest::{Corpus, Split, Utterance};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Write FLAC files as `flac -c -d -s PATH |` pipes.
    pub flac_pipe: bool,
}

/// What an export wrote: per split, the number of utterances and speakers.
#[derive(Debug, Clone, Default)]
pub struct ExportReport {
    pub splits: Vec<(Split, usize, usize)>,
}

pub fn export(corpus: &Corpus, out: &Path, opts: &ExportOptions) -> Result<ExportReport> {
    let mut report = ExportReport::default();
    for split in Split::ALL {
        let utts = corpus.split(split);
        if utts.is_empty() {
            continue;
        }
        let mut rows: Vec<(String, &Utterance)> = utts.iter().map(|u| (u.id.clone(), *u)).collect();
        rows.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        for w in rows.windows(2) {
            if w[0].0 == w[1].0 {
                return Err(Error::Invalid(format!(
                    "two utterances map to the Kaldi id {}",
                    w[0].0
                )));
            }
        }
        let mut spk2utt: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut last: Option<(&str, &str)> = None;
        for (k, u) in &rows {
            for (what, s) in [
                ("utterance id", k.as_str()),
                ("speaker id", u.speaker.as_str()),
            ] {
                if s.is_empty() || s.chars().any(char::is_whitespace) {
                    return Err(Error::Invalid(format!(
                        "{what} {s:?} is empty or contains white space; Kaldi cannot take it"
                    )));
                }
            }
            if u.norm_text.trim().is_empty() {
                return Err(Error::Invalid(format!(
                    "utterance {} has an empty normalised transcript",
                    u.id
                )));
            }
            if let Some((prev_id, prev_spk)) = last {
                if prev_spk != u.speaker && spk2utt.contains_key(u.speaker.as_str()) {
                    return Err(Error::Invalid(format!(
                        "{}: utterance {k} (speaker {}) sorts after {prev_id} (speaker {prev_spk}), so speaker {}'s utterances are not \
                         contiguous when sorted by id; Kaldi requires utt2spk sorted by utterance to be sorted by speaker too. \
                         Ids are exported as they are in the manifest; re-import so that every id starts with `{{speaker}}-`",
                        split.as_str(),
                        u.speaker,
                        u.speaker
                    )));
                }
            }
            last = Some((k, &u.speaker));
            spk2utt.entry(&u.speaker).or_default().push(k);
        }
        let dir = out.join(split.as_str());
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut wav = String::new();
        let mut text = String::new();
        let mut u2s = String::new();
        let mut u2d = String::new();
        for (k, u) in &rows {
            let p = corpus.audio_path(u);
            let p = absolute(&p)?;
            let ps = p.to_str().ok_or_else(|| {
                Error::Invalid(format!("{}: audio path is not UTF-8", p.display()))
            })?;
            if ps.chars().any(char::is_whitespace) {
                return Err(Error::Invalid(format!(
                    "{ps}: audio path contains white space; Kaldi's wav.scp cannot hold it"
                )));
            }
            let is_flac = crate::corpus::import::has_ext(&p, &["flac"]);
            if opts.flac_pipe && is_flac {
                wav.push_str(&format!("{k} flac -c -d -s {ps} |\n"));
            } else {
                wav.push_str(&format!("{k} {ps}\n"));
            }
            text.push_str(&format!("{k} {}\n", u.norm_text));
            u2s.push_str(&format!("{k} {}\n", u.speaker));
            u2d.push_str(&format!("{k} {}\n", u.duration));
        }
        let s2u: String = spk2utt
            .iter()
            .map(|(s, us)| format!("{s} {}\n", us.join(" ")))
            .collect();
        for (name, body) in [
            ("wav.scp", &wav),
            ("text", &text),
            ("utt2spk", &u2s),
            ("spk2utt", &s2u),
            ("utt2dur", &u2d),
        ] {
            let p = dir.join(name);
            let mut f = std::fs::File::create(&p).map_err(|e| Error::io(&p, e))?;
            f.write_all(body.as_bytes()).map_err(|e| Error::io(&p, e))?;
        }
        report.splits.push((split, rows.len(), spk2utt.len()));
    }
    if report.splits.is_empty() {
        return Err(Error::Invalid(format!(
            "{}: the corpus has no utterances",
            corpus.root.display()
        )));
    }
    Ok(report)
}

/// The data dirs under `src` and their splits: `src` itself (with `single`) if it
/// holds a `wav.scp`, else its `train`, `dev` and `test` subfolders.
pub fn data_dirs(src: &Path, single: Split) -> Result<Vec<(PathBuf, Split)>> {
    if src.join("wav.scp").is_file() {
        return Ok(vec![(src.to_path_buf(), single)]);
    }
    let found: Vec<(PathBuf, Split)> = Split::ALL
        .iter()
        .map(|s| (src.join(s.as_str()), *s))
        .filter(|(d, _)| d.join("wav.scp").is_file())
        .collect();
    if found.is_empty() {
        return Err(Error::parse(
            src,
            "not a Kaldi data dir (no wav.scp) and no train/, dev/ or test/ data dirs below it",
        ));
    }
    Ok(found)
}

/// `id rest-of-line` pairs of a Kaldi table file; errors name the file and line.
fn read_table(path: &Path, need_value: bool) -> Result<Vec<(String, String, usize)>> {
    let s = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    for (i, line) in s.lines().enumerate() {
        let line = line.trim_end();
        if line.trim().is_empty() {
            continue;
        }
        let (k, v) = match line.split_once(char::is_whitespace) {
            Some((k, v)) => (k, v.trim()),
            None => (line, ""),
        };
        if need_value && v.is_empty() {
            return Err(Error::parse(
                path,
                format!("line {}: {k} has no value", i + 1),
            ));
        }
        out.push((k.to_string(), v.to_string(), i + 1));
    }
    Ok(out)
}

/// Turn a `wav.scp` value into a file path, or say why it cannot be one.
pub fn wav_path(value: &str) -> std::result::Result<PathBuf, String> {
    let v = value.trim();
    if let Some(cmd) = v.strip_suffix('|') {
        let toks: Vec<&str> = cmd.split_whitespace().collect();
        if let ["flac", a, b, "-s", path] = toks.as_slice() {
            if (*a == "-c" && *b == "-d") || (*a == "-d" && *b == "-c") {
                return Ok(PathBuf::from(path));
            }
        }
        return Err(format!(
            "piped command {v:?} is not supported: wav.scp must list audio files (WAV or FLAC); run the command to make files first"
        ));
    }
    if v.starts_with('-') || v.contains(char::is_whitespace) {
        return Err(format!("wav.scp value {v:?} is not a plain file path"));
    }
    if let Some((_, off)) = v.rsplit_once(':') {
        if off.chars().all(|c| c.is_ascii_digit()) && !off.is_empty() {
            return Err(format!(
                "{v:?} is an ark offset (ark:offset); only plain audio files are supported"
            ));
        }
    }
    Ok(PathBuf::from(v))
}

/// The rows of the data dirs under `src` (see [`data_dirs`]). Relative
/// `wav.scp` paths are taken against `wav_root`, or `src` when it is `None`.
pub fn rows(
    src: &Path,
    single: Split,
    wav_root: Option<&Path>,
) -> Result<Vec<std::result::Result<Candidate, BadRow>>> {
    let (root, root_is) = match wav_root {
        Some(r) => (absolute(r)?, "the wav root given"),
        None => (absolute(src)?, "the folder given to the importer"),
    };
    let mut rows = Vec::new();
    for (dir, split) in data_dirs(src, single)? {
        if dir.join("segments").exists() {
            return Err(Error::parse(dir.join("segments"), "Kaldi segments (several utterances per recording) are not supported; cut the recordings into files first"));
        }
        let wav_scp = dir.join("wav.scp");
        let text_p = dir.join("text");
        let u2s_p = dir.join("utt2spk");
        let wavs = read_table(&wav_scp, true)?;
        let texts: HashMap<String, String> = read_table(&text_p, false)?
            .into_iter()
            .map(|(k, v, _)| (k, v))
            .collect();
        let u2s: HashMap<String, String> = read_table(&u2s_p, true)?
            .into_iter()
            .map(|(k, v, _)| (k, v))
            .collect();
        let u2d_p = dir.join("utt2dur");
        let u2d: HashMap<String, f64> = if u2d_p.is_file() {
            let mut m = HashMap::new();
            for (k, v, ln) in read_table(&u2d_p, true)? {
                let d = v.parse::<f64>().map_err(|_| {
                    Error::parse(&u2d_p, format!("line {ln}: duration {v:?} is not a number"))
                })?;
                m.insert(k, d);
            }
            m
        } else {
            HashMap::new()
        };
        let mut in_wav = std::collections::HashSet::new();
        for (id, value, ln) in wavs {
            in_wav.insert(id.clone());
            let (path, audio_origin) = match wav_path(&value) {
                Ok(p) if p.is_relative() => (
                    absolute(&root.join(&p))?,
                    Some(format!(
                        "{} line {ln} gives the relative path {}, taken against {} ({root_is}); \
                         if the paths start elsewhere, set the wav root (`[kaldi] wav_root` in a recipe, \
                         --wav-root for `corpus import kaldi`) to the folder they start from",
                        wav_scp.display(),
                        p.display(),
                        root.display()
                    )),
                ),
                Ok(p) => (absolute(&p)?, None),
                Err(what) => return Err(Error::parse(&wav_scp, format!("line {ln}: {what}"))),
            };
            let Some(text) = texts.get(&id) else {
                rows.push(Err(BadRow::new(
                    BadReason::MissingTranscript,
                    &text_p,
                    format!("utterance {id} is in wav.scp but not in text"),
                )));
                continue;
            };
            let Some(speaker) = u2s.get(&id) else {
                rows.push(Err(BadRow::new(
                    BadReason::BadSource,
                    &u2s_p,
                    format!("utterance {id} is in wav.scp but not in utt2spk"),
                )));
                continue;
            };
            rows.push(Ok(Candidate {
                id: id.clone(),
                audio: path,
                speaker: speaker.clone(),
                split,
                text: text.clone(),
                norm_text: None,
                group: String::new(),
                expected_duration: u2d.get(&id).copied(),
                text_source: text_p.clone(),
                audio_origin,
            }));
        }
        for (table, path) in [(&texts, &text_p), (&u2s, &u2s_p)] {
            let mut orphans: Vec<&String> = table.keys().filter(|k| !in_wav.contains(*k)).collect();
            orphans.sort();
            for id in orphans {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                rows.push(Err(BadRow::new(
                    BadReason::MissingAudio,
                    path,
                    format!("utterance {id} is in {name} but not in wav.scp"),
                )));
            }
        }
    }
    Ok(rows)
}

/// Speaker attributes from the data dirs' `spk2gender` and `spk2age` (those
/// present; empty when neither is), for [`crate::corpus::speakers`].
pub fn speaker_attributes(
    src: &Path,
    single: Split,
) -> Result<BTreeMap<String, crate::corpus::speakers::SpeakerInfo>> {
    let mut out: BTreeMap<String, crate::corpus::speakers::SpeakerInfo> = BTreeMap::new();
    for (dir, _) in data_dirs(src, single)? {
        let g = dir.join("spk2gender");
        if g.is_file() {
            for (spk, v, ln) in read_table(&g, true)? {
                if !matches!(v.as_str(), "f" | "m") {
                    return Err(Error::parse(
                        &g,
                        format!("line {ln}: gender {v:?} is not f or m"),
                    ));
                }
                let e = out.entry(spk.clone()).or_default();
                e.speaker = spk;
                e.gender = Some(v);
            }
        }
        let a = dir.join("spk2age");
        if a.is_file() {
            for (spk, v, ln) in read_table(&a, true)? {
                let age = v.parse::<u32>().map_err(|_| {
                    Error::parse(&a, format!("line {ln}: age {v:?} is not a whole number"))
                })?;
                let e = out.entry(spk.clone()).or_default();
                e.speaker = spk;
                e.age = Some(age);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn wav_scp_values() {
        assert_eq!(wav_path("/a/b.wav").unwrap(), PathBuf::from("/a/b.wav"));
        assert_eq!(
            wav_path("flac -c -d -s /a/b.flac |").unwrap(),
            PathBuf::from("/a/b.flac")
        );
        assert!(wav_path("sox /a/b.wav -t wav - |")
            .unwrap_err()
            .contains("piped command"));
        assert!(wav_path("/a/b.ark:123").unwrap_err().contains("ark"));
    }
}
