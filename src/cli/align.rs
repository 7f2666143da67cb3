//! `crossover align`: forced alignment of a corpus split with a trained
//! classical model, written as word and phone CTM files
//! (`utt-id 1 start duration token`).
use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};
use crossover::classical::align::{align, transcript_units};
use crossover::classical::hmm::GmmScorer;
use crossover::classical::ClassicalModel;
use crossover::corpus::{Corpus, Split};
use crossover::lang::topology::PhoneTopology;
use crossover::loader::Loader;
use rayon::prelude::*;

#[derive(clap::Args)]
pub struct Args {
    /// Classical model folder.
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
    let mut model = ClassicalModel::load(&a.model)?;
    if let Some(lang) = &a.lang {
        model.use_language(lang)?;
    }
    let corpus = Corpus::load(&a.corpus)?;
    let loader = Loader::new(&corpus);
    let utts = corpus.split(a.split);
    if utts.is_empty() {
        bail!("{}: no utterances in split {}", a.corpus.display(), a.split);
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads.max(1))
        .build()?;
    let all_feats = pool.install(|| model.features(&loader, &utts))?;
    let results: Vec<anyhow::Result<(String, String)>> = pool.install(|| {
        utts.par_iter()
            .zip(all_feats.par_iter())
            .map(|(u, feats)| {
                let words: Vec<&str> = u.norm_text.split_whitespace().collect();
                let mut prons = Vec::new();
                for w in &words {
                    prons.push(model.lexicon.prons(w).with_context(|| {
                        format!(
                            "utterance {}: word {w:?} is not in the model's lexicon",
                            u.id
                        )
                    })?);
                }
                // All pronunciations are branches: the alignment picks one.
                let units = transcript_units(&model.am as &dyn PhoneTopology, &prons, true);
                let mut sc = GmmScorer::new(&model.am, feats);
                let ali = align(&units, &mut sc, model.config.mono.beam).with_context(|| {
                    format!("utterance {}: no alignment ({} frames)", u.id, feats.rows)
                })?;
                let (mut wc, mut pc) = (String::new(), String::new());
                for s in ali.unit_segments() {
                    let name = model.am.phones.name(units[s.index].phone);
                    pc.push_str(&format!(
                        "{} 1 {:.2} {:.2} {}\n",
                        u.id,
                        s.start as f64 * 0.01,
                        (s.end - s.start) as f64 * 0.01,
                        name
                    ));
                }
                for s in ali.word_segments(&units) {
                    wc.push_str(&format!(
                        "{} 1 {:.2} {:.2} {}\n",
                        u.id,
                        s.start as f64 * 0.01,
                        (s.end - s.start) as f64 * 0.01,
                        words[s.index]
                    ));
                }
                Ok((wc, pc))
            })
            .collect()
    });
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
    for r in results {
        match r {
            Ok((w, p)) => {
                wf.write_all(w.as_bytes())?;
                pf.write_all(p.as_bytes())?;
            }
            Err(e) => {
                failed += 1;
                eprintln!("crossover align: {e:#}");
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
