//! char-ctc on real audio: overfitting 20 FSDD recordings, save/load round
//! trip, and exact resumption of an interrupted training.
use std::path::Path;

use crossover::corpus::{Corpus, Split, Utterance};
use crossover::loader::Loader;
use crossover::neural::{self, CtcConfig, CtcModel, EncoderKind};
use crossover::pipeline::{DeviceChoice, Recogniser, TrainContext};

mod common;

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
    let root = common::require_corpora().join("fsdd").join("recordings");
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
        shared_networks: None,
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
        e += crossover::score::edit_distance(&hc, &r);
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

/// Speed perturbation, in both modes: the perturbed copies' features come
/// from caches of their own, training differs from the unperturbed run,
/// the same seed gives the same network, and a run stopped after 2 epochs
/// and resumed ends exactly where the uninterrupted one does (the factors
/// drawn per epoch come from the seed, not from how the run was split).
#[test]
fn speed_perturbed_training_is_deterministic_and_resumes_exactly() {
    use crossover::neural::config::SpeedPerturbMode;
    let _serial = serial();
    let corpus = fsdd20();
    let loader = Loader::new(&corpus);
    let mut plain = overfit_config();
    plain.train.max_epochs = 3;
    plain.train.min_updates_per_epoch = 10;
    plain.model.hidden = 32;
    plain.model.layers = 1;
    let utts: Vec<&Utterance> = corpus.utterances.iter().take(2).collect();
    let ex = neural::examples(&loader, &utts, None, 80, 2).unwrap();
    let unperturbed = neural::train_ctc(
        &plain,
        &context(&loader, tempfile::tempdir().unwrap().path(), 3),
    )
    .unwrap();
    for mode in [SpeedPerturbMode::Random, SpeedPerturbMode::Copies] {
        let mut cfg = plain.clone();
        cfg.train.speed_perturb = vec![0.9, 1.0, 1.1];
        cfg.train.speed_perturb_mode = mode;
        let straight = tempfile::tempdir().unwrap();
        let a = neural::train_ctc(&cfg, &context(&loader, straight.path(), 3)).unwrap();
        let again = tempfile::tempdir().unwrap();
        let a2 = neural::train_ctc(&cfg, &context(&loader, again.path(), 3)).unwrap();
        let split = tempfile::tempdir().unwrap();
        let mut first = cfg.clone();
        first.train.stop_after_epochs = 2;
        neural::train_ctc(&first, &context(&loader, split.path(), 3)).unwrap();
        let b = neural::train_ctc(&cfg, &context(&loader, split.path(), 3)).unwrap();
        assert_eq!(b.training_state().unwrap().epochs_done, 3);
        for e in &ex {
            let p = a.posteriors(&e.feats);
            assert_eq!(
                p,
                a2.posteriors(&e.feats),
                "{mode:?}: same seed, same network"
            );
            assert_eq!(
                p,
                b.posteriors(&e.feats),
                "{mode:?}: resumed run differs from the uninterrupted one"
            );
            assert_ne!(
                p,
                unperturbed.posteriors(&e.feats),
                "{mode:?}: perturbation changed nothing"
            );
        }
    }
    // The perturbed copies' features: one cache per factor, the audio 1/f as long.
    let at = |speed: f32| {
        let cfg = neural::fbank::perturbed_input_features(80, speed);
        loader.frames(&cfg, &utts).unwrap()
    };
    let (slow, base, fast) = (at(0.9), at(1.0), at(1.1));
    for i in 0..utts.len() {
        assert!(
            slow[i] > base[i] && base[i] > fast[i],
            "{slow:?} {base:?} {fast:?}"
        );
        let ratio = base[i] as f64 / fast[i] as f64;
        assert!((ratio - 1.1).abs() < 0.05, "{ratio}");
    }
}

/// Babble noise: the noisy copy has the clean copy's frames, other values,
/// the same values from a fresh loader (the draws come from the seed and
/// the utterance id), and a lower SNR gives features farther from clean.
#[test]
fn babble_noise_is_deterministic_and_scales_with_the_snr() {
    use crossover::features::BabbleNoise;
    let corpus = fsdd20();
    let utts: Vec<&Utterance> = corpus.utterances.iter().take(3).collect();
    let clean_cfg = neural::fbank::input_features(80);
    let noisy = |snr: f32| {
        let b = BabbleNoise {
            snr_db: [snr, snr],
            ..Default::default()
        };
        neural::fbank::noisy_input_features(80, &b)
    };
    let loader = Loader::new(&corpus);
    let clean = loader.features(&clean_cfg, &utts).unwrap();
    let loud = loader.features(&noisy(0.0), &utts).unwrap();
    let soft = loader.features(&noisy(20.0), &utts).unwrap();
    let again = Loader::new(&corpus).features(&noisy(0.0), &utts).unwrap();
    let dist = |a: &crossover::matrix::Matrix, b: &crossover::matrix::Matrix| {
        a.data
            .iter()
            .zip(&b.data)
            .map(|(x, y)| (x - y).abs() as f64)
            .sum::<f64>()
            / a.data.len() as f64
    };
    for i in 0..utts.len() {
        assert_eq!(loud[i].rows, clean[i].rows);
        assert_eq!(loud[i], again[i], "same seed, same babble");
        let (d_loud, d_soft) = (dist(&loud[i], &clean[i]), dist(&soft[i], &clean[i]));
        assert!(
            d_soft > 0.0 && d_loud > 2.0 * d_soft,
            "{d_loud} vs {d_soft}"
        );
    }
}

/// A fresh plateau ("newbob") schedule runs at the configured peak rate
/// after its warm-up, and is cut only once dev error stalls. A state that
/// started at scale 0 trained every cell at `final_lr_ratio` of the peak.
#[test]
fn the_plateau_schedule_starts_at_the_peak_rate() {
    let _serial = serial();
    let corpus = fsdd20();
    let loader = Loader::new(&corpus);
    let mut cfg = overfit_config();
    cfg.model.hidden = 32;
    cfg.model.layers = 1;
    cfg.train.schedule = neural::config::LrSchedule::Plateau;
    cfg.train.max_epochs = 2;
    cfg.train.min_updates_per_epoch = 12; // past the 10 warm-up updates in epoch 1
    let tmp = tempfile::tempdir().unwrap();
    let m = neural::train_ctc(&cfg, &context(&loader, tmp.path(), 6)).unwrap();
    let st = m.training_state().unwrap();
    assert!(st.history[0].updates > cfg.train.warmup_steps, "{st:?}");
    assert!(
        (st.history[0].lr - cfg.train.lr).abs() < 1e-12,
        "epoch 1 ran at {} instead of the peak {}",
        st.history[0].lr,
        cfg.train.lr
    );
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

/// The variables of a saved model folder, by name.
fn saved_vars(dir: &Path) -> std::collections::HashMap<String, tch::Tensor> {
    tch::Tensor::load_multi(dir.join("model.ot"))
        .unwrap()
        .into_iter()
        .collect()
}

#[test]
fn mtl_ctc_learns_both_heads_and_round_trips() {
    let _serial = serial();
    let corpus = fsdd20();
    let loader = Loader::new(&corpus);
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = overfit_config();
    cfg.kind = "mtl-ctc".into();
    cfg.train.max_epochs = 120;
    cfg.mtl.phone_weight = 0.3;
    let model = neural::train_ctc(&cfg, &context(&loader, tmp.path(), 7)).unwrap();
    let s = model.summary();
    assert_eq!(s.kind, "mtl-ctc");
    let per: f64 = s
        .choices
        .strip_prefix("phone_head_dev_per=")
        .unwrap_or_else(|| panic!("dev PER of the phone head on record: {}", s.choices))
        .parse()
        .unwrap();
    let rate = cer(&model, &corpus);
    eprintln!(
        "mtl-ctc: CER {:.2}%, phone head PER {per:.2}%",
        100.0 * rate
    );
    assert!(rate < 0.05, "character head CER {:.1}%", 100.0 * rate);
    assert!(per < 10.0, "phone head dev PER {per}%");
    let utts: Vec<&Utterance> = corpus.utterances.iter().collect();
    let hyps = model.transcribe(&loader, &utts, 1).unwrap();
    // Words from the character head, phones from the phone head.
    assert!(hyps
        .iter()
        .all(|h| h.phones.as_deref().is_some_and(|p| !p.is_empty())));
    let dir = tmp.path().join("model");
    model.save(&dir).unwrap();
    assert!(dir.join("aux_tokens.txt").exists());
    let loaded = CtcModel::load(&dir).unwrap();
    assert_eq!(hyps, loaded.transcribe(&loader, &utts, 1).unwrap());
    // The phone head adds parameters beyond char-ctc's.
    let vars = saved_vars(&dir);
    assert!(
        vars.keys().any(|k| k.starts_with("aux_out.")),
        "{:?}",
        vars.keys()
    );
}

#[test]
fn fine_tuning_copies_the_encoder_freezes_and_reinitialises_a_new_head() {
    let _serial = serial();
    let corpus = fsdd20();
    let loader = Loader::new(&corpus);
    let tmp = tempfile::tempdir().unwrap();
    let mut base_cfg = overfit_config();
    base_cfg.train.max_epochs = 40;
    let base = neural::train_ctc(&base_cfg, &context(&loader, &tmp.path().join("b"), 3)).unwrap();
    let base_dir = tmp.path().join("base");
    base.save(&base_dir).unwrap();
    let base_cer = cer(&base, &corpus);

    // char-ctc from the base model with a vanishing learning rate: the same
    // architecture (its [model] is ignored), the same weights, the same CER.
    let mut ft = overfit_config();
    ft.model.hidden = 32;
    ft.train.max_epochs = 1;
    ft.train.min_epochs = 0;
    ft.init.model = Some(base_dir.clone());
    ft.init.lr = Some(1e-9);
    ft.init.warmup_steps = Some(1);
    let tuned = neural::train_ctc(&ft, &context(&loader, &tmp.path().join("t"), 4)).unwrap();
    assert_eq!(
        tuned.model_cfg, base.model_cfg,
        "the initial model's architecture"
    );
    assert!(
        tuned.summary().init.contains("char-ctc model"),
        "{}",
        tuned.summary().init
    );
    let tuned_cer = cer(&tuned, &corpus);
    assert!(
        (tuned_cer - base_cer).abs() < 0.02,
        "fine-tuned {tuned_cer} vs initial {base_cer}: the weights were not copied"
    );
    // A random network of that size is nowhere near the base model.
    assert!(base_cer < 0.2, "base model CER {base_cer}");

    // phone-ctc from the char model: a new output layer (other tokens),
    // the front end and both encoder layers frozen throughout (3 layers).
    let mut ph = overfit_config();
    ph.kind = "phone-ctc".into();
    ph.train.max_epochs = 2;
    ph.init.model = Some(base_dir.clone());
    ph.init.freeze_layers = 3;
    ph.init.freeze_updates = 1_000_000;
    ph.word_tune.lm_weights = vec![];
    let phone = neural::train_ctc(&ph, &context(&loader, &tmp.path().join("p"), 5)).unwrap();
    let notes = phone.summary().notes;
    assert!(notes.contains("out re-initialised"), "{notes}");
    let phone_dir = tmp.path().join("phone");
    phone.save(&phone_dir).unwrap();
    let (a, b) = (saved_vars(&base_dir), saved_vars(&phone_dir));
    for (name, t) in &a {
        if name.starts_with("out.") {
            assert_ne!(
                b[name].size(),
                t.size(),
                "{name}: phone tokens differ from characters"
            );
        } else {
            assert!(b[name].equal(t), "{name} moved although frozen");
        }
    }
    // Frozen only for the first updates: the encoder moves afterwards.
    ph.init.freeze_updates = 5;
    let thawed = neural::train_ctc(&ph, &context(&loader, &tmp.path().join("q"), 5)).unwrap();
    let thawed_dir = tmp.path().join("thawed");
    thawed.save(&thawed_dir).unwrap();
    let c = saved_vars(&thawed_dir);
    assert!(
        a.iter()
            .filter(|(n, _)| n.starts_with("encoder."))
            .any(|(n, t)| !c[n].equal(t)),
        "the encoder should train after freeze_updates"
    );

    // mtl-ctc from the char model: encoder and character head copied,
    // the phone head new.
    let mut mt = overfit_config();
    mt.kind = "mtl-ctc".into();
    mt.train.max_epochs = 1;
    mt.init.model = Some(base_dir.clone());
    mt.init.lr = Some(1e-9);
    mt.init.warmup_steps = Some(1);
    let mtl = neural::train_ctc(&mt, &context(&loader, &tmp.path().join("m"), 6)).unwrap();
    let notes = mtl.summary().notes;
    assert!(
        notes.contains("aux_out re-initialised")
            && !notes.contains(" out re-initialised")
            && !notes.contains("(out, "),
        "{notes}"
    );
    assert!((cer(&mtl, &corpus) - base_cer).abs() < 0.02);

    // A folder that is not a model is a clear error naming it.
    let mut bad = overfit_config();
    bad.init.model = Some(tmp.path().join("nothing-here"));
    let e = neural::train_ctc(&bad, &context(&loader, &tmp.path().join("x"), 1))
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("nothing-here") && e.contains("not a trained CTC model folder"),
        "{e}"
    );
}

/// `crossover bench ctc` (the tch side of `scripts/bench_ctc_grid.sh`): its
/// JSON carries the throughput and a phase split that adds up to the step.
#[test]
fn bench_ctc_reports_throughput_and_a_phase_split_that_adds_up() {
    let out = common::bin()
        .args([
            "bench",
            "ctc",
            "--threads",
            "1",
            "--batch",
            "2",
            "--frames",
            "200",
            "--steps",
            "3",
            "--warmup",
            "1",
            "--hidden",
            "16",
            "--layers",
            "1",
            "--encoder",
            "lstm",
        ])
        .output()
        .expect("run crossover bench ctc");
    assert!(
        out.status.success(),
        "bench ctc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("bench prints JSON");
    let f = |k: &str| {
        v[k].as_f64()
            .unwrap_or_else(|| panic!("no number {k} in {v}"))
    };
    assert_eq!(v["step_times"].as_array().map(|a| a.len()), Some(3));
    let step = f("median_step_s");
    assert!(step > 0.0 && f("audio_s_per_s") > 0.0, "{v}");
    // Medians of the phases need not sum exactly to the median step; within
    // a factor they must, or a phase is mis-timed.
    let phases = f("median_forward_s") + f("median_backward_s") + f("median_optimizer_s");
    assert!(
        phases > 0.5 * step && phases < 2.0 * step,
        "phases {phases} s against step {step} s: {v}"
    );
}
