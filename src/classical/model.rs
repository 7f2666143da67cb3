//! A trained classical recogniser: acoustic model, lexicon, LMs and the
//! decoding options tuned on dev; saved to and loaded from a model folder
//! (`acoustic.json`, `lexicon.txt`, `lm.arpa`, `phone_lm.arpa`,
//! `decode.toml`, `train_report.txt`, `pipeline.toml`).
use std::path::Path;

use rayon::prelude::*;

use super::config::ClassicalConfig;
use super::hmm::{AcousticModel, GmmScorer};
use super::{phone_decoder, Classical, KIND};
use crate::corpus::Utterance;
use crate::error::{Error, Result};
use crate::lang::decoder::{self, decode, DecodeConfig, LexiconTree};
use crate::lang::lexicon::Lexicon;
use crate::lang::lm::NgramLm;
use crate::loader::Loader;
use crate::matrix::Matrix;
use crate::overlay::Overlay;
use crate::pipeline::{ModelSummary, Recogniser, Transcript};

/// A trained classical recogniser.
pub struct ClassicalModel {
    pub config: ClassicalConfig,
    pub am: AcousticModel,
    pub lexicon: Lexicon,
    pub lm: NgramLm,
    pub phone_lm: NgramLm,
    /// Decoding options (LM weight and penalty as tuned on dev).
    pub decode: DecodeConfig,
    pub tree: LexiconTree,
    pub phone_tree: LexiconTree,
    /// The training report (alignment stats, perplexity, dev PER/WER).
    pub report: String,
}

const AM_FILE: &str = "acoustic.json";
const LEX_FILE: &str = crate::lang::LANG_LEXICON_FILE;
const LM_FILE: &str = crate::lang::LANG_LM_FILE;
const PHONE_LM_FILE: &str = "phone_lm.arpa";
const DECODE_FILE: &str = "decode.toml";
const REPORT_FILE: &str = "train_report.txt";

impl ClassicalModel {
    pub(super) fn assemble(
        config: ClassicalConfig,
        mut am: AcousticModel,
        lexicon: Lexicon,
        lm: NgramLm,
        phone_lm: NgramLm,
        decode: DecodeConfig,
        report: String,
    ) -> Result<Self> {
        am.prepare();
        let tree = LexiconTree::build(&lexicon, &am, &lm);
        let phone_tree = LexiconTree::build(
            &phone_decoder::phone_lexicon(&am.phones),
            &phone_decoder::PhoneLoopTopology(&am),
            &phone_lm,
        );
        Ok(ClassicalModel {
            config,
            am,
            lexicon,
            lm,
            phone_lm,
            decode,
            tree,
            phone_tree,
            report,
        })
    }

    pub fn load(dir: &Path) -> Result<Self> {
        Self::load_with(dir, &Overlay::default())
    }

    /// Load with decode-time overrides: `overlay` applies to the saved
    /// pipeline config and, for `decode.*`, to the LM weight and penalty
    /// tuned on dev (`decode.toml`) as well.
    pub fn load_with(dir: &Path, overlay: &Overlay) -> Result<Self> {
        let config = crate::pipeline::model_config::<Classical>(dir, overlay)?;
        let p = dir.join(AM_FILE);
        let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
        let am: AcousticModel =
            serde_json::from_str(&text).map_err(|e| Error::parse(&p, e.to_string()))?;
        let lexicon = Lexicon::from_cmudict(&dir.join(LEX_FILE), am.phones.clone())?;
        let lm = NgramLm::read_arpa(&dir.join(LM_FILE))?;
        let phone_lm = NgramLm::read_arpa(&dir.join(PHONE_LM_FILE))?;
        let p = dir.join(DECODE_FILE);
        let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
        let mut tuned: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| Error::parse(&p, e.to_string()))?;
        overlay
            .section("decode")
            .apply(&mut tuned)
            .map_err(|e| Error::parse(&p, e.to_string()))?;
        let decode: DecodeConfig = tuned
            .try_into()
            .map_err(|e: toml::de::Error| Error::parse(&p, e.to_string()))?;
        decode
            .validate()
            .map_err(|e| Error::parse(&p, e.to_string()))?;
        let report = std::fs::read_to_string(dir.join(REPORT_FILE)).unwrap_or_default();
        Self::assemble(config, am, lexicon, lm, phone_lm, decode, report)
    }

    /// Features of utterances as this model was trained on them, from the loader.
    pub fn features(&self, loader: &Loader, utts: &[&Utterance]) -> Result<Vec<Matrix>> {
        loader.features(&self.config.features, utts)
    }

    /// Decode with another lexicon and LM (a `data/lang`-like folder holding
    /// `lexicon.txt` and `lm.arpa`, e.g. another classical model's folder).
    pub fn use_language(&mut self, lang_dir: &Path) -> Result<()> {
        let (lexicon, lm) = crate::lang::read_lang_dir(lang_dir, &self.am.phones)?;
        self.tree = LexiconTree::build(&lexicon, &self.am, &lm);
        self.lexicon = lexicon;
        self.lm = lm;
        Ok(())
    }

    /// Word recognition of one feature matrix.
    pub fn recognise(&self, feats: &Matrix, cfg: &DecodeConfig) -> decoder::DecodeResult {
        let mut sc = GmmScorer::new(&self.am, feats);
        decode(&self.tree, &self.lm, &mut sc, cfg)
    }

    /// Phone recognition (phone loop with the phone bigram).
    pub fn recognise_phones(&self, feats: &Matrix) -> Vec<String> {
        let mut sc = GmmScorer::new(&self.am, feats);
        let cfg = DecodeConfig {
            lm_weight: self.decode.lm_weight.min(5.0),
            word_penalty: 0.0,
            ..self.decode.clone()
        };
        decode(&self.phone_tree, &self.phone_lm, &mut sc, &cfg)
            .words
            .into_iter()
            .map(|w| w.word)
            .collect()
    }
}

impl Recogniser for ClassicalModel {
    fn set_language(&mut self, lang_dir: &Path) -> Result<()> {
        self.use_language(lang_dir)
    }
    fn summary(&self) -> ModelSummary {
        ModelSummary {
            kind: KIND.into(),
            size: self.am.num_gaussians() as u64,
            size_unit: "gaussians".into(),
            device: "cpu".into(),
            notes: format!(
                "{} pdfs ({}), {} words, {}-gram LM, lm_weight {}, word_penalty {}",
                self.am.pdfs.len(),
                if self.am.is_triphone() {
                    "tied triphone states"
                } else {
                    "monophone states"
                },
                self.lexicon.len(),
                self.lm.order,
                self.decode.lm_weight,
                self.decode.word_penalty
            ),
        }
    }

    fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let p = dir.join("pipeline.toml");
        let cfg = toml::to_string(&self.config).map_err(|e| Error::Config(e.to_string()))?;
        std::fs::write(&p, cfg).map_err(|e| Error::io(&p, e))?;
        let p = dir.join(AM_FILE);
        std::fs::write(
            &p,
            serde_json::to_string(&self.am).map_err(|e| Error::Config(e.to_string()))?,
        )
        .map_err(|e| Error::io(&p, e))?;
        self.lexicon.save_cmudict(&dir.join(LEX_FILE))?;
        self.lm.write_arpa(&dir.join(LM_FILE))?;
        self.phone_lm.write_arpa(&dir.join(PHONE_LM_FILE))?;
        let p = dir.join(DECODE_FILE);
        std::fs::write(
            &p,
            toml::to_string(&self.decode).map_err(|e| Error::Config(e.to_string()))?,
        )
        .map_err(|e| Error::io(&p, e))?;
        let p = dir.join(REPORT_FILE);
        std::fs::write(&p, &self.report).map_err(|e| Error::io(&p, e))?;
        Ok(())
    }

    fn transcribe(
        &self,
        loader: &Loader,
        utts: &[&Utterance],
        threads: usize,
    ) -> Result<Vec<Transcript>> {
        on_threads(threads, || {
            let feats = self.features(loader, utts)?;
            Ok(utts
                .par_iter()
                .zip(feats.par_iter())
                .map(|(u, f)| {
                    let r = self.recognise(f, &self.decode);
                    let words: Vec<String> = r.words.into_iter().map(|w| w.word).collect();
                    Transcript {
                        id: u.id.clone(),
                        words: words.join(" "),
                        phones: None,
                    }
                })
                .collect())
        })
    }

    /// The phone loop with the phone bigram (a second search, so only when
    /// asked: the sweep's PER column).
    fn transcribe_phones(
        &self,
        loader: &Loader,
        utts: &[&Utterance],
        threads: usize,
    ) -> Result<Option<Vec<String>>> {
        on_threads(threads, || {
            let feats = self.features(loader, utts)?;
            Ok(Some(
                feats
                    .par_iter()
                    .map(|f| self.recognise_phones(f).join(" "))
                    .collect(),
            ))
        })
    }
}

/// Run `f` on a rayon pool of `threads` threads (decoding's `--threads`).
fn on_threads<T: Send>(threads: usize, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| Error::Config(e.to_string()))?
        .install(f)
}
