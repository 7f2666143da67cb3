//! `crossover sweep --executor slurm` against a real Slurm: munged,
//! slurmctld and slurmd on localhost (scripts/slurm_local.sh installs
//! slurm-wlm and munge if missing and writes a one-node slurm.conf in a temp
//! folder), tiny cells on real audio (FSDD). Every daemon the test started
//! is stopped by pid at the end.
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

mod common;
use common::{import_fsdd, stable_csv, text_ok, BIN};

/// A running single-node Slurm; stopped when dropped.
struct LocalSlurm {
    dir: tempfile::TempDir,
    conf: PathBuf,
}

impl LocalSlurm {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm_local.sh");
        let out = Command::new("bash")
            .arg(&script)
            .arg("start")
            .arg(dir.path())
            .output()
            .expect("run scripts/slurm_local.sh");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let conf = stdout
            .lines()
            .find_map(|l| l.strip_prefix("SLURM_CONF="))
            .map(PathBuf::from);
        let slurm = LocalSlurm {
            dir,
            conf: conf.clone().unwrap_or_default(),
        };
        assert!(
            out.status.success() && conf.is_some(),
            "could not start a local Slurm with {} (it installs slurm-wlm and munge with apt-get when missing):\n{stdout}\n{stderr}",
            script.display()
        );
        // The sinfo line, for the record.
        eprintln!("{stderr}");
        slurm
    }

    fn command(&self, prog: &str) -> Command {
        let mut c = Command::new(prog);
        c.env("SLURM_CONF", &self.conf);
        c
    }
}

impl Drop for LocalSlurm {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm_local.sh");
        let _ = Command::new("bash")
            .arg(script)
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

fn pipelines(dir: &Path) -> String {
    let classical = dir.join("tiny.toml");
    std::fs::write(&classical, "kind = \"classical\"\n[mono]\niters = 8\ntotal_gaussians = 150\nmax_iter_inc = 6\nrealign_iters = [1, 2, 4, 6]\n").unwrap();
    // 300 updates: a few seconds a cell, so that the cancel below lands
    // while the victim cell is still running.
    let chars = dir.join("tinychar.toml");
    std::fs::write(&chars, "kind = \"char-ctc\"\npresets = []\n[model]\nhidden = 32\nlayers = 1\nconv_channels = 8\n[train]\nmax_epochs = 3\nmin_updates_per_epoch = 100\nbatch_seconds = 10.0\nwarmup_steps = 2\n").unwrap();
    format!("{},{}", classical.display(), chars.display())
}

fn sweep_args(corpus: &Path, pipelines: &str, out: &Path) -> Vec<String> {
    [
        "sweep",
        "--corpus",
        corpus.to_str().unwrap(),
        "--pipelines",
        pipelines,
        "--hours",
        "0.01,0.02",
        "--seeds",
        "1",
        "--threads",
        "2",
        "--bootstrap",
        "50",
        "--no-progress",
        "--out",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn slurm_sweeps_match_local_ones_and_a_cancelled_task_is_the_only_cell_redone() {
    let slurm = LocalSlurm::start();
    let tmp = tempfile::tempdir().unwrap();
    let corpus = import_fsdd(tmp.path());
    let pipes = pipelines(tmp.path());

    // The same cells locally and as array tasks: identical results.
    let local = tmp.path().join("local");
    let mut c = Command::new(BIN);
    c.args(sweep_args(&corpus, &pipes, &local));
    text_ok(&mut c);
    let on_slurm = tmp.path().join("slurm");
    let mut c = slurm.command(BIN);
    c.args(sweep_args(&corpus, &pipes, &on_slurm)).args([
        "--executor",
        "slurm",
        "--poll-seconds",
        "1",
    ]);
    let log = text_ok(&mut c);
    assert!(log.contains("submitted Slurm array job"), "{log}");
    assert_eq!(
        stable_csv(&local.join("results.csv")),
        stable_csv(&on_slurm.join("results.csv")),
        "--executor slurm must give the local executor's results\n{log}"
    );
    let mut r = csv::Reader::from_path(on_slurm.join("results.csv")).unwrap();
    let h = r.headers().unwrap().clone();
    let node = h.iter().position(|x| x == "node").unwrap();
    for row in r.records() {
        assert_eq!(
            &row.unwrap()[node],
            "localhost",
            "Slurm's node name on record"
        );
    }
    let cell_logs: Vec<PathBuf> = std::fs::read_dir(on_slurm.join("cells/tinychar_h0.01_s1"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("slurm-")
        })
        .collect();
    assert_eq!(cell_logs.len(), 1, "the task's output in its cell folder");

    // Cancel one running task: its cell alone is failed, and a rerun redoes only it.
    let out = tmp.path().join("cancel");
    let mut c = slurm.command(BIN);
    c.args(sweep_args(&corpus, &pipes, &out))
        .args([
            "--executor",
            "slurm",
            "--poll-seconds",
            "1",
            "--max-concurrent",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let waiting = c.spawn().unwrap();
    // Cells run in plan order: 0 tiny 0.01, 1 tinychar 0.01, 2 tiny 0.02, 3 tinychar 0.02.
    let victim = 1;
    let victim_dir = out.join("cells/tinychar_h0.01_s1");
    let jobs = out.join("slurm/jobs.json");
    let started = Instant::now();
    let job_id = loop {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "task {victim} never ran"
        );
        if let Ok(text) = std::fs::read_to_string(&jobs) {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            let id = v["jobs"][0]["job_id"].as_str().unwrap().to_string();
            let q = slurm
                .command("squeue")
                .args(["-h", "-r", "-o", "%i %T", "-j", &id])
                .output()
                .unwrap();
            let q = String::from_utf8_lossy(&q.stdout).into_owned();
            // The task's log exists once its signal trap is in place (the
            // array script sets the trap first): cancel at once, while
            // crossover is still loading or training the cell. Waiting any
            // longer races the cell, which takes a few seconds in all.
            let log = victim_dir.join(format!("slurm-{id}_{victim}.out"));
            if q.lines().any(|l| l == format!("{id}_{victim} RUNNING")) && log.exists() {
                break id;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let s = slurm
        .command("scancel")
        .arg(format!("{job_id}_{victim}"))
        .status()
        .unwrap();
    assert!(s.success());
    let first = waiting.wait_with_output().unwrap();
    let first_log = String::from_utf8_lossy(&first.stderr).into_owned();
    assert!(first.status.success(), "{first_log}");
    let err = std::fs::read_to_string(victim_dir.join("error.txt")).unwrap_or_else(|_| {
        let task_log =
            std::fs::read_to_string(victim_dir.join(format!("slurm-{job_id}_{victim}.out")))
                .unwrap_or_default();
        panic!(
            "no error.txt in the cancelled cell {} (did the task finish before scancel?)\n\
             task log:\n{task_log}\nsweep log:\n{first_log}",
            victim_dir.display()
        )
    });
    assert!(err.contains("CANCELLED"), "{err}");
    let mtime = |p: &Path| -> SystemTime { std::fs::metadata(p).unwrap().modified().unwrap() };
    let others: Vec<(PathBuf, SystemTime)> =
        ["tiny_h0.01_s1", "tiny_h0.02_s1", "tinychar_h0.02_s1"]
            .iter()
            .map(|c| {
                let p = out.join("cells").join(c).join("result.json");
                let t = mtime(&p);
                (p, t)
            })
            .collect();
    let mut c = slurm.command(BIN);
    c.args(sweep_args(&corpus, &pipes, &out))
        .args(["--executor", "slurm", "--poll-seconds", "1"]);
    let rerun = text_ok(&mut c);
    assert!(
        rerun.contains("with 1 task(s)"),
        "only the cancelled cell is submitted:\n{rerun}"
    );
    for (p, t) in &others {
        assert_eq!(mtime(p), *t, "{} was redone", p.display());
    }
    assert_eq!(
        stable_csv(&out.join("results.csv")),
        stable_csv(&local.join("results.csv"))
    );
    drop(slurm);
}
