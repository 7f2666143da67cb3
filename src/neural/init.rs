//! Transfer learning: a CTC network that starts from a trained model's
//! weights instead of a random initialisation (`[init]` of a pipeline file,
//! [`InitConfig`]).
//!
//! - `model = "DIR"`: a trained char-ctc, phone-ctc or mtl-ctc model folder.
//! - `pretrain = "pipelines/X.toml"` + `corpus = "corpora/Y.toml"` (+
//!   `hours`, `seed`): that pipeline trained once on that corpus's nested
//!   subset and cached in the corpus's cache (`ROOT/.cache/pretrained/`,
//!   beside the feature cache), so every cell of a sweep, and every later
//!   run, reuses the one pre-trained model. An interrupted pre-training
//!   resumes from its checkpoints; a lock file keeps two processes (two
//!   Slurm array tasks) from training it twice.
//!
//! The fine-tuned network takes the initial model's architecture; every
//! variable is copied except the output layers, each of which is copied
//! only from a head of the initial model with exactly the same token list
//! (so a char-ctc model transfers its output layer to char-ctc, and a
//! phone-ctc model's to mtl-ctc's phone head); the others keep their random
//! initialisation. [`fingerprint`] names the initial model for cache keys.
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tch::{nn, Tensor};

use super::config::{InitConfig, ModelConfig};
use super::model::AuxHead;
use super::tokens::TokenSet;
use super::{SavedModel, MODEL_FILE, TOKENS_FILE, WEIGHTS_FILE};
use crate::error::{Error, Result};

/// What a pre-training left beside its model (`pretrain.json`): its cost and provenance.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct PretrainRecord {
    pub pipeline: PathBuf,
    pub corpus: PathBuf,
    pub corpus_dir: PathBuf,
    pub target_hours: Option<f64>,
    pub hours: f64,
    pub utterances: usize,
    pub seed: u64,
    pub key: String,
    /// Wall time of the pre-training run(s) (training and dev scoring).
    pub wall_seconds: f64,
    pub epochs: usize,
    pub updates: usize,
    pub stop_reason: String,
    /// Best dev CER/PER of the pre-training, as a fraction.
    pub best_dev_error: Option<f64>,
}

/// A resolved initial model.
pub struct InitialModel {
    pub dir: PathBuf,
    pub model_cfg: ModelConfig,
    pub tokens: TokenSet,
    pub aux_tokens: Option<TokenSet>,
    pub aux: Option<AuxHead>,
    /// One line for notes and the report: what it is and what it cost.
    pub description: String,
    pub fingerprint: String,
}

pub(crate) const PRETRAIN_RECORD: &str = "pretrain.json";
pub(crate) const DONE_FILE: &str = "done";

fn sha_file(h: &mut Sha256, p: &Path) -> Result<()> {
    let bytes = std::fs::read(p).map_err(|e| Error::io(p, e))?;
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(&bytes);
    Ok(())
}

/// The identity of a corpus argument without building it: a recipe's hash
/// (which fixes what it builds), or a folder's manifest bytes.
fn corpus_identity(corpus: &Path) -> Result<String> {
    if corpus.extension().is_some_and(|e| e == "toml") {
        crate::corpus::recipe::CorpusRecipe::load(corpus)?.hash()
    } else {
        let mut h = Sha256::new();
        sha_file(&mut h, &corpus.join(crate::corpus::MANIFEST_FILE))?;
        Ok(hex::encode(h.finalize()))
    }
}

/// The cache key of a pre-training: its pipeline's effective config (with
/// that pipeline's own `[init]`, recursively), the corpus identity, hours,
/// seed and tool version.
pub fn pretrain_key(init: &InitConfig) -> Result<String> {
    let (Some(pipeline), Some(corpus)) = (&init.pretrain, &init.corpus) else {
        return Err(Error::Config(
            "[init]: `pretrain` and `corpus` go together".into(),
        ));
    };
    // The key hashes the pre-training pipeline's effective config, which
    // holds its own `[init]`'s key: a chain of pipeline files, checked for a
    // cycle before it is followed.
    check_pretrain_chain(pipeline)?;
    let effective = pretrain_effective(pipeline)?;
    let mut h = Sha256::new();
    h.update(b"crossover pretrain 1\n");
    h.update(effective);
    h.update(corpus_identity(corpus)?);
    h.update(format!(
        "|{:?}|{}|{}",
        init.hours,
        init.seed,
        env!("CARGO_PKG_VERSION")
    ));
    Ok(hex::encode(h.finalize()))
}

/// The pre-training pipeline's config. It must be a network (its weights
/// initialise one), so it is read here as a CTC config rather than through
/// the registry, which depends on this module.
pub(crate) fn pretrain_config(pipeline: &Path) -> Result<super::CtcConfig> {
    let (_, table) = crate::pipeline::pipeline_kind(pipeline)?;
    // CtcConfig::validate names the CTC kinds when `kind` is another one.
    crate::pipeline::parse_config::<super::CharCtc>(table, pipeline)
}

/// The pre-training pipeline's effective config, in the form a cell of
/// that pipeline is keyed by.
fn pretrain_effective(pipeline: &Path) -> Result<String> {
    crate::pipeline::effective_json::<super::CharCtc>(&pretrain_config(pipeline)?, pipeline)
}

/// Follow `[init] pretrain` from `first` through each pre-training
/// pipeline's own `[init]`: an error naming the files when they come back
/// round to one already seen.
fn check_pretrain_chain(first: &Path) -> Result<()> {
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut next = Some(first.to_path_buf());
    while let Some(p) = next {
        let id = p.canonicalize().unwrap_or_else(|_| p.clone());
        if seen.contains(&id) {
            let chain: Vec<String> = seen.iter().map(|s| s.display().to_string()).collect();
            return Err(Error::Config(format!(
                "[init] pretrain = {}: pre-training pipelines name each other in a cycle ({} -> {})",
                first.display(),
                chain.join(" -> "),
                id.display()
            )));
        }
        seen.push(id);
        next = pretrain_config(&p)?.init.pretrain;
    }
    Ok(())
}

/// Where `[init]` starts training from, in a phrase; None from scratch.
pub fn describe(init: &InitConfig) -> Option<String> {
    if let Some(dir) = &init.model {
        return Some(format!("the model in {}", dir.display()));
    }
    let pretrain = init.pretrain.as_ref()?;
    Some(format!(
        "pre-trained with {} on {}",
        pretrain.display(),
        init.corpus
            .as_ref()
            .map_or_else(|| "(no corpus)".into(), |c| c.display().to_string())
    ))
}

/// What names the initial model in a cell's cache key: the weights, model
/// description and tokens of `model = DIR`, or the [`pretrain_key`];
/// `None` without `[init]`.
pub fn fingerprint(init: &InitConfig) -> Result<Option<String>> {
    if let Some(dir) = &init.model {
        let mut h = Sha256::new();
        h.update(b"crossover init model 1\n");
        for f in [WEIGHTS_FILE, MODEL_FILE, TOKENS_FILE] {
            sha_file(&mut h, &dir.join(f)).map_err(|e| {
                Error::Config(format!(
                    "[init] model = {}: not a trained CTC model folder ({e})",
                    dir.display()
                ))
            })?;
        }
        return Ok(Some(hex::encode(h.finalize())));
    }
    if init.pretrain.is_some() {
        return Ok(Some(format!("pretrain {}", pretrain_key(init)?)));
    }
    Ok(None)
}

/// The folder of the corpus `init.corpus` names, built from its recipe if needed.
pub(crate) fn pretrain_corpus_dir(init: &InitConfig, progress: bool) -> Result<PathBuf> {
    let corpus = init
        .corpus
        .as_ref()
        .expect("validated: corpus with pretrain");
    if corpus.extension().is_some_and(|e| e == "toml") {
        let r = crate::corpus::recipe::CorpusRecipe::load(corpus)?;
        let opts = crate::corpus::recipe::BuildOptions {
            progress,
            ..Default::default()
        };
        Ok(crate::corpus::recipe::build(&r, &opts)?.dir)
    } else {
        Ok(corpus.clone())
    }
}

/// Where the pre-trained model of `init` lives (or will): the pre-training
/// corpus's `pretrained` cache, one folder per key.
pub fn pretrained_dir(init: &InitConfig, corpus_dir: &Path) -> Result<PathBuf> {
    let key = pretrain_key(init)?;
    let stem = init
        .pretrain
        .as_ref()
        .and_then(|p| p.file_stem())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pretrain".into());
    Ok(crate::loader::corpus_cache_dir(corpus_dir, "pretrained")
        .join(format!("{stem}-{}", &key[..16])))
}

/// The finished pre-trained model folder of `init`. Pre-training happens
/// before any cell trains ([`super::pretrain::ensure_pretrained`], called by
/// the kind's `prepare` and `train`), so a missing one is an error here.
pub fn pretrained_model(init: &InitConfig, progress: bool) -> Result<PathBuf> {
    let corpus_dir = pretrain_corpus_dir(init, progress)?;
    let model_dir = pretrained_dir(init, &corpus_dir)?.join("model");
    if model_dir.join(DONE_FILE).exists() {
        Ok(model_dir)
    } else {
        Err(Error::Config(format!(
            "[init] pretrain = {}: no finished pre-trained model in {} (it is trained before the cells that start from it)",
            init.pretrain.as_ref().map_or(String::new(), |p| p.display().to_string()),
            model_dir.display()
        )))
    }
}

/// The pre-training record of a cached pre-trained model folder, if any.
pub fn pretrain_record(model_dir: &Path) -> Option<PretrainRecord> {
    let p = model_dir.parent()?.join(PRETRAIN_RECORD);
    serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()
}

/// Resolve `[init]` to its initial model (a given folder, or the finished
/// pre-training: [`super::pretrain::ensure_pretrained`] runs first);
/// `None` when the pipeline trains from scratch.
pub fn resolve(init: &InitConfig, progress: bool) -> Result<Option<InitialModel>> {
    let Some(fp) = fingerprint(init)? else {
        return Ok(None);
    };
    let dir = match &init.model {
        Some(d) => d.clone(),
        None => pretrained_model(init, progress)?,
    };
    let saved = SavedModel::read(&dir)?;
    let kind = super::token_kind(&saved.summary.kind);
    let (tokens, aux_tokens) = saved.token_sets(&dir, kind)?;
    let description = match (&init.model, pretrain_record(&dir)) {
        (Some(d), _) => format!("{} model {}", saved.summary.kind, d.display()),
        (None, Some(r)) => format!(
            "{} pre-trained on {} ({:.3} h, {} utterances, seed {}; {} epochs, {} updates, {}, best dev error {}, {:.0} s wall)",
            r.pipeline.display(),
            r.corpus.display(),
            r.hours,
            r.utterances,
            r.seed,
            r.epochs,
            r.updates,
            r.stop_reason,
            r.best_dev_error
                .map_or("n/a".into(), |e| format!("{:.1}%", 100.0 * e)),
            r.wall_seconds
        ),
        (None, None) => format!("pre-trained model {}", dir.display()),
    };
    Ok(Some(InitialModel {
        dir,
        model_cfg: saved.model,
        tokens,
        aux_tokens,
        aux: saved.aux,
        description,
        fingerprint: fp,
    }))
}

/// Copy the initial model's weights into `vs` (a network built with the
/// initial model's architecture). Output layers (`out`, `aux_out`) are
/// copied from the initial model's head with the same token list, if it has
/// one; every other variable must match by name and shape. Returns the
/// variables left at their random initialisation.
pub fn copy_weights(
    vs: &nn::VarStore,
    init: &InitialModel,
    tokens: &TokenSet,
    aux_tokens: Option<&TokenSet>,
) -> Result<Vec<String>> {
    let wpath = init.dir.join(WEIGHTS_FILE);
    let src: HashMap<String, Tensor> = Tensor::load_multi(&wpath)
        .map_err(|source| Error::Torch {
            context: format!("loading initial weights {}", wpath.display()),
            source,
        })?
        .into_iter()
        .collect();
    // Which source head feeds each destination head.
    let head_source = |dst: Option<&TokenSet>| -> Option<&'static str> {
        let dst = dst?;
        if init.tokens.symbols == dst.symbols {
            Some("out.")
        } else if init
            .aux_tokens
            .as_ref()
            .is_some_and(|a| a.symbols == dst.symbols)
        {
            Some("aux_out.")
        } else {
            None
        }
    };
    let heads = [
        ("out.", head_source(Some(tokens))),
        ("aux_out.", head_source(aux_tokens)),
    ];
    let mut fresh = Vec::new();
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    tch::no_grad(|| -> Result<()> {
        for (name, mut t) in vars {
            let src_name = match heads.iter().find(|(p, _)| name.starts_with(p)) {
                Some((p, Some(from))) => format!("{from}{}", &name[p.len()..]),
                Some((_, None)) => {
                    fresh.push(name);
                    continue;
                }
                None => name.clone(),
            };
            match src.get(&src_name) {
                Some(s) if s.size() == t.size() => {
                    t.copy_(s);
                }
                other => {
                    return Err(Error::Invalid(format!(
                        "initial model {}: variable {name} {} (the network takes the initial model's architecture, so this model folder does not match its model.json)",
                        init.dir.display(),
                        match other {
                            Some(s) => format!("has shape {:?}, expected {:?}", s.size(), t.size()),
                            None => "is missing".into(),
                        }
                    )));
                }
            }
        }
        Ok(())
    })?;
    Ok(fresh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretraining_pipelines_that_name_each_other_are_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            dir.path().join("a.toml"),
            dir.path().join("b.toml"),
            dir.path().join("c.toml"),
        );
        let corpus = dir.path().join("corpus");
        std::fs::create_dir_all(&corpus).unwrap();
        std::fs::write(corpus.join(crate::corpus::MANIFEST_FILE), "id\n").unwrap();
        let pipeline = |pretrain: &Path| {
            format!(
                "kind = \"char-ctc\"\n[init]\npretrain = {:?}\ncorpus = {:?}\n",
                pretrain.display().to_string(),
                corpus.display().to_string()
            )
        };
        std::fs::write(&a, pipeline(&b)).unwrap();
        std::fs::write(&b, pipeline(&a)).unwrap();
        std::fs::write(&c, "kind = \"char-ctc\"\n").unwrap();
        let init_of = |p: &Path| InitConfig {
            pretrain: Some(p.to_path_buf()),
            corpus: Some(corpus.clone()),
            ..Default::default()
        };
        let e = pretrain_key(&init_of(&a)).unwrap_err().to_string();
        assert!(
            e.contains("cycle") && e.contains("a.toml") && e.contains("b.toml"),
            "{e}"
        );
        // A chain that ends (c.toml trains from scratch) has a key.
        std::fs::write(&b, pipeline(&c)).unwrap();
        let k = pretrain_key(&init_of(&a)).unwrap();
        assert_eq!(k, pretrain_key(&init_of(&a)).unwrap(), "the key is stable");
        assert_ne!(
            k,
            pretrain_key(&init_of(&b)).unwrap(),
            "each link is keyed apart"
        );
    }
}
