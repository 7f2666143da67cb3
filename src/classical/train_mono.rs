//! Monophone training in the shape of Kaldi's `train_mono.sh`: flat start
//! (one Gaussian per state at the global mean and variance, equal
//! alignment), then Viterbi-EM passes (hard state alignment, soft Gaussian
//! posteriors within a state), realigning on a schedule and splitting
//! mixtures each pass until a total number of Gaussians is reached.
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::align::{align, equal_alignment, transcript_units, AlignUnit, Alignment};
use super::gmm::{DiagGmm, GmmAcc};
use super::hmm::{AcousticModel, GmmScorer};
use crate::error::{Error, Result};
use crate::lang::phones::PhoneSet;
use crate::lang::topology::PhoneTopology;
use crate::matrix::Matrix;

/// Training options (Kaldi's train_mono.sh defaults, except where noted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonoConfig {
    /// EM passes.
    pub iters: usize,
    /// Gaussians in all after mixing up (unless `gaussians_per_sqrt_hour` sets it).
    pub total_gaussians: usize,
    /// When > 0, the Gaussians grow with the training audio instead:
    /// `total_gaussians = round(this x sqrt(hours))`, at least one per state
    /// (see [`MonoConfig::sized_for`]). Default 0 (the fixed `total_gaussians`).
    pub gaussians_per_sqrt_hour: f64,
    /// Stop adding Gaussians after this pass.
    pub max_iter_inc: usize,
    /// Passes that start with a Viterbi realignment.
    pub realign_iters: Vec<usize>,
    /// Alignment beam (retried at 4x, then unpruned).
    pub beam: f32,
    /// Variance floor as a fraction of the global variance.
    pub var_floor: f32,
    /// Components with fewer frames than this are dropped.
    pub min_gaussian_occupancy: f64,
    /// Gaussians are shared out in proportion to state occupancy to this power.
    pub power: f64,
    /// Split perturbation in standard deviations.
    pub perturb: f32,
    /// Allow silence between words (and at the ends) in alignments.
    pub optional_silence: bool,
    /// Word-position-dependent phones (Kaldi's `_B _I _E _S` variants, its
    /// default): 4 models per phone, so a monophone knows whether it starts,
    /// continues or ends a word. Off by default here: on kathleen (1.24 h,
    /// 1000 Gaussians) it cost 2.3 WER points (docs/CLASSICAL.md).
    /// Triphones see the word boundary as context instead and ignore this.
    pub position_dependent: bool,
}

impl Default for MonoConfig {
    fn default() -> Self {
        MonoConfig {
            iters: 40,
            total_gaussians: 1000,
            gaussians_per_sqrt_hour: 0.0,
            max_iter_inc: 30,
            realign_iters: vec![
                1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 16, 18, 20, 23, 26, 29, 32, 35, 38,
            ],
            beam: 10.0 * 10.0,
            var_floor: 0.01,
            min_gaussian_occupancy: 10.0,
            power: 0.2,
            perturb: 0.2,
            optional_silence: true,
            position_dependent: false,
        }
    }
}

impl MonoConfig {
    /// This config with `total_gaussians` resolved for `hours` of training
    /// audio by the `gaussians_per_sqrt_hour` rule (unchanged when it is 0),
    /// never fewer than `states` (one Gaussian per state).
    pub fn sized_for(&self, hours: f64, states: usize) -> MonoConfig {
        let mut c = self.clone();
        if self.gaussians_per_sqrt_hour > 0.0 {
            c.total_gaussians = ((self.gaussians_per_sqrt_hour * hours.max(0.0).sqrt()).round()
                as usize)
                .max(states);
            c.gaussians_per_sqrt_hour = 0.0;
        }
        c
    }
}

/// Training utterances: features and, for each word, its pronunciations
/// (the alignment chooses among them).
pub struct TrainData {
    pub ids: Vec<String>,
    pub feats: Vec<Matrix>,
    /// `prons[utt][word]` = that word's alternatives, each a phone sequence.
    pub prons: Vec<Vec<Vec<Vec<usize>>>>,
}

impl TrainData {
    /// Hours of training audio (10 ms frames).
    pub fn hours(&self) -> f64 {
        self.feats.iter().map(|m| m.rows).sum::<usize>() as f64 / 360_000.0
    }

    /// The HMM graph of utterance `i`'s transcript.
    pub fn units(
        &self,
        i: usize,
        topo: &dyn PhoneTopology,
        optional_silence: bool,
    ) -> Vec<AlignUnit> {
        let alts: Vec<&[Vec<usize>]> = self.prons[i].iter().map(|a| a.as_slice()).collect();
        transcript_units(topo, &alts, optional_silence)
    }
    /// The phones of utterance `i` as aligned (chosen pronunciations,
    /// silence left out); `None` without an alignment.
    pub fn aligned_phones(
        &self,
        i: usize,
        topo: &dyn PhoneTopology,
        optional_silence: bool,
        ali: Option<&Alignment>,
    ) -> Option<Vec<usize>> {
        let ali = ali?;
        let units = self.units(i, topo, optional_silence);
        let chosen = ali.chosen_prons(&units, self.prons[i].len());
        Some(
            self.prons[i]
                .iter()
                .zip(chosen)
                .flat_map(|(alts, k)| alts[k.unwrap_or(0)].iter().copied())
                .collect(),
        )
    }
}

/// Statistics of one pass.
pub struct Accs {
    pub gmm: Vec<GmmAcc>,
    pub occ: Vec<f64>,
    pub visits: Vec<f64>,
    pub ll: f64,
    pub frames: usize,
}

impl Accs {
    pub fn new(model: &AcousticModel) -> Self {
        Accs {
            gmm: model
                .pdfs
                .iter()
                .map(|g| GmmAcc::new(g.num_components(), model.dim))
                .collect(),
            occ: vec![0.0; model.pdfs.len()],
            visits: vec![0.0; model.pdfs.len()],
            ll: 0.0,
            frames: 0,
        }
    }
    pub fn add(
        &mut self,
        model: &AcousticModel,
        feats: &Matrix,
        ali: &Alignment,
        scratch: &mut Vec<f32>,
    ) {
        for t in 0..feats.rows {
            let p = ali.pdf[t] as usize;
            self.ll += self.gmm[p].add(&model.pdfs[p], feats.row(t), 1.0, scratch);
            self.occ[p] += 1.0;
            if t == 0 || ali.unit[t] != ali.unit[t - 1] || ali.state[t] != ali.state[t - 1] {
                self.visits[p] += 1.0;
            }
        }
        self.frames += feats.rows;
    }
    pub fn merge(mut self, o: Accs) -> Self {
        for (a, b) in self.gmm.iter_mut().zip(&o.gmm) {
            a.merge(b);
        }
        for i in 0..self.occ.len() {
            self.occ[i] += o.occ[i];
            self.visits[i] += o.visits[i];
        }
        self.ll += o.ll;
        self.frames += o.frames;
        self
    }
}

/// Accumulate statistics over all utterances (parallel).
pub fn accumulate(model: &AcousticModel, data: &TrainData, alis: &[Option<Alignment>]) -> Accs {
    (0..data.feats.len())
        .into_par_iter()
        .fold(
            || (Accs::new(model), Vec::new()),
            |(mut acc, mut scratch), i| {
                if let Some(a) = &alis[i] {
                    acc.add(model, &data.feats[i], a, &mut scratch);
                }
                (acc, scratch)
            },
        )
        .map(|(a, _)| a)
        .reduce(|| Accs::new(model), Accs::merge)
}

/// Update the model from statistics; then share out `target_gauss` by occupancy^power.
pub fn update(
    model: &mut AcousticModel,
    accs: &Accs,
    var_floor: &[f32],
    min_occ: f64,
    target_gauss: usize,
    power: f64,
    perturb: f32,
) {
    for (p, g) in model.pdfs.iter_mut().enumerate() {
        accs.gmm[p].update(g, var_floor, min_occ);
        if accs.occ[p] > 0.0 {
            model.self_loop[p] =
                (((accs.occ[p] - accs.visits[p]) / accs.occ[p]) as f32).clamp(0.01, 0.99);
        }
    }
    let cur = model.num_gaussians();
    if target_gauss > cur {
        let w: Vec<f64> = accs.occ.iter().map(|o| o.max(0.0).powf(power)).collect();
        let tot: f64 = w.iter().sum();
        if tot > 0.0 {
            for (p, g) in model.pdfs.iter_mut().enumerate() {
                let want = ((target_gauss as f64 * w[p] / tot).round() as usize).max(1);
                // Never more components than the data can support.
                let cap = ((accs.occ[p] / min_occ.max(1.0)) as usize).max(1);
                let want = want.min(cap);
                if want > g.num_components() {
                    g.split(want, perturb);
                }
            }
        }
    }
}

/// Realign all utterances with the current model (parallel). Utterances that
/// cannot be aligned get `None` and are left out of the statistics.
pub fn realign(
    model: &AcousticModel,
    data: &TrainData,
    beam: f32,
    optional_silence: bool,
) -> Vec<Option<Alignment>> {
    (0..data.feats.len())
        .into_par_iter()
        .map(|i| {
            let units = data.units(i, model as &dyn PhoneTopology, optional_silence);
            let mut sc = GmmScorer::new(model, &data.feats[i]);
            align(&units, &mut sc, beam)
        })
        .collect()
}

/// Global mean and variance of all frames.
pub fn global_stats(feats: &[Matrix]) -> Result<(Vec<f32>, Vec<f32>)> {
    let dim = feats
        .iter()
        .find(|m| m.rows > 0)
        .map(|m| m.cols)
        .ok_or_else(|| Error::Invalid("no training frames".into()))?;
    let mut s = vec![0f64; dim];
    let mut s2 = vec![0f64; dim];
    let mut n = 0f64;
    for m in feats {
        for r in m.iter_rows() {
            for j in 0..dim {
                s[j] += r[j] as f64;
                s2[j] += (r[j] as f64).powi(2);
            }
            n += 1.0;
        }
    }
    let mean: Vec<f32> = s.iter().map(|v| (v / n) as f32).collect();
    let var: Vec<f32> = (0..dim)
        .map(|j| ((s2[j] / n) as f32 - mean[j] * mean[j]).max(1e-6))
        .collect();
    Ok((mean, var))
}

/// Train monophones. `log` receives one line per pass.
pub fn train_mono(
    data: &TrainData,
    phones: &PhoneSet,
    cfg: &MonoConfig,
    log: &mut dyn FnMut(String),
) -> Result<(AcousticModel, Vec<Option<Alignment>>)> {
    let (mean, var) = global_stats(&data.feats)?;
    let dim = mean.len();
    let var_floor: Vec<f32> = var.iter().map(|v| v * cfg.var_floor).collect();
    let n_pdfs = AcousticModel::num_mono_units(phones, cfg.position_dependent) * 3;
    let mut model = AcousticModel {
        phones: phones.clone(),
        states_per_phone: 3,
        pdfs: (0..n_pdfs)
            .map(|_| DiagGmm::single(mean.clone(), var.clone()))
            .collect(),
        self_loop: vec![0.75; n_pdfs],
        tree: None,
        dim,
        position_dependent: cfg.position_dependent,
    };
    let mut alis: Vec<Option<Alignment>> = (0..data.feats.len())
        .map(|i| {
            let units = data.units(i, &model as &dyn PhoneTopology, cfg.optional_silence);
            equal_alignment(&units, data.feats[i].rows)
        })
        .collect();
    let n_ok = alis.iter().filter(|a| a.is_some()).count();
    if n_ok == 0 {
        return Err(Error::Invalid(
            "no training utterance is long enough for its transcript".into(),
        ));
    }
    let init_gauss = n_pdfs;
    let inc =
        (cfg.total_gaussians.saturating_sub(init_gauss)) as f64 / cfg.max_iter_inc.max(1) as f64;
    for it in 0..cfg.iters {
        if it > 0 && cfg.realign_iters.contains(&it) {
            alis = realign(&model, data, cfg.beam, cfg.optional_silence);
        }
        let accs = accumulate(&model, data, &alis);
        let target = if it < cfg.max_iter_inc {
            init_gauss + (inc * (it + 1) as f64) as usize
        } else {
            cfg.total_gaussians
        };
        update(
            &mut model,
            &accs,
            &var_floor,
            cfg.min_gaussian_occupancy,
            target.min(cfg.total_gaussians),
            cfg.power,
            cfg.perturb,
        );
        let aligned = alis.iter().filter(|a| a.is_some()).count();
        log(format!(
            "mono pass {:>2}: log-likelihood/frame {:.3} over {} frames, {}/{} utterances aligned, {} Gaussians",
            it,
            accs.ll / accs.frames.max(1) as f64,
            accs.frames,
            aligned,
            alis.len(),
            model.num_gaussians()
        ));
    }
    alis = realign(&model, data, cfg.beam, cfg.optional_silence);
    Ok((model, alis))
}
