//! HMM topology and the acoustic model: a 3-state left-to-right HMM per
//! phone (silence included), each state emitting through a diagonal GMM
//! ("pdf"). Monophones have one pdf per (phone, state); triphones map
//! (left, phone, right, state) to a pdf through a decision tree.
use serde::{Deserialize, Serialize};

use super::gmm::DiagGmm;
use super::phones::PhoneSet;
use super::tree::ContextTree;

/// One emitting state of a phone's chain, as the decoders see it: the pdf
/// whose score it emits, the log-probability of staying and of moving on.
/// A `skippable` state may be passed over without emitting (e.g. an optional
/// CTC blank between phones).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChainState {
    pub pdf: u32,
    pub self_lp: f32,
    pub next_lp: f32,
    pub skippable: bool,
}

/// Anything the lexicon decoder and aligner can expand a phone into: a chain
/// of states per phone in context. GMM-HMMs give 3 states per phone; a CTC
/// phone recogniser gives one state with a self loop (plus an optional blank).
pub trait PhoneTopology: Sync {
    /// States of `phone` with word-internal context (`None` at a word edge).
    fn chain(&self, left: Option<usize>, phone: usize, right: Option<usize>) -> Vec<ChainState>;
    /// Number of distinct pdfs (score columns).
    fn num_pdfs(&self) -> usize;
    /// Silence phone id, if the topology has one.
    fn silence(&self) -> Option<usize>;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AcousticModel {
    pub phones: PhoneSet,
    pub states_per_phone: usize,
    pub pdfs: Vec<DiagGmm>,
    /// Self-loop probability per pdf.
    pub self_loop: Vec<f32>,
    /// Triphone state tying; `None` for monophones.
    pub tree: Option<ContextTree>,
    pub dim: usize,
}

impl AcousticModel {
    /// pdf of state `s` of `phone` in context.
    pub fn pdf(&self, left: Option<usize>, phone: usize, right: Option<usize>, s: usize) -> usize {
        match &self.tree {
            None => phone * self.states_per_phone + s,
            Some(t) => t.pdf(left, phone, right, s),
        }
    }
    pub fn num_gaussians(&self) -> usize {
        self.pdfs.iter().map(|g| g.num_components()).sum()
    }
    pub fn prepare(&mut self) {
        self.pdfs.iter_mut().for_each(|g| g.prepare());
    }
    pub fn is_triphone(&self) -> bool {
        self.tree.is_some()
    }
}

impl PhoneTopology for AcousticModel {
    fn chain(&self, left: Option<usize>, phone: usize, right: Option<usize>) -> Vec<ChainState> {
        (0..self.states_per_phone)
            .map(|s| {
                let pdf = self.pdf(left, phone, right, s);
                let p = self.self_loop[pdf].clamp(0.01, 0.99);
                ChainState {
                    pdf: pdf as u32,
                    self_lp: p.ln(),
                    next_lp: (1.0 - p).ln(),
                    skippable: false,
                }
            })
            .collect()
    }
    fn num_pdfs(&self) -> usize {
        self.pdfs.len()
    }
    fn silence(&self) -> Option<usize> {
        Some(self.phones.silence())
    }
}

/// Per-frame pdf scores, computed on demand and cached (decoders touch only
/// the pdfs of active states).
pub trait FrameScorer {
    fn num_frames(&self) -> usize;
    fn score(&mut self, t: usize, pdf: usize) -> f32;
}

/// GMM scores of one utterance's features, cached per (frame, pdf).
pub struct GmmScorer<'a> {
    model: &'a AcousticModel,
    ext: Vec<Vec<f32>>,
    cache: Vec<f32>,
    stamp: Vec<bool>,
}

impl<'a> GmmScorer<'a> {
    pub fn new(model: &'a AcousticModel, feats: &crate::matrix::Matrix) -> Self {
        let ext: Vec<Vec<f32>> = feats.iter_rows().map(super::gmm::extend).collect();
        let n = ext.len() * model.pdfs.len();
        GmmScorer {
            model,
            ext,
            cache: vec![0.0; n],
            stamp: vec![false; n],
        }
    }
}

impl FrameScorer for GmmScorer<'_> {
    fn num_frames(&self) -> usize {
        self.ext.len()
    }
    fn score(&mut self, t: usize, pdf: usize) -> f32 {
        let i = t * self.model.pdfs.len() + pdf;
        if !self.stamp[i] {
            self.stamp[i] = true;
            self.cache[i] = self.model.pdfs[pdf].log_likelihood_ext(&self.ext[t]);
        }
        self.cache[i]
    }
}

/// Precomputed scores (e.g. CTC log-posteriors, frames x pdfs).
pub struct MatrixScorer<'a>(pub &'a crate::matrix::Matrix);

impl FrameScorer for MatrixScorer<'_> {
    fn num_frames(&self) -> usize {
        self.0.rows
    }
    fn score(&mut self, t: usize, pdf: usize) -> f32 {
        self.0.row(t)[pdf]
    }
}
