//! One module per subcommand, each with its own `Args` and `run` (xsv style).
pub mod align;
pub mod decode;
pub mod features;
pub mod score;
pub mod train;
pub mod corpus;
