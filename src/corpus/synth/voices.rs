//! The synthetic voices: a fixed inventory of espeak-ng and flite voices, and
//! the calls that turn text into audio with them.
//!
//! A voice is engine + voice/accent + variant + a speaking-rate and pitch
//! bucket; its id names all of them (`es-en-gb-x-rp-f5-s185-p70`,
//! `fl-slt-d110-f200`). Each utterance jitters rate and pitch a little around
//! its voice's bucket (recorded in the manifest's `augment` column).
//!
//! The inventory and the held-out set are fixed (independent of the seed) so
//! that every corpus made by this tool has the same dev/test voices; they are
//! listed in docs/SYNTH.md. Held out for dev and test only: every espeak-ng
//! voice built on the variants `m3` and `f3` (those variants never occur in
//! training) and both flite `rms` voices (that speaker never occurs in
//! training): 10 of 49 voices.
use std::io::Write;
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

/// Which synthesiser speaks a voice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Engine {
    Espeak,
    Flite,
}

/// One synthetic voice of the fixed inventory.
#[derive(Debug, Clone, PartialEq)]
pub struct Voice {
    pub engine: Engine,
    /// espeak-ng language/accent (`en-gb-x-rp`) or flite voice name (`slt`).
    pub name: &'static str,
    /// espeak-ng variant (`m1`, `f5`, `klatt3`); empty for flite.
    pub variant: &'static str,
    /// espeak-ng: words per minute (`-s`); flite: duration stretch x 100.
    pub rate: u32,
    /// espeak-ng: pitch 0-99 (`-p`); flite: target mean F0 in Hz, 0 = the voice's own.
    pub pitch: u32,
    /// Used for dev and test only, never for training.
    pub held_out: bool,
}

impl Voice {
    /// The voice id used as the manifest's `speaker`.
    pub fn id(&self) -> String {
        match self.engine {
            Engine::Espeak => format!(
                "es-{}-{}-s{}-p{}",
                self.name, self.variant, self.rate, self.pitch
            ),
            Engine::Flite if self.pitch == 0 => format!("fl-{}-d{}", self.name, self.rate),
            Engine::Flite => format!("fl-{}-d{}-f{}", self.name, self.rate, self.pitch),
        }
    }
}

const fn es(
    name: &'static str,
    variant: &'static str,
    rate: u32,
    pitch: u32,
    held_out: bool,
) -> Voice {
    Voice {
        engine: Engine::Espeak,
        name,
        variant,
        rate,
        pitch,
        held_out,
    }
}
const fn fl(name: &'static str, rate: u32, pitch: u32, held_out: bool) -> Voice {
    Voice {
        engine: Engine::Flite,
        name,
        variant: "",
        rate,
        pitch,
        held_out,
    }
}

/// The full inventory, in a fixed order. Training voices are used in this
/// order when `train_voices` limits their number, so the order interleaves
/// accents and engines: the first N always span several of both.
pub const VOICES: &[Voice] = &[
    // Training voices (39).
    es("en-us", "m1", 145, 35, false),
    es("en", "m7", 165, 50, false),
    fl("kal", 100, 0, false),
    es("en-gb-scotland", "klatt", 185, 40, false),
    es("en-gb-x-rp", "m5", 145, 50, false),
    fl("slt", 100, 170, false),
    es("en-gb-x-gbclan", "f4", 165, 55, false),
    es("en-gb-x-gbcwmd", "m2", 185, 50, false),
    fl("awb", 100, 0, false),
    es("en-029", "f1", 145, 55, false),
    es("en-us-nyc", "klatt3", 165, 55, false),
    es("en-us", "m5", 165, 50, false),
    fl("kal16", 95, 0, false),
    es("en", "f4", 185, 55, false),
    es("en-gb-scotland", "m2", 145, 50, false),
    es("en-gb-x-rp", "f1", 165, 55, false),
    fl("slt", 110, 200, false),
    es("en-gb-x-gbclan", "klatt3", 185, 55, false),
    es("en-gb-x-gbcwmd", "m6", 145, 35, false),
    es("en-029", "f5", 165, 70, false),
    fl("awb", 90, 0, false),
    es("en-us-nyc", "m4", 185, 35, false),
    es("en-us", "f1", 185, 55, false),
    es("en", "klatt3", 145, 55, false),
    fl("kal", 115, 0, false),
    es("en-gb-scotland", "m6", 165, 35, false),
    es("en-gb-x-rp", "f5", 185, 70, false),
    es("en-gb-x-gbclan", "m4", 145, 35, false),
    es("en-gb-x-gbcwmd", "f2", 165, 70, false),
    es("en-029", "m1", 185, 35, false),
    es("en-us-nyc", "m7", 145, 50, false),
    es("en-us", "f5", 145, 70, false),
    es("en", "m4", 165, 35, false),
    es("en-gb-scotland", "f2", 185, 70, false),
    es("en-gb-x-rp", "m1", 145, 35, false),
    es("en-gb-x-gbclan", "m7", 165, 50, false),
    es("en-gb-x-gbcwmd", "klatt", 185, 40, false),
    es("en-029", "m5", 145, 50, false),
    es("en-us-nyc", "f4", 165, 55, false),
    // Held-out voices (10): dev and test only.
    es("en-us", "m3", 145, 35, true),
    es("en", "f3", 165, 55, true),
    es("en-gb-scotland", "m3", 185, 50, true),
    es("en-gb-x-rp", "f3", 145, 70, true),
    es("en-gb-x-gbclan", "m3", 165, 35, true),
    es("en-gb-x-gbcwmd", "f3", 185, 55, true),
    es("en-029", "m3", 145, 50, true),
    es("en-us-nyc", "f3", 165, 70, true),
    fl("rms", 100, 0, true),
    fl("rms", 115, 0, true),
];

/// Training voices in inventory order.
pub fn train_voices() -> Vec<&'static Voice> {
    VOICES.iter().filter(|v| !v.held_out).collect()
}

/// Held-out (dev/test) voices in inventory order.
pub fn held_out_voices() -> Vec<&'static Voice> {
    VOICES.iter().filter(|v| v.held_out).collect()
}

/// Check that both synthesisers run; the error names the program and the setup command.
pub fn check_programs() -> Result<()> {
    for (prog, arg) in [("espeak-ng", "--version"), ("flite", "-lv")] {
        let ok = Command::new(prog)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            return Err(missing(prog));
        }
    }
    Ok(())
}

fn missing(prog: &str) -> Error {
    Error::Config(format!(
        "`{prog}` is not installed or does not run; the synthetic corpus needs espeak-ng and flite \
         (install both with `scripts/setup.sh`, or `sudo apt-get install -y espeak-ng flite`)"
    ))
}

/// Audio as the synthesiser wrote it: native rate, 16-bit scale.
pub struct Synthesised {
    pub rate: u32,
    pub samples: Vec<f32>,
}

/// Speak `text` with `voice`, at `rate`/`pitch` (the voice's bucket plus this
/// utterance's jitter, same units as [`Voice::rate`]/[`Voice::pitch`]).
pub fn speak(voice: &Voice, text: &str, rate: u32, pitch: u32) -> Result<Synthesised> {
    let (prog, args): (&str, Vec<String>) = match voice.engine {
        Engine::Espeak => (
            "espeak-ng",
            vec![
                "-v".into(),
                format!("{}+{}", voice.name, voice.variant),
                "-s".into(),
                rate.to_string(),
                "-p".into(),
                pitch.to_string(),
                "--stdout".into(),
                "--stdin".into(),
            ],
        ),
        Engine::Flite => {
            let mut a = vec![
                "-voice".into(),
                voice.name.to_string(),
                "--setf".into(),
                format!("duration_stretch={:.3}", rate as f64 / 100.0),
            ];
            if pitch > 0 {
                a.push("--setf".into());
                a.push(format!("int_f0_target_mean={pitch}"));
            }
            // flite's file mode (-f) streams and writes no samples to a pipe; -t works.
            a.extend([
                "-t".into(),
                text.to_string(),
                "-o".into(),
                "/dev/stdout".into(),
            ]);
            ("flite", a)
        }
    };
    let feed_stdin = voice.engine == Engine::Espeak;
    let mut child = Command::new(prog)
        .args(&args)
        .stdin(if feed_stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|_| missing(prog))?;
    if feed_stdin {
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin
            .write_all(text.as_bytes())
            .and_then(|_| stdin.write_all(b"\n"))
            .map_err(|e| {
                Error::Invalid(format!(
                    "{prog} ({}): writing the text failed: {e}",
                    voice.id()
                ))
            })?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::Invalid(format!("{prog} ({}): {e}", voice.id())))?;
    if !out.status.success() {
        return Err(Error::Invalid(format!(
            "{prog} ({}) failed on {text:?}: {}",
            voice.id(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    parse_wav_stream(&out.stdout)
        .map_err(|what| Error::Invalid(format!("{prog} ({}) on {text:?}: {what}", voice.id())))
}

/// Parse a 16-bit mono PCM WAV written to a pipe. espeak-ng cannot seek back to
/// fix the size fields on a pipe, so they are ignored: the data runs to the end.
fn parse_wav_stream(b: &[u8]) -> std::result::Result<Synthesised, String> {
    if b.len() < 12 || &b[0..4] != b"RIFF" || &b[8..12] != b"WAVE" {
        return Err(format!("output is not a WAV stream ({} bytes)", b.len()));
    }
    let mut pos = 12;
    let mut rate = 0u32;
    while pos + 8 <= b.len() {
        let id = &b[pos..pos + 4];
        let size = u32::from_le_bytes(b[pos + 4..pos + 8].try_into().unwrap()) as usize;
        let body = pos + 8;
        if id == b"fmt " {
            if body + 16 > b.len() {
                return Err("truncated fmt chunk".into());
            }
            let format = u16::from_le_bytes([b[body], b[body + 1]]);
            let channels = u16::from_le_bytes([b[body + 2], b[body + 3]]);
            rate = u32::from_le_bytes(b[body + 4..body + 8].try_into().unwrap());
            let bits = u16::from_le_bytes([b[body + 14], b[body + 15]]);
            if format != 1 || channels != 1 || bits != 16 {
                return Err(format!("expected 16-bit mono PCM, got format {format}, {channels} channels, {bits} bits"));
            }
        } else if id == b"data" {
            if rate == 0 {
                return Err("data chunk before fmt chunk".into());
            }
            let data = &b[body..];
            let samples = data
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]) as f32)
                .collect();
            return Ok(Synthesised { rate, samples });
        }
        pos = body + size + (size & 1);
    }
    Err("no data chunk".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_has_30_plus_distinct_voices_and_a_fifth_held_out() {
        let ids: std::collections::HashSet<String> = VOICES.iter().map(|v| v.id()).collect();
        assert_eq!(ids.len(), VOICES.len(), "voice ids are not unique");
        assert!(VOICES.len() >= 30);
        let held = held_out_voices();
        assert!(held.iter().any(|v| v.engine == Engine::Flite));
        let frac = held.len() as f64 / VOICES.len() as f64;
        assert!((0.15..0.3).contains(&frac), "held-out fraction {frac}");
        // Held-out variants and flite speakers never occur in training.
        for h in &held {
            let key = if h.engine == Engine::Flite {
                h.name
            } else {
                h.variant
            };
            assert!(
                !train_voices().iter().any(|t| t.engine == h.engine
                    && key
                        == if t.engine == Engine::Flite {
                            t.name
                        } else {
                            t.variant
                        }),
                "{} shares its speaker/variant with a training voice",
                h.id()
            );
        }
    }
}
