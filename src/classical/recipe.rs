//! The classical training recipe, one function per stage called in order
//! as a Kaldi `run.sh` calls its steps: lexicon, features, monophones
//! (`train_mono.sh`), triphones (`train_deltas.sh`), language models, then
//! decoding options tuned on dev. Each stage appends its lines to the
//! training report (`train_report.txt` in the model folder).
use std::time::Instant;

use rayon::prelude::*;

use super::align::Alignment;
use super::config::{ClassicalConfig, Rung, RungSelection};
use super::hmm::AcousticModel;
use super::lda_sat::{train_tri2b, train_tri3b, SplicedTransform};
use super::model::{ClassicalModel, RungResult};
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
    /// The stage running: its number, wall clock and process CPU seconds at its start.
    current: Option<(usize, Instant, f64)>,
    /// (stage, wall seconds, CPU seconds) of the stages finished.
    times: Vec<(usize, f64, f64)>,
}

impl StageLog {
    pub fn new(progress: bool) -> Self {
        StageLog {
            progress,
            text: String::new(),
            current: None,
            times: Vec::new(),
        }
    }

    /// A stage's heading, as Kaldi's recipes echo `stage N: ...`; the stage
    /// before it ends here.
    fn stage(&mut self, n: usize, name: &str) {
        self.end_stage();
        self.line(format!("== stage {n}: {name}"));
        self.current = Some((n, Instant::now(), crate::process_usage::cpu_seconds()));
    }

    /// Close the running stage: its wall and CPU time (CPU / wall is how
    /// many threads it kept busy: near 1 is a serial stage).
    fn end_stage(&mut self) {
        if let Some((n, t, cpu)) = self.current.take() {
            let (wall, cpu) = (
                t.elapsed().as_secs_f64(),
                crate::process_usage::cpu_seconds() - cpu,
            );
            self.times.push((n, wall, cpu));
            self.line(format!(
                "stage {n}: {wall:.1} s wall, {cpu:.1} s CPU ({:.2} threads busy)",
                cpu / wall.max(1e-9)
            ));
        }
    }

    /// Every stage's wall and CPU seconds in one line (the profile the
    /// thread-scaling measurement reads).
    fn profile(&mut self) {
        self.end_stage();
        let parts: Vec<String> = self
            .times
            .iter()
            .map(|(n, w, c)| format!("{n}: {w:.1}/{c:.1}"))
            .collect();
        self.line(format!(
            "stage times (stage: wall s / CPU s): {}",
            parts.join(", ")
        ));
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
    crate::threads::install(ctx.threads, || run(cfg, ctx))?
}

/// The stages in order.
fn run(cfg: &ClassicalConfig, ctx: &TrainContext) -> Result<ClassicalModel> {
    let t0 = Instant::now();
    let mut log = StageLog::new(ctx.progress);
    check_transcripts(&ctx.train)?;
    let phones = PhoneSet::standard();
    let top = cfg.top_rung();
    log.line(format!(
        "ladder: mono up to {top}, {}",
        match cfg.ladder.select {
            RungSelection::Top => format!("{top} decodes"),
            RungSelection::BestDev => "the rung with the lowest dev WER decodes".into(),
        }
    ));
    log.stage(1, "lexicon");
    let lexicon = stage_lexicon(cfg, ctx, &phones, &mut log)?;
    log.stage(2, "features");
    let data = stage_features(cfg, &cfg.features, ctx, &lexicon, &mut log)?;
    log.stage(3, "monophones");
    let (mono, mono_alis) = stage_mono(cfg, &data, &phones, &mut log)?;
    let tri1 = if top >= Rung::Tri1 {
        log.stage(4, "triphones (tri1)");
        Some(stage_tri(cfg, &data, &mono, &mono_alis, &mut log)?)
    } else {
        None
    };
    log.stage(5, "language models");
    let (am_for_lm, alis_for_lm) = match &tri1 {
        Some((am, alis)) => (am, alis),
        None => (&mono, &mono_alis),
    };
    let (lm, phone_lm) = stage_lm(
        cfg,
        ctx,
        &lexicon,
        &data,
        am_for_lm,
        alis_for_lm,
        &phones,
        &mut log,
    )?;
    let assemble = |am: AcousticModel| {
        ClassicalModel::assemble(
            cfg.clone(),
            am,
            lexicon.clone(),
            lm.clone(),
            phone_lm.clone(),
            cfg.decode.clone(),
            String::new(),
        )
    };
    let mut rungs: Vec<ClassicalModel> = vec![assemble(mono.clone())?];
    let tri2b = match &tri1 {
        Some((tri1_am, tri1_alis)) if top >= Rung::Tri2b => {
            log.stage(6, "LDA+MLLT triphones (tri2b)");
            Some(stage_tri2b(
                cfg, ctx, &lexicon, &mono, tri1_am, tri1_alis, &mut log,
            )?)
        }
        _ => None,
    };
    if let Some((am, _)) = tri1 {
        rungs.push(assemble(am)?);
    }
    drop(data);
    let mut tri3b = None;
    if let Some((am, transform, si_data, alis)) = tri2b {
        if top >= Rung::Tri3b {
            log.stage(7, "speaker-adaptive triphones (tri3b)");
            tri3b = Some(stage_tri3b(
                cfg, ctx, &mono, &si_data, &am, &alis, &mut log,
            )?);
        }
        drop(si_data);
        rungs.push(assemble(am)?.with_transform(Rung::Tri2b, transform));
    }
    // Which rungs are tuned on dev: every one for `best-dev`; the top one
    // (and tri2b, the SAT model's first pass) otherwise.
    let tuned =
        |r: Rung| cfg.ladder.select == RungSelection::BestDev || r == top || r == Rung::Tri2b;
    let mut ladder: Vec<RungResult> = Vec::new();
    if !ctx.dev.is_empty() {
        log.stage(8, "dev PER, LM weight and word penalty per rung");
    }
    let mut tune = |m: &mut ClassicalModel, log: &mut StageLog| -> Result<()> {
        if ctx.dev.is_empty() || !tuned(m.rung) {
            return Ok(());
        }
        log.line(format!("-- {}", m.rung));
        let (dc, wer) = stage_tune(cfg, ctx, m, &phones, log)?;
        m.decode = dc;
        ladder.push(RungResult {
            rung: m.rung,
            dev_wer: wer,
            lm_weight: m.decode.lm_weight,
            word_penalty: m.decode.word_penalty,
            gaussians: m.am.num_gaussians(),
            pdfs: m.am.pdfs.len(),
        });
        Ok(())
    };
    for m in rungs.iter_mut() {
        tune(m, &mut log)?;
    }
    if let Some(am) = tri3b {
        let si = rungs.last().expect("tri2b trained before tri3b");
        let mut m = assemble(am)?
            .with_transform(Rung::Tri3b, si.transform.clone().expect("tri2b transform"))
            .with_first_pass(si.am.clone(), si.decode.clone());
        tune(&mut m, &mut log)?;
        rungs.push(m);
    }
    let chosen = select_rung(&ladder, cfg.ladder.select, top);
    if cfg.ladder.select == RungSelection::BestDev && !ladder.is_empty() {
        log.line(format!(
            "ladder selection on dev: {chosen} ({})",
            ladder
                .iter()
                .map(|r| format!("{} {:.2}%", r.rung, r.dev_wer))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut model = rungs
        .into_iter()
        .find(|m| m.rung == chosen)
        .expect("the chosen rung was trained");
    model.ladder = ladder;
    log.profile();
    log.line(format!(
        "total training time {:.1} s",
        t0.elapsed().as_secs_f64()
    ));
    model.report = log.into_text();
    Ok(model)
}

/// The rung that decodes test: for `best-dev` the lowest dev WER among the
/// tuned rungs (ties go to the lower, cheaper rung), else (or without dev
/// results) `top`.
pub fn select_rung(ladder: &[RungResult], select: RungSelection, top: Rung) -> Rung {
    match select {
        RungSelection::BestDev => ladder
            .iter()
            // A tie goes to the higher rung, the one Kaldi's recipe would
            // decode with: on FSDD the dev speakers are also training
            // speakers, tri2b and tri3b both score 0 errors there, and
            // only SAT generalises to the unseen test speakers.
            .min_by(|a, b| a.dev_wer.total_cmp(&b.dev_wer).then(b.rung.cmp(&a.rung)))
            .map_or(top, |r| r.rung),
        RungSelection::Top => top,
    }
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
            _ if cfg.lexicon.corpus_lexicon =>
                " (the corpus's lexicon.txt, words it lacks by espeak-ng)".into(),
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
    fcfg: &crate::features::FeatureConfig,
    ctx: &TrainContext,
    lex: &Lexicon,
    log: &mut StageLog,
) -> Result<TrainData> {
    let t = Instant::now();
    let feats = ctx.loader.features(fcfg, &ctx.train)?;
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

/// Stage 6: LDA+MLLT triphones from the tri1 alignments (`train_lda_mllt.sh`).
#[allow(clippy::type_complexity)]
fn stage_tri2b(
    cfg: &ClassicalConfig,
    ctx: &TrainContext,
    lex: &Lexicon,
    mono: &AcousticModel,
    tri1: &AcousticModel,
    tri1_alis: &Alignments,
    log: &mut StageLog,
) -> Result<(AcousticModel, SplicedTransform, TrainData, Alignments)> {
    let t = Instant::now();
    let base = stage_features(cfg, &cfg.static_features(), ctx, lex, log)?;
    let hours = base.hours();
    let sized = cfg.tri2b.sized_for(hours);
    log.line(format!(
        "tri2b size for {hours:.3} h: {} leaves, {} Gaussians",
        sized.num_leaves, sized.total_gaussians
    ));
    let r = train_tri2b(
        mono,
        &base,
        tri1,
        tri1_alis,
        &sized,
        &cfg.lda_mllt,
        &cfg.mono,
        &mut |l| log.line(l),
    )?;
    log.line(format!(
        "tri2b: {} Gaussians in {} tied states, trained in {:.1} s",
        r.0.num_gaussians(),
        r.0.pdfs.len(),
        t.elapsed().as_secs_f64()
    ));
    log.line(alignment_stats(&r.0, &r.2, &r.3));
    Ok(r)
}

/// Stage 7: speaker-adaptive triphones from the tri2b alignments (`train_sat.sh`).
fn stage_tri3b(
    cfg: &ClassicalConfig,
    ctx: &TrainContext,
    mono: &AcousticModel,
    si: &TrainData,
    tri2b: &AcousticModel,
    tri2b_alis: &Alignments,
    log: &mut StageLog,
) -> Result<AcousticModel> {
    let t = Instant::now();
    let speakers: Vec<String> = ctx.train.iter().map(|u| u.speaker.clone()).collect();
    let sized = cfg.tri3b.sized_for(si.hours());
    log.line(format!(
        "tri3b size for {:.3} h: {} leaves, {} Gaussians",
        si.hours(),
        sized.num_leaves,
        sized.total_gaussians
    ));
    let (am, transforms, _) = train_tri3b(
        mono,
        si,
        &speakers,
        tri2b,
        tri2b_alis,
        &sized,
        &cfg.sat,
        &cfg.mono,
        &mut |l| log.line(l),
    )?;
    log.line(format!(
        "tri3b: {} Gaussians in {} tied states, {} speaker transforms, trained in {:.1} s",
        am.num_gaussians(),
        am.pdfs.len(),
        transforms.len(),
        t.elapsed().as_secs_f64()
    ));
    Ok(am)
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
) -> Result<(DecodeConfig, f64)> {
    let mut dev: Vec<&Utterance> = ctx.dev.clone();
    dev.truncate(cfg.tune.max_dev_utterances.max(1));
    let dev_feats = model.features(ctx.loader, &dev)?;
    let ids: Vec<&str> = dev.iter().map(|u| u.id.as_str()).collect();
    let refs: Vec<String> = dev.iter().map(|u| u.norm_text.clone()).collect();
    // Every grid point and the phone loop decode each utterance with one
    // GMM scorer (`recognise_grid`): the same hypotheses as one decode per
    // grid point, each frame's acoustic scores computed once.
    let grid: Vec<DecodeConfig> = cfg.tune.candidates(&cfg.decode);
    let decoded: Vec<(Vec<String>, String)> = dev_feats
        .par_iter()
        .map(|f| {
            let (words, phones) = model.recognise_grid(f, &grid);
            let words = words
                .into_iter()
                .map(|r| {
                    r.words
                        .into_iter()
                        .map(|w| w.word)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            (words, phones.join(" "))
        })
        .collect();
    // PER on dev (reference phones from the lexicon, silence excluded).
    let ph_hyps: Vec<String> = decoded.iter().map(|d| d.1.clone()).collect();
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
    let mut words = 0usize;
    for (k, dc) in grid.into_iter().enumerate() {
        let (lw, wp) = (dc.lm_weight, dc.word_penalty);
        let hyps: Vec<String> = decoded.iter().map(|d| d.0[k].clone()).collect();
        let (e, n) = shared_errors(&ids, &refs, &hyps, crate::score::Level::Word)?;
        words = n;
        log.line(format!(
            "dev WER {:.2}% ({e}/{n}) at lm_weight {lw} word_penalty {wp}",
            100.0 * e as f64 / n.max(1) as f64
        ));
        if best.as_ref().map_or(true, |b| e < b.0) {
            best = Some((e, dc));
        }
    }
    let (e, dc) = best.expect("at least one grid point");
    let wer = 100.0 * e as f64 / words.max(1) as f64;
    log.line(format!(
        "chosen: lm_weight {} word_penalty {} (dev WER {wer:.2}%)",
        dc.lm_weight, dc.word_penalty
    ));
    Ok((dc, wer))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn result(rung: Rung, dev_wer: f64) -> RungResult {
        RungResult {
            rung,
            dev_wer,
            lm_weight: 10.0,
            word_penalty: 0.0,
            gaussians: 0,
            pdfs: 0,
        }
    }

    #[test]
    fn ladder_selection_picks_the_lowest_dev_wer() {
        let ladder = [
            result(Rung::Mono, 9.0),
            result(Rung::Tri1, 7.5),
            result(Rung::Tri2b, 6.1),
            result(Rung::Tri3b, 6.4),
        ];
        assert_eq!(
            select_rung(&ladder, RungSelection::BestDev, Rung::Tri3b),
            Rung::Tri2b
        );
        assert_eq!(
            select_rung(&ladder, RungSelection::Top, Rung::Tri3b),
            Rung::Tri3b
        );
        // A tie goes to the higher rung.
        let tie = [
            result(Rung::Tri1, 5.0),
            result(Rung::Tri3b, 5.0),
            result(Rung::Tri2b, 5.0),
        ];
        assert_eq!(
            select_rung(&tie, RungSelection::BestDev, Rung::Tri3b),
            Rung::Tri3b
        );
        // No dev results: the top rung.
        assert_eq!(
            select_rung(&[], RungSelection::BestDev, Rung::Tri2b),
            Rung::Tri2b
        );
    }
}
