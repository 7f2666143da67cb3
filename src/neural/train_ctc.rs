//! Training a CTC recogniser for a cell: targets, the fitting loop
//! ([`super::train`]), then the decoding settings chosen on dev (the
//! external LM, the phone-ctc word search).
use std::sync::Mutex;

use rayon::prelude::*;
use sha2::{Digest, Sha256};
use tch::{nn, Device};

use super::checkpoint::TrainState;
use super::config::{CtcConfig, CtcTask, ModelConfig, TrainConfig};
use super::device::{device_name, resolve_device};
use super::examples::{examples_with_aux, perturbation_configs, TargetFn};
use super::model::{AuxHead, CtcNet};
use super::recogniser::CtcModel;
use super::tokens::TokenSet;
use super::train::Example;
use super::{fbank, init, lm_decode, model, network_store, phone_words, train};
use crate::corpus::Utterance;
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::pipeline::{ModelSummary, TrainContext};

/// Train a CTC recogniser on `ctx.train`, selecting the checkpoint by dev error.
/// Checkpoints go to `ctx.out_dir/checkpoints`; an interrupted run resumes there.
pub fn train_ctc(cfg: &CtcConfig, ctx: &TrainContext) -> Result<CtcModel> {
    cfg.validate()?;
    if ctx.train.is_empty() {
        return Err(Error::Invalid("no training utterances".into()));
    }
    let device = resolve_device(ctx.device)?;
    tch::set_num_threads(ctx.threads.max(1) as i32);
    // The model this pipeline starts from, if any (pre-trained beforehand: `pretrain`).
    let initial = init::resolve(&cfg.init, ctx.progress)?;
    let outputs = Outputs::new(cfg, ctx)?;
    let data = prepare_data(cfg, ctx, &outputs, &initial)?;
    let (mut vs, net, tuning) = network(cfg, device, ctx.seed, &outputs, &data, &initial)?;
    let params = model::parameter_count(&vs);
    if ctx.progress {
        let m = &data.model_cfg;
        eprintln!(
            "{}: {:?} encoder, {} layers x {}, x{} subsampling, {} parameters ({}); {} training utterances ({:.3} h), {} dev, device {}",
            cfg.kind, m.encoder, m.layers, m.hidden, m.subsampling, params, data.preset_note, data.train.len(), data.hours, data.dev.len(), device_name(device)
        );
    }
    let (st, adopted) = fit(cfg, ctx, &outputs, &data, &tuning, &initial, &mut vs, &net)?;
    let mut notes = training_notes(cfg, &data, &st, &tuning, adopted);
    let mut cfg = cfg.clone();
    let (choices, external) = choose_on_dev(
        &mut cfg,
        &mut notes,
        ctx,
        &outputs.tokens,
        outputs.words(),
        &net,
        vs.device(),
        &data.dev,
    )?;
    let summary = ModelSummary {
        kind: cfg.kind.clone(),
        size: params,
        size_unit: "parameters".into(),
        device: device_name(device),
        notes,
        choices,
        training: Some(training_record(&st, adopted)),
        init: initial
            .as_ref()
            .map(|i| i.description.clone())
            .unwrap_or_default(),
    };
    let words = outputs
        .task
        .phone_output
        .then_some(outputs.lexicon)
        .flatten();
    Ok(CtcModel {
        cfg,
        model_cfg: data.model_cfg,
        tokens: outputs.tokens,
        aux_tokens: outputs.aux_tokens,
        summary,
        training: Some(st),
        words,
        net: Mutex::new((vs, net)),
        fusion: None,
        external,
    })
}

/// What the network predicts: its output tokens, the phone head's tokens
/// (multi-task), and the lexicon + LM (phone-ctc decodes words with them;
/// mtl-ctc takes its phone targets from the lexicon).
struct Outputs {
    task: CtcTask,
    tokens: TokenSet,
    aux_tokens: Option<TokenSet>,
    lexicon: Option<phone_words::WordDecoder>,
}

impl Outputs {
    fn new(cfg: &CtcConfig, ctx: &TrainContext) -> Result<Self> {
        let task = cfg.task();
        let phones = || TokenSet::phones(&crate::lang::phones::PhoneSet::standard());
        let lexicon = match task.needs_lexicon() {
            false => None,
            true => Some(phone_words::WordDecoder::train(
                &cfg.lexicon,
                &cfg.lm,
                ctx,
                phones().len(),
            )?),
        };
        let (tokens, aux_tokens) = match task.phone_output {
            true => (phones(), None),
            false => (TokenSet::chars(), task.phone_head.then(phones)),
        };
        Ok(Outputs {
            task,
            tokens,
            aux_tokens,
            lexicon,
        })
    }

    /// The word search, where the output phones are decoded into words.
    fn words(&self) -> Option<&phone_words::WordDecoder> {
        self.lexicon.as_ref().filter(|_| self.task.phone_output)
    }

    /// Targets of the output layer: phones from the lexicon, or characters.
    fn targets(&self, u: &Utterance) -> Result<Vec<i64>> {
        match self.words() {
            Some(w) => w.targets(u),
            None => self.tokens.encode(u),
        }
    }

    /// Targets of the phone head (from the lexicon).
    fn phone_targets(&self, u: &Utterance) -> Result<Vec<i64>> {
        self.lexicon.as_ref().expect("a lexicon").targets(u)
    }
}

/// A cell's training and dev examples and the network's shape.
struct CellData<'a> {
    train: train::TrainSet<'a>,
    dev: Vec<Example>,
    model_cfg: ModelConfig,
    /// How the shape was chosen (the preset for these hours, or the initial model).
    preset_note: String,
    /// Hours of the utterances kept (not over `max_utterance_seconds`).
    hours: f64,
    skipped_long: usize,
    skipped_short: usize,
}

/// The examples of `ctx.train` (utterances over `[train]
/// max_utterance_seconds` left out) and `ctx.dev`, and the network's shape:
/// the initial model's, or the preset for the hours kept.
fn prepare_data<'a>(
    cfg: &CtcConfig,
    ctx: &'a TrainContext,
    outputs: &Outputs,
    initial: &Option<init::InitialModel>,
) -> Result<CellData<'a>> {
    let max_dur = cfg.train.max_utterance_seconds;
    let train_utts: Vec<&Utterance> = ctx
        .train
        .iter()
        .copied()
        .filter(|u| u.duration <= max_dur || u.duration <= 0.0)
        .collect();
    let hours = train_utts.iter().map(|u| u.duration).sum::<f64>() / 3600.0;
    let (model_cfg, preset_note) = match initial {
        Some(i) => (
            i.model_cfg.clone(),
            format!("initialised from {}", i.description),
        ),
        None => cfg.model_for_hours(hours),
    };
    if outputs.task.phone_head && cfg.mtl.phone_layer as i64 > model_cfg.layers {
        return Err(Error::Config(format!(
            "mtl.phone_layer = {}: the encoder has {} layers",
            cfg.mtl.phone_layer, model_cfg.layers
        )));
    }
    let targets = |u: &Utterance| outputs.targets(u);
    let phone_targets = |u: &Utterance| outputs.phone_targets(u);
    let aux: Option<&TargetFn> = outputs.task.phone_head.then_some(&phone_targets);
    let (train, skipped_short) = training_set(cfg, ctx, &train_utts, &targets, aux, &model_cfg)?;
    let dev = match ctx.dev.is_empty() {
        true => Vec::new(),
        false => examples_with_aux(
            ctx.loader,
            &ctx.dev,
            Some(&targets),
            aux,
            model_cfg.num_mel_bins as usize,
            ctx.threads,
        )?,
    };
    Ok(CellData {
        train,
        dev,
        model_cfg,
        preset_note,
        hours,
        skipped_long: ctx.train.len() - train_utts.len(),
        skipped_short,
    })
}

/// A fresh network of the cell's shape (seeded) and how it starts: the
/// initial model's weights copied in where there is one.
fn network(
    cfg: &CtcConfig,
    device: Device,
    seed: u64,
    outputs: &Outputs,
    data: &CellData,
    initial: &Option<init::InitialModel>,
) -> Result<(nn::VarStore, CtcNet, FineTuning)> {
    tch::manual_seed(seed as i64);
    let vs = nn::VarStore::new(device);
    let aux_head = outputs.aux_tokens.as_ref().map(|t| AuxHead {
        vocab: t.len() as i64,
        layer: cfg.mtl.phone_layer,
    });
    let net = CtcNet::with_aux(
        &vs.root(),
        &data.model_cfg,
        outputs.tokens.len() as i64,
        aux_head,
    );
    let tuning = fine_tuning(
        cfg,
        &vs,
        initial,
        &data.model_cfg,
        &outputs.tokens,
        outputs.aux_tokens.as_ref(),
    )?;
    Ok((vs, net, tuning))
}

/// Fit the network ([`train::train_loop`]: resuming this job's checkpoints,
/// or adopting the network the sweep's store holds for the same job); the
/// final training state, and whether the network was adopted.
#[allow(clippy::too_many_arguments)]
fn fit(
    cfg: &CtcConfig,
    ctx: &TrainContext,
    outputs: &Outputs,
    data: &CellData,
    tuning: &FineTuning,
    initial: &Option<init::InitialModel>,
    vs: &mut nn::VarStore,
    net: &CtcNet,
) -> Result<(TrainState, bool)> {
    let fingerprint = training_fingerprint(
        cfg,
        &data.model_cfg,
        &outputs.tokens,
        &data.train,
        ctx.seed,
        initial,
    );
    let checkpoint_dir = ctx.out_dir.join("checkpoints");
    // In a sweep, the same network (a decoding variant's) is trained once.
    let slot = match &ctx.shared_networks {
        Some(store) => Some(network_store::adopt(store, &fingerprint, &checkpoint_dir)?),
        None => None,
    };
    let job = train::TrainJob {
        cfg: &tuning.train_cfg,
        tokens: &outputs.tokens,
        train: &data.train,
        dev: &data.dev,
        seed: ctx.seed,
        device: vs.device(),
        checkpoint_dir: checkpoint_dir.clone(),
        fingerprint,
        progress: ctx.progress,
        // Caps that may grow with the data: resolved once here.
        update_cap: cfg.train.update_cap(data.hours),
        time_cap: cfg.train.time_cap(data.hours),
        aux_weight: if outputs.task.phone_head {
            cfg.mtl.phone_weight
        } else {
            0.0
        },
        freeze: tuning.freeze.clone(),
        freeze_updates: cfg.init.freeze_updates,
    };
    let st = train::train_loop(&job, vs, net)?;
    let adopted = slot.as_ref().is_some_and(|(_, adopted)| *adopted);
    if let Some((slot, _)) = &slot {
        if st.stop_reason.is_some() {
            slot.publish(&checkpoint_dir)?;
        }
    }
    Ok((st, adopted))
}

/// The summary's notes on training: the shape, how and why it stopped, its
/// speed, what was skipped, and where the weights came from.
fn training_notes(
    cfg: &CtcConfig,
    data: &CellData,
    st: &TrainState,
    tuning: &FineTuning,
    adopted: bool,
) -> String {
    let m = &data.model_cfg;
    let speed = if st.train_seconds > 0.0 {
        st.audio_seconds_trained / st.train_seconds
    } else {
        0.0
    };
    let mut notes = format!(
        "{}; encoder {:?} {}x{}, x{} subsampling; {} epochs ({}), best epoch {} dev {} {}; {:.0} s training, {:.0} audio-s/s; skipped {} over {} s and {} too short for their transcript{}",
        data.preset_note,
        m.encoder,
        m.layers,
        m.hidden,
        m.subsampling,
        st.epochs_done,
        st.stopped.clone().unwrap_or_else(|| "paused by stop_after_epochs".into()),
        st.best_epoch,
        if cfg.task().phone_output { "PER" } else { "CER" },
        st.best_dev_error.map_or("n/a".to_string(), |e| format!("{:.2}%", 100.0 * e)),
        st.train_seconds,
        speed,
        data.skipped_long,
        cfg.train.max_utterance_seconds,
        data.skipped_short,
        tuning.note,
    );
    if adopted {
        notes.push_str(
            "; network reused from the sweep's store (trained once by a pipeline that differs only in decoding)",
        );
    }
    notes
}

/// results.csv's training columns; an adopted network's training counts as
/// reused, none of it as this cell's own earlier runs.
fn training_record(st: &TrainState, adopted: bool) -> crate::pipeline::TrainingRecord {
    let mut record = st.record();
    if adopted {
        record.reused_network_seconds = record.train_seconds;
        record.resumed_seconds = 0.0;
        record.reused_network_cpu_seconds = record.cpu_seconds;
        record.resumed_cpu_seconds = 0.0;
    }
    record
}

/// The decoding settings chosen on dev for a trained network, written into
/// `cfg` (the config it is saved with), with a line each appended to
/// `notes`: mtl-ctc's phone-head PER (never decoded for words), phone-ctc's
/// word-search LM weight and penalty, the external LM's kind, weight and
/// bonus. Returns results.csv's `dev_choices` and the external LM.
#[allow(clippy::too_many_arguments)]
fn choose_on_dev(
    cfg: &mut CtcConfig,
    notes: &mut String,
    ctx: &TrainContext,
    tokens: &TokenSet,
    words: Option<&phone_words::WordDecoder>,
    net: &CtcNet,
    device: Device,
    dev: &[Example],
) -> Result<(String, Option<lm_decode::ExternalLm>)> {
    let mut choices = String::new();
    if cfg.task().phone_head && !dev.is_empty() {
        let per = train::head_error_rate(net, dev, device, true);
        notes.push_str(&format!("; phone head dev PER {:.2}%", 100.0 * per));
        choices = format!("phone_head_dev_per={:.2}", 100.0 * per);
    }
    if let Some(w) = words {
        let refs: std::collections::BTreeMap<String, String> = ctx
            .dev
            .iter()
            .map(|u| (u.id.clone(), u.norm_text.clone()))
            .collect();
        if let Some((dc, line)) = tune_word_search(cfg, w, net, device, dev, &refs)? {
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
    let Some(x) = cfg.decode.external_lm.clone() else {
        return Ok((choices, None));
    };
    let (lm, tuned) = external_lm(cfg, &x, ctx, tokens, net, device, dev)?;
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
    Ok((choices, Some(lm)))
}

/// The training utterances with their targets (and the augmented copies
/// `[train]` asks for), features left in the loader's cache; utterances too
/// short for their transcript at the network's subsampling are dropped
/// (how many is the second value).
fn training_set<'a>(
    cfg: &CtcConfig,
    ctx: &'a TrainContext,
    train_utts: &[&'a Utterance],
    targets: &TargetFn,
    aux_targets: Option<&TargetFn>,
    model_cfg: &ModelConfig,
) -> Result<(train::TrainSet<'a>, usize)> {
    let mel = model_cfg.num_mel_bins as usize;
    // Targets now; features are read from the cache one batch at a time.
    let train_targets: Vec<Vec<i64>> = crate::threads::pool(ctx.threads)?.install(|| {
        train_utts
            .par_iter()
            .map(|u| targets(u))
            .collect::<Result<_>>()
    })?;
    let cache = ctx.loader.cache(&fbank::input_features(mel))?;
    let mut train = crate::threads::pool(ctx.threads)?
        .install(|| train::TrainSet::new(train_utts.to_vec(), train_targets, cache))?;
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
        train =
            crate::threads::pool(ctx.threads)?.install(|| train.with_perturbed(caches, mode))?;
    }
    if let Some(aux) = aux_targets {
        let phones: Vec<Vec<i64>> = crate::threads::pool(ctx.threads)?
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
    Ok((train, skipped_short))
}

/// How training starts from an initial model, when there is one.
struct FineTuning {
    /// `[train]` with `[init]`'s fine-tuning rate and warm-up.
    train_cfg: TrainConfig,
    /// Variable-name prefixes frozen for `[init] freeze_updates` updates.
    freeze: Vec<String>,
    /// What was copied, for the summary's notes (empty from scratch).
    note: String,
}

/// Copy the initial model's weights into `vs` (heads whose token set differs
/// start from random) and settle the fine-tuning rate and frozen layers.
fn fine_tuning(
    cfg: &CtcConfig,
    vs: &nn::VarStore,
    initial: &Option<init::InitialModel>,
    model_cfg: &ModelConfig,
    tokens: &TokenSet,
    aux_tokens: Option<&TokenSet>,
) -> Result<FineTuning> {
    let mut ft = FineTuning {
        train_cfg: cfg.train.clone(),
        freeze: Vec::new(),
        note: String::new(),
    };
    let Some(i) = initial else {
        return Ok(ft);
    };
    let fresh = init::copy_weights(vs, i, tokens, aux_tokens)?;
    let fresh_heads: std::collections::BTreeSet<&str> = fresh
        .iter()
        .map(|n| n.split('.').next().unwrap_or(n))
        .collect();
    ft.note = format!(
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
        ft.train_cfg.lr = lr;
    }
    if let Some(w) = cfg.init.warmup_steps {
        ft.train_cfg.warmup_steps = w;
    }
    ft.freeze = model::layer_prefixes(model_cfg)
        .into_iter()
        .take(cfg.init.freeze_layers)
        .flatten()
        .collect();
    Ok(ft)
}

/// What decides the trained network (config, architecture, tokens, training
/// utterances, seed, trainer revision, initial model): checkpoints and the
/// sweep's network store are only reused by the same job. Settings that
/// only say when to stop, and decoding, may change between a run and its
/// resumption.
fn training_fingerprint(
    cfg: &CtcConfig,
    model_cfg: &ModelConfig,
    tokens: &TokenSet,
    train: &train::TrainSet,
    seed: u64,
    initial: &Option<init::InitialModel>,
) -> String {
    let mut fp_cfg = cfg.clone();
    fp_cfg.train.max_train_seconds = 0.0;
    fp_cfg.train.train_seconds_per_hour = 0.0;
    fp_cfg.train.patience = 0;
    fp_cfg.train.stop_after_epochs = 0;
    fp_cfg.decode = Default::default();
    let mut h = Sha256::new();
    h.update(fp_cfg.to_toml());
    h.update(serde_json::to_string(model_cfg).expect("serialisable"));
    h.update(tokens.symbols.join("\n"));
    for id in &train.ids {
        h.update(id);
        h.update(b"\n");
    }
    h.update(seed.to_le_bytes());
    h.update(TRAINER_REVISION.to_le_bytes());
    if let Some(i) = initial {
        h.update(&i.fingerprint);
    }
    hex::encode(h.finalize())
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
    let tuned = crate::threads::pool(ctx.threads)?.install(|| {
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
