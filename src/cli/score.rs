//! `crossover score`: WER/CER/PER and SER of a hypothesis `text` file against
//! a reference `text` file, with Kaldi's summary lines, sclite-style
//! alignments, bootstrap intervals and paired comparison.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use crossover::score::{self, AlignMode, Level, ScoreReport};

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum LevelArg {
    /// Words (WER).
    Word,
    /// Characters, spaces between words included (CER, as jiwer.cer counts).
    Char,
    /// Whitespace-separated phone symbols (PER).
    Phone,
}

#[derive(clap::Args)]
#[command(after_long_help = "\
Both files are Kaldi `text` files: one utterance a line, `uttid word word ...`; \
an id with nothing after it is an empty transcript; blank lines and duplicate ids are errors.

A reference utterance with no line in the hypothesis file counts as an empty hypothesis: \
all its units are deletions (the count is reported). A hypothesis id with no reference \
is an error.

Output (stdout): Kaldi's `%WER 12.34 [ 56 / 454, 7 ins, 8 del, 41 sub ]` line (%CER / %PER \
for the other levels), `%SER 12.34 [ 3 / 100 ]`, and a `Scored N sentences` line; then the \
bootstrap interval and the paired comparison when asked for.")]
pub struct Args {
    /// Reference transcripts (Kaldi `text` file).
    #[arg(long = "ref", value_name = "REF")]
    pub reference: PathBuf,
    /// Hypothesis transcripts (Kaldi `text` file). A reference id with no line here counts as
    /// an empty hypothesis (all deletions); a hypothesis id with no reference is an error.
    #[arg(long = "hyp", value_name = "HYP")]
    pub hypothesis: PathBuf,
    /// Unit of scoring.
    #[arg(long, value_enum, default_value = "word")]
    pub level: LevelArg,
    /// Align with NIST sclite's weights (substitution 4, insertion 3, deletion 3) instead of
    /// unit-cost Levenshtein (Kaldi compute-wer, jiwer); total errors can be higher.
    #[arg(long)]
    pub sclite: bool,
    /// Write each utterance's alignment (sclite `pra`-like: REF/HYP/Eval rows, *** for gaps,
    /// S/D/I markers) to FILE.
    #[arg(long, value_name = "FILE")]
    pub per_utt: Option<PathBuf>,
    /// Print a bootstrap confidence interval of the error rate from N replicates
    /// (resampling utterances, Bisani & Ney 2004).
    #[arg(long, value_name = "N")]
    pub bootstrap: Option<usize>,
    /// Coverage of the bootstrap intervals.
    #[arg(long, value_name = "LEVEL", default_value_t = 0.95)]
    pub confidence: f64,
    /// Seed of the bootstrap resampling (same seed, same interval).
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Second hypothesis file on the same references: score it too and report a paired
    /// bootstrap comparison (probability that HYP has a lower error rate than HYP2; uses
    /// --bootstrap replicates, 1000 if not given).
    #[arg(long, value_name = "HYP2")]
    pub compare: Option<PathBuf>,
    /// Score the text exactly as written. By default word and char level text is normalised
    /// first (lower case, punctuation removed, apostrophes inside words kept; see
    /// docs/SCORING.md); phone strings are only re-spaced.
    #[arg(long)]
    pub no_normalise: bool,
}

fn read(path: &Path, level: Level, normalise: bool) -> anyhow::Result<BTreeMap<String, String>> {
    let texts = score::read_kaldi_text(path)?;
    Ok(if normalise {
        score::normalise_texts(&texts, level)
    } else {
        texts
    })
}

fn score_file(
    refs: &BTreeMap<String, String>,
    hyp_path: &Path,
    a: &Args,
    level: Level,
    mode: AlignMode,
) -> anyhow::Result<ScoreReport> {
    let hyps = read(hyp_path, level, !a.no_normalise)?;
    score::score(refs, &hyps, level, mode).with_context(|| {
        format!(
            "scoring {} against {}",
            hyp_path.display(),
            a.reference.display()
        )
    })
}

fn print_report(r: &ScoreReport) {
    println!("{}", r.kaldi_line());
    println!("{}", r.ser_line());
    println!(
        "Scored {} sentences, {} not present in hyp.",
        r.utterances.len(),
        r.missing_hyps()
    );
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let level = match a.level {
        LevelArg::Word => Level::Word,
        LevelArg::Char => Level::Char,
        LevelArg::Phone => Level::Phone,
    };
    let mode = if a.sclite {
        AlignMode::Sclite
    } else {
        AlignMode::Levenshtein
    };
    if !(a.confidence > 0.0 && a.confidence < 1.0) {
        anyhow::bail!(
            "--confidence must be between 0 and 1 (exclusive), got {}",
            a.confidence
        );
    }
    if a.bootstrap == Some(0) {
        anyhow::bail!("--bootstrap needs at least 1 replicate");
    }
    let refs = read(&a.reference, level, !a.no_normalise)?;
    let report = score_file(&refs, &a.hypothesis, &a, level, mode)?;
    print_report(&report);

    if let Some(path) = &a.per_utt {
        std::fs::write(path, report.per_utt_text())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let label = level.label();
    let pct = |x: f64| 100.0 * x;
    if let Some(n) = a.bootstrap {
        let (lo, hi) = score::bootstrap_ci(&report.per_utt_errors(), n, a.seed, a.confidence);
        println!(
            "%{label} {:.0}% CI [ {:.2}, {:.2} ] (bootstrap over utterances, {n} replicates, seed {})",
            pct(a.confidence),
            pct(lo),
            pct(hi),
            a.seed
        );
    }
    if let Some(other) = &a.compare {
        let report_b = score_file(&refs, other, &a, level, mode)?;
        println!("{}: {}", other.display(), report_b.kaldi_line());
        println!("{}: {}", other.display(), report_b.ser_line());
        let n = a.bootstrap.unwrap_or(1000);
        let c = score::paired_bootstrap_ci(
            &report.per_utt_errors(),
            &report_b.per_utt_errors(),
            n,
            a.seed,
            a.confidence,
        );
        println!(
            "paired bootstrap ({n} replicates, seed {}): P({} better than {}) = {:.3}, P(reverse) = {:.3}",
            a.seed,
            a.hypothesis.display(),
            other.display(),
            c.p_a_better,
            c.p_b_better
        );
        println!(
            "%{label} difference (HYP - HYP2) {:.2}, {:.0}% CI [ {:.2}, {:.2} ]",
            pct(c.delta),
            pct(a.confidence),
            pct(c.delta_lo),
            pct(c.delta_hi)
        );
    }
    Ok(())
}
