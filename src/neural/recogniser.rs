//! A trained CTC network as a [`Recogniser`]: loading a model folder,
//! decoding (greedy, prefix beam, fusion, external LM, the phone-ctc word
//! search) and saving.
use std::path::Path;
use std::sync::Mutex;

use tch::{nn, Device};

use super::config::{CtcConfig, DecodeMethod, ModelConfig};
use super::examples::examples;
use super::model::CtcNet;
use super::saved_model::{
    SavedModel, AUX_TOKENS_FILE, MODEL_FILE, PIPELINE_FILE, TOKENS_FILE, WEIGHTS_FILE,
};
use super::tokens::{TokenKind, TokenSet};
use super::{ctc_decode, fusion, lm_decode, phone_words, tokens, train, CharCtc};
use crate::corpus::Utterance;
use crate::error::{Error, Result};
use crate::loader::Loader;
use crate::matrix::Matrix;
use crate::overlay::Overlay;
use crate::pipeline::{ModelSummary, Recogniser, Transcript};

/// A trained char-ctc or phone-ctc recogniser.
pub struct CtcModel {
    pub cfg: CtcConfig,
    pub model_cfg: ModelConfig,
    pub tokens: TokenSet,
    /// mtl-ctc: the phone head's tokens (decoded for PER only).
    pub aux_tokens: Option<TokenSet>,
    pub(crate) summary: ModelSummary,
    pub(crate) training: Option<train::TrainState>,
    /// phone-ctc: lexicon, LM and lexicon tree for the word search.
    pub(crate) words: Option<phone_words::WordDecoder>,
    /// tch tensors are `Send` but not `Sync`; the net is used by one thread at a time.
    pub(crate) net: Mutex<(nn::VarStore, CtcNet)>,
    /// char-ctc ablation only: shallow fusion with a word LM in beam search.
    pub(crate) fusion: Option<FusionSettings>,
    /// The end-to-end network + external LM (`[decode.external_lm]`).
    pub(crate) external: Option<lm_decode::ExternalLm>,
}

/// Shallow-fusion settings of a loaded char-ctc model (never saved with it).
pub struct FusionSettings {
    pub lm: fusion::ArpaWordLm,
    /// Weight of the LM's natural-log probability.
    pub weight: f32,
    /// Added per completed word (counters the LM's bias to short outputs).
    pub word_bonus: f32,
}

/// The output tokens of a model of CTC kind `kind`.
pub(crate) fn token_kind(kind: &str) -> TokenKind {
    if super::config::task_of(kind).is_some_and(|t| t.phone_output) {
        TokenKind::Phones
    } else {
        TokenKind::Chars
    }
}

impl CtcModel {
    /// Load a model folder written by [`Recogniser::save`], onto the CPU.
    pub fn load(dir: &Path) -> Result<Self> {
        Self::load_with(dir, &Overlay::default(), Device::Cpu)
    }

    /// Load with decode-time overrides of the saved pipeline config
    /// (`crossover decode --set decode.method=beam`, `decode.fusion_lm=...`).
    pub fn load_with(dir: &Path, overlay: &Overlay, device: Device) -> Result<Self> {
        let cfg = crate::pipeline::model_config::<CharCtc>(dir, overlay)?;
        let saved = SavedModel::read(dir)?;
        let (tokens, aux_tokens) = saved.token_sets(dir, token_kind(&cfg.kind))?;
        let mut vs = nn::VarStore::new(device);
        let net = CtcNet::with_aux(&vs.root(), &saved.model, tokens.len() as i64, saved.aux);
        let wpath = dir.join(WEIGHTS_FILE);
        vs.load(&wpath).map_err(|source| Error::Torch {
            context: format!("loading weights {}", wpath.display()),
            source,
        })?;
        let words = match tokens.kind {
            TokenKind::Phones => Some(phone_words::WordDecoder::load(dir, tokens.len())?),
            TokenKind::Chars => None,
        };
        let mut model = CtcModel {
            cfg,
            model_cfg: saved.model,
            tokens,
            aux_tokens,
            summary: saved.summary,
            training: saved.training,
            words,
            net: Mutex::new((vs, net)),
            fusion: None,
            external: None,
        };
        if let Some(x) = &model.cfg.decode.external_lm {
            model.external = Some(lm_decode::ExternalLm::load(dir, &model.tokens, x)?);
        }
        if let Some(p) = model.cfg.decode.fusion_lm.clone() {
            let d = &model.cfg.decode;
            let settings = FusionSettings {
                lm: fusion::ArpaWordLm::read(&p)?,
                weight: d.fusion_weight,
                word_bonus: d.fusion_bonus,
            };
            model.set_fusion(settings)?;
        }
        Ok(model)
    }

    /// phone-ctc: decode words with another lexicon and LM (a language
    /// folder holding `lexicon.txt` and `lm.arpa`, e.g. a classical model's).
    pub fn use_language(&mut self, lang_dir: &Path) -> Result<()> {
        match &mut self.words {
            Some(w) => {
                *w = phone_words::WordDecoder::load(lang_dir, self.tokens.len())?;
                Ok(())
            }
            None => Err(Error::Config(
                "char-ctc uses no lexicon or LM (--lang applies to classical and phone-ctc models)"
                    .into(),
            )),
        }
    }

    /// Per-epoch training log (loss, dev error, learning rate), when known.
    pub fn training_state(&self) -> Option<&train::TrainState> {
        self.training.as_ref()
    }

    /// Log posteriors (frames x tokens) of one utterance's features.
    pub fn posteriors(&self, feats: &Matrix) -> Matrix {
        let guard = self.net.lock().expect("model lock");
        train::posteriors(&guard.1, feats, guard.0.device())
    }

    /// Decode posteriors into token ids with the configured method.
    pub fn decode_ids(&self, logp: &Matrix) -> Vec<usize> {
        let d = &self.cfg.decode;
        if let (Some(lm), Some(x)) = (&self.external, &d.external_lm) {
            // A trained model's grid is the one point chosen on dev.
            return lm.decode(logp, x.grid()[0], d.beam, d.prune_logp);
        }
        match d.method {
            DecodeMethod::Greedy => ctc_decode::greedy(logp, tokens::BLANK),
            DecodeMethod::Beam => {
                let space = self.tokens.symbols.iter().position(|s| s == "<space>");
                let fusion = match (&self.fusion, space) {
                    (Some(f), Some(space)) => Some(ctc_decode::Fusion {
                        lm: &f.lm,
                        weight: f.weight,
                        word_bonus: f.word_bonus,
                        space,
                        symbols: &self.tokens.symbols,
                    }),
                    _ => None,
                };
                ctc_decode::prefix_beam_search(
                    logp,
                    tokens::BLANK,
                    d.beam,
                    d.prune_logp,
                    fusion.as_ref(),
                )
            }
        }
    }

    /// Shallow fusion with a word LM (char-ctc only; switches to beam search).
    pub fn set_fusion(&mut self, f: FusionSettings) -> Result<()> {
        if self.words.is_some() || !self.tokens.symbols.iter().any(|s| s == "<space>") {
            return Err(Error::Config(
                "shallow fusion applies to char-ctc models only (phone-ctc already decodes words with the lexicon and LM)".into(),
            ));
        }
        self.cfg.decode.method = DecodeMethod::Beam;
        self.fusion = Some(f);
        Ok(())
    }

    /// Switch decoding method (e.g. from a `--method` flag) without retraining.
    pub fn set_decode(&mut self, method: DecodeMethod, beam: Option<usize>) {
        self.cfg.decode.method = method;
        if let Some(b) = beam {
            self.cfg.decode.beam = b.max(1);
        }
    }
}

impl Recogniser for CtcModel {
    fn set_language(&mut self, lang_dir: &Path) -> Result<()> {
        self.use_language(lang_dir)
    }
    fn summary(&self) -> ModelSummary {
        self.summary.clone()
    }

    fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let ppath = dir.join(PIPELINE_FILE);
        std::fs::write(&ppath, self.cfg.to_toml()).map_err(|e| Error::io(&ppath, e))?;
        let net_aux = self.net.lock().expect("model lock").1.aux_head();
        let saved = SavedModel {
            model: self.model_cfg.clone(),
            summary: self.summary.clone(),
            training: self.training.clone(),
            aux: net_aux,
        };
        let mpath = dir.join(MODEL_FILE);
        std::fs::write(
            &mpath,
            serde_json::to_string_pretty(&saved).expect("serialisable"),
        )
        .map_err(|e| Error::io(&mpath, e))?;
        self.tokens.save(&dir.join(TOKENS_FILE))?;
        if let Some(t) = &self.aux_tokens {
            t.save(&dir.join(AUX_TOKENS_FILE))?;
        }
        if let Some(w) = &self.words {
            w.save(dir)?;
        }
        if let Some(x) = &self.external {
            x.save(dir)?;
        }
        let wpath = dir.join(WEIGHTS_FILE);
        let guard = self.net.lock().expect("model lock");
        guard.0.save(&wpath).map_err(|source| Error::Torch {
            context: format!("saving weights {}", wpath.display()),
            source,
        })
    }

    /// char-ctc: words from the decoded characters (no lexicon, no LM).
    /// phone-ctc: phones from the CTC decoder (for PER) and words from the
    /// lexicon-tree search with the word LM.
    fn transcribe(
        &self,
        loader: &Loader,
        utts: &[&Utterance],
        threads: usize,
    ) -> Result<Vec<Transcript>> {
        tch::set_num_threads(threads.max(1) as i32);
        let examples = examples(
            loader,
            utts,
            None,
            self.model_cfg.num_mel_bins as usize,
            threads,
        )?;
        let mut out = Vec::with_capacity(examples.len());
        for e in &examples {
            if let Some(aux_tokens) = &self.aux_tokens {
                // mtl-ctc: words from the character head; the phone head's greedy phones for PER.
                let (logp, aux) = {
                    let guard = self.net.lock().expect("model lock");
                    train::posteriors_heads(&guard.1, &e.feats, guard.0.device())
                };
                out.push(Transcript {
                    id: e.id.clone(),
                    words: self.tokens.decode(&self.decode_ids(&logp)),
                    phones: aux.map(|a| aux_tokens.decode(&ctc_decode::greedy(&a, tokens::BLANK))),
                });
                continue;
            }
            let logp = self.posteriors(&e.feats);
            let text = self.tokens.decode(&self.decode_ids(&logp));
            out.push(match &self.words {
                None => Transcript {
                    id: e.id.clone(),
                    words: text,
                    phones: None,
                },
                Some(w) => Transcript {
                    id: e.id.clone(),
                    words: w.words(&logp, &self.cfg.word_decode),
                    phones: Some(text),
                },
            });
        }
        Ok(out)
    }
}
