//! The report's "Test WER by speaker group": for corpora that record speaker
//! attributes ([`crate::corpus::speakers`], e.g. speechocean762's ages 6-43
//! and genders), each pipeline's test WER at its largest size split into
//! children (under 12) against older speakers and female against male,
//! pooled over seeds: which system degrades least on whose speech.
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::path::Path;

use super::results::CellResult;
use super::SweepSpec;
use crate::corpus::speakers::{self, SpeakerInfo};
use crate::corpus::{Corpus, Split};

/// Children are speakers under this age (speechocean762: 6-11 against 12-43).
pub const CHILD_AGE: u32 = 12;

type Group = (&'static str, fn(&SpeakerInfo) -> bool);

const GROUPS: [Group; 4] = [
    ("children (under 12)", |s| {
        s.age.is_some_and(|a| a < CHILD_AGE)
    }),
    ("12 and older", |s| s.age.is_some_and(|a| a >= CHILD_AGE)),
    ("female", |s| s.gender.as_deref() == Some("f")),
    ("male", |s| s.gender.as_deref() == Some("m")),
];

/// The section's markdown, or `None` when the corpus records no speaker
/// attributes (or no cell has finished).
pub fn section(spec: &SweepSpec, out: &Path, rows: &[CellResult]) -> Option<String> {
    let attrs = speakers::read(&spec.corpus).ok()??;
    let corpus = Corpus::load(&spec.corpus).ok()?;
    let speaker_of: HashMap<&str, &SpeakerInfo> = corpus
        .split(Split::Test)
        .into_iter()
        .filter_map(|u| Some((u.id.as_str(), attrs.get(&u.speaker)?)))
        .collect();
    // Test speakers and words per group, for the header.
    let mut group_speakers = [0usize; GROUPS.len()];
    let test_speakers: std::collections::BTreeSet<&str> = corpus
        .split(Split::Test)
        .iter()
        .map(|u| u.speaker.as_str())
        .collect();
    for s in &test_speakers {
        if let Some(info) = attrs.get(*s) {
            for (g, (_, member)) in GROUPS.iter().enumerate() {
                group_speakers[g] += usize::from(member(info));
            }
        }
    }
    let mut largest: BTreeMap<&str, f64> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.ok()) {
        let h = largest.entry(r.pipeline.as_str()).or_insert(r.target_hours);
        *h = h.max(r.target_hours);
    }
    let mut table = String::new();
    for (pipeline, hours) in &largest {
        let mut sums = [(0usize, 0usize); GROUPS.len()];
        let mut seeds = 0;
        for r in rows
            .iter()
            .filter(|r| r.ok() && r.pipeline == *pipeline && r.target_hours == *hours)
        {
            let Ok(utts) = super::cell_files::read_per_utt(&super::cell_files::dir_of(out, r))
            else {
                continue;
            };
            seeds += 1;
            for u in utts {
                let Some(info) = speaker_of.get(u.id.as_str()) else {
                    continue;
                };
                for (g, (_, member)) in GROUPS.iter().enumerate() {
                    if member(info) {
                        sums[g].0 += u.errors as usize;
                        sums[g].1 += u.ref_words as usize;
                    }
                }
            }
        }
        if seeds == 0 {
            continue;
        }
        let cells: Vec<String> = sums
            .iter()
            .map(|&(e, n)| {
                if n == 0 {
                    "-".into()
                } else {
                    format!("{:.1}", 100.0 * e as f64 / n as f64)
                }
            })
            .collect();
        let _ = writeln!(
            table,
            "| {pipeline} | {hours} | {seeds} | {} |",
            cells.join(" | ")
        );
    }
    if table.is_empty() {
        return None;
    }
    let mut md = String::new();
    let _ = writeln!(md, "## Test WER by speaker group\n");
    let _ = writeln!(
        md,
        "Each pipeline at its largest size, test WER (%) pooled over its seeds, by the speaker attributes the corpus records (`{}`). A group's WER counts only its speakers' test utterances; groups are not balanced in sentences, so compare pipelines within a column.\n",
        speakers::SPEAKERS_FILE
    );
    let header: Vec<String> = GROUPS
        .iter()
        .zip(group_speakers)
        .map(|((name, _), n)| format!("{name}, {n} spk"))
        .collect();
    let _ = writeln!(md, "| pipeline | hours | seeds | {} |", header.join(" | "));
    let _ = writeln!(md, "|---|---|---|{}", "---|".repeat(GROUPS.len()));
    md.push_str(&table);
    md.push('\n');
    Some(md)
}
