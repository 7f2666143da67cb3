//! Corpora: the manifest every recogniser reads, importers, the synthetic
//! corpus generator, corpus recipes (`corpora/*.toml`) and nested training
//! subsets.
pub mod fsdd;
pub mod import;
pub mod kaldi_dir;
pub mod librispeech;
pub mod manifest;
pub mod recipe;
pub mod speakers;
pub mod stats;
pub mod subset;
pub mod synth;
pub mod textdir;
pub use manifest::{Corpus, Split, Utterance, MANIFEST_FILE};

/// A pronunciation lexicon the corpus ships (CMUdict format), copied into
/// the corpus folder by a recipe's `lexicon`; pipelines read it with
/// `[lexicon] corpus_lexicon = true`, and it is part of every cell's key.
pub const CORPUS_LEXICON_FILE: &str = "lexicon.txt";
pub use recipe::{build_or_reuse, CorpusRecipe};
pub use stats::{stats, CorpusStats};
pub use subset::{subset, NestedSubset, Subset};
