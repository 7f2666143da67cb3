//! Corpora: the manifest every recogniser reads, importers, the synthetic
//! corpus generator and nested training subsets.
pub mod manifest;
pub use manifest::{Corpus, Split, Utterance, MANIFEST_FILE};
pub mod synth;
