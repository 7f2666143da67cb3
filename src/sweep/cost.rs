//! The report's "What it cost" section: per pipeline and size, what training
//! and decoding cost on this machine (wall and CPU time, peak memory,
//! feature-cache and model disk, decoding speed; the columns of
//! results.csv, seed means), and how each grows with hours: the exponent k
//! of cost ∝ hours^k fitted by least squares in log-log space, with what
//! that exponent projects for 100 h (a projection, labelled as one).
use std::fmt::Write as _;

use super::plots::{means, PointMean};
use super::results::CellResult;

/// Least-squares line through (ln x, ln y): (exponent k, prefactor a) of
/// y = a·x^k. None with fewer than two distinct positive x or any y <= 0.
pub fn log_log_fit(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .filter(|(x, _)| *x > 0.0)
        .map(|&(x, y)| (x.ln(), y))
        .collect();
    if pts.iter().any(|&(_, y)| !(y > 0.0 && y.is_finite())) {
        return None;
    }
    let pts: Vec<(f64, f64)> = pts.into_iter().map(|(lx, y)| (lx, y.ln())).collect();
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if pts.len() < 2 || sxx < 1e-12 {
        return None;
    }
    let k = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>() / sxx;
    Some((k, (my - k * mx).exp()))
}

/// The exponent of `f` against hours over `points`, and its value at `at` hours.
fn growth(
    points: &[PointMean],
    f: &dyn Fn(&PointMean) -> Option<f64>,
    at: f64,
) -> Option<(f64, f64)> {
    let xy: Option<Vec<(f64, f64)>> = points.iter().map(|p| f(p).map(|y| (p.hours, y))).collect();
    let (k, a) = log_log_fit(&xy?)?;
    Some((k, a * at.powf(k)))
}

/// Hours the projection column projects to.
pub const PROJECT_TO_HOURS: f64 = 100.0;

/// The "What it cost" section (empty when no cell has the cost columns).
pub fn section(rows: &[CellResult], threads: usize) -> String {
    let points = means(rows);
    if !points
        .values()
        .flatten()
        .any(|p| p.train_cpu_seconds.is_some())
    {
        return String::new();
    }
    let o = |v: Option<f64>, prec: usize| v.map_or("-".to_string(), |v| format!("{v:.prec$}"));
    let mut md = String::new();
    let _ = writeln!(md, "## What it cost\n");
    let _ = writeln!(
        md,
        "Measured on this machine with {threads} threads, seed means. Training wall and CPU time (every thread; CPU / wall near the thread count means the cores were kept busy), the cell's peak resident memory (training and decoding, read from the OS), the cached features of its train, dev and test utterances, and the saved model's files. Decoding RTF is over the test set.\n"
    );
    let _ = writeln!(md, "| pipeline | hours | seeds | train wall s | train CPU s | CPU / wall | peak RSS MB | feature cache MB | model MB | decode RTF |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|");
    for (p, pts) in &points {
        for c in pts {
            let _ = writeln!(
                md,
                "| {p} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {:.3} |",
                c.hours,
                c.seeds,
                c.train_seconds,
                o(c.train_cpu_seconds, 0),
                o(
                    c.train_cpu_seconds
                        .map(|cpu| cpu / c.train_seconds.max(1e-9)),
                    2
                ),
                o(c.peak_rss_mb, 0),
                o(c.feature_cache_mb, 1),
                o(c.model_disk_mb, 2),
                c.decode_rtf,
            );
        }
    }
    let at = PROJECT_TO_HOURS;
    let _ = writeln!(
        md,
        "\nHow cost grows: the exponent k of cost ∝ hours^k, a least-squares line in log-log space over the sizes above; the {at:.0} h columns extrapolate that line (projections, not measurements; a resource with a large fixed part, such as memory, has a small k and its projection is only as good as the line). Two sizes at least.\n"
    );
    let _ = writeln!(md, "| pipeline | train wall k | train CPU k | peak RSS k | peak RSS MB at largest | peak RSS MB at {at:.0} h (projected) | feature cache k | feature cache MB at {at:.0} h (projected) | train wall h at {at:.0} h (projected) |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|");
    for (p, pts) in &points {
        let wall = growth(pts, &|c| Some(c.train_seconds), at);
        let cpu = growth(pts, &|c| c.train_cpu_seconds, at);
        let rss = growth(pts, &|c| c.peak_rss_mb, at);
        let cache = growth(pts, &|c| c.feature_cache_mb, at);
        let k = |g: Option<(f64, f64)>| o(g.map(|g| g.0), 2);
        let _ = writeln!(
            md,
            "| {p} | {} | {} | {} | {} | {} | {} | {} | {} |",
            k(wall),
            k(cpu),
            k(rss),
            o(pts.last().and_then(|c| c.peak_rss_mb), 0),
            o(rss.map(|g| g.1), 0),
            k(cache),
            o(cache.map(|g| g.1), 0),
            o(wall.map(|g| g.1 / 3600.0), 1),
        );
    }
    md.push('\n');
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_log_fit_recovers_a_power_law() {
        let pts: Vec<(f64, f64)> = [0.1, 0.3, 1.0, 2.0, 8.0]
            .iter()
            .map(|&h| (h, 120.0 * f64::powf(h, 1.3)))
            .collect();
        let (k, a) = log_log_fit(&pts).unwrap();
        assert!((k - 1.3).abs() < 1e-9, "k = {k}");
        assert!((a - 120.0).abs() < 1e-6, "a = {a}");
        assert!(log_log_fit(&pts[..1]).is_none());
        assert!(log_log_fit(&[(1.0, 5.0), (2.0, 0.0)]).is_none());
    }

    #[test]
    fn section_averages_seeds_and_leaves_out_old_cells() {
        let cell = |p: &str, h: f64, seed: u64, wall: f64, cpu: Option<f64>| CellResult {
            pipeline: p.into(),
            target_hours: h,
            seed,
            train_seconds: wall,
            train_cpu_seconds: cpu,
            peak_rss_mb: cpu.map(|_| 500.0 * h),
            feature_cache_mb: cpu.map(|_| 40.0 * h),
            status: "ok".into(),
            ..Default::default()
        };
        let old = [cell("classical", 1.0, 1, 100.0, None)];
        assert_eq!(section(&old, 2), "", "no cost columns, no section");
        let rows = [
            cell("classical", 1.0, 1, 100.0, Some(150.0)),
            cell("classical", 1.0, 2, 300.0, Some(250.0)),
            cell("classical", 4.0, 1, 800.0, Some(1600.0)),
        ];
        let pts = &means(&rows)["classical"];
        assert_eq!(pts[0].train_seconds, 200.0);
        assert_eq!(pts[0].train_cpu_seconds, Some(200.0));
        let md = section(&rows, 2);
        // wall 200 -> 800 over 1 -> 4 h: k = 1; memory and cache linear too.
        assert!(
            md.contains("| classical | 1.00 | 1.50 | 1.00 | 2000 | 50000 | 1.00 | 4000 | 5.6 |"),
            "{md}"
        );
    }
}
