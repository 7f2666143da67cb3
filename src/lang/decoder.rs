//! Time-synchronous Viterbi beam search over a lexicon prefix tree with an
//! n-gram LM: token passing where a token's identity is (tree node, state in
//! the node's chain, LM state), so hypotheses with different LM histories
//! never merge. The LM score is applied at word ends; optional silence may
//! sit between words. Generic over the phone topology (GMM-HMM chains or
//! CTC-style chains) and over the frame scorer.
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};

use super::lexicon::Lexicon;
use super::lm::NgramLm;
use super::topology::{ChainState, FrameScorer, PhoneTopology};

/// Search options. Scores are natural-log acoustic likelihoods plus
/// `lm_weight * (ln P_lm - word_penalty + ln P_sil)` plus HMM transition
/// log-probs, where `P_sil` is the optional-silence probability of Kaldi's
/// lexicon FST: after each word (and at the start) silence follows with
/// probability `silence_prob`, or the next word with `1 - silence_prob`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecodeConfig {
    pub beam: f32,
    pub max_active: usize,
    pub lm_weight: f32,
    /// Per-word penalty in LM log units (positive: fewer words).
    pub word_penalty: f32,
    /// Probability of silence after a word and at the start (Kaldi's
    /// `prepare_lang.sh --sil-prob`, 0.5 there). 0 (or anything outside
    /// (0, 1)) turns these costs off: optional silence is then free, as the
    /// CTC phone search wants for its blank.
    pub silence_prob: f32,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        DecodeConfig {
            beam: 130.0,
            max_active: 7000,
            lm_weight: 10.0,
            word_penalty: 0.0,
            silence_prob: 0.5,
        }
    }
}

impl DecodeConfig {
    /// Ranges a config file or `--set` could get wrong.
    pub fn validate(&self) -> crate::error::Result<()> {
        let bad = |what: String| Err(crate::error::Error::Config(what));
        if !(self.beam > 0.0) {
            return bad(format!("decode beam must be positive, got {}", self.beam));
        }
        if self.max_active == 0 {
            return bad("decode max_active must be at least 1".into());
        }
        if !(0.0..1.0).contains(&self.silence_prob) {
            return bad(format!(
                "decode silence_prob must be in [0, 1), got {}",
                self.silence_prob
            ));
        }
        if !self.lm_weight.is_finite() || !self.word_penalty.is_finite() {
            return bad("decode lm_weight and word_penalty must be finite".into());
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
struct TreeNode {
    unit: u32,
    children: Vec<u32>,
    /// LM word ids ending after this node.
    words: Vec<u32>,
}

/// The pronunciation lexicon as a prefix tree of phone units (units are
/// state chains from a [`PhoneTopology`]; triphone context is word-internal).
#[derive(Debug, Clone)]
pub struct LexiconTree {
    units: Vec<Vec<ChainState>>,
    nodes: Vec<TreeNode>,
    /// The silence node (not reachable from the root's children).
    sil: Option<u32>,
    /// Lexicon words with no LM id (left out of the tree).
    pub skipped: Vec<String>,
    /// Unigram LM look-ahead per node: the best unigram log-prob of any word
    /// below it. Tokens carry it while inside a word (for pruning only); the
    /// true n-gram score replaces it at the word end.
    lookahead: Vec<f32>,
}

const ROOT: u32 = 0;

impl LexiconTree {
    pub fn build(lex: &Lexicon, topo: &dyn PhoneTopology, lm: &NgramLm) -> Self {
        let mut t = LexiconTree {
            units: vec![],
            nodes: vec![TreeNode {
                unit: u32::MAX,
                children: vec![],
                words: vec![],
            }],
            sil: None,
            skipped: vec![],
            lookahead: vec![],
        };
        let mut unit_ids: HashMap<Vec<(u32, u32, u32, bool)>, u32> = HashMap::new();
        let mut unit_of = |chain: Vec<ChainState>, units: &mut Vec<Vec<ChainState>>| -> u32 {
            let key: Vec<(u32, u32, u32, bool)> = chain
                .iter()
                .map(|c| (c.pdf, c.self_lp.to_bits(), c.next_lp.to_bits(), c.skippable))
                .collect();
            *unit_ids.entry(key).or_insert_with(|| {
                units.push(chain);
                (units.len() - 1) as u32
            })
        };
        // child lookup: (parent, unit) -> node
        let mut child: HashMap<(u32, u32), u32> = HashMap::new();
        for (word, prons) in lex.iter() {
            let Some(wid) = lm.word_id(word) else {
                t.skipped.push(word.to_string());
                continue;
            };
            for p in prons {
                let mut node = ROOT;
                for i in 0..p.len() {
                    let l = if i > 0 { Some(p[i - 1]) } else { None };
                    let r = p.get(i + 1).copied();
                    let u = unit_of(topo.chain(l, p[i], r), &mut t.units);
                    node = match child.get(&(node, u)) {
                        Some(&n) => n,
                        None => {
                            let n = t.nodes.len() as u32;
                            t.nodes.push(TreeNode {
                                unit: u,
                                children: vec![],
                                words: vec![],
                            });
                            t.nodes[node as usize].children.push(n);
                            child.insert((node, u), n);
                            n
                        }
                    };
                }
                if !t.nodes[node as usize].words.contains(&wid) {
                    t.nodes[node as usize].words.push(wid);
                }
            }
        }
        if let Some(s) = topo.silence() {
            let u = unit_of(topo.chain(None, s, None), &mut t.units);
            t.sil = Some(t.nodes.len() as u32);
            t.nodes.push(TreeNode {
                unit: u,
                children: vec![],
                words: vec![],
            });
        }
        // Children always have larger ids than parents: fill bottom-up.
        let uni: Vec<f32> = (0..lm.vocab.len() as u32)
            .map(|w| lm.log_prob(&[], w))
            .collect();
        let mut la = vec![f32::NEG_INFINITY; t.nodes.len()];
        for n in (0..t.nodes.len()).rev() {
            let mut best = t.nodes[n]
                .words
                .iter()
                .map(|&w| uni[w as usize])
                .fold(f32::NEG_INFINITY, f32::max);
            for &c in &t.nodes[n].children {
                best = best.max(la[c as usize]);
            }
            la[n] = best;
        }
        la[ROOT as usize] = 0.0;
        if let Some(s) = t.sil {
            la[s as usize] = 0.0;
        }
        t.lookahead = la;
        t
    }
    pub fn num_nodes(&self) -> usize {
        self.nodes.len()
    }
}

#[derive(Default)]
struct IdHasher(u64);
impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 keys")
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (x ^ (x >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}
type TokMap = HashMap<u64, Tok, BuildHasherDefault<IdHasher>>;

#[derive(Debug, Clone, Copy)]
struct Tok {
    score: f32,
    bp: u32,
}

#[derive(Debug, Clone, Copy)]
struct Link {
    word: u32,
    prev: u32,
    frame: u32,
}

/// A recognised word with the frame where it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct WordHyp {
    pub word: String,
    pub end_frame: usize,
}

/// Decoding result.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeResult {
    pub words: Vec<WordHyp>,
    pub score: f32,
    /// False when no token finished a word at the last frame (partial result).
    pub complete: bool,
}

fn key(node: u32, state: usize, lm: u32) -> u64 {
    ((lm as u64) << 32) | ((node as u64) << 4) | state as u64
}

/// The inverse of [`key`]: (LM state, tree node, chain state).
fn unkey(k: u64) -> (u32, u32, usize) {
    (
        (k >> 32) as u32,
        ((k >> 4) & 0x0fff_ffff) as u32,
        (k & 0xf) as usize,
    )
}

/// Decode one utterance.
pub fn decode(
    tree: &LexiconTree,
    lm: &NgramLm,
    scorer: &mut dyn FrameScorer,
    cfg: &DecodeConfig,
) -> DecodeResult {
    let t_len = scorer.num_frames();
    // n-gram lookups hash word vectors: memoise them per utterance.
    let lm_cache: std::cell::RefCell<HashMap<u64, (f32, u32), BuildHasherDefault<IdHasher>>> =
        Default::default();
    let lm_score = |s: u32, w: u32| -> (f32, u32) {
        let k = ((s as u64) << 32) | w as u64;
        if let Some(&v) = lm_cache.borrow().get(&k) {
            return v;
        }
        let v = lm.score(s, w);
        lm_cache.borrow_mut().insert(k, v);
        v
    };
    let mut trace: Vec<Link> = Vec::new();
    let mut cur: Vec<(u64, Tok)> = Vec::new();
    let mut next: TokMap = TokMap::default();
    let none = u32::MAX;
    let relax = |m: &mut TokMap, k: u64, score: f32, bp: u32| {
        m.entry(k)
            .and_modify(|t| {
                if score > t.score {
                    *t = Tok { score, bp };
                }
            })
            .or_insert(Tok { score, bp });
    };
    // Costs of the two ways on after a word: silence, or straight to the
    // next word (or the end). After a silence only a word may follow.
    let p = cfg.silence_prob;
    let (sil_lp, nosil_lp) = if tree.sil.is_some() && p > 0.0 && p < 1.0 {
        (cfg.lm_weight * p.ln(), cfg.lm_weight * (1.0 - p).ln())
    } else {
        (0.0, 0.0)
    };
    let enter_root = |m: &mut TokMap, score: f32, lm_state: u32, bp: u32, after_sil: bool| {
        let word_score = if after_sil { score } else { score + nosil_lp };
        for &c in &tree.nodes[ROOT as usize].children {
            relax(
                m,
                key(c, 0, lm_state),
                word_score + cfg.lm_weight * tree.lookahead[c as usize],
                bp,
            );
        }
        if let (Some(s), false) = (tree.sil, after_sil) {
            relax(m, key(s, 0, lm_state), score + sil_lp, bp);
        }
    };
    if t_len == 0 {
        return DecodeResult {
            words: vec![],
            score: 0.0,
            complete: false,
        };
    }
    enter_root(&mut next, 0.0, lm.start_state(), none, false);
    let mut keys: Vec<(u64, Tok)> = Vec::new();
    // Word (and silence) ends recombine per LM state before fanning out into
    // the tree; key: LM state << 1 | ended in silence.
    let mut roots: TokMap = TokMap::default();
    for t in 0..t_len {
        // Add acoustic scores to the tokens that just entered frame t; prune.
        keys.clear();
        let mut best = f32::NEG_INFINITY;
        for (&k, tok) in next.iter() {
            let node = ((k >> 4) & 0x0fff_ffff) as usize;
            let s = (k & 0xf) as usize;
            let pdf = tree.units[tree.nodes[node].unit as usize][s].pdf as usize;
            let sc = tok.score + scorer.score(t, pdf);
            best = best.max(sc);
            keys.push((
                k,
                Tok {
                    score: sc,
                    bp: tok.bp,
                },
            ));
        }
        next.clear();
        let mut thr = best - cfg.beam;
        if keys.len() > cfg.max_active {
            let mut sc: Vec<f32> = keys.iter().map(|x| x.1.score).collect();
            let kth = sc.len() - cfg.max_active;
            sc.select_nth_unstable_by(kth, |a, b| a.total_cmp(b));
            thr = thr.max(sc[kth]);
        }
        cur.clear();
        cur.extend(keys.iter().filter(|x| x.1.score >= thr));
        if t + 1 == t_len {
            break;
        }
        // Transitions into frame t+1.
        for &(k, tok) in cur.iter() {
            let (lm_state, node, s) = unkey(k);
            let n = &tree.nodes[node as usize];
            let chain = &tree.units[n.unit as usize];
            let c = chain[s];
            relax(&mut next, k, tok.score + c.self_lp, tok.bp);
            let mut sc = tok.score + c.next_lp;
            let mut s2 = s + 1;
            // Skippable states may be passed over without emitting.
            loop {
                if s2 < chain.len() {
                    relax(&mut next, key(node, s2, lm_state), sc, tok.bp);
                    if chain[s2].skippable {
                        sc += chain[s2].next_lp;
                        s2 += 1;
                        continue;
                    }
                    break;
                }
                // Leaving the node.
                let la = if Some(node) == tree.sil {
                    0.0
                } else {
                    tree.lookahead[node as usize]
                };
                for &ch in &n.children {
                    relax(
                        &mut next,
                        key(ch, 0, lm_state),
                        sc + cfg.lm_weight * (tree.lookahead[ch as usize] - la),
                        tok.bp,
                    );
                }
                for &w in &n.words {
                    let (lp, lm2) = lm_score(lm_state, w);
                    let ws = sc + cfg.lm_weight * (lp - la - cfg.word_penalty);
                    if ws < thr {
                        continue;
                    }
                    if roots
                        .get(&((lm2 as u64) << 1))
                        .is_some_and(|r| r.score >= ws)
                    {
                        continue;
                    }
                    trace.push(Link {
                        word: w,
                        prev: tok.bp,
                        frame: t as u32,
                    });
                    relax(&mut roots, (lm2 as u64) << 1, ws, (trace.len() - 1) as u32);
                }
                if Some(node) == tree.sil {
                    relax(&mut roots, ((lm_state as u64) << 1) | 1, sc, tok.bp);
                }
                break;
            }
        }
        for (&k, &tok) in roots.iter() {
            enter_root(&mut next, tok.score, (k >> 1) as u32, tok.bp, k & 1 == 1);
        }
        roots.clear();
    }
    // Final: tokens leaving a word (or silence) at the last frame, plus </s>.
    let mut best: Option<(f32, u32)> = None;
    let mut fallback: Option<(f32, u32)> = None;
    for &(k, tok) in cur.iter() {
        let (lm_state, node, s) = unkey(k);
        let n = &tree.nodes[node as usize];
        let chain = &tree.units[n.unit as usize];
        if fallback.map_or(true, |f| tok.score > f.0) {
            fallback = Some((tok.score, tok.bp));
        }
        let at_end = chain[s + 1..].iter().all(|c| c.skippable);
        if !at_end {
            continue;
        }
        let la = if Some(node) == tree.sil {
            0.0
        } else {
            tree.lookahead[node as usize]
        };
        let sc = tok.score + chain[s].next_lp;
        let mut finish = |sc: f32, lm_state: u32, bp: u32| {
            let (lp, _) = lm_score(lm_state, lm.eos());
            let f = sc + cfg.lm_weight * lp;
            if best.map_or(true, |b| f > b.0) {
                best = Some((f, bp));
            }
        };
        for &w in &n.words {
            let (lp, lm2) = lm_score(lm_state, w);
            // Ending on a word: the no-silence path to the final state.
            let ws = sc + cfg.lm_weight * (lp - la - cfg.word_penalty) + nosil_lp;
            trace.push(Link {
                word: w,
                prev: tok.bp,
                frame: t_len as u32 - 1,
            });
            let id = (trace.len() - 1) as u32;
            finish(ws, lm2, id);
        }
        if Some(node) == tree.sil {
            finish(sc, lm_state, tok.bp);
        }
    }
    let (complete, (score, mut bp)) = match best {
        Some(b) => (true, b),
        None => (false, fallback.unwrap_or((f32::NEG_INFINITY, none))),
    };
    let mut words = Vec::new();
    while bp != none {
        let l = trace[bp as usize];
        words.push(WordHyp {
            word: lm.vocab[l.word as usize].clone(),
            end_frame: l.frame as usize,
        });
        bp = l.prev;
    }
    words.reverse();
    DecodeResult {
        words,
        score,
        complete,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::phones::PhoneSet;
    use crate::lang::topology::toy::{one_hot_scores, ToyTopology};
    use crate::lang::topology::MatrixScorer;
    use crate::matrix::Matrix;

    /// Frames scoring 0 for the named phone (s = silence, a, b) and -10 for the others.
    fn scores(seq: &str) -> Matrix {
        let phones: Vec<usize> = seq
            .chars()
            .map(|c| match c {
                's' => 0,
                'a' => 1,
                _ => 2,
            })
            .collect();
        one_hot_scores(&phones, 3)
    }

    #[test]
    fn finds_the_best_path_on_a_toy_graph() {
        let ps = PhoneSet::from_names(&["A", "B"]);
        let mut lex = Lexicon::new(ps);
        lex.insert("ab", vec![1, 2]).unwrap();
        lex.insert("ba", vec![2, 1]).unwrap();
        lex.insert("a", vec![1]).unwrap();
        lex.insert("b", vec![2]).unwrap();
        // Counts large enough that the bigram clearly prefers "ab ba".
        let mut text = vec!["ab ba"; 10];
        text.extend(["a", "b", "a", "b", "a", "b"]);
        let lm = NgramLm::estimate(text, lex.words(), 2).unwrap();
        let tree = LexiconTree::build(&lex, &ToyTopology(3), &lm);
        let cfg = DecodeConfig {
            lm_weight: 1.0,
            ..DecodeConfig::default()
        };
        let run = |seq: &str| {
            let m = scores(seq);
            let r = decode(&tree, &lm, &mut MatrixScorer(&m), &cfg);
            assert!(r.complete);
            r.words
                .iter()
                .map(|w| w.word.clone())
                .collect::<Vec<_>>()
                .join(" ")
        };
        // "a ba" and "ab ba" (or "ab b a") explain the sounds equally; the LM picks "ab ba".
        assert_eq!(run("aaabbbbaaa"), "ab ba");
        // Acoustics overrule the LM.
        assert_eq!(run("aaaa"), "a");
        assert_eq!(run("bbbaaa"), "ba");
        // Silence between words is optional and produces no word.
        assert_eq!(run("sssaaabbbsssssbbbaaass"), "ab ba");
        // Kaldi's silence probability: every word boundary, and the start,
        // costs ln p (silence) or ln (1 - p) (none); at 0.5 that is ln 2 per
        // word plus ln 2 for the start, whichever way, scaled by the LM weight.
        let m = scores("sssaaabbbsssssbbbaaass");
        let free = decode(&tree, &lm, &mut MatrixScorer(&m), &cfg);
        let none = DecodeConfig {
            silence_prob: 0.0,
            ..cfg.clone()
        };
        let free_none = decode(&tree, &lm, &mut MatrixScorer(&m), &none);
        assert_eq!(free.words, free_none.words);
        let want = 3.0 * 0.5f32.ln() * cfg.lm_weight;
        assert!(
            (free.score - free_none.score - want).abs() < 1e-3,
            "{} vs {} (want a difference of {want})",
            free.score,
            free_none.score
        );
        // Word end frames: "ab" must end before the silence starts.
        let m = scores("aaabbbsssbbaa");
        let r = decode(&tree, &lm, &mut MatrixScorer(&m), &cfg);
        assert_eq!(r.words.len(), 2);
        assert_eq!(r.words[0].end_frame, 5);
        assert_eq!(r.words[1].end_frame, 12);
    }
}
