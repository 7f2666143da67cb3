//! Classical recogniser on a small slice of FSDD (one speaker): training,
//! decoding, save/load, forced alignment at a known join, and the CLI.
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crossover::classical::align::{align, transcript_units};
use crossover::classical::hmm::GmmScorer;
use crossover::classical::{train_classical, ClassicalConfig, ClassicalModel};
use crossover::corpus::{Corpus, Split, Utterance};
use crossover::lang::topology::PhoneTopology;
use crossover::loader::Loader;
use crossover::pipeline::{Recogniser, TrainContext};

mod common;

const DIGITS: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];

fn fsdd() -> PathBuf {
    common::require_corpora().join("fsdd").join("recordings")
}

/// jackson's takes `train` as training and takes 0-4 as test.
fn corpus(dir: &Path, train: std::ops::Range<usize>) -> Corpus {
    let mut utterances = Vec::new();
    for d in 0..10 {
        for take in (0..5).chain(train.clone()) {
            let audio = fsdd().join(format!("{d}_jackson_{take}.wav"));
            utterances.push(Utterance {
                id: format!("jackson-{d}-{take}"),
                audio,
                speaker: "jackson".into(),
                split: if take < 5 { Split::Test } else { Split::Train },
                duration: 0.5,
                text: DIGITS[d].into(),
                norm_text: DIGITS[d].into(),
                phonemes: String::new(),
                group: String::new(),
                augment: String::new(),
            });
        }
    }
    let c = Corpus {
        root: dir.to_path_buf(),
        utterances,
    };
    c.save().unwrap();
    c
}

const SMALL: &str = r#"
kind = "classical"
[mono]
iters = 12
total_gaussians = 150
max_iter_inc = 8
realign_iters = [1, 2, 3, 4, 6, 8, 10]
"#;

struct Trained {
    _dir: tempfile::TempDir,
    corpus: Corpus,
    model: ClassicalModel,
}

fn trained() -> &'static Trained {
    static T: OnceLock<Trained> = OnceLock::new();
    T.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let corpus = corpus(dir.path(), 5..20);
        let cfg: ClassicalConfig = toml::from_str(SMALL).unwrap();
        let loader = Loader::new(&corpus);
        let ctx = TrainContext {
            corpus: &corpus,
            loader: &loader,
            train: corpus.split(Split::Train),
            dev: vec![],
            seed: 0,
            threads: 2,
            device: Default::default(),
            out_dir: dir.path().join("model"),
            progress: false,
            shared_networks: None,
        };
        let model = train_classical(&cfg, &ctx).unwrap();
        Trained {
            _dir: dir,
            corpus,
            model,
        }
    })
}

fn wer(corpus: &Corpus, hyps: &[crossover::pipeline::Transcript]) -> f64 {
    let errs = hyps
        .iter()
        .filter(|h| {
            corpus
                .utterances
                .iter()
                .find(|u| u.id == h.id)
                .unwrap()
                .norm_text
                != h.words
        })
        .count();
    errs as f64 / hyps.len() as f64
}

#[test]
fn trains_decodes_and_round_trips() {
    let t = trained();
    let test = t.corpus.split(Split::Test);
    let hyps = t
        .model
        .transcribe(&Loader::new(&t.corpus), &test, 2)
        .unwrap();
    let w = wer(&t.corpus, &hyps);
    assert!(
        w <= 0.06,
        "speaker-dependent digit WER {w} on 50 test files"
    );
    assert!(
        t.model.report.contains("mono pass 11"),
        "{}",
        t.model.report
    );
    let dir = tempfile::tempdir().unwrap();
    t.model.save(dir.path()).unwrap();
    let back = ClassicalModel::load(dir.path()).unwrap();
    assert_eq!(back.am.num_gaussians(), t.model.am.num_gaussians());
    assert_eq!(
        back.transcribe(&Loader::new(&t.corpus), &test, 1).unwrap(),
        hyps,
        "decodes differ after save/load"
    );
    let loaded = crossover::registry::load(dir.path(), &Default::default()).unwrap();
    assert_eq!(loaded.summary().kind, "classical");
}

/// The dev tuning's shared-scorer decoding gives exactly what one decode
/// per grid point gives (words, scores) and the phone loop's phones.
#[test]
fn a_tuning_grid_decoded_with_one_scorer_matches_one_decode_per_point() {
    let t = trained();
    let loader = Loader::new(&t.corpus);
    let test = t.corpus.split(Split::Test);
    let feats = t.model.features(&loader, &test[..6]).unwrap();
    let grid: Vec<_> = [(4.0, 0.0), (10.0, 0.0), (10.0, -2.0), (18.0, 1.5)]
        .iter()
        .map(
            |&(lm_weight, word_penalty)| crossover::lang::decoder::DecodeConfig {
                lm_weight,
                word_penalty,
                ..t.model.decode.clone()
            },
        )
        .collect();
    for f in &feats {
        let (words, phones) = t.model.recognise_grid(f, &grid);
        for (got, dc) in words.iter().zip(&grid) {
            assert_eq!(got, &t.model.recognise(f, dc), "lm_weight {}", dc.lm_weight);
        }
        assert_eq!(phones, t.model.recognise_phones(f));
    }
}

fn read_wav(p: &Path) -> Vec<i16> {
    hound::WavReader::open(p)
        .unwrap()
        .samples::<i16>()
        .map(|s| s.unwrap())
        .collect()
}

#[test]
fn forced_alignment_finds_the_join() {
    let t = trained();
    // Two FSDD files joined end to end: the quiet each keeps at its edges is
    // the silence between the words (the kind the silence model was trained on).
    let (a, b) = (
        read_wav(&fsdd().join("3_jackson_1.wav")),
        read_wav(&fsdd().join("8_jackson_2.wav")),
    );
    let gap = 0;
    let mut x: Vec<i16> = a.clone();
    x.extend(&b);
    let dir = tempfile::tempdir().unwrap();
    let m = &t.model;
    // Word segments (seconds) of `x` aligned to `words`.
    let segments = |x: &[i16], words: &[&str], name: &str| -> Vec<(f64, f64)> {
        let wav = dir.path().join(name);
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&wav, spec).unwrap();
        x.iter().for_each(|s| w.write_sample(*s).unwrap());
        w.finalize().unwrap();
        let feats = crossover::features::compute_file(&wav, &m.config.features).unwrap();
        let prons: Vec<&[Vec<usize>]> = words.iter().map(|w| m.lexicon.prons(w).unwrap()).collect();
        let units = transcript_units(&m.am as &dyn PhoneTopology, &prons, true);
        let ali = align(&units, &mut GmmScorer::new(&m.am, &feats), 100.0).unwrap();
        ali.word_segments(&units)
            .iter()
            .map(|s| (s.start as f64 * 0.01, s.end as f64 * 0.01))
            .collect()
    };
    let joined = segments(&x, &["three", "eight"], "joined.wav");
    let alone_a = segments(&a, &["three"], "a.wav");
    let alone_b = segments(&b, &["eight"], "b.wav");
    assert_eq!(joined.len(), 2);
    // The join, in seconds.
    let (join1, join2) = (a.len() as f64 / 8000.0, (a.len() + gap) as f64 / 8000.0);
    // 'three' ends where it ends in its own file (at or before the join), and
    // 'eight' starts where it starts in its own file, shifted by the join.
    let tol = 0.05;
    let (end1, start2) = (joined[0].1, joined[1].0);
    assert!(
        (end1 - alone_a[0].1).abs() <= tol && end1 <= join1 + tol,
        "'three' ends at {end1:.3} s; alone at {:.3} s; join at {join1:.3} s",
        alone_a[0].1
    );
    assert!(
        (start2 - (join2 + alone_b[0].0)).abs() <= tol && start2 >= join2 - tol,
        "'eight' starts at {start2:.3} s; alone at {:.3} s after the join at {join2:.3} s",
        alone_b[0].0
    );
}

#[test]
fn cli_train_decode_and_align() {
    let dir = tempfile::tempdir().unwrap();
    let cdir = dir.path().join("corpus");
    corpus(&cdir, 5..10);
    let pipe = dir.path().join("p.toml");
    std::fs::write(&pipe, "kind = \"classical\"\n[mono]\niters = 4\ntotal_gaussians = 130\nmax_iter_inc = 3\nrealign_iters = [1, 2]\n").unwrap();
    let bin = common::BIN;
    let model = dir.path().join("model");
    let st = std::process::Command::new(bin)
        .args(["train", "--quiet", "--pipeline"])
        .arg(&pipe)
        .arg("--corpus")
        .arg(&cdir)
        .arg("--out")
        .arg(&model)
        .status()
        .unwrap();
    assert!(st.success());
    let hyp = dir.path().join("hyp.txt");
    let out = std::process::Command::new(bin)
        .args(["decode", "--model"])
        .arg(&model)
        .arg("--corpus")
        .arg(&cdir)
        .arg("--out")
        .arg(&hyp)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&hyp).unwrap();
    assert_eq!(text.lines().count(), 50);
    assert!(text
        .lines()
        .all(|l| l.starts_with("jackson-") && l.split_whitespace().count() >= 1));
    let ctm = dir.path().join("a.ctm");
    let out = std::process::Command::new(bin)
        .args(["align", "--split", "test", "--model"])
        .arg(&model)
        .arg("--corpus")
        .arg(&cdir)
        .arg("--out")
        .arg(&ctm)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let words = std::fs::read_to_string(&ctm).unwrap();
    assert_eq!(words.lines().count(), 50);
    let phones = std::fs::read_to_string(dir.path().join("a.ctm.phones")).unwrap();
    assert!(phones.lines().count() >= 150 && phones.contains(" TH") && phones.contains(" SIL"));
    // Unknown pipeline kinds are refused by name.
    std::fs::write(&pipe, "kind = \"wav2vec\"\n").unwrap();
    let out = std::process::Command::new(bin)
        .args(["train", "--pipeline"])
        .arg(&pipe)
        .arg("--corpus")
        .arg(&cdir)
        .arg("--out")
        .arg(&model)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown pipeline kind \"wav2vec\""));
}

#[test]
fn triphones_train_and_decode() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus(dir.path(), 5..20);
    let cfg: ClassicalConfig = toml::from_str(&format!(
        "{SMALL}\n[tri]\nenabled = true\nnum_leaves = 160\ntotal_gaussians = 400\niters = 6\nmax_iter_inc = 4\nrealign_iters = [3]\nmin_leaf_count = 20.0\n"
    ))
    .unwrap();
    let loader = Loader::new(&corpus);
    let ctx = TrainContext {
        corpus: &corpus,
        loader: &loader,
        train: corpus.split(Split::Train),
        dev: vec![],
        seed: 0,
        threads: 2,
        device: Default::default(),
        out_dir: dir.path().join("model"),
        progress: false,
        shared_networks: None,
    };
    let model = train_classical(&cfg, &ctx).unwrap();
    assert!(model.am.is_triphone());
    // One root per (phone, state) = 120, split up to 160 leaves.
    assert!(
        model.am.pdfs.len() > 120 && model.am.pdfs.len() <= 160,
        "{} tied states",
        model.am.pdfs.len()
    );
    let test = corpus.split(Split::Test);
    let hyps = model.transcribe(&Loader::new(&corpus), &test, 2).unwrap();
    assert!(
        wer(&corpus, &hyps) <= 0.06,
        "triphone digit WER {}",
        wer(&corpus, &hyps)
    );
    // The tree survives save/load.
    let out = tempfile::tempdir().unwrap();
    model.save(out.path()).unwrap();
    let back = ClassicalModel::load(out.path()).unwrap();
    assert_eq!(back.am.tree, model.am.tree);
    assert_eq!(
        back.transcribe(&Loader::new(&corpus), &test, 1).unwrap(),
        hyps
    );
}

/// A model decodes with another language folder (Kaldi's one acoustic model,
/// any `data/lang`), through the binary's `--lang` and the library alike;
/// `--set decode.*` overrides the LM weight tuned at train time.
#[test]
fn decodes_with_another_language_folder_and_overrides() {
    let t = trained();
    let model_dir = tempfile::tempdir().unwrap();
    t.model.save(model_dir.path()).unwrap();
    // A language folder that knows only three of the ten digits.
    let lang = tempfile::tempdir().unwrap();
    let full = std::fs::read_to_string(model_dir.path().join("lexicon.txt")).unwrap();
    let keep = ["one", "two", "three"];
    let lex: String = full
        .lines()
        .filter(|l| keep.contains(&l.split_whitespace().next().unwrap_or("")))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(lex.lines().count(), 3, "{full}");
    std::fs::write(lang.path().join("lexicon.txt"), lex).unwrap();
    let lm = crossover::lang::lm::NgramLm::estimate(keep, keep, 2).unwrap();
    lm.write_arpa(&lang.path().join("lm.arpa")).unwrap();

    let test = t.corpus.split(Split::Test);
    let mut m = ClassicalModel::load(model_dir.path()).unwrap();
    m.use_language(lang.path()).unwrap();
    let hyps = m.transcribe(&Loader::new(&t.corpus), &test, 2).unwrap();
    assert!(
        hyps.iter()
            .all(|h| h.words.split_whitespace().all(|w| keep.contains(&w))),
        "{hyps:?}"
    );
    // "one", "two" and "three" are still recognised where they were said.
    let right = hyps
        .iter()
        .zip(&test)
        .filter(|(h, u)| keep.contains(&u.norm_text.as_str()) && h.words == u.norm_text)
        .count();
    assert!(right >= 12, "{right} of 15 kept digits recognised");

    // The same through the binary, with a decode-time override.
    let hyp = model_dir.path().join("hyp.txt");
    let decode = |extra: &[&std::ffi::OsStr]| {
        common::bin()
            .args(["decode", "--model"])
            .arg(model_dir.path())
            .arg("--corpus")
            .arg(&t.corpus.root)
            .arg("--out")
            .arg(&hyp)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = decode(&[
        "--lang".as_ref(),
        lang.path().as_os_str(),
        "--set".as_ref(),
        "decode.lm_weight=12".as_ref(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&hyp).unwrap();
    assert_eq!(text.lines().count(), test.len());
    assert!(text
        .lines()
        .all(|l| l.split_whitespace().skip(1).all(|w| keep.contains(&w))));
    // A language folder without an LM is an error naming the missing file.
    std::fs::remove_file(lang.path().join("lm.arpa")).unwrap();
    let e = m.use_language(lang.path()).unwrap_err().to_string();
    assert!(e.contains("lm.arpa"), "{e}");
    // An override of an unknown setting is refused, naming it.
    let out = decode(&["--set".as_ref(), "decode.bem=12".as_ref()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bem"));
}

/// Two FSDD speakers, takes `train` of each for training and 0-4 for test
/// (and 45-49 as dev), so the SAT rung has speakers to adapt to.
fn two_speaker_corpus(dir: &Path, train: std::ops::Range<usize>) -> Corpus {
    let mut utterances = Vec::new();
    for spk in ["jackson", "george"] {
        for d in 0..10 {
            for take in (0..5).chain(train.clone()).chain(45..50) {
                utterances.push(Utterance {
                    id: format!("{spk}-{d}-{take}"),
                    audio: fsdd().join(format!("{d}_{spk}_{take}.wav")),
                    speaker: spk.into(),
                    split: if take < 5 {
                        Split::Test
                    } else if take >= 45 {
                        Split::Dev
                    } else {
                        Split::Train
                    },
                    duration: 0.5,
                    text: DIGITS[d].into(),
                    norm_text: DIGITS[d].into(),
                    phonemes: String::new(),
                    group: String::new(),
                    augment: String::new(),
                });
            }
        }
    }
    let c = Corpus {
        root: dir.to_path_buf(),
        utterances,
    };
    c.save().unwrap();
    c
}

/// The whole ladder on a tiny two-speaker task: tri2b and tri3b train,
/// save their transforms, decode (tri3b through its fMLLR first pass) and
/// load back to the same hypotheses; `best-dev` keeps the rung whose dev
/// WER is lowest and records every rung's result.
#[test]
fn lda_mllt_and_sat_rungs_train_decode_and_select_on_dev() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = two_speaker_corpus(dir.path(), 5..20);
    let tri = "iters = 6\nmax_iter_inc = 4\nrealign_iters = [3]\nmin_leaf_count = 20.0\nnum_leaves = 160\ntotal_gaussians = 400\n";
    let base = format!(
        "{SMALL}\n[features]\ncmvn = \"spk\"\nnorm_vars = true\n[tri]\nenabled = true\n{tri}[tri2b]\n{tri}[tri3b]\n{tri}[lda_mllt]\nmllt_iters = [1, 2]\n[sat]\nfmllr_iters = [1, 2]\n[tune]\nlm_weights = [10.0]\n"
    );
    let loader = Loader::new(&corpus);
    let ctx = |sub: &str| TrainContext {
        corpus: &corpus,
        loader: &loader,
        train: corpus.split(Split::Train),
        dev: corpus.split(Split::Dev),
        seed: 0,
        threads: 2,
        device: Default::default(),
        out_dir: dir.path().join(sub),
        progress: false,
        shared_networks: None,
    };
    let test = corpus.split(Split::Test);
    let top: ClassicalConfig =
        toml::from_str(&format!("{base}[ladder]\ntop = \"tri3b\"\n")).unwrap();
    let sat = train_classical(&top, &ctx("sat")).unwrap();
    assert_eq!(sat.rung, crossover::classical::Rung::Tri3b);
    let t = sat
        .transform
        .as_ref()
        .expect("tri3b keeps the LDA+MLLT transform");
    assert_eq!((t.mat.in_dim, t.mat.out_dim), (13 * 7, 40));
    assert!(sat.first_pass.is_some());
    assert!(sat.report.contains("fMLLR at pass 1"), "{}", sat.report);
    assert!(sat.report.contains("MLLT at pass 1"), "{}", sat.report);
    let hyps = sat.transcribe(&loader, &test, 2).unwrap();
    let w = wer(&corpus, &hyps);
    assert!(w <= 0.1, "tri3b digit WER {w}");
    let out = tempfile::tempdir().unwrap();
    sat.save(out.path()).unwrap();
    let back = ClassicalModel::load(out.path()).unwrap();
    assert_eq!(back.rung, sat.rung);
    assert_eq!(back.transcribe(&loader, &test, 1).unwrap(), hyps);

    let best: ClassicalConfig = toml::from_str(&format!(
        "{base}[ladder]\ntop = \"tri3b\"\nselect = \"best-dev\"\n"
    ))
    .unwrap();
    let chosen = train_classical(&best, &ctx("best")).unwrap();
    let rungs: Vec<_> = chosen.ladder.iter().map(|r| r.rung).collect();
    assert_eq!(rungs, crossover::classical::Rung::ALL.to_vec());
    let lowest = chosen
        .ladder
        .iter()
        .map(|r| r.dev_wer)
        .fold(f64::INFINITY, f64::min);
    let mine = chosen
        .ladder
        .iter()
        .find(|r| r.rung == chosen.rung)
        .unwrap();
    assert_eq!(mine.dev_wer, lowest, "{:?}", chosen.ladder);
}
