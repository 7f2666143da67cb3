//! `crossover`: with how many hours of training audio does an end-to-end
//! network overtake a hand-designed recognition pipeline?
use clap::{Parser, Subcommand};

mod cli;

#[derive(Parser)]
#[command(name = "crossover", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compute Kaldi-compatible MFCC or log-mel filterbank features (Kaldi text archive on stdout).
    Features(cli::features::Args),
    /// Score hypotheses against references (WER/CER/SER, Kaldi and sclite alignments, bootstrap CIs).
    Score(cli::score::Args),
    /// Benchmarks: `bench ctc` times CTC training steps (peer: scripts/bench_ctc_pytorch.py).
    Bench(cli::bench::Args),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Features(a) => cli::features::run(a),
        Command::Score(a) => cli::score::run(a),
        Command::Bench(a) => cli::bench::run(a),
    };
    if let Err(e) = result {
        eprintln!("crossover: error: {e:#}");
        std::process::exit(1);
    }
}
