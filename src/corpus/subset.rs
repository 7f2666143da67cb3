//! Nested training subsets.
//!
//! [`NestedSubset`] builds one seeded ordering of the training utterances:
//! each speaker's utterances are shuffled (seeded), the speaker order is
//! shuffled (seeded), and the ordering takes one utterance from each speaker in
//! turn (round robin, skipping speakers that have run out). A subset of `h`
//! hours is the shortest prefix of that ordering that reaches `h` hours, so for
//! one seed a smaller subset is always contained in a larger one, and within a
//! subset the speakers' utterance counts differ by at most one (among speakers
//! that still have utterances left). The ordering does not depend on the order
//! of the input slice (it is sorted by speaker and id first).
use std::collections::BTreeMap;

use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::corpus::manifest::Utterance;

/// One seeded ordering of a training set, from which nested subsets are cut.
#[derive(Debug, Clone)]
pub struct NestedSubset<'a> {
    pub seed: u64,
    order: Vec<&'a Utterance>,
    /// Cumulative seconds after each utterance of `order`.
    cumulative: Vec<f64>,
}

/// A prefix of a [`NestedSubset`] ordering.
#[derive(Debug, Clone)]
pub struct Subset<'a> {
    /// The hours asked for.
    pub target_hours: f64,
    /// The hours the subset actually holds.
    pub hours: f64,
    pub utterances: Vec<&'a Utterance>,
    /// Utterances per speaker in the subset.
    pub per_speaker: BTreeMap<String, usize>,
    /// True when the target exceeds the training set: the subset is all of it.
    pub truncated: bool,
}

impl<'a> Subset<'a> {
    pub fn speakers(&self) -> usize {
        self.per_speaker.len()
    }
    pub fn min_per_speaker(&self) -> usize {
        self.per_speaker.values().copied().min().unwrap_or(0)
    }
    pub fn max_per_speaker(&self) -> usize {
        self.per_speaker.values().copied().max().unwrap_or(0)
    }
    pub fn ids(&self) -> Vec<&'a str> {
        self.utterances.iter().map(|u| u.id.as_str()).collect()
    }
}

impl<'a> NestedSubset<'a> {
    pub fn new(train: &[&'a Utterance], seed: u64) -> Self {
        let mut by_spk: BTreeMap<&str, Vec<&'a Utterance>> = BTreeMap::new();
        for u in train {
            by_spk.entry(u.speaker.as_str()).or_default().push(u);
        }
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut lists: Vec<Vec<&'a Utterance>> = by_spk
            .into_values()
            .map(|mut v| {
                v.sort_by(|a, b| a.id.cmp(&b.id));
                v.shuffle(&mut rng);
                v
            })
            .collect();
        lists.shuffle(&mut rng);
        let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
        let mut order = Vec::with_capacity(train.len());
        for round in 0..longest {
            for l in &lists {
                if let Some(u) = l.get(round) {
                    order.push(*u);
                }
            }
        }
        let mut acc = 0.0;
        let cumulative = order
            .iter()
            .map(|u| {
                acc += u.duration;
                acc
            })
            .collect();
        NestedSubset {
            seed,
            order,
            cumulative,
        }
    }

    /// The whole ordering.
    pub fn order(&self) -> &[&'a Utterance] {
        &self.order
    }

    pub fn total_hours(&self) -> f64 {
        self.cumulative.last().copied().unwrap_or(0.0) / 3600.0
    }

    /// The shortest prefix holding at least `hours` of audio (all of it if there is less).
    pub fn take(&self, hours: f64) -> Subset<'a> {
        let target = hours.max(0.0) * 3600.0;
        // First index whose cumulative duration reaches the target (tolerating rounding).
        let n = if target <= 0.0 {
            0
        } else {
            self.cumulative.partition_point(|&c| c < target - 1e-6) + 1
        };
        let truncated = n > self.order.len();
        let n = n.min(self.order.len());
        let utterances = self.order[..n].to_vec();
        let mut per_speaker = BTreeMap::new();
        for u in &utterances {
            *per_speaker.entry(u.speaker.clone()).or_insert(0) += 1;
        }
        let secs = if n == 0 { 0.0 } else { self.cumulative[n - 1] };
        Subset {
            target_hours: hours,
            hours: secs / 3600.0,
            utterances,
            per_speaker,
            truncated,
        }
    }
}

/// A training subset of about `hours` hours: see [`NestedSubset`].
pub fn subset<'a>(train: &[&'a Utterance], hours: f64, seed: u64) -> Subset<'a> {
    NestedSubset::new(train, seed).take(hours)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::manifest::Split;
    use rand::Rng;
    use std::collections::HashSet;

    fn utts(n_spk: usize, seed: u64) -> Vec<Utterance> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut v = Vec::new();
        for s in 0..n_spk {
            let n = rng.gen_range(5..60);
            for i in 0..n {
                v.push(Utterance {
                    id: format!("spk{s}-{i:03}"),
                    audio: format!("/x/{s}/{i}.wav").into(),
                    speaker: format!("spk{s}"),
                    split: Split::Train,
                    duration: rng.gen_range(0.5..8.0),
                    text: "a".into(),
                    norm_text: "a".into(),
                    phonemes: String::new(),
                    group: String::new(),
                    augment: String::new(),
                });
            }
        }
        v
    }

    #[test]
    fn smaller_subsets_nest_in_larger_ones() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for corpus_seed in 0..5 {
            let data = utts(7, corpus_seed);
            let train: Vec<&Utterance> = data.iter().collect();
            let total: f64 = data.iter().map(|u| u.duration).sum::<f64>() / 3600.0;
            for _ in 0..40 {
                let seed = rng.gen::<u64>();
                let (a, b) = (
                    rng.gen_range(0.0..total * 1.2),
                    rng.gen_range(0.0..total * 1.2),
                );
                let (lo, hi) = if a < b { (a, b) } else { (b, a) };
                let s_lo = subset(&train, lo, seed);
                let s_hi = subset(&train, hi, seed);
                let big: HashSet<&str> = s_hi.ids().into_iter().collect();
                assert!(
                    s_lo.ids().iter().all(|id| big.contains(id)),
                    "{lo} h not inside {hi} h (seed {seed})"
                );
                assert!(s_lo.hours <= s_hi.hours + 1e-12);
                // Reaches the target unless truncated, and is the shortest such prefix.
                if !s_hi.truncated {
                    assert!(s_hi.hours >= hi - 1e-9);
                    let last = s_hi.utterances.last().unwrap().duration / 3600.0;
                    assert!(s_hi.hours - last < hi, "not the shortest prefix");
                } else {
                    assert_eq!(s_hi.utterances.len(), train.len());
                    assert!(hi > total - 1e-9);
                }
            }
        }
    }

    #[test]
    fn speakers_are_balanced() {
        let data = utts(9, 3);
        let train: Vec<&Utterance> = data.iter().collect();
        let mut avail: BTreeMap<&str, usize> = BTreeMap::new();
        for u in &data {
            *avail.entry(&u.speaker).or_insert(0) += 1;
        }
        let ns = NestedSubset::new(&train, 11);
        for h in [0.01, 0.05, 0.1, 0.2, 0.3] {
            let s = ns.take(h);
            // Counts differ by at most one among speakers not yet exhausted.
            let live: Vec<usize> = avail
                .iter()
                .filter(|(spk, n)| s.per_speaker.get(**spk).copied().unwrap_or(0) < **n)
                .map(|(spk, _)| s.per_speaker.get(*spk).copied().unwrap_or(0))
                .collect();
            let all_counts: Vec<usize> = avail
                .keys()
                .map(|spk| s.per_speaker.get(*spk).copied().unwrap_or(0))
                .collect();
            if let (Some(mn), Some(mx)) = (live.iter().min(), all_counts.iter().max()) {
                assert!(mx - mn <= 1, "{h} h: counts {:?}", s.per_speaker);
            }
        }
    }

    #[test]
    fn deterministic_and_independent_of_input_order() {
        let data = utts(5, 9);
        let train: Vec<&Utterance> = data.iter().collect();
        let mut rev = train.clone();
        rev.reverse();
        let a = subset(&train, 0.1, 42);
        let b = subset(&rev, 0.1, 42);
        assert_eq!(a.ids(), b.ids());
        let c = subset(&train, 0.1, 43);
        assert_ne!(a.ids(), c.ids());
        assert!(subset(&train, 0.0, 1).utterances.is_empty());
    }
}
