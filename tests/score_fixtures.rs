//! Scoring checked against the reference tools on 1,200 random pairs
//! (tests/fixtures/score/, made by scripts/make_score_fixtures.py; see the
//! README there): jiwer for unit-cost Levenshtein at word and character level,
//! NIST sclite for the sclite-weighted alignment. Then the real binary.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crossover::score::{self, AlignMode, EditOp, Level, ScoreReport};

mod common;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/score")
        .join(name)
}

/// `id -> [four counts]` from a fixture TSV with a header line.
fn read_tsv(name: &str) -> BTreeMap<String, [u64; 4]> {
    let text = std::fs::read_to_string(fixture(name)).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 5, "{name}: {l}");
            let n: Vec<u64> = f[1..].iter().map(|x| x.parse().unwrap()).collect();
            (f[0].to_string(), [n[0], n[1], n[2], n[3]])
        })
        .collect()
}

fn totals() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("totals.json")).unwrap()).unwrap()
}

fn report(level: Level, mode: AlignMode) -> ScoreReport {
    let refs = score::read_kaldi_text(fixture("ref.txt")).unwrap();
    let hyps = score::read_kaldi_text(fixture("hyp.txt")).unwrap();
    assert!(refs.len() >= 1000);
    score::score(&refs, &hyps, level, mode).unwrap()
}

/// [correct, sub, del, ins] per utterance of our report.
fn ours(r: &ScoreReport) -> BTreeMap<String, [u64; 4]> {
    r.utterances
        .iter()
        .map(|u| {
            let c = &u.alignment.counts;
            (u.id.clone(), [c.correct, c.sub, c.del, c.ins])
        })
        .collect()
}

fn assert_same_counts(
    name: &str,
    ours: &BTreeMap<String, [u64; 4]>,
    theirs: &BTreeMap<String, [u64; 4]>,
) {
    assert_eq!(ours.len(), theirs.len());
    let diffs: Vec<String> = theirs
        .iter()
        .filter(|(id, c)| ours.get(*id) != Some(c))
        .map(|(id, c)| format!("{id}: ours {:?} vs {name} {c:?}", ours.get(id)))
        .collect();
    assert!(
        diffs.is_empty(),
        "{} of {} utterances differ from {name} (C S D I), first: {:?}",
        diffs.len(),
        theirs.len(),
        &diffs[..diffs.len().min(5)]
    );
}

fn kaldi_line(label: &str, sub: u64, del: u64, ins: u64, ref_len: u64) -> String {
    let e = sub + del + ins;
    format!(
        "%{label} {:.2} [ {e} / {ref_len}, {ins} ins, {del} del, {sub} sub ]",
        100.0 * e as f64 / ref_len as f64
    )
}

fn line_from_totals(t: &serde_json::Value, key: &str, label: &str) -> String {
    let g = |k: &str| t[key][k].as_u64().unwrap();
    let hits = if key.starts_with("jiwer") {
        g("hits")
    } else {
        g("correct")
    };
    kaldi_line(
        label,
        g("sub"),
        g("del"),
        g("ins"),
        hits + g("sub") + g("del"),
    )
}

#[test]
fn fixtures_cover_the_edge_cases() {
    let t = totals();
    assert!(t["pairs"].as_u64().unwrap() >= 1000);
    assert!(t["empty_refs"].as_u64().unwrap() > 10);
    assert!(t["empty_hyps"].as_u64().unwrap() > 10);
    // Both kinds of one-sided emptiness, and both sides empty, are present.
    let refs = score::read_kaldi_text(fixture("ref.txt")).unwrap();
    let hyps = score::read_kaldi_text(fixture("hyp.txt")).unwrap();
    let count =
        |f: &dyn Fn(&str, &str) -> bool| refs.iter().filter(|(k, r)| f(r, &hyps[*k])).count();
    assert!(count(&|r, h| r.is_empty() && h.is_empty()) >= 10);
    assert!(count(&|r, h| r.is_empty() && !h.is_empty()) >= 30);
    assert!(count(&|r, h| !r.is_empty() && h.is_empty()) >= 30);
}

#[test]
fn levenshtein_word_counts_equal_jiwer() {
    let r = report(Level::Word, AlignMode::Levenshtein);
    assert_same_counts("jiwer", &ours(&r), &read_tsv("jiwer_word.tsv"));
    let t = &totals()["jiwer_word"];
    let c = &r.totals;
    assert_eq!(
        [c.correct, c.sub, c.del, c.ins],
        ["hits", "sub", "del", "ins"].map(|k| t[k].as_u64().unwrap())
    );
}

#[test]
fn levenshtein_char_counts_equal_jiwer_cer() {
    let r = report(Level::Char, AlignMode::Levenshtein);
    assert_same_counts("jiwer.cer", &ours(&r), &read_tsv("jiwer_char.tsv"));
    let t = &totals()["jiwer_char"];
    let c = &r.totals;
    assert_eq!(
        [c.correct, c.sub, c.del, c.ins],
        ["hits", "sub", "del", "ins"].map(|k| t[k].as_u64().unwrap())
    );
}

#[test]
fn sclite_mode_counts_equal_sclite_per_utterance() {
    let r = report(Level::Word, AlignMode::Sclite);
    assert_same_counts("sclite", &ours(&r), &read_tsv("sclite_word.tsv"));
    // The two modes really differ on these pairs (see docs/SCORING.md).
    let lev = report(Level::Word, AlignMode::Levenshtein);
    assert!(r.totals.errors() > lev.totals.errors());
}

/// Stronger than counts: the alignment itself (order of C/S/D/I columns)
/// equals the one sclite prints in its pra report.
#[test]
fn sclite_mode_alignments_equal_sclite_pra() {
    let pra = std::fs::read_to_string(fixture("sclite_pra.txt")).unwrap();
    let mut theirs: BTreeMap<String, String> = BTreeMap::new();
    let mut id = String::new();
    let mut ref_row: Vec<String> = Vec::new();
    for line in pra.lines() {
        if let Some(rest) = line.strip_prefix("id: (") {
            id = rest.trim_end_matches(')').to_string();
            theirs.insert(id.clone(), String::new()); // empty-vs-empty has no rows
        } else if let Some(rest) = line.strip_prefix("REF: ") {
            ref_row = rest.split_whitespace().map(str::to_string).collect();
        } else if let Some(rest) = line.strip_prefix("HYP: ") {
            let hyp_row: Vec<&str> = rest.split_whitespace().collect();
            assert_eq!(hyp_row.len(), ref_row.len(), "{id}");
            let ops: String = ref_row
                .iter()
                .zip(&hyp_row)
                .map(|(r, h)| {
                    if r.starts_with('*') {
                        'I'
                    } else if h.starts_with('*') {
                        'D'
                    } else if r == h && r.chars().all(|c| c.is_lowercase()) {
                        'C' // sclite upper-cases the words of error columns
                    } else {
                        'S'
                    }
                })
                .collect();
            theirs.insert(id.clone(), ops);
        }
    }
    let r = report(Level::Word, AlignMode::Sclite);
    assert_eq!(theirs.len(), r.utterances.len());
    let mut differ = Vec::new();
    for u in &r.utterances {
        let mine: String = u
            .alignment
            .ops
            .iter()
            .map(|t| match t.op {
                EditOp::Match => 'C',
                EditOp::Sub => 'S',
                EditOp::Del => 'D',
                EditOp::Ins => 'I',
            })
            .collect();
        if theirs[&u.id] != mine {
            differ.push(format!("{}: ours {mine} sclite {}", u.id, theirs[&u.id]));
        }
    }
    assert!(
        differ.is_empty(),
        "{} alignments differ, first: {:?}",
        differ.len(),
        &differ[..differ.len().min(5)]
    );
}

fn crossover(args: &[&str]) -> (bool, String, String) {
    let out = common::bin().args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn binary_prints_the_reference_tools_totals() {
    let (r, h) = (fixture("ref.txt"), fixture("hyp.txt"));
    let (r, h) = (r.to_str().unwrap(), h.to_str().unwrap());
    let t = totals();

    let (ok, out, err) = crossover(&["score", "--ref", r, "--hyp", h]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], line_from_totals(&t, "jiwer_word", "WER"));
    // SER from jiwer's per-utterance rows: utterances with any error.
    let jw = read_tsv("jiwer_word.tsv");
    let ser_errs = jw.values().filter(|c| c[1] + c[2] + c[3] > 0).count();
    assert_eq!(
        lines[1],
        format!(
            "%SER {:.2} [ {ser_errs} / {} ]",
            100.0 * ser_errs as f64 / jw.len() as f64,
            jw.len()
        )
    );
    assert_eq!(
        lines[2],
        format!("Scored {} sentences, 0 not present in hyp.", jw.len())
    );

    let (ok, out, err) = crossover(&["score", "--ref", r, "--hyp", h, "--level", "char"]);
    assert!(ok, "{err}");
    assert_eq!(
        out.lines().next().unwrap(),
        line_from_totals(&t, "jiwer_char", "CER")
    );

    let (ok, out, err) = crossover(&["score", "--ref", r, "--hyp", h, "--sclite"]);
    assert!(ok, "{err}");
    assert_eq!(
        out.lines().next().unwrap(),
        line_from_totals(&t, "sclite_word", "WER")
    );
}

#[test]
fn binary_small_example_per_utt_bootstrap_and_compare() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("ref"), "u1 The cat sat.\nu2 on the mat\nu3 hello there\n").unwrap();
    std::fs::write(p("hyp"), "u1 the cat sat\nu2 on a mat mat\n").unwrap();
    std::fs::write(p("hyp2"), "u1 the bat sat\nu2 on a\nu3 yellow\n").unwrap();
    let s = |x: &PathBuf| x.to_str().unwrap().to_string();
    let (ok, out, err) = crossover(&[
        "score",
        "--ref",
        &s(&p("ref")),
        "--hyp",
        &s(&p("hyp")),
        "--per-utt",
        &s(&p("pra")),
    ]);
    assert!(ok, "{err}");
    // u2: 1 sub + 1 ins; u3 missing: 2 deletions. Normalisation makes u1 correct.
    assert_eq!(out, "%WER 50.00 [ 4 / 8, 1 ins, 2 del, 1 sub ]\n%SER 66.67 [ 2 / 3 ]\nScored 3 sentences, 1 not present in hyp.\n");
    let pra = std::fs::read_to_string(p("pra")).unwrap();
    // The same alignment jiwer.visualize_alignment shows for this pair.
    assert!(pra.contains("id: u2\nScores: (#C #S #D #I) 2 1 0 1\nREF:  on *** the mat\nHYP:  on a   mat mat\nEval:    I   S\n"), "{pra}");
    assert!(
        pra.contains("id: u3\nNote: no hypothesis for this id; scored as empty\n"),
        "{pra}"
    );

    let (ok, raw, _) = crossover(&[
        "score",
        "--ref",
        &s(&p("ref")),
        "--hyp",
        &s(&p("hyp")),
        "--no-normalise",
    ]);
    assert!(ok);
    assert!(
        raw.starts_with("%WER 75.00 [ 6 / 8, 1 ins, 2 del, 3 sub ]"),
        "{raw}"
    );

    let args = [
        "score",
        "--ref",
        &s(&p("ref")),
        "--hyp",
        &s(&p("hyp")),
        "--bootstrap",
        "200",
        "--seed",
        "3",
        "--compare",
        &s(&p("hyp2")),
    ];
    let (ok, out1, err) = crossover(&args);
    assert!(ok, "{err}");
    let (_, out2, _) = crossover(&args);
    assert_eq!(out1, out2, "same seed, same output");
    assert!(out1.contains("%WER 95% CI [ "), "{out1}");
    assert!(
        out1.contains("P(") && out1.contains("%WER difference (HYP - HYP2) -12.50"),
        "{out1}"
    );
}

#[test]
fn binary_errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("ref"), "u1 a b\n").unwrap();
    std::fs::write(p("hyp"), "u1 a b\nghost7 x\n").unwrap();
    std::fs::write(p("blank"), "u1 a\n\n").unwrap();
    let s = |x: PathBuf| x.to_str().unwrap().to_string();
    let (ok, out, err) = crossover(&["score", "--ref", &s(p("ref")), "--hyp", &s(p("hyp"))]);
    assert!(!ok && out.is_empty());
    assert!(err.contains("'ghost7' has no reference"), "{err}");
    let (ok, _, err) = crossover(&["score", "--ref", &s(p("ref")), "--hyp", &s(p("missing"))]);
    assert!(!ok && err.contains("missing"), "{err}");
    let (ok, _, err) = crossover(&["score", "--ref", &s(p("blank")), "--hyp", &s(p("ref"))]);
    assert!(!ok && err.contains("blank: line 2: blank line"), "{err}");
    let (ok, _, err) = crossover(&[
        "score",
        "--ref",
        &s(p("ref")),
        "--hyp",
        &s(p("ref")),
        "--level",
        "syllable",
    ]);
    assert!(!ok && err.contains("syllable"), "{err}");
}
