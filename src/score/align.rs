//! Edit-distance alignment of a reference and a hypothesis token sequence.
//!
//! Two cost schemes, each with the tie-breaking of the tool it reproduces
//! (among alignments of equal cost the choice changes the split between
//! substitutions, deletions and insertions, so it is part of the contract):
//!
//! - [`AlignMode::Levenshtein`]: unit costs, like Kaldi's `compute-wer` and
//!   jiwer. Ties are broken exactly as RapidFuzz's `Levenshtein.opcodes`
//!   (which jiwer 4 calls) breaks them: the common prefix and suffix are
//!   matched first, then the backtrace from the end of the remaining middle
//!   prefers a deletion, then an insertion, then the diagonal (match or
//!   substitution). Checked against jiwer on the fixtures in
//!   `tests/fixtures/score/`.
//! - [`AlignMode::Sclite`]: NIST sclite's weights (correct 0, substitution 4,
//!   insertion 3, deletion 3). The backtrace from the end prefers the diagonal,
//!   then an insertion, then a deletion, which reproduces the alignments that
//!   `sctk sclite` prints (checked per utterance on the fixtures).

use super::ErrorCounts;

/// How reference and hypothesis are aligned (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlignMode {
    /// Unit-cost Levenshtein, like Kaldi `compute-wer` and jiwer.
    Levenshtein,
    /// NIST sclite weights: substitution 4, insertion 3, deletion 3.
    Sclite,
}

/// One step of an alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EditOp {
    /// Reference and hypothesis tokens are equal.
    Match,
    /// A reference token was recognised as a different hypothesis token.
    Sub,
    /// A reference token is missing from the hypothesis.
    Del,
    /// A hypothesis token has no reference counterpart.
    Ins,
}

/// One aligned column: the operation and the tokens on each side
/// (`None` for the gap side of a deletion or insertion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlignedToken {
    pub op: EditOp,
    pub reference: Option<String>,
    pub hypothesis: Option<String>,
}

/// A full alignment, in reading order, and its counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alignment {
    pub ops: Vec<AlignedToken>,
    pub counts: ErrorCounts,
}

/// Unit-cost Levenshtein distance between token sequences (the error count
/// of a `Levenshtein` alignment, without the alignment): the one edit
/// distance of the tool, also the networks' dev token error during training.
pub fn edit_distance<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, x) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(x != y))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Align `hypothesis` to `reference` under `mode`.
pub fn align(reference: &[&str], hypothesis: &[&str], mode: AlignMode) -> Alignment {
    let ops = match mode {
        AlignMode::Levenshtein => levenshtein_ops(reference, hypothesis),
        AlignMode::Sclite => sclite_ops(reference, hypothesis),
    };
    let mut counts = ErrorCounts {
        ref_len: reference.len() as u64,
        hyp_len: hypothesis.len() as u64,
        ..Default::default()
    };
    let (mut i, mut j) = (0usize, 0usize);
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        let (r, h) = match op {
            EditOp::Match | EditOp::Sub => {
                i += 1;
                j += 1;
                (Some(reference[i - 1]), Some(hypothesis[j - 1]))
            }
            EditOp::Del => {
                i += 1;
                (Some(reference[i - 1]), None)
            }
            EditOp::Ins => {
                j += 1;
                (None, Some(hypothesis[j - 1]))
            }
        };
        match op {
            EditOp::Match => counts.correct += 1,
            EditOp::Sub => counts.sub += 1,
            EditOp::Del => counts.del += 1,
            EditOp::Ins => counts.ins += 1,
        }
        out.push(AlignedToken {
            op,
            reference: r.map(str::to_string),
            hypothesis: h.map(str::to_string),
        });
    }
    debug_assert_eq!((i, j), (reference.len(), hypothesis.len()));
    Alignment { ops: out, counts }
}

/// Full cost matrix, row-major, (n+1) x (m+1), for reference length n and
/// hypothesis length m.
fn cost_matrix(r: &[&str], h: &[&str], sub: u32, del: u32, ins: u32) -> Vec<u32> {
    let (n, m) = (r.len(), h.len());
    let w = m + 1;
    let mut d = vec![0u32; (n + 1) * w];
    for (j, cell) in d[..w].iter_mut().enumerate() {
        *cell = j as u32 * ins;
    }
    for i in 1..=n {
        d[i * w] = i as u32 * del;
        for j in 1..=m {
            let diag = d[(i - 1) * w + j - 1] + if r[i - 1] == h[j - 1] { 0 } else { sub };
            let up = d[(i - 1) * w + j] + del;
            let left = d[i * w + j - 1] + ins;
            d[i * w + j] = diag.min(up).min(left);
        }
    }
    d
}

/// Unit-cost alignment with RapidFuzz's tie-breaking (see module docs).
fn levenshtein_ops(r: &[&str], h: &[&str]) -> Vec<EditOp> {
    let prefix = r.iter().zip(h).take_while(|(a, b)| a == b).count();
    let (r_rest, h_rest) = (&r[prefix..], &h[prefix..]);
    let suffix = r_rest
        .iter()
        .rev()
        .zip(h_rest.iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let rm = &r_rest[..r_rest.len() - suffix];
    let hm = &h_rest[..h_rest.len() - suffix];

    let (n, m) = (rm.len(), hm.len());
    let w = m + 1;
    let d = cost_matrix(rm, hm, 1, 1, 1);
    let at = |i: usize, j: usize| d[i * w + j] as i64;
    // Backtrace from the end, collecting ops in reverse. This mirrors RapidFuzz's
    // bit-parallel recovery: its vertical delta D[i][j] - D[i-1][j] tests are
    // written here on the explicit matrix.
    let mut rev = Vec::with_capacity(n + m);
    let (mut i, mut j) = (n, m);
    while i > 0 && j > 0 {
        if at(i, j) == at(i - 1, j) + 1 {
            rev.push(EditOp::Del);
            i -= 1;
        } else {
            j -= 1;
            if j > 0 && at(i, j) == at(i - 1, j) - 1 {
                rev.push(EditOp::Ins);
            } else {
                i -= 1;
                rev.push(if rm[i] == hm[j] {
                    EditOp::Match
                } else {
                    EditOp::Sub
                });
            }
        }
    }
    rev.extend(std::iter::repeat_n(EditOp::Del, i));
    rev.extend(std::iter::repeat_n(EditOp::Ins, j));

    let mut ops = Vec::with_capacity(prefix + rev.len() + suffix);
    ops.extend(std::iter::repeat_n(EditOp::Match, prefix));
    ops.extend(rev.into_iter().rev());
    ops.extend(std::iter::repeat_n(EditOp::Match, suffix));
    ops
}

/// sclite weights: substitution 4, deletion 3, insertion 3, correct 0.
const SCLITE_SUB: u32 = 4;
const SCLITE_DEL: u32 = 3;
const SCLITE_INS: u32 = 3;

/// sclite-weighted alignment; backtrace prefers diagonal, insertion, deletion.
fn sclite_ops(r: &[&str], h: &[&str]) -> Vec<EditOp> {
    let (n, m) = (r.len(), h.len());
    let w = m + 1;
    let d = cost_matrix(r, h, SCLITE_SUB, SCLITE_DEL, SCLITE_INS);
    let at = |i: usize, j: usize| d[i * w + j];
    let mut rev = Vec::with_capacity(n + m);
    let (mut i, mut j) = (n, m);
    while i > 0 || j > 0 {
        if i > 0 && j > 0 {
            let same = r[i - 1] == h[j - 1];
            let diag = at(i - 1, j - 1) + if same { 0 } else { SCLITE_SUB };
            if diag == at(i, j) {
                rev.push(if same { EditOp::Match } else { EditOp::Sub });
                i -= 1;
                j -= 1;
                continue;
            }
        }
        if j > 0 && at(i, j - 1) + SCLITE_INS == at(i, j) {
            rev.push(EditOp::Ins);
            j -= 1;
        } else {
            debug_assert!(i > 0 && at(i - 1, j) + SCLITE_DEL == at(i, j));
            rev.push(EditOp::Del);
            i -= 1;
        }
    }
    rev.reverse();
    rev
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<&str> {
        s.split_whitespace().collect()
    }

    fn sdi(a: &Alignment) -> (u64, u64, u64, u64) {
        (a.counts.correct, a.counts.sub, a.counts.del, a.counts.ins)
    }

    #[test]
    fn edit_distance_counts() {
        assert_eq!(edit_distance(b"kitten", b"sitting"), 3);
        assert_eq!(edit_distance::<u8>(b"", b"abc"), 3);
    }

    #[test]
    fn empty_cases() {
        for mode in [AlignMode::Levenshtein, AlignMode::Sclite] {
            let a = align(&[], &[], mode);
            assert!(a.ops.is_empty());
            assert_eq!(a.counts.errors(), 0);
            let a = align(&[], &w("a b"), mode);
            assert_eq!(sdi(&a), (0, 0, 0, 2));
            assert!(a
                .ops
                .iter()
                .all(|t| t.reference.is_none() && t.hypothesis.is_some()));
            let a = align(&w("a b c"), &[], mode);
            assert_eq!(sdi(&a), (0, 0, 3, 0));
            assert_eq!(a.counts.ref_len, 3);
        }
    }

    #[test]
    fn known_alignments() {
        // RapidFuzz docs example: qabxcd -> abycdf is delete q, replace x->y, insert f.
        let r: Vec<&str> = "q a b x c d".split(' ').collect();
        let h: Vec<&str> = "a b y c d f".split(' ').collect();
        let a = align(&r, &h, AlignMode::Levenshtein);
        let ops: Vec<EditOp> = a.ops.iter().map(|t| t.op).collect();
        use EditOp::*;
        assert_eq!(ops, vec![Del, Match, Match, Sub, Match, Match, Ins]);
        // sclite: "a b" vs "b c" costs 6 via D,C,I but 8 via S,S.
        let a = align(&w("a b"), &w("b c"), AlignMode::Sclite);
        assert_eq!(
            a.ops.iter().map(|t| t.op).collect::<Vec<_>>(),
            vec![Del, Match, Ins]
        );
        // Unit cost: S,S and D,C,I both cost 2; RapidFuzz's backtrace takes S,S
        // (jiwer reports 2 substitutions for this pair).
        let a = align(&w("a b"), &w("b c"), AlignMode::Levenshtein);
        assert_eq!(
            a.ops.iter().map(|t| t.op).collect::<Vec<_>>(),
            vec![Sub, Sub]
        );
    }

    #[test]
    fn levenshtein_is_minimal_and_consistent() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let vocab = ["a", "b", "c"];
        for _ in 0..2000 {
            let r: Vec<&str> = (0..rng.gen_range(0..9))
                .map(|_| vocab[rng.gen_range(0..3)])
                .collect();
            let h: Vec<&str> = (0..rng.gen_range(0..9))
                .map(|_| vocab[rng.gen_range(0..3)])
                .collect();
            let a = align(&r, &h, AlignMode::Levenshtein);
            assert_eq!(
                a.counts.errors(),
                edit_distance(&r, &h) as u64,
                "{r:?} {h:?}"
            );
            let s = align(&r, &h, AlignMode::Sclite);
            // sclite weights never find fewer errors than unit cost.
            assert!(s.counts.errors() >= a.counts.errors());
            for al in [&a, &s] {
                assert_eq!(
                    al.counts.correct + al.counts.sub + al.counts.del,
                    r.len() as u64
                );
                assert_eq!(
                    al.counts.correct + al.counts.sub + al.counts.ins,
                    h.len() as u64
                );
                let rr: Vec<&str> = al
                    .ops
                    .iter()
                    .filter_map(|t| t.reference.as_deref())
                    .collect();
                let hh: Vec<&str> = al
                    .ops
                    .iter()
                    .filter_map(|t| t.hypothesis.as_deref())
                    .collect();
                assert_eq!((rr, hh), (r.clone(), h.clone()));
                for t in &al.ops {
                    match t.op {
                        EditOp::Match => assert_eq!(t.reference, t.hypothesis),
                        EditOp::Sub => assert_ne!(t.reference, t.hypothesis),
                        _ => {}
                    }
                }
            }
        }
    }
}
