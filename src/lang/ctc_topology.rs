//! The CTC phone topology, so the lexicon-tree decoder can search CTC phone
//! posteriors (phone-ctc's word stage):
//! - each phone is a one-state chain with a free self loop, followed by an
//!   optional (skippable) blank state with a self loop; the blank is
//!   compulsory between two identical phones inside a word, as CTC requires
//!   (the decoder can skip a chain's trailing skippable states, not its first);
//! - "silence" between words is the blank with a self loop;
//! - frame scores are the network's log posteriors (no prior division).
//!
//! Token ids equal [`super::phones::PhoneSet`] ids with the silence id 0
//! reused as the blank.
use super::topology::{ChainState, PhoneTopology};

/// The CTC phone topology over `num_tokens` posteriors (blank = 0).
pub struct CtcTopology {
    pub num_tokens: usize,
}

const BLANK_PDF: u32 = 0;

impl PhoneTopology for CtcTopology {
    fn chain(&self, _left: Option<usize>, phone: usize, right: Option<usize>) -> Vec<ChainState> {
        let blank = |skippable| ChainState {
            pdf: BLANK_PDF,
            self_lp: 0.0,
            next_lp: 0.0,
            skippable,
        };
        if phone == 0 {
            return vec![blank(false)];
        }
        vec![
            ChainState {
                pdf: phone as u32,
                self_lp: 0.0,
                next_lp: 0.0,
                skippable: false,
            },
            blank(right != Some(phone)),
        ]
    }
    fn num_pdfs(&self) -> usize {
        self.num_tokens
    }
    fn silence(&self) -> Option<usize> {
        Some(0)
    }
}
