//! The sweep through the real binary with tiny cells on real audio (FSDD):
//! interrupt-and-rerun resumes without redoing finished cells, a failing cell
//! is recorded and the others go on, and the same sweep twice with the same
//! seeds gives the same numbers.
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{import_fsdd, read_rows, results, run_ok, stable, sweep_ok, BIN};

/// A tiny classical system (few iterations and Gaussians) so each cell takes seconds.
fn tiny_pipeline(dir: &Path) -> PathBuf {
    let p = dir.join("tiny.toml");
    std::fs::write(&p, "kind = \"classical\"\n[mono]\niters = 8\ntotal_gaussians = 150\nmax_iter_inc = 6\nrealign_iters = [1, 2, 4, 6]\n").unwrap();
    p
}

#[test]
fn sweep_resumes_records_failures_and_is_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = import_fsdd(tmp.path());
    let tiny = tiny_pipeline(tmp.path());
    let out_a = tmp.path().join("a");
    let args = |out: &Path, pipelines: &str| -> Vec<String> {
        [
            "sweep",
            "--corpus",
            corpus.to_str().unwrap(),
            "--pipelines",
            pipelines,
            "--hours",
            "0.01,0.02",
            "--seeds",
            "3",
            "--threads",
            "2",
            "--bootstrap",
            "100",
            "--no-progress",
            "--out",
            out.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let tiny_s = tiny.to_str().unwrap().to_string();

    // --plan lists the cells without running anything.
    let plan = run_ok(
        &args(&out_a, &tiny_s)
            .iter()
            .map(String::as_str)
            .chain(["--plan"])
            .collect::<Vec<_>>(),
    );
    assert_eq!(plan.lines().count(), 2, "plan:\n{plan}");
    assert!(
        plan.contains("tiny_h0.01_s3") && plan.contains("--cell 1"),
        "plan:\n{plan}"
    );
    assert!(!out_a.join("cells").exists(), "--plan must not run cells");

    // Start the sweep and kill it as soon as the first cell has finished and
    // results.csv has been rewritten with it (the sweep writes the cell's
    // result.json first, then results.csv: killing between the two is a
    // legitimate interruption that the rerun below repairs, but it would not
    // show that results.csv is kept current after each cell).
    let first = out_a.join("cells/tiny_h0.01_s3/result.json");
    let second = out_a.join("cells/tiny_h0.02_s3/result.json");
    let csv_a = out_a.join("results.csv");
    let mut child = Command::new(BIN)
        .args(args(&out_a, &tiny_s))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !(first.exists() && csv_a.exists()) {
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "first cell (and results.csv) did not appear in 300 s"
        );
        if let Some(st) = child.try_wait().unwrap() {
            panic!("sweep exited early with {st}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let first_json = std::fs::read_to_string(&first).unwrap();
    let first_mtime = std::fs::metadata(&first).unwrap().modified().unwrap();
    // The interrupted run already wrote results.csv with the finished cell,
    // before the last cell was done.
    let second_was_done = second.exists();
    let partial = read_rows(&csv_a);
    assert!(
        !partial.is_empty(),
        "results.csv must hold the finished cell"
    );
    if !second_was_done {
        assert_eq!(
            partial.len(),
            1,
            "results.csv while the second cell ran must hold only the first"
        );
    }

    // Rerun: the finished cell is reused, the rest is done.
    let log = run_ok(
        &args(&out_a, &tiny_s)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(log.contains("report:"), "{log}");
    assert_eq!(
        std::fs::read_to_string(&first).unwrap(),
        first_json,
        "finished cell was redone"
    );
    assert_eq!(
        std::fs::metadata(&first).unwrap().modified().unwrap(),
        first_mtime,
        "finished cell was rewritten"
    );
    assert!(
        log.contains("cached"),
        "rerun should report the cached cell:\n{log}"
    );
    assert!(
        second.exists(),
        "the unfinished cell must run on rerun (was done before kill: {second_was_done})"
    );
    let rows_a = read_rows(&out_a.join("results.csv"));
    assert_eq!(rows_a.len(), 2);
    for f in [
        "report.md",
        "wer.png",
        "wer.svg",
        "cer_per.png",
        "cost.png",
        "errors.png",
        "crossover.json",
    ] {
        assert!(out_a.join(f).exists(), "missing {f}");
    }

    // A second sweep, same seeds, plus a broken pipeline: the broken cells are
    // recorded with their error and the good ones give identical numbers.
    let broken = tmp.path().join("broken.toml");
    std::fs::write(&broken, "kind = \"classical\"\nno_such_option = 1\n").unwrap();
    let out_b = tmp.path().join("b");
    let both = format!("{},{}", tiny_s, broken.display());
    let log_b = run_ok(
        &args(&out_b, &both)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(log_b.contains("failed"), "{log_b}");
    // The corpus's feature cache outlives a sweep: this one extracts nothing.
    let counts = log_b
        .lines()
        .find(|l| l.contains("features:") && l.contains("computed"))
        .unwrap_or_else(|| panic!("no feature count line:\n{log_b}"));
    assert!(
        counts.contains("features: 0 computed") && !counts.contains(" 0 read"),
        "{counts}"
    );
    let header = csv::Reader::from_path(out_b.join("results.csv"))
        .unwrap()
        .headers()
        .unwrap()
        .clone();
    let rows_b = read_rows(&out_b.join("results.csv"));
    let status = header.iter().position(|h| h == "status").unwrap();
    let error = header.iter().position(|h| h == "error").unwrap();
    let pipeline = header.iter().position(|h| h == "pipeline").unwrap();
    let failed: Vec<_> = rows_b.iter().filter(|r| &r[status] == "failed").collect();
    assert_eq!(failed.len(), 2, "both broken cells recorded");
    assert!(
        failed
            .iter()
            .all(|r| &r[pipeline] == "broken" && r[error].contains("broken.toml")),
        "{failed:?}"
    );
    assert!(out_b.join("cells/broken_h0.01_s3/error.txt").exists());
    let good_b: Vec<_> = rows_b
        .iter()
        .filter(|r| &r[status] == "ok")
        .cloned()
        .collect();
    let header_a = csv::Reader::from_path(out_a.join("results.csv"))
        .unwrap()
        .headers()
        .unwrap()
        .clone();
    assert_eq!(
        stable(&rows_a, &header_a),
        stable(&good_b, &header),
        "same seeds must give the same results"
    );
    let report = std::fs::read_to_string(out_b.join("report.md")).unwrap();
    assert!(report.contains("Failed cells"), "{report}");
}

/// Neural cells are reproducible too when training is bounded by epochs
/// rather than by a time budget (a budget's step count depends on the
/// machine's speed; docs/NEURAL.md): two sweeps, same seed, same numbers.
#[test]
fn neural_cells_repeat_exactly_with_an_epoch_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = import_fsdd(tmp.path());
    let p = tmp.path().join("tinyctc.toml");
    std::fs::write(
        &p,
        "kind = \"char-ctc\"\npresets = []\n[model]\nhidden = 32\nlayers = 1\nconv_channels = 8\n[train]\nmax_epochs = 3\nbatch_seconds = 10.0\nwarmup_steps = 2\n",
    )
    .unwrap();
    let sweep = |out: &Path| sweep_ok(&corpus, p.to_str().unwrap(), "0.01", "5", out);
    let mut tables = Vec::new();
    for name in ["a", "b"] {
        let out = tmp.path().join(name);
        sweep(&out);
        let (header, rows) = results(&out);
        assert_eq!(rows.len(), 1);
        let status = header.iter().position(|h| h == "status").unwrap();
        assert_eq!(&rows[0][status], "ok", "{:?}", rows[0]);
        tables.push(stable(&rows, &header));
    }
    assert_eq!(
        tables[0], tables[1],
        "same seed must give the same neural results"
    );

    // `crossover train --hours H --seed S` builds the cell's context through
    // the same library function: the same utterances in the same order (the
    // job fingerprint hashes their ids in order), the same training curve and
    // the same transcripts.
    let cell_model = tmp.path().join("a/cells/tinyctc_h0.01_s5/model");
    let own = tmp.path().join("own");
    run_ok(&[
        "train",
        "--pipeline",
        p.to_str().unwrap(),
        "--corpus",
        corpus.to_str().unwrap(),
        "--hours",
        "0.01",
        "--seed",
        "5",
        "--threads",
        "2",
        "--quiet",
        "--out",
        own.to_str().unwrap(),
    ]);
    let state = |dir: &Path| -> serde_json::Value {
        let s = std::fs::read_to_string(dir.join("checkpoints/state.json")).unwrap();
        serde_json::from_str(&s).unwrap()
    };
    let (a, b) = (state(&cell_model), state(&own));
    assert_eq!(
        a["fingerprint"], b["fingerprint"],
        "same job, same utterances"
    );
    let losses = |v: &serde_json::Value| -> Vec<f64> {
        v["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["train_loss"].as_f64().unwrap())
            .collect()
    };
    assert_eq!(losses(&a), losses(&b));
    let hyp_train = tmp.path().join("own_test.txt");
    run_ok(&[
        "decode",
        "--model",
        own.to_str().unwrap(),
        "--corpus",
        corpus.to_str().unwrap(),
        "--out",
        hyp_train.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(&hyp_train).unwrap(),
        std::fs::read_to_string(tmp.path().join("a/cells/tinyctc_h0.01_s5/hyp_test.txt")).unwrap(),
        "train reproduces the sweep cell's model"
    );

    // A changed pipeline redoes the cell in place: the old model folder and
    // its checkpoints belong to another job and are cleared, not resumed.
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, text.replace("max_epochs = 3", "max_epochs = 2")).unwrap();
    let out = tmp.path().join("a");
    let log = sweep(&out);
    assert!(!log.contains("cached"), "{log}");
    let rows = read_rows(&out.join("results.csv"));
    assert_eq!(rows.len(), 1);
    assert!(rows[0].iter().any(|f| f == "ok"), "{:?}\n{log}", rows[0]);
    let state =
        std::fs::read_to_string(out.join("cells/tinyctc_h0.01_s5/model/checkpoints/state.json"))
            .unwrap();
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    assert_eq!(state["epochs_done"], 2, "{state}");
}

/// Same command, same answer: a tiny sweep over all three kinds (classical,
/// phone-ctc, char-ctc), 2 sizes and 2 seeds, run twice, the second time
/// with a busy process competing for the cores, gives the same results.csv
/// apart from the timing columns. Training is bounded by epochs, so speed
/// cannot change what a cell learns.
#[test]
fn tiny_sweep_of_every_kind_repeats_exactly_under_load() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = import_fsdd(tmp.path());
    let classical = tiny_pipeline(tmp.path());
    let net = "presets = []\n[model]\nhidden = 32\nlayers = 1\nconv_channels = 8\n[train]\nmax_epochs = 3\nbatch_seconds = 10.0\nwarmup_steps = 2\n";
    let chars = tmp.path().join("tinychar.toml");
    std::fs::write(&chars, format!("kind = \"char-ctc\"\n{net}")).unwrap();
    let phones = tmp.path().join("tinyphone.toml");
    std::fs::write(
        &phones,
        format!("kind = \"phone-ctc\"\n{net}[word_tune]\nlm_weights = [1.0, 2.0]\n"),
    )
    .unwrap();
    let pipelines = [&classical, &phones, &chars]
        .iter()
        .map(|p| p.to_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join(",");
    let sweep = |out: &Path| sweep_ok(&corpus, &pipelines, "0.01,0.02", "1,2", out);
    let mut tables = Vec::new();
    for (name, busy) in [("quiet", false), ("busy", true)] {
        // A competing process spinning on one core for the whole second run.
        let mut hog = busy.then(|| {
            Command::new("sh")
                .args(["-c", "while :; do :; done"])
                .stdout(Stdio::null())
                .spawn()
                .expect("start a busy process")
        });
        let out = tmp.path().join(name);
        let log = sweep(&out);
        if let Some(h) = hog.as_mut() {
            h.kill().unwrap();
            h.wait().unwrap();
        }
        let path = out.join("results.csv");
        let header = csv::Reader::from_path(&path)
            .unwrap()
            .headers()
            .unwrap()
            .clone();
        let rows = read_rows(&path);
        assert_eq!(rows.len(), 12, "3 pipelines x 2 sizes x 2 seeds\n{log}");
        let col = |n: &str| header.iter().position(|h| h == n).unwrap();
        for r in &rows {
            assert_eq!(&r[col("status")], "ok", "{r:?}");
            let neural = r[col("pipeline")].starts_with("tiny") && &r[col("pipeline")] != "tiny";
            if neural {
                // Convergence on record: 3-epoch cap (or converged earlier).
                assert!(
                    ["epoch-cap", "converged"].contains(&&r[col("stop_reason")]),
                    "{r:?}"
                );
                assert!(r[col("epochs")].parse::<usize>().unwrap() <= 3);
                assert!(r[col("updates")].parse::<usize>().unwrap() > 0);
                assert!(r[col("best_dev_error")].parse::<f64>().is_ok());
                let cell = out.join("cells").join(format!(
                    "{}_h{}_s{}",
                    &r[col("pipeline")],
                    &r[col("target_hours")],
                    &r[col("seed")]
                ));
                for f in ["curve.tsv", "training_curve.png", "training_curve.svg"] {
                    assert!(cell.join(f).is_file(), "{} lacks {f}", cell.display());
                }
            } else {
                assert_eq!(&r[col("stop_reason")], "", "GMM cells have no epochs");
            }
        }
        let report = std::fs::read_to_string(out.join("report.md")).unwrap();
        assert!(report.contains("## Training of the networks"), "{report}");
        assert!(report.contains("2 seed(s) per cell"), "{report}");
        tables.push(stable(&rows, &header));
    }
    assert_eq!(
        tables[0], tables[1],
        "the same sweep must give the same results.csv, with or without a competing process"
    );
}

/// The end-to-end network + external LM is a decoding variant: in a sweep
/// its cell reuses the network its base pipeline's cell trained (one
/// network in the sweep's store, the same checkpoints in both cells, the
/// variant's train_seconds counting that training), estimates the classical
/// cell's word LM (the very same `lm.arpa`), chooses its scorer on dev and
/// says so in `dev_choices`; and the speed-perturbed network trains
/// deterministically through the sweep.
#[test]
fn the_external_lm_variant_reuses_its_base_network_and_the_classical_lm() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = import_fsdd(tmp.path());
    let classical = tiny_pipeline(tmp.path());
    let chars = tmp.path().join("tinychar.toml");
    std::fs::write(
        &chars,
        "kind = \"char-ctc\"\npresets = []\n[model]\nhidden = 32\nlayers = 1\nconv_channels = 8\n[train]\nmax_epochs = 3\nbatch_seconds = 10.0\nwarmup_steps = 2\nspeed_perturb = [0.9, 1.0, 1.1]\nspeed_perturb_mode = \"random\"\n",
    )
    .unwrap();
    let lm = tmp.path().join("tinychar-lm.toml");
    std::fs::write(
        &lm,
        "base = \"tinychar.toml\"\n[decode]\nmethod = \"beam\"\nbeam = 4\n[decode.external_lm]\nweights = [0.5, 1.0]\nbonuses = [1.0]\nmax_dev_utterances = 40\n",
    )
    .unwrap();
    let pipelines = format!(
        "{},{},{}",
        classical.display(),
        chars.display(),
        lm.display()
    );
    let mut tables = Vec::new();
    for name in ["a", "b"] {
        let out = tmp.path().join(name);
        sweep_ok(&corpus, &pipelines, "0.01", "5", &out);
        let (header, rows) = results(&out);
        let col = |n: &str| header.iter().position(|h| h == n).unwrap();
        assert_eq!(rows.len(), 3);
        for r in &rows {
            assert_eq!(&r[col("status")], "ok", "{r:?}");
        }
        let lm_row = rows
            .iter()
            .find(|r| &r[col("pipeline")] == "tinychar-lm")
            .unwrap();
        let char_row = rows
            .iter()
            .find(|r| &r[col("pipeline")] == "tinychar")
            .unwrap();
        let choices = &lm_row[col("dev_choices")];
        assert!(
            choices.contains("external_lm=") && choices.contains("lm_weight="),
            "{choices}"
        );
        assert_eq!(&char_row[col("dev_choices")], "");
        tables.push(stable(&rows, &header));

        // One network in the store, and both cells hold its checkpoints.
        let stored: Vec<_> = std::fs::read_dir(out.join("networks"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        assert_eq!(stored.len(), 1, "{stored:?}");
        let state = |cell: &str| {
            std::fs::read_to_string(
                out.join("cells")
                    .join(cell)
                    .join("model/checkpoints/state.json"),
            )
            .unwrap()
        };
        assert_eq!(state("tinychar_h0.01_s5"), state("tinychar-lm_h0.01_s5"));
        // Its cost includes the training of the network it reused.
        let st: serde_json::Value = serde_json::from_str(&state("tinychar_h0.01_s5")).unwrap();
        let loop_seconds = st["train_seconds"].as_f64().unwrap();
        let lm_seconds: f64 = lm_row[col("train_seconds")].parse().unwrap();
        assert!(lm_seconds >= loop_seconds, "{lm_seconds} < {loop_seconds}");
        // The kept weights: the variant's checkpoint is the store's copy.
        let weights = |cell: &str| {
            std::fs::read(
                out.join("cells")
                    .join(cell)
                    .join("model/checkpoints/best.ot"),
            )
            .unwrap()
        };
        assert!(
            weights("tinychar_h0.01_s5") == weights("tinychar-lm_h0.01_s5"),
            "the variant's network differs from its base's"
        );
        let notes =
            std::fs::read_to_string(out.join("cells/tinychar-lm_h0.01_s5/model/model.json"))
                .unwrap();
        assert!(notes.contains("network reused"), "{notes}");
        // The word LM is the classical cell's own: same text, same vocabulary.
        let arpa = |cell: &str| {
            std::fs::read_to_string(out.join("cells").join(cell).join("model/lm.arpa")).unwrap()
        };
        assert_eq!(arpa("tiny_h0.01_s5"), arpa("tinychar-lm_h0.01_s5"));
        // The pure network's cell decodes without it.
        assert!(!out.join("cells/tinychar_h0.01_s5/model/lm.arpa").exists());
    }
    assert_eq!(tables[0], tables[1], "same command, same answer");
}

#[test]
fn report_fit_upto_checks_the_projection_against_the_larger_sizes() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = import_fsdd(tmp.path());
    let tiny = tiny_pipeline(tmp.path());
    let out = tmp.path().join("out");
    sweep_ok(
        &corpus,
        tiny.to_str().unwrap(),
        "0.005,0.01,0.02,0.04",
        "1",
        &out,
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    // Without --fit-upto the cut-off is the default grid's 1 h, above this
    // grid: the section says why there is nothing to check.
    assert!(
        md.contains("No curve has three sizes at or below 1.00 h (the cut-off, the default grid's largest size")
            && md.contains("The grid stops at the cut-off"),
        "{md}"
    );
    run_ok(&["report", out.to_str().unwrap(), "--fit-upto", "0.02"]);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let section = md
        .split("## How well the projection predicted")
        .nth(1)
        .unwrap_or_else(|| panic!("no section:\n{md}"));
    // Fitted on 0.005-0.02 h, projected to the one larger size, in both forms.
    assert!(
        section.contains("| tiny | power law + floor | 0.040 |")
            && section.contains("| tiny | log-log | 0.040 |")
            && section.contains("held-out error"),
        "{section}"
    );
    // Recorded in sweep.json: a plain re-render keeps the section.
    let spec = std::fs::read_to_string(out.join("sweep.json")).unwrap();
    assert!(spec.contains("\"fit_upto\": 0.02"), "{spec}");
    run_ok(&["report", out.to_str().unwrap()]);
    let again = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(again.contains("How well the projection predicted"));
}
