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

/// `replicates` bootstrap draws of both curves' seed-mean WER at `hours`:
/// each draw resamples test utterances (the same draw for both curves and
/// every size, so comparisons stay paired) and, where a cell has several
/// seeds, the seeds (with replacement). Deterministic per `seed`.
pub fn replicate_curves(
    a: &Curve,
    b: &Curve,
    hours: &[f64],
    replicates: usize,
    seed: u64,
) -> Vec<(Vec<f64>, Vec<f64>)> {
    let n_utt = a
        .points
        .values()
        .flatten()
        .next()
        .map(|c| c.len())
        .unwrap_or(0);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(replicates);
    for _ in 0..replicates {
        let idx: Vec<usize> = (0..n_utt).map(|_| rng.gen_range(0..n_utt)).collect();
        let mut ra = Vec::with_capacity(hours.len());
        let mut rb = Vec::with_capacity(hours.len());
        for &h in hours {
            let ca = &a.points[&OrderedHours(h)];
            let cb = &b.points[&OrderedHours(h)];
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
        out.push((ra, rb));
    }
    out
}

pub(crate) use crate::numeric::percentile;

/// Estimate where `a` (e.g. the end-to-end system) overtakes `b`, with a
/// `replicates`-draw bootstrap over test utterances and seeds.
pub fn estimate(a: &Curve, b: &Curve, replicates: usize, seed: u64) -> Crossing {
    let (hours, wa, wb) = mean_curves(a, b);
    if hours.len() < 2 {
        return Crossing::Undefined;
    }
    let mut found = Vec::new();
    for (ra, rb) in replicate_curves(a, b, &hours, replicates, seed) {
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
    let pct = |p: f64| percentile(&found, p);
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

/// A learning curve WER(h) = a h^-b + c (Hestness et al. 2017: power law
/// plus an irreducible floor), with a, c >= 0 and 0 < b <= 3.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PowerLaw {
    pub a: f64,
    pub b: f64,
    pub c: f64,
}

impl PowerLaw {
    pub fn at(&self, h: f64) -> f64 {
        self.a * h.powf(-self.b) + self.c
    }
}

/// Least-squares fit of [`PowerLaw`] to (hours, WER) points; None with fewer
/// than three points. For each exponent b on a fine grid the model is linear
/// in (a, c), solved in closed form with the constraints a, c >= 0 (a bound
/// that binds is fixed at 0 and the other refitted); the b of least squared
/// error wins, then a golden-section search refines it.
pub fn fit_power_law(hours: &[f64], wer: &[f64]) -> Option<PowerLaw> {
    if hours.len() < 3 || hours.len() != wer.len() {
        return None;
    }
    let sse_for = |b: f64| -> (f64, f64, f64) {
        let x: Vec<f64> = hours.iter().map(|h| h.powf(-b)).collect();
        let n = x.len() as f64;
        let (sx, sy) = (x.iter().sum::<f64>(), wer.iter().sum::<f64>());
        let sxx: f64 = x.iter().map(|v| v * v).sum();
        let sxy: f64 = x.iter().zip(wer).map(|(u, v)| u * v).sum();
        let det = n * sxx - sx * sx;
        let mut cands = Vec::new();
        if det.abs() > 1e-12 {
            let a = (n * sxy - sx * sy) / det;
            let c = (sy - a * sx) / n;
            if a >= 0.0 && c >= 0.0 {
                cands.push((a, c));
            }
        }
        cands.push(((sxy / sxx).max(0.0), 0.0)); // c = 0
        cands.push((0.0, (sy / n).max(0.0))); // a = 0
        cands
            .into_iter()
            .map(|(a, c)| {
                let e: f64 = x
                    .iter()
                    .zip(wer)
                    .map(|(u, v)| (a * u + c - v).powi(2))
                    .sum();
                (e, a, c)
            })
            .min_by(|p, q| p.0.total_cmp(&q.0))
            .expect("candidates")
    };
    let (mut best_b, mut best) = (0.01, sse_for(0.01));
    for i in 2..=300 {
        let b = i as f64 * 0.01;
        let r = sse_for(b);
        if r.0 < best.0 {
            best = r;
            best_b = b;
        }
    }
    let (mut lo, mut hi) = ((best_b - 0.01f64).max(1e-3), (best_b + 0.01f64).min(3.0));
    let g = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..40 {
        let (m1, m2) = (hi - g * (hi - lo), lo + g * (hi - lo));
        if sse_for(m1).0 <= sse_for(m2).0 {
            hi = m2;
        } else {
            lo = m1;
        }
    }
    let b = 0.5 * (lo + hi);
    let r = sse_for(b);
    let (b, r) = if r.0 <= best.0 {
        (b, r)
    } else {
        (best_b, best)
    };
    Some(PowerLaw { a: r.1, b, c: r.2 })
}

/// The smallest h in (from, to] where `fa(h) <= fb(h)` and stays so up to
/// `to`, searched on a log grid and refined by bisection.
pub fn fit_crossing(fa: &PowerLaw, fb: &PowerLaw, from: f64, to: f64) -> Option<f64> {
    let d = |h: f64| fa.at(h) - fb.at(h);
    if d(to) > 0.0 {
        return None;
    }
    let steps = 400;
    let (l0, l1) = (from.ln(), to.ln());
    let mut prev = from;
    if d(from) <= 0.0 {
        return None; // already ahead at the grid's end: not a projection
    }
    // The last sign change from behind to ahead before `to`.
    let mut bracket = None;
    for i in 1..=steps {
        let h = (l0 + (l1 - l0) * i as f64 / steps as f64).exp();
        if d(prev) > 0.0 && d(h) <= 0.0 {
            bracket = Some((prev, h));
        }
        prev = h;
    }
    let (mut lo, mut hi) = bracket?;
    for _ in 0..60 {
        let m = (lo * hi).sqrt();
        if d(m) > 0.0 {
            lo = m;
        } else {
            hi = m;
        }
    }
    Some(hi)
}

/// Beyond the grid, by fit: how far past the largest size the projection looks.
pub const PROJECTION_FACTOR: f64 = 10.0;

/// A projected crossing from power-law fits, for pairs that do not cross in the grid.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Projection {
    pub challenger_fit: PowerLaw,
    pub incumbent_fit: PowerLaw,
    /// Largest common grid size; the projection looks up to PROJECTION_FACTOR times it.
    pub last_hours: f64,
    /// Projected crossing of the fits to the seed means, if any below the limit.
    pub hours: Option<f64>,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
    /// Fraction of bootstrap replicates whose refitted curves cross below the limit.
    pub support: f64,
}

/// Fit both curves (seed means) and project where `a` would overtake `b`
/// beyond the grid; the interval refits every bootstrap replicate of
/// [`replicate_curves`] (the crossover CI's draws). None with fewer than three common sizes.
pub fn project(a: &Curve, b: &Curve, replicates: usize, seed: u64) -> Option<Projection> {
    let (hours, wa, wb) = mean_curves(a, b);
    let fa = fit_power_law(&hours, &wa)?;
    let fb = fit_power_law(&hours, &wb)?;
    let last = *hours.last()?;
    let limit = last * PROJECTION_FACTOR;
    let mut found = Vec::new();
    let reps = replicate_curves(a, b, &hours, replicates, seed);
    for (ra, rb) in &reps {
        if let (Some(ga), Some(gb)) = (fit_power_law(&hours, ra), fit_power_law(&hours, rb)) {
            if let Some(x) = fit_crossing(&ga, &gb, last, limit) {
                found.push(x);
            }
        }
    }
    found.sort_by(|x, y| x.total_cmp(y));
    let pct = |p: f64| percentile(&found, p);
    Some(Projection {
        challenger_fit: fa,
        incumbent_fit: fb,
        last_hours: last,
        hours: fit_crossing(&fa, &fb, last, limit),
        lo: pct(0.025),
        hi: pct(0.975),
        support: if reps.is_empty() {
            0.0
        } else {
            found.len() as f64 / reps.len() as f64
        },
    })
}

/// The projection's own sentence, never mixed with a measured crossing.
pub fn projection_statement(a: &str, b: &str, p: &Projection) -> String {
    let fits = format!(
        "{a}: {:.1} h^-{:.2} + {:.1}; {b}: {:.1} h^-{:.2} + {:.1}",
        p.challenger_fit.a,
        p.challenger_fit.b,
        p.challenger_fit.c,
        p.incumbent_fit.a,
        p.incumbent_fit.b,
        p.incumbent_fit.c
    );
    let limit = p.last_hours * PROJECTION_FACTOR;
    match p.hours {
        Some(h) => {
            let ci = match (p.lo, p.hi) {
                (Some(l), Some(u)) => format!("95% CI {} to {} h among the replicates that cross", fmt_h(l), fmt_h(u)),
                _ => "no CI".into(),
            };
            format!(
                "Projection, not a measurement: fitting WER = a h^-b + c to the seed means ({fits}), {a} would overtake {b} at about {} h ({ci}; a projected crossing below {} h in {:.0}% of bootstrap replicates).",
                fmt_h(h),
                fmt_h(limit),
                100.0 * p.support
            )
        }
        None => format!(
            "Projection, not a measurement: fitting WER = a h^-b + c to the seed means ({fits}) gives no projected crossing below 10x the largest size ({} h); {:.0}% of bootstrap replicates project one.",
            fmt_h(limit),
            100.0 * p.support
        ),
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

    #[test]
    fn transfer_shift_locates_the_transferred_wer_on_the_scratch_curve() {
        let h = [0.1, 1.0];
        // 30 % lies halfway between 40 % at 0.1 h and 20 % at 1 h: sqrt(0.1) h in log-hours.
        match hours_at_level(&h, &[40.0, 20.0], 30.0) {
            Level::At(x) => assert!((x - 0.1f64.sqrt()).abs() < 1e-9, "{x}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(hours_at_level(&h, &[40.0, 20.0], 10.0), Level::BeyondGrid);
        assert_eq!(hours_at_level(&h, &[40.0, 20.0], 50.0), Level::BelowGrid);
        let n = 300;
        let mut scratch = Curve::default();
        let mut transfer = Curve::default();
        for (hours, ws, wt) in [(0.1, 60.0, 40.0), (0.3, 50.0, 30.0), (1.0, 40.0, 25.0)] {
            scratch
                .points
                .insert(OrderedHours(hours), vec![cell_at(ws, n)]);
            transfer
                .points
                .insert(OrderedHours(hours), vec![cell_at(wt, n)]);
        }
        let shifts = transfer_shift(&transfer, &scratch, 200, 5);
        assert_eq!(shifts.len(), 3);
        // 40 % at 0.1 h is what scratch reaches at 1 h: worth 0.9 h.
        match shifts[0].equivalent {
            Level::At(x) => assert!((x - 1.0).abs() < 1e-6, "{x}"),
            ref other => panic!("{other:?}"),
        }
        assert!(shifts[0].p_better > 0.99);
        let (lo, hi) = (shifts[0].lo.unwrap(), shifts[0].hi.unwrap());
        assert!(lo <= 1.0 + 1e-9 && hi >= 1.0 - 1e-9, "{lo} {hi}");
        // 30 % and 25 %: better than scratch anywhere in the grid.
        assert_eq!(shifts[1].equivalent, Level::BeyondGrid);
        assert!(transfer_statement("t", "s", "the pre-training", &shifts[1])
            .contains("more than 0.700 h"));
        assert_eq!(shifts[2].equivalent, Level::BeyondGrid);
        // Worse than scratch at 1 h, as good as scratch at 0.3 h: a cost of 0.7 h, said as one.
        let mut worse = Curve::default();
        for (hours, wt) in [(0.1, 70.0), (0.3, 60.0), (1.0, 50.0)] {
            worse
                .points
                .insert(OrderedHours(hours), vec![cell_at(wt, n)]);
        }
        let shifts = transfer_shift(&worse, &scratch, 200, 5);
        match shifts[2].equivalent {
            Level::At(x) => assert!((x - 0.3).abs() < 1e-6, "{x}"),
            ref other => panic!("{other:?}"),
        }
        assert!(shifts[2].p_better < 0.01);
        let said = transfer_statement("t", "s", "the pre-training", &shifts[2]);
        assert!(said.contains("costs about 0.700 h"), "{said}");
        assert_eq!(shifts[0].equivalent, Level::BelowGrid);
    }

    /// Per-utterance errors whose corpus WER is `wer` % (10-word utterances).
    fn cell_at(wer: f64, n_utt: usize) -> UttErrors {
        let total = (wer / 100.0 * 10.0 * n_utt as f64).round() as u32;
        (0..n_utt)
            .map(|i| {
                let e = total / n_utt as u32 + u32::from((i as u32) < total % n_utt as u32);
                (e, 10)
            })
            .collect()
    }

    #[test]
    fn power_law_fit_recovers_known_parameters() {
        let truth = PowerLaw {
            a: 12.0,
            b: 0.6,
            c: 4.0,
        };
        let hours = [0.05, 0.1, 0.2, 0.5, 1.0, 2.0];
        let wer: Vec<f64> = hours.iter().map(|&h| truth.at(h)).collect();
        let f = fit_power_law(&hours, &wer).unwrap();
        assert!(
            (f.a - 12.0).abs() < 0.05 && (f.b - 0.6).abs() < 0.005 && (f.c - 4.0).abs() < 0.05,
            "{f:?}"
        );
        assert!(fit_power_law(&hours[..2], &wer[..2]).is_none());
        // A flat curve fits with a = 0 or b near 0, predicting the level.
        let flat = fit_power_law(&hours, &[10.0; 6]).unwrap();
        assert!((flat.at(20.0) - 10.0).abs() < 0.1, "{flat:?}");
    }

    #[test]
    fn projection_recovers_a_known_crossing_beyond_the_grid() {
        // End-to-end: 20 h^-0.5 + 3; classical: 8 h^-0.2 + 8. They cross
        // at about 3 h, beyond the 1 h grid; the exact point solves fa = fb.
        let (fe, fc) = (
            PowerLaw {
                a: 20.0,
                b: 0.5,
                c: 3.0,
            },
            PowerLaw {
                a: 8.0,
                b: 0.2,
                c: 8.0,
            },
        );
        let truth = fit_crossing(&fe, &fc, 1.0, 10.0).unwrap();
        assert!(
            fe.at(truth) - fc.at(truth) < 1e-6 && truth > 1.0 && truth < 10.0,
            "{truth}"
        );
        let n = 2000; // 20,000 words: the curves are measured precisely
        let mut e2e = Curve::default();
        let mut cls = Curve::default();
        for h in [0.1, 0.2, 0.5, 1.0] {
            e2e.points.insert(
                OrderedHours(h),
                vec![cell_at(fe.at(h), n), cell_at(fe.at(h), n)],
            );
            cls.points.insert(
                OrderedHours(h),
                vec![cell_at(fc.at(h), n), cell_at(fc.at(h), n)],
            );
        }
        assert!(
            matches!(estimate(&e2e, &cls, 50, 1), Crossing::None { .. }),
            "no crossing inside the grid"
        );
        let p = project(&e2e, &cls, 200, 1).unwrap();
        let h = p.hours.unwrap();
        assert!((h / truth - 1.0).abs() < 0.1, "projected {h}, true {truth}");
        let (lo, hi) = (p.lo.unwrap(), p.hi.unwrap());
        assert!(
            lo <= truth * 1.1 && truth * 0.9 <= hi,
            "CI {lo}-{hi} vs {truth}"
        );
        assert!(p.support > 0.5);
        let text = projection_statement("char-ctc", "classical", &p);
        assert!(text.starts_with("Projection, not a measurement"), "{text}");
        // Curves that never meet: no projected crossing below 10x.
        let p = project(&cls, &e2e, 50, 1);
        assert!(p.is_none_or(|p| p.hours.is_none()));
        let mut far = Curve::default();
        for h in [0.1, 0.2, 0.5, 1.0] {
            far.points.insert(
                OrderedHours(h),
                vec![cell_at(40.0 + 10.0 * h.powf(-0.5), n)],
            );
        }
        let p = project(&far, &cls, 50, 1).unwrap();
        assert_eq!(p.hours, None);
        assert!(projection_statement("a", "b", &p).contains("no projected crossing below 10x"));
    }
}

/// Where a WER level falls on a curve measured at `hours` (seed means).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub enum Level {
    /// Reached at these hours (interpolated linearly in log-hours between
    /// the first pair of grid points that brackets the level).
    At(f64),
    /// Better than the curve anywhere in the grid: more than its largest size.
    BeyondGrid,
    /// Worse than the curve at its smallest size: less than its smallest size.
    BelowGrid,
}

/// The hours at which the curve (`hours`, `wer`) reaches `level` % WER.
pub fn hours_at_level(hours: &[f64], wer: &[f64], level: f64) -> Level {
    if hours.is_empty() {
        return Level::BeyondGrid;
    }
    if level >= wer[0] {
        return if level == wer[0] {
            Level::At(hours[0])
        } else {
            Level::BelowGrid
        };
    }
    for i in 0..hours.len() - 1 {
        let (w0, w1) = (wer[i], wer[i + 1]);
        if w0 >= level && level >= w1 && w0 > w1 {
            let t = (w0 - level) / (w0 - w1);
            let (l0, l1) = (hours[i].ln(), hours[i + 1].ln());
            return Level::At((l0 + t * (l1 - l0)).exp());
        }
    }
    Level::BeyondGrid
}

/// What a pre-training is worth at one size of the transferred curve.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TransferShift {
    pub hours: f64,
    /// Seed-mean test WER (%) of the transferred and the from-scratch pipeline.
    pub wer_transfer: f64,
    pub wer_scratch: f64,
    /// Paired bootstrap probability that the transferred WER is lower.
    pub p_better: f64,
    /// The from-scratch hours with the transferred WER.
    pub equivalent: Level,
    /// 95% interval of the equivalent hours among the replicates where it is inside the grid.
    pub lo: Option<f64>,
    pub hi: Option<f64>,
    /// Fractions of replicates whose level lies beyond / below the scratch curve's grid.
    pub beyond: f64,
    pub below: f64,
    /// The largest common grid size.
    pub grid_max: f64,
}

/// For each common size: the transferred vs from-scratch WER, the paired
/// bootstrap probability that transfer is better, and how many hours of
/// target data the from-scratch pipeline needs to match it (the level
/// interpolated on its curve in log-hours), with a bootstrap interval from
/// the crossover CI's draws (test utterances and seeds).
pub fn transfer_shift(
    transfer: &Curve,
    scratch: &Curve,
    replicates: usize,
    seed: u64,
) -> Vec<TransferShift> {
    let (hours, wt, ws) = mean_curves(transfer, scratch);
    if hours.is_empty() {
        return Vec::new();
    }
    let reps = replicate_curves(transfer, scratch, &hours, replicates, seed);
    let n = reps.len().max(1) as f64;
    (0..hours.len())
        .map(|i| {
            let mut eq = Vec::new();
            let (mut beyond, mut below, mut better) = (0usize, 0usize, 0usize);
            for (rt, rs) in &reps {
                if rt[i] < rs[i] {
                    better += 1;
                }
                match hours_at_level(&hours, rs, rt[i]) {
                    Level::At(h) => eq.push(h),
                    Level::BeyondGrid => beyond += 1,
                    Level::BelowGrid => below += 1,
                }
            }
            eq.sort_by(|a, b| a.total_cmp(b));
            TransferShift {
                hours: hours[i],
                wer_transfer: wt[i],
                wer_scratch: ws[i],
                p_better: better as f64 / n,
                equivalent: hours_at_level(&hours, &ws, wt[i]),
                lo: percentile(&eq, 0.025),
                hi: percentile(&eq, 0.975),
                beyond: beyond as f64 / n,
                below: below as f64 / n,
                grid_max: *hours.last().expect("non-empty"),
            }
        })
        .collect()
}

/// One sentence per size for [`transfer_shift`]; `what` names what `t`
/// adds to `s` ("the pre-training", "the phone head").
pub fn transfer_statement(t: &str, s: &str, what: &str, x: &TransferShift) -> String {
    let ci = match (x.lo, x.hi) {
        (Some(l), Some(u)) => format!("{} to {} h", fmt_h(l), fmt_h(u)),
        _ => "undefined".into(),
    };
    let worth = match x.equivalent {
        // Within half a percent of the same size: no difference to speak of.
        Level::At(h) if (h / x.hours - 1.0).abs() < 0.005 => format!(
            "{s} reaches that WER at the same size, so {what} makes no measurable difference here"
        ),
        // Worse than from scratch at the same size: a loss, said as one.
        Level::At(h) if h < x.hours => format!(
            "{s} reaches that WER with about {} h already, so {what} costs about {} h of target data here ({:.2}x; 95% CI of the matching hours {ci} among the {:.0}% of replicates inside the grid)",
            fmt_h(h),
            fmt_h(x.hours - h),
            h / x.hours,
            100.0 * (1.0 - x.beyond - x.below)
        ),
        Level::At(h) => format!(
            "{s} needs about {} h to match it, so {what} is worth about {} h of target data ({:.1}x; 95% CI of the matching hours {} among the {:.0}% of replicates inside the grid)",
            fmt_h(h),
            fmt_h(h - x.hours),
            h / x.hours,
            ci,
            100.0 * (1.0 - x.beyond - x.below)
        ),
        Level::BeyondGrid => format!(
            "{s} does not reach that WER anywhere in the grid (up to {} h), so {what} is worth more than {} of target data here (the case in {:.0}% of bootstrap replicates)",
            fmt_h(x.grid_max),
            if x.grid_max > x.hours {
                format!("{} h", fmt_h(x.grid_max - x.hours))
            } else {
                "the grid can measure".to_string()
            },
            100.0 * x.beyond
        ),
        Level::BelowGrid => format!(
            "that is worse than {s} at its smallest size, so {what} is worth nothing measurable here (the case in {:.0}% of bootstrap replicates)",
            100.0 * x.below
        ),
    };
    format!(
        "At {} h: {t} {:.1}% vs {s} {:.1}% WER ({:+.1} points; {t} better in {:.0}% of paired bootstrap replicates); {worth}.",
        fmt_h(x.hours),
        x.wer_transfer,
        x.wer_scratch,
        x.wer_transfer - x.wer_scratch,
        100.0 * x.p_better
    )
}
