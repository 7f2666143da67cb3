//! `crossover sweep`: the main job. Trains every pipeline on nested subsets,
//! scores all on one test set, and writes results.csv, plots and report.md.
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crossover::corpus::recipe::{self, BuildOptions, CorpusRecipe, Outcome};
use crossover::corpus::synth::{self, SynthConfig};
use crossover::corpus::Corpus;
use crossover::loader::Loader;
use crossover::pipeline::DeviceChoice;
use crossover::sweep::{self, results::CellResult, Cell, SweepProgress, SweepSpec};

/// The default corpora are recipes (built on first use into corpora/build/<stem>/).
const DEFAULT_CORPUS: &str = "corpora/synth-default.toml";
const QUICK_CORPUS: &str = "corpora/synth-quick.toml";
/// The hand-designed pipeline, the intermediate, the pure end-to-end
/// network and the same network with an external LM (a decoding variant:
/// its cells reuse the char-ctc cells' networks).
const DEFAULT_PIPELINES: &str = "pipelines/classical.toml,pipelines/phone-ctc.toml,pipelines/char-ctc.toml,pipelines/char-ctc-lm.toml";
const QUICK_PIPELINES: &str =
    "pipelines/quick/classical.toml,pipelines/quick/phone-ctc.toml,pipelines/quick/char-ctc.toml";
const DEFAULT_HOURS: &str = "0.1,0.3,1";
const QUICK_HOURS: &str = "0.05,0.2";
/// Two seeds by default, so the crossover intervals cover the training run, not only the test set.
const DEFAULT_SEEDS: &[u64] = &[1, 2];
const QUICK_SEEDS: &[u64] = &[1];

#[derive(clap::Args)]
#[command(
    after_help = "Cells are cached under OUT/cells/: running the same command again redoes no finished cell. \
Split work across machines with --plan (job list), --cell K (one job) and --collect (merge results and render the report)."
)]
pub struct Args {
    /// Corpus folder (with manifest.tsv), or a corpus recipe (a .toml file such as
    /// corpora/kathleen.toml), built on first use into build/<stem>/ beside the recipe and reused
    /// while the recipe is unchanged [default: corpora/synth-default.toml; with --quick
    /// corpora/synth-quick.toml].
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Comma-separated pipeline config files; each file's stem names its curve
    /// [default: pipelines/classical.toml, phone-ctc.toml, char-ctc.toml and
    /// char-ctc-lm.toml (the char-ctc network decoded with an external LM; it
    /// reuses the char-ctc cells' networks); with --quick pipelines/quick/*].
    #[arg(long, value_delimiter = ',')]
    pub pipelines: Option<Vec<PathBuf>>,
    /// Comma-separated training-set sizes in hours (nested subsets of the train split)
    /// [default: 0.1,0.3,1, chosen so that every network cell converges and the default
    /// sweep fits in about 60 minutes on 2 cores; with --quick 0.05,0.2].
    #[arg(long, value_delimiter = ',')]
    pub hours: Option<Vec<f64>>,
    /// Comma-separated seeds; each seed draws its own nested subsets and
    /// initialisations, and the crossover intervals resample them
    /// [default: 1,2; with --quick 1].
    #[arg(long, value_delimiter = ',')]
    pub seeds: Option<Vec<u64>>,
    /// Output folder for cells, results.csv, plots and report.md.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A first look in at most about 5 minutes: a small synthetic corpus, hours 0.05,0.2 and
    /// pipeline presets capped at 5 epochs per network (pipelines/quick/; not converged, the report marks them). Explicit flags still win.
    #[arg(long)]
    pub quick: bool,
    /// Threads for training and decoding (one cell runs at a time).
    #[arg(long, default_value_t = default_threads())]
    pub threads: usize,
    /// Device for the neural pipelines.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    pub device: DeviceChoice,
    /// Bootstrap replicates for the WER and crossover confidence intervals.
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Check the report's projections: fit each curve on the sizes at or
    /// below this many hours and compare its projections with the larger
    /// sizes measured (report section "How well the projection predicted";
    /// default 1, the default grid's largest size).
    #[arg(long)]
    pub fit_upto: Option<f64>,
    /// Print the cells as a job list (index, cell id, command) and exit.
    #[arg(long, conflicts_with_all = ["cell", "collect"])]
    pub plan: bool,
    /// Run only cell K of the plan (0-based), then exit without writing the report.
    #[arg(long, value_name = "K")]
    pub cell: Option<usize>,
    /// Merge the finished cells' results into results.csv, plots and report.md without training.
    #[arg(long)]
    pub collect: bool,
    /// Do not show progress bars.
    #[arg(long)]
    pub no_progress: bool,
    /// Override a setting of every pipeline, `SECTION.KEY=VALUE` (repeatable;
    /// e.g. `--set decode.beam=160`). Part of each cell's cache key, so a
    /// changed override redoes the cells it changes.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Where the cells run: `local` (one after another in this process) or `slurm` (one
    /// `sbatch --array` task per unfinished cell, followed with squeue until all are done,
    /// then the same report; docs/CLUSTER.md). Interrupting the waiting process leaves the
    /// tasks running; the same command again re-attaches to them.
    #[arg(long, value_enum, default_value_t = Executor::Local)]
    pub executor: Executor,
    /// Slurm: partition of the array tasks (sbatch --partition).
    #[arg(long, help_heading = "Slurm executor")]
    pub partition: Option<String>,
    /// Slurm: time limit per task (sbatch --time, e.g. 4:00:00).
    #[arg(long, help_heading = "Slurm executor")]
    pub time: Option<String>,
    /// Slurm: memory per task (sbatch --mem, e.g. 8G).
    #[arg(long, help_heading = "Slurm executor")]
    pub mem: Option<String>,
    /// Slurm: CPUs per task (sbatch --cpus-per-task) [default: --threads].
    #[arg(long, help_heading = "Slurm executor")]
    pub cpus_per_task: Option<usize>,
    /// Slurm: at most N tasks at once (--array=...%N).
    #[arg(long, value_name = "N", help_heading = "Slurm executor")]
    pub max_concurrent: Option<usize>,
    /// Slurm: generic resources for the neural cells only, e.g. `gpu:1` (they get their own
    /// array; classical cells never ask for a GPU). Use with --device cuda.
    #[arg(long, value_name = "GRES", help_heading = "Slurm executor")]
    pub neural_gres: Option<String>,
    /// Slurm: a further sbatch argument for every array (repeatable), e.g. `--sbatch-arg=--qos=long`.
    #[arg(
        long = "sbatch-arg",
        value_name = "ARG",
        allow_hyphen_values = true,
        help_heading = "Slurm executor"
    )]
    pub sbatch_args: Vec<String>,
    /// Slurm: a Kaldi-style slurm.conf (`command sbatch ...`, `option NAME=* ARGS $0`,
    /// `default NAME=VALUE`; crossover sets num_threads, gpu, mem and time).
    #[arg(long, value_name = "FILE", help_heading = "Slurm executor")]
    pub slurm_config: Option<PathBuf>,
    /// Slurm: seconds between two looks at the queue.
    #[arg(long, default_value_t = 10.0, help_heading = "Slurm executor")]
    pub poll_seconds: f64,
}

/// Where the cells of a sweep run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Executor {
    /// One after another in this process.
    Local,
    /// One Slurm array task per unfinished cell.
    Slurm,
}

fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

struct Bars {
    overall: ProgressBar,
    stage: ProgressBar,
    /// Without bars, per-cell lines still go to stderr.
    plain: bool,
}

impl SweepProgress for Bars {
    fn cell_started(&self, cell: &Cell, total: usize) {
        self.overall.set_length(total as u64);
        self.overall.set_message(cell.id());
        self.stage.set_message(format!("{}: starting", cell.id()));
    }
    fn stage(&self, msg: &str) {
        self.stage.set_message(msg.to_string());
    }
    fn cell_finished(&self, cell: &Cell, r: &CellResult, cached: bool) {
        let what = if !r.ok() {
            format!("FAILED: {}", r.error)
        } else {
            format!(
                "WER {:.1}% (CI {:.1}-{:.1}){}",
                r.wer,
                r.wer_lo,
                r.wer_hi,
                if cached { ", cached" } else { "" }
            )
        };
        let line = format!(
            "[{}/{}] {} {}",
            cell.index + 1,
            self.overall.length().unwrap_or(0),
            cell.id(),
            what
        );
        if self.plain {
            eprintln!("{line}");
        } else {
            self.overall.println(line);
        }
        self.overall.inc(1);
    }
}

fn spec_from_args(a: &Args) -> anyhow::Result<(SweepSpec, PathBuf)> {
    let corpus = a.corpus.clone().unwrap_or_else(|| {
        PathBuf::from(if a.quick {
            QUICK_CORPUS
        } else {
            DEFAULT_CORPUS
        })
    });
    let pipelines = a.pipelines.clone().unwrap_or_else(|| {
        (if a.quick {
            QUICK_PIPELINES
        } else {
            DEFAULT_PIPELINES
        })
        .split(',')
        .map(PathBuf::from)
        .collect()
    });
    let hours = a.hours.clone().unwrap_or_else(|| {
        (if a.quick { QUICK_HOURS } else { DEFAULT_HOURS })
            .split(',')
            .map(|h| h.parse().unwrap())
            .collect()
    });
    let out = a.out.clone().unwrap_or_else(|| {
        PathBuf::from(if a.quick {
            "reports/quick"
        } else {
            "reports/default"
        })
    });
    let command = std::env::args()
        .map(|s| crossover::sweep::shell_quote(&s))
        .collect::<Vec<_>>()
        .join(" ");
    let spec = SweepSpec {
        corpus,
        pipelines,
        hours,
        seeds: a.seeds.clone().unwrap_or_else(|| {
            if a.quick {
                QUICK_SEEDS.to_vec()
            } else {
                DEFAULT_SEEDS.to_vec()
            }
        }),
        threads: a.threads.max(1),
        device: a.device,
        bootstrap: a.bootstrap,
        command,
        corpus_note: String::new(),
        set: a.set.clone(),
        fit_upto: a.fit_upto,
        keys: Default::default(),
    };
    Ok((spec, out))
}

/// A recipe (`--corpus X.toml`, and the defaults corpora/synth-default.toml
/// and corpora/synth-quick.toml, whose `[synth]` tables are
/// `SynthConfig::sweep_demo()` with 2 h / 0.2 h of training audio) is built
/// on first use and reused while unchanged; `spec.corpus` becomes the built
/// folder. A folder is used as it is.
fn ensure_corpus(spec: &mut SweepSpec, progress: bool) -> anyhow::Result<()> {
    // Keys made before the corpus was resolved would name the wrong data.
    spec.keys = Default::default();
    let mut note = String::new();
    if spec.corpus.extension().is_some_and(|e| e == "toml") {
        let file = spec.corpus.clone();
        if !file.is_file() {
            bail!(
                "{}: no such corpus recipe{}",
                file.display(),
                if a_default(&file) {
                    " (the default corpora are recipes in the project's corpora/ folder: run from the project root, or pass --corpus)"
                } else {
                    ""
                }
            );
        }
        let r = CorpusRecipe::load(&file)?;
        let b = recipe::build(
            &r,
            &BuildOptions {
                progress,
                ..BuildOptions::default()
            },
        )?;
        if b.outcome != Outcome::Reused {
            eprintln!(
                "crossover: corpus {} {} from {}",
                b.dir.display(),
                b.outcome.describe(),
                file.display()
            );
        }
        note = format!("built from the recipe `{}`", file.display());
        spec.corpus = b.dir;
    } else {
        let manifest = spec.corpus.join(crossover::corpus::MANIFEST_FILE);
        if !manifest.exists() {
            bail!("{}: no corpus here (expected {}); make one with `crossover corpus build RECIPE`, `crossover corpus import` or `crossover corpus synth`, or pass a recipe (--corpus corpora/NAME.toml)", spec.corpus.display(), manifest.display());
        }
    }
    let synth = describe_synth(&spec.corpus);
    spec.corpus_note = match (note.is_empty(), synth.is_empty()) {
        (true, _) => synth,
        (false, true) => note,
        (false, false) => format!("{note}; {synth}"),
    };
    Ok(())
}

fn a_default(p: &Path) -> bool {
    p == Path::new(DEFAULT_CORPUS) || p == Path::new(QUICK_CORPUS)
}

/// One line stating a synthetic corpus's difficulty (empty for other corpora).
fn describe_synth(dir: &Path) -> String {
    if !dir.join(synth::SETTINGS_FILE).exists() {
        return String::new();
    }
    match read_synth_config(dir) {
        Some(c) => format!(
            "synthetic (espeak-ng + flite), seed {}, {} training voices (dev/test voices held out), {} words per grammar category, \
             noise on {:.0}% of utterances at {}-{} dB SNR, reverberation on {:.0}%, speed {}-{}",
            c.seed,
            c.train_voices,
            c.vocab_per_category,
            100.0 * c.augment.noise_prob,
            c.augment.snr_db[0],
            c.augment.snr_db[1],
            100.0 * c.augment.reverb_prob,
            c.augment.speed[0],
            c.augment.speed[1]
        ),
        None => "synthetic (settings in synth.toml)".to_string(),
    }
}

/// The `[config]` table of a synthetic corpus's `synth.toml`, if readable.
fn read_synth_config(dir: &Path) -> Option<SynthConfig> {
    let text = std::fs::read_to_string(dir.join(synth::SETTINGS_FILE)).ok()?;
    let table: toml::Table = text.parse().ok()?;
    table.get("config").cloned()?.try_into::<SynthConfig>().ok()
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let (mut spec, out) = spec_from_args(&a)?;
    if a.collect {
        let prior = SweepSpec::load(&out).with_context(|| {
            format!(
                "--collect needs a sweep folder with sweep.json: {}",
                out.display()
            )
        })?;
        let report = sweep::report::render(&out, None)?;
        println!(
            "{} cells collected; report: {}",
            prior.cells().len(),
            report.display()
        );
        return Ok(());
    }
    spec.validate()?;
    let cells = spec.cells();
    if a.plan {
        let me = std::env::args()
            .next()
            .unwrap_or_else(|| "crossover".into());
        let base: Vec<String> = std::env::args().skip(1).filter(|s| s != "--plan").collect();
        for c in &cells {
            println!(
                "{}\t{}\t{} {} --cell {}",
                c.index,
                c.id(),
                me,
                base.join(" "),
                c.index
            );
        }
        return Ok(());
    }
    ensure_corpus(&mut spec, !a.no_progress)?;
    let corpus = Corpus::load(&spec.corpus)?;
    // One loader for every cell: dev and test features are computed once.
    let loader = Loader::new(&corpus);
    if a.cell.is_some() {
        // One task of a spread-out sweep: the folder keeps the sweep's own command.
        if let Ok(prior) = SweepSpec::load(&out) {
            spec.command = prior.command;
        }
    }
    if spec.fit_upto.is_none() {
        // A cut-off recorded by `report --fit-upto` survives re-running the sweep.
        spec.fit_upto = SweepSpec::load(&out).ok().and_then(|p| p.fit_upto);
    }
    spec.save(&out)?;

    let mp = MultiProgress::new();
    if a.no_progress {
        mp.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let overall = mp.add(ProgressBar::new(cells.len() as u64));
    overall.set_style(
        ProgressStyle::with_template(
            "cells {pos}/{len} [{bar:30}] elapsed {elapsed_precise} ETA {eta} {msg}",
        )
        .unwrap()
        .progress_chars("=> "),
    );
    let stage = mp.add(ProgressBar::new_spinner());
    stage.set_style(ProgressStyle::with_template("  {spinner} {msg}").unwrap());
    stage.enable_steady_tick(Duration::from_millis(200));
    // Without a terminal the bars are hidden; per-cell lines still go to stderr.
    let plain = a.no_progress || !std::io::IsTerminal::is_terminal(&std::io::stderr());
    let bars = Bars {
        overall,
        stage,
        plain,
    };

    let t0 = Instant::now();
    // Shared work first (pre-trained initial models), once, before any cell.
    sweep::prepare::prepare_pipelines(&spec, &out, !a.no_progress, &bars)?;
    if a.executor == Executor::Slurm && a.cell.is_none() {
        // Every feature set the cells read, computed here once: array tasks
        // then only read the cache.
        sweep::prepare::precompute_features(&spec, &corpus, &loader, !a.no_progress, &bars)?;
        bars.stage.finish_and_clear();
        bars.overall.finish_and_clear();
        return run_on_slurm(&a, &spec, &out, &cells, t0);
    }
    let todo: Vec<&Cell> = match a.cell {
        Some(k) => vec![cells.get(k).with_context(|| {
            format!(
                "--cell {k}: the plan has {} cells (0..{})",
                cells.len(),
                cells.len().saturating_sub(1)
            )
        })?],
        None => cells.iter().collect(),
    };
    let sweep::local::LocalRun { failures, reused } = sweep::local::run_cells(
        &spec,
        &loader,
        &out,
        &todo,
        cells.len(),
        &bars,
        a.cell.is_none(),
    )?;
    bars.stage.finish_and_clear();
    bars.overall.finish();
    eprintln!("crossover: {} (this run)", loader.counts());
    if a.cell.is_some() {
        println!(
            "cell done; merge with: crossover sweep --out {} --collect",
            out.display()
        );
        return Ok(());
    }
    let report = sweep::report::render(
        &out,
        Some(sweep::report::RunTiming {
            seconds: t0.elapsed().as_secs_f64(),
            ran: cells.len() - reused,
            reused,
        }),
    )?;
    println!("report: {}", report.display());
    if failures > 0 {
        eprintln!("crossover: {failures} cell(s) failed; see the report's 'Failed cells' section and OUT/cells/*/error.txt");
    }
    Ok(())
}

/// The arguments every array task passes to `crossover sweep ... --cell K`:
/// the resolved grid, stated explicitly (so `--quick` and the defaults mean
/// the same in every task), without the executor's own options.
fn task_args(a: &Args, spec: &SweepSpec, out: &Path, corpus_arg: &Path) -> Vec<String> {
    let join = |v: Vec<String>| v.join(",");
    let mut args = vec![
        "--corpus".to_string(),
        corpus_arg.display().to_string(),
        "--pipelines".into(),
        join(
            spec.pipelines
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
        ),
        "--hours".into(),
        join(spec.hours.iter().map(|h| h.to_string()).collect()),
        "--seeds".into(),
        join(spec.seeds.iter().map(|s| s.to_string()).collect()),
        "--threads".into(),
        spec.threads.to_string(),
        "--device".into(),
        format!("{:?}", spec.device).to_lowercase(),
        "--bootstrap".into(),
        spec.bootstrap.to_string(),
        "--out".into(),
        out.display().to_string(),
    ];
    for s in &a.set {
        args.push("--set".into());
        args.push(s.clone());
    }
    args
}

/// `--executor slurm`: the options and the task command from the flags;
/// the library drives the array jobs ([`sweep::slurm::drive`]).
fn run_on_slurm(
    a: &Args,
    spec: &SweepSpec,
    out: &Path,
    cells: &[Cell],
    t0: Instant,
) -> anyhow::Result<()> {
    use crossover::sweep::slurm::{SlurmOptions, TaskCommand};
    let opts = SlurmOptions {
        partition: a.partition.clone(),
        time: a.time.clone(),
        mem: a.mem.clone(),
        cpus_per_task: a.cpus_per_task,
        max_concurrent: a.max_concurrent,
        neural_gres: a.neural_gres.clone(),
        extra: a.sbatch_args.clone(),
        config: a.slurm_config.clone(),
        poll_seconds: a.poll_seconds.max(0.5),
    };
    // The tasks read the same corpus the recipe built here (shared filesystem).
    let corpus_arg = a.corpus.clone().unwrap_or_else(|| spec.corpus.clone());
    let corpus_arg = if corpus_arg.extension().is_some_and(|e| e == "toml") {
        spec.corpus.clone()
    } else {
        corpus_arg
    };
    let task = TaskCommand {
        exe: std::env::current_exe().context("the crossover executable")?,
        cwd: std::env::current_dir().context("the working directory")?,
        args: task_args(a, spec, out, &corpus_arg),
    };
    let outcome = sweep::slurm::drive(spec, out, cells, &opts, &task, !a.no_progress, t0)?;
    println!("report: {}", outcome.report.display());
    if outcome.failed > 0 {
        eprintln!("crossover: {} cell(s) failed; see OUT/cells/*/error.txt (rerun the same command to retry only those)", outcome.failed);
    }
    Ok(())
}
