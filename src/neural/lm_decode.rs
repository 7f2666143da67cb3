//! The end-to-end network + external LM: a trained character CTC network
//! decoded by prefix beam search with shallow fusion of a language model
//! estimated from the cell's own training transcripts, as DeepSpeech
//! (KenLM), EESEN (character TLG) and ESPnet (LM fusion) decode. Three
//! external scorers, each a [`PrefixScorer`]:
//!
//! - [`ExternalLmKind::Word`]: the word n-gram of the classical cell of the
//!   same data (same text, same vocabulary, same `[lm]` and `[lexicon]
//!   cover` settings), applied as each word completes; a word outside its
//!   vocabulary costs a fixed floor, so the search is open-vocabulary.
//! - [`ExternalLmKind::Vocab`]: the same LM, and the beam may only spell
//!   words of its vocabulary, through a character prefix tree of the word
//!   list (no pronunciations: the word list is all it knows), as EESEN's
//!   character TLG and icefall's lexicon-constrained CTC decoding do.
//! - [`ExternalLmKind::Char`]: a character n-gram (interpolated modified
//!   Kneser-Ney) from the same transcripts: lexicon-free, spells unseen words.
//!
//! Which one, its weight and its bonus are chosen per cell on dev
//! ([`tune`]), never on test. The LMs are saved beside the network
//! (`lm.arpa`, `char_lm.arpa`), so a model folder decodes the same anywhere.
use std::collections::BTreeMap;
use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::ctc_decode::{prefix_beam_search_with, PrefixScorer, ScorerState};
use super::tokens::{TokenSet, BLANK};
use crate::corpus::Utterance;
use crate::error::{Error, Result};
use crate::lang::lm::NgramLm;
use crate::matrix::Matrix;

/// The word LM's file in a model folder.
pub const WORD_LM_FILE: &str = crate::lang::LANG_LM_FILE;
/// The character LM's file in a model folder.
pub const CHAR_LM_FILE: &str = "char_lm.arpa";
/// How the character LM writes the word separator.
const CHAR_LM_SPACE: &str = "<sp>";

/// Which external scorer fuses with the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExternalLmKind {
    /// Word n-gram, open vocabulary (unknown words cost `oov_logp`).
    Word,
    /// Word n-gram, and only words of its vocabulary may be spelled.
    Vocab,
    /// Character n-gram (lexicon-free).
    Char,
}

impl ExternalLmKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ExternalLmKind::Word => "word",
            ExternalLmKind::Vocab => "vocab",
            ExternalLmKind::Char => "char",
        }
    }
}

/// `[decode.external_lm]` of a char-ctc (or mtl-ctc) pipeline: decode with
/// an external LM, chosen on dev from the grid `kinds x weights x bonuses`.
/// A grid of one point is a fixed setting (what a trained model folder keeps).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExternalLmConfig {
    /// Scorers tried on dev. Default all three: word, vocab, char.
    pub kinds: Vec<ExternalLmKind>,
    /// LM weights (natural-log units) tried on dev. Default 0.3, 0.6, 1.0, 1.5.
    pub weights: Vec<f32>,
    /// Bonus per word (word, vocab) or per character (char) tried on dev,
    /// against the LM's bias to short outputs. Default 0, 1, 2, 4.
    pub bonuses: Vec<f32>,
    /// Order of the character n-gram. Default 6 (a word and a half of
    /// context; higher orders over-fit an hour of transcripts).
    pub char_order: usize,
    /// Log probability of a word outside the word LM (open vocabulary). Default -12.
    pub oov_logp: f32,
    /// Dev utterances the grid is scored on, spread evenly over the dev
    /// set (all when it is smaller). Default 300.
    pub max_dev_utterances: usize,
}

impl Default for ExternalLmConfig {
    fn default() -> Self {
        ExternalLmConfig {
            kinds: vec![
                ExternalLmKind::Word,
                ExternalLmKind::Vocab,
                ExternalLmKind::Char,
            ],
            weights: vec![0.3, 0.6, 1.0, 1.5],
            bonuses: vec![0.0, 1.0, 2.0, 4.0],
            char_order: 6,
            oov_logp: super::fusion::DEFAULT_OOV_LOGP,
            max_dev_utterances: 300,
        }
    }
}

impl ExternalLmConfig {
    pub fn validate(&self) -> Result<()> {
        if self.kinds.is_empty() || self.weights.is_empty() || self.bonuses.is_empty() {
            return Err(Error::Config(
                "decode.external_lm: kinds, weights and bonuses each need at least one value"
                    .into(),
            ));
        }
        if self
            .weights
            .iter()
            .chain(&self.bonuses)
            .any(|x| !x.is_finite())
            || self.char_order == 0
        {
            return Err(Error::Config(
                "decode.external_lm: weights and bonuses must be finite, char_order at least 1"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Every grid point, in a fixed order (kinds, then weights, then bonuses).
    pub fn grid(&self) -> Vec<FusionPoint> {
        let mut out = Vec::new();
        for &kind in &self.kinds {
            for &weight in &self.weights {
                for &bonus in &self.bonuses {
                    out.push(FusionPoint {
                        kind,
                        weight,
                        bonus,
                    });
                }
            }
        }
        out
    }

    /// This config with the grid narrowed to one point.
    pub fn fixed(&self, p: FusionPoint) -> Self {
        ExternalLmConfig {
            kinds: vec![p.kind],
            weights: vec![p.weight],
            bonuses: vec![p.bonus],
            ..self.clone()
        }
    }
}

/// One setting of the external scorer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FusionPoint {
    pub kind: ExternalLmKind,
    pub weight: f32,
    pub bonus: f32,
}

impl std::fmt::Display for FusionPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "external_lm={} lm_weight={} lm_bonus={}",
            self.kind.as_str(),
            self.weight,
            self.bonus
        )
    }
}

/// A character prefix tree of a word list: node 0 is the root; `children`
/// is `nodes x tokens` (`NONE` where no word continues with that token).
struct PrefixTree {
    tokens: usize,
    children: Vec<u32>,
    /// The word LM id of the word that ends at each node, if any.
    word: Vec<Option<u32>>,
    /// LM look-ahead: the best unigram log probability of the words below
    /// each node (0 at the root). The vocabulary-constrained search adds
    /// its change character by character and the exact n-gram score minus
    /// it at the word's end (weight pushing, as a lexicon-tree decoder's
    /// look-ahead), so that unlikely words fall out of the beam early.
    look: Vec<f32>,
}

const NONE: u32 = u32::MAX;

impl PrefixTree {
    fn new(tokens: usize) -> Self {
        PrefixTree {
            tokens,
            children: vec![NONE; tokens],
            word: vec![None],
            look: Vec::new(),
        }
    }

    /// Fill the look-ahead from each word's unigram log probability.
    fn set_look_ahead(&mut self, unigram: impl Fn(u32) -> f32) {
        let n = self.word.len();
        let mut look = vec![f32::NEG_INFINITY; n];
        // Children have larger ids than their parents: one backward pass.
        for node in (0..n).rev() {
            if let Some(w) = self.word[node] {
                look[node] = look[node].max(unigram(w));
            }
            for t in 0..self.tokens {
                let c = self.children[node * self.tokens + t];
                if c != NONE {
                    look[node] = look[node].max(look[c as usize]);
                }
            }
        }
        look[0] = 0.0;
        self.look = look;
    }

    fn insert(&mut self, spelling: &[usize], word: u32) {
        let mut node = 0usize;
        for &t in spelling {
            let slot = node * self.tokens + t;
            if self.children[slot] == NONE {
                self.children[slot] = self.word.len() as u32;
                self.word.push(None);
                self.children
                    .extend(std::iter::repeat(NONE).take(self.tokens));
            }
            node = self.children[slot] as usize;
        }
        self.word[node] = Some(word);
    }

    fn child(&self, node: u32, t: usize) -> Option<u32> {
        let c = self.children[node as usize * self.tokens + t];
        (c != NONE).then_some(c)
    }
}

/// The external LMs of one cell: the word n-gram (and its vocabulary as a
/// prefix tree) and the character n-gram.
pub struct ExternalLm {
    pub word_lm: NgramLm,
    pub char_lm: NgramLm,
    tree: PrefixTree,
    /// Token id -> character LM word id (None for the blank).
    char_ids: Vec<Option<u32>>,
    space: usize,
    symbols: Vec<String>,
    oov_logp: f32,
}

/// The character LM's sentence for a normalised transcript: one token per
/// character, `<sp>` between words.
fn char_sentence(text: &str) -> String {
    text.split_whitespace()
        .map(|w| w.chars().map(String::from).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(&format!(" {CHAR_LM_SPACE} "))
}

impl ExternalLm {
    /// Estimate both LMs from the training transcripts. The word LM is the
    /// classical cell's: `lm` (order, text or ARPA) over the vocabulary of
    /// `words` (the task's word list, as the lexicon covers it).
    pub fn estimate(
        lm: &crate::lang::LmConfig,
        words: &[String],
        train: &[&Utterance],
        cfg: &ExternalLmConfig,
        tokens: &TokenSet,
    ) -> Result<Self> {
        let word_lm = lm.word_lm(train, words.iter().map(|w| w.as_str()))?;
        let sents: Vec<String> = train.iter().map(|u| char_sentence(&u.norm_text)).collect();
        let alphabet: Vec<String> = tokens.symbols[1..]
            .iter()
            .map(|s| char_symbol(tokens, s))
            .collect();
        let char_lm = NgramLm::estimate(
            sents.iter().map(|s| s.as_str()),
            alphabet.iter().map(|s| s.as_str()),
            cfg.char_order,
        )?;
        Self::new(word_lm, char_lm, tokens, cfg.oov_logp)
    }

    fn new(word_lm: NgramLm, char_lm: NgramLm, tokens: &TokenSet, oov_logp: f32) -> Result<Self> {
        let space = tokens.space().ok_or_else(|| {
            Error::Config("an external LM needs a character token set with a space".into())
        })?;
        let index: BTreeMap<&str, usize> = tokens
            .symbols
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i))
            .collect();
        let mut tree = PrefixTree::new(tokens.len());
        for (id, w) in word_lm.vocab.iter().enumerate() {
            let spelling: Option<Vec<usize>> = w
                .chars()
                .map(|c| index.get(c.to_string().as_str()).copied())
                .collect();
            // `<s>`, `</s>` and words the network cannot spell stay out.
            if let Some(sp) = spelling.filter(|s| !s.is_empty() && !s.contains(&space)) {
                if !w.starts_with('<') {
                    tree.insert(&sp, id as u32);
                }
            }
        }
        tree.set_look_ahead(|w| word_lm.log_prob(&[], w));
        let char_ids = tokens
            .symbols
            .iter()
            .enumerate()
            .map(|(i, s)| {
                (i != BLANK)
                    .then(|| char_lm.word_id(&char_symbol(tokens, s)))
                    .flatten()
            })
            .collect();
        Ok(ExternalLm {
            word_lm,
            char_lm,
            tree,
            char_ids,
            space,
            symbols: tokens.symbols.clone(),
            oov_logp,
        })
    }

    /// Write both LMs into a model folder.
    pub fn save(&self, dir: &Path) -> Result<()> {
        self.word_lm.write_arpa(&dir.join(WORD_LM_FILE))?;
        self.char_lm.write_arpa(&dir.join(CHAR_LM_FILE))
    }

    /// Read both LMs from a model folder.
    pub fn load(dir: &Path, tokens: &TokenSet, cfg: &ExternalLmConfig) -> Result<Self> {
        let word_lm = NgramLm::read_arpa(&dir.join(WORD_LM_FILE))?;
        let char_lm = NgramLm::read_arpa(&dir.join(CHAR_LM_FILE))?;
        Self::new(word_lm, char_lm, tokens, cfg.oov_logp)
    }

    /// Words in the word LM's vocabulary that the prefix tree can spell.
    pub fn vocabulary_size(&self) -> usize {
        self.tree.word.iter().filter(|w| w.is_some()).count()
    }

    /// The scorer for one setting.
    pub fn scorer(&self, p: FusionPoint) -> Scorer<'_> {
        Scorer { lm: self, p }
    }

    /// Decode one utterance's log posteriors with setting `p`.
    pub fn decode(&self, logp: &Matrix, p: FusionPoint, beam: usize, prune: f32) -> Vec<usize> {
        prefix_beam_search_with(logp, BLANK, beam, prune, Some(&self.scorer(p)))
    }

    /// The word that ends `prefix` (after its last space).
    fn last_word(&self, prefix: &[usize]) -> String {
        let start = prefix
            .iter()
            .rposition(|&t| t == self.space)
            .map_or(0, |i| i + 1);
        prefix[start..]
            .iter()
            .map(|&t| self.symbols[t].as_str())
            .collect()
    }

    /// The vocabulary-constrained search at a word's end: the word's exact
    /// n-gram score less the look-ahead already added inside it; None when
    /// no word ends at this node.
    fn end_word(&self, st: ScorerState, p: FusionPoint) -> Option<(ScorerState, f32)> {
        let w = self.tree.word[st.node as usize]?;
        let (lp, next) = self.word_lm.score(st.lm, w);
        let exact = lp - self.tree.look[st.node as usize];
        Some((
            ScorerState { lm: next, node: 0 },
            p.weight * exact + p.bonus,
        ))
    }

    /// Word LM score of completing `word` from `state` (open vocabulary).
    fn open_word(&self, state: ScorerState, word: &str, p: FusionPoint) -> (ScorerState, f32) {
        match self.word_lm.word_id(word) {
            Some(w) => {
                let (lp, next) = self.word_lm.score(state.lm, w);
                (ScorerState { lm: next, node: 0 }, p.weight * lp + p.bonus)
            }
            // Unknown words are skipped in the history (the LM has no <unk>).
            None => (state, p.weight * self.oov_logp + p.bonus),
        }
    }
}

/// A character token's symbol in the character LM.
fn char_symbol(tokens: &TokenSet, s: &str) -> String {
    if tokens.space().is_some_and(|sp| tokens.symbols[sp] == s) {
        CHAR_LM_SPACE.to_string()
    } else {
        s.to_string()
    }
}

/// One external LM at one setting, as the beam search sees it.
pub struct Scorer<'a> {
    lm: &'a ExternalLm,
    p: FusionPoint,
}

impl PrefixScorer for Scorer<'_> {
    fn start(&self) -> ScorerState {
        let lm = match self.p.kind {
            ExternalLmKind::Char => self.lm.char_lm.start_state(),
            _ => self.lm.word_lm.start_state(),
        };
        ScorerState { lm, node: 0 }
    }

    fn extend(
        &self,
        st: ScorerState,
        prefix: &[usize],
        token: usize,
    ) -> Option<(ScorerState, f32)> {
        let (lm, p) = (self.lm, self.p);
        match p.kind {
            ExternalLmKind::Char => {
                let id = lm.char_ids[token]?;
                let (lp, next) = lm.char_lm.score(st.lm, id);
                Some((ScorerState { lm: next, node: 0 }, p.weight * lp + p.bonus))
            }
            ExternalLmKind::Word if token == lm.space => {
                let word = lm.last_word(prefix);
                if word.is_empty() {
                    return Some((st, 0.0));
                }
                Some(lm.open_word(st, &word, p))
            }
            ExternalLmKind::Word => Some((st, 0.0)),
            ExternalLmKind::Vocab if token == lm.space => {
                if st.node == 0 {
                    // A separator with no word before it changes nothing.
                    return Some((st, 0.0));
                }
                lm.end_word(st, p)
            }
            ExternalLmKind::Vocab => {
                let node = lm.tree.child(st.node, token)?;
                let t = &lm.tree.look;
                let pushed = t[node as usize] - t[st.node as usize];
                Some((ScorerState { lm: st.lm, node }, p.weight * pushed))
            }
        }
    }

    fn finish(&self, st: ScorerState, prefix: &[usize]) -> Option<f32> {
        let (lm, p) = (self.lm, self.p);
        match p.kind {
            ExternalLmKind::Char => Some(p.weight * lm.char_lm.score(st.lm, lm.char_lm.eos()).0),
            ExternalLmKind::Word => {
                let word = lm.last_word(prefix);
                let (st, add) = if word.is_empty() {
                    (st, 0.0)
                } else {
                    lm.open_word(st, &word, p)
                };
                Some(add + p.weight * lm.word_lm.score(st.lm, lm.word_lm.eos()).0)
            }
            ExternalLmKind::Vocab => {
                let (st, add) = if st.node == 0 {
                    (st, 0.0)
                } else {
                    lm.end_word(st, p)?
                };
                Some(add + p.weight * lm.word_lm.score(st.lm, lm.word_lm.eos()).0)
            }
        }
    }
}

/// Dev utterances to tune on: at most `max`, spread evenly over `n`.
pub fn spread(n: usize, max: usize) -> Vec<usize> {
    let max = max.max(1);
    if n <= max {
        return (0..n).collect();
    }
    (0..max).map(|i| i * n / max).collect()
}

/// The outcome of tuning on dev: the chosen setting, a line for the notes,
/// and every grid point's dev WER.
pub struct Tuned {
    pub chosen: FusionPoint,
    pub line: String,
    pub dev_wer: Vec<(FusionPoint, f64)>,
}

/// Choose the external LM setting with the lowest dev WER (ties: the first
/// in grid order) from dev posteriors and reference texts, decoding the
/// utterances of each grid point in parallel on the current rayon pool.
pub fn tune(
    lm: &ExternalLm,
    cfg: &ExternalLmConfig,
    tokens: &TokenSet,
    posts: &[(String, Matrix)],
    refs: &BTreeMap<String, String>,
    beam: usize,
    prune: f32,
) -> Result<Tuned> {
    let mut best: Option<(u64, FusionPoint)> = None;
    let mut dev_wer = Vec::new();
    for p in cfg.grid() {
        let hyps: BTreeMap<String, String> = posts
            .par_iter()
            .map(|(id, m)| (id.clone(), tokens.decode(&lm.decode(m, p, beam, prune))))
            .collect();
        let r = crate::score::score(
            refs,
            &hyps,
            crate::score::Level::Word,
            crate::score::AlignMode::Levenshtein,
        )?;
        let e = r.totals.errors();
        dev_wer.push((p, 100.0 * r.rate()));
        if best.is_none_or(|b| e < b.0) {
            best = Some((e, p));
        }
    }
    let (_, chosen) = best.expect("a non-empty grid");
    let tried: Vec<String> = dev_wer
        .iter()
        .map(|(p, w)| format!("{}/{}/{}: {w:.2}%", p.kind.as_str(), p.weight, p.bonus))
        .collect();
    Ok(Tuned {
        chosen,
        line: format!(
            "external LM tuned on {} dev utterances (kind/weight/bonus: WER): {}; chosen {chosen}",
            posts.len(),
            tried.join(", ")
        ),
        dev_wer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::{Split, Utterance};

    fn utt(text: &str) -> Utterance {
        Utterance {
            id: text.replace(' ', "_"),
            audio: Default::default(),
            speaker: "s".into(),
            split: Split::Train,
            duration: 1.0,
            text: text.into(),
            norm_text: text.into(),
            phonemes: String::new(),
            group: String::new(),
            augment: String::new(),
        }
    }

    /// Posteriors that spell `text` one character per two frames (char,
    /// blank), with `p` on the intended symbol and the rest spread.
    fn spell(tokens: &TokenSet, spelling: &[usize], p: f32) -> Matrix {
        let v = tokens.len();
        let mut data = Vec::new();
        for &t in spelling {
            for frame_tok in [t, BLANK] {
                for s in 0..v {
                    let q = if s == frame_tok {
                        p
                    } else {
                        (1.0 - p) / (v - 1) as f32
                    };
                    data.push(q.ln());
                }
            }
        }
        Matrix::from_vec(data.len() / v, v, data)
    }

    fn ids(tokens: &TokenSet, text: &str) -> Vec<usize> {
        tokens
            .encode(&utt(text))
            .unwrap()
            .into_iter()
            .map(|i| i as usize)
            .collect()
    }

    fn lm() -> (ExternalLm, TokenSet) {
        let tokens = TokenSet::chars();
        let train = [utt("the cat sat"), utt("the dog sat"), utt("a cat ran")];
        let refs: Vec<&Utterance> = train.iter().collect();
        let words: Vec<String> = ["the", "cat", "sat", "dog", "a", "ran", "mat"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let lm = ExternalLm::estimate(
            &crate::lang::LmConfig::default(),
            &words,
            &refs,
            &ExternalLmConfig::default(),
            &tokens,
        )
        .unwrap();
        (lm, tokens)
    }

    #[test]
    fn the_vocabulary_constrained_search_only_spells_known_words() {
        let (lm, tokens) = lm();
        assert_eq!(lm.vocabulary_size(), 7);
        // Acoustics say "the cad sat"; "cad" is no word, "cat" is.
        let mut m = spell(&tokens, &ids(&tokens, "the cad sat"), 0.9);
        // Give "t" some mass where the network heard "d" (frame of the 7th character).
        let t = tokens.symbols.iter().position(|s| s == "t").unwrap();
        let d = tokens.symbols.iter().position(|s| s == "d").unwrap();
        let row = 2 * 6;
        m.row_mut(row)[t] = 0.08f32.ln();
        m.row_mut(row)[d] = 0.85f32.ln();
        let greedy = tokens.decode(&super::super::ctc_decode::greedy(&m, BLANK));
        assert_eq!(greedy, "the cad sat");
        let vocab = FusionPoint {
            kind: ExternalLmKind::Vocab,
            weight: 0.5,
            bonus: 1.0,
        };
        assert_eq!(
            tokens.decode(&lm.decode(&m, vocab, 8, -30.0)),
            "the cat sat"
        );
        // The open-vocabulary word LM at weight 0 is the pure network again.
        let open0 = FusionPoint {
            kind: ExternalLmKind::Word,
            weight: 0.0,
            bonus: 0.0,
        };
        assert_eq!(
            tokens.decode(&lm.decode(&m, open0, 8, -30.0)),
            "the cad sat"
        );
    }

    #[test]
    fn the_character_lm_prefers_spellings_seen_in_training() {
        let (lm, tokens) = lm();
        let sc = lm.scorer(FusionPoint {
            kind: ExternalLmKind::Char,
            weight: 1.0,
            bonus: 0.0,
        });
        let score = |text: &str| {
            let p = ids(&tokens, text);
            let mut st = sc.start();
            let mut s = 0.0;
            for i in 0..p.len() {
                let (n, add) = sc.extend(st, &p[..i], p[i]).unwrap();
                st = n;
                s += add;
            }
            s + sc.finish(st, &p).unwrap()
        };
        assert!(score("the cat sat") > score("the cad sat"));
        assert!(score("a cat ran") > score("a cat rab"));
    }

    #[test]
    fn word_scores_follow_the_word_lm_and_unknown_words_cost_the_floor() {
        let (lm, tokens) = lm();
        let p = FusionPoint {
            kind: ExternalLmKind::Word,
            weight: 1.0,
            bonus: 0.0,
        };
        let sc = lm.scorer(p);
        let cat = ids(&tokens, "the cat");
        let st = sc.start();
        let (_, known) = sc.extend(st, &cat, tokens.space().unwrap()).unwrap();
        let cad = ids(&tokens, "the cad");
        let (_, unknown) = sc.extend(st, &cad, tokens.space().unwrap()).unwrap();
        assert_eq!(unknown, ExternalLmConfig::default().oov_logp);
        assert!(known > unknown);
        // The vocabulary-constrained scorer forbids the unknown spelling outright.
        let v = lm.scorer(FusionPoint {
            kind: ExternalLmKind::Vocab,
            ..p
        });
        let mut st = v.start();
        let c = tokens.symbols.iter().position(|s| s == "c").unwrap();
        let a = tokens.symbols.iter().position(|s| s == "a").unwrap();
        let d = tokens.symbols.iter().position(|s| s == "d").unwrap();
        st = v.extend(st, &[], c).unwrap().0;
        st = v.extend(st, &[c], a).unwrap().0;
        assert!(v.extend(st, &[c, a], d).is_none());
    }

    #[test]
    fn look_ahead_moves_the_word_score_forward_without_changing_its_total() {
        let (lm, tokens) = lm();
        let p = FusionPoint {
            kind: ExternalLmKind::Vocab,
            weight: 1.0,
            bonus: 0.0,
        };
        let sc = lm.scorer(p);
        let spelled = ids(&tokens, "the cat");
        let mut st = sc.start();
        let mut inside = 0.0;
        let mut total = 0.0;
        for i in 0..spelled.len() {
            let (n, add) = sc.extend(st, &spelled[..i], spelled[i]).unwrap();
            if i < 3 {
                inside += add;
            }
            total += add;
            st = n;
        }
        total += sc.finish(st, &spelled).unwrap();
        // Inside "the", the look-ahead has already charged a share of its score.
        assert!(inside < 0.0, "{inside}");
        // The whole sentence scores exactly as the word LM does.
        let w = &lm.word_lm;
        let (a, s1) = w.score(w.start_state(), w.word_id("the").unwrap());
        let (b, s2) = w.score(s1, w.word_id("cat").unwrap());
        let (e, _) = w.score(s2, w.eos());
        assert!(
            (total - (a + b + e)).abs() < 1e-4,
            "{total} vs {}",
            a + b + e
        );
    }

    #[test]
    fn saved_lms_decode_the_same() {
        let (lm, tokens) = lm();
        let dir = tempfile::tempdir().unwrap();
        lm.save(dir.path()).unwrap();
        let back = ExternalLm::load(dir.path(), &tokens, &ExternalLmConfig::default()).unwrap();
        let m = spell(&tokens, &ids(&tokens, "a dog ran"), 0.6);
        for kind in [
            ExternalLmKind::Word,
            ExternalLmKind::Vocab,
            ExternalLmKind::Char,
        ] {
            let p = FusionPoint {
                kind,
                weight: 0.6,
                bonus: 1.0,
            };
            assert_eq!(
                lm.decode(&m, p, 8, -30.0),
                back.decode(&m, p, 8, -30.0),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn the_grid_spreads_and_fixes() {
        let c = ExternalLmConfig::default();
        assert_eq!(c.grid().len(), 3 * 4 * 4);
        let p = c.grid()[5];
        let f = c.fixed(p);
        assert_eq!(f.grid(), vec![p]);
        assert_eq!(spread(10, 4), vec![0, 2, 5, 7]);
        assert_eq!(spread(3, 4), vec![0, 1, 2]);
    }
}
