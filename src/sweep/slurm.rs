//! The Slurm executor of a sweep (`crossover sweep --executor slurm`), as
//! Kaldi's `utils/slurm.pl` and ESPnet's `conf/slurm.conf` run `JOB=1:N`:
//! the unfinished cells become one `sbatch --array` job (two when neural
//! cells ask for a GPU: `--neural-gres`), each array task runs `crossover
//! sweep ... --cell K` with the sweep's own arguments, and this process
//! follows the tasks with `squeue` (and `sacct` where accounting is on),
//! then the caller renders the report exactly as a local run does.
//!
//! State lives in the sweep folder, so the waiting process is disposable:
//! `OUT/slurm/jobs.json` keeps the submitted job ids and their cells. Run
//! the same command again and it re-attaches to tasks still queued or
//! running, or submits only the cells that are neither finished nor in the
//! queue. A task that leaves the queue without a finished result (failed,
//! cancelled, timed out, out of memory) gets a `failed` result with Slurm's
//! state and the tail of its log in `error.txt`; the others go on.
//! Per-task Slurm output goes into the cell folder (`slurm-JOB_TASK.out`).
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::results::CellResult;
use super::shell_quote as quote;
use super::{cell_dir, cell_hash, read_result, Cell, SweepSpec};
use crate::error::{Error, Result};

/// How the array jobs are submitted.
#[derive(Debug, Clone, Default)]
pub struct SlurmOptions {
    pub partition: Option<String>,
    /// `--time` of every task (e.g. `4:00:00`).
    pub time: Option<String>,
    /// `--mem` of every task (e.g. `8G`).
    pub mem: Option<String>,
    /// `--cpus-per-task` (default: the sweep's `--threads`).
    pub cpus_per_task: Option<usize>,
    /// At most this many tasks at once (`--array=...%N`).
    pub max_concurrent: Option<usize>,
    /// `--gres` for the neural cells only (e.g. `gpu:1`); classical cells never ask for one.
    pub neural_gres: Option<String>,
    /// Further `sbatch` arguments, for every array.
    pub extra: Vec<String>,
    /// A Kaldi-style `slurm.conf` ([`SlurmConf`]).
    pub config: Option<PathBuf>,
    /// Seconds between two looks at the queue.
    pub poll_seconds: f64,
}

/// A Kaldi-style `conf/slurm.conf`: `command sbatch ARGS` (arguments for
/// every job), `option NAME=* ARGS` (`$0` replaced by the value),
/// `option NAME=VALUE ARGS` (for that exact value) and `default NAME=VALUE`.
/// crossover sets `num_threads` (the sweep's threads), `gpu` (1 for neural
/// cells with `--neural-gres`, else 0), and `mem`/`time` when given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlurmConf {
    pub command: Vec<String>,
    /// (name, value or `*`, arguments)
    pub options: Vec<(String, String, Vec<String>)>,
    pub defaults: BTreeMap<String, String>,
}

impl SlurmConf {
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let mut c = SlurmConf::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let bad = |what: &str| Error::parse(path, format!("line {}: {what}: {line}", n + 1));
            let mut words = line.split_whitespace();
            match words.next() {
                Some("command") => {
                    let prog = words.next().ok_or_else(|| bad("`command` needs sbatch"))?;
                    if prog != "sbatch" {
                        return Err(bad("only `command sbatch ...` is supported"));
                    }
                    c.command = words.map(String::from).collect();
                }
                Some("option") => {
                    let kv = words
                        .next()
                        .ok_or_else(|| bad("`option NAME=VALUE ARGS`"))?;
                    let (k, v) = kv
                        .split_once('=')
                        .ok_or_else(|| bad("`option NAME=VALUE ARGS`"))?;
                    c.options
                        .push((k.into(), v.into(), words.map(String::from).collect()));
                }
                Some("default") => {
                    let kv = words.next().ok_or_else(|| bad("`default NAME=VALUE`"))?;
                    let (k, v) = kv
                        .split_once('=')
                        .ok_or_else(|| bad("`default NAME=VALUE`"))?;
                    c.defaults.insert(k.into(), v.into());
                }
                _ => return Err(bad("expected `command`, `option` or `default`")),
            }
        }
        Ok(c)
    }

    /// The sbatch arguments for these option values (defaults filled in).
    pub fn args(&self, values: &BTreeMap<String, String>) -> Vec<String> {
        let mut all = self.defaults.clone();
        all.extend(values.iter().map(|(k, v)| (k.clone(), v.clone())));
        let mut out = self.command.clone();
        for (name, value) in &all {
            // An exact match wins over the wildcard.
            let exact = self.options.iter().find(|o| &o.0 == name && &o.1 == value);
            let any = self.options.iter().find(|o| &o.0 == name && o.1 == "*");
            if let Some((_, _, args)) = exact.or(any) {
                out.extend(args.iter().map(|a| a.replace("$0", value)));
            }
        }
        out
    }
}

/// One submitted array.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SubmittedJob {
    pub job_id: String,
    /// Plan indices of its tasks (array index = cell index).
    pub cells: Vec<usize>,
    pub neural: bool,
}

/// `OUT/slurm/jobs.json`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct JobsFile {
    pub jobs: Vec<SubmittedJob>,
}

pub fn slurm_dir(out: &Path) -> PathBuf {
    out.join("slurm")
}

impl JobsFile {
    pub fn load(out: &Path) -> Result<Self> {
        let p = slurm_dir(out).join("jobs.json");
        match std::fs::read_to_string(&p) {
            Ok(s) => serde_json::from_str(&s).map_err(|e| Error::parse(&p, e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(JobsFile::default()),
            Err(e) => Err(Error::io(&p, e)),
        }
    }
    pub fn save(&self, out: &Path) -> Result<()> {
        let dir = slurm_dir(out);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let p = dir.join("jobs.json");
        crate::atomic_file::write(
            &p,
            serde_json::to_string_pretty(self).expect("serialisable"),
        )
    }
}

fn run_tool(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd.output().map_err(|e| {
        Error::Invalid(format!(
            "slurm: cannot run {what} ({e}); is Slurm installed and on PATH?"
        ))
    })?;
    if !out.status.success() {
        return Err(Error::Invalid(format!(
            "slurm: {what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Tasks of `job_ids` still in the queue: (job id, array index) -> state
/// (`PENDING`, `RUNNING`, `COMPLETING`, ...). Pending ranges are expanded (`-r`).
pub fn queued_tasks(job_ids: &[String]) -> Result<BTreeMap<(String, usize), String>> {
    let mut out = BTreeMap::new();
    if job_ids.is_empty() {
        return Ok(out);
    }
    let text = run_tool(
        Command::new("squeue").args(["-h", "-r", "-o", "%i %T", "-j", &job_ids.join(",")]),
        "squeue",
    )
    .or_else(|e| {
        // squeue refuses ids it has forgotten (all tasks long finished).
        if e.to_string().contains("Invalid job id") {
            Ok(String::new())
        } else {
            Err(e)
        }
    })?;
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(id), Some(state)) = (f.next(), f.next()) else {
            continue;
        };
        if let Some((job, task)) = id.split_once('_') {
            if let Ok(t) = task.parse() {
                out.insert((job.to_string(), t), state.to_string());
            }
        }
    }
    Ok(out)
}

/// Final states from accounting (`sacct`), where the cluster keeps it:
/// array index -> (state, node). Empty when accounting is off.
pub fn accounted_states(job_id: &str) -> BTreeMap<usize, (String, String)> {
    let Ok(text) = run_tool(
        Command::new("sacct").args(["-n", "-P", "-X", "-o", "JobID,State,NodeList", "-j", job_id]),
        "sacct",
    ) else {
        return BTreeMap::new();
    };
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            let (_, task) = f.first()?.split_once('_')?;
            Some((
                task.parse().ok()?,
                (
                    f.get(1)?.split_whitespace().next()?.to_string(),
                    f.get(2).unwrap_or(&"").to_string(),
                ),
            ))
        })
        .collect()
}

/// A cell that is finished with the current configuration.
pub fn cell_finished(spec: &SweepSpec, out: &Path, cell: &Cell) -> bool {
    let Ok(hash) = cell_hash(spec, cell) else {
        return false;
    };
    read_result(&cell_dir(out, cell)).is_some_and(|r| r.ok() && r.config_hash == hash)
}

/// The array script: each task finds its cell folder from its array index,
/// sends its output there, and runs `crossover sweep ARGS --cell K`. A task
/// cancelled or killed by Slurm (SIGTERM first) leaves `slurm_state.txt`
/// in the cell folder, for clusters without accounting.
pub fn array_script(
    exe: &Path,
    cwd: &Path,
    sweep_args: &[String],
    out: &Path,
    cells: &[Cell],
    sbatch_args: &[String],
) -> String {
    let mut s = String::from(
        "#!/bin/bash\n# Written by crossover sweep --executor slurm; one array task per cell.\n",
    );
    for a in sbatch_args {
        s.push_str(&format!("#SBATCH {a}\n"));
    }
    s.push_str("set -u\n");
    s.push_str(&format!("cd {}\n", quote(&cwd.to_string_lossy())));
    s.push_str("declare -A CELL_DIR\n");
    for c in cells {
        s.push_str(&format!(
            "CELL_DIR[{}]={}\n",
            c.index,
            quote(&cell_dir(out, c).to_string_lossy())
        ));
    }
    s.push_str(
        r#"K=$SLURM_ARRAY_TASK_ID
dir=${CELL_DIR[$K]}
mkdir -p "$dir"
rm -f "$dir/slurm_state.txt"
log="$dir/slurm-${SLURM_ARRAY_JOB_ID}_${K}.out"
# The trap is in place before the task's log exists and before crossover
# starts, so a cancellation at any moment of the task leaves its state.
child=
on_signal() {
    echo "$1" > "$dir/slurm_state.txt"
    if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; wait "$child"; fi
    exit 143
}
trap 'on_signal CANCELLED' TERM INT
exec >"$log" 2>&1
echo "crossover array task ${SLURM_ARRAY_JOB_ID}_$K on $(hostname) at $(date -u +%FT%TZ)"
"#,
    );
    let args: Vec<String> = sweep_args.iter().map(|a| quote(a)).collect();
    s.push_str(&format!(
        "{} sweep {} --cell \"$K\" --no-progress &\nchild=$!\nwait \"$child\"\nrc=$?\necho \"crossover exited with $rc\"\nexit $rc\n",
        quote(&exe.to_string_lossy()),
        args.join(" ")
    ));
    s
}

/// `1,4,7%2` for `--array`.
pub fn array_spec(cells: &[usize], max_concurrent: Option<usize>) -> String {
    let list = cells
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",");
    match max_concurrent {
        Some(n) if n > 0 => format!("{list}%{n}"),
        _ => list,
    }
}

/// Submit one array for `cells` and return its job id (`sbatch --parsable`).
pub fn submit(script: &Path) -> Result<String> {
    let text = run_tool(
        Command::new("sbatch").arg("--parsable").arg(script),
        "sbatch",
    )?;
    let id = text
        .trim()
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(Error::Invalid(format!(
            "slurm: sbatch printed no job id: {text:?}"
        )));
    }
    Ok(id)
}

/// Progress counts over the cells a run waits for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub finished: usize,
    pub running: usize,
    pub pending: usize,
    pub failed: usize,
}

/// The last `n` lines of a file.
fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Record a task that left the queue without a finished result: a `failed`
/// result with Slurm's state and the tail of its log (also in `error.txt`).
/// A cell whose own run recorded a failure keeps that result.
pub fn record_lost_task(
    spec: &SweepSpec,
    out: &Path,
    cell: &Cell,
    job_id: &str,
    state: &str,
) -> Result<()> {
    let dir = cell_dir(out, cell);
    let hash = cell_hash(spec, cell)?;
    if read_result(&dir).is_some_and(|r| r.config_hash == hash) {
        return Ok(());
    }
    let log = dir.join(format!("slurm-{job_id}_{}.out", cell.index));
    let error = format!(
        "cell {}: Slurm task {job_id}_{} ended {state} without a result; last lines of {}:\n{}",
        cell.id(),
        cell.index,
        log.display(),
        tail(&log, 20)
    );
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let r = CellResult {
        pipeline: cell.pipeline_name.clone(),
        config_hash: hash,
        target_hours: cell.hours,
        seed: cell.seed,
        threads: spec.threads,
        version: env!("CARGO_PKG_VERSION").into(),
        status: "failed".into(),
        error: error.clone(),
        ..Default::default()
    };
    let p = dir.join("result.json");
    std::fs::write(&p, serde_json::to_string_pretty(&r).expect("serialisable"))
        .map_err(|e| Error::io(&p, e))?;
    let e = dir.join("error.txt");
    std::fs::write(&e, format!("{error}\n")).map_err(|x| Error::io(&e, x))
}

/// What a Slurm run of the sweep does, step by step; the CLI drives it and
/// draws the progress bar from [`Counts`].
pub struct SlurmRun<'a> {
    pub spec: &'a SweepSpec,
    pub out: &'a Path,
    pub cells: &'a [Cell],
    pub jobs: JobsFile,
}

impl<'a> SlurmRun<'a> {
    pub fn new(spec: &'a SweepSpec, out: &'a Path, cells: &'a [Cell]) -> Result<Self> {
        Ok(SlurmRun {
            spec,
            out,
            cells,
            jobs: JobsFile::load(out)?,
        })
    }

    fn job_ids(&self) -> Vec<String> {
        self.jobs.jobs.iter().map(|j| j.job_id.clone()).collect()
    }

    /// Cells of earlier submissions still in the queue (re-attached, never resubmitted).
    pub fn queued(&self) -> Result<BTreeSet<usize>> {
        Ok(queued_tasks(&self.job_ids())?
            .keys()
            .map(|(_, t)| *t)
            .collect())
    }

    /// Submit the cells that are neither finished nor queued; returns the
    /// (job id, cells) submitted. `is_neural` says which cells may take `--neural-gres`.
    pub fn submit_unfinished(
        &mut self,
        opts: &SlurmOptions,
        exe: &Path,
        cwd: &Path,
        sweep_args: &[String],
        is_neural: &dyn Fn(&Cell) -> bool,
    ) -> Result<Vec<(String, Vec<usize>)>> {
        let queued = self.queued()?;
        let todo: Vec<&Cell> = self
            .cells
            .iter()
            .filter(|c| !queued.contains(&c.index) && !cell_finished(self.spec, self.out, c))
            .collect();
        // A failure recorded by an earlier try is not kept: this task's own
        // result (or its Slurm state) replaces it.
        for c in &todo {
            let dir = cell_dir(self.out, c);
            if read_result(&dir).is_some_and(|r| !r.ok()) {
                let _ = std::fs::remove_file(dir.join("result.json"));
                let _ = std::fs::remove_file(dir.join("error.txt"));
            }
        }
        let conf = match &opts.config {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
                Some(SlurmConf::parse(&text, p)?)
            }
            None => None,
        };
        // With a GPU request for neural cells, they go in their own array.
        let groups: Vec<(bool, Vec<&Cell>)> = if opts.neural_gres.is_some() {
            let (n, c): (Vec<&Cell>, Vec<&Cell>) = todo.iter().partition(|c| is_neural(c));
            vec![(false, c), (true, n)]
        } else {
            vec![(false, todo)]
        };
        let name = self
            .out
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "sweep".into());
        let mut submitted = Vec::new();
        let dir = slurm_dir(self.out);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        for (gpu, group) in groups {
            if group.is_empty() {
                continue;
            }
            let indices: Vec<usize> = group.iter().map(|c| c.index).collect();
            let mut args = vec![
                format!(
                    "--job-name=crossover-{name}{}",
                    if gpu { "-gpu" } else { "" }
                ),
                format!("--array={}", array_spec(&indices, opts.max_concurrent)),
                // Until the task sends its output into the cell folder.
                format!("--output={}/task-%A_%a.out", dir.display()),
            ];
            let threads = opts.cpus_per_task.unwrap_or(self.spec.threads);
            match &conf {
                Some(c) => {
                    let mut values = BTreeMap::new();
                    values.insert("num_threads".to_string(), threads.to_string());
                    values.insert("gpu".to_string(), if gpu { "1" } else { "0" }.to_string());
                    if let Some(m) = &opts.mem {
                        values.insert("mem".into(), m.clone());
                    }
                    if let Some(t) = &opts.time {
                        values.insert("time".into(), t.clone());
                    }
                    args.extend(c.args(&values));
                }
                None => {
                    args.push(format!("--cpus-per-task={threads}"));
                    if let Some(m) = &opts.mem {
                        args.push(format!("--mem={m}"));
                    }
                    if let Some(t) = &opts.time {
                        args.push(format!("--time={t}"));
                    }
                }
            }
            if let Some(p) = &opts.partition {
                args.push(format!("--partition={p}"));
            }
            if gpu {
                if let Some(g) = &opts.neural_gres {
                    args.push(format!("--gres={g}"));
                }
            }
            args.extend(opts.extra.iter().cloned());
            let cells: Vec<Cell> = group.iter().map(|c| (*c).clone()).collect();
            let script = array_script(exe, cwd, sweep_args, self.out, &cells, &args);
            let path = dir.join(format!(
                "array-{}{}.sh",
                self.jobs.jobs.len() + 1,
                if gpu { "-gpu" } else { "" }
            ));
            std::fs::write(&path, script).map_err(|e| Error::io(&path, e))?;
            let id = submit(&path)?;
            self.jobs.jobs.push(SubmittedJob {
                job_id: id.clone(),
                cells: indices.clone(),
                neural: gpu,
            });
            // Saved at once: an interrupted waiting process re-attaches to it.
            self.jobs.save(self.out)?;
            submitted.push((id, indices));
        }
        Ok(submitted)
    }

    /// One look at the queue: counts over every cell of the plan, and
    /// whether any task of ours is still queued. Tasks that left the queue
    /// without a result are recorded as failed ([`record_lost_task`]).
    pub fn poll(&self) -> Result<(Counts, bool)> {
        let queue = queued_tasks(&self.job_ids())?;
        let queued: BTreeMap<usize, &String> = queue.iter().map(|((_, t), s)| (*t, s)).collect();
        // The newest submission of each cell is the one that counts.
        let mut last_job: BTreeMap<usize, &str> = BTreeMap::new();
        for j in &self.jobs.jobs {
            for &c in &j.cells {
                last_job.insert(c, &j.job_id);
            }
        }
        let mut accounted: BTreeMap<&str, BTreeMap<usize, (String, String)>> = BTreeMap::new();
        let mut counts = Counts::default();
        for c in self.cells {
            if let Some(state) = queued.get(&c.index) {
                if state.as_str() == "PENDING" {
                    counts.pending += 1;
                } else {
                    counts.running += 1;
                }
                continue;
            }
            if cell_finished(self.spec, self.out, c) {
                counts.finished += 1;
                continue;
            }
            if let Some(job) = last_job.get(&c.index) {
                let dir = cell_dir(self.out, c);
                let state = std::fs::read_to_string(dir.join("slurm_state.txt"))
                    .ok()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .or_else(|| {
                        accounted
                            .entry(job)
                            .or_insert_with(|| accounted_states(job))
                            .get(&c.index)
                            .map(|s| s.0.clone())
                    })
                    .unwrap_or_else(|| "UNKNOWN (left the queue)".into());
                record_lost_task(self.spec, self.out, c, job, &state)?;
                counts.failed += 1;
            }
        }
        Ok((counts, !queue.is_empty()))
    }
}

/// The command every array task runs: the executable, the folder it runs
/// in, and its `crossover sweep` arguments (the task adds `--cell K`).
#[derive(Debug, Clone)]
pub struct TaskCommand {
    pub exe: PathBuf,
    pub cwd: PathBuf,
    pub args: Vec<String>,
}

/// How a sweep run on Slurm ended.
#[derive(Debug, Clone)]
pub struct SlurmOutcome {
    pub report: PathBuf,
    /// Cells whose task failed or left the queue without a result.
    pub failed: usize,
}

/// `--executor slurm`: submit the unfinished cells of `cells` as array tasks
/// (or re-attach to those already queued), follow them with `squeue` until
/// none is left, then render the report as a local run does. The cells of
/// kinds that declare themselves networks get `--neural-gres`.
pub fn drive(
    spec: &SweepSpec,
    out: &Path,
    cells: &[Cell],
    opts: &SlurmOptions,
    task: &TaskCommand,
    show_progress: bool,
    started: std::time::Instant,
) -> Result<SlurmOutcome> {
    let mut run = SlurmRun::new(spec, out, cells)?;
    let queued = run.queued()?;
    if !queued.is_empty() {
        eprintln!(
            "crossover: re-attaching to {} task(s) still queued (job ids in {})",
            queued.len(),
            slurm_dir(out).join("jobs.json").display()
        );
    }
    // Which cells may ask for a GPU: each pipeline read once.
    let overlay = spec.overlay()?;
    let mut networks = BTreeMap::new();
    for p in &spec.pipelines {
        networks.insert(
            p.clone(),
            crate::registry::info(p, &overlay)?.traits.network,
        );
    }
    let is_neural = |c: &Cell| networks.get(&c.pipeline).copied().unwrap_or(false);
    let submitted = run.submit_unfinished(opts, &task.exe, &task.cwd, &task.args, &is_neural)?;
    for (id, idx) in &submitted {
        eprintln!(
            "crossover: submitted Slurm array job {id} with {} task(s)",
            idx.len()
        );
    }
    let bar = if show_progress {
        indicatif::ProgressBar::new(cells.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "slurm [{elapsed_precise}] [{bar:30}] {pos}/{len} {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    let mut last = None;
    loop {
        let (c, active) = run.poll()?;
        bar.set_position(c.finished as u64);
        bar.set_message(format!(
            "finished {}, running {}, pending {}, failed {}",
            c.finished, c.running, c.pending, c.failed
        ));
        if !show_progress && last != Some(c) {
            eprintln!(
                "crossover: slurm: finished {}, running {}, pending {}, failed {} of {}",
                c.finished,
                c.running,
                c.pending,
                c.failed,
                cells.len()
            );
        }
        last = Some(c);
        if !active {
            break;
        }
        std::thread::sleep(std::time::Duration::from_secs_f64(opts.poll_seconds));
    }
    bar.finish_and_clear();
    let ran = submitted.iter().map(|s| s.1.len()).sum::<usize>() + queued.len();
    let report = super::report::render(
        out,
        Some(super::report::RunTiming {
            seconds: started.elapsed().as_secs_f64(),
            ran,
            reused: cells.len() - ran,
        }),
    )?;
    Ok(SlurmOutcome {
        report,
        failed: last.unwrap_or_default().failed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kaldi_style_conf_gives_sbatch_arguments() {
        let text = "# a comment\ncommand sbatch --export=PATH --ntasks-per-node=1\noption time=* --time $0\noption mem=* --mem-per-cpu $0\noption mem=0\noption num_threads=* --cpus-per-task $0\noption gpu=0\noption gpu=* --gres=gpu:$0 -p gpu\ndefault gpu=0\n";
        let c = SlurmConf::parse(text, Path::new("slurm.conf")).unwrap();
        let mut v = BTreeMap::new();
        v.insert("num_threads".to_string(), "2".to_string());
        assert_eq!(
            c.args(&v),
            [
                "--export=PATH",
                "--ntasks-per-node=1",
                "--cpus-per-task",
                "2"
            ]
        );
        v.insert("gpu".to_string(), "1".to_string());
        v.insert("mem".to_string(), "4G".to_string());
        let a = c.args(&v).join(" ");
        assert!(
            a.contains("--gres=gpu:1 -p gpu") && a.contains("--mem-per-cpu 4G"),
            "{a}"
        );
        let e = SlurmConf::parse("command qsub -V\n", Path::new("x.conf"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.conf") && e.contains("line 1"), "{e}");
    }

    #[test]
    fn array_spec_and_quoting() {
        assert_eq!(array_spec(&[1, 4, 7], Some(2)), "1,4,7%2");
        assert_eq!(array_spec(&[0], None), "0");
        assert_eq!(quote("pipelines/x.toml"), "pipelines/x.toml");
        for word in ["a b", "it's", "0.1,0.3", "$HOME", "x\ty", ""] {
            let q = quote(word);
            assert_ne!(q, word);
            assert_eq!(shlex::split(&q), Some(vec![word.to_string()]), "{q}");
        }
    }
}
