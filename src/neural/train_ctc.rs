//! Training a CTC recogniser for a cell: targets, the fitting loop
//! ([`super::train`]), then the decoding settings chosen on dev (the
//! external LM, the phone-ctc word search).
use std::sync::Mutex;

use rayon::prelude::*;
use sha2::{Digest, Sha256};
use tch::nn;
use tch::Device;

use super::config::CtcConfig;
use super::device::device_name;
use super::device::resolve_device;
use super::examples::examples_with_aux;
use super::examples::perturbation_configs;
use super::examples::thread_pool;
use super::examples::TargetFn;
use super::fbank;
use super::init;
use super::lm_decode;
use super::model;
use super::model::AuxHead;
use super::model::CtcNet;
use super::network_store;
use super::phone_words;
use super::recogniser::token_kind;
use super::recogniser::CtcModel;
use super::tokens::TokenKind;
use super::tokens::TokenSet;
use super::train;
use super::train::Example;
use crate::corpus::Utterance;
use crate::error::Error;
use crate::error::Result;
use crate::matrix::Matrix;
use crate::pipeline::ModelSummary;
use crate::pipeline::TrainContext;

/// Train a CTC recogniser on `ctx.train`, selecting the checkpoint by dev error.
/// Checkpoints go to `ctx.out_dir/checkpoints`; an interrupted run resumes there.
pub fn train_ctc(cfg: &CtcConfig, ctx: &TrainContext) -> Result<CtcModel> {
    cfg.validate()?;
    if ctx.train.is_empty() {
        return Err(Error::Invalid("no training utterances".into()));
    }
    let device = resolve_device(ctx.device)?;
    tch::set_num_threads(ctx.threads.max(1) as i32);
    // Before anything else: a pre-training this pipeline starts from (trained now if not cached).
    let initial = init::resolve(&cfg.init, ctx.threads, ctx.device, ctx.progress)?;
    let phone_tokens = || TokenSet::phones(&crate::lang::phones::PhoneSet::standard());
    // phone-ctc decodes words with the lexicon and LM; mtl-ctc takes only its phone targets from the lexicon.
    let lexicon = match cfg.kind.as_str() {
        "char-ctc" => None,
        _ => Some(phone_words::WordDecoder::train(
            &cfg.lexicon,
            &cfg.lm,
            ctx,
            phone_tokens().len(),
        )?),
    };
    let mtl = cfg.kind == "mtl-ctc";
    let (tokens, words, aux_tokens) = match token_kind(&cfg.kind) {
        TokenKind::Phones => (phone_tokens(), lexicon.as_ref(), None),
        TokenKind::Chars => (TokenSet::chars(), None, mtl.then(phone_tokens)),
    };
    let char_targets = |u: &Utterance| tokens.encode(u);
    let phone_targets = |u: &Utterance| lexicon.as_ref().expect("a lexicon").targets(u);
    let targets: &TargetFn = if words.is_some() {
        &phone_targets
    } else {
        &char_targets
    };
    let aux_targets: Option<&TargetFn> = if mtl { Some(&phone_targets) } else { None };
    let max_dur = cfg.train.max_utterance_seconds;
    let train_utts: Vec<&Utterance> = ctx
        .train
        .iter()
        .copied()
        .filter(|u| u.duration <= max_dur || u.duration <= 0.0)
        .collect();
    let skipped_long = ctx.train.len() - train_utts.len();
    let hours = train_utts.iter().map(|u| u.duration).sum::<f64>() / 3600.0;
    let (model_cfg, preset_note) = match &initial {
        Some(i) => (
            i.model_cfg.clone(),
            format!("initialised from {}", i.description),
        ),
        None => cfg.model_for_hours(hours),
    };
    if mtl && cfg.mtl.phone_layer as i64 > model_cfg.layers {
        return Err(Error::Config(format!(
            "mtl.phone_layer = {}: the encoder has {} layers",
            cfg.mtl.phone_layer, model_cfg.layers
        )));
    }
    // Caps that may grow with the data: resolved once here.
    let update_cap = cfg.train.update_cap(hours);
    let time_cap = cfg.train.time_cap(hours);
    let mel = model_cfg.num_mel_bins as usize;

    // Targets now; features are read from the cache one batch at a time.
    let train_targets: Vec<Vec<i64>> = thread_pool(ctx.threads)?.install(|| {
        train_utts
            .par_iter()
            .map(|u| targets(u))
            .collect::<Result<_>>()
    })?;
    let cache = ctx.loader.cache(&fbank::input_features(mel))?;
    let mut train = thread_pool(ctx.threads)?
        .install(|| train::TrainSet::new(train_utts.clone(), train_targets, cache))?;
    let perturbed = perturbation_configs(&cfg.train, mel);
    if !perturbed.is_empty() {
        if ctx.progress {
            eprintln!(
                "augmentation: speed perturbation {:?}, babble {:?} ({:?}): features of the augmented copies from the loader's cache (computed once per corpus)",
                cfg.train.speed_perturb, cfg.train.babble, cfg.train.speed_perturb_mode
            );
        }
        let caches = perturbed
            .iter()
            .map(|f| ctx.loader.cache(f))
            .collect::<Result<Vec<_>>>()?;
        let mode = cfg.train.speed_perturb_mode;
        train = thread_pool(ctx.threads)?.install(|| train.with_perturbed(caches, mode))?;
    }
    if let Some(aux) = aux_targets {
        let phones: Vec<Vec<i64>> = thread_pool(ctx.threads)?
            .install(|| train_utts.par_iter().map(|u| aux(u)).collect::<Result<_>>())?;
        train = train.with_aux_targets(phones);
    }
    // CTC needs at least as many output frames as targets (plus blanks between repeats).
    let before = train.len();
    train.retain(|frames, target| {
        let repeats = target.windows(2).filter(|w| w[0] == w[1]).count() as i64;
        model::subsampled_len(frames as i64, model_cfg.subsampling) >= target.len() as i64 + repeats
    });
    let skipped_short = before - train.len();
    if train.is_empty() {
        return Err(Error::Invalid(
            "every training utterance is too short for its transcript at this subsampling".into(),
        ));
    }
    let dev_utts: Vec<&Utterance> = ctx.dev.to_vec();
    let dev = if dev_utts.is_empty() {
        Vec::new()
    } else {
        examples_with_aux(
            ctx.loader,
            &dev_utts,
            Some(targets),
            aux_targets,
            mel,
            ctx.threads,
        )?
    };

    tch::manual_seed(ctx.seed as i64);
    let mut vs = nn::VarStore::new(device);
    let aux_head = aux_tokens.as_ref().map(|t| AuxHead {
        vocab: t.len() as i64,
        layer: cfg.mtl.phone_layer,
    });
    let net = CtcNet::with_aux(&vs.root(), &model_cfg, tokens.len() as i64, aux_head);
    let params = model::parameter_count(&vs);
    let mut train_cfg = cfg.train.clone();
    let mut freeze = Vec::new();
    let mut init_note = String::new();
    if let Some(i) = &initial {
        let fresh = init::copy_weights(&vs, i, &tokens, aux_tokens.as_ref())?;
        let fresh_heads: std::collections::BTreeSet<&str> = fresh
            .iter()
            .map(|n| n.split('.').next().unwrap_or(n))
            .collect();
        init_note = format!(
            "; weights from {}{}",
            i.dir.display(),
            if fresh_heads.is_empty() {
                String::new()
            } else {
                format!(
                    " ({} re-initialised: its token set differs or the initial model lacks it)",
                    fresh_heads.into_iter().collect::<Vec<_>>().join(", ")
                )
            }
        );
        if let Some(lr) = cfg.init.lr {
            train_cfg.lr = lr;
        }
        if let Some(w) = cfg.init.warmup_steps {
            train_cfg.warmup_steps = w;
        }
        let layers = model::layer_prefixes(&model_cfg);
        freeze = layers
            .into_iter()
            .take(cfg.init.freeze_layers)
            .flatten()
            .collect();
    }
    if ctx.progress {
        eprintln!(
            "{}: {:?} encoder, {} layers x {}, x{} subsampling, {} parameters ({preset_note}); {} training utterances ({hours:.3} h), {} dev, device {}",
            cfg.kind, model_cfg.encoder, model_cfg.layers, model_cfg.hidden, model_cfg.subsampling, params, train.len(), dev.len(), device_name(device)
        );
    }
    // Settings that only say when to stop may change between a run and its resumption.
    let mut fp_cfg = cfg.clone();
    fp_cfg.train.max_train_seconds = 0.0;
    fp_cfg.train.train_seconds_per_hour = 0.0;
    fp_cfg.train.patience = 0;
    fp_cfg.train.stop_after_epochs = 0;
    fp_cfg.decode = Default::default();
    let mut h = Sha256::new();
    h.update(fp_cfg.to_toml());
    h.update(serde_json::to_string(&model_cfg).expect("serialisable"));
    h.update(tokens.symbols.join("\n"));
    for id in &train.ids {
        h.update(id);
        h.update(b"\n");
    }
    h.update(ctx.seed.to_le_bytes());
    h.update(TRAINER_REVISION.to_le_bytes());
    if let Some(i) = &initial {
        h.update(&i.fingerprint);
    }
    let fingerprint = hex::encode(h.finalize());
    let checkpoint_dir = ctx.out_dir.join("checkpoints");
    // In a sweep, the same network (a decoding variant's) is trained once.
    let slot = match &ctx.shared_networks {
        Some(store) => Some(network_store::adopt(store, &fingerprint, &checkpoint_dir)?),
        None => None,
    };
    let job = train::TrainJob {
        cfg: &train_cfg,
        tokens: &tokens,
        train: &train,
        dev: &dev,
        seed: ctx.seed,
        device,
        checkpoint_dir: checkpoint_dir.clone(),
        fingerprint,
        progress: ctx.progress,
        update_cap,
        time_cap,
        aux_weight: if mtl { cfg.mtl.phone_weight } else { 0.0 },
        freeze,
        freeze_updates: cfg.init.freeze_updates,
    };
    let st = train::train_loop(&job, &mut vs, &net)?;
    let adopted = slot.as_ref().is_some_and(|(_, adopted)| *adopted);
    if let Some((slot, _)) = &slot {
        if st.stop_reason.is_some() {
            slot.publish(&checkpoint_dir)?;
        }
    }
    drop(slot);
    let speed = if st.train_seconds > 0.0 {
        st.audio_seconds_trained / st.train_seconds
    } else {
        0.0
    };
    let notes = format!(
        "{preset_note}; encoder {:?} {}x{}, x{} subsampling; {} epochs ({}), best epoch {} dev {} {}; {:.0} s training, {:.0} audio-s/s; skipped {} over {} s and {} too short for their transcript",
        model_cfg.encoder,
        model_cfg.layers,
        model_cfg.hidden,
        model_cfg.subsampling,
        st.epochs_done,
        st.stopped.clone().unwrap_or_else(|| "paused by stop_after_epochs".into()),
        st.best_epoch,
        if tokens.kind == TokenKind::Chars { "CER" } else { "PER" },
        st.best_dev_error.map_or("n/a".to_string(), |e| format!("{:.2}%", 100.0 * e)),
        st.train_seconds,
        speed,
        skipped_long,
        max_dur,
        skipped_short,
    );
    let mut cfg = cfg.clone();
    let mut notes = notes + &init_note;
    if adopted {
        notes.push_str(
            "; network reused from the sweep's store (trained once by a pipeline that differs only in decoding)",
        );
    }
    let mut choices = String::new();
    if mtl && !dev.is_empty() {
        // The phone head's dev PER at the kept checkpoint (it is never decoded for words).
        let per = train::head_error_rate(&net, &dev, vs.device(), true);
        notes.push_str(&format!("; phone head dev PER {:.2}%", 100.0 * per));
        choices = format!("phone_head_dev_per={:.2}", 100.0 * per);
    }
    if let Some(w) = &words {
        let refs: std::collections::BTreeMap<String, String> = ctx
            .dev
            .iter()
            .map(|u| (u.id.clone(), u.norm_text.clone()))
            .collect();
        if let Some((dc, line)) = tune_word_search(&cfg, w, &net, vs.device(), &dev, &refs)? {
            notes.push_str(&format!("; {line}"));
            choices = format!(
                "lm_weight={} word_penalty={}",
                dc.lm_weight, dc.word_penalty
            );
            if ctx.progress {
                eprintln!("{line}");
            }
            cfg.word_decode = dc;
        }
    }
    let external = match cfg.decode.external_lm.clone() {
        Some(x) => {
            let (lm, tuned) = external_lm(&cfg, &x, ctx, &tokens, &net, vs.device(), &dev)?;
            if let Some(t) = tuned {
                notes.push_str(&format!("; {}", t.line));
                if !choices.is_empty() {
                    choices.push(' ');
                }
                choices.push_str(&t.chosen.to_string());
                if ctx.progress {
                    eprintln!("{}", t.line);
                }
                cfg.decode.external_lm = Some(x.fixed(t.chosen));
            }
            Some(lm)
        }
        None => None,
    };
    let mut record = st.record();
    if adopted {
        // Another cell's network: all its training counts as reused, none
        // as this cell's own earlier runs.
        record.reused_network_seconds = record.train_seconds;
        record.resumed_seconds = 0.0;
    }
    let summary = ModelSummary {
        kind: cfg.kind.clone(),
        size: params,
        size_unit: "parameters".into(),
        device: device_name(device),
        notes,
        choices,
        training: Some(record),
        init: initial
            .as_ref()
            .map(|i| i.description.clone())
            .unwrap_or_default(),
    };
    let words = match cfg.kind.as_str() {
        "phone-ctc" => lexicon,
        _ => None,
    };
    Ok(CtcModel {
        cfg,
        model_cfg,
        tokens,
        aux_tokens,
        summary,
        training: Some(st),
        words,
        net: Mutex::new((vs, net)),
        fusion: None,
        external,
    })
}

/// The end-to-end network + external LM: both LMs estimated from the
/// training transcripts (the word LM over the vocabulary the classical
/// lexicon covers, with the same `[lm]` settings) and, with a dev set, the
/// scorer, weight and bonus chosen on dev posteriors of the trained network.
fn external_lm(
    cfg: &CtcConfig,
    x: &lm_decode::ExternalLmConfig,
    ctx: &TrainContext,
    tokens: &TokenSet,
    net: &CtcNet,
    device: Device,
    dev: &[Example],
) -> Result<(lm_decode::ExternalLm, Option<lm_decode::Tuned>)> {
    let words: Vec<String> = cfg
        .lexicon
        .task_words(ctx.corpus, &ctx.train)
        .into_iter()
        .collect();
    let lm = lm_decode::ExternalLm::estimate(&cfg.lm, &words, &ctx.train, x, tokens)?;
    if dev.is_empty() {
        return Ok((lm, None));
    }
    let refs: std::collections::BTreeMap<String, String> = ctx
        .dev
        .iter()
        .map(|u| (u.id.clone(), u.norm_text.clone()))
        .collect();
    let posts: Vec<(String, Matrix)> = lm_decode::spread(dev.len(), x.max_dev_utterances)
        .into_iter()
        .map(|i| {
            (
                dev[i].id.clone(),
                train::posteriors(net, &dev[i].feats, device),
            )
        })
        .collect();
    let refs = posts
        .iter()
        .filter_map(|(id, _)| Some((id.clone(), refs.get(id)?.clone())))
        .collect();
    let tuned = thread_pool(ctx.threads)?.install(|| {
        lm_decode::tune(
            &lm,
            x,
            tokens,
            &posts,
            &refs,
            cfg.decode.beam,
            cfg.decode.prune_logp,
        )
    })?;
    Ok((lm, Some(tuned)))
}

/// phone-ctc: the word search's LM weight and penalty from `[word_tune]`,
/// chosen by dev WER through the shared scorer; `None` without a grid or dev.
fn tune_word_search(
    cfg: &CtcConfig,
    words: &phone_words::WordDecoder,
    net: &CtcNet,
    device: Device,
    dev: &[Example],
    dev_text: &std::collections::BTreeMap<String, String>,
) -> Result<Option<(crate::lang::decoder::DecodeConfig, String)>> {
    let t = &cfg.word_tune;
    if dev.is_empty() || (t.lm_weights.is_empty() && t.word_penalties.is_empty()) {
        return Ok(None);
    }
    let dev = &dev[..dev.len().min(t.max_dev_utterances.max(1))];
    let posts: Vec<Matrix> = dev
        .iter()
        .map(|e| train::posteriors(net, &e.feats, device))
        .collect();
    let refs: std::collections::BTreeMap<String, String> = dev
        .iter()
        .filter_map(|e| Some((e.id.clone(), dev_text.get(&e.id)?.clone())))
        .collect();
    let mut best: Option<(u64, crate::lang::decoder::DecodeConfig)> = None;
    let mut tried = Vec::new();
    for dc in t.candidates(&cfg.word_decode) {
        let (lw, wp) = (dc.lm_weight, dc.word_penalty);
        let hyps: std::collections::BTreeMap<String, String> = dev
            .iter()
            .zip(&posts)
            .map(|(e, p)| (e.id.clone(), words.words(p, &dc)))
            .collect();
        let r = crate::score::score(
            &refs,
            &hyps,
            crate::score::Level::Word,
            crate::score::AlignMode::Levenshtein,
        )?;
        let e = r.totals.errors();
        tried.push(format!("{lw}/{wp}: {:.2}%", 100.0 * r.rate()));
        if best.as_ref().map_or(true, |b| e < b.0) {
            best = Some((e, dc));
        }
    }
    let (_, dc) = best.expect("a grid point");
    Ok(Some((
        dc.clone(),
        format!(
            "word search tuned on dev (lm_weight/word_penalty: WER): {}; chosen lm_weight {} word_penalty {}",
            tried.join(", "),
            dc.lm_weight,
            dc.word_penalty
        ),
    )))
}

/// Bumped when a trainer fix changes what the same config trains to, so
/// that sweeps redo (and never resume) network cells trained before it,
/// while classical cells stay cached. 2: the plateau schedule used to start
/// at `final_lr_ratio` of the peak rate instead of the peak.
pub const TRAINER_REVISION: u32 = 2;
