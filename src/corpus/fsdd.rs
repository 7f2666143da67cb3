//! Importer for the Free Spoken Digit Dataset layout:
//! `recordings/{digit}_{speaker}_{take}.wav`. Digit labels become words
//! (`zero`..`nine`); utterance ids are `{speaker}-{digit}-{take:02}` so they
//! sort by speaker, as Kaldi requires.
use std::path::Path;

use crate::corpus::import::{has_ext, BadReason, BadRow, Candidate};
use crate::corpus::manifest::Split;
use crate::error::{Error, Result};

pub const DIGIT_WORDS: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];

/// The speakers held out entirely for test in the speaker-independent split.
pub const FSDD_TEST_SPEAKERS: [&str; 2] = ["theo", "yweweler"];

/// How FSDD rows are split.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum FsddSplit {
    /// The official speaker-dependent split: takes 0-4 of every digit and speaker are test;
    /// takes 5-9 are dev (our addition: FSDD has no dev set); takes 10-49 are train.
    Official,
    /// Speaker-independent: test = all takes of theo and yweweler; dev = takes 0-4 of the
    /// other four speakers; train = their takes 5-49.
    Speakers,
}

pub fn split_of(split: FsddSplit, speaker: &str, take: u32) -> Split {
    match split {
        FsddSplit::Official => match take {
            0..=4 => Split::Test,
            5..=9 => Split::Dev,
            _ => Split::Train,
        },
        FsddSplit::Speakers => {
            if FSDD_TEST_SPEAKERS.contains(&speaker) {
                Split::Test
            } else if take <= 4 {
                Split::Dev
            } else {
                Split::Train
            }
        }
    }
}

/// The rows of an FSDD folder (`src` is the dataset folder holding `recordings/`,
/// or the `recordings/` folder itself). Files other than `.wav` are not rows;
/// a `.wav` whose name does not follow the layout is a bad row.
pub fn rows(src: &Path, split: FsddSplit) -> Result<Vec<std::result::Result<Candidate, BadRow>>> {
    let rec = if src.join("recordings").is_dir() {
        src.join("recordings")
    } else {
        src.to_path_buf()
    };
    let rec = crate::corpus::import::absolute(&rec)?;
    let mut files: Vec<_> = std::fs::read_dir(&rec)
        .map_err(|e| Error::io(&rec, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| has_ext(p, &["wav"]))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Error::parse(
            &rec,
            "no .wav files here: expected the FSDD layout recordings/{digit}_{speaker}_{take}.wav",
        ));
    }
    Ok(files
        .into_iter()
        .map(|p| {
            let stem = p
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .to_string();
            let parts: Vec<&str> = stem.split('_').collect();
            let parsed = match parts.as_slice() {
                [d, spk, take] => match (d.parse::<usize>(), take.parse::<u32>()) {
                    (Ok(d), Ok(t))
                        if d < 10
                            && !spk.is_empty()
                            && spk.chars().all(|c| c.is_ascii_alphanumeric()) =>
                    {
                        Some((d, spk.to_string(), t))
                    }
                    _ => None,
                },
                _ => None,
            };
            let Some((digit, speaker, take)) = parsed else {
                return Err(BadRow::new(
                    BadReason::BadSource,
                    &p,
                    "file name does not follow the FSDD layout {digit}_{speaker}_{take}.wav",
                ));
            };
            let word = DIGIT_WORDS[digit];
            Ok(Candidate {
                id: format!("{speaker}-{digit}-{take:02}"),
                audio: p.clone(),
                split: split_of(split, &speaker, take),
                speaker,
                text: word.to_string(),
                norm_text: Some(word.to_string()),
                group: String::new(),
                expected_duration: None,
                text_source: p,
                audio_origin: None,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn splits_follow_the_definitions() {
        assert_eq!(split_of(FsddSplit::Official, "theo", 4), Split::Test);
        assert_eq!(split_of(FsddSplit::Official, "theo", 5), Split::Dev);
        assert_eq!(split_of(FsddSplit::Official, "theo", 9), Split::Dev);
        assert_eq!(split_of(FsddSplit::Official, "theo", 10), Split::Train);
        assert_eq!(split_of(FsddSplit::Speakers, "theo", 30), Split::Test);
        assert_eq!(split_of(FsddSplit::Speakers, "yweweler", 0), Split::Test);
        assert_eq!(split_of(FsddSplit::Speakers, "jackson", 4), Split::Dev);
        assert_eq!(split_of(FsddSplit::Speakers, "jackson", 5), Split::Train);
    }
}
