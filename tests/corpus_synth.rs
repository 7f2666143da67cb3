//! The synthetic corpus generator end to end: real espeak-ng and flite, a few
//! dozen utterances per test.
use std::collections::{HashMap, HashSet};
use std::path::Path;

use crossover::audio::{read, ChannelMode};
use crossover::corpus::synth::{self, voices, SynthConfig};
use crossover::corpus::{Corpus, Split};

mod common;

/// The subcommand words (the lead maps this to `corpus synth` at merge).
const SUBCOMMAND: &[&str] = &["corpus", "synth"];

fn small(seed: u64) -> SynthConfig {
    SynthConfig {
        seed,
        hours: 0.01,
        eval_hours: 0.004,
        chunk: 6,
        babble_pool: 4,
        ..Default::default()
    }
}

fn generate(cfg: &SynthConfig, dir: &Path, threads: usize) -> Corpus {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| synth::generate(cfg, dir, false)).unwrap();
    Corpus::load(dir).unwrap()
}

fn wav_bytes(c: &Corpus) -> Vec<(String, Vec<u8>)> {
    c.utterances
        .iter()
        .map(|u| (u.id.clone(), std::fs::read(c.audio_path(u)).unwrap()))
        .collect()
}

#[test]
fn same_seed_same_corpus_whatever_the_threads_and_resumes_after_interruption() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let ca = generate(&small(5), a.path(), 1);
    let cb = generate(&small(5), b.path(), 2);
    assert_eq!(
        ca.utterances, cb.utterances,
        "manifests differ between 1 and 2 threads"
    );
    assert_eq!(
        wav_bytes(&ca),
        wav_bytes(&cb),
        "audio differs between 1 and 2 threads"
    );
    assert_eq!(
        std::fs::read(a.path().join("synth.toml")).unwrap(),
        std::fs::read(b.path().join("synth.toml")).unwrap()
    );

    // Interrupt: lose the manifest and one WAV; the rerun redoes only that chunk.
    std::fs::remove_file(a.path().join("manifest.tsv")).unwrap();
    std::fs::remove_file(ca.audio_path(&ca.utterances[1])).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let report = pool
        .install(|| synth::generate(&small(5), a.path(), false))
        .unwrap();
    assert_eq!(report.chunks_made, 1, "{report:?}");
    assert!(report.chunks_reused >= 3, "{report:?}");
    let again = Corpus::load(a.path()).unwrap();
    assert_eq!(again.utterances, ca.utterances);
    assert_eq!(wav_bytes(&again), wav_bytes(&ca));

    // More hours with the same settings extend the corpus: the old train set is a prefix.
    let more = SynthConfig {
        hours: 0.02,
        ..small(5)
    };
    let bigger = pool
        .install(|| {
            synth::generate(&more, a.path(), false).map(|_| Corpus::load(a.path()).unwrap())
        })
        .unwrap();
    let old_train = ca.split(Split::Train);
    let new_train = bigger.split(Split::Train);
    assert!(new_train.len() > old_train.len());
    assert_eq!(&new_train[..old_train.len()], &old_train[..]);
    assert_eq!(bigger.split(Split::Test), ca.split(Split::Test));

    // Other settings in the same folder are refused, naming synth.toml.
    let err = synth::generate(
        &SynthConfig {
            seed: 6,
            ..small(5)
        },
        a.path(),
        false,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("synth.toml"), "{err}");

    // A different seed gives a different corpus.
    let c = tempfile::tempdir().unwrap();
    let cc = generate(&small(6), c.path(), 2);
    let ta: Vec<&str> = ca.utterances.iter().map(|u| u.text.as_str()).collect();
    let tc: Vec<&str> = cc.utterances.iter().map(|u| u.text.as_str()).collect();
    assert_ne!(ta, tc);
}

#[test]
fn splits_share_no_voice_or_sentence_and_audio_is_real_speech() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SynthConfig {
        seed: 11,
        hours: 0.012,
        eval_hours: 0.006,
        chunk: 8,
        babble_pool: 4,
        lm_sentences: 3000,
        ..Default::default()
    };
    let c = generate(&cfg, dir.path(), 2);
    let mut voices_by: HashMap<Split, HashSet<String>> = HashMap::new();
    let mut sents_by: HashMap<Split, HashSet<String>> = HashMap::new();
    let mut groups_by: HashMap<Split, HashSet<String>> = HashMap::new();
    for u in &c.utterances {
        voices_by
            .entry(u.split)
            .or_default()
            .insert(u.speaker.clone());
        sents_by
            .entry(u.split)
            .or_default()
            .insert(u.norm_text.clone());
        groups_by
            .entry(u.split)
            .or_default()
            .insert(u.group.clone());
        assert!(u.duration > 0.5, "{}: {} s", u.id, u.duration);
        assert!(!u.phonemes.trim().is_empty(), "{}: no phonemes", u.id);
        assert!(
            u.phonemes.split_whitespace().count() >= u.norm_text.split(' ').count(),
            "{}: {}",
            u.id,
            u.phonemes
        );
        assert!(
            u.augment.contains("speed=") && u.augment.contains("gain="),
            "{}",
            u.augment
        );
        let a = read(&c.audio_path(u), ChannelMode::Mix).unwrap();
        assert_eq!(a.rate, 16000);
        assert!((a.duration() - u.duration).abs() < 1e-3);
        let rms = (a.samples.iter().map(|x| (*x as f64).powi(2)).sum::<f64>()
            / a.samples.len() as f64)
            .sqrt();
        assert!(rms > 100.0, "{}: nearly silent (rms {rms})", u.id);
        assert!(
            u.id.starts_with(&u.speaker),
            "Kaldi wants the speaker as the id prefix: {}",
            u.id
        );
    }
    for s in Split::ALL {
        assert!(!voices_by[&s].is_empty(), "no {s} utterances");
    }
    let train_inv: HashSet<String> = voices::train_voices().iter().map(|v| v.id()).collect();
    let held_inv: HashSet<String> = voices::held_out_voices().iter().map(|v| v.id()).collect();
    assert!(voices_by[&Split::Train].is_subset(&train_inv));
    for s in [Split::Dev, Split::Test] {
        assert!(
            voices_by[&s].is_subset(&held_inv),
            "{s} uses a training voice"
        );
        assert!(voices_by[&s].is_disjoint(&voices_by[&Split::Train]));
        assert!(
            sents_by[&s].is_disjoint(&sents_by[&Split::Train]),
            "{s} shares a sentence with train"
        );
        assert!(groups_by[&s].is_disjoint(&groups_by[&Split::Train]));
    }
    assert!(sents_by[&Split::Dev].is_disjoint(&sents_by[&Split::Test]));
    // Both engines speak in training (round robin over the inventory order).
    assert!(voices_by[&Split::Train]
        .iter()
        .any(|v| v.starts_with("fl-")));
    assert!(voices_by[&Split::Train]
        .iter()
        .any(|v| v.starts_with("es-")));
    // Hours reached, and not overshot by more than one utterance.
    let h = c.hours(Split::Train);
    assert!(
        (0.012..0.012 + 8.0 / 3600.0).contains(&h),
        "train hours {h}"
    );
    // Text-only LM data never holds a dev/test sentence; the vocabulary covers every transcript.
    let lm = std::fs::read_to_string(dir.path().join("lm_text.txt")).unwrap();
    let lm: HashSet<&str> = lm.lines().collect();
    assert!(
        lm.len() as f64 > 0.9 * cfg.lm_sentences as f64,
        "{} distinct LM sentences",
        lm.len()
    );
    for s in [Split::Dev, Split::Test] {
        assert!(
            sents_by[&s].iter().all(|t| !lm.contains(t.as_str())),
            "lm_text.txt holds a {s} sentence"
        );
    }
    let vocab = std::fs::read_to_string(dir.path().join("vocab.txt")).unwrap();
    let vocab: HashSet<&str> = vocab.lines().collect();
    assert!(vocab.len() >= 1000);
    assert!(c
        .utterances
        .iter()
        .all(|u| u.norm_text.split(' ').all(|w| vocab.contains(w))));
    let voices_md = std::fs::read_to_string(dir.path().join("VOICES.md")).unwrap();
    assert!(voices_md.contains("fl-rms-d100"));
}

#[test]
fn text_file_sentences_are_split_without_leakage() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("sentences.txt");
    let lines: Vec<String> = (0..80)
        .map(|i| {
            format!(
                "Sentence number {i} is about the {} garden.",
                ["red", "green", "blue", "old"][i % 4]
            )
        })
        .collect();
    std::fs::write(&text, format!("{}\n\n", lines.join("\n"))).unwrap();
    let out = dir.path().join("corpus");
    let cfg = SynthConfig {
        text: Some(text),
        hours: 0.006,
        eval_hours: 0.003,
        chunk: 8,
        babble_pool: 3,
        ..Default::default()
    };
    let c = generate(&cfg, &out, 2);
    let allowed: HashSet<&str> = lines.iter().map(|s| s.as_str()).collect();
    let mut by: HashMap<Split, HashSet<&str>> = HashMap::new();
    for u in &c.utterances {
        assert!(
            allowed.contains(u.text.as_str()),
            "{:?} is not from the file",
            u.text
        );
        by.entry(u.split).or_default().insert(u.text.as_str());
    }
    assert!(by[&Split::Train].is_disjoint(&by[&Split::Dev]));
    assert!(by[&Split::Train].is_disjoint(&by[&Split::Test]));
}

#[test]
fn cli_errors_name_the_missing_program_and_bad_settings() {
    let dir = tempfile::tempdir().unwrap();
    let empty_path = dir.path().join("bin");
    std::fs::create_dir(&empty_path).unwrap();
    let out = common::bin()
        .args(SUBCOMMAND)
        .args(["--hours", "0.001", "--quiet", "--out"])
        .arg(dir.path().join("c"))
        .env("PATH", &empty_path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("espeak-ng") && err.contains("scripts/setup.sh"),
        "{err}"
    );

    let out = common::bin()
        .args(SUBCOMMAND)
        .args(["--hours", "0.001", "--snr", "30,5", "--out"])
        .arg(dir.path().join("c"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("snr_db"), "{err}");
}

#[test]
fn default_config_round_trips_through_toml() {
    let cfg = SynthConfig::default();
    let text = toml::to_string(&cfg).unwrap();
    let back: SynthConfig = toml::from_str(&text).unwrap();
    assert_eq!(cfg, back);
    let partial: SynthConfig =
        toml::from_str("hours = 3.0\n[augment]\nnoise_prob = 0.2\n").unwrap();
    assert_eq!(partial.hours, 3.0);
    assert_eq!(partial.augment.noise_prob, 0.2);
    assert_eq!(
        partial.augment.snr_db,
        SynthConfig::default().augment.snr_db
    );
    assert!(
        toml::from_str::<SynthConfig>("hourz = 3.0\n").is_err(),
        "unknown keys must be rejected"
    );
}

/// One id form everywhere: the manifest's test ids are the exported Kaldi
/// `test/text` ids, and a hypothesis file keyed by manifest ids (what
/// `crossover decode` writes) scores against that export.
#[test]
fn manifest_ids_are_the_kaldi_export_ids_and_score_against_it() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("c");
    let cfg = SynthConfig {
        hours: 0.002,
        eval_hours: 0.003,
        train_voices: 2,
        lm_sentences: 10,
        ..small(3)
    };
    let c = generate(&cfg, &dir, 2);
    let form = regex::Regex::new(r"^(.+)-(tr|dv|te)-([0-9]{7})$").unwrap();
    for u in &c.utterances {
        let m = form
            .captures(&u.id)
            .unwrap_or_else(|| panic!("id {} is not {{voice}}-{{tr|dv|te}}-NNNNNNN", u.id));
        assert_eq!(&m[1], u.speaker, "{}", u.id);
        let want = match u.split {
            Split::Train => "tr",
            Split::Dev => "dv",
            Split::Test => "te",
        };
        assert_eq!(&m[2], want, "{}", u.id);
        assert_eq!(u.audio, Path::new("wav").join(format!("{}.wav", u.id)));
    }
    let k = t.path().join("k");
    let out = common::bin()
        .args(["corpus", "export", "kaldi"])
        .arg(&dir)
        .arg("--out")
        .arg(&k)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let test = c.split(Split::Test);
    assert!(test.len() >= 2, "{} test utterances", test.len());
    let ref_text = std::fs::read_to_string(k.join("test/text")).unwrap();
    let ref_ids: Vec<&str> = ref_text
        .lines()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    let mut manifest_ids: Vec<&str> = test.iter().map(|u| u.id.as_str()).collect();
    manifest_ids.sort();
    assert_eq!(ref_ids, manifest_ids, "export changed the ids");
    let u2s = std::fs::read_to_string(k.join("test/utt2spk")).unwrap();
    for (line, u) in u2s.lines().zip({
        let mut v = test.clone();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }) {
        assert_eq!(line, format!("{} {}", u.id, u.speaker));
    }

    // A hypothesis written with manifest ids, in manifest order: the exact transcripts
    // score 0 % with every sentence found; one changed word is one error.
    let hyp = t.path().join("hyp.txt");
    let mut lines: Vec<String> = test
        .iter()
        .map(|u| format!("{} {}", u.id, u.norm_text))
        .collect();
    std::fs::write(&hyp, lines.join("\n") + "\n").unwrap();
    let score = |hyp: &Path| {
        let out = common::bin()
            .arg("score")
            .arg("--ref")
            .arg(k.join("test/text"))
            .arg("--hyp")
            .arg(hyp)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "score refused manifest ids: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let words: usize = test.iter().map(|u| u.norm_text.split(' ').count()).sum();
    let s = score(&hyp);
    assert!(s.contains(&format!("%WER 0.00 [ 0 / {words},")), "{s}");
    assert!(
        s.contains(&format!("Scored {} sentences, 0 not present", test.len())),
        "{s}"
    );
    lines[0] = format!("{} zzzz {}", test[0].id, test[0].norm_text);
    std::fs::write(&hyp, lines.join("\n") + "\n").unwrap();
    let s = score(&hyp);
    assert!(s.contains(&format!("[ 1 / {words}, 1 ins")), "{s}");

    // A folder from before this id form (no `ids` in synth.toml) is not extended
    // with ids of a second form: refused, saying why.
    let settings = dir.join("synth.toml");
    let old: String = std::fs::read_to_string(&settings)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("ids = "))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&settings, old).unwrap();
    let e = synth::generate(&cfg, &dir, false).unwrap_err().to_string();
    assert!(e.contains("older crossover") && e.contains("delete"), "{e}");
}
