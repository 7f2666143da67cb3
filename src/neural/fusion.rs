//! Shallow fusion of char-ctc's prefix beam search with a word n-gram LM in
//! ARPA form: the ablation "how much does hand-designed knowledge help the
//! end-to-end model" (`crossover decode --fusion-lm FILE`). The pure
//! end-to-end system never uses it; a sweep does not either.
use std::path::Path;

use crate::error::Result;
use crate::lang::lm::NgramLm;

use super::ctc_decode::WordLm;

/// A word n-gram LM seen through [`WordLm`]. Words outside its vocabulary
/// get `oov_logp` (natural log) and are left out of later histories, since
/// the LM has no `<unk>` to condition on.
pub struct ArpaWordLm {
    lm: NgramLm,
    pub oov_logp: f32,
}

/// Default OOV log probability: about the unigram floor of a small LM.
pub const DEFAULT_OOV_LOGP: f32 = -12.0;

impl ArpaWordLm {
    pub fn new(lm: NgramLm) -> Self {
        ArpaWordLm {
            lm,
            oov_logp: DEFAULT_OOV_LOGP,
        }
    }

    /// Read an ARPA file (e.g. `lm.arpa` of a classical or phone-ctc model folder).
    pub fn read(path: &Path) -> Result<Self> {
        Ok(Self::new(NgramLm::read_arpa(path)?))
    }

    fn ids(&self, history: &[String]) -> Vec<u32> {
        std::iter::once(self.lm.bos())
            .chain(history.iter().filter_map(|w| self.lm.word_id(w)))
            .collect()
    }
}

impl WordLm for ArpaWordLm {
    fn log_prob(&self, history: &[String], word: &str) -> f32 {
        match self.lm.word_id(word) {
            Some(w) => self.lm.log_prob(&self.ids(history), w),
            None => self.oov_logp,
        }
    }

    fn log_prob_end(&self, history: &[String]) -> f32 {
        self.lm.log_prob(&self.ids(history), self.lm.eos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_words_follow_the_lm_and_oovs_get_the_floor() {
        let lm = NgramLm::estimate(
            ["the cat sat", "the cat ran", "a dog sat"],
            std::iter::empty::<&str>(),
            2,
        )
        .unwrap();
        let f = ArpaWordLm::new(lm);
        let h = vec!["the".to_string()];
        // "cat" always follows "the" in training; "dog" never does.
        assert!(f.log_prob(&h, "cat") > f.log_prob(&h, "dog"));
        assert_eq!(f.log_prob(&h, "zebra"), DEFAULT_OOV_LOGP);
        // An OOV in the history is skipped, not fatal.
        let h2 = vec!["zebra".to_string(), "the".to_string()];
        assert_eq!(f.log_prob(&h2, "cat"), f.log_prob(&h, "cat"));
        assert!(f.log_prob_end(&["sat".to_string()]) > f.log_prob_end(&["the".to_string()]));
    }
}
