//! "How well the projection predicted": fit each curve on the sizes at or
//! below a cut-off, project to every larger size the sweep measured, and
//! compare. The report's projections beyond the grid are fits to a few
//! points; this is the check of such a fit against what training on more
//! data then measured (`crossover report OUT --fit-upto H`, or `sweep
//! --fit-upto H`, recorded in sweep.json; without either, the cut-off is
//! [`DEFAULT_FIT_UPTO`], the default grid's largest size, so a longer sweep
//! checks the projections the default report makes).
//!
//! Two curve forms are checked, as the scaling-law literature fits them:
//! - [`Form::PowerLawFloor`]: WER = a h^-b + c (the report's projection form,
//!   Hestness et al. 2017), least squares on WER;
//! - [`Form::LogLog`]: WER = a h^-b, a straight line in log-log space (Kaplan
//!   et al. 2020 fit loss this way), least squares on log WER.
//!
//! Each form's held-out error (root mean square of projected - measured over
//! the sizes above the cut-off) is reported; neither is chosen by the
//! crossing it gives.
use std::collections::BTreeMap;
use std::fmt::Write;

use super::crossover::{
    fit_crossing, fit_power_law, fmt_h, mean_curves, percentile, replicate_curves, Curve, PowerLaw,
    PROJECTION_FACTOR,
};

/// The cut-off when the sweep names none: the largest size of the default
/// grid (0.1, 0.3, 1 h), where the default report's projections start.
pub const DEFAULT_FIT_UPTO: f64 = 1.0;

/// A curve form fitted to the sizes at or below the cut-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum Form {
    /// WER = a h^-b + c, least squares on WER.
    PowerLawFloor,
    /// WER = a h^-b, least squares on log WER.
    LogLog,
}

impl Form {
    pub const ALL: [Form; 2] = [Form::PowerLawFloor, Form::LogLog];
    pub fn describe(self) -> &'static str {
        match self {
            Form::PowerLawFloor => "a h^-b + c (power law plus floor)",
            Form::LogLog => "a h^-b fitted in log-log space",
        }
    }
    /// Fit this form to (hours, WER %) points; None with fewer than three
    /// (power law plus floor) or two (log-log) points.
    pub fn fit(self, hours: &[f64], wer: &[f64]) -> Option<PowerLaw> {
        match self {
            Form::PowerLawFloor => fit_power_law(hours, wer),
            Form::LogLog => fit_log_log(hours, wer),
        }
    }
}

/// Least squares of ln WER on ln h: WER = a h^-b (c = 0). WER values are
/// floored at 0.01 % so a perfect cell does not send the log to -inf.
pub fn fit_log_log(hours: &[f64], wer: &[f64]) -> Option<PowerLaw> {
    if hours.len() < 2 || hours.len() != wer.len() {
        return None;
    }
    let x: Vec<f64> = hours.iter().map(|h| h.ln()).collect();
    let y: Vec<f64> = wer.iter().map(|w| w.max(0.01).ln()).collect();
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxx: f64 = x.iter().map(|v| (v - mx).powi(2)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = x.iter().zip(&y).map(|(u, v)| (u - mx) * (v - my)).sum();
    let slope = sxy / sxx;
    Some(PowerLaw {
        a: (my - slope * mx).exp(),
        b: -slope,
        c: 0.0,
    })
}

/// One held-out size: what the fit projected and what was measured.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SizeCheck {
    pub hours: f64,
    pub measured: f64,
    pub projected: f64,
    /// 95 % interval of the projection over bootstrap replicates of the
    /// fitted sizes (test utterances and seeds resampled, refitted).
    pub lo: f64,
    pub hi: f64,
}

impl SizeCheck {
    pub fn inside(&self) -> bool {
        self.lo <= self.measured && self.measured <= self.hi
    }
}

/// One curve form's check on one pipeline.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FormCheck {
    pub form: Form,
    pub fit: PowerLaw,
    pub sizes: Vec<SizeCheck>,
}

impl FormCheck {
    /// Root mean square of projected - measured over the held-out sizes (points).
    pub fn held_out_rmse(&self) -> f64 {
        let n = self.sizes.len().max(1) as f64;
        (self
            .sizes
            .iter()
            .map(|s| (s.projected - s.measured).powi(2))
            .sum::<f64>()
            / n)
            .sqrt()
    }
}

/// Fit `curve` at the sizes <= `fit_upto` in each form and project to its
/// larger sizes. None when it has fewer than three sizes at or below the
/// cut-off or none above it.
pub fn check_curve(
    curve: &Curve,
    fit_upto: f64,
    replicates: usize,
    seed: u64,
) -> Option<Vec<FormCheck>> {
    let (hours, wer, _) = mean_curves(curve, curve);
    let fitted: Vec<usize> = (0..hours.len()).filter(|&i| hours[i] <= fit_upto).collect();
    let held: Vec<usize> = (0..hours.len()).filter(|&i| hours[i] > fit_upto).collect();
    if fitted.len() < 3 || held.is_empty() {
        return None;
    }
    let fh: Vec<f64> = fitted.iter().map(|&i| hours[i]).collect();
    let fw: Vec<f64> = fitted.iter().map(|&i| wer[i]).collect();
    let reps = replicate_curves(curve, curve, &fh, replicates, seed);
    let mut out = Vec::new();
    for form in Form::ALL {
        let Some(fit) = form.fit(&fh, &fw) else {
            continue;
        };
        let rep_fits: Vec<PowerLaw> = reps.iter().filter_map(|(r, _)| form.fit(&fh, r)).collect();
        let sizes = held
            .iter()
            .map(|&i| {
                let h = hours[i];
                let mut proj: Vec<f64> = rep_fits.iter().map(|f| f.at(h)).collect();
                proj.sort_by(|x, y| x.total_cmp(y));
                // The crossing intervals' definition (nearest rank).
                let q = |p: f64| percentile(&proj, p).unwrap_or(f64::NAN);
                SizeCheck {
                    hours: h,
                    measured: wer[i],
                    projected: fit.at(h),
                    lo: q(0.025),
                    hi: q(0.975),
                }
            })
            .collect();
        out.push(FormCheck { form, fit, sizes });
    }
    Some(out)
}

/// Where the fits at or below the cut-off put a pair's crossing, against
/// where the whole grid measured it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CrossingCheck {
    pub challenger: String,
    pub incumbent: String,
    pub form: Form,
    /// The fits' crossing beyond the cut-off (up to PROJECTION_FACTOR times it).
    pub projected: Option<f64>,
    /// The measured crossing on the whole grid (interpolated in log-hours).
    pub measured: Option<f64>,
}

/// Markdown for the report's "How well the projection predicted", or None
/// when no curve has three sizes at or below `fit_upto` and one above.
pub fn section(
    curves: &BTreeMap<String, Curve>,
    pairs: &[(String, String)],
    fit_upto: f64,
    replicates: usize,
) -> Option<String> {
    let checks: BTreeMap<&String, Vec<FormCheck>> = curves
        .iter()
        .filter_map(|(p, c)| Some((p, check_curve(c, fit_upto, replicates, 1)?)))
        .collect();
    if checks.is_empty() {
        return None;
    }
    let mut md = String::new();
    let _ = writeln!(md, "## How well the projection predicted\n");
    let _ = writeln!(
        md,
        "Each curve fitted on its sizes at or below {} h only (as a sweep that stopped there would), projected to the larger sizes this sweep measured, and compared with the measurement. Interval: 95 % of {replicates} bootstrap replicates of the fitted sizes (test utterances and seeds resampled, each refitted). Held-out error: root mean square of projected - measured (points).\n",
        fmt_h(fit_upto)
    );
    let _ = writeln!(
        md,
        "| pipeline | form | hours | measured WER | projected | 95 % interval | inside |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|");
    let mut rmse: Vec<(String, Form, f64, PowerLaw)> = Vec::new();
    for (p, forms) in &checks {
        for f in forms {
            for s in &f.sizes {
                let _ = writeln!(
                    md,
                    "| {p} | {} | {} | {:.1} | {:.1} | {:.1}-{:.1} | {} |",
                    short(f.form),
                    fmt_h(s.hours),
                    s.measured,
                    s.projected,
                    s.lo,
                    s.hi,
                    if s.inside() { "yes" } else { "no" }
                );
            }
            rmse.push(((*p).clone(), f.form, f.held_out_rmse(), f.fit));
        }
    }
    let _ = writeln!(
        md,
        "\n| pipeline | form | fit on <= {} h | held-out error |",
        fmt_h(fit_upto)
    );
    let _ = writeln!(md, "|---|---|---|---|");
    for (p, form, e, fit) in &rmse {
        let _ = writeln!(
            md,
            "| {p} | {} | {:.1} h^-{:.2} + {:.1} | {e:.1} |",
            form.describe(),
            fit.a,
            fit.b,
            fit.c
        );
    }
    let _ = writeln!(md, "\n{}", better_form(&rmse));
    // The crossings: fitted on the cut-off sizes vs measured on the grid.
    let mut lines = Vec::new();
    for (a, b) in pairs {
        let (Some(ca), Some(cb)) = (curves.get(a), curves.get(b)) else {
            continue;
        };
        for c in crossing_checks(a, b, ca, cb, fit_upto) {
            lines.push(format!(
                "- {} vs {} ({}): fitted on <= {} h, {}; measured on the whole grid, {}.",
                c.challenger,
                c.incumbent,
                short(c.form),
                fmt_h(fit_upto),
                match c.projected {
                    Some(h) => format!("projected to overtake at about {} h", fmt_h(h)),
                    None => format!(
                        "no projected overtaking below {} h",
                        fmt_h(fit_upto * PROJECTION_FACTOR)
                    ),
                },
                match c.measured {
                    Some(h) => format!("overtakes at {} h", fmt_h(h)),
                    None => "no overtaking inside the grid".into(),
                }
            ));
        }
    }
    if !lines.is_empty() {
        let _ = writeln!(
            md,
            "\nCrossings, projected from the cut-off against measured:\n"
        );
        for l in lines {
            let _ = writeln!(md, "{l}");
        }
    }
    md.push('\n');
    Some(md)
}

/// Which form predicted the larger sizes better, by held-out error only
/// (never by the crossing it gives): per pipeline, and over every pipeline
/// (root mean square of the per-pipeline errors).
fn better_form(rmse: &[(String, Form, f64, PowerLaw)]) -> String {
    let mut per_pipeline: BTreeMap<&str, Vec<(Form, f64)>> = BTreeMap::new();
    for (p, form, e, _) in rmse {
        per_pipeline.entry(p).or_default().push((*form, *e));
    }
    let best = |v: &[(Form, f64)]| {
        v.iter()
            .filter(|(_, e)| e.is_finite())
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(f, _)| *f)
    };
    let mut overall: BTreeMap<Form, Vec<f64>> = BTreeMap::new();
    for (_, form, e, _) in rmse.iter().filter(|r| r.2.is_finite()) {
        overall.entry(*form).or_default().push(*e);
    }
    // Only pipelines every form was fitted to take part in the overall comparison.
    let both: Vec<(Form, f64)> = overall
        .iter()
        .filter(|(_, es)| es.len() == per_pipeline.len())
        .map(|(f, es)| {
            let ms = es.iter().map(|e| e * e).sum::<f64>() / es.len() as f64;
            (*f, ms.sqrt())
        })
        .collect();
    let mut s = String::from("Which form predicted better (lower held-out error): ");
    match best(&both) {
        Some(f) if both.len() > 1 => s.push_str(&format!(
            "over every pipeline, {} ({})",
            short(f),
            both.iter()
                .map(|(f, e)| format!("{} {e:.1}", short(*f)))
                .collect::<Vec<_>>()
                .join(" vs ")
        )),
        _ => s.push_str("no comparison over every pipeline"),
    }
    let each: Vec<String> = per_pipeline
        .iter()
        .filter_map(|(p, v)| best(v).map(|f| format!("{p} {}", short(f))))
        .collect();
    if !each.is_empty() {
        s.push_str(&format!("; per pipeline: {}", each.join(", ")));
    }
    s.push('.');
    s
}

fn short(f: Form) -> &'static str {
    match f {
        Form::PowerLawFloor => "power law + floor",
        Form::LogLog => "log-log",
    }
}

/// The pair's crossing projected by each form's fits at or below the
/// cut-off, and the one measured on the whole common grid.
pub fn crossing_checks(
    a_name: &str,
    b_name: &str,
    a: &Curve,
    b: &Curve,
    fit_upto: f64,
) -> Vec<CrossingCheck> {
    let (hours, wa, wb) = mean_curves(a, b);
    let fitted: Vec<usize> = (0..hours.len()).filter(|&i| hours[i] <= fit_upto).collect();
    if fitted.len() < 3 || fitted.len() == hours.len() {
        return Vec::new();
    }
    let pick = |v: &[f64]| fitted.iter().map(|&i| v[i]).collect::<Vec<f64>>();
    let fh = pick(&hours);
    let last = *fh.last().expect("three fitted sizes");
    let measured = super::crossover::crossing_point(&hours, &wa, &wb);
    Form::ALL
        .iter()
        .filter_map(|&form| {
            let fa = form.fit(&fh, &pick(&wa))?;
            let fb = form.fit(&fh, &pick(&wb))?;
            Some(CrossingCheck {
                challenger: a_name.to_string(),
                incumbent: b_name.to_string(),
                form,
                projected: fit_crossing(&fa, &fb, last, last * PROJECTION_FACTOR),
                measured,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::crossover::OrderedHours;

    /// A curve whose seed-mean WER at each size is exactly `wer(h)` (%), on
    /// 400 utterances of 10 words (errors spread so every utterance counts).
    fn curve(sizes: &[f64], wer: impl Fn(f64) -> f64) -> Curve {
        let mut c = Curve::default();
        for &h in sizes {
            let errors = (wer(h) / 100.0 * 4000.0).round() as u32;
            let cell: Vec<(u32, u32)> = (0..400u32)
                .map(|i| (errors / 400 + u32::from(i < errors % 400), 10))
                .collect();
            c.points.insert(OrderedHours(h), vec![cell]);
        }
        c
    }

    const GRID: [f64; 6] = [0.1, 0.3, 1.0, 2.0, 4.0, 8.0];

    #[test]
    fn the_better_form_is_chosen_by_held_out_error() {
        let fit = PowerLaw {
            a: 1.0,
            b: 0.5,
            c: 0.0,
        };
        let r = |p: &str, f: Form, e: f64| (p.to_string(), f, e, fit);
        let rmse = [
            r("a", Form::PowerLawFloor, 1.0),
            r("a", Form::LogLog, 3.0),
            r("b", Form::PowerLawFloor, 2.0),
            r("b", Form::LogLog, 0.5),
        ];
        let s = better_form(&rmse);
        // Overall: sqrt((1 + 4) / 2) = 1.58 vs sqrt((9 + 0.25) / 2) = 2.15.
        assert!(
            s.contains(
                "over every pipeline, power law + floor (power law + floor 1.6 vs log-log 2.2)"
            ),
            "{s}"
        );
        assert!(
            s.contains("per pipeline: a power law + floor, b log-log"),
            "{s}"
        );
        // A form missing for one pipeline leaves the overall comparison out.
        let s = better_form(&rmse[..3]);
        assert!(s.contains("no comparison over every pipeline"), "{s}");
    }

    #[test]
    fn a_true_power_law_is_projected_within_its_interval() {
        let truth = |h: f64| 8.0 * h.powf(-0.5) + 3.0;
        let c = curve(&GRID, truth);
        let checks = check_curve(&c, 1.0, 200, 1).unwrap();
        let floor = checks
            .iter()
            .find(|f| f.form == Form::PowerLawFloor)
            .unwrap();
        assert_eq!(floor.sizes.len(), 3, "2, 4 and 8 h are held out");
        for s in &floor.sizes {
            assert!((s.projected - truth(s.hours)).abs() < 0.3, "{s:?}");
            assert!(s.inside(), "{s:?}");
        }
        assert!(floor.held_out_rmse() < 0.3);
        // Without the floor, log-log keeps falling: it under-projects 8 h.
        let ll = checks.iter().find(|f| f.form == Form::LogLog).unwrap();
        let at8 = ll.sizes.last().unwrap();
        assert!(at8.projected < at8.measured - 1.0, "{at8:?}");
        assert!(ll.held_out_rmse() > floor.held_out_rmse());
    }

    #[test]
    fn a_curve_that_bends_away_is_flagged_outside_the_interval() {
        // Falls as a power law to 1 h, then saturates towards 16 % (a plateau the
        // small sizes cannot show): the projection is too optimistic.
        let bent = |h: f64| {
            if h <= 1.0 {
                30.0 * h.powf(-0.4)
            } else {
                30.0f64.min(16.0 + 18.0 / h)
            }
        };
        let c = curve(&GRID, bent);
        let checks = check_curve(&c, 1.0, 200, 1).unwrap();
        let floor = checks
            .iter()
            .find(|f| f.form == Form::PowerLawFloor)
            .unwrap();
        let at8 = floor.sizes.last().unwrap();
        assert!(at8.projected < at8.measured && !at8.inside(), "{at8:?}");
        // Too few sizes at or below the cut-off: no check.
        assert!(check_curve(&c, 0.3, 50, 1).is_none());
    }

    #[test]
    fn projected_and_measured_crossings_are_compared() {
        let e2e = curve(&GRID, |h| 20.0 * h.powf(-0.8) + 1.0);
        let cls = curve(&GRID, |h| 8.0 * h.powf(-0.2) + 2.0);
        let checks = crossing_checks("e2e", "cls", &e2e, &cls, 1.0);
        let floor = checks
            .iter()
            .find(|c| c.form == Form::PowerLawFloor)
            .unwrap();
        let measured = floor.measured.expect("crosses inside the grid");
        let projected = floor.projected.expect("the fits cross beyond 1 h");
        assert!(measured > 1.0 && measured < 4.0, "{measured}");
        assert!(
            (projected / measured - 1.0).abs() < 0.15,
            "{projected} vs {measured}"
        );
        let mut curves = BTreeMap::new();
        curves.insert("e2e".to_string(), e2e);
        curves.insert("cls".to_string(), cls);
        let md = section(&curves, &[("e2e".into(), "cls".into())], 1.0, 50).unwrap();
        assert!(
            md.contains("How well the projection predicted") && md.contains("overtakes at"),
            "{md}"
        );
    }
}
