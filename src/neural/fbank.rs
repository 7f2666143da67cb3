//! Log-mel filterbank input for the CTC models, with utterance CMVN.
//!
//! TEMPORARY: a compact Kaldi-style fbank (25 ms Povey window, 10 ms shift,
//! pre-emphasis 0.97, DC removal, no dither, power spectrum, triangular mel
//! filters 20 Hz..Nyquist, natural log) so the neural recognisers can train
//! before the `features` module lands. It is meant to be replaced by
//! `crate::features::compute_file` with `FeatureConfig { kind: Fbank, .. }`;
//! the rest of `crate::neural` only calls [`utterance_features`].
use std::path::Path;
use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

use crate::audio::{self, ChannelMode, TARGET_RATE};
use crate::error::{Error, Result};
use crate::matrix::Matrix;

const FRAME_LEN: usize = 400;
const FRAME_SHIFT: usize = 160;
const FFT_LEN: usize = 512;

/// A log-mel extractor: owns its FFT plan, window and mel matrix (plan once, process many).
pub struct Fbank {
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    /// Per mel bin: (first FFT bin, weights).
    mel: Vec<(usize, Vec<f32>)>,
}

fn mel_scale(f: f64) -> f64 {
    1127.0 * (1.0 + f / 700.0).ln()
}

impl Fbank {
    pub fn new(num_mel_bins: usize) -> Self {
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(FFT_LEN);
        let window = (0..FRAME_LEN)
            .map(|i| {
                let a = 2.0 * std::f64::consts::PI * i as f64 / (FRAME_LEN - 1) as f64;
                (0.5 - 0.5 * a.cos()).powf(0.85) as f32
            })
            .collect();
        let (lo, hi) = (mel_scale(20.0), mel_scale(TARGET_RATE as f64 / 2.0));
        let delta = (hi - lo) / (num_mel_bins + 1) as f64;
        let mel = (0..num_mel_bins)
            .map(|m| {
                let (l, c, r) = (lo + m as f64 * delta, lo + (m + 1) as f64 * delta, lo + (m + 2) as f64 * delta);
                let mut first = usize::MAX;
                let mut w = Vec::new();
                for k in 0..FFT_LEN / 2 {
                    let f = mel_scale(k as f64 * TARGET_RATE as f64 / FFT_LEN as f64);
                    let v = if f > l && f < r { if f <= c { (f - l) / (c - l) } else { (r - f) / (r - c) } } else { 0.0 };
                    if v > 0.0 {
                        if first == usize::MAX {
                            first = k;
                        }
                        w.push(v as f32);
                    } else if first != usize::MAX {
                        break;
                    }
                }
                (first.min(FFT_LEN / 2), w)
            })
            .collect();
        Fbank { fft, window, mel }
    }

    pub fn num_bins(&self) -> usize {
        self.mel.len()
    }

    /// Log-mel frames of 16 kHz samples (Kaldi's 16-bit scale); `snip_edges` framing.
    pub fn compute(&self, samples: &[f32]) -> Matrix {
        let n = if samples.len() < FRAME_LEN { 0 } else { 1 + (samples.len() - FRAME_LEN) / FRAME_SHIFT };
        let mut out = Matrix::zeros(n, self.mel.len());
        let mut buf = self.fft.make_input_vec();
        let mut spec = self.fft.make_output_vec();
        let mut power = vec![0f32; FFT_LEN / 2 + 1];
        for t in 0..n {
            let frame = &samples[t * FRAME_SHIFT..t * FRAME_SHIFT + FRAME_LEN];
            let mean = frame.iter().sum::<f32>() / FRAME_LEN as f32;
            for (b, x) in buf.iter_mut().zip(frame) {
                *b = x - mean;
            }
            for i in (1..FRAME_LEN).rev() {
                buf[i] -= 0.97 * buf[i - 1];
            }
            buf[0] -= 0.97 * buf[0];
            for (b, w) in buf.iter_mut().zip(&self.window) {
                *b *= w;
            }
            buf[FRAME_LEN..].iter_mut().for_each(|x| *x = 0.0);
            self.fft.process(&mut buf, &mut spec).expect("fft sizes fixed at construction");
            for (p, c) in power.iter_mut().zip(&spec) {
                *p = c.norm_sqr();
            }
            for (o, (first, w)) in out.row_mut(t).iter_mut().zip(&self.mel) {
                let e: f32 = w.iter().zip(&power[*first..]).map(|(a, b)| a * b).sum();
                *o = e.max(f32::EPSILON).ln();
            }
        }
        out
    }
}

/// Per-utterance mean and variance normalisation, in place.
pub fn utterance_cmvn(m: &mut Matrix) {
    if m.rows == 0 {
        return;
    }
    for c in 0..m.cols {
        let mean = (0..m.rows).map(|r| m.data[r * m.cols + c] as f64).sum::<f64>() / m.rows as f64;
        let var = (0..m.rows).map(|r| (m.data[r * m.cols + c] as f64 - mean).powi(2)).sum::<f64>() / m.rows as f64;
        let inv = 1.0 / var.sqrt().max(1e-5);
        for r in 0..m.rows {
            let x = &mut m.data[r * m.cols + c];
            *x = ((*x as f64 - mean) * inv) as f32;
        }
    }
}

/// The network input for one audio file: log-mel fbank with utterance CMVN.
/// Errors name the file (unreadable audio, too short for one frame, NaN).
pub fn utterance_features(fbank: &Fbank, path: &Path) -> Result<Matrix> {
    let audio = audio::read_16k(path, ChannelMode::Mix)?;
    let mut m = fbank.compute(&audio.samples);
    if m.rows == 0 {
        return Err(Error::audio(path, format!("too short for one 25 ms frame ({} samples at 16 kHz)", audio.samples.len())));
    }
    utterance_cmvn(&mut m);
    if !m.is_finite() {
        return Err(Error::audio(path, "features contain NaN or infinite values"));
    }
    Ok(m)
}
