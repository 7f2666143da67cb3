//! Corpus statistics and split-leakage checks (`crossover corpus stats`).
use std::collections::{BTreeSet, HashMap, HashSet};

use serde::Serialize;

use crate::corpus::manifest::{Corpus, Split, Utterance};
use crate::text;

#[derive(Debug, Clone, Serialize)]
pub struct SplitStats {
    pub split: Split,
    pub utterances: usize,
    pub hours: f64,
    pub speakers: usize,
    /// Distinct words (normalised transcripts).
    pub vocabulary: usize,
    /// Running words.
    pub tokens: usize,
    /// Against the train vocabulary; `None` for train itself.
    pub oov_tokens: Option<usize>,
    pub oov_token_rate: Option<f64>,
    pub oov_types: Option<usize>,
    pub oov_type_rate: Option<f64>,
}

/// Items shared by two splits: how many, and a few of them.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Shared {
    pub count: usize,
    pub examples: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Overlap {
    pub a: Split,
    pub b: Split,
    pub speakers: Shared,
    /// Non-empty prompt groups.
    pub groups: Shared,
    /// Normalised sentences.
    pub sentences: Shared,
}

#[derive(Debug, Clone, Serialize)]
pub struct CorpusStats {
    pub root: String,
    pub splits: Vec<SplitStats>,
    /// train-dev, train-test and dev-test.
    pub overlaps: Vec<Overlap>,
}

impl CorpusStats {
    pub fn split(&self, s: Split) -> Option<&SplitStats> {
        self.splits.iter().find(|x| x.split == s)
    }
    pub fn overlap(&self, a: Split, b: Split) -> Option<&Overlap> {
        self.overlaps.iter().find(|o| o.a == a && o.b == b)
    }
}

const EXAMPLES: usize = 5;

fn shared(a: &HashSet<&str>, b: &HashSet<&str>) -> Shared {
    let common: BTreeSet<&str> = a.intersection(b).copied().collect();
    Shared {
        count: common.len(),
        examples: common
            .iter()
            .take(EXAMPLES)
            .map(|s| s.to_string())
            .collect(),
    }
}

pub fn stats(corpus: &Corpus) -> CorpusStats {
    let by: HashMap<Split, Vec<&Utterance>> =
        Split::ALL.iter().map(|s| (*s, corpus.split(*s))).collect();
    let vocab = |us: &[&Utterance]| -> HashSet<String> {
        us.iter()
            .flat_map(|u| text::words(&u.norm_text))
            .map(String::from)
            .collect()
    };
    let train_vocab = vocab(&by[&Split::Train]);
    let splits = Split::ALL
        .iter()
        .map(|&s| {
            let us = &by[&s];
            let v = vocab(us);
            let tokens: usize = us.iter().map(|u| text::words(&u.norm_text).len()).sum();
            let (oov_tokens, oov_types) = if s == Split::Train {
                (None, None)
            } else {
                let t = us
                    .iter()
                    .flat_map(|u| text::words(&u.norm_text))
                    .filter(|w| !train_vocab.contains(*w))
                    .count();
                let ty = v.iter().filter(|w| !train_vocab.contains(*w)).count();
                (Some(t), Some(ty))
            };
            let rate = |n: Option<usize>, d: usize| {
                n.map(|n| if d == 0 { 0.0 } else { n as f64 / d as f64 })
            };
            SplitStats {
                split: s,
                utterances: us.len(),
                hours: us.iter().map(|u| u.duration).sum::<f64>() / 3600.0,
                speakers: us.iter().map(|u| &u.speaker).collect::<HashSet<_>>().len(),
                vocabulary: v.len(),
                tokens,
                oov_tokens,
                oov_token_rate: rate(oov_tokens, tokens),
                oov_types,
                oov_type_rate: rate(oov_types, v.len()),
            }
        })
        .collect();
    let sets = |s: Split| {
        let us = &by[&s];
        let spk: HashSet<&str> = us.iter().map(|u| u.speaker.as_str()).collect();
        let grp: HashSet<&str> = us
            .iter()
            .map(|u| u.group.as_str())
            .filter(|g| !g.is_empty())
            .collect();
        let sen: HashSet<&str> = us.iter().map(|u| u.norm_text.as_str()).collect();
        (spk, grp, sen)
    };
    let overlaps = [
        (Split::Train, Split::Dev),
        (Split::Train, Split::Test),
        (Split::Dev, Split::Test),
    ]
    .iter()
    .map(|&(a, b)| {
        let (sa, ga, ta) = sets(a);
        let (sb, gb, tb) = sets(b);
        Overlap {
            a,
            b,
            speakers: shared(&sa, &sb),
            groups: shared(&ga, &gb),
            sentences: shared(&ta, &tb),
        }
    })
    .collect();
    CorpusStats {
        root: corpus.root.display().to_string(),
        splits,
        overlaps,
    }
}

impl std::fmt::Display for CorpusStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "corpus {}", self.root)?;
        writeln!(
            f,
            "{:<6} {:>8} {:>11} {:>9} {:>7} {:>9} {:>10} {:>10}",
            "split",
            "hours",
            "utterances",
            "speakers",
            "vocab",
            "tokens",
            "OOV tok %",
            "OOV type %"
        )?;
        for s in &self.splits {
            let pct = |r: Option<f64>| r.map_or("-".to_string(), |r| format!("{:.2}", 100.0 * r));
            writeln!(
                f,
                "{:<6} {:>8.3} {:>11} {:>9} {:>7} {:>9} {:>10} {:>10}",
                s.split.as_str(),
                s.hours,
                s.utterances,
                s.speakers,
                s.vocabulary,
                s.tokens,
                pct(s.oov_token_rate),
                pct(s.oov_type_rate)
            )?;
        }
        writeln!(f, "overlap (shared between splits):")?;
        for o in &self.overlaps {
            for (what, sh) in [
                ("speakers", &o.speakers),
                ("groups", &o.groups),
                ("sentences", &o.sentences),
            ] {
                write!(f, "  {}-{} {:<9} {:>6}", o.a, o.b, what, sh.count)?;
                if sh.count > 0 {
                    write!(
                        f,
                        "   e.g. {}{}",
                        sh.examples.join(" | "),
                        if sh.count > sh.examples.len() {
                            " | ..."
                        } else {
                            ""
                        }
                    )?;
                }
                writeln!(f)?;
            }
        }
        Ok(())
    }
}
