//! `crossover align`: forced alignment of a corpus split with a trained
//! classical model, written as word and phone CTM files
//! (`utt-id 1 start duration token`).
use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};
use crossover::corpus::{Corpus, Split};
use crossover::loader::Loader;
use crossover::overlay::Overlay;
use crossover::pipeline::Segment;

#[derive(clap::Args)]
pub struct Args {
    /// Model folder (a classical model: the kinds that can force-align).
    #[arg(long)]
    pub model: PathBuf,
    /// Corpus folder (with manifest.tsv).
    #[arg(long)]
    pub corpus: PathBuf,
    /// Split to align.
    #[arg(long, value_enum, default_value_t = Split::Train)]
    pub split: Split,
    /// Word CTM to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Phone CTM to write (default: the word CTM's path with `.phones` added).
    #[arg(long)]
    pub phone_out: Option<PathBuf>,
    /// Threads.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Align with this language folder's lexicon (`lexicon.txt`, e.g.
    /// another classical model's folder) instead of the model's own.
    #[arg(long, value_name = "DIR")]
    pub lang: Option<PathBuf>,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let mut model = crossover::registry::load(&a.model, &Overlay::default())?;
    if let Some(lang) = &a.lang {
        model.set_language(lang)?;
    }
    let corpus = Corpus::load(&a.corpus)?;
    let loader = Loader::new(&corpus);
    let utts = corpus.split(a.split);
    if utts.is_empty() {
        bail!("{}: no utterances in split {}", a.corpus.display(), a.split);
    }
    let Some(results) = model.force_align(&loader, &utts, a.threads)? else {
        bail!(
            "{}: a {} model has no frame-level phone model to align with; use a classical model",
            a.model.display(),
            model.summary().kind
        );
    };
    let phone_out = a.phone_out.clone().unwrap_or_else(|| {
        let mut p = a.out.clone().into_os_string();
        p.push(".phones");
        PathBuf::from(p)
    });
    let mut wf = std::io::BufWriter::new(
        std::fs::File::create(&a.out).with_context(|| format!("creating {}", a.out.display()))?,
    );
    let mut pf = std::io::BufWriter::new(
        std::fs::File::create(&phone_out)
            .with_context(|| format!("creating {}", phone_out.display()))?,
    );
    let mut failed = 0;
    for (u, r) in utts.iter().zip(results) {
        match r {
            Ok(ali) => {
                write_ctm(&mut wf, &u.id, &ali.words)?;
                write_ctm(&mut pf, &u.id, &ali.phones)?;
            }
            Err(e) => {
                failed += 1;
                eprintln!("crossover align: {e}");
            }
        }
    }
    eprintln!(
        "aligned {}/{} utterances; words in {}, phones in {}",
        utts.len() - failed,
        utts.len(),
        a.out.display(),
        phone_out.display()
    );
    Ok(())
}

/// CTM lines: `utt-id 1 start duration token`, times in seconds.
fn write_ctm(w: &mut impl Write, id: &str, segments: &[Segment]) -> std::io::Result<()> {
    for s in segments {
        writeln!(w, "{id} 1 {:.2} {:.2} {}", s.start, s.duration, s.token)?;
    }
    Ok(())
}
