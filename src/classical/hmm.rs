//! HMM topology and the acoustic model: a 3-state left-to-right HMM per
//! phone (silence included), each state emitting through a diagonal GMM
//! ("pdf"). Monophones have one pdf per (phone, state); triphones map
//! (left, phone, right, state) to a pdf through a decision tree.
use serde::{Deserialize, Serialize};

use super::gmm::DiagGmm;
use super::tree::ContextTree;
use crate::lang::phones::PhoneSet;
use crate::lang::topology::{ChainState, FrameScorer, PhoneTopology};

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
    /// Monophones only: separate models for a phone at the beginning, inside,
    /// at the end of a word and as a whole one-phone word (Kaldi's `_B _I _E
    /// _S` word-position-dependent phones; silence has one model). The
    /// position comes from the word-internal context: no left context means
    /// word-initial, no right context word-final.
    #[serde(default)]
    pub position_dependent: bool,
}

/// Where a phone sits in its word (Kaldi's `_B _I _E _S` suffixes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WordPosition {
    Begin = 0,
    Internal = 1,
    End = 2,
    Singleton = 3,
}

impl WordPosition {
    pub const ALL: [WordPosition; 4] = [
        WordPosition::Begin,
        WordPosition::Internal,
        WordPosition::End,
        WordPosition::Singleton,
    ];
    pub fn of(left: Option<usize>, right: Option<usize>) -> Self {
        match (left, right) {
            (None, None) => WordPosition::Singleton,
            (None, Some(_)) => WordPosition::Begin,
            (Some(_), None) => WordPosition::End,
            (Some(_), Some(_)) => WordPosition::Internal,
        }
    }
    pub fn suffix(self) -> &'static str {
        ["_B", "_I", "_E", "_S"][self as usize]
    }
}

impl AcousticModel {
    /// pdf of state `s` of `phone` in context.
    pub fn pdf(&self, left: Option<usize>, phone: usize, right: Option<usize>, s: usize) -> usize {
        match &self.tree {
            None => {
                self.mono_unit(phone, WordPosition::of(left, right)) * self.states_per_phone + s
            }
            Some(t) => t.pdf(left, phone, right, s),
        }
    }
    /// Monophone models ("units", each `states_per_phone` pdfs): one per
    /// phone, or with word positions 4 per non-silence phone plus silence.
    pub fn num_mono_units(phones: &PhoneSet, position_dependent: bool) -> usize {
        if position_dependent {
            4 * (phones.len() - 1) + 1
        } else {
            phones.len()
        }
    }
    /// The monophone unit of `phone` at word position `pos` (silence has one).
    pub fn mono_unit(&self, phone: usize, pos: WordPosition) -> usize {
        if !self.position_dependent {
            return phone;
        }
        let sil = self.phones.silence();
        if phone == sil {
            return 4 * (self.phones.len() - 1);
        }
        let q = if phone > sil { phone - 1 } else { phone };
        4 * q + pos as usize
    }
    /// The unit's name, e.g. `AH_E`.
    pub fn mono_unit_name(&self, unit: usize) -> String {
        if !self.position_dependent {
            return self.phones.name(unit).to_string();
        }
        let sil = self.phones.silence();
        if unit == 4 * (self.phones.len() - 1) {
            return self.phones.name(sil).to_string();
        }
        let q = unit / 4;
        let phone = if q >= sil { q + 1 } else { q };
        format!(
            "{}{}",
            self.phones.name(phone),
            WordPosition::ALL[unit % 4].suffix()
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_position_dependent_monophones_have_distinct_models() {
        let phones = PhoneSet::from_names(&["K", "AE", "T"]);
        let n = phones.len();
        let mut am = AcousticModel {
            phones: phones.clone(),
            states_per_phone: 3,
            pdfs: vec![],
            self_loop: vec![],
            tree: None,
            dim: 1,
            position_dependent: true,
        };
        assert_eq!(
            AcousticModel::num_mono_units(&phones, true),
            4 * (n - 1) + 1
        );
        let k = phones.id("K").unwrap();
        let t = phones.id("T").unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for p in 0..n {
            for pos in WordPosition::ALL {
                let u = am.mono_unit(p, pos);
                assert!(u < AcousticModel::num_mono_units(&phones, true));
                seen.insert(u);
            }
        }
        // Silence has one unit, each other phone four.
        assert_eq!(seen.len(), 4 * (n - 1) + 1);
        assert_eq!(
            am.mono_unit_name(am.mono_unit(k, WordPosition::Begin)),
            "K_B"
        );
        assert_eq!(
            am.mono_unit_name(am.mono_unit(t, WordPosition::Singleton)),
            "T_S"
        );
        // The word-internal context decides the position.
        assert_eq!(
            am.pdf(None, k, Some(t), 1),
            am.mono_unit(k, WordPosition::Begin) * 3 + 1
        );
        assert_eq!(
            am.pdf(Some(k), t, None, 0),
            am.mono_unit(t, WordPosition::End) * 3
        );
        am.position_dependent = false;
        assert_eq!(am.pdf(None, k, Some(t), 1), k * 3 + 1);
    }
}
