//! Corpus importers, Kaldi data dirs, split leakage, bad input, and the
//! feature cache. Fixtures are built in temp dirs from generated WAVs and the
//! shared corpora (read in place).
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use crossover::corpus::fsdd::{self, FsddSplit};
use crossover::corpus::import::{validate, BadReason, ImportOptions};
use crossover::corpus::kaldi_dir::{self, ExportOptions};
use crossover::corpus::textdir::{self, GroupSplit, TextdirOptions};
use crossover::corpus::{librispeech, stats, Corpus, Split, Utterance};
use crossover::features::{compute_file, CmvnMode, FeatureConfig};
use crossover::loader::FeatureCache;

mod common;
use common::{bin, require_corpora, stdout_ok, write_wav};

fn kathleen_files(n: usize) -> Vec<PathBuf> {
    let k = require_corpora().join("kathleen");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&k)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "flac"))
        .collect();
    v.sort();
    v.truncate(n);
    v
}

fn opts(skip_bad: bool) -> ImportOptions {
    ImportOptions {
        skip_bad,
        ..ImportOptions::default()
    }
}

fn textdir_opts() -> TextdirOptions {
    TextdirOptions {
        group_by: None,
        speaker: None,
        recursive: false,
        split: GroupSplit::Fractions {
            dev: 0.0,
            test: 0.0,
            seed: 0,
        },
    }
}

#[test]
fn fsdd_import_splits_and_no_test_speaker_leak() {
    let src = require_corpora().join("fsdd");
    // Official split: structure only (no decoding needed to count).
    let rows = fsdd::rows(&src, FsddSplit::Official).unwrap();
    let mut n = BTreeMap::new();
    for r in &rows {
        *n.entry(r.as_ref().unwrap().split).or_insert(0) += 1;
    }
    assert_eq!(
        (n[&Split::Train], n[&Split::Dev], n[&Split::Test]),
        (2400, 300, 300)
    );
    // Speaker-independent split, decoded and checked (the one full FSDD decode of the suite).
    let (utts, report) =
        validate(fsdd::rows(&src, FsddSplit::Speakers).unwrap(), &opts(false)).unwrap();
    assert_eq!(report.skipped_total(), 0);
    let c = Corpus {
        root: PathBuf::from("/nonexistent"),
        utterances: utts,
    };
    assert_eq!(
        (
            c.split(Split::Train).len(),
            c.split(Split::Dev).len(),
            c.split(Split::Test).len()
        ),
        (1800, 200, 1000)
    );
    let words: HashSet<&str> = c.utterances.iter().map(|u| u.norm_text.as_str()).collect();
    assert_eq!(words.len(), 10);
    assert!(words.contains("seven") && words.contains("zero"));
    let u = c
        .utterances
        .iter()
        .find(|u| u.id == "jackson-7-32")
        .unwrap();
    assert_eq!(
        (u.speaker.as_str(), u.text.as_str(), u.split),
        ("jackson", "seven", Split::Train)
    );
    assert!(u.audio.is_absolute() && u.audio.ends_with("recordings/7_jackson_32.wav"));
    assert!(u.duration > 0.1 && u.duration < 3.0, "{}", u.duration);
    let st = stats(&c);
    for (a, b) in [(Split::Train, Split::Test), (Split::Dev, Split::Test)] {
        assert_eq!(
            st.overlap(a, b).unwrap().speakers.count,
            0,
            "{a}-{b} share speakers"
        );
    }
    assert_eq!(
        st.overlap(Split::Train, Split::Dev).unwrap().speakers.count,
        4,
        "dev is takes 0-4 of the training speakers"
    );
    let test_spk: HashSet<&str> = c
        .split(Split::Test)
        .iter()
        .map(|u| u.speaker.as_str())
        .collect();
    assert_eq!(test_spk, HashSet::from(["theo", "yweweler"]));
    assert_eq!(st.split(Split::Test).unwrap().oov_tokens, Some(0));
    // Nested subsets on real data: balanced over the four training speakers.
    let train = c.split(Split::Train);
    let s = crossover::corpus::subset(&train, 0.05, 3);
    assert_eq!(s.speakers(), 4);
    assert!(s.max_per_speaker() - s.min_per_speaker() <= 1);
    assert!(s.hours >= 0.05 && !s.truncated);
}

#[test]
fn kathleen_canonical_split_cli_has_no_leakage() {
    let k = require_corpora().join("kathleen");
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("kathleen");
    let stdout = stdout_ok(
        bin()
            .args(["corpus", "import", "textdir"])
            .arg(&k)
            .args(["--group-by", "arctic_([ab][0-9]{4})_", "--test-groups"])
            .arg(k.join("splits/test.txt"))
            .arg("--dev-groups")
            .arg(k.join("splits/dev.txt"))
            .arg("--out")
            .arg(&out),
    );
    assert!(stdout.contains("skipped 0"), "{stdout}");
    let c = Corpus::load(&out).unwrap();
    assert_eq!(
        (
            c.split(Split::Train).len(),
            c.split(Split::Dev).len(),
            c.split(Split::Test).len()
        ),
        (1320, 147, 153)
    );
    assert!(
        (c.hours(Split::Train) - 1.12).abs() < 0.01,
        "{}",
        c.hours(Split::Train)
    );
    let u = &c.utterances[0];
    assert_eq!(u.group, "a0001");
    assert_eq!(u.norm_text, "author of the danger trail philip steels etc");
    let json = stdout_ok(bin().args(["corpus", "stats", "--json"]).arg(&out));
    let st: serde_json::Value = serde_json::from_str(&json).unwrap();
    for o in st["overlaps"].as_array().unwrap() {
        assert_eq!(o["groups"]["count"], 0, "{o}");
        assert_eq!(o["sentences"]["count"], 0, "{o}");
    }
    let oov = st["splits"][2]["oov_token_rate"].as_f64().unwrap();
    assert!(oov > 0.05 && oov < 0.5, "test OOV rate {oov}");
    let table = stdout_ok(bin().args(["corpus", "stats"]).arg(&out));
    assert!(
        table.contains("train-test groups") && table.contains("OOV tok %"),
        "{table}"
    );
    // Refuses to overwrite.
    let o = bin()
        .args(["corpus", "import", "textdir"])
        .arg(&k)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("--force"));
    // Subset listing, including a target beyond the training set.
    let sub = stdout_ok(bin().args(["corpus", "subset"]).arg(&out).args([
        "--hours",
        "0.1,0.5,5",
        "--seed",
        "2",
    ]));
    let lines: Vec<&str> = sub.lines().collect();
    assert_eq!(lines.len(), 5, "{sub}");
    assert!(
        lines[4].contains("all of train") && !lines[3].contains("all of train"),
        "{sub}"
    );
    // Seeded fraction split by group: readings of a prompt never straddle splits.
    // (Split assignment happens before decoding, so the rows alone show it.)
    let mut o = textdir_opts();
    o.group_by = Some(regex::Regex::new("arctic_([ab][0-9]{4})_").unwrap());
    o.split = GroupSplit::Fractions {
        dev: 0.1,
        test: 0.1,
        seed: 5,
    };
    let utterances: Vec<Utterance> = textdir::rows(&k, &o)
        .unwrap()
        .rows
        .into_iter()
        .map(|r| {
            let c = r.unwrap();
            Utterance {
                id: c.id,
                audio: c.audio,
                speaker: c.speaker,
                split: c.split,
                duration: 1.0,
                norm_text: crossover::text::normalise(&c.text),
                text: c.text,
                phonemes: String::new(),
                group: c.group,
                augment: String::new(),
            }
        })
        .collect();
    let c2 = Corpus {
        root: t.path().to_path_buf(),
        utterances,
    };
    let mut split_of: BTreeMap<&str, Split> = BTreeMap::new();
    for u in &c2.utterances {
        assert_eq!(
            *split_of.entry(&u.group).or_insert(u.split),
            u.split,
            "group {} in two splits",
            u.group
        );
    }
    let st2 = stats(&c2);
    assert!(st2.overlaps.iter().all(|o| o.groups.count == 0));
    let n_test_groups = split_of.values().filter(|s| **s == Split::Test).count();
    assert_eq!(
        n_test_groups,
        (0.1 * split_of.len() as f64).round() as usize
    );
}

/// A small two-speaker textdir corpus (links to kathleen files) -> Kaldi -> back.
#[test]
fn kaldi_round_trip() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    for (i, f) in kathleen_files(12).iter().enumerate() {
        let spk = if i % 2 == 0 { "spkA" } else { "spkB10" };
        let d = src.join(spk);
        std::fs::create_dir_all(&d).unwrap();
        let stem = f.file_stem().unwrap().to_str().unwrap();
        std::os::unix::fs::symlink(f, d.join(format!("{stem}.flac"))).unwrap();
        std::fs::copy(f.with_extension("txt"), d.join(format!("{stem}.txt"))).unwrap();
    }
    let mut o = textdir_opts();
    o.recursive = true;
    o.split = GroupSplit::Fractions {
        dev: 0.25,
        test: 0.25,
        seed: 1,
    };
    let (utts, _) = validate(textdir::rows(&src, &o).unwrap().rows, &opts(false)).unwrap();
    assert_eq!(utts.len(), 12);
    let c = Corpus {
        root: t.path().join("corpus"),
        utterances: utts,
    };
    c.save().unwrap();
    let kdir = t.path().join("kaldi");
    stdout_ok(
        bin()
            .args(["corpus", "export", "kaldi"])
            .arg(&c.root)
            .arg("--out")
            .arg(&kdir),
    );
    for split in ["train", "dev", "test"] {
        let d = kdir.join(split);
        let mut ids_per_file = Vec::new();
        for f in ["wav.scp", "text", "utt2spk", "utt2dur"] {
            let s = std::fs::read_to_string(d.join(f)).unwrap();
            let ids: Vec<String> = s
                .lines()
                .map(|l| l.split(' ').next().unwrap().to_string())
                .collect();
            let mut sorted = ids.clone();
            sorted.sort();
            assert_eq!(ids, sorted, "{split}/{f} not sorted");
            ids_per_file.push(ids);
        }
        assert!(ids_per_file.windows(2).all(|w| w[0] == w[1]));
        // utt2spk sorted by utterance is also sorted by speaker (Kaldi's requirement).
        let spks: Vec<String> = std::fs::read_to_string(d.join("utt2spk"))
            .unwrap()
            .lines()
            .map(|l| l.split(' ').nth(1).unwrap().to_string())
            .collect();
        let mut s2 = spks.clone();
        s2.sort();
        assert_eq!(spks, s2);
        let spk2utt = std::fs::read_to_string(d.join("spk2utt")).unwrap();
        let n: usize = spk2utt.lines().map(|l| l.split(' ').count() - 1).sum();
        assert_eq!(n, ids_per_file[0].len());
        for l in std::fs::read_to_string(d.join("wav.scp")).unwrap().lines() {
            assert!(
                l.split(' ').nth(1).unwrap().starts_with('/'),
                "not absolute: {l}"
            );
        }
    }
    let text = std::fs::read_to_string(kdir.join("train/text")).unwrap();
    assert!(
        text.lines()
            .map(|l| l.split_once(' ').unwrap().1)
            .all(|l| l == l.to_lowercase() && !l.contains(',')),
        "text holds normalised transcripts: {text}"
    );
    // Back in.
    let back = t.path().join("back");
    stdout_ok(
        bin()
            .args(["corpus", "import", "kaldi"])
            .arg(&kdir)
            .arg("--out")
            .arg(&back),
    );
    let c2 = Corpus::load(&back).unwrap();
    let key = |u: &Utterance| {
        (
            u.id.clone(),
            u.speaker.clone(),
            u.split,
            u.audio.clone(),
            u.norm_text.clone(),
        )
    };
    let a: Vec<_> = c.utterances.iter().map(key).collect();
    let b: Vec<_> = c2.utterances.iter().map(key).collect();
    assert_eq!(a, b);
    for (x, y) in c.utterances.iter().zip(&c2.utterances) {
        assert!((x.duration - y.duration).abs() < 1e-3);
    }
    // A single data dir imports into the split asked for.
    let rows = kaldi_dir::rows(&kdir.join("dev"), Split::Test, None).unwrap();
    assert!(rows
        .iter()
        .all(|r| r.as_ref().unwrap().split == Split::Test));
    // Ids are exported exactly as in the manifest. One that makes its speaker's
    // rows non-contiguous when sorted (Kaldi's utt2spk rule) is refused, naming it.
    let split = Split::ALL
        .into_iter()
        .find(|s| {
            let us = c.split(*s);
            us.iter().filter(|u| u.speaker == "spkA").count() >= 2
                && us.iter().any(|u| u.speaker == "spkB10")
        })
        .expect("a split with both speakers");
    let mut c3 = c.clone();
    let victim = c3
        .utterances
        .iter_mut()
        .find(|u| u.split == split && u.speaker == "spkA")
        .unwrap();
    victim.id = "zzz".into();
    let e = kaldi_dir::export(&c3, &t.path().join("k3bad"), &ExportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("zzz") && e.contains("spkA") && e.contains("contiguous"),
        "{e}"
    );
    // Kaldi's no-speaker-information convention (each utterance its own
    // speaker) sorts fine without a `{speaker}-` prefix: exported unchanged.
    // (The last utterance of the last speaker in its split, so nothing sorts after it.)
    let mut c3 = c.clone();
    let k = (0..c3.utterances.len())
        .filter(|&i| c3.utterances[i].speaker == "spkB10")
        .max_by(|&a, &b| c3.utterances[a].id.cmp(&c3.utterances[b].id))
        .unwrap();
    let solo = c3.utterances[k].id.clone();
    c3.utterances[k].speaker = solo.clone();
    kaldi_dir::export(
        &c3,
        &t.path().join("k3"),
        &ExportOptions { flac_pipe: true },
    )
    .unwrap();
    let sp = c3.utterances[k].split.as_str();
    let wav = std::fs::read_to_string(t.path().join("k3").join(sp).join("wav.scp")).unwrap();
    assert!(
        wav.lines()
            .any(|l| l.starts_with(&format!("{solo} flac -c -d -s "))),
        "{wav}"
    );
    let u2s = std::fs::read_to_string(t.path().join("k3").join(sp).join("utt2spk")).unwrap();
    assert!(u2s.lines().any(|l| l == format!("{solo} {solo}")), "{u2s}");
    // ... and the flac pipe our export writes imports again.
    let rows = kaldi_dir::rows(&t.path().join("k3"), Split::Train, None).unwrap();
    assert_eq!(rows.len(), 12);
}

#[test]
fn kaldi_import_rejects_pipes_and_segments_and_checks_utt2dur() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("data");
    std::fs::create_dir_all(&d).unwrap();
    let wav = t.path().join("a.wav");
    write_wav(&wav, 1.0, 3000.0);
    std::fs::write(d.join("wav.scp"), "s1-u1 sox /x.wav -t wav - |\n").unwrap();
    std::fs::write(d.join("text"), "s1-u1 HELLO WORLD\n").unwrap();
    std::fs::write(d.join("utt2spk"), "s1-u1 s1\n").unwrap();
    let e = kaldi_dir::rows(&d, Split::Train, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("wav.scp") && e.contains("piped command"), "{e}");
    std::fs::write(d.join("wav.scp"), format!("s1-u1 {}\n", wav.display())).unwrap();
    std::fs::write(d.join("utt2dur"), "s1-u1 9.5\n").unwrap();
    let e = validate(
        kaldi_dir::rows(&d, Split::Train, None).unwrap(),
        &opts(false),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("a.wav")
            && e.contains("declared duration 9.500")
            && e.contains("duration mismatch"),
        "{e}"
    );
    std::fs::write(d.join("utt2dur"), "s1-u1 1.0\n").unwrap();
    let (u, _) = validate(
        kaldi_dir::rows(&d, Split::Train, None).unwrap(),
        &opts(false),
    )
    .unwrap();
    assert_eq!(
        (u[0].text.as_str(), u[0].norm_text.as_str()),
        ("HELLO WORLD", "hello world")
    );
    // An utt2spk entry without audio is a bad row, not silently ignored.
    std::fs::write(d.join("utt2spk"), "s1-u1 s1\ns1-u2 s1\n").unwrap();
    let e = validate(
        kaldi_dir::rows(&d, Split::Train, None).unwrap(),
        &opts(false),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("utt2spk") && e.contains("s1-u2") && e.contains("not in wav.scp"),
        "{e}"
    );
    std::fs::write(d.join("segments"), "s1-u1 rec 0 1\n").unwrap();
    let e = kaldi_dir::rows(&d, Split::Train, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("segments"), "{e}");
}

#[test]
fn librispeech_layout_fixture() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("LibriSpeech");
    let files = kathleen_files(5);
    let layout = [
        ("train-clean-5", "19", "198", 0..3),
        ("dev-clean", "84", "121", 3..5),
    ];
    for (subset, spk, ch, range) in layout {
        let d = root.join(subset).join(spk).join(ch);
        std::fs::create_dir_all(&d).unwrap();
        let mut trans = String::new();
        for (n, i) in range.enumerate() {
            let id = format!("{spk}-{ch}-{n:04}");
            std::fs::copy(&files[i], d.join(format!("{id}.flac"))).unwrap();
            let txt = std::fs::read_to_string(files[i].with_extension("txt")).unwrap();
            trans.push_str(&format!(
                "{id} {}\n",
                crossover::text::normalise(&txt).to_uppercase()
            ));
        }
        std::fs::write(d.join(format!("{spk}-{ch}.trans.txt")), trans).unwrap();
    }
    let (utts, _) = validate(
        librispeech::rows(&root, Split::Train).unwrap(),
        &opts(false),
    )
    .unwrap();
    assert_eq!(utts.len(), 5);
    let ids: Vec<&str> = utts.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "19-198-0000",
            "19-198-0001",
            "19-198-0002",
            "84-121-0000",
            "84-121-0001"
        ]
    );
    assert_eq!(utts[0].split, Split::Train);
    assert_eq!(utts[3].split, Split::Dev);
    assert_eq!(utts[3].speaker, "84");
    assert_eq!(
        utts[0].norm_text,
        "author of the danger trail philip steels etc"
    );
    assert_eq!(utts[0].text, "AUTHOR OF THE DANGER TRAIL PHILIP STEELS ETC");
    // A single subset folder goes to the split given.
    let rows = librispeech::rows(&root.join("dev-clean"), Split::Test).unwrap();
    assert!(rows
        .iter()
        .all(|r| r.as_ref().unwrap().split == Split::Test));
    // A FLAC without a transcript line is a bad row, not a silent drop.
    std::fs::copy(&files[0], root.join("dev-clean/84/121/84-121-0009.flac")).unwrap();
    let e = validate(
        librispeech::rows(&root, Split::Train).unwrap(),
        &opts(false),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("84-121-0009.flac") && e.contains("missing transcript"),
        "{e}"
    );
    let (u, r) = validate(librispeech::rows(&root, Split::Train).unwrap(), &opts(true)).unwrap();
    assert_eq!((u.len(), r.count(BadReason::MissingTranscript)), (5, 1));
}

/// Each kind of bad row: an error naming the file without --skip-bad, a counted skip with it.
#[test]
fn bad_input_cases() {
    let t = tempfile::tempdir().unwrap();
    let good_flac = kathleen_files(1)[0].clone();
    // (name, reason, expected words in the error, how to make the bad pair)
    type Make = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, BadReason, &str, Make)> = vec![
        (
            "missing",
            BadReason::MissingAudio,
            "no audio file",
            Box::new(|d: &Path| std::fs::write(d.join("missing.txt"), "hello there").unwrap()),
        ),
        (
            "empty",
            BadReason::EmptyAudio,
            "0 bytes",
            Box::new(|d: &Path| {
                std::fs::write(d.join("empty.wav"), b"").unwrap();
                std::fs::write(d.join("empty.txt"), "hello").unwrap();
            }),
        ),
        (
            "notaudio",
            BadReason::NotAudio,
            "not a WAV",
            Box::new(|d: &Path| {
                std::fs::write(d.join("notaudio.wav"), "this is a text file, not audio").unwrap();
                std::fs::write(d.join("notaudio.txt"), "hello").unwrap();
            }),
        ),
        (
            "corrupt",
            BadReason::CorruptAudio,
            "invalid WAV",
            Box::new(|d: &Path| {
                // A well-formed RIFF header declaring an unknown sample format (0x7777).
                let mut b = b"RIFF\x2c\x00\x00\x00WAVEfmt \x10\x00\x00\x00".to_vec();
                b.extend_from_slice(&[
                    0x77, 0x77, 1, 0, 0x80, 0x3e, 0, 0, 0, 0x7d, 0, 0, 2, 0, 16, 0,
                ]);
                b.extend_from_slice(b"data\x08\x00\x00\x00");
                b.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
                std::fs::write(d.join("corrupt.wav"), b).unwrap();
                std::fs::write(d.join("corrupt.txt"), "hello").unwrap();
            }),
        ),
        (
            "truncwav",
            BadReason::TruncatedAudio,
            "truncated",
            Box::new(|d: &Path| {
                write_wav(&d.join("full.tmp"), 1.0, 3000.0);
                let b = std::fs::read(d.join("full.tmp")).unwrap();
                std::fs::remove_file(d.join("full.tmp")).unwrap();
                std::fs::write(d.join("truncwav.wav"), &b[..b.len() / 2]).unwrap();
                std::fs::write(d.join("truncwav.txt"), "hello").unwrap();
            }),
        ),
        (
            "truncflac",
            BadReason::TruncatedAudio,
            "FLAC",
            Box::new(move |d: &Path| {
                let b = std::fs::read(&good_flac).unwrap();
                std::fs::write(d.join("truncflac.flac"), &b[..b.len() / 2]).unwrap();
                std::fs::write(d.join("truncflac.txt"), "hello").unwrap();
            }),
        ),
        (
            "silent",
            BadReason::SilentAudio,
            "silent",
            Box::new(|d: &Path| {
                write_wav(&d.join("silent.wav"), 1.0, 0.0);
                std::fs::write(d.join("silent.txt"), "hello").unwrap();
            }),
        ),
        (
            "notext",
            BadReason::MissingTranscript,
            "no transcript",
            Box::new(|d: &Path| write_wav(&d.join("notext.wav"), 1.0, 3000.0)),
        ),
        (
            "emptytext",
            BadReason::EmptyTranscript,
            "no words",
            Box::new(|d: &Path| {
                write_wav(&d.join("emptytext.wav"), 1.0, 3000.0);
                std::fs::write(d.join("emptytext.txt"), " ?! -- ").unwrap();
            }),
        ),
        (
            "tooshort",
            BadReason::DurationMismatch,
            "too short",
            Box::new(|d: &Path| {
                write_wav(&d.join("tooshort.wav"), 0.1, 3000.0);
                std::fs::write(
                    d.join("tooshort.txt"),
                    "this sentence has far too many words for a tenth of a second",
                )
                .unwrap();
            }),
        ),
    ];
    let good = |d: &Path| {
        write_wav(&d.join("good.wav"), 1.0, 3000.0);
        std::fs::write(d.join("good.txt"), "Hello, world.").unwrap();
    };
    let all = t.path().join("all");
    std::fs::create_dir_all(&all).unwrap();
    good(&all);
    for (name, reason, words, make) in &cases {
        let d = t.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        good(&d);
        make(&d);
        make(&all);
        let rows = textdir::rows(&d, &textdir_opts()).unwrap().rows;
        let e = validate(rows.clone(), &opts(false))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(name) && e.contains(words) && e.contains(reason.as_str()),
            "{name}: {e}"
        );
        let (u, r) = validate(rows, &opts(true)).unwrap();
        assert_eq!(u.len(), 1, "{name}");
        assert_eq!(u[0].norm_text, "hello world");
        assert_eq!(r.count(*reason), 1, "{name}: {r}");
        assert_eq!(r.skipped_total(), 1, "{name}: {r}");
    }
    // The CLI prints the per-reason summary with --skip-bad, and fails naming a file without it.
    let out = t.path().join("out");
    let stdout = stdout_ok(
        bin()
            .args(["corpus", "import", "textdir"])
            .arg(&all)
            .args(["--skip-bad", "--out"])
            .arg(&out),
    );
    assert!(
        stdout.contains(&format!("kept 1 utterances, skipped {}", cases.len())),
        "{stdout}"
    );
    for (_, reason, _, _) in &cases {
        assert!(
            stdout.contains(reason.as_str()),
            "{reason:?} missing from summary:\n{stdout}"
        );
    }
    let o = bin()
        .args(["corpus", "import", "textdir"])
        .arg(&all)
        .arg("--out")
        .arg(t.path().join("out2"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains(&*all.to_string_lossy()) && !err.contains("panicked"),
        "{err}"
    );
    assert!(!t.path().join("out2/manifest.tsv").exists());
    // A group regex that a file does not match is a bad row too; a regex without a capture group a config error.
    let mut o = textdir_opts();
    o.group_by = Some(regex::Regex::new("^x(\\d+)").unwrap());
    let e = validate(
        textdir::rows(&t.path().join("silent"), &o).unwrap().rows,
        &opts(false),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("does not match --group-by"), "{e}");
    o.group_by = Some(regex::Regex::new("x").unwrap());
    assert!(textdir::rows(&t.path().join("silent"), &o).is_err());
}

#[test]
fn feature_cache_hits_recovers_and_normalises_per_speaker() {
    let t = tempfile::tempdir().unwrap();
    let files = kathleen_files(6);
    let utts: Vec<Utterance> = files
        .iter()
        .enumerate()
        .map(|(i, f)| Utterance {
            id: format!("s{}-{i}", i % 2),
            audio: f.clone(),
            speaker: format!("s{}", i % 2),
            split: Split::Train,
            duration: 1.0,
            text: "x".into(),
            norm_text: "x".into(),
            phonemes: String::new(),
            group: String::new(),
            augment: String::new(),
        })
        .collect();
    let c = Corpus {
        root: t.path().to_path_buf(),
        utterances: utts,
    };
    let refs: Vec<&Utterance> = c.utterances.iter().collect();
    let cfg = FeatureConfig::default();
    let cache = FeatureCache::new(&c, &cfg).unwrap();
    assert!(cache.dir().starts_with(t.path().join(".cache/features")));
    assert!(cache.dir().ends_with(cfg.stable_hash()));
    cache.precompute(&refs, false).unwrap();
    assert_eq!(cache.computed(), 6);
    let m = cache.get(&c.utterances[2]).unwrap();
    assert_eq!(m, compute_file(&files[2], &cfg).unwrap());
    assert_eq!(cache.frames(&c.utterances[2]).unwrap(), m.rows);
    let lengths = cache.lengths(&refs).unwrap();
    assert_eq!(lengths[2], m.rows);
    let batches = crossover::loader::length_buckets(&lengths, 2000, 4, 0);
    let first: Vec<&Utterance> = batches[0].iter().map(|&i| refs[i]).collect();
    let loaded = cache.batch(&first).unwrap();
    assert!(loaded
        .iter()
        .zip(&batches[0])
        .all(|(m, &i)| m.rows == lengths[i]));
    // A second cache on the same corpus and config only reads.
    let again = FeatureCache::new(&c, &cfg).unwrap();
    again.precompute(&refs, false).unwrap();
    assert_eq!(again.get(&c.utterances[2]).unwrap(), m);
    assert_eq!(again.computed(), 0);
    // The CLI finds the same cache from another process.
    c.save().unwrap();
    let out = stdout_ok(
        bin()
            .args(["corpus", "cache", "--no-progress"])
            .arg(&c.root),
    );
    assert!(
        out.contains("6 utterances") && out.contains("0 computed, 6 already cached"),
        "{out}"
    );
    // A corrupted cache file is recomputed, not trusted.
    let f = again.cache_file(&c.utterances[2]).unwrap();
    let mut bytes = std::fs::read(&f).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0x55;
    std::fs::write(&f, &bytes).unwrap();
    assert_eq!(again.get(&c.utterances[2]).unwrap(), m);
    assert_eq!((again.recovered(), again.computed()), (1, 1));
    std::fs::write(&f, b"junk").unwrap();
    assert_eq!(again.get(&c.utterances[2]).unwrap(), m);
    let cfg2 = FeatureConfig {
        cmvn: CmvnMode::Speaker,
        ..FeatureConfig::default()
    };
    let spk = FeatureCache::new(&c, &cfg2).unwrap();
    // ... but configs that differ only in normalisation share the computed
    // (unnormalised) features: nothing is extracted again.
    assert_eq!(spk.dir(), cache.dir());
    spk.precompute(&refs, false).unwrap();
    assert_eq!(spk.computed(), 0);
    let deltas = FeatureCache::new(
        &c,
        &FeatureConfig {
            deltas: true,
            ..FeatureConfig::default()
        },
    )
    .unwrap();
    assert_ne!(
        deltas.dir(),
        cache.dir(),
        "another extraction, another folder"
    );
    // Speaker CMVN: each speaker's frames have zero mean over its utterances.
    for s in ["s0", "s1"] {
        let mut sum = vec![0f64; spk.dim()];
        let mut frames = 0usize;
        for u in c.utterances.iter().filter(|u| u.speaker == s) {
            let m = spk.get(u).unwrap();
            for r in m.iter_rows() {
                for (a, x) in sum.iter_mut().zip(r) {
                    *a += *x as f64;
                }
            }
            frames += m.rows;
        }
        for a in sum {
            assert!(
                (a / frames as f64).abs() < 1e-3,
                "speaker {s} mean {}",
                a / frames as f64
            );
        }
    }
    // ... but not within one utterance (that would be utterance CMVN).
    let one = spk.get(&c.utterances[0]).unwrap();
    let mean0: f64 = one.iter_rows().map(|r| r[1] as f64).sum::<f64>() / one.rows as f64;
    assert!(mean0.abs() > 1e-3);
    // A missing audio file is an error naming it.
    let mut gone = c.utterances[0].clone();
    gone.audio = t.path().join("gone.wav");
    let e = cache.get(&gone).unwrap_err().to_string();
    assert!(e.contains("gone.wav"), "{e}");
}
