//! The one table of recogniser kinds, and the only place that names them
//! all (the factory apart from the interface, as in sherpa-onnx). A kind is
//! a module implementing [`crate::pipeline::RecogniserKind`] (its name, its config type with
//! a documented `Default`, train and load) plus one line in [`KINDS`]; the
//! sweep and the `train`/`decode`/`align` subcommands reach recognisers only
//! through the functions here and the [`Recogniser`] trait.
//!
//! Adding a recogniser is: one module, one line in [`KINDS`], one pipeline
//! file (`pipelines/NAME.toml` with `kind = "NAME"`).
use std::path::Path;

use crate::error::{Error, Result};
use crate::overlay::Overlay;
use crate::pipeline::{
    parse_config, pipeline_kind, KindTraits, Recogniser, RecogniserKind, RunSettings, TrainContext,
};

/// One row of the table: a kind's entry points, type-erased.
pub struct KindEntry {
    pub name: &'static str,
    pub about: &'static str,
    pub traits: KindTraits,
    initial_model: fn(toml::Table, &Path) -> Result<Option<String>>,
    effective: fn(toml::Table, &Path) -> Result<String>,
    train: fn(toml::Table, &Path, &TrainContext) -> Result<Box<dyn Recogniser>>,
    load: fn(&Path, &Overlay) -> Result<Box<dyn Recogniser>>,
    prepare: fn(toml::Table, &Path, &RunSettings) -> Result<Option<String>>,
    features: fn(toml::Table, &Path) -> Result<Vec<crate::features::FeatureConfig>>,
    describe: fn(toml::Table, &Path) -> Result<String>,
}

const fn entry<K: RecogniserKind>() -> KindEntry {
    KindEntry {
        name: K::NAME,
        about: K::ABOUT,
        traits: K::TRAITS,
        initial_model: initial_model_of::<K>,
        effective: effective_of::<K>,
        train: train_of::<K>,
        load: K::load,
        prepare: prepare_of::<K>,
        features: features_of::<K>,
        describe: describe_of::<K>,
    }
}

fn initial_model_of<K: RecogniserKind>(table: toml::Table, path: &Path) -> Result<Option<String>> {
    Ok(K::initial_model(&parse_config::<K>(table, path)?))
}

fn describe_of<K: RecogniserKind>(table: toml::Table, path: &Path) -> Result<String> {
    Ok(K::describe(&parse_config::<K>(table, path)?))
}

fn prepare_of<K: RecogniserKind>(
    table: toml::Table,
    path: &Path,
    run: &RunSettings,
) -> Result<Option<String>> {
    let cfg = parse_config::<K>(table, path)?;
    K::prepare(&cfg, run)
}

fn features_of<K: RecogniserKind>(
    table: toml::Table,
    path: &Path,
) -> Result<Vec<crate::features::FeatureConfig>> {
    Ok(K::feature_configs(&parse_config::<K>(table, path)?))
}

/// Every recogniser kind.
pub static KINDS: &[KindEntry] = &[
    entry::<crate::classical::Classical>(),
    entry::<crate::neural::PhoneCtc>(),
    entry::<crate::neural::CharCtc>(),
    entry::<crate::neural::MtlCtc>(),
];

/// Kinds registered only in unit tests (see `tests::a_new_kind_needs_only_a_module_and_a_line`).
#[cfg(test)]
static TEST_KINDS: &[KindEntry] = &[entry::<tests::EchoKind>()];
#[cfg(not(test))]
static TEST_KINDS: &[KindEntry] = &[];

fn all() -> impl Iterator<Item = &'static KindEntry> {
    KINDS.iter().chain(TEST_KINDS.iter())
}

/// "classical, phone-ctc, char-ctc": for messages.
pub fn kind_names() -> String {
    all().map(|k| k.name).collect::<Vec<_>>().join(", ")
}

pub fn lookup(kind: &str) -> Option<&'static KindEntry> {
    all().find(|k| k.name == kind)
}

fn effective_of<K: RecogniserKind>(table: toml::Table, path: &Path) -> Result<String> {
    let cfg = parse_config::<K>(table, path)?;
    crate::pipeline::effective_json::<K>(&cfg, path)
}

fn train_of<K: RecogniserKind>(
    table: toml::Table,
    path: &Path,
    ctx: &TrainContext,
) -> Result<Box<dyn Recogniser>> {
    let cfg = parse_config::<K>(table, path)?;
    K::train(&cfg, ctx)
}

/// A pipeline file with `overlay` applied, and the kind it names.
pub fn read_pipeline(path: &Path, overlay: &Overlay) -> Result<(&'static KindEntry, toml::Table)> {
    let (kind, mut table) = pipeline_kind(path)?;
    let entry = lookup(&kind).ok_or_else(|| {
        Error::parse(
            path,
            format!(
                "unknown pipeline kind {kind:?} (expected one of {})",
                kind_names()
            ),
        )
    })?;
    overlay
        .apply(&mut table)
        .map_err(|e| Error::parse(path, e.to_string()))?;
    Ok((entry, table))
}

/// The configuration a pipeline file means with `overlay`, every default
/// filled in, as JSON: the sweep's cache key, so that a changed default or
/// override (not only an edited file) redoes the cells it affects.
pub fn effective_config(pipeline: &Path, overlay: &Overlay) -> Result<String> {
    let (entry, table) = read_pipeline(pipeline, overlay)?;
    (entry.effective)(table, pipeline)
}

/// Do the work a pipeline shares across cells (pre-training an initial
/// model) before any cell trains, so that cells, and concurrent array
/// tasks, never race to do it; `Some(line)` says what was done.
pub fn prepare(pipeline: &Path, overlay: &Overlay, run: &RunSettings) -> Result<Option<String>> {
    let (entry, table) = read_pipeline(pipeline, overlay)?;
    (entry.prepare)(table, pipeline, run)
}

/// What a pipeline is, in a phrase (see [`RecogniserKind::describe`]).
pub fn describe(pipeline: &Path, overlay: &Overlay) -> Result<String> {
    let (entry, table) = read_pipeline(pipeline, overlay)?;
    (entry.describe)(table, pipeline)
}

/// A pipeline file read once into what the sweep, the report and the
/// executors need to know about it, all from its kind: nothing outside the
/// registry and the kind's own module tells kinds apart by name.
#[derive(Debug, Clone)]
pub struct PipelineInfo {
    /// The `kind = "..."` it names.
    pub kind: &'static str,
    pub traits: KindTraits,
    /// What it is, in a phrase ([`RecogniserKind::describe`]).
    pub description: String,
    /// Where its training starts when not from scratch
    /// ([`RecogniserKind::initial_model`]).
    pub initial_model: Option<String>,
}

pub fn info(pipeline: &Path, overlay: &Overlay) -> Result<PipelineInfo> {
    let (entry, table) = read_pipeline(pipeline, overlay)?;
    Ok(PipelineInfo {
        kind: entry.name,
        traits: entry.traits,
        description: (entry.describe)(table.clone(), pipeline)?,
        initial_model: (entry.initial_model)(table, pipeline)?,
    })
}

/// The loader features a pipeline's cells read (see
/// [`RecogniserKind::feature_configs`]).
pub fn feature_configs(
    pipeline: &Path,
    overlay: &Overlay,
) -> Result<Vec<crate::features::FeatureConfig>> {
    let (entry, table) = read_pipeline(pipeline, overlay)?;
    (entry.features)(table, pipeline)
}

/// Train the recogniser a pipeline config file (with `overlay`) describes.
pub fn train(
    pipeline: &Path,
    overlay: &Overlay,
    ctx: &TrainContext,
) -> Result<Box<dyn Recogniser>> {
    let (entry, table) = read_pipeline(pipeline, overlay)?;
    (entry.train)(table, pipeline, ctx)
}

/// Load a trained model folder; its `pipeline.toml` says which recogniser.
/// `overlay` overrides settings for decoding (`crossover decode --set`).
pub fn load(dir: &Path, overlay: &Overlay) -> Result<Box<dyn Recogniser>> {
    let cfg = dir.join("pipeline.toml");
    if !cfg.exists() {
        return Err(Error::parse(
            &cfg,
            "not a model folder (no pipeline.toml; train one with `crossover train`)",
        ));
    }
    let (entry, _) = read_pipeline(&cfg, &Overlay::default())?;
    (entry.load)(dir, overlay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::{Corpus, Split, Utterance};
    use crate::loader::Loader;
    use crate::pipeline::{model_config, ModelSummary, RunSettings, Transcript};

    /// A test-only recogniser registered exactly as the real ones are: it
    /// ignores the audio and answers every utterance with the most frequent
    /// training transcript (a no-audio floor).
    pub struct EchoKind;

    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    #[serde(default, deny_unknown_fields)]
    pub struct EchoConfig {
        pub kind: String,
        /// Words appended to every answer.
        pub suffix: String,
    }

    impl Default for EchoConfig {
        fn default() -> Self {
            EchoConfig {
                kind: "test-echo".into(),
                suffix: String::new(),
            }
        }
    }

    struct Echo {
        cfg: EchoConfig,
        answer: String,
    }

    impl Recogniser for Echo {
        fn summary(&self) -> ModelSummary {
            ModelSummary {
                kind: self.cfg.kind.clone(),
                ..Default::default()
            }
        }
        fn save(&self, dir: &Path) -> Result<()> {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            std::fs::write(
                dir.join("pipeline.toml"),
                toml::to_string(&self.cfg).unwrap(),
            )
            .map_err(|e| Error::io(dir, e))?;
            std::fs::write(dir.join("answer.txt"), &self.answer).map_err(|e| Error::io(dir, e))
        }
        fn transcribe(
            &self,
            _loader: &Loader,
            utts: &[&Utterance],
            _threads: usize,
        ) -> Result<Vec<Transcript>> {
            let words = format!("{} {}", self.answer, self.cfg.suffix)
                .trim()
                .to_string();
            Ok(utts
                .iter()
                .map(|u| Transcript {
                    id: u.id.clone(),
                    words: words.clone(),
                    phones: None,
                })
                .collect())
        }
    }

    impl RecogniserKind for EchoKind {
        const NAME: &'static str = "test-echo";
        const ABOUT: &'static str = "test only: the most frequent training transcript";
        const TRAITS: KindTraits = KindTraits::HAND_DESIGNED;
        type Config = EchoConfig;
        fn train(cfg: &EchoConfig, ctx: &TrainContext) -> Result<Box<dyn Recogniser>> {
            let mut counts = std::collections::BTreeMap::new();
            for u in &ctx.train {
                *counts.entry(u.norm_text.clone()).or_insert(0usize) += 1;
            }
            let answer = counts
                .into_iter()
                .max_by_key(|(_, n)| *n)
                .map(|(t, _)| t)
                .unwrap_or_default();
            Ok(Box::new(Echo {
                cfg: cfg.clone(),
                answer,
            }))
        }
        fn load(dir: &Path, overlay: &Overlay) -> Result<Box<dyn Recogniser>> {
            let cfg = model_config::<EchoKind>(dir, overlay)?;
            let p = dir.join("answer.txt");
            let answer = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
            Ok(Box::new(Echo { cfg, answer }))
        }
    }

    fn utt(id: &str, split: Split, text: &str) -> Utterance {
        Utterance {
            id: id.into(),
            audio: format!("{id}.wav").into(),
            speaker: "s".into(),
            split,
            duration: 1.0,
            text: text.into(),
            norm_text: text.into(),
            phonemes: String::new(),
            group: String::new(),
            augment: String::new(),
        }
    }

    #[test]
    fn every_ctc_kind_of_the_neural_table_is_registered_once() {
        for (name, _) in crate::neural::CTC_KINDS {
            let n = KINDS.iter().filter(|k| k.name == *name).count();
            assert_eq!(n, 1, "CTC kind {name}: {n} lines in KINDS");
        }
    }

    #[test]
    fn a_new_kind_needs_only_a_module_and_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let corpus = Corpus {
            root: dir.path().to_path_buf(),
            utterances: vec![
                utt("s-a", Split::Train, "yes"),
                utt("s-b", Split::Train, "no"),
                utt("s-c", Split::Train, "no"),
                utt("s-d", Split::Test, "no"),
            ],
        };
        let pipeline = dir.path().join("echo.toml");
        std::fs::write(&pipeline, "kind = \"test-echo\"\n").unwrap();
        let loader = Loader::new(&corpus);
        let model_dir = dir.path().join("model");
        let run = RunSettings {
            threads: 1,
            device: Default::default(),
            out_dir: model_dir.clone(),
            progress: false,
            shared_networks: None,
        };
        let (ctx, data) = TrainContext::for_subset(&loader, None, 1, false, run).unwrap();
        assert_eq!(data.utterances, 3);
        let set = Overlay::parse(&["suffix=please"]).unwrap();
        let model = train(&pipeline, &set, &ctx).unwrap();
        model.save(&model_dir).unwrap();
        let test = corpus.split(Split::Test);
        let loaded = load(&model_dir, &Overlay::default()).unwrap();
        let hyp = loaded.transcribe(&loader, &test, 1).unwrap();
        assert_eq!(
            hyp[0].words, "no please",
            "trained answer and the recorded --set"
        );
        // A decode-time override goes through the same mechanism.
        let louder = load(&model_dir, &Overlay::parse(&["suffix=now"]).unwrap()).unwrap();
        assert_eq!(
            louder.transcribe(&loader, &test, 1).unwrap()[0].words,
            "no now"
        );
        // ... and an unknown key is the config's own error, naming the file.
        let e = load(&model_dir, &Overlay::parse(&["sufix=x"]).unwrap())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("pipeline.toml") && e.contains("sufix"), "{e}");
        assert!(kind_names().contains("test-echo"));
    }

    #[test]
    fn every_shipped_pipeline_file_parses() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
        let mut files = vec![];
        let mut dirs = vec![root];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "toml") {
                    files.push(p);
                }
            }
        }
        assert!(files.len() >= 10, "{files:?}");
        for f in files {
            effective_config(&f, &Overlay::default())
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        }
    }

    #[test]
    fn effective_config_ignores_wording_and_sees_meaning() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let a = write("a.toml", "kind = \"classical\"\n");
        // A comment and a default stated explicitly mean the same pipeline.
        let b = write(
            "b.toml",
            "# the same\nkind = \"classical\"\n[decode]\nlm_weight = 10.0\n",
        );
        let c = write(
            "c.toml",
            "kind = \"classical\"\n[decode]\nlm_weight = 12.0\n",
        );
        let d = write("d.toml", "kind = \"char-ctc\"\n");
        let none = Overlay::default();
        let e = |p: &Path| effective_config(p, &none).unwrap();
        assert_eq!(e(&a), e(&b));
        assert_ne!(e(&a), e(&c));
        assert_ne!(e(&a), e(&d));
        // An override is part of the meaning.
        let set = Overlay::parse(&["decode.lm_weight=12.0"]).unwrap();
        assert_eq!(effective_config(&a, &set).unwrap(), e(&c));
        let bad = write("bad.toml", "kind = \"hmm\"\n");
        assert!(effective_config(&bad, &none)
            .unwrap_err()
            .to_string()
            .contains("bad.toml"));
    }
}
