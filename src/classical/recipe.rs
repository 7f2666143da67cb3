//! The classical training recipe, one function per stage called in order
//! as a Kaldi `run.sh` calls its steps: lexicon, features, monophones
//! (`train_mono.sh`), triphones (`train_deltas.sh`), language models, then
//! decoding options tuned on dev. Each stage appends its lines to the
//! training report (`train_report.txt` in the model folder).
use std::time::Instant;

use rayon::prelude::*;

use super::align::Alignment;
use super::config::ClassicalConfig;
use super::hmm::AcousticModel;
use super::model::ClassicalModel;
use super::train_mono::{self, TrainData};
use super::{phone_decoder, train_tri};
use crate::corpus::Utterance;
use crate::error::{Error, Result};
use crate::lang::decoder::DecodeConfig;
use crate::lang::lexicon::{Lexicon, OovPolicy};
use crate::lang::lm::NgramLm;
use crate::lang::phones::PhoneSet;
use crate::pipeline::TrainContext;

/// The training report as the stages write it (and, with progress on, stderr).
pub struct StageLog {
    progress: bool,
    text: String,
}

impl StageLog {
    pub fn new(progress: bool) -> Self {
        StageLog {
            progress,
            text: String::new(),
        }
    }

    /// A stage's heading, as Kaldi's recipes echo `stage N: ...`.
    fn stage(&mut self, n: usize, name: &str) {
        self.line(format!("== stage {n}: {name}"));
    }

    pub fn line(&mut self, line: String) {
        if self.progress {
            eprintln!("{line}");
        }
        self.text.push_str(&line);
        self.text.push('\n');
    }

    pub fn into_text(self) -> String {
        self.text
    }
}

/// Train the classical recogniser on `ctx.train`, tune on `ctx.dev`.
pub fn train_classical(cfg: &ClassicalConfig, ctx: &TrainContext) -> Result<ClassicalModel> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(ctx.threads.max(1))
        .build()
        .map_err(|e| Error::Config(e.to_string()))?;
    pool.install(|| run(cfg, ctx))
}

/// The stages in order.
fn run(cfg: &ClassicalConfig, ctx: &TrainContext) -> Result<ClassicalModel> {
    let t0 = Instant::now();
    let mut log = StageLog::new(ctx.progress);
    check_transcripts(&ctx.train)?;
    let phones = PhoneSet::standard();
    log.stage(1, "lexicon");
    let lexicon = stage_lexicon(cfg, ctx, &phones, &mut log)?;
    log.stage(2, "features");
    let data = stage_features(cfg, ctx, &lexicon, &mut log)?;
    log.stage(3, "monophones");
    let (mono, mono_alis) = stage_mono(cfg, &data, &phones, &mut log)?;
    let (am, alis) = if cfg.tri.enabled {
        log.stage(4, "triphones");
        stage_tri(cfg, &data, &mono, &mono_alis, &mut log)?
    } else {
        (mono, mono_alis)
    };
    log.stage(5, "language models");
    let (lm, phone_lm) = stage_lm(cfg, ctx, &lexicon, &data, &am, &alis, &phones, &mut log)?;
    let mut model = ClassicalModel::assemble(
        cfg.clone(),
        am,
        lexicon,
        lm,
        phone_lm,
        cfg.decode.clone(),
        String::new(),
    )?;
    if !ctx.dev.is_empty() {
        log.stage(6, "dev PER, LM weight and word penalty");
        model.decode = stage_tune(cfg, ctx, &model, &phones, &mut log)?;
    }
    log.line(format!(
        "total training time {:.1} s",
        t0.elapsed().as_secs_f64()
    ));
    model.report = log.into_text();
    Ok(model)
}

fn check_transcripts(train: &[&Utterance]) -> Result<()> {
    if train.is_empty() {
        return Err(Error::Invalid("no training utterances".into()));
    }
    match train
        .iter()
        .find(|u| u.norm_text.split_whitespace().next().is_none())
    {
        Some(u) => Err(Error::Invalid(format!(
            "utterance {}: empty transcript",
            u.id
        ))),
        None => Ok(()),
    }
}

/// Stage 1: the task's lexicon (every covered word, from the file or G2P).
fn stage_lexicon(
    cfg: &ClassicalConfig,
    ctx: &TrainContext,
    phones: &PhoneSet,
    log: &mut StageLog,
) -> Result<Lexicon> {
    let lex = cfg.lexicon.build(ctx.corpus, &ctx.train)?;
    let variants: usize = lex.iter().map(|(_, p)| p.len()).sum();
    log.line(format!(
        "lexicon: {} words, {} pronunciations{}, {} phones + silence",
        lex.len(),
        variants,
        match &cfg.lexicon.file {
            Some(f) => format!(
                " (from {}{})",
                f.display(),
                match cfg.lexicon.oov {
                    OovPolicy::G2p => ", words it lacks by espeak-ng",
                    OovPolicy::Error => "",
                }
            ),
            None => " (espeak-ng G2P)".into(),
        },
        phones.len() - 1
    ));
    Ok(lex)
}

/// Stage 2: training features from the loader, and each utterance's
/// pronunciation graph input.
fn stage_features(
    cfg: &ClassicalConfig,
    ctx: &TrainContext,
    lex: &Lexicon,
    log: &mut StageLog,
) -> Result<TrainData> {
    let t = Instant::now();
    let feats = ctx.loader.features(&cfg.features, &ctx.train)?;
    let frames: usize = feats.iter().map(|m| m.rows).sum();
    log.line(format!(
        "features: {} training utterances, {} frames ({:.2} h), dim {}, {:.1} s",
        feats.len(),
        frames,
        frames as f64 / 360000.0,
        feats[0].cols,
        t.elapsed().as_secs_f64()
    ));
    // Every pronunciation of a word is a branch of its training graph (the
    // alignment picks one, as in Kaldi), unless `align_variants` is off.
    let prons: Vec<Vec<Vec<Vec<usize>>>> = ctx
        .train
        .iter()
        .map(|u| {
            u.norm_text
                .split_whitespace()
                .map(|w| {
                    let all = lex.prons(w).expect("covered");
                    let n = if cfg.lexicon.align_variants {
                        all.len()
                    } else {
                        1
                    };
                    all[..n].to_vec()
                })
                .collect()
        })
        .collect();
    Ok(TrainData {
        ids: ctx.train.iter().map(|u| u.id.clone()).collect(),
        feats,
        prons,
    })
}

type Alignments = Vec<Option<Alignment>>;

/// Stage 3: flat-start monophones (`train_mono.sh`).
fn stage_mono(
    cfg: &ClassicalConfig,
    data: &TrainData,
    phones: &PhoneSet,
    log: &mut StageLog,
) -> Result<(AcousticModel, Alignments)> {
    let t = Instant::now();
    let hours = data.hours();
    let mono = cfg.mono.sized_for(hours, phones.len() * 3);
    if cfg.mono.gaussians_per_sqrt_hour > 0.0 {
        log.line(format!(
            "monophone size for {hours:.3} h: {} Gaussians ({} x sqrt(hours))",
            mono.total_gaussians, cfg.mono.gaussians_per_sqrt_hour
        ));
    }
    let (am, alis) = train_mono::train_mono(data, phones, &mono, &mut |l| log.line(l))?;
    let failed: Vec<&str> = alis
        .iter()
        .zip(&data.ids)
        .filter(|(a, _)| a.is_none())
        .map(|(_, id)| id.as_str())
        .collect();
    log.line(format!(
        "monophones: {} Gaussians in {} pdfs, trained in {:.1} s; final alignment: {}/{} utterances aligned{}",
        am.num_gaussians(),
        am.pdfs.len(),
        t.elapsed().as_secs_f64(),
        alis.len() - failed.len(),
        alis.len(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(
                " (failed: {})",
                failed.iter().take(10).cloned().collect::<Vec<_>>().join(" ")
            )
        }
    ));
    log.line(alignment_stats(&am, data, &alis));
    Ok((am, alis))
}

/// Stage 4: decision-tree-tied triphones from the monophone alignments (`train_deltas.sh`).
fn stage_tri(
    cfg: &ClassicalConfig,
    data: &TrainData,
    mono: &AcousticModel,
    mono_alis: &Alignments,
    log: &mut StageLog,
) -> Result<(AcousticModel, Alignments)> {
    let t = Instant::now();
    let hours = data.hours();
    let sized = cfg.tri.sized_for(hours);
    if sized != cfg.tri {
        log.line(format!(
            "triphone size for {hours:.3} h: {} leaves, {} Gaussians (rule: {} x sqrt(hours) Gaussians, {} leaves per Gaussian, at least {} leaves)",
            sized.num_leaves, sized.total_gaussians, cfg.tri.gaussians_per_sqrt_hour, cfg.tri.leaves_per_gaussian, cfg.tri.min_leaves
        ));
    }
    let (tri, alis) = train_tri::train_tri(mono, data, mono_alis, &sized, &cfg.mono, &mut |l| {
        log.line(l)
    })?;
    log.line(format!(
        "triphones: {} Gaussians in {} tied states, trained in {:.1} s",
        tri.num_gaussians(),
        tri.pdfs.len(),
        t.elapsed().as_secs_f64()
    ));
    Ok((tri, alis))
}

/// Stage 5: the word LM (shared language layer) and the phone LM of the
/// final alignments (for the phone loop's PER).
#[allow(clippy::too_many_arguments)]
fn stage_lm(
    cfg: &ClassicalConfig,
    ctx: &TrainContext,
    lex: &Lexicon,
    data: &TrainData,
    am: &AcousticModel,
    alis: &Alignments,
    phones: &PhoneSet,
    log: &mut StageLog,
) -> Result<(NgramLm, NgramLm)> {
    let lm = cfg.lm.word_lm(&ctx.train, lex.words())?;
    if !ctx.dev.is_empty() {
        let ppl = lm.perplexity(ctx.dev.iter().map(|u| u.norm_text.as_str()));
        log.line(format!(
            "word LM: {}-gram, dev perplexity {:.1} over {} words ({} sentences, {} OOV)",
            lm.order, ppl.perplexity, ppl.words, ppl.sentences, ppl.oovs
        ));
    }
    let phone_sents: Vec<String> = (0..data.prons.len())
        .filter_map(|i| data.aligned_phones(i, am, cfg.mono.optional_silence, alis[i].as_ref()))
        .map(|p| {
            p.iter()
                .map(|&i| phones.name(i))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let phone_lm = phone_decoder::phone_lm(
        phone_sents.iter().map(|s| s.as_str()),
        phones,
        cfg.lm.phone_order,
    )?;
    Ok((lm, phone_lm))
}

/// Stage 6: dev PER with the phone loop, then the LM weight and word
/// penalty of `[tune]` chosen by dev WER (never test), scored by the shared scorer.
fn stage_tune(
    cfg: &ClassicalConfig,
    ctx: &TrainContext,
    model: &ClassicalModel,
    phones: &PhoneSet,
    log: &mut StageLog,
) -> Result<DecodeConfig> {
    let mut dev: Vec<&Utterance> = ctx.dev.clone();
    dev.truncate(cfg.tune.max_dev_utterances.max(1));
    let dev_feats = ctx.loader.features(&cfg.features, &dev)?;
    let ids: Vec<&str> = dev.iter().map(|u| u.id.as_str()).collect();
    let refs: Vec<String> = dev.iter().map(|u| u.norm_text.clone()).collect();
    // PER on dev (reference phones from the lexicon, silence excluded).
    let ph_hyps: Vec<String> = dev_feats
        .par_iter()
        .map(|f| model.recognise_phones(f).join(" "))
        .collect();
    let ph_refs: Vec<String> = dev
        .iter()
        .map(|u| {
            u.norm_text
                .split_whitespace()
                .flat_map(|w| {
                    model
                        .lexicon
                        .prons(w)
                        .map(|p| p[0].clone())
                        .unwrap_or_default()
                })
                .map(|i| phones.name(i).to_string())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let (pe, pn) = shared_errors(&ids, &ph_refs, &ph_hyps, crate::score::Level::Phone)?;
    log.line(format!(
        "dev PER {:.2}% ({pe}/{pn}) with the phone bigram",
        100.0 * pe as f64 / pn.max(1) as f64
    ));
    let mut best: Option<(usize, DecodeConfig)> = None;
    for dc in cfg.tune.candidates(&cfg.decode) {
        let (lw, wp) = (dc.lm_weight, dc.word_penalty);
        let hyps: Vec<String> = dev_feats
            .par_iter()
            .map(|f| {
                model
                    .recognise(f, &dc)
                    .words
                    .into_iter()
                    .map(|w| w.word)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        let (e, n) = shared_errors(&ids, &refs, &hyps, crate::score::Level::Word)?;
        log.line(format!(
            "dev WER {:.2}% ({e}/{n}) at lm_weight {lw} word_penalty {wp}",
            100.0 * e as f64 / n.max(1) as f64
        ));
        if best.as_ref().map_or(true, |b| e < b.0) {
            best = Some((e, dc));
        }
    }
    let (_, dc) = best.expect("at least one grid point");
    log.line(format!(
        "chosen: lm_weight {} word_penalty {}",
        dc.lm_weight, dc.word_penalty
    ));
    Ok(dc)
}

/// Errors and reference length at `level` through the shared scorer (the
/// one evaluator), utterances keyed by id.
fn shared_errors(
    ids: &[&str],
    refs: &[String],
    hyps: &[String],
    level: crate::score::Level,
) -> Result<(usize, usize)> {
    let key = |v: &[String]| -> std::collections::BTreeMap<String, String> {
        ids.iter()
            .map(|i| i.to_string())
            .zip(v.iter().cloned())
            .collect()
    };
    let r = crate::score::score(
        &key(refs),
        &key(hyps),
        level,
        crate::score::AlignMode::Levenshtein,
    )?;
    Ok((r.totals.errors() as usize, r.totals.ref_len as usize))
}

/// Alignment statistics: frames per phone class, silence share, mean phone duration.
pub fn alignment_stats(am: &AcousticModel, data: &TrainData, alis: &[Option<Alignment>]) -> String {
    let (mut sil, mut tot, mut phones, mut ll) = (0usize, 0usize, 0usize, 0f64);
    // Silence is never split by the tree, so these are its pdfs in either model.
    let s_id = am.phones.silence();
    let sil_pdfs: Vec<u32> = (0..am.states_per_phone)
        .map(|s| am.pdf(None, s_id, None, s) as u32)
        .collect();
    for (a, _) in alis.iter().zip(&data.feats) {
        let Some(a) = a else { continue };
        let units = a.unit_segments();
        tot += a.pdf.len();
        ll += a.log_likelihood as f64;
        sil += a.pdf.iter().filter(|p| sil_pdfs.contains(p)).count();
        phones += units.len();
    }
    format!(
        "alignment: {} frames, {:.1}% silence, {:.1} frames per phone segment, Viterbi log-likelihood/frame {:.2}",
        tot,
        100.0 * sil as f64 / tot.max(1) as f64,
        tot as f64 / phones.max(1) as f64,
        ll / tot.max(1) as f64
    )
}
