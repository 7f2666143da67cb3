//! Corpus recipes (`corpora/*.toml`) and `crossover corpus build`: the real
//! binary in temp dirs, on FSDD read in place from the shared corpora and on
//! a tiny synthetic corpus (a handful of utterances).
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crossover::corpus::recipe::{CorpusRecipe, Source, HASH_FILE};
use crossover::corpus::synth::SynthConfig;
use crossover::corpus::{Corpus, Split};

mod common;
use common::{bin_in, require_corpora, stderr_err, stdout_ok};

fn project() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// (inode, mtime in ns) of a file: a rewrite (temp file + rename) changes both.
fn stamp(p: &Path) -> (u64, i128) {
    let m = std::fs::metadata(p).unwrap();
    (
        m.ino(),
        m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
    )
}

#[test]
fn shipped_recipes_parse_and_the_sweep_defaults_are_its_demo_corpus() {
    let dir = project().join("corpora");
    let load = |name: &str| CorpusRecipe::load(&dir.join(name)).unwrap();

    let d = load("synth-default.toml");
    assert_eq!(d.source, Source::Synth);
    let want = SynthConfig {
        hours: 2.0,
        ..SynthConfig::sweep_demo()
    };
    assert_eq!(
        d.synth.as_ref(),
        Some(&want),
        "synth-default.toml drifted from the sweep's corpus"
    );
    assert_eq!(d.build_dir(), dir.join("build").join("synth-default"));
    // The long sweep's corpus is the default's task with 8 h of training
    // audio and nothing else changed, so its dev and test sets are the
    // default's (the generator's prefix property) and the reports compare.
    let long = load("synth-long.toml");
    assert_eq!(
        long.synth.as_ref(),
        Some(&SynthConfig {
            hours: 8.0,
            ..want.clone()
        }),
        "synth-long.toml differs from synth-default.toml in more than its hours"
    );
    let q = load("synth-quick.toml");
    let want = SynthConfig {
        hours: 0.2,
        ..SynthConfig::sweep_demo()
    };
    assert_eq!(
        q.synth.as_ref(),
        Some(&want),
        "synth-quick.toml drifted from the --quick corpus"
    );

    let shared = crossover::corpus::import::absolute(&crossover::shared::corpora_dir()).unwrap();
    let k = load("kathleen.toml");
    assert_eq!(k.source, Source::Textdir);
    assert_eq!(k.path.as_deref(), Some(shared.join("kathleen").as_path()));
    let t = k.textdir.as_ref().unwrap();
    assert_eq!(
        t.test_groups.as_deref(),
        Some(shared.join("kathleen/splits/test.txt").as_path())
    );
    assert_eq!(
        t.dev_groups.as_deref(),
        Some(shared.join("kathleen/splits/dev.txt").as_path())
    );
    assert_eq!(t.group_by.as_deref(), Some("arctic_([ab][0-9]{4})_"));
    use crossover::corpus::fsdd::FsddSplit;
    assert_eq!(load("fsdd.toml").fsdd.unwrap().split, FsddSplit::Official);
    assert_eq!(
        load("fsdd-speakers.toml").fsdd.unwrap().split,
        FsddSplit::Speakers
    );
    assert_eq!(load("librispeech-example.toml").source, Source::Librispeech);

    // Every tracked recipe is listed in corpora/README.md.
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            CorpusRecipe::load(&p).unwrap();
            let name = p.file_name().unwrap().to_str().unwrap().to_string();
            assert!(
                readme.contains(&format!("`{name}`")),
                "{name} is not in corpora/README.md"
            );
        }
    }
}

#[test]
fn fsdd_recipe_builds_once_is_reused_untouched_and_rebuilt_when_changed() {
    let shared = require_corpora();
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir(t.path().join("corpora")).unwrap();
    let recipe = t.path().join("corpora/fsdd.toml");
    let official =
        "source = \"fsdd\"\npath = \"$CROSSOVER_SHARED/fsdd\"\n[fsdd]\nsplit = \"official\"\n";
    std::fs::write(&recipe, official).unwrap();
    let build = || {
        let mut c = bin_in(t.path());
        c.args(["corpus", "build", "corpora/fsdd.toml", "--no-progress"])
            .env("CROSSOVER_SHARED", &shared);
        c
    };
    let out = stdout_ok(&mut build());
    let built = t.path().join("corpora/build/fsdd");
    assert!(out.contains("corpora/build/fsdd: built"), "{out}");
    let c = Corpus::load(&built).unwrap();
    assert_eq!(
        c.split(Split::Test).len(),
        300,
        "official split: takes 0-4 are test"
    );
    assert_eq!(c.split(Split::Train).len(), 2400);
    assert!(c
        .utterances
        .iter()
        .all(|u| u.id.starts_with(&format!("{}-", u.speaker))));
    let hash_line = std::fs::read_to_string(built.join(HASH_FILE)).unwrap();
    assert!(hash_line.contains("fsdd.toml"), "{hash_line}");
    assert!(!built.join(".recipe-building").exists());
    let manifest = built.join("manifest.tsv");
    let before = (stamp(&manifest), stamp(&built.join(HASH_FILE)));

    // Unchanged recipe (a comment added does not change it): reused, nothing rewritten.
    std::fs::write(&recipe, format!("# FSDD, official split\n{official}")).unwrap();
    let out = stdout_ok(&mut build());
    assert!(out.contains("reused"), "{out}");
    assert_eq!((stamp(&manifest), stamp(&built.join(HASH_FILE))), before);
    // The library call reuses it too (and names the same folder).
    std::env::set_var("CROSSOVER_SHARED", &shared);
    let dir = crossover::corpus::build_or_reuse(&recipe).unwrap();
    assert_eq!(dir, t.path().join("corpora").join("build").join("fsdd"));
    assert_eq!(stamp(&manifest), before.0);

    // The sweep takes the recipe and uses the built folder (`--cell 99` stops it
    // after the corpus step and before any training).
    let out_dir = t.path().join("sweep");
    let err = stderr_err(
        bin_in(t.path())
            .args([
                "sweep",
                "--corpus",
                "corpora/fsdd.toml",
                "--hours",
                "0.01",
                "--no-progress",
                "--cell",
                "99",
            ])
            .arg("--pipelines")
            .arg(project().join("pipelines/classical.toml"))
            .arg("--out")
            .arg(&out_dir)
            .env("CROSSOVER_SHARED", &shared),
    );
    assert!(err.contains("--cell 99"), "{err}");
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("sweep.json")).unwrap())
            .unwrap();
    assert_eq!(spec["corpus"], "corpora/build/fsdd", "{spec}");
    assert!(
        spec["corpus_note"]
            .as_str()
            .unwrap()
            .contains("corpora/fsdd.toml"),
        "{spec}"
    );
    assert_eq!(
        stamp(&manifest),
        before.0,
        "the sweep rebuilt an unchanged recipe"
    );

    // A changed recipe is rebuilt.
    std::fs::write(&recipe, official.replace("official", "speakers")).unwrap();
    let out = stdout_ok(&mut build());
    assert!(out.contains("rebuilt"), "{out}");
    let c = Corpus::load(&built).unwrap();
    let test_speakers: std::collections::BTreeSet<&str> = c
        .split(Split::Test)
        .iter()
        .map(|u| u.speaker.as_str())
        .collect();
    assert_eq!(
        test_speakers.into_iter().collect::<Vec<_>>(),
        ["theo", "yweweler"]
    );
    assert_ne!(
        std::fs::read_to_string(built.join(HASH_FILE)).unwrap(),
        hash_line
    );

    // --rebuild forces it; --out builds elsewhere.
    let out = stdout_ok(build().arg("--rebuild"));
    assert!(out.contains("rebuilt"), "{out}");
    let out = stdout_ok(build().args(["--out", "elsewhere"]));
    assert!(out.contains("elsewhere: built"), "{out}");
    assert!(t.path().join("elsewhere/manifest.tsv").is_file());
}

#[test]
fn bad_recipes_fail_with_errors_naming_the_recipe() {
    let t = tempfile::tempdir().unwrap();
    let build = |name: &str, body: &str| {
        std::fs::write(t.path().join(name), body).unwrap();
        stderr_err(bin_in(t.path()).args(["corpus", "build", name, "--no-progress"]))
    };
    let e = build("typo.toml", "source = \"fsdd\"\npaht = \"x\"\n");
    assert!(e.contains("typo.toml") && e.contains("paht"), "{e}");
    let e = build("nosource.toml", "path = \"x\"\n");
    assert!(e.contains("nosource.toml") && e.contains("source"), "{e}");
    let e = build(
        "wrongtable.toml",
        "source = \"fsdd\"\npath = \"x\"\n[synth]\nhours = 1\n",
    );
    assert!(
        e.contains("wrongtable.toml") && e.contains("[synth]"),
        "{e}"
    );
    let e = build("badsynth.toml", "source = \"synth\"\n[synth]\nhours = -1\n");
    assert!(e.contains("badsynth.toml") && e.contains("hours"), "{e}");
    // A source folder that is not there: named, with the recipe; nothing is left behind.
    let e = build(
        "missing.toml",
        "source = \"fsdd\"\npath = \"no/such/fsdd\"\n",
    );
    assert!(
        e.contains("missing.toml") && e.contains("no/such/fsdd") && e.contains("does not exist"),
        "{e}"
    );
    assert!(
        !t.path().join("build/missing").exists(),
        "a failed build left a folder"
    );
    // ... and for a shared-corpora path the message says where the shared folder was looked for.
    std::fs::write(
        t.path().join("shared.toml"),
        "source = \"fsdd\"\npath = \"$CROSSOVER_SHARED/fsdd\"\n",
    )
    .unwrap();
    let e = stderr_err(
        bin_in(t.path())
            .args(["corpus", "build", "shared.toml", "--no-progress"])
            .env("CROSSOVER_SHARED", t.path().join("nowhere")),
    );
    assert!(
        e.contains("shared.toml") && e.contains("nowhere") && e.contains("CROSSOVER_SHARED"),
        "{e}"
    );
    // A file that does not exist at all.
    let e = stderr_err(bin_in(t.path()).args(["corpus", "build", "absent.toml"]));
    assert!(e.contains("absent.toml"), "{e}");
    let e = stderr_err(
        bin_in(t.path())
            .args([
                "sweep",
                "--corpus",
                "absent.toml",
                "--out",
                "s",
                "--pipelines",
            ])
            .arg(project().join("pipelines/classical.toml")),
    );
    assert!(e.contains("absent.toml"), "{e}");
    // A folder in the way that no recipe built is left alone.
    let in_the_way = t.path().join("build/mine");
    std::fs::create_dir_all(&in_the_way).unwrap();
    std::fs::write(in_the_way.join("notes.txt"), "keep me").unwrap();
    let e = build("mine.toml", "source = \"synth\"\n[synth]\nhours = 0.001\n");
    assert!(
        e.contains("mine.toml") && e.contains("not built from a recipe"),
        "{e}"
    );
    assert_eq!(
        std::fs::read_to_string(in_the_way.join("notes.txt")).unwrap(),
        "keep me"
    );
}

#[test]
fn tiny_synth_recipe_builds_reuses_and_resizes_in_place() {
    let t = tempfile::tempdir().unwrap();
    let body = |hours: f64| {
        format!(
            "source = \"synth\"\n[synth]\nhours = {hours}\neval_hours = 0.002\ntrain_voices = 2\nchunk = 4\n\
             babble_pool = 2\nlm_sentences = 10\n[synth.augment]\nnoise_prob = 0.0\nreverb_prob = 0.0\n"
        )
    };
    let recipe = t.path().join("tiny.toml");
    std::fs::write(&recipe, body(0.002)).unwrap();
    let build = || {
        let mut c = bin_in(t.path());
        c.args(["corpus", "build", "tiny.toml", "--no-progress"]);
        c
    };
    let out = stdout_ok(&mut build());
    assert!(out.contains("build/tiny: built"), "{out}");
    let dir = t.path().join("build/tiny");
    let small = Corpus::load(&dir).unwrap();
    let train_small: Vec<String> = small
        .split(Split::Train)
        .iter()
        .map(|u| u.id.clone())
        .collect();
    assert!(!train_small.is_empty());
    let before = stamp(&dir.join("manifest.tsv"));
    let out = stdout_ok(&mut build());
    assert!(out.contains("reused"), "{out}");
    assert_eq!(stamp(&dir.join("manifest.tsv")), before);

    // Only the hours changed: the corpus grows in place, the old train set a prefix of the new.
    std::fs::write(&recipe, body(0.004)).unwrap();
    let out = stdout_ok(&mut build());
    assert!(out.contains("resized in place"), "{out}");
    let big = Corpus::load(&dir).unwrap();
    let train_big: Vec<String> = big
        .split(Split::Train)
        .iter()
        .map(|u| u.id.clone())
        .collect();
    assert!(train_big.len() > train_small.len());
    assert_eq!(&train_big[..train_small.len()], &train_small[..]);
    assert_eq!(
        big.split(Split::Test)
            .iter()
            .map(|u| &u.id)
            .collect::<Vec<_>>(),
        small
            .split(Split::Test)
            .iter()
            .map(|u| &u.id)
            .collect::<Vec<_>>()
    );

    // A build interrupted before it finished (marker, no hash file, no manifest)
    // resumes: the generator's finished chunks are kept, their WAVs not rewritten.
    let hash = std::fs::read_to_string(dir.join(HASH_FILE)).unwrap();
    let hash = hash.split_whitespace().next().unwrap();
    std::fs::remove_file(dir.join(HASH_FILE)).unwrap();
    std::fs::remove_file(dir.join("manifest.tsv")).unwrap();
    std::fs::write(dir.join(".recipe-building"), format!("{hash}\n")).unwrap();
    let first_wav = big.audio_path(&big.utterances[0]);
    let wav_before = stamp(&first_wav);
    let out = stdout_ok(&mut build());
    assert!(out.contains("build/tiny: built"), "{out}");
    assert_eq!(
        stamp(&first_wav),
        wav_before,
        "the resumed build remade a finished chunk"
    );
    assert_eq!(Corpus::load(&dir).unwrap().utterances, big.utterances);
    assert!(!dir.join(".recipe-building").exists());
}

/// The shipped kathleen recipe, built from a copy of the file in a temp
/// project, makes byte for byte the manifest of the documented import command.
#[test]
fn kathleen_recipe_is_the_documented_import() {
    let shared = require_corpora();
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir(t.path().join("corpora")).unwrap();
    std::fs::copy(
        project().join("corpora/kathleen.toml"),
        t.path().join("corpora/kathleen.toml"),
    )
    .unwrap();
    let out = stdout_ok(
        bin_in(t.path())
            .args(["corpus", "build", "corpora/kathleen.toml", "--no-progress"])
            .env("CROSSOVER_SHARED", &shared),
    );
    assert!(out.contains("train   1320 utterances    1.119 h"), "{out}");
    let k = shared.join("kathleen");
    stdout_ok(
        bin_in(t.path())
            .args(["corpus", "import", "textdir"])
            .arg(&k)
            .args(["--group-by", "arctic_([ab][0-9]{4})_", "--test-groups"])
            .arg(k.join("splits/test.txt"))
            .arg("--dev-groups")
            .arg(k.join("splits/dev.txt"))
            .args(["--out", "by-hand", "--no-progress"]),
    );
    let a = std::fs::read(t.path().join("corpora/build/kathleen/manifest.tsv")).unwrap();
    let b = std::fs::read(t.path().join("by-hand/manifest.tsv")).unwrap();
    assert!(
        a == b,
        "the recipe's manifest differs from the import command's"
    );
}

/// The LibriSpeech example recipe, its `path` set to a relative path: taken
/// against the recipe's folder, not the current directory. The layout is a
/// tiny LibriSpeech-style tree of kathleen files.
#[test]
fn librispeech_example_recipe_with_a_path_relative_to_the_recipe() {
    let shared = require_corpora();
    let t = tempfile::tempdir().unwrap();
    let mut flacs: Vec<PathBuf> = std::fs::read_dir(shared.join("kathleen"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "flac"))
        .collect();
    flacs.sort();
    let root = t.path().join("data/LibriSpeech");
    for (subset, spk, ch, range) in [
        ("train-clean-5", "19", "198", 0..3),
        ("test-clean", "84", "121", 3..5),
    ] {
        let d = root.join(subset).join(spk).join(ch);
        std::fs::create_dir_all(&d).unwrap();
        let mut trans = String::new();
        for (n, i) in range.enumerate() {
            let id = format!("{spk}-{ch}-{n:04}");
            std::fs::copy(&flacs[i], d.join(format!("{id}.flac"))).unwrap();
            let txt = std::fs::read_to_string(flacs[i].with_extension("txt")).unwrap();
            trans.push_str(&format!(
                "{id} {}\n",
                crossover::text::normalise(&txt).to_uppercase()
            ));
        }
        std::fs::write(d.join(format!("{spk}-{ch}.trans.txt")), trans).unwrap();
    }
    let example =
        std::fs::read_to_string(project().join("corpora/librispeech-example.toml")).unwrap();
    assert!(example.contains("path = \"/path/to/LibriSpeech\""));
    std::fs::create_dir(t.path().join("corpora")).unwrap();
    std::fs::write(
        t.path().join("corpora/ls.toml"),
        example.replace("/path/to/LibriSpeech", "../data/LibriSpeech"),
    )
    .unwrap();
    // Run from a subfolder: the path still resolves against corpora/.
    let elsewhere = t.path().join("somewhere/else");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let out = stdout_ok(bin_in(&elsewhere).args([
        "corpus",
        "build",
        "../../corpora/ls.toml",
        "--no-progress",
    ]));
    assert!(out.contains("corpora/build/ls: built"), "{out}");
    let c = Corpus::load(&t.path().join("corpora/build/ls")).unwrap();
    let ids: Vec<(&str, Split)> = c
        .utterances
        .iter()
        .map(|u| (u.id.as_str(), u.split))
        .collect();
    assert_eq!(
        ids,
        [
            ("19-198-0000", Split::Train),
            ("19-198-0001", Split::Train),
            ("19-198-0002", Split::Train),
            ("84-121-0000", Split::Test),
            ("84-121-0001", Split::Test)
        ]
    );
}
