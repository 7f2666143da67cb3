//! `crossover decode`: transcribe a corpus split with a trained model into a
//! Kaldi `text` file (`utt-id word word ...`).
use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};
use crossover::corpus::{Corpus, Split};
use crossover::neural::config::DecodeMethod;

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
    /// Classical only: search beam (overrides the model's).
    #[arg(long)]
    pub beam: Option<f32>,
    /// Classical only: maximum active tokens per frame.
    #[arg(long)]
    pub max_active: Option<usize>,
    /// Classical only: LM weight (overrides the value tuned at train time).
    #[arg(long)]
    pub lm_weight: Option<f32>,
    /// Classical only: word penalty in LM log units.
    #[arg(long, allow_hyphen_values = true)]
    pub word_penalty: Option<f32>,
    /// Classical only: probability of silence after a word (Kaldi's
    /// --sil-prob; each word boundary costs ln p with silence, ln(1-p)
    /// without); 0 makes silence free.
    #[arg(long)]
    pub silence_prob: Option<f32>,
    /// CTC models only: token decoding, greedy or prefix beam search
    /// (default: the model's pipeline config, greedy unless it says otherwise).
    #[arg(long, value_enum)]
    pub method: Option<DecodeMethod>,
    /// CTC models only: prefix beam width (with --method beam).
    #[arg(long)]
    pub ctc_beam: Option<usize>,
    /// char-ctc only, an ablation: shallow fusion with this word n-gram LM
    /// (ARPA, e.g. the `lm.arpa` of a classical model trained on the same
    /// data); implies --method beam. The pure end-to-end system never uses it.
    #[arg(long)]
    pub fusion_lm: Option<PathBuf>,
    /// Weight of the fused LM's natural-log probabilities (0.3 was best of
    /// 0.3/0.6/1.0 on kathleen dev with a bigram; docs/NEURAL.md).
    #[arg(long, default_value_t = 0.3, requires = "fusion_lm")]
    pub fusion_weight: f32,
    /// Bonus per word with fusion (natural-log units), against short outputs.
    #[arg(long, default_value_t = 1.0, requires = "fusion_lm")]
    pub fusion_bonus: f32,
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let overrides = a.beam.is_some()
        || a.max_active.is_some()
        || a.lm_weight.is_some()
        || a.word_penalty.is_some()
        || a.silence_prob.is_some();
    let model: Box<dyn crossover::pipeline::Recogniser> = if overrides {
        let (kind, _) = crossover::pipeline::pipeline_kind(&a.model.join("pipeline.toml"))?;
        if kind != crossover::classical::KIND {
            bail!("--beam/--max-active/--lm-weight/--word-penalty/--silence-prob apply to classical models only (this one is {kind:?})");
        }
        let mut m = crossover::classical::ClassicalModel::load(&a.model)?;
        if let Some(v) = a.beam {
            m.decode.beam = v;
        }
        if let Some(v) = a.max_active {
            m.decode.max_active = v;
        }
        if let Some(v) = a.lm_weight {
            m.decode.lm_weight = v;
        }
        if let Some(v) = a.word_penalty {
            m.decode.word_penalty = v;
        }
        if let Some(v) = a.silence_prob {
            if !(0.0..1.0).contains(&v) {
                bail!("--silence-prob must be in [0, 1), got {v}");
            }
            m.decode.silence_prob = v;
        }
        if a.method.is_some() || a.ctc_beam.is_some() || a.fusion_lm.is_some() {
            bail!("--method/--ctc-beam/--fusion-lm apply to CTC models only");
        }
        Box::new(m)
    } else if a.method.is_some() || a.ctc_beam.is_some() || a.fusion_lm.is_some() {
        let (kind, _) = crossover::pipeline::pipeline_kind(&a.model.join("pipeline.toml"))?;
        if !crossover::neural::config::KINDS.contains(&kind.as_str()) {
            bail!(
                "--method/--ctc-beam/--fusion-lm apply to CTC models only (this one is {kind:?})"
            );
        }
        let mut m = crossover::neural::CtcModel::load(&a.model)?;
        let method = a.method.unwrap_or(if a.fusion_lm.is_some() {
            DecodeMethod::Beam
        } else {
            m.cfg.decode.method
        });
        m.set_decode(method, a.ctc_beam);
        if let Some(p) = &a.fusion_lm {
            m.set_fusion(crossover::neural::FusionSettings {
                lm: crossover::neural::fusion::ArpaWordLm::read(p)?,
                weight: a.fusion_weight,
                word_bonus: a.fusion_bonus,
            })?;
        }
        Box::new(m)
    } else {
        crossover::pipeline::load_model(&a.model)?
    };
    let corpus = Corpus::load(&a.corpus)?;
    let utts = corpus.split(a.split);
    if utts.is_empty() {
        bail!("{}: no utterances in split {}", a.corpus.display(), a.split);
    }
    let t0 = std::time::Instant::now();
    let hyps = model.transcribe(&corpus, &utts, a.threads)?;
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
