//! Audio in: WAV (hound) and FLAC (claxon) decoding, channel handling and
//! band-limited resampling (rubato) to the 16 kHz every model works at.
//!
//! Samples come out as `f32` on Kaldi's scale: the range of a 16-bit integer
//! (-32768..32767), whatever the file's sample format, because Kaldi's
//! `compute-mfcc-feats` reads 16-bit PCM as raw integer values and its energies
//! and log-mel values depend on that scale.
//! - 8-bit unsigned WAV: (x - 128) * 256
//! - 16-bit: as is; 24-bit: x / 256; 32-bit integer: x / 65536
//! - 32-bit float WAV (nominal range -1..1): x * 32768
//!
//! Channels: [`ChannelMode::Mix`] (the default) averages all channels;
//! [`ChannelMode::First`] keeps channel 0, as Kaldi does with `--channel=0`.
use std::path::Path;

use crate::error::{Error, Result};

/// The sample rate all features and models use.
pub const TARGET_RATE: u32 = 16_000;

/// How to reduce a multi-channel file to one channel.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum ChannelMode {
    /// Average all channels (default).
    #[default]
    Mix,
    /// Keep the first channel only.
    First,
}

/// Mono audio on Kaldi's 16-bit scale.
#[derive(Debug, Clone)]
pub struct Audio {
    pub rate: u32,
    pub samples: Vec<f32>,
}

impl Audio {
    pub fn duration(&self) -> f64 {
        self.samples.len() as f64 / self.rate as f64
    }
}

/// Read a WAV or FLAC file (chosen by content, not by extension) and reduce it to mono.
pub fn read(path: &Path, channels: ChannelMode) -> Result<Audio> {
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::audio(path, "file not found"),
        _ => Error::io(path, e),
    })?;
    if bytes.is_empty() {
        return Err(Error::audio(path, "file is empty (0 bytes)"));
    }
    let audio = if bytes.starts_with(b"RIFF") {
        read_wav(path, &bytes, channels)?
    } else if bytes.starts_with(b"fLaC") {
        read_flac(path, &bytes, channels)?
    } else {
        return Err(Error::audio(
            path,
            "not a WAV (RIFF) or FLAC file: unrecognised header",
        ));
    };
    if audio.samples.is_empty() {
        return Err(Error::audio(path, "audio contains no samples"));
    }
    if audio.samples.iter().any(|x| !x.is_finite()) {
        return Err(Error::audio(path, "audio contains NaN or infinite samples"));
    }
    Ok(audio)
}

/// Read a file and resample it to [`TARGET_RATE`].
pub fn read_16k(path: &Path, channels: ChannelMode) -> Result<Audio> {
    let a = read(path, channels)?;
    let samples = resample(&a.samples, a.rate, TARGET_RATE).map_err(|e| Error::audio(path, e))?;
    Ok(Audio {
        rate: TARGET_RATE,
        samples,
    })
}

fn mixdown(interleaved: Vec<f32>, n_ch: usize, mode: ChannelMode) -> Vec<f32> {
    if n_ch <= 1 {
        return interleaved;
    }
    let frames = interleaved.len() / n_ch;
    (0..frames)
        .map(|f| {
            let frame = &interleaved[f * n_ch..(f + 1) * n_ch];
            match mode {
                ChannelMode::First => frame[0],
                ChannelMode::Mix => frame.iter().sum::<f32>() / n_ch as f32,
            }
        })
        .collect()
}

fn read_wav(path: &Path, bytes: &[u8], mode: ChannelMode) -> Result<Audio> {
    let reader =
        hound::WavReader::new(std::io::Cursor::new(bytes)).map_err(|e| wav_err(path, e))?;
    let spec = reader.spec();
    let n_ch = spec.channels as usize;
    if n_ch == 0 {
        return Err(Error::audio(path, "WAV header declares 0 channels"));
    }
    let declared = reader.len() as usize;
    let samples: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => {
            collect(path, reader.into_samples::<f32>(), |x| x * 32768.0)?
        }
        (hound::SampleFormat::Int, 8) => {
            collect(path, reader.into_samples::<i8>(), |x| x as f32 * 256.0)?
        }
        (hound::SampleFormat::Int, 16) => {
            collect(path, reader.into_samples::<i16>(), |x| x as f32)?
        }
        (hound::SampleFormat::Int, 24) => {
            collect(path, reader.into_samples::<i32>(), |x| x as f32 / 256.0)?
        }
        (hound::SampleFormat::Int, 32) => {
            collect(path, reader.into_samples::<i32>(), |x| x as f32 / 65536.0)?
        }
        (f, b) => {
            return Err(Error::audio(
                path,
                format!("unsupported WAV sample format {f:?} with {b} bits"),
            ))
        }
    };
    if samples.len() < declared {
        return Err(Error::audio(
            path,
            format!(
                "truncated WAV: header declares {declared} samples, file holds {}",
                samples.len()
            ),
        ));
    }
    Ok(Audio {
        rate: spec.sample_rate,
        samples: mixdown(samples, n_ch, mode),
    })
}

fn collect<S, I: Iterator<Item = hound::Result<S>>>(
    path: &Path,
    it: I,
    f: impl Fn(S) -> f32,
) -> Result<Vec<f32>> {
    let mut out = Vec::new();
    for s in it {
        match s {
            Ok(v) => out.push(f(v)),
            Err(hound::Error::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(Error::audio(
                    path,
                    format!("truncated WAV: data ends after {} samples", out.len()),
                ));
            }
            Err(e) => return Err(wav_err(path, e)),
        }
    }
    Ok(out)
}

fn wav_err(path: &Path, e: hound::Error) -> Error {
    let what = match e {
        hound::Error::IoError(ref io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "truncated WAV: the file ends inside its header".to_string()
        }
        other => format!("invalid WAV: {other}"),
    };
    Error::audio(path, what)
}

fn read_flac(path: &Path, bytes: &[u8], mode: ChannelMode) -> Result<Audio> {
    let mut reader = claxon::FlacReader::new(std::io::Cursor::new(bytes))
        .map_err(|e| Error::audio(path, format!("invalid FLAC: {e}")))?;
    let info = reader.streaminfo();
    let n_ch = info.channels as usize;
    let bits = info.bits_per_sample;
    // Scale to the 16-bit range whatever the FLAC bit depth.
    let scale = 2f32.powi(16 - bits as i32);
    let mut interleaved = Vec::with_capacity(info.samples.unwrap_or(0) as usize * n_ch);
    for s in reader.samples() {
        match s {
            Ok(v) => interleaved.push(v as f32 * scale),
            Err(e) => {
                return Err(Error::audio(
                    path,
                    format!(
                        "corrupt or truncated FLAC after {} samples: {e}",
                        interleaved.len()
                    ),
                ))
            }
        }
    }
    if let Some(total) = info.samples {
        let got = (interleaved.len() / n_ch.max(1)) as u64;
        if got < total {
            return Err(Error::audio(
                path,
                format!("truncated FLAC: header declares {total} samples, stream holds {got}"),
            ));
        }
    }
    Ok(Audio {
        rate: info.sample_rate,
        samples: mixdown(interleaved, n_ch, mode),
    })
}

/// Band-limited resampling with rubato's FFT resampler (fixed ratio, so
/// exact for the usual 8/22.05/44.1/48 kHz -> 16 kHz). The output has
/// `ceil(len * to / from)` samples and is aligned with the input (the
/// resampler's delay is removed).
pub fn resample(input: &[f32], from: u32, to: u32) -> std::result::Result<Vec<f32>, String> {
    use rubato::{FftFixedInOut, Resampler};
    if from == to {
        return Ok(input.to_vec());
    }
    if from == 0 || to == 0 {
        return Err(format!("cannot resample from {from} Hz to {to} Hz"));
    }
    let mut rs = FftFixedInOut::<f32>::new(from as usize, to as usize, 1024, 1)
        .map_err(|e| e.to_string())?;
    let delay = rs.output_delay();
    let want = ((input.len() as u64 * to as u64).div_ceil(from as u64)) as usize;
    let chunk = rs.input_frames_next();
    let mut out = Vec::with_capacity(want + delay + 2 * rs.output_frames_max());
    let mut buf = vec![0f32; chunk];
    let mut pos = 0;
    while out.len() < want + delay {
        buf.iter_mut().for_each(|x| *x = 0.0);
        if pos < input.len() {
            let n = chunk.min(input.len() - pos);
            buf[..n].copy_from_slice(&input[pos..pos + n]);
        }
        pos += chunk;
        let res = rs.process(&[&buf], None).map_err(|e| e.to_string())?;
        out.extend_from_slice(&res[0]);
    }
    Ok(out[delay..delay + want].to_vec())
}

/// Speed perturbation as `sox speed FACTOR` (Kaldi's
/// `perturb_data_dir_speed.sh`, ESPnet's `speed_perturb_factors`): the
/// signal is resampled from `rate x factor` to `rate` Hz and played at
/// `rate` (any rate: only the ratio matters), so it lasts `1 / factor` as long and every frequency is scaled
/// by `factor`. The factor is taken to a thousandth.
pub fn speed_perturb(input: &[f32], factor: f32) -> std::result::Result<Vec<f32>, String> {
    if !(factor > 0.0) {
        return Err(format!("speed factor must be positive, got {factor}"));
    }
    let milli = (factor * 1000.0).round() as u64;
    let g = gcd(milli, 1000);
    resample(input, (milli / g) as u32, (1000 / g) as u32)
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_perturbation_shortens_and_raises_the_pitch() {
        // A 200 Hz tone at 16 kHz, 1 s: at speed 1.1 it lasts 1/1.1 s and is a 220 Hz tone.
        let x: Vec<f32> = (0..16000)
            .map(|i| (2.0 * std::f32::consts::PI * 200.0 * i as f32 / 16000.0).sin())
            .collect();
        let y = speed_perturb(&x, 1.1).unwrap();
        assert_eq!(y.len(), (16000.0f64 / 1.1).ceil() as usize);
        // Count rising zero crossings away from the edges: about 220 per second.
        let mid = &y[1000..y.len() - 1000];
        let ups = mid.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count() as f64;
        let hz = ups / (mid.len() as f64 / 16000.0);
        assert!((hz - 220.0).abs() < 3.0, "{hz} Hz");
        let z = speed_perturb(&x, 0.9).unwrap();
        assert_eq!(z.len(), (16000.0f64 / 0.9).ceil() as usize);
        assert_eq!(speed_perturb(&x, 1.0).unwrap(), x);
        assert!(speed_perturb(&x, 0.0).is_err());
    }

    #[test]
    fn resample_keeps_length_and_a_low_tone() {
        let n = 8000;
        let x: Vec<f32> = (0..n)
            .map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 8000.0).sin() * 1000.0)
            .collect();
        let y = resample(&x, 8000, 16000).unwrap();
        assert_eq!(y.len(), 16000);
        // Compare with the analytic tone at 16 kHz away from the edges.
        let mut max_err = 0f32;
        for i in 2000..14000 {
            let want = (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 16000.0).sin() * 1000.0;
            max_err = max_err.max((y[i] - want).abs());
        }
        assert!(max_err < 5.0, "max error {max_err}");
    }
}
