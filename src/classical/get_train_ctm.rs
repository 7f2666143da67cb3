//! Forced alignment of utterances to their own transcripts, as word and
//! phone segments: Kaldi's `steps/get_train_ctm.sh` (alignment with the
//! trained model, then `ali-to-phones --ctm-output` and word boundaries).
//! `crossover align` reaches it through the registry
//! ([`crate::pipeline::Recogniser::force_align`]).
use rayon::prelude::*;

use super::align::{align, transcript_units};
use super::hmm::{AcousticModel, GmmScorer};
use crate::corpus::Utterance;
use crate::lang::lexicon::Lexicon;
use crate::lang::topology::PhoneTopology;
use crate::matrix::Matrix;
use crate::pipeline::{ForcedAlignment, Segment};

/// Seconds per feature frame (10 ms shift).
const FRAME_SECONDS: f64 = 0.01;

/// Each utterance's alignment with `am` (its features, in the model's
/// front end, in `feats`), or why it has none (a word missing from the
/// lexicon, no path through the beam). Parallel on the current rayon pool.
pub fn force_align(
    am: &AcousticModel,
    lexicon: &Lexicon,
    beam: f32,
    utts: &[&Utterance],
    feats: &[Matrix],
) -> Vec<Result<ForcedAlignment, String>> {
    utts.par_iter()
        .zip(feats.par_iter())
        .map(|(u, feats)| one(am, lexicon, beam, u, feats))
        .collect()
}

fn one(
    am: &AcousticModel,
    lexicon: &Lexicon,
    beam: f32,
    u: &Utterance,
    feats: &Matrix,
) -> Result<ForcedAlignment, String> {
    let words: Vec<&str> = u.norm_text.split_whitespace().collect();
    let mut prons = Vec::new();
    for w in &words {
        prons.push(lexicon.prons(w).ok_or_else(|| {
            format!(
                "utterance {}: word {w:?} is not in the model's lexicon",
                u.id
            )
        })?);
    }
    // All pronunciations are branches: the alignment picks one.
    let units = transcript_units(am as &dyn PhoneTopology, &prons, true);
    let mut sc = GmmScorer::new(am, feats);
    let ali = align(&units, &mut sc, beam)
        .ok_or_else(|| format!("utterance {}: no alignment ({} frames)", u.id, feats.rows))?;
    let segment = |start: usize, end: usize, token: &str| Segment {
        start: start as f64 * FRAME_SECONDS,
        duration: (end - start) as f64 * FRAME_SECONDS,
        token: token.to_string(),
    };
    Ok(ForcedAlignment {
        phones: ali
            .unit_segments()
            .into_iter()
            .map(|s| segment(s.start, s.end, am.phones.name(units[s.index].phone)))
            .collect(),
        words: ali
            .word_segments(&units)
            .into_iter()
            .map(|s| segment(s.start, s.end, words[s.index]))
            .collect(),
    })
}
