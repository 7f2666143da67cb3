//! `crossover decode`: transcribe a corpus split with a trained model into a
//! Kaldi `text` file (`utt-id word word ...`).
use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};
use crossover::corpus::{Corpus, Split};
use crossover::loader::Loader;
use crossover::overlay::Overlay;

#[derive(clap::Args)]
pub struct Args {
    /// Model folder written by `crossover train`.
    #[arg(long)]
    pub model: PathBuf,
    /// Corpus folder (with manifest.tsv).
    #[arg(long)]
    pub corpus: PathBuf,
    /// Split to decode.
    #[arg(long, value_enum, default_value_t = Split::Test)]
    pub split: Split,
    /// Hypothesis file to write (Kaldi text format).
    #[arg(long)]
    pub out: PathBuf,
    /// Decoding threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Override a setting of the model's pipeline config for this decoding,
    /// `SECTION.KEY=VALUE` (repeatable), through the same overlay as `train
    /// --set`. Classical: `decode.beam`, `decode.max_active`,
    /// `decode.lm_weight` and `decode.word_penalty` (these override the values
    /// tuned on dev), `decode.silence_prob`. CTC: `decode.method=beam`,
    /// `decode.beam`, `decode.fusion_lm=LM.arpa` (char-ctc shallow-fusion
    /// ablation, with `decode.fusion_weight`, `decode.fusion_bonus`);
    /// phone-ctc words: `word_decode.lm_weight`, `word_decode.beam`, ...
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Decode with this language folder's lexicon and word LM instead of the
    /// model's own (a folder holding `lexicon.txt` and `lm.arpa`, e.g. another
    /// classical model's folder), as Kaldi decodes one acoustic model with any
    /// `data/lang`. Classical and phone-ctc models.
    #[arg(long, value_name = "DIR")]
    pub lang: Option<PathBuf>,
    /// Also write phone recognition output (Kaldi text format, phones of the
    /// model's phone set) to this file: CTC phone strings for phone-ctc, the
    /// phone loop with the phone bigram for classical (a second search, not
    /// counted in the real-time factor). char-ctc has none.
    #[arg(long, value_name = "FILE")]
    pub phones_out: Option<PathBuf>,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let overlay = Overlay::parse(&a.set)?;
    let mut model = crossover::registry::load(&a.model, &overlay)?;
    if let Some(lang) = &a.lang {
        model.set_language(lang)?;
    }
    let corpus = Corpus::load(&a.corpus)?;
    let utts = corpus.split(a.split);
    if utts.is_empty() {
        bail!("{}: no utterances in split {}", a.corpus.display(), a.split);
    }
    let loader = Loader::new(&corpus);
    let t0 = std::time::Instant::now();
    let hyps = model.transcribe(&loader, &utts, a.threads)?;
    let secs = t0.elapsed().as_secs_f64();
    let audio: f64 = utts.iter().map(|u| u.duration).sum();
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(&a.out).with_context(|| format!("creating {}", a.out.display()))?,
    );
    for h in &hyps {
        if h.words.is_empty() {
            writeln!(f, "{}", h.id)?;
        } else {
            writeln!(f, "{} {}", h.id, h.words)?;
        }
    }
    f.flush()?;
    if let Some(path) = &a.phones_out {
        let phones: Vec<String> = match hyps.iter().map(|h| h.phones.clone()).collect() {
            Some(p) => p,
            None => model
                .transcribe_phones(&loader, &utts, a.threads)?
                .with_context(|| {
                    format!(
                        "--phones-out: this {} model has no phone output",
                        model.summary().kind
                    )
                })?,
        };
        let mut out = String::new();
        for (h, p) in hyps.iter().zip(&phones) {
            out.push_str(&h.id);
            if !p.is_empty() {
                out.push(' ');
                out.push_str(p);
            }
            out.push('\n');
        }
        std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!(
        "decoded {} utterances ({:.1} s of audio) in {:.1} s with {} thread(s): real-time factor {:.4} per thread",
        hyps.len(),
        audio,
        secs,
        a.threads,
        secs * a.threads as f64 / audio.max(1e-9)
    );
    Ok(())
}
