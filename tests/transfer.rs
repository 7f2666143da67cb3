//! Transfer learning through the real binary with tiny cells on real audio
//! (FSDD): a pipeline's `[init] pretrain` is trained once before the cells,
//! cached beside the pre-training corpus and reused by every cell (and by
//! another pipeline naming the same pre-training), and redone, with the
//! cells that use it, when its pipeline changes.
use std::path::{Path, PathBuf};

mod common;
use common::{import_fsdd, sweep_ok};

const NET: &str = "presets = []\n[model]\nhidden = 32\nlayers = 1\nconv_channels = 8\n[train]\nmax_epochs = 2\nbatch_seconds = 10.0\nwarmup_steps = 2\n";

fn pretrained_dirs(corpus: &Path) -> Vec<PathBuf> {
    let root = corpus.join(".cache/pretrained");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|r| r.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn a_pretrained_model_is_trained_once_reused_and_redone_when_its_pipeline_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = import_fsdd(tmp.path());
    let pre = tmp.path().join("pre.toml");
    std::fs::write(&pre, format!("kind = \"char-ctc\"\n{NET}")).unwrap();
    let init = format!(
        "[init]\npretrain = {:?}\ncorpus = {:?}\nhours = 0.02\nlr = 1e-3\nwarmup_steps = 1\n",
        pre.to_str().unwrap(),
        corpus.to_str().unwrap()
    );
    let train = "[train]\nmax_epochs = 2\nbatch_seconds = 10.0\n";
    let xfer = tmp.path().join("xfer.toml");
    std::fs::write(&xfer, format!("kind = \"char-ctc\"\n{init}{train}")).unwrap();
    let mtlx = tmp.path().join("mtlx.toml");
    std::fs::write(&mtlx, format!("kind = \"mtl-ctc\"\n{init}{train}")).unwrap();
    let scratch = tmp.path().join("scratch.toml");
    std::fs::write(&scratch, format!("kind = \"char-ctc\"\n{NET}")).unwrap();
    let pipelines = [&scratch, &xfer, &mtlx]
        .iter()
        .map(|p| p.to_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join(",");
    let out = tmp.path().join("out");
    let sweep = || sweep_ok(&corpus, &pipelines, "0.01,0.02", "1", &out);
    let log = sweep();
    assert_eq!(
        log.matches("crossover: pre-training").count(),
        1,
        "one pre-training for two pipelines and four cells:\n{log}"
    );
    let dirs = pretrained_dirs(&corpus);
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    assert!(dirs[0].join("model/done").exists() && dirs[0].join("pretrain.json").exists());
    let mut r = csv::Reader::from_path(out.join("results.csv")).unwrap();
    let header = r.headers().unwrap().clone();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(rows.len(), 6, "{log}");
    for row in &rows {
        assert_eq!(&row[col("status")], "ok", "{row:?}");
        let init = &row[col("init")];
        match &row[col("pipeline")] {
            "scratch" => assert!(init.is_empty(), "{init}"),
            _ => assert!(
                init.contains("pre-trained on") && init.contains("pre.toml"),
                "{init}"
            ),
        }
        if &row[col("pipeline")] == "mtlx" {
            assert!(
                row[col("dev_choices")].starts_with("phone_head_dev_per="),
                "{row:?}"
            );
        }
    }
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("## What the pre-training is worth"),
        "{report}"
    );
    assert!(report.contains("### xfer vs scratch"), "{report}");
    assert!(out.join("transfer_xfer.png").exists());

    // Again: nothing is trained, every cell is reused.
    let again = sweep();
    assert!(!again.contains("crossover: pre-training"), "{again}");
    assert_eq!(again.matches(", cached").count(), 6, "{again}");

    // A changed pre-training pipeline is a new pre-trained model, and the
    // cells that start from it are redone; the from-scratch cells are not.
    std::fs::write(
        &pre,
        format!("kind = \"char-ctc\"\n{NET}").replace("max_epochs = 2", "max_epochs = 3"),
    )
    .unwrap();
    let changed = sweep();
    assert_eq!(
        changed.matches("crossover: pre-training").count(),
        1,
        "{changed}"
    );
    assert_eq!(pretrained_dirs(&corpus).len(), 2);
    assert_eq!(
        changed.matches(", cached").count(),
        2,
        "only the scratch cells are reused:\n{changed}"
    );
}
