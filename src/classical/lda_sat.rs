//! The two rungs above tri1 in Kaldi's ladder: LDA+MLLT triphones
//! (`train_lda_mllt.sh`, "tri2b") and speaker-adaptive training with fMLLR
//! (`train_sat.sh`, "tri3b"), and the two-pass fMLLR adaptation that decodes
//! with a SAT model (`decode_fmllr.sh`).
//!
//! tri2b reads the 13 normalised cepstra spliced over +-3 frames, projected
//! by an LDA estimated from the tri1 alignments' pdf classes to 40
//! dimensions, and then rotated by MLLT updates at `mllt_iters` (the model's
//! means are carried along, as `gmm-transform-means` does). tri3b starts from
//! the tri2b alignments, estimates one affine transform per speaker by
//! maximising the likelihood of its aligned frames, builds its own tree on
//! the adapted features and re-estimates the transforms at `fmllr_iters`.
use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::align::{align, transcript_units, Alignment};
use super::gmm::extend;
use super::hmm::{AcousticModel, GmmScorer};
use super::train_mono::{MonoConfig, TrainData};
use super::train_tri::{build_tree, train_passes, NewFeatures, TriConfig};
use super::transforms::{splice, AffineTransform, FmllrAccs, LdaAccs, MlltAccs};
use crate::error::{Error, Result};
use crate::lang::topology::PhoneTopology;
use crate::matrix::Matrix;

/// `[lda_mllt]`: the tri2b front end (Kaldi `train_lda_mllt.sh` defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LdaMlltConfig {
    /// Frames spliced on each side of the cepstra (`--left-context`/`--right-context` 3).
    pub splice: usize,
    /// LDA output dimension (`--dim` 40).
    pub dim: usize,
    /// Passes that start with an MLLT update (Kaldi's `mllt_iters` 2 4 6 12).
    pub mllt_iters: Vec<usize>,
    /// Row-by-row sweeps of one MLLT estimate (Kaldi `est-mllt`: 10).
    pub mllt_sweeps: usize,
    /// Weight of silence frames in the LDA and MLLT statistics (Kaldi 0.0).
    pub silence_weight: f64,
}

impl Default for LdaMlltConfig {
    fn default() -> Self {
        LdaMlltConfig {
            splice: 3,
            dim: 40,
            mllt_iters: vec![2, 4, 6, 12],
            mllt_sweeps: 10,
            silence_weight: 0.0,
        }
    }
}

/// `[sat]`: speaker-adaptive training and fMLLR decoding (Kaldi
/// `train_sat.sh` / `decode_fmllr.sh` defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SatConfig {
    /// Passes that start by re-estimating the speakers' transforms (2 4 6 12).
    pub fmllr_iters: Vec<usize>,
    /// Row-by-row sweeps of one fMLLR estimate (Kaldi `gmm-est-fmllr`: 40).
    pub fmllr_sweeps: usize,
    /// A speaker with fewer (non-silence) frames keeps the identity
    /// transform (Kaldi `--fmllr-min-count` 500).
    pub min_count: f64,
    /// Weight of silence frames in the fMLLR statistics (Kaldi 0.0).
    pub silence_weight: f64,
    /// Decoding: estimation rounds per test speaker. The first round aligns
    /// the speaker-independent (tri2b) first pass, each further round the
    /// adapted pass before it, composing the transforms (Kaldi's
    /// `decode_fmllr.sh` makes 2).
    pub decode_rounds: usize,
}

impl Default for SatConfig {
    fn default() -> Self {
        SatConfig {
            fmllr_iters: vec![2, 4, 6, 12],
            fmllr_sweeps: 40,
            min_count: 500.0,
            silence_weight: 0.0,
            decode_rounds: 2,
        }
    }
}

/// The spliced-cepstra projection a tri2b or tri3b model reads (Kaldi's
/// `final.mat`: LDA, then every MLLT update composed on top).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplicedTransform {
    pub splice: usize,
    pub mat: AffineTransform,
}

impl SplicedTransform {
    pub fn apply(&self, base: &Matrix) -> Matrix {
        self.mat.apply(&splice(base, self.splice))
    }
}

/// The silence pdfs of a model (silence is never split by a tree).
pub fn silence_pdfs(am: &AcousticModel) -> Vec<u32> {
    let s = am.phones.silence();
    (0..am.states_per_phone)
        .map(|k| am.pdf(None, s, None, k) as u32)
        .collect()
}

/// Every aligned frame of one utterance with a positive weight: silence
/// pdfs get `silence_weight` (Kaldi's `weight-silence-post`), the rest 1.
/// Calls `f(pdf, frame, weight)`.
fn weighted_frames(
    ali: &Alignment,
    feats: &Matrix,
    sil: &[u32],
    silence_weight: f64,
    mut f: impl FnMut(u32, &[f32], f64),
) {
    for t in 0..ali.pdf.len().min(feats.rows) {
        let p = ali.pdf[t];
        let w = if sil.contains(&p) {
            silence_weight
        } else {
            1.0
        };
        if w > 0.0 {
            f(p, feats.row(t), w);
        }
    }
}

/// Component posteriors of `am.pdfs[pdf]` at `x`, those below 1e-4 dropped
/// (Kaldi prunes Gaussian posteriors the same way in its accumulators).
fn posteriors(
    am: &AcousticModel,
    pdf: usize,
    x: &[f32],
    scratch: &mut Vec<f32>,
) -> Vec<(usize, f64)> {
    let g = &am.pdfs[pdf];
    g.component_lls(&extend(x), scratch);
    let m = scratch.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let tot: f64 = scratch.iter().map(|l| ((l - m) as f64).exp()).sum();
    scratch
        .iter()
        .enumerate()
        .map(|(k, l)| (k, ((l - m) as f64).exp() / tot))
        .filter(|(_, p)| *p >= 1e-4)
        .collect()
}

/// Stage of tri2b: LDA from the pdf classes of `alis` (`acc-lda` + `est-lda`).
///
/// Each utterance is spliced as its statistics are accumulated and then
/// dropped: the spliced copy is `2 * splice + 1` times the base features,
/// the largest thing the ladder would otherwise hold for the whole corpus.
fn estimate_lda(
    base: &[Matrix],
    alis: &[Option<Alignment>],
    am: &AcousticModel,
    cfg: &LdaMlltConfig,
) -> Result<(AffineTransform, Vec<f64>)> {
    let dim = base
        .iter()
        .find(|m| m.rows > 0)
        .map(|m| m.cols * (2 * cfg.splice + 1))
        .ok_or_else(|| Error::Invalid("LDA: no training frames".into()))?;
    let sil = silence_pdfs(am);
    let n = am.pdfs.len();
    let accs = (0..base.len())
        .into_par_iter()
        .fold(
            || LdaAccs::new(dim, n),
            |mut acc, i| {
                if let Some(a) = &alis[i] {
                    let spliced = splice(&base[i], cfg.splice);
                    weighted_frames(a, &spliced, &sil, cfg.silence_weight, |p, x, w| {
                        acc.add(p as usize, x, w)
                    });
                }
                acc
            },
        )
        .reduce(
            || LdaAccs::new(dim, n),
            |mut a, b| {
                a.merge(&b);
                a
            },
        );
    accs.estimate(cfg.dim.min(dim))
}

/// One MLLT update (`gmm-acc-mllt` + `est-mllt` + `gmm-transform-means`):
/// returns the square transform, already applied to the model's means, and
/// the auxiliary function's gain per frame.
fn mllt_update(
    am: &mut AcousticModel,
    data: &TrainData,
    alis: &[Option<Alignment>],
    cfg: &LdaMlltConfig,
) -> Result<(AffineTransform, f64)> {
    let d = am.dim;
    let sil = silence_pdfs(am);
    let mut offset = vec![0usize; am.pdfs.len() + 1];
    for (p, g) in am.pdfs.iter().enumerate() {
        offset[p + 1] = offset[p] + g.num_components();
    }
    let total = offset[am.pdfs.len()];
    // Per-Gaussian count, sum and full scatter.
    struct Full {
        n: Vec<f64>,
        s: Vec<f64>,
        ss: Vec<f64>,
    }
    let new_full = || Full {
        n: vec![0.0; total],
        s: vec![0.0; total * d],
        ss: vec![0.0; total * d * d],
    };
    let model: &AcousticModel = am;
    let full = (0..data.feats.len())
        .into_par_iter()
        .fold(
            || (new_full(), Vec::new()),
            |(mut f, mut scratch), i| {
                let Some(a) = &alis[i] else {
                    return (f, scratch);
                };
                weighted_frames(a, &data.feats[i], &sil, cfg.silence_weight, |p, x, w| {
                    for (k, g) in posteriors(model, p as usize, x, &mut scratch) {
                        let gi = offset[p as usize] + k;
                        let g = g * w;
                        f.n[gi] += g;
                        let s = &mut f.s[gi * d..(gi + 1) * d];
                        let ss = &mut f.ss[gi * d * d..(gi + 1) * d * d];
                        for r in 0..d {
                            let xr = x[r] as f64 * g;
                            s[r] += xr;
                            let row = &mut ss[r * d..(r + 1) * d];
                            for c in 0..d {
                                row[c] += xr * x[c] as f64;
                            }
                        }
                    }
                });
                (f, scratch)
            },
        )
        .map(|(f, _)| f)
        .reduce(new_full, |mut a, b| {
            a.n.iter_mut().zip(&b.n).for_each(|(x, y)| *x += y);
            a.s.iter_mut().zip(&b.s).for_each(|(x, y)| *x += y);
            a.ss.iter_mut().zip(&b.ss).for_each(|(x, y)| *x += y);
            a
        });
    let mut accs = MlltAccs::new(d);
    for (p, g) in model.pdfs.iter().enumerate() {
        for k in 0..g.num_components() {
            let gi = offset[p] + k;
            if full.n[gi] > 0.0 {
                accs.add_gaussian(
                    full.n[gi],
                    &full.s[gi * d..(gi + 1) * d],
                    &full.ss[gi * d * d..(gi + 1) * d * d],
                    &g.means[k],
                    &g.vars[k],
                );
            }
        }
    }
    let count: f64 = full.n.iter().sum();
    let (t, aux) = accs.update(cfg.mllt_sweeps)?;
    let gain = match (aux.first(), aux.last()) {
        (Some(a), Some(b)) => (b - a) / count.max(1.0),
        _ => 0.0,
    };
    // Carry the means into the new space (variances stay: the next pass
    // re-estimates them, as in Kaldi).
    let lin = t.linear_part();
    for g in am.pdfs.iter_mut() {
        for m in g.means.iter_mut() {
            let old = m.clone();
            for (r, mr) in m.iter_mut().enumerate() {
                *mr = (0..d).map(|c| lin[r * d + c] * old[c] as f64).sum::<f64>() as f32;
            }
        }
    }
    am.prepare();
    Ok((t, gain))
}

/// Train LDA+MLLT triphones (tri2b). `base` holds the normalised static
/// cepstra (no deltas); `tri1`/`tri1_alis` give the LDA classes and the
/// tree's alignments; `mono` the question sets. Returns the model, its
/// transform, the features it was trained on and its final alignments.
#[allow(clippy::too_many_arguments)]
pub fn train_tri2b(
    mono: &AcousticModel,
    base: &TrainData,
    tri1: &AcousticModel,
    tri1_alis: &[Option<Alignment>],
    tcfg: &TriConfig,
    lcfg: &LdaMlltConfig,
    mcfg: &MonoConfig,
    log: &mut dyn FnMut(String),
) -> Result<(
    AcousticModel,
    SplicedTransform,
    TrainData,
    Vec<Option<Alignment>>,
)> {
    let (lda, eig) = estimate_lda(&base.feats, tri1_alis, tri1, lcfg)?;
    log(format!(
        "LDA: {} spliced dims -> {}, leading eigenvalues {}",
        lda.in_dim,
        lda.out_dim,
        eig.iter()
            .take(5)
            .map(|e| format!("{e:.2}"))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    let feats: Vec<Matrix> = base
        .feats
        .par_iter()
        .map(|f| lda.apply(&splice(f, lcfg.splice)))
        .collect();
    let data = TrainData {
        ids: base.ids.clone(),
        feats,
        prons: base.prons.clone(),
    };
    let (mut am, alis) = build_tree(mono, &data, tri1_alis, tcfg, mcfg, log)?;
    let mut mat = lda;
    let mut hook = |it: usize,
                    am: &mut AcousticModel,
                    cur: &TrainData,
                    alis: &[Option<Alignment>],
                    log: &mut dyn FnMut(String)|
     -> Result<NewFeatures> {
        if !lcfg.mllt_iters.contains(&it) {
            return Ok(None);
        }
        let (t, gain) = mllt_update(am, cur, alis, lcfg)?;
        mat = t.compose(&mat);
        let feats: Vec<Matrix> = cur.feats.par_iter().map(|f| t.apply(f)).collect();
        log(format!(
            "MLLT at pass {it}: auxiliary function +{gain:.4} per frame"
        ));
        Ok(Some(feats))
    };
    let (alis, final_feats) = train_passes(&mut am, &data, alis, tcfg, mcfg, &mut hook, log)?;
    let data = TrainData {
        feats: final_feats.unwrap_or(data.feats),
        ..data
    };
    Ok((
        am,
        SplicedTransform {
            splice: lcfg.splice,
            mat,
        },
        data,
        alis,
    ))
}

/// fMLLR statistics of the aligned frames of one speaker under `am`, and the
/// transform that maximises their likelihood (`gmm-est-fmllr`, estimated
/// from the identity on the features as given). Returns the transform, the
/// auxiliary function's gain per frame and the frame count.
pub fn estimate_fmllr(
    am: &AcousticModel,
    feats: &[&Matrix],
    alis: &[&Alignment],
    cfg: &SatConfig,
) -> Result<FmllrEstimate> {
    let d = am.dim;
    let sil = silence_pdfs(am);
    let mut accs = FmllrAccs::new(d);
    let mut scratch = Vec::new();
    for (f, a) in feats.iter().zip(alis) {
        weighted_frames(a, f, &sil, cfg.silence_weight, |p, x, w| {
            let g = &am.pdfs[p as usize];
            let gs: Vec<(&[f32], &[f32], f64)> = posteriors(am, p as usize, x, &mut scratch)
                .into_iter()
                .map(|(k, q)| (g.means[k].as_slice(), g.vars[k].as_slice(), q * w))
                .collect();
            accs.add_frame(x, &gs);
        });
    }
    let count = accs.count();
    let (w, aux) = accs.estimate(
        &AffineTransform::identity(d),
        cfg.fmllr_sweeps,
        cfg.min_count,
    )?;
    let gain = match (aux.first(), aux.last()) {
        (Some(a), Some(b)) => (b - a) / count.max(1.0),
        _ => 0.0,
    };
    Ok((w, gain, count))
}

/// An fMLLR transform with its auxiliary gain per frame and frame count.
pub type FmllrEstimate = (AffineTransform, f64, f64);

/// Utterance indices per speaker, speakers in sorted order.
pub fn by_speaker(speakers: &[String]) -> BTreeMap<&str, Vec<usize>> {
    let mut m: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, s) in speakers.iter().enumerate() {
        m.entry(s.as_str()).or_default().push(i);
    }
    m
}

/// Re-estimate every speaker's transform on top of `feats` (composing into
/// `transforms`), returning the adapted features, the mean gain per frame
/// and how many speakers kept the identity for lack of frames.
pub fn adapt_speakers(
    am: &AcousticModel,
    feats: &[Matrix],
    alis: &[Option<Alignment>],
    speakers: &[String],
    cfg: &SatConfig,
    transforms: &mut BTreeMap<String, AffineTransform>,
) -> Result<(Vec<Matrix>, f64, usize)> {
    let groups = by_speaker(speakers);
    let est: Vec<(&str, Result<FmllrEstimate>)> = groups
        .par_iter()
        .map(|(spk, idx)| {
            let (f, a): (Vec<&Matrix>, Vec<&Alignment>) = idx
                .iter()
                .filter_map(|&i| alis[i].as_ref().map(|a| (&feats[i], a)))
                .unzip();
            (*spk, estimate_fmllr(am, &f, &a, cfg))
        })
        .collect();
    let mut out: Vec<Matrix> = feats.to_vec();
    let (mut gain, mut frames, mut kept) = (0.0, 0.0, 0usize);
    for (spk, r) in est {
        let (w, g, n) = r.map_err(|e| Error::Invalid(format!("fMLLR for speaker {spk}: {e}")))?;
        if n < cfg.min_count {
            kept += 1;
        }
        gain += g * n;
        frames += n;
        for &i in &groups[spk] {
            out[i] = w.apply(&feats[i]);
        }
        let prev = transforms
            .remove(spk)
            .unwrap_or_else(|| AffineTransform::identity(am.dim));
        transforms.insert(spk.to_string(), w.compose(&prev));
    }
    Ok((out, gain / frames.max(1.0), kept))
}

/// Train speaker-adaptive triphones (tri3b) on `si` (the tri2b features),
/// from the tri2b model and alignments. Returns the model, the training
/// speakers' transforms and the final alignments.
#[allow(clippy::too_many_arguments)]
pub fn train_tri3b(
    mono: &AcousticModel,
    si: &TrainData,
    speakers: &[String],
    tri2b: &AcousticModel,
    tri2b_alis: &[Option<Alignment>],
    tcfg: &TriConfig,
    scfg: &SatConfig,
    mcfg: &MonoConfig,
    log: &mut dyn FnMut(String),
) -> Result<(
    AcousticModel,
    BTreeMap<String, AffineTransform>,
    Vec<Option<Alignment>>,
)> {
    let mut transforms = BTreeMap::new();
    let (feats, gain, kept) = adapt_speakers(
        tri2b,
        &si.feats,
        tri2b_alis,
        speakers,
        scfg,
        &mut transforms,
    )?;
    log(format!(
        "fMLLR from tri2b: {} speakers, auxiliary function +{gain:.3} per frame{}",
        transforms.len(),
        if kept > 0 {
            format!(", {kept} below min_count kept the identity")
        } else {
            String::new()
        }
    ));
    let data = TrainData {
        ids: si.ids.clone(),
        feats,
        prons: si.prons.clone(),
    };
    let (mut am, alis) = build_tree(mono, &data, tri2b_alis, tcfg, mcfg, log)?;
    let mut hook = |it: usize,
                    am: &mut AcousticModel,
                    cur: &TrainData,
                    alis: &[Option<Alignment>],
                    log: &mut dyn FnMut(String)|
     -> Result<NewFeatures> {
        if !scfg.fmllr_iters.contains(&it) {
            return Ok(None);
        }
        let (feats, gain, _) =
            adapt_speakers(am, &cur.feats, alis, speakers, scfg, &mut transforms)?;
        log(format!(
            "fMLLR at pass {it}: auxiliary function +{gain:.4} per frame"
        ));
        Ok(Some(feats))
    };
    let (alis, _) = train_passes(&mut am, &data, alis, tcfg, mcfg, &mut hook, log)?;
    Ok((am, transforms, alis))
}

/// Align a hypothesis (each word's pronunciations) with `align_am` on
/// `feats`, and express the alignment in `target`'s pdfs (the same
/// (unit, state) path through `target`'s tree, as `convert-ali` does).
pub fn align_hypothesis(
    align_am: &AcousticModel,
    target: &AcousticModel,
    feats: &Matrix,
    prons: &[&[Vec<usize>]],
    optional_silence: bool,
    beam: f32,
) -> Option<Alignment> {
    if prons.is_empty() {
        return None;
    }
    let units = transcript_units(align_am as &dyn PhoneTopology, prons, optional_silence);
    let mut sc = GmmScorer::new(align_am, feats);
    let mut a = align(&units, &mut sc, beam)?;
    let tunits = transcript_units(target as &dyn PhoneTopology, prons, optional_silence);
    for t in 0..a.pdf.len() {
        a.pdf[t] = tunits[a.unit[t] as usize].chain[a.state[t] as usize].pdf;
    }
    Some(a)
}
