//! Forced alignment: Viterbi through the linear HMM of a known transcript,
//! with optional silence at the start, between words and at the end.
//! Used by training (realignment) and by `crossover align` (CTM output).
use crate::lang::topology::{ChainState, FrameScorer, PhoneTopology};

/// One phone of the transcript's HMM graph.
#[derive(Debug, Clone)]
pub struct AlignUnit {
    pub phone: usize,
    /// Index of the word in the transcript (`None` for silence).
    pub word: Option<usize>,
    /// Which of the word's pronunciations this phone belongs to.
    pub pron: usize,
    /// May be skipped (optional silence).
    pub optional: bool,
    /// Word-internal phone context (`None` at a word edge).
    pub left: Option<usize>,
    pub right: Option<usize>,
    pub chain: Vec<ChainState>,
    /// Units whose last state may lead into this unit's first state.
    pub preds: Vec<usize>,
    /// The utterance may begin with this unit / end after it.
    pub start: bool,
    pub end: bool,
}

/// The units of a transcript: `prons[i]` holds word i's pronunciations
/// (alternatives are parallel branches: the alignment picks one per word,
/// as Kaldi's training graphs do). Triphone context stops at word edges
/// (word-internal triphones). Units come in topological order.
pub fn transcript_units(
    topo: &dyn PhoneTopology,
    prons: &[&[Vec<usize>]],
    optional_silence: bool,
) -> Vec<AlignUnit> {
    let mut units: Vec<AlignUnit> = Vec::new();
    let sil = topo.silence();
    // Units the next slot may follow, and whether it may begin the utterance.
    let mut exits: Vec<usize> = Vec::new();
    let mut at_start = true;
    let push_sil = |units: &mut Vec<AlignUnit>, exits: &mut Vec<usize>, at_start: bool| {
        if let (Some(s), true) = (sil, optional_silence) {
            units.push(AlignUnit {
                phone: s,
                word: None,
                pron: 0,
                optional: true,
                left: None,
                right: None,
                chain: topo.chain(None, s, None),
                preds: exits.clone(),
                start: at_start,
                end: false,
            });
            exits.push(units.len() - 1);
        }
    };
    push_sil(&mut units, &mut exits, at_start);
    for (w, alts) in prons.iter().enumerate() {
        let mut new_exits = Vec::new();
        for (k, p) in alts.iter().enumerate() {
            for i in 0..p.len() {
                let l = if i > 0 { Some(p[i - 1]) } else { None };
                let r = p.get(i + 1).copied();
                let first = i == 0;
                units.push(AlignUnit {
                    phone: p[i],
                    word: Some(w),
                    pron: k,
                    optional: false,
                    left: l,
                    right: r,
                    chain: topo.chain(l, p[i], r),
                    preds: if first {
                        exits.clone()
                    } else {
                        vec![units.len() - 1]
                    },
                    start: first && at_start,
                    end: false,
                });
            }
            if !p.is_empty() {
                new_exits.push(units.len() - 1);
            }
        }
        if new_exits.is_empty() {
            continue;
        }
        exits = new_exits;
        at_start = false;
        push_sil(&mut units, &mut exits, at_start);
    }
    for &e in &exits {
        units[e].end = true;
    }
    units
}

/// A frame-level alignment: for each frame, the unit and the state within it.
#[derive(Debug, Clone, PartialEq)]
pub struct Alignment {
    pub unit: Vec<u32>,
    pub state: Vec<u8>,
    pub pdf: Vec<u32>,
    /// Frames where the state was entered from another (not a self loop).
    pub log_likelihood: f32,
}

/// A segment of frames `[start, end)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub index: usize,
    pub start: usize,
    pub end: usize,
}

impl Alignment {
    /// Phone segments: (unit index, start, end).
    pub fn unit_segments(&self) -> Vec<Segment> {
        let mut out: Vec<Segment> = Vec::new();
        for (t, &u) in self.unit.iter().enumerate() {
            match out.last_mut() {
                Some(s) if s.index == u as usize => s.end = t + 1,
                _ => out.push(Segment {
                    index: u as usize,
                    start: t,
                    end: t + 1,
                }),
            }
        }
        out
    }
    /// Word segments (word index in the transcript).
    pub fn word_segments(&self, units: &[AlignUnit]) -> Vec<Segment> {
        let mut out: Vec<Segment> = Vec::new();
        for s in self.unit_segments() {
            if let Some(w) = units[s.index].word {
                match out.last_mut() {
                    Some(x) if x.index == w => x.end = s.end,
                    _ => out.push(Segment {
                        index: w,
                        start: s.start,
                        end: s.end,
                    }),
                }
            }
        }
        out
    }
}

impl Alignment {
    /// The pronunciation chosen for each word of the transcript (by index
    /// into its alternatives); `None` for a word the path never visits.
    pub fn chosen_prons(&self, units: &[AlignUnit], num_words: usize) -> Vec<Option<usize>> {
        let mut out = vec![None; num_words];
        for s in self.unit_segments() {
            if let Some(w) = units[s.index].word {
                out[w] = Some(units[s.index].pron);
            }
        }
        out
    }
}

/// Viterbi alignment; retries with a wider beam (Kaldi's retry-beam) when
/// the first beam loses the path. `None` when no path exists (too few frames).
pub fn align(units: &[AlignUnit], scorer: &mut dyn FrameScorer, beam: f32) -> Option<Alignment> {
    for b in [beam, beam * 4.0, f32::INFINITY] {
        if let Some(a) = viterbi(units, scorer, b) {
            return Some(a);
        }
    }
    None
}

fn viterbi(units: &[AlignUnit], scorer: &mut dyn FrameScorer, beam: f32) -> Option<Alignment> {
    let t_len = scorer.num_frames();
    let mut first = Vec::with_capacity(units.len());
    let mut flat: Vec<(u32, u8, ChainState)> = Vec::new();
    for (u, unit) in units.iter().enumerate() {
        first.push(flat.len());
        for (k, c) in unit.chain.iter().enumerate() {
            flat.push((u as u32, k as u8, *c));
        }
    }
    let s_len = flat.len();
    if t_len == 0 || s_len == 0 {
        return None;
    }
    let last_of = |u: usize| first[u] + units[u].chain.len() - 1;
    // Entry predecessors (last states) of each unit's first state.
    let entry: Vec<Vec<usize>> = units
        .iter()
        .map(|u| u.preds.iter().map(|&p| last_of(p)).collect())
        .collect();
    let ninf = f32::NEG_INFINITY;
    let mut prev = vec![ninf; s_len];
    let mut cur = vec![ninf; s_len];
    let mut bp = vec![u32::MAX; t_len * s_len];
    let starts: Vec<usize> = (0..units.len())
        .filter(|&u| units[u].start)
        .map(|u| first[u])
        .collect();
    for &s in &starts {
        prev[s] = scorer.score(0, flat[s].2.pdf as usize);
    }
    let mut prev_max = prev.iter().cloned().fold(ninf, f32::max);
    for t in 1..t_len {
        let mut cur_max = ninf;
        for s in 0..s_len {
            let (u, k, c) = flat[s];
            let mut best = prev[s] + c.self_lp;
            let mut arg = s;
            if k > 0 {
                let v = prev[s - 1] + flat[s - 1].2.next_lp;
                if v > best {
                    best = v;
                    arg = s - 1;
                }
            } else {
                for &p in &entry[u as usize] {
                    let v = prev[p] + flat[p].2.next_lp;
                    if v > best {
                        best = v;
                        arg = p;
                    }
                }
            }
            if best == ninf || best < prev_max - beam {
                cur[s] = ninf;
                continue;
            }
            let v = best + scorer.score(t, c.pdf as usize);
            cur[s] = v;
            bp[t * s_len + s] = arg as u32;
            cur_max = cur_max.max(v);
        }
        if cur_max == ninf {
            return None;
        }
        for v in cur.iter_mut() {
            if *v < cur_max - beam {
                *v = ninf;
            }
        }
        std::mem::swap(&mut prev, &mut cur);
        prev_max = cur_max;
    }
    let ends: Vec<usize> = (0..units.len())
        .filter(|&u| units[u].end)
        .map(last_of)
        .collect();
    let (mut s, ll) = ends
        .iter()
        .map(|&e| (e, prev[e] + flat[e].2.next_lp))
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    if ll == ninf {
        return None;
    }
    let mut unit = vec![0u32; t_len];
    let mut state = vec![0u8; t_len];
    let mut pdf = vec![0u32; t_len];
    for t in (0..t_len).rev() {
        unit[t] = flat[s].0;
        state[t] = flat[s].1;
        pdf[t] = flat[s].2.pdf;
        if t > 0 {
            s = bp[t * s_len + s] as usize;
        }
    }
    Some(Alignment {
        unit,
        state,
        pdf,
        log_likelihood: ll,
    })
}

/// Equal alignment (flat start): the frames split evenly over the
/// non-optional units' states, first pronunciation of each word. `None`
/// when there are fewer frames than states.
pub fn equal_alignment(units: &[AlignUnit], frames: usize) -> Option<Alignment> {
    let states: Vec<(u32, u8, u32)> = units
        .iter()
        .enumerate()
        .filter(|(_, u)| !u.optional && u.pron == 0)
        .flat_map(|(i, u)| {
            u.chain
                .iter()
                .enumerate()
                .map(move |(k, c)| (i as u32, k as u8, c.pdf))
        })
        .collect();
    if states.is_empty() || frames < states.len() {
        return None;
    }
    let mut a = Alignment {
        unit: vec![],
        state: vec![],
        pdf: vec![],
        log_likelihood: 0.0,
    };
    for t in 0..frames {
        let (u, k, p) = states[t * states.len() / frames];
        a.unit.push(u);
        a.state.push(k);
        a.pdf.push(p);
    }
    Some(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::topology::toy::{one_hot_scores, ToyTopology};
    use crate::lang::topology::MatrixScorer;
    use crate::matrix::Matrix;

    /// Frames scoring 0 for the named phone (digits) and -10 for the rest.
    fn scores(seq: &str) -> Matrix {
        let phones: Vec<usize> = seq
            .chars()
            .map(|c| c.to_digit(10).unwrap() as usize)
            .collect();
        one_hot_scores(&phones, 4)
    }

    #[test]
    fn alignment_picks_the_pronunciation_the_audio_supports() {
        // Word 0 is "1 2" or "1 3"; word 1 is "2".
        let w0 = vec![vec![1, 2], vec![1, 3]];
        let w1 = vec![vec![2]];
        let prons: Vec<&[Vec<usize>]> = vec![&w0, &w1];
        let units = transcript_units(&ToyTopology(4), &prons, true);
        for (audio, want) in [("0113300222", 1), ("1122000022", 0), ("11332", 1)] {
            let ali = align(&units, &mut MatrixScorer(&scores(audio)), 1e9).unwrap();
            assert_eq!(
                ali.chosen_prons(&units, 2),
                vec![Some(want), Some(0)],
                "{audio}"
            );
            let words: Vec<usize> = ali.word_segments(&units).iter().map(|s| s.index).collect();
            assert_eq!(words, vec![0, 1], "{audio}");
        }
        // The flat start walks the first pronunciations only.
        let eq = equal_alignment(&units, 6).unwrap();
        assert!(eq.unit.iter().all(|&u| units[u as usize].pron == 0));
    }
}
