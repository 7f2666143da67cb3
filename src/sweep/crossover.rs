//! Where do two WER-vs-hours curves cross?
//!
//! The point estimate interpolates linearly in log-hours between the two grid
//! points where the difference `wer_a - wer_b` changes sign from positive (A
//! worse) to non-positive (A as good or better), using the seed means. The
//! confidence interval comes from a bootstrap that resamples test utterances
//! (the same draw for every cell, so the comparison stays paired) and seeds,
//! recomputing every cell's WER from its per-utterance errors and then the
//! crossing. Nothing is extrapolated: a curve pair that does not cross inside
//! the grid is reported as such, with which side leads at each end.
use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Per-utterance (errors, reference words) of one trained cell on the test set,
/// in the same utterance order for every cell.
pub type UttErrors = Vec<(u32, u32)>;

/// One pipeline's curve: for each grid point (hours), one entry per seed.
#[derive(Debug, Clone, Default)]
pub struct Curve {
    pub points: BTreeMap<OrderedHours, Vec<UttErrors>>,
}

/// Hours as a map key (grid values are finite and positive).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct OrderedHours(pub f64);
impl Eq for OrderedHours {}
#[allow(clippy::derive_ord_xor_partial_ord)]
impl Ord for OrderedHours {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum Crossing {
    /// A falls below B at `hours` (interpolated in log-hours).
    At {
        hours: f64,
        lo: Option<f64>,
        hi: Option<f64>,
        support: f64,
    },
    /// No crossing inside the grid; `a_minus_b_first`/`last` are WER
    /// differences (points, %) at the smallest and largest common grid point.
    None {
        a_minus_b_first: f64,
        a_minus_b_last: f64,
        first_hours: f64,
        last_hours: f64,
        support: f64,
    },
    /// Fewer than two common grid points.
    Undefined,
}

fn wer_of(cells: &[UttErrors], idx: Option<&[usize]>) -> f64 {
    // Mean over seeds of corpus-level WER (%).
    let mut sum = 0.0;
    for c in cells {
        let (mut e, mut n) = (0u64, 0u64);
        match idx {
            Some(ix) => {
                for &i in ix {
                    e += c[i].0 as u64;
                    n += c[i].1 as u64;
                }
            }
            None => {
                for &(ei, ni) in c {
                    e += ei as u64;
                    n += ni as u64;
                }
            }
        }
        sum += if n == 0 {
            0.0
        } else {
            100.0 * e as f64 / n as f64
        };
    }
    sum / cells.len().max(1) as f64
}

/// Where `a` overtakes `b` for good: the last grid interval in which
/// `a - b` goes from > 0 to <= 0, provided `a` stays at or below `b` at every
/// larger grid point (a dip that reverses is not an overtaking), interpolated
/// in log-hours.
pub fn crossing_point(hours: &[f64], a: &[f64], b: &[f64]) -> Option<f64> {
    let n = hours.len();
    let d: Vec<f64> = (0..n).map(|i| a[i] - b[i]).collect();
    for i in (0..n.saturating_sub(1)).rev() {
        if d[i + 1] > 0.0 {
            return None; // a is behind at a larger size: no lasting crossing
        }
        if d[i] > 0.0 {
            let (l0, l1) = (hours[i].ln(), hours[i + 1].ln());
            let t = d[i] / (d[i] - d[i + 1]);
            return Some((l0 + t * (l1 - l0)).exp());
        }
    }
    None
}

/// Mean WER (%) at each common grid point of two curves.
pub fn mean_curves(a: &Curve, b: &Curve) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut hours = Vec::new();
    let (mut wa, mut wb) = (Vec::new(), Vec::new());
    for (h, cells_a) in &a.points {
        if let Some(cells_b) = b.points.get(h) {
            if cells_a.is_empty() || cells_b.is_empty() {
                continue;
            }
            hours.push(h.0);
            wa.push(wer_of(cells_a, None));
            wb.push(wer_of(cells_b, None));
        }
    }
    (hours, wa, wb)
}

/// Estimate where `a` (e.g. the end-to-end system) overtakes `b`, with a
/// `replicates`-draw bootstrap over test utterances and seeds.
pub fn estimate(a: &Curve, b: &Curve, replicates: usize, seed: u64) -> Crossing {
    let (hours, wa, wb) = mean_curves(a, b);
    if hours.len() < 2 {
        return Crossing::Undefined;
    }
    let n_utt = a
        .points
        .values()
        .flatten()
        .next()
        .map(|c| c.len())
        .unwrap_or(0);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut found = Vec::new();
    for _ in 0..replicates {
        let idx: Vec<usize> = (0..n_utt).map(|_| rng.gen_range(0..n_utt)).collect();
        let mut ra = Vec::with_capacity(hours.len());
        let mut rb = Vec::with_capacity(hours.len());
        for &h in &hours {
            let ca = &a.points[&OrderedHours(h)];
            let cb = &b.points[&OrderedHours(h)];
            // Resample seeds too (with replacement) when there are several.
            let pick = |cells: &Vec<UttErrors>, rng: &mut ChaCha8Rng| -> Vec<UttErrors> {
                if cells.len() <= 1 {
                    cells.clone()
                } else {
                    (0..cells.len())
                        .map(|_| cells[rng.gen_range(0..cells.len())].clone())
                        .collect()
                }
            };
            let sa = pick(ca, &mut rng);
            let sb = pick(cb, &mut rng);
            ra.push(wer_of(&sa, Some(&idx)));
            rb.push(wer_of(&sb, Some(&idx)));
        }
        if let Some(x) = crossing_point(&hours, &ra, &rb) {
            found.push(x);
        }
    }
    let support = if replicates == 0 {
        0.0
    } else {
        found.len() as f64 / replicates as f64
    };
    found.sort_by(|x, y| x.total_cmp(y));
    let pct = |p: f64| -> Option<f64> {
        if found.is_empty() {
            None
        } else {
            let i = ((found.len() - 1) as f64 * p).round() as usize;
            Some(found[i])
        }
    };
    match crossing_point(&hours, &wa, &wb) {
        Some(x) => Crossing::At {
            hours: x,
            lo: pct(0.025),
            hi: pct(0.975),
            support,
        },
        None => Crossing::None {
            a_minus_b_first: wa[0] - wb[0],
            a_minus_b_last: wa[hours.len() - 1] - wb[hours.len() - 1],
            first_hours: hours[0],
            last_hours: hours[hours.len() - 1],
            support,
        },
    }
}

/// One human sentence for a crossing of pipeline `a` against `b`.
pub fn statement(a: &str, b: &str, c: &Crossing) -> String {
    match c {
        Crossing::At {
            hours,
            lo,
            hi,
            support,
        } => {
            let ci = match (lo, hi) {
                (Some(l), Some(h)) => format!("95% CI {} to {} h", fmt_h(*l), fmt_h(*h)),
                _ => "no CI".to_string(),
            };
            format!(
                "{a} overtakes {b} at about {} h of training audio ({ci}; the curves cross in {:.0}% of bootstrap replicates).",
                fmt_h(*hours),
                support * 100.0
            )
        }
        Crossing::None {
            a_minus_b_first,
            a_minus_b_last,
            first_hours,
            last_hours,
            support,
        } => {
            let lead = |d: f64| {
                if d > 0.0 {
                    format!("{b} leads by {:.1} WER points", d)
                } else {
                    format!("{a} leads by {:.1} WER points", -d)
                }
            };
            format!(
                "{a} does not overtake {b} inside the grid ({}-{} h): at {} h {}, at {} h {} (a crossing appears in {:.0}% of bootstrap replicates). Not extrapolated.",
                fmt_h(*first_hours),
                fmt_h(*last_hours),
                fmt_h(*first_hours),
                lead(*a_minus_b_first),
                fmt_h(*last_hours),
                lead(*a_minus_b_last),
                support * 100.0
            )
        }
        Crossing::Undefined => {
            format!("{a} vs {b}: fewer than two common grid points, no crossing can be estimated.")
        }
    }
}

pub fn fmt_h(h: f64) -> String {
    if h >= 10.0 {
        format!("{h:.0}")
    } else if h >= 1.0 {
        format!("{h:.2}")
    } else {
        format!("{h:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(errors: u32, n_utt: usize) -> UttErrors {
        // Spread `errors` over utterances of 10 words each.
        (0..n_utt)
            .map(|i| (if (i as u32) < errors { 1 } else { 0 }, 10))
            .collect()
    }

    #[test]
    fn crossing_point_interpolates_in_log_hours() {
        let h = [0.1, 1.0];
        let x = crossing_point(&h, &[30.0, 10.0], &[20.0, 20.0]).unwrap();
        // Difference +10 -> -10: halfway in log space = sqrt(0.1 * 1.0).
        assert!((x - (0.1f64 * 1.0).sqrt()).abs() < 1e-9, "{x}");
        assert_eq!(crossing_point(&h, &[10.0, 5.0], &[20.0, 20.0]), None);
        // A dip below that reverses at larger sizes is not an overtaking...
        let h4 = [0.1, 0.2, 0.5, 1.0];
        assert_eq!(
            crossing_point(&h4, &[100.0, 99.0, 105.0, 90.0], &[99.5, 99.5, 70.0, 45.0]),
            None
        );
        // ...and with several crossings the last, lasting one counts.
        let x = crossing_point(&h4, &[30.0, 19.0, 25.0, 10.0], &[20.0, 20.0, 20.0, 20.0]).unwrap();
        assert!(x > 0.5 && x < 1.0, "{x}");
    }

    #[test]
    fn estimate_finds_crossing_with_ci_and_reports_no_crossing() {
        let n = 200;
        let mut e2e = Curve::default();
        let mut cls = Curve::default();
        for (h, ea, eb) in [(0.1, 120, 60), (0.5, 80, 55), (2.0, 30, 50)] {
            e2e.points
                .insert(OrderedHours(h), vec![cell(ea, n), cell(ea + 4, n)]);
            cls.points
                .insert(OrderedHours(h), vec![cell(eb, n), cell(eb + 2, n)]);
        }
        match estimate(&e2e, &cls, 200, 7) {
            Crossing::At {
                hours,
                lo,
                hi,
                support,
            } => {
                assert!(hours > 0.5 && hours < 2.0, "{hours}");
                let (lo, hi) = (lo.unwrap(), hi.unwrap());
                assert!(lo <= hours && hours <= hi, "{lo} {hours} {hi}");
                assert!(support > 0.9);
            }
            other => panic!("expected a crossing, got {other:?}"),
        }
        // Swapped roles: classical never falls below e2e from above.
        match estimate(&cls, &e2e, 50, 7) {
            Crossing::None {
                a_minus_b_first,
                a_minus_b_last,
                ..
            } => {
                assert!(a_minus_b_first < 0.0 && a_minus_b_last > 0.0);
            }
            other => panic!("expected no crossing, got {other:?}"),
        }
        // Deterministic per seed.
        assert_eq!(estimate(&e2e, &cls, 100, 3), estimate(&e2e, &cls, 100, 3));
    }
}
