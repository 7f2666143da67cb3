//! `results.csv`, plots and `report.md` for a sweep folder, from the cells'
//! results alone (no retraining): `crossover report DIR` calls [`render`].
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::crossover::{self, Crossing, Curve, OrderedHours};
use super::plots::{self, Marker};
use super::results::{self, CellResult};
use super::{collect_results, read_per_utt, SweepSpec};
use crate::error::{Error, Result};
use crate::registry::PipelineInfo;

/// A crossover statement for one pair of pipelines.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PairStatement {
    /// The pipeline that starts worse and may overtake.
    pub challenger: String,
    pub incumbent: String,
    pub crossing: Crossing,
    pub text: String,
    /// For pairs that do not cross inside the grid: the power-law projection, in its own sentence.
    pub projection: Option<crossover::Projection>,
    pub projection_text: Option<String>,
}

fn curves(out: &Path, rows: &[CellResult]) -> BTreeMap<String, Curve> {
    let mut curves: BTreeMap<String, Curve> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.ok()) {
        if let Some(pu) = read_per_utt(out, r) {
            curves
                .entry(r.pipeline.clone())
                .or_default()
                .points
                .entry(OrderedHours(r.target_hours))
                .or_default()
                .push(pu);
        }
    }
    curves
}

/// Crossover statements for every pair of pipelines. In each pair the
/// challenger is the one with the higher WER at the smallest common size.
pub fn statements(
    out: &Path,
    rows: &[CellResult],
    replicates: usize,
    seed: u64,
) -> Vec<PairStatement> {
    let curves = curves(out, rows);
    // Read once: each cell's curve.tsv decides whether it converged.
    let converged: Vec<bool> = rows.iter().map(|r| cell_converged(out, r)).collect();
    let names: Vec<&String> = curves.keys().collect();
    let mut res = Vec::new();
    for i in 0..names.len() {
        for j in i + 1..names.len() {
            let (a, b) = (names[i], names[j]);
            let (hours, wa, wb) = crossover::mean_curves(&curves[a], &curves[b]);
            if hours.is_empty() {
                continue;
            }
            let (ch, inc) = if wa[0] >= wb[0] { (a, b) } else { (b, a) };
            let c = crossover::estimate(&curves[ch], &curves[inc], replicates, seed);
            let mut text = crossover::statement(ch, inc, &c);
            let unconverged: Vec<String> = rows
                .iter()
                .zip(&converged)
                .filter(|(r, ok)| !**ok && r.ok() && (&r.pipeline == ch || &r.pipeline == inc))
                .map(|(r, _)| r)
                .map(|r| {
                    format!(
                        "{} {} h seed {} ({})",
                        r.pipeline, r.target_hours, r.seed, r.stop_reason
                    )
                })
                .collect();
            if !unconverged.is_empty() {
                text.push_str(&format!(
                    " This rests on {} cell(s) that did not converge: {}.",
                    unconverged.len(),
                    unconverged.join(", ")
                ));
            }
            let projection = match c {
                Crossing::None { .. } => {
                    crossover::project(&curves[ch], &curves[inc], replicates, seed)
                }
                _ => None,
            };
            let projection_text = projection
                .as_ref()
                .map(|p| crossover::projection_statement(ch, inc, p));
            res.push(PairStatement {
                challenger: ch.clone(),
                incumbent: inc.clone(),
                crossing: c,
                text,
                projection,
                projection_text,
            });
        }
    }
    res
}

/// Epochs over which a capped run's dev error must be flat to count as converged.
pub const FLAT_EPOCHS: usize = 3;
/// ... flat meaning no fall of more than this (fraction, 0.2 points).
pub const FLAT_FALL: f64 = 0.002;

/// A cell whose result does not hinge on an unfinished training: GMM cells,
/// networks stopped by convergence, and networks at an epoch or update cap
/// whose dev error was flat over the last FLAT_EPOCHS epochs (from the cell's `curve.tsv`).
pub fn cell_converged(out: &Path, r: &CellResult) -> bool {
    match r.stop_reason.as_str() {
        "" | "converged" => true,
        "epoch-cap" | "update-cap" => {
            read_curve(out, r).is_some_and(|t| t.converged_or_flat(FLAT_EPOCHS, FLAT_FALL))
        }
        _ => false,
    }
}

/// The training record (stop reason and curve) of a network cell, from its folder.
fn read_curve(out: &Path, r: &CellResult) -> Option<crate::pipeline::TrainingRecord> {
    let curve = super::cell_files::read_curve(&super::cell_files::dir_of(out, r))
        .ok()?
        .into_iter()
        .map(|p| (p.epoch, p.train_loss, p.dev_error))
        .collect();
    Some(crate::pipeline::TrainingRecord {
        stop_reason: r.stop_reason.clone(),
        curve,
        ..Default::default()
    })
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("PRETTY_NAME="))
                .map(|l| l[12..].trim_matches('"').to_string())
        })
        .unwrap_or_default();
    format!("{cores} cores ({cpu}), {os}")
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.1}")).unwrap_or_else(|| "-".into())
}

/// How long a sweep run took, and how many of its cells it ran or reused.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunTiming {
    pub seconds: f64,
    pub ran: usize,
    pub reused: usize,
}

/// Write results.csv, the plots and report.md into `out`. Returns the report path.
/// `run` is the run just finished; a run that reused no cell is a full run,
/// whose wall time the report keeps.
pub fn render(out: &Path, run: Option<RunTiming>) -> Result<PathBuf> {
    let spec = SweepSpec::load(out)?;
    // The last full run's wall time survives re-rendering (`crossover report`)
    // and partial runs (which reuse finished cells).
    let wall_file = out.join("wall_seconds.txt");
    let last_file = out.join("last_run.txt");
    if let Some(r) = run {
        let line = format!("{:.1} {} {}\n", r.seconds, r.ran, r.reused);
        std::fs::write(&last_file, line).map_err(|e| Error::io(&last_file, e))?;
    }
    let last_run: Option<RunTiming> = std::fs::read_to_string(&last_file).ok().and_then(|s| {
        let f: Vec<&str> = s.split_whitespace().collect();
        Some(RunTiming {
            seconds: f.first()?.parse().ok()?,
            ran: f.get(1)?.parse().ok()?,
            reused: f.get(2)?.parse().ok()?,
        })
    });
    let wall_seconds = match run.filter(|r| r.reused == 0).map(|r| r.seconds) {
        Some(w) => {
            std::fs::write(&wall_file, format!("{w:.1}\n"))
                .map_err(|e| Error::io(&wall_file, e))?;
            Some(w)
        }
        None => std::fs::read_to_string(&wall_file)
            .ok()
            .and_then(|s| s.trim().parse().ok()),
    };
    let rows = collect_results(&spec, out);
    results::write_csv(&out.join("results.csv"), &rows)?;
    let stmts = statements(out, &rows, spec.bootstrap.max(100), 1);
    let markers: Vec<Marker> = stmts
        .iter()
        .filter_map(|s| match s.crossing {
            Crossing::At { hours, .. } => Some(Marker {
                hours,
                label: format!("{} < {}", s.challenger, s.incumbent),
            }),
            _ => None,
        })
        .collect();
    let corpus = rows
        .first()
        .map(|r| r.corpus.clone())
        .unwrap_or_else(|| spec.corpus.display().to_string());
    let title = format!("WER vs training hours on {corpus}");
    let pngs = if rows.iter().any(|r| r.ok()) {
        plots::render_all(out, &title, &rows, &markers, &projected_fits(&stmts))?
    } else {
        Vec::new()
    };
    let json = serde_json::to_string_pretty(&stmts).map_err(|e| Error::Invalid(e.to_string()))?;
    std::fs::write(out.join("crossover.json"), json)
        .map_err(|e| Error::io(out.join("crossover.json"), e))?;

    let kinds = pipeline_infos(&spec);
    let hand_designed = |p: &str| kinds.get(p).is_some_and(|k| !k.traits.network);
    // Against the hand-designed pipeline first: the question the tool asks.
    let (vs_classical, other_pairs): (Vec<&PairStatement>, Vec<&PairStatement>) = stmts
        .iter()
        .partition(|s| hand_designed(&s.challenger) != hand_designed(&s.incumbent));
    let mut md = String::new();
    let _ = writeln!(md, "# crossover report: {corpus}\n");
    let _ = writeln!(md, "## Where the curves cross\n");
    if stmts.is_empty() {
        let _ = writeln!(
            md,
            "No pair of pipelines has finished cells at common sizes yet.\n"
        );
    }
    for s in &vs_classical {
        let _ = writeln!(md, "- {}", s.text);
    }
    if !vs_classical.is_empty() && !other_pairs.is_empty() {
        let _ = writeln!(md, "\nOther pairs:\n");
    }
    for s in &other_pairs {
        let _ = writeln!(md, "- {}", s.text);
    }
    let _ = writeln!(md);
    let projections: Vec<&String> = stmts
        .iter()
        .filter_map(|s| s.projection_text.as_ref())
        .collect();
    if !projections.is_empty() {
        let _ = writeln!(
            md,
            "### Projections beyond the grid (fits, not measurements)\n"
        );
        for p in projections {
            let _ = writeln!(md, "- {p}");
        }
        let _ = writeln!(md, "\nThe fits are drawn dashed beyond the grid on the WER plot. A power law fitted to {} sizes says what the curves would do if they kept their shape; it is no substitute for training on more data.\n", spec.hours.len());
    }
    {
        let h = spec
            .fit_upto
            .unwrap_or(super::projection_check::DEFAULT_FIT_UPTO);
        let pairs: Vec<(String, String)> = stmts
            .iter()
            .map(|s| (s.challenger.clone(), s.incumbent.clone()))
            .collect();
        let check = super::projection_check::section(
            &curves(out, &rows),
            &pairs,
            h,
            spec.bootstrap.max(100),
        );
        md.push_str(&check.unwrap_or_else(|| format!(
            "## How well the projection predicted\n\nNo curve has three sizes at or below {} h (the cut-off{}) and one above it: nothing measured to check a projection against.{}\n\n",
            super::crossover::fmt_h(h),
            if spec.fit_upto.is_some() { "" } else { ", the default grid's largest size; `crossover report OUT --fit-upto H` sets another" },
            if spec.hours.iter().all(|&x| x <= h) {
                " The grid stops at the cut-off: a sweep with larger sizes on the same task (reports/example-long for the default corpus) measures what a projection from this grid only guesses."
            } else {
                ""
            }
        )));
    }
    let n_test = rows
        .iter()
        .find(|r| r.ok())
        .map(|r| (r.test_utterances, r.ref_words));
    let seeds = spec.seeds.len();
    // What every paired draw below resamples: the crossings' and the transfer sections'.
    let resampled = if seeds > 1 {
        "the test utterances (paired across cells) and the seeds of every cell"
    } else {
        "the test utterances (paired across cells) only, not the training run (one seed per cell)"
    };
    let _ = writeln!(
        md,
        "What the intervals cover: each cell's WER interval resamples its {} test utterances ({} words); a crossing's interval resamples {resampled}. {} seed(s) per cell{}.\n",
        n_test.map_or(0, |n| n.0),
        n_test.map_or(0, |n| n.1),
        seeds,
        if seeds > 1 { "; the curves are seed means" } else { "" }
    );
    // After the crossing statements and what their intervals cover.
    let transfer_md = transfer_section(
        out,
        &title,
        &rows,
        &kinds,
        spec.bootstrap.max(100),
        resampled,
    )?;
    md.push_str(&transfer_md);
    if let Some(groups) = super::speaker_groups::section(&spec, out, &rows) {
        md.push_str(&groups);
    }
    let _ = writeln!(md, "## What was run\n");
    let _ = writeln!(md, "- Corpus: `{}` ({corpus})", spec.corpus.display());
    if !spec.corpus_note.is_empty() {
        let _ = writeln!(md, "- Corpus settings: {}", spec.corpus_note);
    }
    let _ = writeln!(md, "- Pipelines:");
    let overlay = spec.overlay().unwrap_or_default();
    for p in &spec.pipelines {
        let what = match kinds.get(&super::pipeline_name(p)) {
            Some(k) => k.description.clone(),
            None => crate::registry::describe(p, &overlay)
                .unwrap_or_else(|e| format!("(unreadable: {e})")),
        };
        let _ = writeln!(
            md,
            "  - {} (`{}`): {what}",
            super::pipeline_name(p),
            p.display()
        );
    }
    let _ = writeln!(
        md,
        "- Training hours (targets): {}",
        comma_list(&spec.hours)
    );
    let _ = writeln!(md, "- Seeds: {}", comma_list(&spec.seeds));
    let _ = writeln!(
        md,
        "- Threads: {}, device: {:?}, bootstrap replicates: {}",
        spec.threads, spec.device, spec.bootstrap
    );
    let _ = writeln!(md, "- Machine: {}", machine());
    let mut placed: BTreeMap<(String, String), usize> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.ok() && !r.node.is_empty()) {
        *placed
            .entry((r.node.clone(), r.device.clone()))
            .or_default() += 1;
    }
    if !placed.is_empty() {
        let _ = writeln!(
            md,
            "- Where the cells ran (node, device: cells): {}",
            placed
                .iter()
                .map(|((n, d), k)| format!("{n} {d}: {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let _ = writeln!(md, "- crossover version {}", env!("CARGO_PKG_VERSION"));
    if let Some(w) = wall_seconds {
        let _ = writeln!(
            md,
            "- Wall time of the last full run: {:.0} s ({:.1} min)",
            w,
            w / 60.0
        );
    }
    let ok_rows: Vec<&CellResult> = rows.iter().filter(|r| r.ok()).collect();
    if !ok_rows.is_empty() {
        let mut by_pipeline: BTreeMap<&str, f64> = BTreeMap::new();
        for r in &ok_rows {
            *by_pipeline.entry(r.pipeline.as_str()).or_default() += r.train_seconds;
        }
        let _ = writeln!(
            md,
            "- Training time of the finished cells (each cell's train_seconds; a resumed network cell includes its earlier runs): {:.0} s in all ({})",
            by_pipeline.values().sum::<f64>(),
            by_pipeline
                .iter()
                .map(|(p, s)| format!("{p} {s:.0} s"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if let Some(r) = last_run.filter(|r| r.reused > 0) {
        let _ = writeln!(
            md,
            "- The last run reused {} finished cells and ran {} in {:.0} s",
            r.reused, r.ran, r.seconds
        );
    }
    let sat_cells = rows
        .iter()
        .filter(|r| r.ok() && r.dev_choices.split_whitespace().any(|c| c == "rung=tri3b"))
        .count();
    if sat_cells > 0 {
        let _ = writeln!(
            md,
            "- Speaker adaptation: {sat_cells} cell(s) decode with the SAT rung (tri3b): each test (and dev) speaker's fMLLR transform is estimated from that speaker's own audio and the first-pass hypotheses, unsupervised, as Kaldi's `decode_fmllr.sh` does; no reference text is used"
        );
    }
    let done = rows.iter().filter(|r| r.ok()).count();
    let failed = rows.iter().filter(|r| !r.ok()).count();
    let total = spec.cells().len();
    let _ = writeln!(
        md,
        "- Cells: {done} finished, {failed} failed, {} not run, of {total}\n",
        total - done - failed
    );
    let _ = writeln!(md, "Reproduce:\n\n```\n{}\n```\n", spec.command);

    let _ = writeln!(md, "## Plots\n");
    for p in &pngs {
        let name = p.file_name().unwrap().to_string_lossy();
        let _ = writeln!(md, "![{name}]({name})\n");
    }
    let _ = writeln!(md, "## Results (test set)\n");
    let _ = writeln!(md, "| pipeline | target h | actual h | seed | train utts | WER % | 95% CI | CER % | PER % | S | D | I | ref words | dev WER % | chosen on dev | train s | decode RTF | size |");
    let _ = writeln!(
        md,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for r in rows.iter().filter(|r| r.ok()) {
        let _ = writeln!(
            md,
            "| {} | {} | {:.3} | {} | {} | {:.1} | {:.1}-{:.1} | {:.1} | {} | {} | {} | {} | {} | {:.1} | {} | {:.0} | {:.3} | {} {} |",
            r.pipeline,
            r.target_hours,
            r.actual_hours,
            r.seed,
            r.utterances,
            r.wer,
            r.wer_lo,
            r.wer_hi,
            r.cer,
            fmt_opt(r.per),
            r.sub,
            r.del,
            r.ins,
            r.ref_words,
            r.dev_wer,
            if r.dev_choices.is_empty() { "-" } else { r.dev_choices.as_str() },
            r.train_seconds,
            r.decode_rtf,
            r.model_size,
            r.size_unit
        );
    }
    let nets: Vec<&CellResult> = rows
        .iter()
        .filter(|r| r.ok() && !r.stop_reason.is_empty())
        .collect();
    if !nets.is_empty() {
        let not_conv = nets.iter().filter(|r| !cell_converged(out, r)).count();
        let _ = writeln!(md, "\n## Training of the networks\n");
        let _ = writeln!(
            md,
            "Training is bounded by epochs and updates and stopped on dev error (never by the clock). {} of {} network cells converged (by patience, or at a cap with dev error flat over the last {FLAT_EPOCHS} epochs){}.\n",
            nets.len() - not_conv,
            nets.len(),
            if not_conv > 0 { "; the others are marked **not converged** below" } else { "" }
        );
        let _ = writeln!(md, "| pipeline | target h | seed | epochs | updates | best epoch | stop reason | final train loss | best dev error % | converged | curve |");
        let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|");
        for r in &nets {
            let id = super::cell_id(&r.pipeline, r.target_hours, r.seed);
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | [png](cells/{id}/training_curve.png) |",
                r.pipeline,
                r.target_hours,
                r.seed,
                r.epochs.map_or("-".into(), |v| v.to_string()),
                r.updates.map_or("-".into(), |v| v.to_string()),
                r.best_epoch.map_or("-".into(), |v| v.to_string()),
                r.stop_reason,
                r.final_train_loss.map_or("-".into(), |v| format!("{v:.3}")),
                fmt_opt(r.best_dev_error),
                if cell_converged(out, r) { "yes" } else { "**not converged**" },
            );
        }
    }
    let cost = super::cost::section(&rows, spec.threads);
    if !cost.is_empty() {
        md.push('\n');
        md.push_str(&cost);
    }
    if failed > 0 {
        let _ = writeln!(md, "\n## Failed cells\n");
        for r in rows.iter().filter(|r| !r.ok()) {
            let _ = writeln!(md, "- {}", r.error.replace('\n', " "));
        }
    }
    let _ = writeln!(md, "\nPer-cell hypotheses, per-utterance errors and models: `cells/<pipeline>_h<hours>_s<seed>/`. Columns are described in the README (results.csv).");
    let path = out.join("report.md");
    std::fs::write(&path, md).map_err(|e| Error::io(&path, e))?;
    Ok(path)
}

/// Each pipeline of the sweep, read once through the registry (unreadable
/// files are left out; the pipeline list says why).
fn pipeline_infos(spec: &SweepSpec) -> BTreeMap<String, PipelineInfo> {
    let overlay = spec.overlay().unwrap_or_default();
    spec.pipelines
        .iter()
        .filter_map(|p| {
            let info = crate::registry::info(p, &overlay).ok()?;
            Some((super::pipeline_name(p), info))
        })
        .collect()
}

/// "What transfer learning is worth": each transferred pipeline against
/// the from-scratch pipeline of the same kind, size by size, and the
/// plot of the two curves in one panel. Empty without such a pair.
fn transfer_section(
    out: &Path,
    title: &str,
    rows: &[CellResult],
    kinds: &BTreeMap<String, PipelineInfo>,
    replicates: usize,
    resampled: &str,
) -> Result<String> {
    let mut md = String::new();
    let curves = curves(out, rows);
    // Each transferred pipeline against the from-scratch one of the same kind.
    let transferred = |k: &PipelineInfo| k.initial_model.is_some();
    let transfer_pairs: Vec<(&String, &String)> = kinds
        .iter()
        .filter(|(_, k)| transferred(k))
        .filter_map(|(t, tk)| {
            kinds
                .iter()
                .find(|(_, k)| !transferred(k) && k.kind == tk.kind)
                .map(|(s, _)| (t, s))
        })
        .collect();
    // Multi-task vs single-task: each multi-task pipeline against a pipeline
    // of the kind it extends, with the same initialisation (both from
    // scratch, or both transferred).
    let mtl_pairs: Vec<(&String, &String)> = kinds
        .iter()
        .filter_map(|(m, mk)| {
            let single = mk.traits.multitask_of?;
            kinds
                .iter()
                .find(|(_, k)| k.kind == single && transferred(k) == transferred(mk))
                .map(|(c, _)| (m, c))
        })
        .collect();
    let sections = [
        (
            format!("## What the pre-training is worth\n\nEach transferred pipeline against the from-scratch pipeline of the same kind on the same cells. The matching hours interpolate the from-scratch curve (seed means) in log-hours; intervals come from the crossover bootstrap's draws over {resampled}.\n"),
            "the pre-training",
            &transfer_pairs,
            true,
        ),
        (
            format!("## What the phone head is worth (multi-task CTC)\n\nEach mtl-ctc pipeline against the char-ctc pipeline with the same initialisation; both decode characters only. Bootstrap over {resampled}.\n"),
            "the phone head",
            &mtl_pairs,
            false,
        ),
    ];
    for (heading, what, pairs, plot) in sections {
        let mut any = false;
        for &(t, s) in pairs {
            let (Some(ct), Some(cs)) = (curves.get(t), curves.get(s)) else {
                continue;
            };
            let shifts = crossover::transfer_shift(ct, cs, replicates, 1);
            if shifts.is_empty() {
                continue;
            }
            if !any {
                let _ = writeln!(md, "{heading}");
                any = true;
            }
            let _ = writeln!(md, "### {t} vs {s}\n");
            for x in &shifts {
                let _ = writeln!(md, "- {}", crossover::transfer_statement(t, s, what, x));
            }
            if plot {
                let name = format!("transfer_{t}");
                let png = plots::wer_subset(
                    out,
                    &name,
                    &format!("{title}: {t} vs {s}"),
                    rows,
                    &[t.as_str(), s.as_str()],
                )?;
                let file = png.file_name().unwrap().to_string_lossy().into_owned();
                let _ = writeln!(md, "\n![{file}]({file})\n");
            } else {
                let _ = writeln!(md);
            }
        }
    }
    // What every pipeline started from, and what that cost.
    let inits: BTreeMap<&str, std::collections::BTreeSet<&str>> = rows
        .iter()
        .filter(|r| r.ok() && !r.init.is_empty())
        .fold(BTreeMap::new(), |mut m, r| {
            m.entry(r.pipeline.as_str())
                .or_default()
                .insert(r.init.as_str());
            m
        });
    if !inits.is_empty() {
        let _ = writeln!(md, "### Initialisation\n");
        for (p, what) in &inits {
            for w in what {
                let _ = writeln!(md, "- {p}: {w}");
            }
        }
        for (p, k) in kinds {
            if k.traits.network && k.initial_model.is_none() {
                let _ = writeln!(md, "- {p}: trained from scratch");
            }
        }
        let _ = writeln!(md);
    }
    Ok(md)
}

/// The power-law fits of every pipeline in a projected pair, for the WER plot.
fn projected_fits(stmts: &[PairStatement]) -> BTreeMap<String, crossover::PowerLaw> {
    let mut fits = BTreeMap::new();
    for s in stmts {
        if let Some(p) = &s.projection {
            fits.insert(s.challenger.clone(), p.challenger_fit);
            fits.insert(s.incumbent.clone(), p.incumbent_fit);
        }
    }
    fits
}

/// `1, 2, 3` from a list of values.
fn comma_list<T: std::fmt::Display>(xs: &[T]) -> String {
    xs.iter().map(T::to_string).collect::<Vec<_>>().join(", ")
}
