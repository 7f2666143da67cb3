//! Bootstrap confidence intervals for error rates (Bisani & Ney, "Bootstrap
//! estimates for confidence intervals in ASR performance evaluation", ICASSP
//! 2004): utterances are the resampling unit, because errors within one
//! utterance are not independent. Each replicate draws `n` utterances with
//! replacement and computes the pooled rate `sum(errors) / sum(ref_len)`;
//! intervals are percentiles of the replicate rates (linear interpolation
//! between order statistics). Every draw comes from a ChaCha8 generator
//! seeded by the caller, so results are reproducible per seed.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Pooled error rate of the utterances picked by `idx`.
fn pooled(per_utt: &[(u64, u64)], idx: &[usize]) -> f64 {
    let (mut e, mut n) = (0u64, 0u64);
    for &i in idx {
        e += per_utt[i].0;
        n += per_utt[i].1;
    }
    crate::numeric::ratio(e, n)
}

/// Percentile `q` in [0, 1] of sorted values ([`crate::numeric::percentile`]).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    crate::numeric::percentile(sorted, q).unwrap_or(f64::NAN)
}

fn draw(rng: &mut ChaCha8Rng, n: usize, idx: &mut [usize]) {
    for slot in idx.iter_mut() {
        *slot = rng.gen_range(0..n);
    }
}

/// Two-sided bootstrap interval of the pooled error rate (as fractions).
///
/// `per_utt` holds `(errors, ref_len)` per utterance; `level` is the coverage,
/// e.g. 0.95. Returns `(NaN, NaN)` when there are no utterances or no
/// replicates.
pub fn bootstrap_ci(
    per_utt: &[(u64, u64)],
    replicates: usize,
    seed: u64,
    level: f64,
) -> (f64, f64) {
    let n = per_utt.len();
    if n == 0 || replicates == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut idx = vec![0usize; n];
    let mut rates: Vec<f64> = (0..replicates)
        .map(|_| {
            draw(&mut rng, n, &mut idx);
            pooled(per_utt, &idx)
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    let alpha = (1.0 - level.clamp(0.0, 1.0)) / 2.0;
    (percentile(&rates, alpha), percentile(&rates, 1.0 - alpha))
}

/// Result of a paired bootstrap comparison of systems A and B.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairedComparison {
    /// Fraction of replicates in which A's pooled error rate is strictly lower
    /// than B's (Bisani & Ney's "probability of improvement" of A over B).
    pub p_a_better: f64,
    /// Fraction of replicates in which B's rate is strictly lower than A's.
    pub p_b_better: f64,
    /// Rate of A minus rate of B on the full set (fraction).
    pub delta: f64,
    /// Bootstrap interval of that difference at the requested level.
    pub delta_lo: f64,
    pub delta_hi: f64,
}

/// Paired bootstrap: the same resampled utterances score both systems.
/// `a` and `b` are `(errors, ref_len)` for the same utterances in the same
/// order.
///
/// # Panics
/// If `a` and `b` differ in length or in any `ref_len` (they were not scored
/// on the same references), or are empty, or `replicates` is 0.
pub fn paired_bootstrap_ci(
    a: &[(u64, u64)],
    b: &[(u64, u64)],
    replicates: usize,
    seed: u64,
    level: f64,
) -> PairedComparison {
    assert_eq!(
        a.len(),
        b.len(),
        "paired bootstrap needs the same utterances for both systems"
    );
    assert!(
        a.iter().zip(b).all(|(x, y)| x.1 == y.1),
        "paired bootstrap needs the same reference lengths for both systems"
    );
    assert!(
        !a.is_empty() && replicates > 0,
        "paired bootstrap needs utterances and replicates"
    );
    let n = a.len();
    let all: Vec<usize> = (0..n).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut idx = vec![0usize; n];
    let (mut a_better, mut b_better) = (0usize, 0usize);
    let mut deltas = Vec::with_capacity(replicates);
    for _ in 0..replicates {
        draw(&mut rng, n, &mut idx);
        let (ra, rb) = (pooled(a, &idx), pooled(b, &idx));
        if ra < rb {
            a_better += 1;
        } else if rb < ra {
            b_better += 1;
        }
        // A draw of only empty references can make both rates infinite; its
        // difference is undefined and left out of the interval.
        let d = ra - rb;
        if !d.is_nan() {
            deltas.push(d);
        }
    }
    deltas.sort_by(f64::total_cmp);
    let alpha = (1.0 - level.clamp(0.0, 1.0)) / 2.0;
    let (delta_lo, delta_hi) = if deltas.is_empty() {
        (f64::NAN, f64::NAN)
    } else {
        (percentile(&deltas, alpha), percentile(&deltas, 1.0 - alpha))
    };
    PairedComparison {
        p_a_better: a_better as f64 / replicates as f64,
        p_b_better: b_better as f64 / replicates as f64,
        delta: pooled(a, &all) - pooled(b, &all),
        delta_lo,
        delta_hi,
    }
}

/// Probability that system A has a lower error rate than system B
/// (fraction of paired bootstrap replicates); see [`paired_bootstrap_ci`].
pub fn paired_bootstrap(a: &[(u64, u64)], b: &[(u64, u64)], replicates: usize, seed: u64) -> f64 {
    paired_bootstrap_ci(a, b, replicates, seed, 0.95).p_a_better
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Utterances of 5..15 words with errors drawn at rate `p`.
    fn synth(n: usize, p: f64, seed: u64) -> Vec<(u64, u64)> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let len = rng.gen_range(5..15u64);
                let errs = (0..len).filter(|_| rng.gen_bool(p)).count() as u64;
                (errs, len)
            })
            .collect()
    }

    fn point(v: &[(u64, u64)]) -> f64 {
        v.iter().map(|x| x.0).sum::<u64>() as f64 / v.iter().map(|x| x.1).sum::<u64>() as f64
    }

    #[test]
    fn ci_contains_point_and_narrows_with_more_utterances() {
        let small = synth(50, 0.2, 1);
        let large = synth(2000, 0.2, 2);
        let (lo_s, hi_s) = bootstrap_ci(&small, 1000, 0, 0.95);
        let (lo_l, hi_l) = bootstrap_ci(&large, 1000, 0, 0.95);
        assert!(
            lo_s < point(&small) && point(&small) < hi_s,
            "{lo_s} {hi_s}"
        );
        assert!(
            lo_l < point(&large) && point(&large) < hi_l,
            "{lo_l} {hi_l}"
        );
        // Width shrinks roughly as 1/sqrt(n): 40x the data, about 6x narrower.
        assert!(
            (hi_l - lo_l) * 3.0 < hi_s - lo_s,
            "{} vs {}",
            hi_l - lo_l,
            hi_s - lo_s
        );
        // The true rate 0.2 is inside the large-sample interval.
        assert!(lo_l < 0.2 && 0.2 < hi_l);
        // A 50% interval sits inside the 95% one.
        let (lo50, hi50) = bootstrap_ci(&small, 1000, 0, 0.5);
        assert!(lo_s < lo50 && hi50 < hi_s);
    }

    #[test]
    fn deterministic_per_seed() {
        let v = synth(100, 0.3, 3);
        assert_eq!(
            bootstrap_ci(&v, 500, 42, 0.95),
            bootstrap_ci(&v, 500, 42, 0.95)
        );
        assert_ne!(
            bootstrap_ci(&v, 500, 42, 0.95),
            bootstrap_ci(&v, 500, 43, 0.95)
        );
        let w = synth(100, 0.3, 4);
        let w: Vec<(u64, u64)> = w.iter().zip(&v).map(|(x, y)| (x.0.min(y.1), y.1)).collect();
        assert_eq!(
            paired_bootstrap(&v, &w, 300, 9),
            paired_bootstrap(&v, &w, 300, 9)
        );
    }

    #[test]
    fn paired_comparison_detects_the_better_system() {
        let a = synth(300, 0.10, 5);
        // B: same utterances, more errors on each (capped at the length).
        let b: Vec<(u64, u64)> = a.iter().map(|&(e, n)| ((e + 1).min(n), n)).collect();
        let c = paired_bootstrap_ci(&a, &b, 1000, 0, 0.95);
        assert!(c.p_a_better > 0.99, "{c:?}");
        assert!(
            c.delta < 0.0 && c.delta_lo <= c.delta && c.delta <= c.delta_hi && c.delta_hi < 0.0,
            "{c:?}"
        );
        assert_eq!(paired_bootstrap(&b, &a, 1000, 0), c.p_b_better);
        // Identical systems: never strictly better either way, delta 0.
        let same = paired_bootstrap_ci(&a, &a, 200, 0, 0.95);
        assert_eq!(
            (
                same.p_a_better,
                same.p_b_better,
                same.delta_lo,
                same.delta_hi
            ),
            (0.0, 0.0, 0.0, 0.0)
        );
        // Two systems with equal error rates on different utterances: a coin flip.
        let x = synth(400, 0.2, 6);
        let y: Vec<(u64, u64)> = synth(400, 0.2, 7)
            .iter()
            .zip(&x)
            .map(|(e, r)| (e.0.min(r.1), r.1))
            .collect();
        let p = paired_bootstrap(&x, &y, 1000, 1);
        assert!(p > 0.0 && p < 1.0);
    }

    #[test]
    fn degenerate_inputs() {
        assert!(bootstrap_ci(&[], 100, 0, 0.95).0.is_nan());
        assert!(bootstrap_ci(&[(1, 2)], 0, 0, 0.95).1.is_nan());
        assert_eq!(bootstrap_ci(&[(1, 4)], 50, 0, 0.95), (0.25, 0.25));
    }
}
