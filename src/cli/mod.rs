//! One module per subcommand, each with its own `Args` and `run` (xsv style).
pub mod corpus_synth;
pub mod features;
pub mod score;
pub mod corpus;
pub mod report;
pub mod sweep;
pub mod align;
pub mod decode;
pub mod train;
pub mod bench;
