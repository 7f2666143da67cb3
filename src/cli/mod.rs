//! One module per subcommand, each with its own `Args` and `run` (xsv style).
pub mod align;
pub mod bench;
pub mod corpus;
pub mod corpus_synth;
pub mod decode;
pub mod features;
pub mod report;
pub mod score;
pub mod sweep;
pub mod train;
