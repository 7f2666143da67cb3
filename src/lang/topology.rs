//! What the lexicon-tree decoder and the aligner search: a phone expands
//! into a chain of emitting states ([`PhoneTopology`]), each scoring frames
//! through a pdf column ([`FrameScorer`]). The GMM-HMM's 3-state phones
//! (`crate::classical::hmm::AcousticModel`) and CTC's one-state phones with
//! an optional blank ([`super::ctc_topology::CtcTopology`]) both implement it,
//! so one decoder serves the classical and the phone-ctc recognisers.
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

/// Per-frame pdf scores, computed on demand and cached (decoders touch only
/// the pdfs of active states).
pub trait FrameScorer {
    fn num_frames(&self) -> usize;
    fn score(&mut self, t: usize, pdf: usize) -> f32;
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

/// Fixtures shared by the aligner's and the decoder's tests.
#[cfg(test)]
pub(crate) mod toy {
    use super::{ChainState, PhoneTopology};
    use crate::matrix::Matrix;

    /// One self-looped state per phone (stay or move on with probability
    /// 1/2), pdf = phone id, over this many phones; phone 0 is silence.
    pub struct ToyTopology(pub usize);

    impl PhoneTopology for ToyTopology {
        fn chain(&self, _l: Option<usize>, p: usize, _r: Option<usize>) -> Vec<ChainState> {
            vec![ChainState {
                pdf: p as u32,
                self_lp: 0.5f32.ln(),
                next_lp: 0.5f32.ln(),
                skippable: false,
            }]
        }
        fn num_pdfs(&self) -> usize {
            self.0
        }
        fn silence(&self) -> Option<usize> {
            Some(0)
        }
    }

    /// One frame per entry: score 0 for that phone's pdf, -10 for the others.
    pub fn one_hot_scores(frames: &[usize], num_pdfs: usize) -> Matrix {
        let rows: Vec<f32> = frames
            .iter()
            .flat_map(|&p| (0..num_pdfs).map(move |j| if j == p { 0.0 } else { -10.0 }))
            .collect();
        Matrix::from_vec(frames.len(), num_pdfs, rows)
    }
}
