//! A trained classical recogniser: acoustic model, lexicon, LMs and the
//! decoding options tuned on dev; saved to and loaded from a model folder
//! (`acoustic.json`, `lexicon.txt`, `lm.arpa`, `phone_lm.arpa`,
//! `decode.toml`, `train_report.txt`, `pipeline.toml`).
use std::path::Path;

use rayon::prelude::*;

use super::config::{ClassicalConfig, Rung};
use super::hmm::{AcousticModel, GmmScorer};
use super::lda_sat::{adapt_speakers, align_hypothesis, SplicedTransform};
use super::{phone_decoder, Classical, KIND};
use crate::corpus::Utterance;
use crate::error::{Error, Result};
use crate::features::FeatureConfig;
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
    /// The ladder rung this model is (`rung.json`).
    pub rung: Rung,
    /// tri2b and tri3b: the spliced-cepstra projection (`final_mat.json`).
    pub transform: Option<SplicedTransform>,
    /// tri3b: the speaker-independent first pass whose hypotheses the fMLLR
    /// transforms are estimated from (`si_acoustic.json`, `si_decode.toml`).
    pub first_pass: Option<FirstPass>,
    /// Every rung trained for this model with its dev result (`rung.json`).
    pub ladder: Vec<RungResult>,
}

/// The speaker-independent first pass of a SAT model (the tri2b rung,
/// where Kaldi's `decode_fmllr.sh` uses `final.alimdl`).
pub struct FirstPass {
    pub am: AcousticModel,
    pub decode: DecodeConfig,
    pub tree: LexiconTree,
}

/// One rung's dev result as the ladder selection saw it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RungResult {
    pub rung: Rung,
    /// Dev WER % at the rung's tuned decoding options.
    pub dev_wer: f64,
    pub lm_weight: f32,
    pub word_penalty: f32,
    pub gaussians: usize,
    pub pdfs: usize,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct RungFile {
    rung: Rung,
    #[serde(default)]
    ladder: Vec<RungResult>,
}

const AM_FILE: &str = "acoustic.json";
const LEX_FILE: &str = crate::lang::LANG_LEXICON_FILE;
const LM_FILE: &str = crate::lang::LANG_LM_FILE;
const PHONE_LM_FILE: &str = "phone_lm.arpa";
const DECODE_FILE: &str = "decode.toml";
const REPORT_FILE: &str = "train_report.txt";
const RUNG_FILE: &str = "rung.json";
const TRANSFORM_FILE: &str = "final_mat.json";
const SI_AM_FILE: &str = "si_acoustic.json";
const SI_DECODE_FILE: &str = "si_decode.toml";

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
        let rung = if am.is_triphone() {
            Rung::Tri1
        } else {
            Rung::Mono
        };
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
            rung,
            transform: None,
            first_pass: None,
            ladder: Vec::new(),
        })
    }

    /// This model as an LDA rung: features spliced and projected by `t`.
    pub(super) fn with_transform(mut self, rung: Rung, t: SplicedTransform) -> Self {
        self.rung = rung;
        self.transform = Some(t);
        self
    }

    /// This model as a SAT rung whose fMLLR first pass is `am` (same
    /// transform, its own tree) decoded with `decode`.
    pub(super) fn with_first_pass(mut self, mut am: AcousticModel, decode: DecodeConfig) -> Self {
        am.prepare();
        let tree = LexiconTree::build(&self.lexicon, &am, &self.lm);
        self.first_pass = Some(FirstPass { am, decode, tree });
        self
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
        let mut model = Self::assemble(config, am, lexicon, lm, phone_lm, decode, report)?;
        let p = dir.join(RUNG_FILE);
        if p.exists() {
            let rf: RungFile = read_json(&p)?;
            model.rung = rf.rung;
            model.ladder = rf.ladder;
        }
        let p = dir.join(TRANSFORM_FILE);
        if p.exists() {
            model.transform = Some(read_json(&p)?);
        }
        let p = dir.join(SI_AM_FILE);
        if p.exists() {
            let si: AcousticModel = read_json(&p)?;
            let q = dir.join(SI_DECODE_FILE);
            let text = std::fs::read_to_string(&q).map_err(|e| Error::io(&q, e))?;
            let dc: DecodeConfig =
                toml::from_str(&text).map_err(|e| Error::parse(&q, e.to_string()))?;
            model = model.with_first_pass(si, dc);
        }
        if matches!(model.rung, Rung::Tri2b | Rung::Tri3b) && model.transform.is_none() {
            return Err(Error::parse(
                &dir.join(TRANSFORM_FILE),
                format!("missing: a {} model needs its transform", model.rung),
            ));
        }
        if model.rung == Rung::Tri3b && model.first_pass.is_none() {
            return Err(Error::parse(
                &dir.join(SI_AM_FILE),
                "missing: a tri3b model needs its first-pass model",
            ));
        }
        Ok(model)
    }

    /// The loader features this model reads: the pipeline's front end, or
    /// its static cepstra for the spliced (LDA) rungs.
    pub fn feature_config(&self) -> FeatureConfig {
        if self.transform.is_some() {
            self.config.static_features()
        } else {
            self.config.features.clone()
        }
    }

    /// Speaker-independent features: the loader's, spliced and projected
    /// for the LDA rungs.
    pub fn si_features(&self, loader: &Loader, utts: &[&Utterance]) -> Result<Vec<Matrix>> {
        let f = loader.features(&self.feature_config(), utts)?;
        Ok(match &self.transform {
            Some(t) => f.par_iter().map(|m| t.apply(m)).collect(),
            None => f,
        })
    }

    /// Features as the final pass reads them: [`Self::si_features`], and
    /// for a SAT model adapted per speaker by [`Self::adapt`].
    pub fn features(&self, loader: &Loader, utts: &[&Utterance]) -> Result<Vec<Matrix>> {
        let f = self.si_features(loader, utts)?;
        if self.first_pass.is_some() {
            let spk: Vec<String> = utts.iter().map(|u| u.speaker.clone()).collect();
            self.adapt(&spk, f)
        } else {
            Ok(f)
        }
    }

    /// fMLLR adaptation of a SAT model's test speakers (`decode_fmllr.sh`):
    /// per speaker, the first pass decodes its utterances, the hypotheses
    /// are aligned and give the speaker's transform; each further round
    /// decodes the adapted features with this model and re-estimates on top.
    /// Intermediate passes use the first pass's LM weight, so tuning this
    /// model's weight on dev sees the same features as test. Utterances
    /// whose hypothesis is empty or cannot be aligned add no statistics.
    pub fn adapt(&self, speakers: &[String], si: Vec<Matrix>) -> Result<Vec<Matrix>> {
        let Some(fp) = &self.first_pass else {
            return Ok(si);
        };
        let sat = &self.config.sat;
        let beam = self.config.mono.beam;
        let mut cur = si;
        for round in 0..sat.decode_rounds.max(1) {
            let (am, tree) = if round == 0 {
                (&fp.am, &fp.tree)
            } else {
                (&self.am, &self.tree)
            };
            let alis: Vec<Option<super::align::Alignment>> = cur
                .par_iter()
                .map(|f| {
                    let mut sc = GmmScorer::new(am, f);
                    let words: Vec<String> = decode(tree, &self.lm, &mut sc, &fp.decode)
                        .words
                        .into_iter()
                        .map(|w| w.word)
                        .collect();
                    let prons: Option<Vec<&[Vec<usize>]>> =
                        words.iter().map(|w| self.lexicon.prons(w)).collect();
                    align_hypothesis(am, &self.am, f, &prons?, true, beam)
                })
                .collect();
            // The speakers' transforms compose across rounds in `cur`, so
            // the map adapt_speakers keeps is not needed here.
            let mut transforms = std::collections::BTreeMap::new();
            cur = adapt_speakers(&self.am, &cur, &alis, speakers, sat, &mut transforms)?.0;
        }
        Ok(cur)
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

    /// Word recognition of one feature matrix under each of `configs` (a
    /// tuning grid of LM weights and word penalties), then its phone
    /// recognition, with one GMM scorer: the acoustic scores depend on
    /// neither, so each (frame, pdf) is scored once for all of them. The
    /// results are those of [`Self::recognise`] with each config and of
    /// [`Self::recognise_phones`].
    pub fn recognise_grid(
        &self,
        feats: &Matrix,
        configs: &[DecodeConfig],
    ) -> (Vec<decoder::DecodeResult>, Vec<String>) {
        let mut sc = GmmScorer::new(&self.am, feats);
        let words = configs
            .iter()
            .map(|c| decode(&self.tree, &self.lm, &mut sc, c))
            .collect();
        (words, self.phones_with(&mut sc))
    }

    /// Phone recognition (phone loop with the phone bigram).
    pub fn recognise_phones(&self, feats: &Matrix) -> Vec<String> {
        self.phones_with(&mut GmmScorer::new(&self.am, feats))
    }

    fn phones_with(&self, sc: &mut GmmScorer) -> Vec<String> {
        let cfg = DecodeConfig {
            lm_weight: self.decode.lm_weight.min(5.0),
            word_penalty: 0.0,
            ..self.decode.clone()
        };
        decode(&self.phone_tree, &self.phone_lm, sc, &cfg)
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
    fn force_align(
        &self,
        loader: &Loader,
        utts: &[&Utterance],
        threads: usize,
    ) -> Result<Option<Vec<std::result::Result<crate::pipeline::ForcedAlignment, String>>>> {
        on_threads(threads, || {
            let feats = self.features(loader, utts)?;
            Ok(Some(super::get_train_ctm::force_align(
                &self.am,
                &self.lexicon,
                self.config.mono.beam,
                utts,
                &feats,
            )))
        })
    }
    fn summary(&self) -> ModelSummary {
        ModelSummary {
            kind: KIND.into(),
            size: self.am.num_gaussians() as u64,
            size_unit: "gaussians".into(),
            device: "cpu".into(),
            notes: format!(
                "rung {}, {} pdfs ({}), {} words, {}-gram LM, lm_weight {}, word_penalty {}",
                self.rung,
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
            choices: format!(
                "rung={} lm_weight={} word_penalty={}",
                self.rung, self.decode.lm_weight, self.decode.word_penalty
            ),
            training: None,
            init: String::new(),
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
        write_json(
            &dir.join(RUNG_FILE),
            &RungFile {
                rung: self.rung,
                ladder: self.ladder.clone(),
            },
        )?;
        if let Some(t) = &self.transform {
            write_json(&dir.join(TRANSFORM_FILE), t)?;
        }
        if let Some(fp) = &self.first_pass {
            write_json(&dir.join(SI_AM_FILE), &fp.am)?;
            let p = dir.join(SI_DECODE_FILE);
            std::fs::write(
                &p,
                toml::to_string(&fp.decode).map_err(|e| Error::Config(e.to_string()))?,
            )
            .map_err(|e| Error::io(&p, e))?;
        }
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

fn read_json<T: serde::de::DeserializeOwned>(p: &Path) -> Result<T> {
    let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
    serde_json::from_str(&text).map_err(|e| Error::parse(p, e.to_string()))
}

fn write_json<T: serde::Serialize>(p: &Path, v: &T) -> Result<()> {
    let text = serde_json::to_string(v).map_err(|e| Error::Config(e.to_string()))?;
    std::fs::write(p, text).map_err(|e| Error::io(p, e))
}

/// Run `f` on the pool of `threads` threads (decoding's `--threads`).
fn on_threads<T: Send>(threads: usize, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    crate::threads::install(threads, f)?
}
