//! Phone recognition for PER: the word decoder run over a "lexicon" whose
//! words are the phones themselves, with a phone bigram estimated on the
//! phone sequences of the training alignments (silence left out).
use super::hmm::{AcousticModel, ChainState, PhoneTopology};
use super::lexicon::Lexicon;
use super::lm::NgramLm;
use super::phones::PhoneSet;
use crate::error::Result;

/// The phone-loop lexicon: every non-silence phone is a one-phone word.
pub fn phone_lexicon(phones: &PhoneSet) -> Lexicon {
    let mut lex = Lexicon::new(phones.clone());
    for i in 1..phones.len() {
        lex.insert(phones.name(i), vec![i]).expect("non-empty");
    }
    lex
}

/// The acoustic model as the phone loop sees it: each one-phone "word" of
/// [`phone_lexicon`] would otherwise get the word-position-dependent
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

/// A phone n-gram from phone strings (space-separated phone names).
pub fn phone_lm<'a>(
    phone_sentences: impl IntoIterator<Item = &'a str>,
    phones: &'a PhoneSet,
    order: usize,
) -> Result<NgramLm> {
    let names: Vec<&str> = phones.names()[1..].iter().map(|s| s.as_str()).collect();
    NgramLm::estimate(phone_sentences, names, order)
}

/// Phone error rate pieces: (edit distance, reference length).
pub fn edit_distance<T: PartialEq>(r: &[T], h: &[T]) -> usize {
    let mut d: Vec<usize> = (0..=h.len()).collect();
    for i in 1..=r.len() {
        let mut prev = d[0];
        d[0] = i;
        for j in 1..=h.len() {
            let tmp = d[j];
            d[j] = (d[j] + 1)
                .min(d[j - 1] + 1)
                .min(prev + usize::from(r[i - 1] != h[j - 1]));
            prev = tmp;
        }
    }
    d[h.len()]
}
