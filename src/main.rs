//! `crossover`: with how many hours of training audio does an end-to-end
//! network overtake a hand-designed recognition pipeline?
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

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
    /// Corpora: build from a recipe (corpora/*.toml), import (fsdd, textdir, librispeech, kaldi), export to Kaldi, nested subsets, stats.
    Corpus(cli::corpus::Args),
    /// The main job: train every pipeline on nested subsets, score, find the crossover, write the report.
    Sweep(cli::sweep::Args),
    /// Re-render results.csv, plots and report.md of a sweep folder without retraining.
    Report(cli::report::Args),
    /// Train a recogniser (pipeline config `kind` picks which) on a corpus.
    Train(cli::train::Args),
    /// Transcribe a corpus split with a trained model into a Kaldi text file.
    Decode(cli::decode::Args),
    /// Force-align a corpus split with a classical model (word and phone CTMs).
    Align(cli::align::Args),
    /// Benchmarks: `bench ctc` times CTC training steps (peer: scripts/bench_ctc_pytorch.py).
    Bench(cli::bench::Args),
}

fn main() {
    // Die quietly when stdout closes early (`crossover score ... | head -1`),
    // as Unix tools do, instead of panicking on a broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default SIGPIPE action before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // The recogniser kinds come from the registry's one table, so `train
    // --help` lists whatever is registered.
    let kinds: String = crossover::registry::KINDS
        .iter()
        .map(|k| format!("  {:<10} {}\n", k.name, k.about))
        .collect();
    let command = Cli::command().mut_subcommand("train", |c| {
        c.after_help(format!(
            "Recogniser kinds (a pipeline file's `kind = \"...\"`):\n{kinds}"
        ))
    });
    let cli = Cli::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit());
    let result = match cli.command {
        Command::Features(a) => cli::features::run(a),
        Command::Score(a) => cli::score::run(a),
        Command::Corpus(a) => cli::corpus::run(a),
        Command::Sweep(a) => cli::sweep::run(a),
        Command::Report(a) => cli::report::run(a),
        Command::Train(a) => cli::train::run(a),
        Command::Decode(a) => cli::decode::run(a),
        Command::Align(a) => cli::align::run(a),
        Command::Bench(a) => cli::bench::run(a),
    };
    if let Err(e) = result {
        eprintln!("crossover: error: {e:#}");
        std::process::exit(1);
    }
}
