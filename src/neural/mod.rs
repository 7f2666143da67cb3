//! Neural recognisers with tch (libtorch): one CTC encoder, two heads.
//! - `char-ctc`: audio -> characters, decoded greedily or by prefix beam
//!   search with no lexicon and no LM (the pure end-to-end system).
//! - `phone-ctc`: audio -> phones; the classical lexicon tree and word LM
//!   turn the phone posteriors into words ([`phone_words`]).
//! - `mtl-ctc`: char-ctc trained jointly with a phone CTC head on the same
//!   encoder (phone targets from the shared lexicon); only the character
//!   head is decoded, so it stays end to end at test time.
//!
//! Any of them may start from a trained model's weights ([`init`]).
//!
//! Data flow: manifest utterances -> log-mel fbank + utterance CMVN
//! ([`fbank`]) -> [`model::CtcNet`] -> CTC loss ([`train`]) or log posteriors
//! -> [`ctc_decode`] -> text.
pub mod config;
pub mod ctc_decode;
pub mod fbank;
pub mod fusion;
pub mod init;
pub mod lm_decode;
pub mod model;
pub mod network_store;
pub mod phone_words;
pub mod tokens;
pub mod train;

use std::path::Path;
use std::sync::Mutex;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tch::{nn, Device};

pub use config::{CtcConfig, DecodeMethod, EncoderKind, ModelConfig};
pub use model::{AuxHead, CtcNet};
pub use tokens::{TokenKind, TokenSet};

use crate::corpus::Utterance;
use crate::error::{Error, Result};
use crate::loader::Loader;
use crate::matrix::Matrix;
use crate::overlay::Overlay;
use crate::pipeline::{DeviceChoice, ModelSummary, Recogniser, TrainContext, Transcript};
use crate::pipeline::{KindTraits, RecogniserKind};
use train::Example;

const WEIGHTS_FILE: &str = "model.ot";
const MODEL_FILE: &str = "model.json";
const TOKENS_FILE: &str = "tokens.txt";
/// mtl-ctc: the phone head's tokens.
const AUX_TOKENS_FILE: &str = "aux_tokens.txt";
const PIPELINE_FILE: &str = "pipeline.toml";

/// Resolve `--device`: `auto` takes CUDA when libtorch sees it.
pub fn resolve_device(choice: DeviceChoice) -> Result<Device> {
    match choice {
        DeviceChoice::Cpu => Ok(Device::Cpu),
        DeviceChoice::Auto => Ok(Device::cuda_if_available()),
        DeviceChoice::Cuda if tch::Cuda::is_available() => Ok(Device::Cuda(0)),
        DeviceChoice::Cuda => Err(Error::Config(
            "--device cuda: libtorch sees no CUDA device on this machine".into(),
        )),
    }
}

fn device_name(d: Device) -> String {
    match d {
        Device::Cpu => "cpu".into(),
        Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// The loader features of the augmented copies `[train]` asks for: each
/// speed factor but 1.0 (the unperturbed input itself), then the babble copy.
fn perturbation_configs(
    train: &config::TrainConfig,
    num_mel_bins: usize,
) -> Vec<crate::features::FeatureConfig> {
    train
        .speed_perturb
        .iter()
        .filter(|&&f| f != 1.0)
        .map(|&f| fbank::perturbed_input_features(num_mel_bins, f))
        .chain(
            train
                .babble
                .iter()
                .map(|b| fbank::noisy_input_features(num_mel_bins, b)),
        )
        .collect()
}

fn thread_pool(threads: usize) -> Result<std::sync::Arc<rayon::ThreadPool>> {
    crate::threads::pool(threads)
}

/// How an utterance becomes token ids for training.
pub type TargetFn<'a> = dyn Fn(&Utterance) -> Result<Vec<i64>> + Sync + 'a;

/// Network inputs (and targets, when `targets` is given) of `utts`, in
/// order, from the loader's cache.
pub fn examples(
    loader: &Loader,
    utts: &[&Utterance],
    targets: Option<&TargetFn>,
    num_mel_bins: usize,
    threads: usize,
) -> Result<Vec<Example>> {
    examples_with_aux(loader, utts, targets, None, num_mel_bins, threads)
}

/// [`examples`] with auxiliary targets too (mtl-ctc's phones).
pub fn examples_with_aux(
    loader: &Loader,
    utts: &[&Utterance],
    targets: Option<&TargetFn>,
    aux: Option<&TargetFn>,
    num_mel_bins: usize,
    threads: usize,
) -> Result<Vec<Example>> {
    let cfg = fbank::input_features(num_mel_bins);
    thread_pool(threads)?.install(|| {
        let feats = loader.features(&cfg, utts)?;
        utts.par_iter()
            .zip(feats.into_par_iter())
            .map(|(u, feats)| {
                let target = match targets {
                    Some(t) => t(u)?,
                    None => Vec::new(),
                };
                let aux_target = match aux {
                    Some(t) => t(u)?,
                    None => Vec::new(),
                };
                Ok(Example {
                    id: u.id.clone(),
                    feats,
                    target,
                    aux_target,
                })
            })
            .collect()
    })
}

/// What `model.json` holds besides the weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SavedModel {
    pub(crate) model: ModelConfig,
    pub(crate) summary: ModelSummary,
    pub(crate) training: Option<train::TrainState>,
    /// mtl-ctc: the phone head (its tokens in `aux_tokens.txt`).
    #[serde(default)]
    pub(crate) aux: Option<AuxHead>,
}

impl SavedModel {
    /// The token lists saved beside `DIR/model.json`: the output layer's
    /// (`tokens.txt`, of `kind`) and, for a model with a phone head, the
    /// head's (`aux_tokens.txt`).
    pub(crate) fn token_sets(
        &self,
        dir: &Path,
        kind: TokenKind,
    ) -> Result<(TokenSet, Option<TokenSet>)> {
        let tokens = TokenSet::load(&dir.join(TOKENS_FILE), kind)?;
        let aux_tokens = match self.aux {
            Some(_) => Some(TokenSet::load(
                &dir.join(AUX_TOKENS_FILE),
                TokenKind::Phones,
            )?),
            None => None,
        };
        Ok((tokens, aux_tokens))
    }

    /// Read and check `DIR/model.json`; errors name the file.
    pub(crate) fn read(dir: &Path) -> Result<Self> {
        let mpath = dir.join(MODEL_FILE);
        let text = std::fs::read_to_string(&mpath).map_err(|e| Error::io(&mpath, e))?;
        let saved: SavedModel =
            serde_json::from_str(&text).map_err(|e| Error::parse(&mpath, e.to_string()))?;
        saved
            .model
            .validate()
            .map_err(|e| Error::parse(&mpath, e.to_string()))?;
        Ok(saved)
    }
}

/// A trained char-ctc or phone-ctc recogniser.
pub struct CtcModel {
    pub cfg: CtcConfig,
    pub model_cfg: ModelConfig,
    pub tokens: TokenSet,
    /// mtl-ctc: the phone head's tokens (decoded for PER only).
    pub aux_tokens: Option<TokenSet>,
    summary: ModelSummary,
    training: Option<train::TrainState>,
    /// phone-ctc: lexicon, LM and lexicon tree for the word search.
    words: Option<phone_words::WordDecoder>,
    /// tch tensors are `Send` but not `Sync`; the net is used by one thread at a time.
    net: Mutex<(nn::VarStore, CtcNet)>,
    /// char-ctc ablation only: shallow fusion with a word LM in beam search.
    fusion: Option<FusionSettings>,
    /// The end-to-end network + external LM (`[decode.external_lm]`).
    external: Option<lm_decode::ExternalLm>,
}

/// Shallow-fusion settings of a loaded char-ctc model (never saved with it).
pub struct FusionSettings {
    pub lm: fusion::ArpaWordLm,
    /// Weight of the LM's natural-log probability.
    pub weight: f32,
    /// Added per completed word (counters the LM's bias to short outputs).
    pub word_bonus: f32,
}

pub(crate) fn token_kind(kind: &str) -> TokenKind {
    if kind == "phone-ctc" {
        TokenKind::Phones
    } else {
        TokenKind::Chars
    }
}

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

/// A CTC pipeline in a phrase: the kind's own, or the end-to-end network
/// + external LM's, and the augmentation it trains with.
fn describe_ctc(cfg: &CtcConfig, about: &str) -> String {
    let mut d = match &cfg.decode.external_lm {
        Some(x) => format!(
            "end-to-end network + external LM: log-mel -> CTC network -> characters, prefix beam search (beam {}) fused with an n-gram LM of the training transcripts ({} tried on dev)",
            cfg.decode.beam,
            x.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
        ),
        None => about.to_string(),
    };
    if !cfg.train.speed_perturb.is_empty() {
        d.push_str(
            &format!(
                "; trained with speed perturbation {:?} ({:?})",
                cfg.train.speed_perturb, cfg.train.speed_perturb_mode
            )
            .to_lowercase(),
        );
    }
    if let Some(b) = &cfg.train.babble {
        d.push_str(&format!(
            "; with babble of {} other training utterances at {}-{} dB SNR",
            b.talkers, b.snr_db[0], b.snr_db[1]
        ));
    }
    d
}

/// The registry's handles on the two CTC kinds: one config type, one
/// trainer and loader, two `kind` names.
macro_rules! ctc_kind {
    ($(#[$doc:meta])* $handle:ident, $name:literal, $traits:expr, $about:literal) => {
        $(#[$doc])*
        pub struct $handle;

        impl RecogniserKind for $handle {
            const NAME: &'static str = $name;
            const ABOUT: &'static str = $about;
            const TRAITS: KindTraits = $traits;
            type Config = CtcConfig;
            fn initial_model(cfg: &CtcConfig) -> Option<String> {
                init::describe(&cfg.init)
            }
            fn validate(cfg: &CtcConfig) -> Result<()> {
                cfg.validate()
            }
            fn describe(cfg: &CtcConfig) -> String {
                describe_ctc(cfg, $about)
            }
            fn provenance(cfg: &CtcConfig) -> Result<String> {
                let mut p = format!("ctc-trainer-revision={TRAINER_REVISION}");
                if let Some(f) = init::fingerprint(&cfg.init)? {
                    p.push('\n');
                    p.push_str(&f);
                }
                Ok(p)
            }
            fn prepare(
                cfg: &CtcConfig,
                run: &crate::pipeline::RunSettings,
            ) -> Result<Option<String>> {
                if cfg.init.pretrain.is_none() {
                    return Ok(None);
                }
                let dir = init::ensure_pretrained(&cfg.init, run.threads, run.device, run.progress)?;
                Ok(Some(format!("pre-trained model ready in {}", dir.display())))
            }
            fn feature_configs(cfg: &CtcConfig) -> Vec<crate::features::FeatureConfig> {
                // An initial model with other mel bins reads its own cache,
                // which its cells then compute themselves.
                let mel = cfg.model.num_mel_bins as usize;
                let mut v = vec![fbank::input_features(mel)];
                v.extend(perturbation_configs(&cfg.train, mel));
                v
            }
            fn train(cfg: &CtcConfig, ctx: &TrainContext) -> Result<Box<dyn Recogniser>> {
                Ok(Box::new(train_ctc(cfg, ctx)?))
            }
            fn load(dir: &Path, overlay: &Overlay) -> Result<Box<dyn Recogniser>> {
                Ok(Box::new(CtcModel::load_with(dir, overlay, Device::Cpu)?))
            }
        }
    };
}

ctc_kind!(
    /// `kind = "char-ctc"`.
    CharCtc,
    "char-ctc",
    KindTraits::NETWORK,
    "log-mel -> CTC network -> characters (end to end, no lexicon, no LM)"
);
ctc_kind!(
    /// `kind = "phone-ctc"`.
    PhoneCtc,
    "phone-ctc",
    KindTraits::NETWORK,
    "log-mel -> CTC network -> phones -> lexicon + n-gram LM -> words"
);
ctc_kind!(
    /// `kind = "mtl-ctc"`.
    MtlCtc,
    "mtl-ctc",
    KindTraits {
        network: true,
        multitask_of: Some(CharCtc::NAME),
    },
    "log-mel -> CTC network with character and phone heads -> characters (end to end; the phone head only trains)"
);

impl CtcModel {
    /// Load a model folder written by [`Recogniser::save`], onto the CPU.
    pub fn load(dir: &Path) -> Result<Self> {
        Self::load_with(dir, &Overlay::default(), Device::Cpu)
    }

    /// Load with decode-time overrides of the saved pipeline config
    /// (`crossover decode --set decode.method=beam`, `decode.fusion_lm=...`).
    pub fn load_with(dir: &Path, overlay: &Overlay, device: Device) -> Result<Self> {
        let cfg = crate::pipeline::model_config::<CharCtc>(dir, overlay)?;
        let saved = SavedModel::read(dir)?;
        let (tokens, aux_tokens) = saved.token_sets(dir, token_kind(&cfg.kind))?;
        let mut vs = nn::VarStore::new(device);
        let net = CtcNet::with_aux(&vs.root(), &saved.model, tokens.len() as i64, saved.aux);
        let wpath = dir.join(WEIGHTS_FILE);
        vs.load(&wpath).map_err(|source| Error::Torch {
            context: format!("loading weights {}", wpath.display()),
            source,
        })?;
        let words = match tokens.kind {
            TokenKind::Phones => Some(phone_words::WordDecoder::load(dir, tokens.len())?),
            TokenKind::Chars => None,
        };
        let mut model = CtcModel {
            cfg,
            model_cfg: saved.model,
            tokens,
            aux_tokens,
            summary: saved.summary,
            training: saved.training,
            words,
            net: Mutex::new((vs, net)),
            fusion: None,
            external: None,
        };
        if let Some(x) = &model.cfg.decode.external_lm {
            model.external = Some(lm_decode::ExternalLm::load(dir, &model.tokens, x)?);
        }
        if let Some(p) = model.cfg.decode.fusion_lm.clone() {
            let d = &model.cfg.decode;
            let settings = FusionSettings {
                lm: fusion::ArpaWordLm::read(&p)?,
                weight: d.fusion_weight,
                word_bonus: d.fusion_bonus,
            };
            model.set_fusion(settings)?;
        }
        Ok(model)
    }

    /// phone-ctc: decode words with another lexicon and LM (a language
    /// folder holding `lexicon.txt` and `lm.arpa`, e.g. a classical model's).
    pub fn use_language(&mut self, lang_dir: &Path) -> Result<()> {
        match &mut self.words {
            Some(w) => {
                *w = phone_words::WordDecoder::load(lang_dir, self.tokens.len())?;
                Ok(())
            }
            None => Err(Error::Config(
                "char-ctc uses no lexicon or LM (--lang applies to classical and phone-ctc models)"
                    .into(),
            )),
        }
    }

    /// Per-epoch training log (loss, dev error, learning rate), when known.
    pub fn training_state(&self) -> Option<&train::TrainState> {
        self.training.as_ref()
    }

    /// Log posteriors (frames x tokens) of one utterance's features.
    pub fn posteriors(&self, feats: &Matrix) -> Matrix {
        let guard = self.net.lock().expect("model lock");
        train::posteriors(&guard.1, feats, guard.0.device())
    }

    /// Decode posteriors into token ids with the configured method.
    pub fn decode_ids(&self, logp: &Matrix) -> Vec<usize> {
        let d = &self.cfg.decode;
        if let (Some(lm), Some(x)) = (&self.external, &d.external_lm) {
            // A trained model's grid is the one point chosen on dev.
            return lm.decode(logp, x.grid()[0], d.beam, d.prune_logp);
        }
        match d.method {
            DecodeMethod::Greedy => ctc_decode::greedy(logp, tokens::BLANK),
            DecodeMethod::Beam => {
                let space = self.tokens.symbols.iter().position(|s| s == "<space>");
                let fusion = match (&self.fusion, space) {
                    (Some(f), Some(space)) => Some(ctc_decode::Fusion {
                        lm: &f.lm,
                        weight: f.weight,
                        word_bonus: f.word_bonus,
                        space,
                        symbols: &self.tokens.symbols,
                    }),
                    _ => None,
                };
                ctc_decode::prefix_beam_search(
                    logp,
                    tokens::BLANK,
                    d.beam,
                    d.prune_logp,
                    fusion.as_ref(),
                )
            }
        }
    }

    /// Shallow fusion with a word LM (char-ctc only; switches to beam search).
    pub fn set_fusion(&mut self, f: FusionSettings) -> Result<()> {
        if self.words.is_some() || !self.tokens.symbols.iter().any(|s| s == "<space>") {
            return Err(Error::Config(
                "shallow fusion applies to char-ctc models only (phone-ctc already decodes words with the lexicon and LM)".into(),
            ));
        }
        self.cfg.decode.method = DecodeMethod::Beam;
        self.fusion = Some(f);
        Ok(())
    }

    /// Switch decoding method (e.g. from a `--method` flag) without retraining.
    pub fn set_decode(&mut self, method: DecodeMethod, beam: Option<usize>) {
        self.cfg.decode.method = method;
        if let Some(b) = beam {
            self.cfg.decode.beam = b.max(1);
        }
    }
}

impl Recogniser for CtcModel {
    fn set_language(&mut self, lang_dir: &Path) -> Result<()> {
        self.use_language(lang_dir)
    }
    fn summary(&self) -> ModelSummary {
        self.summary.clone()
    }

    fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let ppath = dir.join(PIPELINE_FILE);
        std::fs::write(&ppath, self.cfg.to_toml()).map_err(|e| Error::io(&ppath, e))?;
        let net_aux = self.net.lock().expect("model lock").1.aux_head();
        let saved = SavedModel {
            model: self.model_cfg.clone(),
            summary: self.summary.clone(),
            training: self.training.clone(),
            aux: net_aux,
        };
        let mpath = dir.join(MODEL_FILE);
        std::fs::write(
            &mpath,
            serde_json::to_string_pretty(&saved).expect("serialisable"),
        )
        .map_err(|e| Error::io(&mpath, e))?;
        self.tokens.save(&dir.join(TOKENS_FILE))?;
        if let Some(t) = &self.aux_tokens {
            t.save(&dir.join(AUX_TOKENS_FILE))?;
        }
        if let Some(w) = &self.words {
            w.save(dir)?;
        }
        if let Some(x) = &self.external {
            x.save(dir)?;
        }
        let wpath = dir.join(WEIGHTS_FILE);
        let guard = self.net.lock().expect("model lock");
        guard.0.save(&wpath).map_err(|source| Error::Torch {
            context: format!("saving weights {}", wpath.display()),
            source,
        })
    }

    /// char-ctc: words from the decoded characters (no lexicon, no LM).
    /// phone-ctc: phones from the CTC decoder (for PER) and words from the
    /// lexicon-tree search with the word LM.
    fn transcribe(
        &self,
        loader: &Loader,
        utts: &[&Utterance],
        threads: usize,
    ) -> Result<Vec<Transcript>> {
        tch::set_num_threads(threads.max(1) as i32);
        let examples = examples(
            loader,
            utts,
            None,
            self.model_cfg.num_mel_bins as usize,
            threads,
        )?;
        let mut out = Vec::with_capacity(examples.len());
        for e in &examples {
            if let Some(aux_tokens) = &self.aux_tokens {
                // mtl-ctc: words from the character head; the phone head's greedy phones for PER.
                let (logp, aux) = {
                    let guard = self.net.lock().expect("model lock");
                    train::posteriors_heads(&guard.1, &e.feats, guard.0.device())
                };
                out.push(Transcript {
                    id: e.id.clone(),
                    words: self.tokens.decode(&self.decode_ids(&logp)),
                    phones: aux.map(|a| aux_tokens.decode(&ctc_decode::greedy(&a, tokens::BLANK))),
                });
                continue;
            }
            let logp = self.posteriors(&e.feats);
            let text = self.tokens.decode(&self.decode_ids(&logp));
            out.push(match &self.words {
                None => Transcript {
                    id: e.id.clone(),
                    words: text,
                    phones: None,
                },
                Some(w) => Transcript {
                    id: e.id.clone(),
                    words: w.words(&logp, &self.cfg.word_decode),
                    phones: Some(text),
                },
            });
        }
        Ok(out)
    }
}
