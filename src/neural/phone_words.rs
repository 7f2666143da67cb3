//! phone-ctc's word stage: the classical lexicon and word n-gram LM turn CTC
//! phone posteriors into words with the classical lexicon-tree decoder
//! ([`crate::lang::decoder`]), through the CTC phone topology of
//! [`crate::lang::ctc_topology`]:
//! - each phone is a one-state chain with a free self loop, followed by an
//!   optional (skippable) blank state with a self loop; the blank is
//!   compulsory between two identical phones inside a word, as CTC requires
//!   (the decoder can skip a chain's trailing skippable states, not its first);
//! - "silence" between words is the blank with a self loop;
//! - frame scores are the network's log posteriors (no prior division).
//!
//! CTC token ids equal [`PhoneSet`] ids with the silence id 0 reused as the blank.
use std::path::Path;

use crate::corpus::Utterance;
use crate::error::{Error, Result};
use crate::lang::ctc_topology::CtcTopology;
use crate::lang::decoder::{decode, DecodeConfig, LexiconTree};
use crate::lang::lexicon::Lexicon;
use crate::lang::lm::NgramLm;
use crate::lang::phones::PhoneSet;
use crate::lang::topology::MatrixScorer;
#[cfg(test)]
use crate::lang::topology::PhoneTopology;
use crate::lang::{LexiconConfig, LmConfig};
use crate::matrix::Matrix;
use crate::pipeline::TrainContext;

/// Lexicon, LM and the tree built from them.
pub struct WordDecoder {
    pub lexicon: Lexicon,
    pub lm: NgramLm,
    tree: LexiconTree,
}

impl WordDecoder {
    pub fn new(lexicon: Lexicon, lm: NgramLm, num_tokens: usize) -> Self {
        let tree = LexiconTree::build(&lexicon, &CtcTopology { num_tokens }, &lm);
        WordDecoder { lexicon, lm, tree }
    }

    /// Build the lexicon (espeak-ng G2P for words missing from a given file)
    /// and estimate the word LM from the training transcripts, as the classical
    /// pipeline does with the same settings.
    pub fn train(
        lex_cfg: &LexiconConfig,
        lm_cfg: &LmConfig,
        ctx: &TrainContext,
        num_tokens: usize,
    ) -> Result<Self> {
        let lex = lex_cfg.build(ctx.corpus, &ctx.train)?;
        let lm = lm_cfg.word_lm(&ctx.train, lex.words())?;
        Ok(Self::new(lex, lm, num_tokens))
    }

    /// The phone targets of an utterance (first pronunciation of each word).
    pub fn targets(&self, u: &Utterance) -> Result<Vec<i64>> {
        let mut ids = Vec::new();
        for w in u.norm_text.split_whitespace() {
            let p = self.lexicon.prons(w).ok_or_else(|| {
                Error::Invalid(format!(
                    "utterance {}: word {w:?} is not in the lexicon",
                    u.id
                ))
            })?;
            ids.extend(p[0].iter().map(|&i| i as i64));
        }
        if ids.is_empty() {
            return Err(Error::Invalid(format!(
                "utterance {}: empty transcript, nothing to train on",
                u.id
            )));
        }
        Ok(ids)
    }

    pub fn words(&self, logp: &Matrix, cfg: &DecodeConfig) -> String {
        let r = decode(&self.tree, &self.lm, &mut MatrixScorer(logp), cfg);
        r.words
            .into_iter()
            .map(|w| w.word)
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        self.lexicon.save_cmudict(&dir.join(LEXICON_FILE))?;
        self.lm.write_arpa(&dir.join(LM_FILE))
    }

    /// The lexicon and LM of a language folder: the model's own, or another
    /// model's (`crossover decode --lang`).
    pub fn load(dir: &Path, num_tokens: usize) -> Result<Self> {
        let (lex, lm) = crate::lang::read_lang_dir(dir, &PhoneSet::standard())?;
        Ok(Self::new(lex, lm, num_tokens))
    }
}

pub const LEXICON_FILE: &str = crate::lang::LANG_LEXICON_FILE;
pub const LM_FILE: &str = crate::lang::LANG_LM_FILE;

/// The default word-search settings for CTC log posteriors (much flatter
/// scale than GMM log likelihoods, hence a lower LM weight and beam).
pub fn default_word_decode() -> DecodeConfig {
    DecodeConfig {
        beam: 16.0,
        max_active: 1000,
        lm_weight: 1.0,
        word_penalty: 0.0,
        silence_prob: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctc_topology_decodes_hand_made_posteriors_into_words() {
        // Phones: SIL(=blank) AA B K ... use two words over a 4-token toy phone set.
        let phones = PhoneSet::from_names(&["K", "AE", "T", "D"]);
        let (k, ae, t, d) = (
            phones.id("K").unwrap(),
            phones.id("AE").unwrap(),
            phones.id("T").unwrap(),
            phones.id("D").unwrap(),
        );
        let mut lex = Lexicon::new(phones.clone());
        lex.insert("cat", vec![k, ae, t]).unwrap();
        lex.insert("cad", vec![k, ae, d]).unwrap();
        lex.insert("tad", vec![t, ae, d]).unwrap();
        let lm = NgramLm::estimate(["cat", "cad", "tad cat"], lex.words(), 2).unwrap();
        let dec = WordDecoder::new(lex, lm, phones.len());
        // Frames: blank K K blank AE T blank blank T AE AE D blank
        let seq = [0, k, k, 0, ae, t, 0, 0, t, ae, ae, d, 0];
        let mut m = Matrix::zeros(seq.len(), phones.len());
        for (r, &s) in seq.iter().enumerate() {
            for c in 0..phones.len() {
                m.row_mut(r)[c] = if c == s {
                    0.9f32.ln()
                } else {
                    (0.1f32 / 4.0).ln()
                };
            }
        }
        assert_eq!(dec.words(&m, &default_word_decode()), "cat tad");
    }

    #[test]
    fn repeated_phone_needs_a_blank() {
        let topo = CtcTopology { num_tokens: 5 };
        assert!(topo.chain(None, 3, Some(2))[1].skippable);
        assert!(!topo.chain(None, 3, Some(3))[1].skippable);
        assert_eq!(topo.chain(None, 0, None).len(), 1);
    }
}
