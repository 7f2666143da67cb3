//! Per-utterance signal augmentation, all draws from the utterance's own RNG:
//! speed perturbation (resampling, as Kaldi's 3-way speed perturbation does),
//! leading/trailing silence, reverberation with a synthetic exponentially
//! decaying impulse response, additive noise (white, pink, or babble made from
//! other synthetic utterances) at a drawn SNR, and a random gain. Every choice
//! is recorded as `key=value` pairs for the manifest's `augment` column.
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::audio::{resample, TARGET_RATE};

/// Augmentation knobs (part of [`super::SynthConfig`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AugmentConfig {
    /// Speed factor range (1.0 = unchanged; > 1 is faster and higher), drawn uniformly per utterance.
    pub speed: [f64; 2],
    /// Probability that an utterance gets additive noise.
    pub noise_prob: f64,
    /// SNR range in dB for additive noise, drawn uniformly.
    pub snr_db: [f64; 2],
    /// Relative weights of white, pink and babble noise.
    pub noise_mix: [f64; 3],
    /// Number of overlapping talkers in babble noise.
    pub babble_talkers: usize,
    /// Probability that an utterance is reverberated.
    pub reverb_prob: f64,
    /// RT60 range in seconds for the synthetic impulse response.
    pub rt60_s: [f64; 2],
    /// Gain range in dB applied last (before a limiter that prevents clipping).
    pub gain_db: [f64; 2],
    /// Range of silence added before and after the speech, seconds (each end drawn separately).
    pub silence_s: [f64; 2],
}

impl Default for AugmentConfig {
    fn default() -> Self {
        AugmentConfig {
            speed: [0.9, 1.1],
            noise_prob: 0.6,
            snr_db: [5.0, 30.0],
            noise_mix: [1.0, 1.0, 1.0],
            babble_talkers: 4,
            reverb_prob: 0.3,
            rt60_s: [0.15, 0.6],
            gain_db: [-10.0, 0.0],
            silence_s: [0.1, 0.4],
        }
    }
}

impl AugmentConfig {
    pub fn validate(&self) -> Result<(), String> {
        let range = |name: &str, r: [f64; 2], lo: f64, hi: f64| {
            if !(r[0].is_finite() && r[1].is_finite() && r[0] <= r[1] && r[0] >= lo && r[1] <= hi) {
                Err(format!(
                    "{name} = [{}, {}]: need {lo} <= min <= max <= {hi}",
                    r[0], r[1]
                ))
            } else {
                Ok(())
            }
        };
        range("speed", self.speed, 0.5, 2.0)?;
        range("snr_db", self.snr_db, -20.0, 100.0)?;
        range("rt60_s", self.rt60_s, 0.01, 3.0)?;
        range("gain_db", self.gain_db, -60.0, 20.0)?;
        range("silence_s", self.silence_s, 0.0, 10.0)?;
        for (name, p) in [
            ("noise_prob", self.noise_prob),
            ("reverb_prob", self.reverb_prob),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{name} = {p}: must be a probability in 0..1"));
            }
        }
        if self.noise_mix.iter().any(|w| w.is_nan() || *w < 0.0)
            || self.noise_mix.iter().sum::<f64>() <= 0.0
        {
            return Err("noise_mix: weights must be >= 0 and not all 0".into());
        }
        if self.babble_talkers == 0 {
            return Err("babble_talkers must be at least 1".into());
        }
        Ok(())
    }
}

/// Speech level every utterance is normalised to before gain: RMS of -20 dBFS.
const SPEECH_RMS: f32 = 3276.8;
/// Peak limit after gain (about -0.3 dBFS).
const PEAK_LIMIT: f32 = 31_500.0;

fn uniform<R: Rng>(rng: &mut R, r: [f64; 2]) -> f64 {
    if r[1] > r[0] {
        rng.gen_range(r[0]..r[1])
    } else {
        r[0]
    }
}

fn rms(x: &[f32]) -> f32 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|v| (*v as f64) * (*v as f64)).sum::<f64>() / x.len() as f64).sqrt() as f32
}

/// The augmented 16 kHz signal and what was done to it.
pub struct Augmented {
    pub samples: Vec<f32>,
    pub record: Vec<(String, String)>,
}

/// Apply the augmentation chain to synthesiser output at `rate` Hz.
/// `babble` is a pool of 16 kHz synthetic utterances (level-normalised).
pub fn augment<R: Rng>(
    raw: &[f32],
    rate: u32,
    cfg: &AugmentConfig,
    babble: &[Vec<f32>],
    rng: &mut R,
) -> Result<Augmented, String> {
    let mut record = Vec::new();
    // 1. Speed: play the samples at rate*f and resample to 16 kHz. The source rate
    // is rounded to a multiple of 50 Hz so the resampler's ratio stays small.
    let want = uniform(rng, cfg.speed);
    let from = ((rate as f64 * want / 50.0).round() as u32 * 50).max(50);
    let speed = from as f64 / rate as f64;
    record.push(("speed".into(), format!("{speed:.4}")));
    let speech = resample(raw, from, TARGET_RATE)?;
    // 2. Level-normalise the speech, then pad with silence.
    let level = rms(&speech);
    if level < 1.0 {
        return Err("the synthesiser produced silence".into());
    }
    let lead = (uniform(rng, cfg.silence_s) * TARGET_RATE as f64) as usize;
    let trail = (uniform(rng, cfg.silence_s) * TARGET_RATE as f64) as usize;
    record.push((
        "lead".into(),
        format!("{:.3}", lead as f64 / TARGET_RATE as f64),
    ));
    record.push((
        "trail".into(),
        format!("{:.3}", trail as f64 / TARGET_RATE as f64),
    ));
    let mut x = vec![0f32; lead + speech.len() + trail];
    let k = SPEECH_RMS / level;
    for (o, s) in x[lead..].iter_mut().zip(&speech) {
        *o = s * k;
    }
    // 3. Reverberation.
    if rng.gen_bool(cfg.reverb_prob) {
        let rt60 = uniform(rng, cfg.rt60_s);
        record.push(("rt60".into(), format!("{rt60:.3}")));
        let ir = impulse_response(rt60, rng);
        x = convolve_same(&x, &ir);
        // Keep the speech level comparable after reverberation.
        let r = rms(&x[lead..lead + speech.len()]);
        if r > 0.0 {
            let k = SPEECH_RMS / r;
            x.iter_mut().for_each(|v| *v *= k);
        }
    }
    // 4. Additive noise at a drawn SNR relative to the speech region's power.
    if rng.gen_bool(cfg.noise_prob) {
        let total: f64 = cfg.noise_mix.iter().sum();
        let mut u = rng.gen::<f64>() * total;
        let mut kind = 2;
        for (i, w) in cfg.noise_mix.iter().enumerate() {
            if u < *w {
                kind = i;
                break;
            }
            u -= w;
        }
        if kind == 2 && babble.is_empty() {
            kind = 1;
        }
        let snr = uniform(rng, cfg.snr_db);
        let noise = match kind {
            0 => white(x.len(), rng),
            1 => pink(x.len(), rng),
            _ => babble_noise(x.len(), babble, cfg.babble_talkers, rng),
        };
        let ps = rms(&x[lead..lead + speech.len()]) as f64;
        let pn = rms(&noise) as f64;
        if pn > 0.0 {
            let k = (ps / pn / 10f64.powf(snr / 20.0)) as f32;
            x.iter_mut().zip(&noise).for_each(|(v, n)| *v += n * k);
        }
        record.push(("noise".into(), ["white", "pink", "babble"][kind].into()));
        record.push(("snr".into(), format!("{snr:.1}")));
    }
    // 5. Gain, then a limiter so nothing clips.
    let mut gain_db = uniform(rng, cfg.gain_db);
    let peak = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    let g = 10f32.powf(gain_db as f32 / 20.0);
    if peak * g > PEAK_LIMIT {
        gain_db = 20.0 * (PEAK_LIMIT as f64 / peak as f64).log10();
    }
    let g = 10f32.powf(gain_db as f32 / 20.0);
    record.push(("gain".into(), format!("{gain_db:.1}")));
    // A little Gaussian dither (1 LSB RMS) so no frame is digital zero.
    for v in x.iter_mut() {
        let d = gauss(rng) as f32;
        *v = *v * g + d;
    }
    Ok(Augmented { samples: x, record })
}

/// A standard normal draw (Box-Muller; one value per call keeps the stream simple).
fn gauss<R: Rng>(rng: &mut R) -> f64 {
    let u1: f64 = 1.0 - rng.gen::<f64>();
    let u2: f64 = rng.gen::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn white<R: Rng>(n: usize, rng: &mut R) -> Vec<f32> {
    (0..n).map(|_| gauss(rng) as f32).collect()
}

/// Pink (1/f) noise: Paul Kellet's refined filter on white noise.
fn pink<R: Rng>(n: usize, rng: &mut R) -> Vec<f32> {
    let mut b = [0f32; 7];
    (0..n)
        .map(|_| {
            let w = gauss(rng) as f32;
            b[0] = 0.99886 * b[0] + w * 0.0555179;
            b[1] = 0.99332 * b[1] + w * 0.0750759;
            b[2] = 0.96900 * b[2] + w * 0.153_852;
            b[3] = 0.86650 * b[3] + w * 0.3104856;
            b[4] = 0.55000 * b[4] + w * 0.5329522;
            b[5] = -0.7616 * b[5] - w * 0.0168980;
            let y = b[0] + b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + w * 0.5362;
            b[6] = w * 0.115926;
            y
        })
        .collect()
}

/// Babble: several talkers from the pool, each a random utterance from a
/// random offset, looped end to end to cover `n` samples.
fn babble_noise<R: Rng>(n: usize, pool: &[Vec<f32>], talkers: usize, rng: &mut R) -> Vec<f32> {
    let mut out = vec![0f32; n];
    for _ in 0..talkers {
        let mut pos = 0;
        let mut src = &pool[rng.gen_range(0..pool.len())];
        let mut off = rng.gen_range(0..src.len());
        while pos < n {
            let take = (src.len() - off).min(n - pos);
            out[pos..pos + take]
                .iter_mut()
                .zip(&src[off..off + take])
                .for_each(|(o, s)| *o += s);
            pos += take;
            src = &pool[rng.gen_range(0..pool.len())];
            off = 0;
        }
    }
    out
}

/// A synthetic room impulse response: a direct path, then Gaussian noise under
/// an exponential envelope that decays by 60 dB in `rt60` seconds, starting
/// after a short pre-delay.
fn impulse_response<R: Rng>(rt60: f64, rng: &mut R) -> Vec<f32> {
    let fs = TARGET_RATE as f64;
    let len = (rt60 * fs) as usize;
    let predelay = (0.005 * fs) as usize;
    // Direct-to-reverberant ratio in dB: drawn, so some rooms are drier.
    let drr_db = rng.gen_range(0.0..8.0);
    let mut ir = vec![0f32; predelay + len];
    ir[0] = 1.0;
    let mut tail_energy = 0f64;
    for (i, v) in ir[predelay..].iter_mut().enumerate() {
        let env = (-6.9078 * i as f64 / (rt60 * fs)).exp();
        let g = gauss(rng);
        *v = (g * env) as f32;
        tail_energy += (*v as f64).powi(2);
    }
    let k = (1.0 / (tail_energy * 10f64.powf(drr_db / 10.0))).sqrt() as f32;
    ir[predelay..].iter_mut().for_each(|v| *v *= k);
    ir
}

/// Linear convolution by FFT, truncated to the input length.
fn convolve_same(x: &[f32], h: &[f32]) -> Vec<f32> {
    use realfft::RealFftPlanner;
    let n = (x.len() + h.len() - 1).next_power_of_two();
    thread_local! {
        static PLANNER: std::cell::RefCell<RealFftPlanner<f32>> = std::cell::RefCell::new(RealFftPlanner::new());
    }
    PLANNER.with(|p| {
        let mut p = p.borrow_mut();
        let fwd = p.plan_fft_forward(n);
        let inv = p.plan_fft_inverse(n);
        let mut a = vec![0f32; n];
        a[..x.len()].copy_from_slice(x);
        let mut b = vec![0f32; n];
        b[..h.len()].copy_from_slice(h);
        let mut fa = fwd.make_output_vec();
        let mut fb = fwd.make_output_vec();
        fwd.process(&mut a, &mut fa).expect("fft sizes match");
        fwd.process(&mut b, &mut fb).expect("fft sizes match");
        fa.iter_mut().zip(&fb).for_each(|(u, v)| *u *= v);
        let mut y = inv.make_output_vec();
        inv.process(&mut fa, &mut y).expect("fft sizes match");
        let scale = 1.0 / n as f32;
        y.truncate(x.len());
        y.iter_mut().for_each(|v| *v *= scale);
        y
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn tone(n: usize) -> Vec<f32> {
        (0..n).map(|i| (i as f32 * 0.05).sin() * 5000.0).collect()
    }

    #[test]
    fn convolution_matches_direct_sum() {
        let x: Vec<f32> = (0..300).map(|i| ((i * 7919) % 101) as f32 - 50.0).collect();
        let h = [1.0, 0.5, -0.25, 0.125];
        let y = convolve_same(&x, &h);
        for n in 0..x.len() {
            let want: f32 = (0..h.len())
                .filter(|k| *k <= n)
                .map(|k| h[k] * x[n - k])
                .sum();
            assert!((y[n] - want).abs() < 1e-3, "at {n}: {} vs {want}", y[n]);
        }
    }

    #[test]
    fn noise_lands_at_the_drawn_snr() {
        let cfg = AugmentConfig {
            speed: [1.0, 1.0],
            noise_prob: 1.0,
            snr_db: [10.0, 10.0],
            noise_mix: [0.0, 1.0, 0.0],
            reverb_prob: 0.0,
            gain_db: [0.0, 0.0],
            silence_s: [0.0, 0.0],
            ..Default::default()
        };
        let clean = tone(32000);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let a = augment(&clean, 16000, &cfg, &[], &mut rng).unwrap();
        let k = SPEECH_RMS / rms(&clean);
        let noise: Vec<f32> = a
            .samples
            .iter()
            .zip(&clean)
            .map(|(y, c)| y - c * k)
            .collect();
        let snr = 20.0 * (SPEECH_RMS / rms(&noise)).log10();
        assert!((snr - 10.0).abs() < 0.3, "snr {snr}");
        assert!(a.record.iter().any(|(k, v)| k == "noise" && v == "pink"));
    }

    #[test]
    fn speed_changes_length_and_silence_pads() {
        let cfg = AugmentConfig {
            speed: [1.1, 1.1],
            noise_prob: 0.0,
            reverb_prob: 0.0,
            silence_s: [0.25, 0.25],
            ..Default::default()
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let a = augment(&tone(22050), 22050, &cfg, &[], &mut rng).unwrap();
        let expect = (16000.0 / 1.1) as usize + 8000;
        assert!(
            (a.samples.len() as i64 - expect as i64).abs() < 40,
            "{} vs {expect}",
            a.samples.len()
        );
        // The padding is (near) silent, the speech is not.
        assert!(rms(&a.samples[..3000]) < 3.0);
        assert!(rms(&a.samples[5000..10000]) > 100.0);
    }

    #[test]
    fn reverb_spreads_energy_into_the_trailing_silence() {
        let cfg = AugmentConfig {
            speed: [1.0, 1.0],
            noise_prob: 0.0,
            reverb_prob: 1.0,
            rt60_s: [0.5, 0.5],
            silence_s: [0.3, 0.3],
            gain_db: [0.0, 0.0],
            ..Default::default()
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let a = augment(&tone(16000), 16000, &cfg, &[], &mut rng).unwrap();
        let tail = &a.samples[16000 + 4800 + 200..16000 + 4800 + 2000];
        assert!(rms(tail) > 30.0, "tail rms {}", rms(tail));
    }

    #[test]
    fn silent_input_is_an_error() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        assert!(augment(
            &vec![0.0; 16000],
            16000,
            &AugmentConfig::default(),
            &[],
            &mut rng
        )
        .is_err());
    }
}
