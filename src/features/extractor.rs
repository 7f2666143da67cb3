//! [`FeatureExtractor`]: Kaldi's MFCC and fbank computation, planned once and
//! run many times. It owns the real-to-complex FFT plan, the window, the
//! sparse mel filterbank and the (liftered) DCT matrix; `compute` allocates
//! its scratch buffers once per call and none per frame, and takes `&self`, so
//! one extractor serves many rayon threads at once.
//!
//! Per frame, exactly as Kaldi's `ProcessWindow` + `MfccComputer::Compute`:
//! (dither) -> remove DC offset -> raw log energy -> pre-emphasis
//! (`x[i] -= c*x[i-1]`, `x[0] -= c*x[0]`) -> window -> zero-pad to 512 ->
//! power spectrum -> mel bins (triangles in the mel domain,
//! `mel = 1127 ln(1 + f/700)`, FFT bins 0..N/2-1) -> log with a floor at f32
//! epsilon -> DCT-II (Kaldi's `ComputeDctMatrix` scaling) -> lifter -> log
//! energy replaces C0.
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use realfft::{RealFftPlanner, RealToComplex};

use super::config::{FeatureConfig, FeatureKind, WindowType, DELTA_ORDER, DELTA_WINDOW};
use crate::error::{Error, Result};
use crate::matrix::Matrix;

/// Kaldi floors energies and mel energies at `std::numeric_limits<float>::epsilon()`.
const EPS: f32 = f32::EPSILON;

/// Kaldi's mel scale.
pub fn mel_scale(freq: f64) -> f64 {
    1127.0 * (1.0 + freq / 700.0).ln()
}

/// Triangular mel filters stored sparsely: bin `b` covers FFT bins
/// `start[b] .. start[b] + len(b)` with weights `weights[offset[b]..offset[b+1]]`.
#[derive(Debug, Clone)]
pub struct MelBanks {
    start: Vec<usize>,
    offset: Vec<usize>,
    weights: Vec<f32>,
}

impl MelBanks {
    /// Build Kaldi's mel banks for `num_bins` bins over `low..high` Hz and an FFT of `padded` points.
    pub fn new(num_bins: usize, sample_frequency: f64, padded: usize, low: f64, high: f64) -> Self {
        let num_fft_bins = padded / 2; // Kaldi never uses the Nyquist bin
        let fft_bin_width = sample_frequency / padded as f64;
        let (mel_low, mel_high) = (mel_scale(low), mel_scale(high));
        let delta = (mel_high - mel_low) / (num_bins + 1) as f64;
        let mut start = Vec::with_capacity(num_bins);
        let mut offset = vec![0];
        let mut weights = Vec::new();
        for bin in 0..num_bins {
            let left = mel_low + bin as f64 * delta;
            let center = mel_low + (bin + 1) as f64 * delta;
            let right = mel_low + (bin + 2) as f64 * delta;
            let mut first = None;
            for i in 0..num_fft_bins {
                let mel = mel_scale(fft_bin_width * i as f64);
                if mel > left && mel < right {
                    let w = if mel <= center {
                        (mel - left) / (center - left)
                    } else {
                        (right - mel) / (right - center)
                    };
                    first.get_or_insert(i);
                    weights.push(w as f32);
                }
            }
            // A bin too narrow to hold any FFT bin stays empty (Kaldi errors; we allow it and it floors to log eps).
            start.push(first.unwrap_or(0));
            offset.push(weights.len());
        }
        MelBanks {
            start,
            offset,
            weights,
        }
    }

    pub fn num_bins(&self) -> usize {
        self.start.len()
    }

    /// Weights of bin `b` and the FFT bin they start at.
    pub fn bin(&self, b: usize) -> (usize, &[f32]) {
        (
            self.start[b],
            &self.weights[self.offset[b]..self.offset[b + 1]],
        )
    }

    /// `out[b] = sum_i w_b[i] * spectrum[start_b + i]`.
    #[inline]
    pub fn apply(&self, spectrum: &[f32], out: &mut [f32]) {
        for (b, o) in out.iter_mut().enumerate() {
            let (s, w) = self.bin(b);
            *o = dot(w, &spectrum[s..s + w.len()]);
        }
    }
}

/// Kaldi's `ComputeDctMatrix` for an `n x n` DCT-II, first `k` rows, row-major.
pub fn dct_matrix(k: usize, n: usize) -> Vec<f32> {
    let mut m = vec![0f32; k * n];
    for r in 0..k {
        let norm = if r == 0 {
            (1.0 / n as f64).sqrt()
        } else {
            (2.0 / n as f64).sqrt()
        };
        for c in 0..n {
            m[r * n + c] = (norm
                * (std::f64::consts::PI / n as f64 * (c as f64 + 0.5) * r as f64).cos())
                as f32;
        }
    }
    m
}

/// Kaldi's `ComputeLifterCoeffs`: `1 + Q/2 sin(pi i / Q)`.
pub fn lifter_coeffs(num_ceps: usize, q: f64) -> Vec<f32> {
    (0..num_ceps)
        .map(|i| (1.0 + 0.5 * q * (std::f64::consts::PI * i as f64 / q).sin()) as f32)
        .collect()
}

/// Kaldi's `FeatureWindowFunction`.
pub fn window_function(kind: WindowType, len: usize) -> Vec<f32> {
    let a = 2.0 * std::f64::consts::PI / (len as f64 - 1.0);
    (0..len)
        .map(|i| {
            let c = (a * i as f64).cos();
            (match kind {
                WindowType::Povey => (0.5 - 0.5 * c).powf(0.85),
                WindowType::Hanning => 0.5 - 0.5 * c,
                WindowType::Hamming => 0.54 - 0.46 * c,
                WindowType::Rectangular => 1.0,
            }) as f32
        })
        .collect()
}

/// Dot product with eight independent accumulators, so the compiler can vectorise it.
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; 8];
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for j in 0..8 {
            acc[j] += x[j] * y[j];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        s += x * y;
    }
    s
}

#[inline]
fn sum(a: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let mut ch = a.chunks_exact(8);
    for x in &mut ch {
        for j in 0..8 {
            acc[j] += x[j];
        }
    }
    acc.iter().sum::<f32>() + ch.remainder().iter().sum::<f32>()
}

/// Number of frames Kaldi's `NumFrames` gives for `n` samples.
pub fn num_frames(n: usize, window: usize, shift: usize, snip_edges: bool) -> usize {
    if snip_edges {
        if n < window {
            0
        } else {
            1 + (n - window) / shift
        }
    } else {
        (n + shift / 2) / shift
    }
}

/// First sample of frame `f` (Kaldi's `FirstSampleOfFrame`); negative before the signal start.
pub fn first_sample_of_frame(f: usize, window: usize, shift: usize, snip_edges: bool) -> i64 {
    let s = (f * shift) as i64;
    if snip_edges {
        s
    } else {
        s + (shift / 2) as i64 - (window / 2) as i64
    }
}

/// Copy frame `f` into `out` (length = window size), reflecting at the edges as Kaldi's `ExtractWindow` does.
fn extract_window(samples: &[f32], f: usize, cfg: (usize, usize, bool), out: &mut [f32]) {
    let (window, shift, snip) = cfg;
    let start = first_sample_of_frame(f, window, shift, snip);
    let n = samples.len() as i64;
    if start >= 0 && start + window as i64 <= n {
        out.copy_from_slice(&samples[start as usize..start as usize + window]);
    } else {
        for (s, o) in out.iter_mut().enumerate() {
            let mut i = start + s as i64;
            while i < 0 || i >= n {
                i = if i < 0 { -i - 1 } else { 2 * n - 1 - i };
            }
            *o = samples[i as usize];
        }
    }
}

/// A planned MFCC / fbank extractor. `Send + Sync`: share one across threads.
pub struct FeatureExtractor {
    cfg: FeatureConfig,
    frame_len: usize,
    frame_shift: usize,
    padded: usize,
    /// f64 FFT: an f32 FFT's rounding noise (~5e-8 of the frame's peak
    /// amplitude in every bin) dominates bands with almost no energy, e.g.
    /// 4-8 kHz of audio upsampled from 8 kHz, where it moves log-mel values by
    /// up to ~0.2. kaldi-native-fbank 1.23 has exactly that noise; we would
    /// rather be right (see tests/golden/features/README.md).
    fft: Arc<dyn RealToComplex<f64>>,
    window: Vec<f32>,
    mel: MelBanks,
    /// num_ceps x num_bins DCT with the lifter folded into its rows (MFCC only).
    dct_liftered: Vec<f32>,
    log_energy_floor: Option<f32>,
}

impl std::fmt::Debug for FeatureExtractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeatureExtractor")
            .field("cfg", &self.cfg)
            .field("fft_len", &self.padded)
            .finish()
    }
}

impl FeatureExtractor {
    pub fn new(cfg: &FeatureConfig) -> Result<Self> {
        cfg.validate()?;
        let frame_len = cfg.window_size();
        let frame_shift = cfg.window_shift();
        let padded = cfg.padded_window_size();
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(padded);
        let (low, high) = cfg.mel_range();
        let bins = cfg.mel_bins();
        let mel = MelBanks::new(
            bins,
            cfg.sample_frequency as f64,
            padded,
            low as f64,
            high as f64,
        );
        let dct_liftered = if cfg.kind == FeatureKind::Mfcc {
            let mut d = dct_matrix(cfg.num_ceps, bins);
            if cfg.cepstral_lifter != 0.0 {
                let l = lifter_coeffs(cfg.num_ceps, cfg.cepstral_lifter as f64);
                for (r, lr) in l.iter().enumerate() {
                    d[r * bins..(r + 1) * bins]
                        .iter_mut()
                        .for_each(|x| *x *= lr);
                }
            }
            d
        } else {
            Vec::new()
        };
        Ok(FeatureExtractor {
            cfg: cfg.clone(),
            frame_len,
            frame_shift,
            padded,
            fft,
            window: window_function(cfg.window_type, frame_len),
            mel,
            dct_liftered,
            log_energy_floor: (cfg.energy_floor > 0.0).then(|| cfg.energy_floor.ln()),
        })
    }

    pub fn config(&self) -> &FeatureConfig {
        &self.cfg
    }

    /// Static feature dimension (before deltas).
    pub fn dim(&self) -> usize {
        self.cfg.dim()
    }

    /// Dimension after deltas, if the config asks for them.
    pub fn out_dim(&self) -> usize {
        self.cfg.out_dim()
    }

    /// Frames this extractor produces for `n_samples` samples.
    pub fn num_frames(&self, n_samples: usize) -> usize {
        num_frames(
            n_samples,
            self.frame_len,
            self.frame_shift,
            self.cfg.snip_edges,
        )
    }

    /// Static features (no deltas, no CMVN) of `samples`, which are at
    /// `sample_frequency` on the 16-bit integer scale. Errors on non-finite
    /// samples, a signal shorter than one frame, or non-finite output.
    pub fn compute(&self, samples: &[f32]) -> Result<Matrix> {
        if let Some(i) = samples.iter().position(|x| !x.is_finite()) {
            return Err(Error::Invalid(format!(
                "sample {i} is {} (audio must be finite)",
                samples[i]
            )));
        }
        let n_frames = self.num_frames(samples.len());
        if n_frames == 0 {
            return Err(Error::Invalid(format!(
                "audio is {} samples ({:.1} ms), shorter than one {} ms analysis frame ({} samples)",
                samples.len(),
                1000.0 * samples.len() as f64 / self.cfg.sample_frequency as f64,
                self.cfg.frame_length_ms,
                self.frame_len
            )));
        }
        let cfg = &self.cfg;
        let mfcc = cfg.kind == FeatureKind::Mfcc;
        let dim = self.dim();
        let bins = self.mel.num_bins();
        let mut out = Matrix::zeros(n_frames, dim);
        // Per-call scratch, reused by every frame.
        let mut raw = vec![0f32; self.frame_len];
        let mut windowed = vec![0f32; self.frame_len];
        let mut frame = vec![0f64; self.padded];
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0f32; self.padded / 2 + 1];
        let mut mel = vec![0f32; bins];
        let mut rng =
            (cfg.dither != 0.0).then(|| rand_chacha::ChaCha8Rng::seed_from_u64(cfg.dither_seed));
        let want_raw_energy = mfcc && cfg.use_energy && cfg.raw_energy;
        let want_windowed_energy = mfcc && cfg.use_energy && !cfg.raw_energy;
        let c = cfg.preemph_coeff;

        for f in 0..n_frames {
            extract_window(
                samples,
                f,
                (self.frame_len, self.frame_shift, cfg.snip_edges),
                &mut raw,
            );
            if let Some(rng) = rng.as_mut() {
                for x in raw.iter_mut() {
                    // Box-Muller, as Kaldi's RandGauss.
                    let u1: f32 = 1.0 - rng.gen::<f32>();
                    let u2: f32 = rng.gen::<f32>();
                    *x += cfg.dither
                        * (-2.0 * u1.ln()).sqrt()
                        * (2.0 * std::f32::consts::PI * u2).cos();
                }
            }
            if cfg.remove_dc_offset {
                let mean = sum(&raw) / self.frame_len as f32;
                raw.iter_mut().for_each(|x| *x -= mean);
            }
            let mut log_energy = 0.0;
            if want_raw_energy {
                log_energy = dot(&raw, &raw).max(EPS).ln();
            }
            // Pre-emphasis (x[0] -= c x[0], x[i] -= c x[i-1]) and window in one pass, into the FFT buffer.
            windowed[0] = (raw[0] - c * raw[0]) * self.window[0];
            for i in 1..self.frame_len {
                windowed[i] = (raw[i] - c * raw[i - 1]) * self.window[i];
            }
            if want_windowed_energy {
                log_energy = dot(&windowed, &windowed).max(EPS).ln();
            }
            let (head, tail) = frame.split_at_mut(self.frame_len);
            head.iter_mut()
                .zip(&windowed)
                .for_each(|(d, s)| *d = *s as f64);
            tail.fill(0.0);
            self.fft
                .process_with_scratch(&mut frame, &mut spectrum, &mut scratch)
                .map_err(|e| Error::Invalid(format!("FFT failed: {e}")))?;
            for (p, s) in power.iter_mut().zip(&spectrum) {
                *p = (s.re * s.re + s.im * s.im) as f32;
            }
            if !mfcc && !cfg.use_power {
                power.iter_mut().for_each(|p| *p = p.sqrt());
            }
            self.mel.apply(&power, &mut mel);
            let row = out.row_mut(f);
            if mfcc {
                mel.iter_mut().for_each(|m| *m = m.max(EPS).ln());
                for (k, r) in row.iter_mut().enumerate() {
                    *r = dot(&self.dct_liftered[k * bins..(k + 1) * bins], &mel);
                }
                if cfg.use_energy {
                    if let Some(floor) = self.log_energy_floor {
                        log_energy = log_energy.max(floor);
                    }
                    row[0] = log_energy;
                }
            } else if cfg.use_log_fbank {
                for (r, m) in row.iter_mut().zip(&mel) {
                    *r = m.max(EPS).ln();
                }
            } else {
                row.copy_from_slice(&mel);
            }
        }
        if let Some(i) = out.data.iter().position(|x| !x.is_finite()) {
            return Err(Error::Invalid(format!(
                "non-finite feature at frame {} coefficient {}",
                i / dim,
                i % dim
            )));
        }
        Ok(out)
    }

    /// Static features followed by deltas if the config asks for them (no CMVN).
    pub fn compute_with_deltas(&self, samples: &[f32]) -> Result<Matrix> {
        let m = self.compute(samples)?;
        Ok(if self.cfg.deltas {
            super::deltas::add_deltas(&m, DELTA_ORDER, DELTA_WINDOW)
        } else {
            m
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Slow, literal transcription of Kaldi's code in f64: naive DFT, dense
    /// mel filters computed per frame, backwards in-place pre-emphasis, DCT
    /// then lifter.
    fn reference(samples: &[f32], cfg: &FeatureConfig) -> Vec<Vec<f64>> {
        let (wl, ws, pad) = (
            cfg.window_size(),
            cfg.window_shift(),
            cfg.padded_window_size(),
        );
        let nf = num_frames(samples.len(), wl, ws, cfg.snip_edges);
        let bins = cfg.mel_bins();
        let (low, high) = cfg.mel_range();
        let pi = std::f64::consts::PI;
        let mut out = Vec::new();
        for f in 0..nf {
            let start = first_sample_of_frame(f, wl, ws, cfg.snip_edges);
            let n = samples.len() as i64;
            let mut w: Vec<f64> = (0..wl as i64)
                .map(|s| {
                    let mut i = start + s;
                    while i < 0 || i >= n {
                        i = if i < 0 { -i - 1 } else { 2 * n - 1 - i };
                    }
                    samples[i as usize] as f64
                })
                .collect();
            if cfg.remove_dc_offset {
                let mean = w.iter().sum::<f64>() / wl as f64;
                w.iter_mut().for_each(|x| *x -= mean);
            }
            let raw_e = w
                .iter()
                .map(|x| x * x)
                .sum::<f64>()
                .max(f32::EPSILON as f64)
                .ln();
            let c = cfg.preemph_coeff as f64;
            for i in (1..wl).rev() {
                w[i] -= c * w[i - 1];
            }
            w[0] -= c * w[0];
            for (i, x) in w.iter_mut().enumerate() {
                let h = 0.5 - 0.5 * (2.0 * pi * i as f64 / (wl as f64 - 1.0)).cos();
                *x *= match cfg.window_type {
                    WindowType::Povey => h.powf(0.85),
                    WindowType::Hanning => h,
                    WindowType::Hamming => {
                        0.54 - 0.46 * (2.0 * pi * i as f64 / (wl as f64 - 1.0)).cos()
                    }
                    WindowType::Rectangular => 1.0,
                };
            }
            let win_e = w
                .iter()
                .map(|x| x * x)
                .sum::<f64>()
                .max(f32::EPSILON as f64)
                .ln();
            w.resize(pad, 0.0);
            let power: Vec<f64> = (0..=pad / 2)
                .map(|k| {
                    let (mut re, mut im) = (0.0, 0.0);
                    for (t, x) in w.iter().enumerate() {
                        let ang = -2.0 * pi * (k * t) as f64 / pad as f64;
                        re += x * ang.cos();
                        im += x * ang.sin();
                    }
                    let p = re * re + im * im;
                    if cfg.kind == FeatureKind::Fbank && !cfg.use_power {
                        p.sqrt()
                    } else {
                        p
                    }
                })
                .collect();
            let ml = 1127.0 * (1.0 + low as f64 / 700.0).ln();
            let mh = 1127.0 * (1.0 + high as f64 / 700.0).ln();
            let d = (mh - ml) / (bins + 1) as f64;
            let mel: Vec<f64> = (0..bins)
                .map(|b| {
                    let (l, ce, r) = (
                        ml + b as f64 * d,
                        ml + (b + 1) as f64 * d,
                        ml + (b + 2) as f64 * d,
                    );
                    let mut e = 0.0;
                    for (i, p) in power.iter().enumerate().take(pad / 2) {
                        let m = 1127.0
                            * (1.0 + cfg.sample_frequency as f64 / pad as f64 * i as f64 / 700.0)
                                .ln();
                        if m > l && m < r {
                            e += p * if m <= ce {
                                (m - l) / (ce - l)
                            } else {
                                (r - m) / (r - ce)
                            };
                        }
                    }
                    e
                })
                .collect();
            if cfg.kind == FeatureKind::Fbank {
                out.push(
                    mel.iter()
                        .map(|e| e.max(f32::EPSILON as f64).ln())
                        .collect(),
                );
                continue;
            }
            let logmel: Vec<f64> = mel
                .iter()
                .map(|e| e.max(f32::EPSILON as f64).ln())
                .collect();
            let q = cfg.cepstral_lifter as f64;
            let mut ceps: Vec<f64> = (0..cfg.num_ceps)
                .map(|k| {
                    let norm = if k == 0 {
                        (1.0 / bins as f64).sqrt()
                    } else {
                        (2.0 / bins as f64).sqrt()
                    };
                    let v: f64 = (0..bins)
                        .map(|j| {
                            norm * (pi / bins as f64 * (j as f64 + 0.5) * k as f64).cos()
                                * logmel[j]
                        })
                        .sum();
                    if q != 0.0 {
                        v * (1.0 + 0.5 * q * (pi * k as f64 / q).sin())
                    } else {
                        v
                    }
                })
                .collect();
            if cfg.use_energy {
                ceps[0] = if cfg.raw_energy { raw_e } else { win_e };
            }
            out.push(ceps);
        }
        out
    }

    /// A deterministic test signal: two chirping tones plus noise, 16-bit scale.
    pub(crate) fn test_signal(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|i| {
                let t = i as f32 / 16000.0;
                3000.0 * (2.0 * std::f32::consts::PI * (300.0 + 800.0 * t) * t).sin()
                    + 1500.0 * (2.0 * std::f32::consts::PI * 2300.0 * t).sin()
                    + 200.0 * (rng.gen::<f32>() - 0.5)
                    + 40.0
            })
            .collect()
    }

    fn max_diff(a: &Matrix, r: &[Vec<f64>]) -> f64 {
        assert_eq!(a.rows, r.len(), "frame count");
        let mut m = 0f64;
        for (i, row) in r.iter().enumerate() {
            assert_eq!(a.cols, row.len());
            for (x, y) in a.row(i).iter().zip(row) {
                m = m.max((*x as f64 - y).abs());
            }
        }
        m
    }

    #[test]
    fn mfcc_matches_slow_reference() {
        let x = test_signal(4000, 1);
        for cfg in [
            FeatureConfig::mfcc(),
            FeatureConfig {
                snip_edges: false,
                window_type: WindowType::Hamming,
                ..FeatureConfig::mfcc()
            },
            FeatureConfig {
                raw_energy: false,
                cepstral_lifter: 0.0,
                num_mel_bins: Some(30),
                ..FeatureConfig::mfcc()
            },
        ] {
            let got = FeatureExtractor::new(&cfg).unwrap().compute(&x).unwrap();
            assert_eq!(got.cols, 13);
            let d = max_diff(&got, &reference(&x, &cfg));
            assert!(d < 2e-3, "max |diff| {d} vs reference for {cfg:?}");
        }
    }

    #[test]
    fn fbank_matches_slow_reference() {
        let x = test_signal(3000, 2);
        for cfg in [
            FeatureConfig::fbank(80),
            FeatureConfig {
                use_power: false,
                window_type: WindowType::Hanning,
                ..FeatureConfig::fbank(40)
            },
            FeatureConfig {
                round_to_power_of_two: false,
                snip_edges: false,
                ..FeatureConfig::fbank(23)
            },
        ] {
            let got = FeatureExtractor::new(&cfg).unwrap().compute(&x).unwrap();
            assert_eq!(got.cols, cfg.mel_bins());
            let d = max_diff(&got, &reference(&x, &cfg));
            assert!(d < 2e-3, "max |diff| {d} vs reference for {cfg:?}");
        }
    }

    #[test]
    fn frame_counts_follow_kaldi() {
        assert_eq!(num_frames(399, 400, 160, true), 0);
        assert_eq!(num_frames(400, 400, 160, true), 1);
        assert_eq!(num_frames(16000, 400, 160, true), 98);
        assert_eq!(num_frames(16000, 400, 160, false), 100);
        assert_eq!(num_frames(79, 400, 160, false), 0);
        let e = FeatureExtractor::new(&FeatureConfig::mfcc()).unwrap();
        let m = e.compute(&test_signal(16000, 3)).unwrap();
        assert_eq!((m.rows, m.cols), (98, 13));
    }

    #[test]
    fn too_short_and_non_finite_inputs_are_errors() {
        let e = FeatureExtractor::new(&FeatureConfig::mfcc()).unwrap();
        let err = e.compute(&[1.0; 399]).unwrap_err().to_string();
        assert!(err.contains("shorter than one 25 ms"), "{err}");
        let mut x = test_signal(1000, 4);
        x[500] = f32::NAN;
        assert!(e
            .compute(&x)
            .unwrap_err()
            .to_string()
            .contains("sample 500"));
    }

    #[test]
    fn silence_is_floored_not_nan() {
        let e = FeatureExtractor::new(&FeatureConfig::mfcc()).unwrap();
        let m = e.compute(&[0.0; 1600]).unwrap();
        assert!(m.is_finite());
        assert!((m.row(0)[0] - f32::EPSILON.ln()).abs() < 1e-6);
    }

    #[test]
    fn dither_is_seeded() {
        let x = test_signal(3200, 5);
        let cfg = FeatureConfig {
            dither: 1.0,
            dither_seed: 7,
            ..FeatureConfig::mfcc()
        };
        let a = FeatureExtractor::new(&cfg).unwrap().compute(&x).unwrap();
        let b = FeatureExtractor::new(&cfg).unwrap().compute(&x).unwrap();
        assert_eq!(a, b);
        let c = FeatureExtractor::new(&FeatureConfig {
            dither_seed: 8,
            ..cfg
        })
        .unwrap()
        .compute(&x)
        .unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn extractor_is_send_sync_and_thread_safe() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<FeatureExtractor>();
        let e = FeatureExtractor::new(&FeatureConfig::mfcc()).unwrap();
        let x = test_signal(8000, 6);
        let one = e.compute(&x).unwrap();
        use rayon::prelude::*;
        let many: Vec<Matrix> = (0..8)
            .into_par_iter()
            .map(|_| e.compute(&x).unwrap())
            .collect();
        assert!(many.iter().all(|m| *m == one));
    }

    #[test]
    fn kaldi_tables() {
        // ComputeDctMatrix rows are orthonormal; lifter(0) = 1; povey window is 0 at the ends.
        let d = dct_matrix(23, 23);
        for r in 0..23 {
            let n: f32 = d[r * 23..(r + 1) * 23].iter().map(|x| x * x).sum();
            assert!((n - 1.0).abs() < 1e-5);
        }
        let l = lifter_coeffs(13, 22.0);
        assert_eq!(l[0], 1.0);
        assert!((l[11] - (1.0 + 11.0 * (std::f64::consts::PI / 2.0).sin() as f32)).abs() < 1e-5);
        let w = window_function(WindowType::Povey, 400);
        assert_eq!(w[0], 0.0);
        assert!(w[200] > 0.99);
        let mb = MelBanks::new(23, 16000.0, 512, 20.0, 8000.0);
        assert_eq!(mb.num_bins(), 23);
        assert!((0..23).all(|b| !mb.bin(b).1.is_empty()));
    }
}
