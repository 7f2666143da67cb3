//! `crossover features`: Kaldi-compatible MFCC / fbank features of audio
//! files, written to stdout as a Kaldi text archive keyed by file stem.
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};
use rayon::prelude::*;

use crossover::features::{self, CmvnMode, FeatureConfig, FeatureExtractor, FeatureKind};
use crossover::kaldi_io;

/// Files decoded and computed together before their entries are written.
const CHUNK: usize = 64;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum KindArg {
    /// 13 MFCCs (energy as C0) from 23 mel bins.
    Mfcc,
    /// Log mel filterbank energies (80 bins unless --num-mel-bins).
    Fbank,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum CmvnArg {
    /// No normalisation.
    None,
    /// Subtract each utterance's own mean (Kaldi apply-cmvn, means only).
    Utt,
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Defaults are Kaldi's (compute-mfcc-feats / compute-fbank-feats) except dither, which is 0.\n\
Example: crossover features --kind mfcc --deltas a.flac b.wav > feats.ark"
)]
pub struct Args {
    /// Feature type [default: from --config, else mfcc].
    #[arg(long, value_enum)]
    pub kind: Option<KindArg>,
    /// TOML file of FeatureConfig fields (Kaldi option names with underscores,
    /// e.g. `frame_shift_ms = 10`); only non-default values are needed.
    /// Command-line flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Append first- and second-order deltas (Kaldi add-deltas, order 2, window 2).
    #[arg(long)]
    pub deltas: bool,
    /// Cepstral mean normalisation per utterance [default: from --config, else none].
    #[arg(long, value_enum)]
    pub cmvn: Option<CmvnArg>,
    /// Number of triangular mel bins [default: 23 for mfcc, 80 for fbank].
    #[arg(long, value_name = "N")]
    pub num_mel_bins: Option<usize>,
    /// Debug: also write the 16 kHz samples features are computed from to
    /// DIR/<stem>.f32 (raw little-endian f32, 16-bit scale), for reference tools.
    #[arg(long, value_name = "DIR")]
    pub dump_samples: Option<PathBuf>,
    /// Audio files (WAV or FLAC, any rate; mixed to mono and resampled). The archive key is the file stem.
    #[arg(required = true, value_name = "AUDIO")]
    pub audio: Vec<PathBuf>,
}

/// The effective config: file, then flags.
pub fn config_from_args(a: &Args) -> anyhow::Result<FeatureConfig> {
    let mut cfg = match &a.config {
        Some(p) => FeatureConfig::from_toml_file(p)?,
        None => FeatureConfig::default(),
    };
    match a.kind {
        Some(KindArg::Mfcc) => cfg.kind = FeatureKind::Mfcc,
        Some(KindArg::Fbank) => cfg.kind = FeatureKind::Fbank,
        None => {}
    }
    if a.deltas {
        cfg.deltas = true;
    }
    match a.cmvn {
        Some(CmvnArg::None) => cfg.cmvn = CmvnMode::None,
        Some(CmvnArg::Utt) => cfg.cmvn = CmvnMode::Utterance,
        None => {}
    }
    if cfg.cmvn == CmvnMode::Speaker {
        bail!("cmvn = \"spk\" needs speaker labels, which `crossover features` does not have; use \"utt\" or \"none\"");
    }
    if let Some(n) = a.num_mel_bins {
        cfg.num_mel_bins = Some(n);
    }
    cfg.validate()?;
    Ok(cfg)
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let cfg = config_from_args(&a)?;
    let ex = FeatureExtractor::new(&cfg)?;
    let mut keys: HashMap<String, &PathBuf> = HashMap::new();
    for p in &a.audio {
        let key = p
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|s| !s.is_empty() && !s.chars().any(char::is_whitespace))
            .with_context(|| format!("{}: file stem is not usable as a Kaldi archive key (empty, non-UTF-8 or has spaces)", p.display()))?;
        if let Some(prev) = keys.insert(key.to_string(), p) {
            bail!(
                "{} and {} would both have archive key {key:?}",
                prev.display(),
                p.display()
            );
        }
    }
    if let Some(d) = &a.dump_samples {
        std::fs::create_dir_all(d)
            .with_context(|| format!("{}: cannot create sample dump folder", d.display()))?;
    }
    // Files are processed in parallel chunks and written in argument order; a chunk
    // is written only when all its files succeeded, so memory stays bounded and a
    // failing file leaves at most the earlier chunks on stdout (exit status 1).
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    for chunk in a.audio.chunks(CHUNK) {
        let results: anyhow::Result<Vec<(String, crossover::matrix::Matrix)>> = chunk
            .par_iter()
            .map(|p| {
                let key = p.file_stem().unwrap().to_string_lossy().into_owned();
                let samples = features::read_samples(p, &cfg)?;
                if let Some(d) = &a.dump_samples {
                    let out = d.join(format!("{key}.f32"));
                    let bytes: Vec<u8> = samples.iter().flat_map(|x| x.to_le_bytes()).collect();
                    std::fs::write(&out, bytes)
                        .with_context(|| format!("{}: cannot write samples", out.display()))?;
                }
                let m = features::compute_samples(&ex, &samples)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
                Ok((key, m))
            })
            .collect();
        for (key, m) in results? {
            kaldi_io::write_text_matrix(&mut w, &key, &m).context("writing archive to stdout")?;
        }
    }
    w.flush().context("writing archive to stdout")?;
    Ok(())
}
