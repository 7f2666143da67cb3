//! CTC decoders over a [`Matrix`] of log posteriors (frames x tokens, blank = 0):
//! - [`greedy`]: best token per frame, repeats merged, blanks dropped;
//! - [`prefix_beam_search`]: CTC prefix beam search (Hannun et al. 2014) that
//!   sums over all alignments of a prefix, with optional shallow fusion of a
//!   word language model ([`WordLm`]) applied each time a word is completed.
//!
//! Shallow fusion: the hook and its search are here and tested with a toy LM;
//! wiring the classical word n-gram LM into it is not done yet (the LM lives
//! in the `classical` branch, which had not landed when this was written).
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

/// Shallow fusion settings: score = log P_ctc + weight * log P_lm + bonus * words.
pub struct Fusion<'a> {
    pub lm: &'a dyn WordLm,
    pub weight: f32,
    pub word_bonus: f32,
    /// Token id of the word separator.
    pub space: usize,
    /// Token id -> character, to spell words for the LM.
    pub symbols: &'a [String],
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

/// LM score of the completed words of a prefix (all words before the last space).
fn lm_score(prefix: &[usize], f: &Fusion, finished: bool) -> f32 {
    let mut words = words_of(prefix, f);
    let last = words.pop().unwrap_or_default();
    if finished && !last.is_empty() {
        words.push(last);
    }
    let mut s = 0.0;
    for i in 0..words.len() {
        s += f.weight * f.lm.log_prob(&words[..i], &words[i]) + f.word_bonus;
    }
    if finished {
        s += f.weight * f.lm.log_prob_end(&words);
    }
    s
}

/// CTC prefix beam search. Tokens with a log posterior below `prune_logp` in a
/// frame are skipped (the blank never is). Ties break on the token sequence, so
/// results are deterministic.
pub fn prefix_beam_search(
    logp: &Matrix,
    blank: usize,
    beam: usize,
    prune_logp: f32,
    fusion: Option<&Fusion>,
) -> Vec<usize> {
    let beam = beam.max(1);
    // prefix -> (acoustic probs, LM score of its completed words)
    let mut hyps: Vec<(Vec<usize>, Probs, f32)> = vec![(
        Vec::new(),
        Probs {
            blank: 0.0,
            non_blank: f32::NEG_INFINITY,
        },
        0.0,
    )];
    for row in logp.iter_rows() {
        let mut next: HashMap<Vec<usize>, (Probs, f32)> = HashMap::with_capacity(beam * 4);
        let candidates: Vec<usize> = (0..row.len())
            .filter(|&s| s != blank && row[s] >= prune_logp)
            .collect();
        for (prefix, p, lm) in &hyps {
            let total = p.total();
            // Blank: prefix unchanged.
            let e = next.entry(prefix.clone()).or_insert((Probs::ZERO, *lm));
            e.0.blank = log_add(e.0.blank, total + row[blank]);
            let last = prefix.last().copied();
            for &s in &candidates {
                let lp = row[s];
                if Some(s) == last {
                    // Repeat without a blank in between collapses into the same prefix ...
                    let e = next.entry(prefix.clone()).or_insert((Probs::ZERO, *lm));
                    e.0.non_blank = log_add(e.0.non_blank, p.non_blank + lp);
                    // ... and only after a blank starts a new token.
                    let mut ext = prefix.clone();
                    ext.push(s);
                    let lm_ext = fusion.map_or(0.0, |f| {
                        if s == f.space {
                            lm_score(&ext, f, false)
                        } else {
                            *lm
                        }
                    });
                    let e = next.entry(ext).or_insert((Probs::ZERO, lm_ext));
                    e.0.non_blank = log_add(e.0.non_blank, p.blank + lp);
                } else {
                    let mut ext = prefix.clone();
                    ext.push(s);
                    let lm_ext = fusion.map_or(0.0, |f| {
                        if s == f.space {
                            lm_score(&ext, f, false)
                        } else {
                            *lm
                        }
                    });
                    let e = next.entry(ext).or_insert((Probs::ZERO, lm_ext));
                    e.0.non_blank = log_add(e.0.non_blank, total + lp);
                }
            }
        }
        let mut all: Vec<(Vec<usize>, Probs, f32)> =
            next.into_iter().map(|(k, (p, lm))| (k, p, lm)).collect();
        all.sort_by(|a, b| {
            (b.1.total() + b.2)
                .total_cmp(&(a.1.total() + a.2))
                .then_with(|| a.0.cmp(&b.0))
        });
        all.truncate(beam);
        hyps = all;
    }
    let final_score = |h: &(Vec<usize>, Probs, f32)| match fusion {
        Some(f) => h.1.total() + lm_score(&h.0, f, true),
        None => h.1.total(),
    };
    hyps.sort_by(|a, b| {
        final_score(b)
            .total_cmp(&final_score(a))
            .then_with(|| a.0.cmp(&b.0))
    });
    hyps.into_iter().next().map(|h| h.0).unwrap_or_default()
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
