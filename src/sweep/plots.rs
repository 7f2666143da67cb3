//! Sweep plots with plotters, each written as PNG and SVG:
//! - `wer`: test WER against training hours (log axis), one line per pipeline
//!   (seed mean), a band for the 95% bootstrap CI, crossovers marked;
//! - `cer_per`: CER and PER panels;
//! - `cost`: training time, peak memory and decoding real-time factor against
//!   hours (log-log; the report fits their exponents, `cost`);
//! - `errors`: substitutions / deletions / insertions per pipeline and size.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::results::CellResult;
use crate::error::{Error, Result};

/// Seed-averaged values of one pipeline at one grid point.
#[derive(Debug, Clone, Default)]
pub struct PointMean {
    pub hours: f64,
    pub actual_hours: f64,
    pub wer: f64,
    pub wer_lo: f64,
    pub wer_hi: f64,
    pub cer: f64,
    pub per: Option<f64>,
    pub train_seconds: f64,
    pub decode_rtf: f64,
    /// The cost columns (train CPU seconds, peak resident memory, feature
    /// cache and model MB), where every seed's cell measured them.
    pub train_cpu_seconds: Option<f64>,
    pub peak_rss_mb: Option<f64>,
    pub feature_cache_mb: Option<f64>,
    pub model_disk_mb: Option<f64>,
    pub sub: f64,
    pub del: f64,
    pub ins: f64,
    pub seeds: usize,
}

/// Pipeline name -> points sorted by hours, from the successful cells.
pub fn means(rows: &[CellResult]) -> BTreeMap<String, Vec<PointMean>> {
    let mut groups: BTreeMap<(String, u64), Vec<&CellResult>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.ok()) {
        groups
            .entry((r.pipeline.clone(), r.target_hours.to_bits()))
            .or_default()
            .push(r);
    }
    let mut out: BTreeMap<String, Vec<PointMean>> = BTreeMap::new();
    for ((p, hbits), cells) in groups {
        let n = cells.len() as f64;
        let avg = |f: &dyn Fn(&CellResult) -> f64| cells.iter().map(|c| f(c)).sum::<f64>() / n;
        // A mean only where every seed has the value (older cells lack the cost columns).
        let avg_all = |f: &dyn Fn(&CellResult) -> Option<f64>| {
            cells
                .iter()
                .map(|c| f(c))
                .sum::<Option<f64>>()
                .map(|s| s / n)
        };
        let refw = avg(&|c| c.ref_words as f64).max(1.0);
        out.entry(p).or_default().push(PointMean {
            hours: f64::from_bits(hbits),
            actual_hours: avg(&|c| c.actual_hours),
            wer: avg(&|c| c.wer),
            wer_lo: avg(&|c| c.wer_lo),
            wer_hi: avg(&|c| c.wer_hi),
            cer: avg(&|c| c.cer),
            per: avg_all(&|c| c.per),
            train_seconds: avg(&|c| c.train_seconds),
            decode_rtf: avg(&|c| c.decode_rtf),
            train_cpu_seconds: avg_all(&|c| c.train_cpu_seconds),
            peak_rss_mb: avg_all(&|c| c.peak_rss_mb),
            feature_cache_mb: avg_all(&|c| c.feature_cache_mb),
            model_disk_mb: avg_all(&|c| c.model_disk_mb),
            sub: 100.0 * avg(&|c| c.sub as f64) / refw,
            del: 100.0 * avg(&|c| c.del as f64) / refw,
            ins: 100.0 * avg(&|c| c.ins as f64) / refw,
            seeds: cells.len(),
        });
    }
    for v in out.values_mut() {
        v.sort_by(|a, b| a.hours.total_cmp(&b.hours));
    }
    out
}

/// A crossover to mark on the WER plot.
#[derive(Debug, Clone)]
pub struct Marker {
    pub hours: f64,
    pub label: String,
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

type DrawResult = std::result::Result<(), String>;

fn hours_range(data: &BTreeMap<String, Vec<PointMean>>) -> (f64, f64) {
    let hs: Vec<f64> = data.values().flatten().map(|p| p.hours).collect();
    let lo = hs.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = hs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() {
        return (0.01, 1.0);
    }
    (lo / 1.4, hi * 1.4)
}

/// The grid's hours, used as the x-axis ticks (log axes over a short range have no automatic ticks).
fn grid_hours(data: &BTreeMap<String, Vec<PointMean>>) -> Vec<f64> {
    let mut hs: Vec<f64> = data.values().flatten().map(|p| p.hours).collect();
    hs.sort_by(|a, b| a.total_cmp(b));
    hs.dedup();
    hs
}

fn fmt_hours(h: &f64) -> String {
    if *h >= 1.0 && h.fract() == 0.0 {
        format!("{h:.0}")
    } else {
        // Shortest decimal form: 0.05, 0.1, 0.2, 0.5.
        let s = format!("{h:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn draw_wer<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    data: &BTreeMap<String, Vec<PointMean>>,
    markers: &[Marker],
    fits: &BTreeMap<String, super::crossover::PowerLaw>,
) -> DrawResult {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (x0, mut x1) = hours_range(data);
    // Projections reach PROJECTION_FACTOR times the largest size.
    let grid_end = grid_hours(data).last().copied().unwrap_or(x1);
    if !fits.is_empty() {
        x1 = x1.max(grid_end * super::crossover::PROJECTION_FACTOR);
    }
    let ymax = data
        .values()
        .flatten()
        .map(|p| p.wer_hi.max(p.wer))
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.1;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 24))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(
            (x0..x1).log_scale().with_key_points({
                let mut ticks = grid_hours(data);
                if !fits.is_empty() {
                    ticks.push(grid_end * super::crossover::PROJECTION_FACTOR);
                }
                ticks
            }),
            0.0..ymax,
        )
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("training audio (hours, log scale)")
        .y_desc("test WER (%)")
        .x_label_formatter(&fmt_hours)
        .light_line_style(WHITE)
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, (name, pts)) in data.iter().enumerate() {
        let c = color(i);
        if pts.len() >= 2 {
            let mut band: Vec<(f64, f64)> = pts.iter().map(|p| (p.hours, p.wer_hi)).collect();
            band.extend(pts.iter().rev().map(|p| (p.hours, p.wer_lo)));
            chart
                .draw_series(std::iter::once(Polygon::new(band, c.mix(0.15))))
                .map_err(|e| e.to_string())?;
        }
        chart
            .draw_series(LineSeries::new(
                pts.iter().map(|p| (p.hours, p.wer)),
                c.stroke_width(3),
            ))
            .map_err(|e| e.to_string())?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
        chart
            .draw_series(
                pts.iter()
                    .map(|p| Circle::new((p.hours, p.wer), 4, c.filled())),
            )
            .map_err(|e| e.to_string())?;
        // The projection: the power-law fit, dashed beyond the grid.
        if let Some(f) = fits.get(name) {
            let (l0, l1) = (grid_end.ln(), x1.ln());
            let line: Vec<(f64, f64)> = (0..=60)
                .map(|i| {
                    let h = (l0 + (l1 - l0) * i as f64 / 60.0).exp();
                    (h, f.at(h).clamp(0.0, ymax))
                })
                .collect();
            chart
                .draw_series(DashedLineSeries::new(line, 10, 6, c.stroke_width(2)))
                .map_err(|e| e.to_string())?;
        }
        // Error bars for the CI at each point.
        chart
            .draw_series(pts.iter().map(|p| {
                PathElement::new(
                    vec![(p.hours, p.wer_lo), (p.hours, p.wer_hi)],
                    c.stroke_width(1),
                )
            }))
            .map_err(|e| e.to_string())?;
    }
    // Labels are staggered downwards so that neighbouring crossings stay
    // readable, and written to the left of markers in the right half of the
    // (log) axis so they never run off the plot or under the legend.
    let x_mid = (x0.ln() + x1.ln()) / 2.0;
    for (i, m) in markers.iter().enumerate() {
        let style = BLACK.stroke_width(2);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(m.hours, 0.0), (m.hours, ymax)],
                8,
                6,
                style,
            ))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(std::iter::once({
                let right_half = m.hours.ln() > x_mid;
                let anchor = if right_half { HPos::Right } else { HPos::Left };
                let font = ("sans-serif", 16)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(anchor, VPos::Top));
                let text = if right_half {
                    format!("{} ", m.label)
                } else {
                    format!(" {}", m.label)
                };
                Text::new(text, (m.hours, ymax * (0.97 - 0.06 * i as f64)), font)
            }))
            .map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        // WER is high at small sizes, so the lower left is the emptiest corner.
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

#[allow(clippy::type_complexity)]
fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    ylabel: &str,
    data: &BTreeMap<String, Vec<PointMean>>,
    value: &dyn Fn(&PointMean) -> Option<f64>,
    log_y: bool,
) -> DrawResult {
    let (x0, x1) = hours_range(data);
    let vals: Vec<f64> = data
        .values()
        .flatten()
        .filter_map(value)
        .filter(|v| v.is_finite())
        .collect();
    let draw_lines =
        |chart_draw: &mut dyn FnMut(usize, &str, Vec<(f64, f64)>) -> DrawResult| -> DrawResult {
            for (i, (name, pts)) in data.iter().enumerate() {
                let line: Vec<(f64, f64)> = pts
                    .iter()
                    .filter_map(|p| value(p).map(|v| (p.hours, v)))
                    .collect();
                if !line.is_empty() {
                    chart_draw(i, name, line)?;
                }
            }
            Ok(())
        };
    if vals.is_empty() {
        area.titled(&format!("{title}: no data"), ("sans-serif", 20))
            .map_err(|e| e.to_string())?;
        return Ok(());
    }
    let vmax = vals.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let vmin = vals.iter().cloned().fold(f64::INFINITY, f64::min);
    // The two branches differ only in the y coordinate type (log or linear);
    // the macro keeps one copy of the drawing code.
    macro_rules! panel {
        ($y:expr) => {{
            let mut chart = ChartBuilder::on(area)
                .caption(title, ("sans-serif", 20))
                .margin(10)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d((x0..x1).log_scale().with_key_points(grid_hours(data)), $y)
                .map_err(|e| e.to_string())?;
            chart
                .configure_mesh()
                .x_desc("training audio (hours, log scale)")
                .y_desc(ylabel)
                .x_label_formatter(&fmt_hours)
                .light_line_style(WHITE)
                .draw()
                .map_err(|e| e.to_string())?;
            draw_lines(&mut |i, name, line| {
                let c = color(i);
                chart
                    .draw_series(LineSeries::new(line.clone(), c.stroke_width(2)))
                    .map_err(|e| e.to_string())?
                    .label(name)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                    });
                chart
                    .draw_series(line.into_iter().map(|p| Circle::new(p, 3, c.filled())))
                    .map_err(|e| e.to_string())?;
                Ok(())
            })?;
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(|e| e.to_string())?;
        }};
    }
    if log_y {
        let lo = (vmin.max(1e-6) / 2.0).max(1e-6);
        let hi = vmax.max(lo * 10.0) * 2.0;
        panel!((lo..hi).log_scale());
    } else {
        panel!(0.0..vmax.max(1.0) * 1.1);
    }
    Ok(())
}

fn draw_cer_per<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &BTreeMap<String, Vec<PointMean>>,
) -> DrawResult {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let panels = root.split_evenly((1, 2));
    draw_panel(
        &panels[0],
        "Character error rate",
        "test CER (%)",
        data,
        &|p| Some(p.cer),
        false,
    )?;
    draw_panel(
        &panels[1],
        "Phone error rate",
        "test PER (%)",
        data,
        &|p| p.per,
        false,
    )?;
    root.present().map_err(|e| e.to_string())
}

fn draw_cost<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &BTreeMap<String, Vec<PointMean>>,
) -> DrawResult {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    // Sweeps made before cells measured their memory have no such panel.
    let memory = data.values().flatten().any(|p| p.peak_rss_mb.is_some());
    let panels = root.split_evenly((1, if memory { 3 } else { 2 }));
    draw_panel(
        &panels[0],
        "Training time",
        "training wall time (s, log scale)",
        data,
        &|p| Some(p.train_seconds),
        true,
    )?;
    if memory {
        draw_panel(
            &panels[1],
            "Peak memory",
            "peak resident memory (MB, log scale)",
            data,
            &|p| p.peak_rss_mb,
            true,
        )?;
    }
    draw_panel(
        panels.last().expect("two or three panels"),
        "Decoding speed",
        "real-time factor (log scale, lower is faster)",
        data,
        &|p| Some(p.decode_rtf),
        true,
    )?;
    root.present().map_err(|e| e.to_string())
}

fn draw_errors<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &BTreeMap<String, Vec<PointMean>>,
) -> DrawResult {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let n = data.len().max(1);
    let panels = root.split_evenly((1, n));
    let ymax = data
        .values()
        .flatten()
        .map(|p| p.sub + p.del + p.ins)
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.15;
    let kinds = [
        ("substitutions", RGBColor(214, 39, 40)),
        ("deletions", RGBColor(31, 119, 180)),
        ("insertions", RGBColor(44, 160, 44)),
    ];
    for ((name, pts), area) in data.iter().zip(panels.iter()) {
        let labels: Vec<String> = pts.iter().map(|p| fmt_hours(&p.hours)).collect();
        let m = pts.len().max(1);
        let mut chart = ChartBuilder::on(area)
            .caption(format!("{name}: error types"), ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d(-0.5f64..(m as f64 - 0.5), 0.0..ymax)
            .map_err(|e| e.to_string())?;
        let labels_fmt = labels.clone();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(m)
            .x_label_formatter(&move |x: &f64| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < labels_fmt.len() {
                    labels_fmt[i as usize].clone()
                } else {
                    String::new()
                }
            })
            .x_desc("training audio (hours)")
            .y_desc("% of reference words")
            .light_line_style(WHITE)
            .draw()
            .map_err(|e| e.to_string())?;
        for (k, (kname, kc)) in kinds.iter().enumerate() {
            let rects: Vec<Rectangle<(f64, f64)>> = pts
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let vals = [p.sub, p.del, p.ins];
                    let base: f64 = vals[..k].iter().sum();
                    let x = i as f64;
                    Rectangle::new([(x - 0.35, base), (x + 0.35, base + vals[k])], kc.filled())
                })
                .collect();
            let kc = *kc;
            chart
                .draw_series(rects)
                .map_err(|e| e.to_string())?
                .label(*kname)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], kc.filled()));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())
}

/// Write every plot as PNG and SVG into `dir`; returns the PNG paths.
pub fn render_all(
    dir: &Path,
    title: &str,
    rows: &[CellResult],
    markers: &[Marker],
    fits: &BTreeMap<String, super::crossover::PowerLaw>,
) -> Result<Vec<PathBuf>> {
    let data = means(rows);
    let mut written = Vec::new();
    let err = |p: &Path, e: String| Error::Io {
        path: p.to_path_buf(),
        what: format!("drawing plot: {e}"),
    };
    type Painter<'a> = Box<dyn Fn(&DrawingArea<BitMapBackend, Shift>) -> DrawResult + 'a>;
    type SvgPainter<'a> = Box<dyn Fn(&DrawingArea<SVGBackend, Shift>) -> DrawResult + 'a>;
    let jobs: Vec<(&str, (u32, u32), Painter, SvgPainter)> = vec![
        (
            "wer",
            (1000, 650),
            Box::new(|r| draw_wer(r, title, &data, markers, fits)),
            Box::new(|r| draw_wer(r, title, &data, markers, fits)),
        ),
        (
            "cer_per",
            (1400, 550),
            Box::new(|r| draw_cer_per(r, &data)),
            Box::new(|r| draw_cer_per(r, &data)),
        ),
        (
            "cost",
            (1400, 550),
            Box::new(|r| draw_cost(r, &data)),
            Box::new(|r| draw_cost(r, &data)),
        ),
        (
            "errors",
            (1400, 500),
            Box::new(|r| draw_errors(r, &data)),
            Box::new(|r| draw_errors(r, &data)),
        ),
    ];
    for (name, size, png, svg) in jobs {
        let p = dir.join(format!("{name}.png"));
        {
            let root = BitMapBackend::new(&p, size).into_drawing_area();
            png(&root).map_err(|e| err(&p, e))?;
        }
        let s = dir.join(format!("{name}.svg"));
        {
            let root = SVGBackend::new(&s, size).into_drawing_area();
            svg(&root).map_err(|e| err(&s, e))?;
        }
        written.push(p);
    }
    Ok(written)
}

fn draw_training_curve<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    tr: &crate::pipeline::TrainingRecord,
) -> DrawResult {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let n = tr.curve.len().max(1) as f64;
    let lmax = tr.curve.iter().map(|c| c.1).fold(0.0, f64::max).max(1e-3) * 1.05;
    let dmax = tr
        .curve
        .iter()
        .filter_map(|c| c.2)
        .fold(0.0, f64::max)
        .max(1e-3)
        * 105.0;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .right_y_label_area_size(55)
        .build_cartesian_2d(0.5..n + 0.5, 0.0..lmax)
        .map_err(|e| e.to_string())?
        .set_secondary_coord(0.5..n + 0.5, 0.0..dmax);
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("train CTC loss")
        .light_line_style(WHITE)
        .draw()
        .map_err(|e| e.to_string())?;
    chart
        .configure_secondary_axes()
        .y_desc("dev token error (%)")
        .draw()
        .map_err(|e| e.to_string())?;
    let (cl, cd) = (color(0), color(1));
    chart
        .draw_series(LineSeries::new(
            tr.curve.iter().map(|c| (c.0 as f64, c.1)),
            cl.stroke_width(2),
        ))
        .map_err(|e| e.to_string())?
        .label("train loss (left)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], cl.stroke_width(2)));
    let dev: Vec<(f64, f64)> = tr
        .curve
        .iter()
        .filter_map(|c| c.2.map(|d| (c.0 as f64, 100.0 * d)))
        .collect();
    chart
        .draw_secondary_series(LineSeries::new(dev.clone(), cd.stroke_width(2)))
        .map_err(|e| e.to_string())?
        .label("dev error (right)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], cd.stroke_width(2)));
    chart
        .draw_secondary_series(dev.iter().map(|&p| Circle::new(p, 3, cd.filled())))
        .map_err(|e| e.to_string())?;
    // The kept epoch.
    if tr.best_epoch > 0 {
        let b = tr.best_epoch as f64;
        chart
            .draw_secondary_series(DashedLineSeries::new(
                vec![(b, 0.0), (b, dmax)],
                6,
                4,
                BLACK.stroke_width(1),
            ))
            .map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

/// A network cell's training curve: `curve.tsv` (epoch, train loss, dev
/// error) and `training_curve.png`/`.svg` (loss on the left axis, dev error
/// on the right, the kept epoch dashed) in the cell folder `dir`.
pub fn training_curve(dir: &Path, cell: &str, tr: &crate::pipeline::TrainingRecord) -> Result<()> {
    super::cell_files::write_curve(dir, &tr.curve)?;
    let title = format!(
        "{cell}: {} epochs, {} (kept epoch {})",
        tr.epochs, tr.stop_reason, tr.best_epoch
    );
    let err = |p: &Path, e: String| Error::Io {
        path: p.to_path_buf(),
        what: format!("drawing plot: {e}"),
    };
    let p = dir.join("training_curve.png");
    {
        let root = BitMapBackend::new(&p, (800, 450)).into_drawing_area();
        draw_training_curve(&root, &title, tr).map_err(|e| err(&p, e))?;
    }
    let s = dir.join("training_curve.svg");
    {
        let root = SVGBackend::new(&s, (800, 450)).into_drawing_area();
        draw_training_curve(&root, &title, tr).map_err(|e| err(&s, e))?;
    }
    Ok(())
}

/// The WER curves of `pipelines` only, in one panel (`NAME.png` and `.svg`
/// in `dir`): a transferred pipeline beside its from-scratch twin.
pub fn wer_subset(
    dir: &Path,
    name: &str,
    title: &str,
    rows: &[CellResult],
    pipelines: &[&str],
) -> Result<PathBuf> {
    let keep: Vec<CellResult> = rows
        .iter()
        .filter(|r| pipelines.contains(&r.pipeline.as_str()))
        .cloned()
        .collect();
    let data = means(&keep);
    let err = |p: &Path, e: String| Error::Io {
        path: p.to_path_buf(),
        what: format!("drawing plot: {e}"),
    };
    let none = BTreeMap::new();
    let p = dir.join(format!("{name}.png"));
    {
        let root = BitMapBackend::new(&p, (1000, 650)).into_drawing_area();
        draw_wer(&root, title, &data, &[], &none).map_err(|e| err(&p, e))?;
    }
    let s = dir.join(format!("{name}.svg"));
    {
        let root = SVGBackend::new(&s, (1000, 650)).into_drawing_area();
        draw_wer(&root, title, &data, &[], &none).map_err(|e| err(&s, e))?;
    }
    Ok(p)
}
