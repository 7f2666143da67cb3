//! CTC decoders over a [`Matrix`] of log posteriors (frames x tokens, blank = 0):
//! - [`greedy`]: best token per frame, repeats merged, blanks dropped;
//! - [`prefix_beam_search`]: CTC prefix beam search (Hannun et al. 2014) that
//!   sums over all alignments of a prefix, with optional shallow fusion of an
//!   external scorer ([`PrefixScorer`]): a word LM applied each time a word
//!   is completed, a prefix tree that only lets known words through, or a
//!   character LM applied to every character.
//!
//! The external scorers of the end-to-end network + external LM variant
//! (word n-gram, vocabulary-constrained, character n-gram) are in
//! [`super::lm_decode`]; [`Fusion`] is the `crossover decode --fusion-lm` one.
use std::collections::HashMap;

use crate::matrix::Matrix;

use crate::numeric::log_add;

/// Best path: argmax per frame, merge repeats, drop blanks.
pub fn greedy(logp: &Matrix, blank: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut prev = usize::MAX;
    for row in logp.iter_rows() {
        let mut best = 0;
        for (i, &v) in row.iter().enumerate() {
            if v > row[best] {
                best = i;
            }
        }
        if best != blank && best != prev {
            out.push(best);
        }
        prev = best;
    }
    out
}

/// A word language model for shallow fusion: log10 or natural log, as long as
/// `lm_weight` is tuned for it. `history` is the preceding words, oldest first.
pub trait WordLm {
    fn log_prob(&self, history: &[String], word: &str) -> f32;
    /// Log probability of the sentence end after `history`.
    fn log_prob_end(&self, history: &[String]) -> f32;
}

/// What an external scorer remembers of a prefix: an LM state and a
/// position in a prefix tree (each scorer uses what it needs). A function
/// of the prefix alone, so hypotheses are keyed by their prefix.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ScorerState {
    pub lm: u32,
    pub node: u32,
}

/// An external score added to the CTC prefix score during the beam search
/// (shallow fusion): `extend` scores appending one non-blank token to a
/// prefix, or forbids it (`None`); `finish` scores ending the sentence after
/// a prefix, or rejects it as incomplete (`None`).
pub trait PrefixScorer {
    fn start(&self) -> ScorerState;
    fn extend(
        &self,
        state: ScorerState,
        prefix: &[usize],
        token: usize,
    ) -> Option<(ScorerState, f32)>;
    fn finish(&self, state: ScorerState, prefix: &[usize]) -> Option<f32>;
}

/// Shallow fusion settings of `crossover decode --fusion-lm`: score = log
/// P_ctc + weight * log P_lm + bonus * words, each word scored by a
/// [`WordLm`] when a space (or the end) completes it.
pub struct Fusion<'a> {
    pub lm: &'a dyn WordLm,
    pub weight: f32,
    pub word_bonus: f32,
    /// Token id of the word separator.
    pub space: usize,
    /// Token id -> character, to spell words for the LM.
    pub symbols: &'a [String],
}

fn words_of(prefix: &[usize], f: &Fusion) -> Vec<String> {
    let mut words = vec![String::new()];
    for &t in prefix {
        if t == f.space {
            if !words.last().unwrap().is_empty() {
                words.push(String::new());
            }
        } else {
            words.last_mut().unwrap().push_str(&f.symbols[t]);
        }
    }
    words
}

impl PrefixScorer for Fusion<'_> {
    fn start(&self) -> ScorerState {
        ScorerState::default()
    }
    fn extend(
        &self,
        state: ScorerState,
        prefix: &[usize],
        token: usize,
    ) -> Option<(ScorerState, f32)> {
        if token != self.space {
            return Some((state, 0.0));
        }
        let mut words = words_of(prefix, self);
        let last = words.pop().unwrap_or_default();
        if last.is_empty() {
            return Some((state, 0.0));
        }
        Some((
            state,
            self.weight * self.lm.log_prob(&words, &last) + self.word_bonus,
        ))
    }
    fn finish(&self, _state: ScorerState, prefix: &[usize]) -> Option<f32> {
        let mut words = words_of(prefix, self);
        let last = words.pop().unwrap_or_default();
        let mut s = 0.0;
        if !last.is_empty() {
            s += self.weight * self.lm.log_prob(&words, &last) + self.word_bonus;
            words.push(last);
        }
        Some(s + self.weight * self.lm.log_prob_end(&words))
    }
}

#[derive(Clone, Copy)]
struct Probs {
    blank: f32,
    non_blank: f32,
}

impl Probs {
    const ZERO: Probs = Probs {
        blank: f32::NEG_INFINITY,
        non_blank: f32::NEG_INFINITY,
    };
    fn total(&self) -> f32 {
        log_add(self.blank, self.non_blank)
    }
}

/// A hypothesis: its CTC probabilities, the scorer's state after it and the
/// external score summed over its tokens.
#[derive(Clone, Copy)]
struct Hyp {
    probs: Probs,
    state: ScorerState,
    ext: f32,
}

/// CTC prefix beam search without an external scorer.
pub fn prefix_beam_search(
    logp: &Matrix,
    blank: usize,
    beam: usize,
    prune_logp: f32,
    fusion: Option<&Fusion>,
) -> Vec<usize> {
    match fusion {
        Some(f) => prefix_beam_search_with(logp, blank, beam, prune_logp, Some(f)),
        None => prefix_beam_search_with::<Fusion>(logp, blank, beam, prune_logp, None),
    }
}

/// CTC prefix beam search with an optional external scorer (shallow
/// fusion). Tokens with a log posterior below `prune_logp` in a frame are
/// skipped (the blank never is). Ties break on the token sequence, so
/// results are deterministic. When the scorer rejects every final prefix
/// (a vocabulary-constrained search ending inside a word), the best prefix
/// is cut back to its last complete word.
pub fn prefix_beam_search_with<S: PrefixScorer + ?Sized>(
    logp: &Matrix,
    blank: usize,
    beam: usize,
    prune_logp: f32,
    scorer: Option<&S>,
) -> Vec<usize> {
    let beam = beam.max(1);
    let start = scorer.map_or(ScorerState::default(), |s| s.start());
    let mut hyps: Vec<(Vec<usize>, Hyp)> = vec![(
        Vec::new(),
        Hyp {
            probs: Probs {
                blank: 0.0,
                non_blank: f32::NEG_INFINITY,
            },
            state: start,
            ext: 0.0,
        },
    )];
    for row in logp.iter_rows() {
        let mut next: HashMap<Vec<usize>, Hyp> = HashMap::with_capacity(beam * 4);
        let candidates: Vec<usize> = (0..row.len())
            .filter(|&s| s != blank && row[s] >= prune_logp)
            .collect();
        for (prefix, h) in &hyps {
            let p = h.probs;
            let total = p.total();
            // Blank: prefix unchanged.
            let e = next.entry(prefix.clone()).or_insert(Hyp {
                probs: Probs::ZERO,
                ..*h
            });
            e.probs.blank = log_add(e.probs.blank, total + row[blank]);
            let last = prefix.last().copied();
            for &s in &candidates {
                let lp = row[s];
                // The prefix extended by `s`, reached from `from` (log prob).
                let from = if Some(s) == last {
                    // A repeat without a blank in between collapses into the same prefix ...
                    let e = next.entry(prefix.clone()).or_insert(Hyp {
                        probs: Probs::ZERO,
                        ..*h
                    });
                    e.probs.non_blank = log_add(e.probs.non_blank, p.non_blank + lp);
                    // ... and only after a blank starts a new token.
                    p.blank
                } else {
                    total
                };
                let (state, add) = match scorer {
                    Some(sc) => match sc.extend(h.state, prefix, s) {
                        Some(x) => x,
                        None => continue,
                    },
                    None => (h.state, 0.0),
                };
                let mut ext = prefix.clone();
                ext.push(s);
                let e = next.entry(ext).or_insert(Hyp {
                    probs: Probs::ZERO,
                    state,
                    ext: h.ext + add,
                });
                e.probs.non_blank = log_add(e.probs.non_blank, from + lp);
            }
        }
        let mut all: Vec<(Vec<usize>, Hyp)> = next.into_iter().collect();
        all.sort_by(|a, b| {
            (b.1.probs.total() + b.1.ext)
                .total_cmp(&(a.1.probs.total() + a.1.ext))
                .then_with(|| a.0.cmp(&b.0))
        });
        all.truncate(beam);
        hyps = all;
    }
    let final_score = |(prefix, h): &(Vec<usize>, Hyp)| match scorer {
        Some(sc) => sc
            .finish(h.state, prefix)
            .map_or(f32::NEG_INFINITY, |f| h.probs.total() + h.ext + f),
        None => h.probs.total(),
    };
    let mut scored: Vec<(f32, Vec<usize>)> =
        hyps.into_iter().map(|h| (final_score(&h), h.0)).collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    match scored.into_iter().next() {
        Some((score, prefix)) if score > f32::NEG_INFINITY => prefix,
        Some((_, mut prefix)) => {
            // Every final prefix ends inside a word the scorer does not
            // know (only a scorer that forbids gets here): keep the longest
            // part of the best one that the scorer accepts as a sentence.
            while !prefix.is_empty() && !finishes(scorer, &prefix) {
                prefix.pop();
            }
            prefix
        }
        None => Vec::new(),
    }
}

/// Whether the scorer accepts `prefix` as a whole sentence.
fn finishes<S: PrefixScorer + ?Sized>(scorer: Option<&S>, prefix: &[usize]) -> bool {
    let Some(sc) = scorer else { return true };
    let mut st = sc.start();
    for (i, &tok) in prefix.iter().enumerate() {
        match sc.extend(st, &prefix[..i], tok) {
            Some((s, _)) => st = s,
            None => return false,
        }
    }
    sc.finish(st, prefix).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Posteriors from probabilities (rows need not be exactly normalised for the search).
    fn post(rows: &[&[f32]]) -> Matrix {
        let cols = rows[0].len();
        Matrix::from_vec(
            rows.len(),
            cols,
            rows.iter().flat_map(|r| r.iter().map(|p| p.ln())).collect(),
        )
    }

    #[test]
    fn greedy_merges_repeats_and_drops_blanks() {
        // frames: a a <b> a b b <b>   (tokens: 0 blank, 1 a, 2 b)
        let m = post(&[
            &[0.1, 0.8, 0.1],
            &[0.2, 0.7, 0.1],
            &[0.9, 0.05, 0.05],
            &[0.1, 0.6, 0.3],
            &[0.1, 0.2, 0.7],
            &[0.3, 0.1, 0.6],
            &[0.8, 0.1, 0.1],
        ]);
        assert_eq!(greedy(&m, 0), vec![1, 1, 2]);
    }

    #[test]
    fn beam_finds_the_more_probable_prefix_that_greedy_misses() {
        // Two frames, tokens blank/a. Best path is blank,blank (0.6*0.6 = 0.36) -> "",
        // but "a" sums over a_, _a, aa: 0.4*0.6 + 0.6*0.4 + 0.4*0.4 = 0.64.
        let m = post(&[&[0.6, 0.4], &[0.6, 0.4]]);
        assert_eq!(greedy(&m, 0), Vec::<usize>::new());
        assert_eq!(prefix_beam_search(&m, 0, 4, -30.0, None), vec![1]);
        // Beam 1 drops "a" after the first frame (0.4 < 0.6) and ends with the empty prefix.
        assert_eq!(
            prefix_beam_search(&m, 0, 1, -30.0, None),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn beam_handles_repeats_separated_by_blank() {
        // a <b> a -> "aa"; a a -> "a".
        let m = post(&[&[0.05, 0.95], &[0.95, 0.05], &[0.05, 0.95]]);
        assert_eq!(prefix_beam_search(&m, 0, 8, -30.0, None), vec![1, 1]);
        let m = post(&[&[0.05, 0.95], &[0.05, 0.95]]);
        assert_eq!(prefix_beam_search(&m, 0, 8, -30.0, None), vec![1]);
    }

    #[test]
    fn beam_agrees_with_greedy_on_peaky_posteriors() {
        let m = post(&[
            &[0.01, 0.98, 0.01],
            &[0.98, 0.01, 0.01],
            &[0.01, 0.01, 0.98],
            &[0.01, 0.01, 0.98],
            &[0.98, 0.01, 0.01],
        ]);
        assert_eq!(prefix_beam_search(&m, 0, 8, -30.0, None), greedy(&m, 0));
    }

    struct ToyLm;
    impl WordLm for ToyLm {
        fn log_prob(&self, _h: &[String], w: &str) -> f32 {
            match w {
                "ab" => -0.1,
                _ => -10.0,
            }
        }
        fn log_prob_end(&self, _h: &[String]) -> f32 {
            0.0
        }
    }

    #[test]
    fn shallow_fusion_prefers_the_lm_word() {
        // tokens: 0 blank, 1 space, 2 a, 3 b. Acoustics slightly prefer "aa" over "ab".
        let symbols: Vec<String> = ["<blank>", " ", "a", "b"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let m = post(&[
            &[0.01, 0.01, 0.97, 0.01],
            &[0.9, 0.01, 0.05, 0.04],
            &[0.01, 0.01, 0.53, 0.45],
        ]);
        assert_eq!(prefix_beam_search(&m, 0, 8, -30.0, None), vec![2, 2]);
        let lm = ToyLm;
        let f = Fusion {
            lm: &lm,
            weight: 1.0,
            word_bonus: 0.0,
            space: 1,
            symbols: &symbols,
        };
        assert_eq!(prefix_beam_search(&m, 0, 8, -30.0, Some(&f)), vec![2, 3]);
        // Weight 0 is the pure end-to-end search again.
        let f0 = Fusion { weight: 0.0, ..f };
        assert_eq!(prefix_beam_search(&m, 0, 8, -30.0, Some(&f0)), vec![2, 2]);
    }
}
