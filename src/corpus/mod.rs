//! Corpora: the manifest every recogniser reads, importers, the synthetic
//! corpus generator, corpus recipes (`corpora/*.toml`) and nested training
//! subsets.
pub mod fsdd;
pub mod import;
pub mod kaldi_dir;
pub mod librispeech;
pub mod manifest;
pub mod recipe;
pub mod stats;
pub mod subset;
pub mod synth;
pub mod textdir;
pub use manifest::{Corpus, Split, Utterance, MANIFEST_FILE};
pub use recipe::{build_or_reuse, CorpusRecipe};
pub use stats::{stats, CorpusStats};
pub use subset::{subset, NestedSubset, Subset};
