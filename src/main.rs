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
    /// Train a recogniser (pipeline config `kind` picks which) on a corpus.
    Train(cli::train::Args),
    /// Transcribe a corpus split with a trained model into a Kaldi text file.
    Decode(cli::decode::Args),
    /// Force-align a corpus split with a classical model (word and phone CTMs).
    Align(cli::align::Args),
    /// Corpora: import (fsdd, textdir, librispeech, kaldi), export to Kaldi, nested subsets, stats.
    Corpus(cli::corpus::Args),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Features(a) => cli::features::run(a),
        Command::Score(a) => cli::score::run(a),
        Command::Train(a) => cli::train::run(a),
        Command::Decode(a) => cli::decode::run(a),
        Command::Align(a) => cli::align::run(a),
        Command::Corpus(a) => cli::corpus::run(a),
    };
    if let Err(e) = result {
        eprintln!("crossover: error: {e:#}");
        std::process::exit(1);
    }
}
