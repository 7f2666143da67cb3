//! Scoring: word, character and phone error rates, sentence error rate,
//! Kaldi-style summary lines, sclite-style per-utterance alignments and
//! bootstrap confidence intervals. The evaluator only sees text.
//!
//! Conventions (see `docs/SCORING.md`):
//! - References and hypotheses are keyed by utterance id. A reference with no
//!   hypothesis is scored against an empty hypothesis (all deletions), as
//!   Kaldi's `compute-wer --mode=present` would not but `--mode=all` does; a
//!   hypothesis whose id has no reference is an error.
//! - [`score`] scores the text as given; normalise first with
//!   [`normalise_texts`] (the CLI does, unless `--no-normalise`).
//! - Rates are fractions (0.25 = 25%); the `*_line` methods print percentages.

pub mod align;
pub mod bootstrap;
pub mod kaldi_text;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::error::{Error, Result};

pub use align::{align, edit_distance, AlignMode, AlignedToken, Alignment, EditOp};
pub use bootstrap::{bootstrap_ci, paired_bootstrap, paired_bootstrap_ci, PairedComparison};
pub use kaldi_text::{parse_kaldi_text, read_kaldi_text};

/// The unit errors are counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Whitespace-separated words (WER).
    Word,
    /// Characters, spaces between words included (CER), as `jiwer.cer` counts them.
    Char,
    /// Whitespace-separated phone symbols (PER).
    Phone,
}

impl Level {
    /// The label Kaldi-style lines use: `WER`, `CER` or `PER`.
    pub fn label(self) -> &'static str {
        match self {
            Level::Word => "WER",
            Level::Char => "CER",
            Level::Phone => "PER",
        }
    }
}

/// Split a transcript into scoring units.
///
/// - `Word`, `Phone`: whitespace-separated tokens.
/// - `Char`: the characters (Unicode scalar values) of the text after leading
///   and trailing white space is removed and each inner run of white space is
///   replaced by one space; the spaces are units too. On text with single
///   spaces between words (all normalised text) this is exactly what
///   `jiwer.cer` counts (its default transform strips the ends and keeps every
///   other character, spaces included); jiwer would count each space of a run
///   of several, which here, after Kaldi-style whitespace tokenisation of the
///   `text` file, would be an artefact of the file's layout.
pub fn tokens(text: &str, level: Level) -> Vec<String> {
    match level {
        Level::Word | Level::Phone => text.split_whitespace().map(str::to_string).collect(),
        Level::Char => {
            let mut out = Vec::new();
            for (k, word) in text.split_whitespace().enumerate() {
                if k > 0 {
                    out.push(" ".to_string());
                }
                out.extend(word.chars().map(|c| c.to_string()));
            }
            out
        }
    }
}

/// Substitution, deletion and insertion counts with the lengths they refer to.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct ErrorCounts {
    pub sub: u64,
    pub del: u64,
    pub ins: u64,
    /// Reference length in units (= correct + sub + del).
    pub ref_len: u64,
    /// Hypothesis length in units (= correct + sub + ins).
    pub hyp_len: u64,
    /// Units aligned to an identical unit ("hits").
    pub correct: u64,
}

impl ErrorCounts {
    /// sub + del + ins.
    pub fn errors(&self) -> u64 {
        self.sub + self.del + self.ins
    }

    /// errors / ref_len as a fraction. With an empty reference the rate is 0
    /// when there are no errors and +infinity otherwise (Kaldi divides by zero
    /// too; jiwer instead returns the raw insertion count).
    pub fn rate(&self) -> f64 {
        ratio(self.errors(), self.ref_len)
    }

    fn add(&mut self, o: &ErrorCounts) {
        self.sub += o.sub;
        self.del += o.del;
        self.ins += o.ins;
        self.ref_len += o.ref_len;
        self.hyp_len += o.hyp_len;
        self.correct += o.correct;
    }
}

pub(crate) use crate::numeric::ratio;

/// One utterance's alignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UttScore {
    pub id: String,
    pub alignment: Alignment,
    /// True when the hypothesis file had no line for this id (scored as empty).
    pub hyp_missing: bool,
}

/// Per-utterance alignments and totals for one hypothesis set.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreReport {
    pub level: Level,
    pub mode: AlignMode,
    /// In utterance-id order (the order of the reference map).
    pub utterances: Vec<UttScore>,
    pub totals: ErrorCounts,
}

impl ScoreReport {
    /// Total error rate (WER, CER or PER by level) as a fraction.
    pub fn rate(&self) -> f64 {
        self.totals.rate()
    }

    /// Alias of [`ScoreReport::rate`].
    pub fn wer(&self) -> f64 {
        self.rate()
    }

    /// Number of utterances with at least one error.
    pub fn sentence_errors(&self) -> u64 {
        self.utterances
            .iter()
            .filter(|u| u.alignment.counts.errors() > 0)
            .count() as u64
    }

    /// Sentence error rate as a fraction.
    pub fn ser(&self) -> f64 {
        ratio(self.sentence_errors(), self.utterances.len() as u64)
    }

    /// Utterances that had no hypothesis.
    pub fn missing_hyps(&self) -> usize {
        self.utterances.iter().filter(|u| u.hyp_missing).count()
    }

    /// `(errors, ref_len)` per utterance, for [`bootstrap_ci`] and [`paired_bootstrap`].
    pub fn per_utt_errors(&self) -> Vec<(u64, u64)> {
        self.utterances
            .iter()
            .map(|u| (u.alignment.counts.errors(), u.alignment.counts.ref_len))
            .collect()
    }

    /// Kaldi's `compute-wer` line, e.g. `%WER 12.34 [ 56 / 454, 7 ins, 8 del, 41 sub ]`
    /// (`%CER` / `%PER` at the other levels).
    pub fn kaldi_line(&self) -> String {
        let t = &self.totals;
        format!(
            "%{} {:.2} [ {} / {}, {} ins, {} del, {} sub ]",
            self.level.label(),
            100.0 * t.rate(),
            t.errors(),
            t.ref_len,
            t.ins,
            t.del,
            t.sub
        )
    }

    /// Kaldi's sentence error line, e.g. `%SER 12.34 [ 3 / 100 ]`.
    pub fn ser_line(&self) -> String {
        format!(
            "%SER {:.2} [ {} / {} ]",
            100.0 * self.ser(),
            self.sentence_errors(),
            self.utterances.len()
        )
    }

    /// Each utterance's alignment in a layout like sclite's `pra` report:
    /// an `id:` line, `Scores: (#C #S #D #I)`, then aligned `REF:`, `HYP:` and
    /// `Eval:` rows (`***` marks a gap; `S`, `D`, `I` mark errors).
    pub fn per_utt_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# crossover score: level {}, alignment {:?}",
            self.level.label(),
            self.mode
        );
        for u in &self.utterances {
            let c = &u.alignment.counts;
            let _ = writeln!(s, "id: {}", u.id);
            if u.hyp_missing {
                let _ = writeln!(s, "Note: no hypothesis for this id; scored as empty");
            }
            let _ = writeln!(
                s,
                "Scores: (#C #S #D #I) {} {} {} {}",
                c.correct, c.sub, c.del, c.ins
            );
            let (mut r, mut h, mut e) = (
                String::from("REF: "),
                String::from("HYP: "),
                String::from("Eval:"),
            );
            for t in &u.alignment.ops {
                let rt = t
                    .reference
                    .as_deref()
                    .map(visible)
                    .unwrap_or_else(|| "***".into());
                let ht = t
                    .hypothesis
                    .as_deref()
                    .map(visible)
                    .unwrap_or_else(|| "***".into());
                let width = rt.chars().count().max(ht.chars().count());
                let mark = match t.op {
                    EditOp::Match => "",
                    EditOp::Sub => "S",
                    EditOp::Del => "D",
                    EditOp::Ins => "I",
                };
                let _ = write!(r, " {rt:<width$}");
                let _ = write!(h, " {ht:<width$}");
                let _ = write!(e, " {mark:<width$}");
            }
            for row in [r, h, e] {
                let _ = writeln!(s, "{}", row.trim_end());
            }
            s.push('\n');
        }
        s
    }
}

/// Character-level units include the space; show it as `_` so columns stay readable.
fn visible(t: &str) -> String {
    if t == " " {
        "_".to_string()
    } else {
        t.to_string()
    }
}

/// Apply [`crate::text::normalise`] to every transcript (for word and char
/// level). Phone strings are only re-spaced: phone symbols such as `@`, `:` or
/// upper-case letters carry meaning that word normalisation would destroy.
pub fn normalise_texts(texts: &BTreeMap<String, String>, level: Level) -> BTreeMap<String, String> {
    texts
        .iter()
        .map(|(k, v)| {
            let t = match level {
                Level::Word | Level::Char => crate::text::normalise(v),
                Level::Phone => v.split_whitespace().collect::<Vec<_>>().join(" "),
            };
            (k.clone(), t)
        })
        .collect()
}

/// Score every reference utterance. A reference id missing from `hyps` is
/// scored against an empty hypothesis (all deletions); a hypothesis id with
/// no reference is an error naming the id. The text is scored as given (see
/// [`normalise_texts`]).
pub fn score(
    refs: &BTreeMap<String, String>,
    hyps: &BTreeMap<String, String>,
    level: Level,
    mode: AlignMode,
) -> Result<ScoreReport> {
    let orphans: Vec<&String> = hyps.keys().filter(|k| !refs.contains_key(*k)).collect();
    if let Some(first) = orphans.first() {
        let more = if orphans.len() > 1 {
            format!(" (and {} more)", orphans.len() - 1)
        } else {
            String::new()
        };
        return Err(Error::Invalid(format!(
            "hypothesis for utterance '{first}' has no reference{more}"
        )));
    }
    if refs.is_empty() {
        return Err(Error::Invalid("no reference utterances to score".into()));
    }
    let mut utterances = Vec::with_capacity(refs.len());
    let mut totals = ErrorCounts::default();
    for (id, ref_text) in refs {
        let hyp_text = hyps.get(id);
        let r = tokens(ref_text, level);
        let h = hyp_text.map(|t| tokens(t, level)).unwrap_or_default();
        let rr: Vec<&str> = r.iter().map(String::as_str).collect();
        let hh: Vec<&str> = h.iter().map(String::as_str).collect();
        let alignment = align(&rr, &hh, mode);
        totals.add(&alignment.counts);
        utterances.push(UttScore {
            id: id.clone(),
            alignment,
            hyp_missing: hyp_text.is_none(),
        });
    }
    Ok(ScoreReport {
        level,
        mode,
        utterances,
        totals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn char_tokens_count_single_spaces() {
        assert_eq!(tokens("  ab  c ", Level::Char), vec!["a", "b", " ", "c"]);
        assert_eq!(tokens("", Level::Char), Vec::<String>::new());
        assert_eq!(tokens("é x", Level::Char), vec!["é", " ", "x"]);
        assert_eq!(
            tokens(" h @ l oU ", Level::Phone),
            vec!["h", "@", "l", "oU"]
        );
    }

    #[test]
    fn kaldi_and_ser_lines() {
        let refs = map(&[("u1", "the cat sat"), ("u2", "on the mat"), ("u3", "hello")]);
        let hyps = map(&[("u1", "the cat sat"), ("u2", "on a mat mat"), ("u3", "")]);
        let r = score(&refs, &hyps, Level::Word, AlignMode::Levenshtein).unwrap();
        // u2: 1 sub + 1 ins; u3: 1 del -> 3 errors / 7 words.
        assert_eq!(r.kaldi_line(), "%WER 42.86 [ 3 / 7, 1 ins, 1 del, 1 sub ]");
        assert_eq!(r.ser_line(), "%SER 66.67 [ 2 / 3 ]");
        let c = score(&refs, &hyps, Level::Char, AlignMode::Levenshtein).unwrap();
        assert!(c.kaldi_line().starts_with("%CER "));
        assert_eq!(c.totals.ref_len, 11 + 10 + 5);
        let p = score(
            &map(&[("u", "h @ l oU")]),
            &map(&[("u", "h @ oU w")]),
            Level::Phone,
            AlignMode::Levenshtein,
        )
        .unwrap();
        assert_eq!(p.kaldi_line(), "%PER 50.00 [ 2 / 4, 0 ins, 0 del, 2 sub ]");
    }

    #[test]
    fn missing_hypothesis_counts_as_deletions() {
        let refs = map(&[("a", "one two three"), ("b", "four")]);
        let hyps = map(&[("b", "four")]);
        let r = score(&refs, &hyps, Level::Word, AlignMode::Sclite).unwrap();
        assert_eq!(r.totals.del, 3);
        assert_eq!(r.totals.errors(), 3);
        assert_eq!(r.missing_hyps(), 1);
        assert!(r.utterances[0].hyp_missing && !r.utterances[1].hyp_missing);
        assert_eq!(r.kaldi_line(), "%WER 75.00 [ 3 / 4, 0 ins, 3 del, 0 sub ]");
        assert!(r.per_utt_text().contains("no hypothesis for this id"));
    }

    #[test]
    fn unknown_hypothesis_id_is_an_error_naming_it() {
        let refs = map(&[("a", "x")]);
        let hyps = map(&[("a", "x"), ("zz9", "y"), ("zz8", "y")]);
        let e = score(&refs, &hyps, Level::Word, AlignMode::Levenshtein)
            .unwrap_err()
            .to_string();
        assert!(e.contains("'zz8'") && e.contains("1 more"), "{e}");
    }

    #[test]
    fn empty_reference_and_hypothesis() {
        let refs = map(&[("a", ""), ("b", "")]);
        let r = score(
            &refs,
            &map(&[("a", ""), ("b", "")]),
            Level::Word,
            AlignMode::Levenshtein,
        )
        .unwrap();
        assert_eq!(r.rate(), 0.0);
        assert_eq!(r.kaldi_line(), "%WER 0.00 [ 0 / 0, 0 ins, 0 del, 0 sub ]");
        assert_eq!(r.ser(), 0.0);
        let r = score(
            &refs,
            &map(&[("a", "x y")]),
            Level::Word,
            AlignMode::Levenshtein,
        )
        .unwrap();
        assert_eq!(r.totals.ins, 2);
        assert!(r.rate().is_infinite());
        assert_eq!(r.ser_line(), "%SER 50.00 [ 1 / 2 ]");
        assert!(score(
            &BTreeMap::new(),
            &BTreeMap::new(),
            Level::Word,
            AlignMode::Levenshtein
        )
        .is_err());
    }

    #[test]
    fn per_utt_text_marks_errors_and_gaps() {
        let refs = map(&[("u", "a bb c")]);
        let hyps = map(&[("u", "a x c d")]);
        let r = score(&refs, &hyps, Level::Word, AlignMode::Sclite).unwrap();
        let t = r.per_utt_text();
        assert!(t.contains("Scores: (#C #S #D #I) 2 1 0 1"), "{t}");
        assert!(t.contains("REF:  a bb c ***\n"), "{t}");
        assert!(t.contains("HYP:  a x  c d\n"), "{t}");
        assert!(t.contains("Eval:   S    I\n"), "{t}");
    }

    #[test]
    fn normalise_texts_by_level() {
        let m = map(&[("u", "Hello,  World!")]);
        assert_eq!(normalise_texts(&m, Level::Word)["u"], "hello world");
        let p = map(&[("u", " h @  l oU ")]);
        assert_eq!(normalise_texts(&p, Level::Phone)["u"], "h @ l oU");
    }
}
