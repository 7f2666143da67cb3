//! char-ctc on real audio: overfitting 20 FSDD recordings, save/load round
//! trip, and exact resumption of an interrupted training.
use std::path::Path;

use crossover::corpus::{Corpus, Split, Utterance};
use crossover::loader::Loader;
use crossover::neural::{self, CtcConfig, CtcModel, EncoderKind};
use crossover::pipeline::{DeviceChoice, Recogniser, TrainContext};

const DIGITS: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];

/// 20 FSDD recordings: digits 0-9 by two speakers, take 5.
/// libtorch's RNG (`tch::manual_seed`) and thread count are process-wide, and
/// cargo runs tests on parallel threads: training tests take this lock so
/// one test's seeding cannot interleave with another's draws.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn fsdd20() -> Corpus {
    let root = crossover::shared::require_corpora()
        .join("fsdd")
        .join("recordings");
    let mut utterances = Vec::new();
    for speaker in ["jackson", "george"] {
        for (d, word) in DIGITS.iter().enumerate() {
            let file = format!("{d}_{speaker}_5.wav");
            assert!(
                root.join(&file).exists(),
                "missing {}",
                root.join(&file).display()
            );
            utterances.push(Utterance {
                id: format!("{speaker}_{d}_5"),
                audio: file.into(),
                speaker: speaker.into(),
                split: Split::Train,
                duration: 0.5,
                text: word.to_string(),
                norm_text: word.to_string(),
                phonemes: String::new(),
                group: String::new(),
                augment: String::new(),
            });
        }
    }
    Corpus { root, utterances }
}

/// A small GRU model and a schedule that overfits 20 digits quickly.
fn overfit_config() -> CtcConfig {
    let mut c = CtcConfig::default();
    c.presets.clear();
    c.model.encoder = EncoderKind::Gru;
    c.model.hidden = 96;
    c.model.layers = 2;
    c.model.conv_channels = 16;
    c.model.dropout = 0.0;
    c.train.spec_augment.freq_masks = 0;
    c.train.spec_augment.time_masks = 0;
    c.train.batch_seconds = 4.0;
    c.train.lr = 3e-3;
    c.train.warmup_steps = 10;
    c.train.patience = 0;
    c
}

fn context<'a>(loader: &'a Loader<'a>, out: &Path, seed: u64) -> TrainContext<'a> {
    let corpus = loader.corpus();
    let all: Vec<&Utterance> = corpus.utterances.iter().collect();
    TrainContext {
        corpus,
        loader,
        train: all.clone(),
        dev: all,
        seed,
        threads: 1,
        device: DeviceChoice::Cpu,
        out_dir: out.to_path_buf(),
        progress: false,
    }
}

fn cer(model: &CtcModel, corpus: &Corpus) -> f64 {
    let utts: Vec<&Utterance> = corpus.utterances.iter().collect();
    let hyps = model.transcribe(&Loader::new(corpus), &utts, 2).unwrap();
    let (mut e, mut n) = (0, 0);
    for (h, u) in hyps.iter().zip(&utts) {
        assert_eq!(h.id, u.id);
        let r: Vec<char> = u.norm_text.chars().collect();
        let hc: Vec<char> = h.words.chars().collect();
        e += neural::train::edit_distance(&hc, &r);
        n += r.len();
    }
    e as f64 / n as f64
}

#[test]
fn overfits_twenty_digits_and_round_trips() {
    let _serial = serial();
    let corpus = fsdd20();
    let loader = Loader::new(&corpus);
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = overfit_config();
    cfg.train.max_epochs = 120;
    let model = neural::train_ctc(&cfg, &context(&loader, tmp.path(), 7)).unwrap();
    let rate = cer(&model, &corpus);
    eprintln!(
        "overfit: CER {:.2}%; {}",
        100.0 * rate,
        model.summary().notes
    );
    assert!(
        rate < 0.05,
        "CER {:.1}% after overfitting; {}",
        100.0 * rate,
        model.summary().notes
    );
    assert_eq!(model.summary().kind, "char-ctc");
    assert!(model.summary().size > 100_000);

    // Save, load: identical posteriors and transcripts.
    let dir = tmp.path().join("model");
    model.save(&dir).unwrap();
    let loaded = CtcModel::load(&dir).unwrap();
    let utts: Vec<&Utterance> = corpus.utterances.iter().take(3).collect();
    let ex = neural::examples(&loader, &utts, None, 80, 2).unwrap();
    for e in &ex {
        assert_eq!(model.posteriors(&e.feats), loaded.posteriors(&e.feats));
    }
    assert_eq!(
        model.transcribe(&loader, &utts, 1).unwrap(),
        loaded.transcribe(&loader, &utts, 1).unwrap()
    );
    assert_eq!(loaded.summary().size, model.summary().size);

    // Shallow fusion (the decode --fusion-lm ablation): with an LM that knows
    // the ten digits, beam search keeps the overfitted transcripts.
    let mut fused = CtcModel::load(&dir).unwrap();
    let lm = crossover::lang::lm::NgramLm::estimate(DIGITS, std::iter::empty::<&str>(), 2).unwrap();
    fused
        .set_fusion(neural::FusionSettings {
            lm: neural::fusion::ArpaWordLm::new(lm),
            weight: 0.5,
            word_bonus: 1.0,
        })
        .unwrap();
    assert_eq!(fused.cfg.decode.method, neural::config::DecodeMethod::Beam);
    let fused_rate = cer(&fused, &corpus);
    assert!(
        fused_rate < 0.05,
        "CER with fusion {:.1}%",
        100.0 * fused_rate
    );
}

#[test]
fn interrupted_training_resumes_exactly() {
    let _serial = serial();
    let corpus = fsdd20();
    let loader = Loader::new(&corpus);
    let mut cfg = overfit_config();
    cfg.train.max_epochs = 4;
    cfg.model.hidden = 32;
    cfg.model.layers = 1;
    let straight = tempfile::tempdir().unwrap();
    let a = neural::train_ctc(&cfg, &context(&loader, straight.path(), 3)).unwrap();
    // Same job, stopped after 2 epochs, then resumed from the checkpoint folder.
    let split = tempfile::tempdir().unwrap();
    let mut first = cfg.clone();
    first.train.stop_after_epochs = 2;
    let half = neural::train_ctc(&first, &context(&loader, split.path(), 3)).unwrap();
    assert_eq!(half.training_state().unwrap().epochs_done, 2);
    let b = neural::train_ctc(&cfg, &context(&loader, split.path(), 3)).unwrap();
    assert_eq!(b.training_state().unwrap().epochs_done, 4);
    let utts: Vec<&Utterance> = corpus.utterances.iter().take(2).collect();
    let ex = neural::examples(&loader, &utts, None, 80, 2).unwrap();
    for e in &ex {
        assert_eq!(
            a.posteriors(&e.feats),
            b.posteriors(&e.feats),
            "resumed run differs from the uninterrupted one"
        );
    }
    // A different seed is a different job: the checkpoint folder refuses it.
    let err = neural::train_ctc(&cfg, &context(&loader, split.path(), 4))
        .err()
        .expect("fingerprint mismatch");
    assert!(err.to_string().contains("different training job"), "{err}");
}

/// A network that has learned nothing yet (dev error 100 % or more, as in
/// CTC's all-blank phase) has not converged, however long its dev error has
/// been flat: it runs on to its cap and is marked so.
#[test]
fn a_run_that_never_leaves_the_blank_phase_is_not_called_converged() {
    let _serial = serial();
    let corpus = fsdd20();
    let loader = Loader::new(&corpus);
    let mut cfg = overfit_config();
    cfg.model.hidden = 32;
    cfg.model.layers = 1;
    // Too small a rate to leave the blank phase in 6 epochs.
    cfg.train.lr = 1e-9;
    cfg.train.max_epochs = 6;
    cfg.train.min_epochs = 1;
    cfg.train.patience = 2;
    cfg.train.min_updates_per_epoch = 2;
    let tmp = tempfile::tempdir().unwrap();
    let m = neural::train_ctc(&cfg, &context(&loader, tmp.path(), 5)).unwrap();
    let st = m.training_state().unwrap();
    assert!(st.best_dev_error.unwrap() >= 0.999, "{st:?}");
    assert_eq!(st.epochs_done, 6, "stopped early: {:?}", st.stop_reason);
    assert_eq!(
        st.stop_reason,
        Some(neural::train::StopReason::EpochCap),
        "{:?}",
        st.stopped
    );
}

#[test]
fn phone_ctc_overfits_and_decodes_words_through_the_lexicon() {
    let _serial = serial();
    let corpus = fsdd20();
    let loader = Loader::new(&corpus);
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = overfit_config();
    cfg.kind = "phone-ctc".into();
    cfg.train.max_epochs = 120;
    // The word search's LM weight is chosen on dev from this grid.
    cfg.word_tune.lm_weights = vec![0.5, 7.0];
    let model = neural::train_ctc(&cfg, &context(&loader, tmp.path(), 11)).unwrap();
    let notes = model.summary().notes;
    assert!(notes.contains("word search tuned on dev"), "{notes}");
    assert!(
        notes.contains("0.5/0: ") && notes.contains("7/0: "),
        "both grid points scored: {notes}"
    );
    let chosen = model.cfg.word_decode.lm_weight;
    assert!(chosen == 0.5 || chosen == 7.0, "{chosen}");
    let dir = tmp.path().join("model");
    model.save(&dir).unwrap();
    let loaded = CtcModel::load(&dir).unwrap();
    assert_eq!(
        loaded.cfg.word_decode.lm_weight, chosen,
        "the choice is saved"
    );
    let utts: Vec<&Utterance> = corpus.utterances.iter().collect();
    let hyps = loaded.transcribe(&loader, &utts, 1).unwrap();
    let wrong = hyps
        .iter()
        .zip(&utts)
        .filter(|(h, u)| h.words != u.norm_text)
        .count();
    eprintln!(
        "phone-ctc: {wrong}/20 words wrong; {}",
        model.summary().notes
    );
    assert!(
        wrong <= 1,
        "{wrong} of 20 digits misrecognised: {:?}",
        hyps.iter().map(|h| &h.words).collect::<Vec<_>>()
    );
    assert!(hyps
        .iter()
        .all(|h| h.phones.as_deref().is_some_and(|p| !p.is_empty())));
    assert_eq!(hyps, model.transcribe(&loader, &utts, 1).unwrap());
}
