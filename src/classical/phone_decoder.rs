//! Phone recognition for PER: the word decoder run over a "lexicon" whose
//! words are the phones themselves, with a phone bigram estimated on the
//! phone sequences of the training alignments (silence left out).
use super::hmm::AcousticModel;
use crate::lang::topology::{ChainState, PhoneTopology};
pub use crate::lang::{phone_lexicon, phone_lm};

/// The acoustic model as the phone loop sees it: each one-phone "word" of
/// [`crate::lang::phone_lexicon`] would otherwise get the word-position-dependent
/// monophones' one-phone-word (`_S`) models; a phone in running speech is
/// mostly word-internal, so the loop uses the `_I` models. Triphones and
/// position-independent models pass through unchanged.
pub struct PhoneLoopTopology<'a>(pub &'a AcousticModel);

impl PhoneTopology for PhoneLoopTopology<'_> {
    fn chain(&self, left: Option<usize>, phone: usize, right: Option<usize>) -> Vec<ChainState> {
        if self.0.position_dependent && !self.0.is_triphone() && left.is_none() && right.is_none() {
            self.0.chain(Some(phone), phone, Some(phone))
        } else {
            self.0.chain(left, phone, right)
        }
    }
    fn num_pdfs(&self) -> usize {
        self.0.num_pdfs()
    }
    fn silence(&self) -> Option<usize> {
        self.0.silence()
    }
}
