//! One module per subcommand, each with its own `Args` and `run` (xsv style).
pub mod features;
pub mod score;
pub mod bench;
