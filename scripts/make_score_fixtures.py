#!/usr/bin/env python3
"""Make the scoring reference fixtures in tests/fixtures/score/.

Generates random reference/hypothesis pairs (fixed seed; small vocabularies so
that many alignments of equal cost exist; empty references and empty
hypotheses included) and scores them with the two reference tools:

- jiwer (PyPI, unit-cost Levenshtein through RapidFuzz): per-utterance and
  total hits/substitutions/deletions/insertions at word level
  (jiwer.process_words) and character level (jiwer.process_characters, the
  counts behind jiwer.cer);
- NIST sclite (Debian package sctk): per-utterance #C #S #D #I parsed from
  `sctk sclite -r ref.trn trn -h hyp.trn trn -i spu_id -o pra stdout`.

Run from the repository root with a Python that has jiwer installed:

    python3 -m venv ~/.cache/crossover/ref-venv
    ~/.cache/crossover/ref-venv/bin/pip install jiwer
    ~/.cache/crossover/ref-venv/bin/python scripts/make_score_fixtures.py

Writes: ref.txt, hyp.txt (Kaldi text), ref.trn, hyp.trn (sclite trn),
jiwer_word.tsv, jiwer_char.tsv, sclite_word.tsv, sclite_pra.txt (sclite's own
alignments, for reading), totals.json and versions.txt.
"""
import json
import random
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import jiwer

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "score"
SEED = 20260601
N_PAIRS = 1200

# Words share letters so that character-level alignments are ambiguous too.
VOCAB = ["a", "b", "ab", "ba", "abc", "c", "ca", "bab"]


def utt_id(k: int) -> str:
    # sclite's spu_id format: speaker_utterance.
    return f"spk{k % 7}_{k:05d}"


def make_pairs(rng: random.Random):
    pairs = []
    for k in range(N_PAIRS):
        kind = rng.random()
        if kind < 0.05:
            ref = []  # empty reference
        else:
            ref = [rng.choice(VOCAB) for _ in range(rng.randint(1, 18))]
        style = rng.random()
        if not ref and style < 0.7:
            hyp = [rng.choice(VOCAB) for _ in range(rng.randint(1, 10))]  # insertions only
        elif style < 0.08:
            hyp = []  # empty hypothesis
        elif style < 0.30:
            hyp = [rng.choice(VOCAB) for _ in range(rng.randint(0, 18))]  # unrelated
        elif style < 0.35:
            hyp = list(ref)  # perfect
        else:
            # noisy copy: substitutions, deletions, insertions, repeated words
            hyp = []
            p = rng.uniform(0.05, 0.5)
            for w in ref:
                x = rng.random()
                if x < p / 3:
                    continue
                elif x < 2 * p / 3:
                    hyp.append(rng.choice(VOCAB))
                else:
                    hyp.append(w)
                if rng.random() < p / 3:
                    hyp.append(rng.choice([w, rng.choice(VOCAB)]))
        pairs.append((utt_id(k), " ".join(ref), " ".join(hyp)))
    return pairs


def jiwer_counts(ref: str, hyp: str, chars: bool):
    fn = jiwer.process_characters if chars else jiwer.process_words
    try:
        o = fn(ref, hyp)
        return (o.hits, o.substitutions, o.deletions, o.insertions), "jiwer"
    except ValueError:
        # Older jiwer versions refuse an empty reference: every hypothesis unit
        # is then an insertion, which is what any Levenshtein alignment gives.
        assert ref == ""
        n = len(hyp) if chars else len(hyp.split())
        return (0, 0, 0, n), "empty-ref-fallback"


def run_sclite():
    cmd = ["sctk", "sclite", "-r", "ref.trn", "trn", "-h", "hyp.trn", "trn", "-i", "spu_id", "-o", "pra", "stdout"]
    out = subprocess.run(cmd, cwd=OUT, capture_output=True, text=True, check=True).stdout
    counts = {}
    cur = None
    for line in out.splitlines():
        m = re.match(r"id: \((.*)\)$", line)
        if m:
            cur = m.group(1)
        m = re.match(r"Scores: \(#C #S #D #I\) (\d+) (\d+) (\d+) (\d+)$", line)
        if m:
            counts[cur] = tuple(int(x) for x in m.groups())
    return counts, out, " ".join(cmd)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    pairs = make_pairs(random.Random(SEED))
    with open(OUT / "ref.txt", "w") as f:
        for i, r, _ in pairs:
            f.write(f"{i} {r}".rstrip() + "\n")
    with open(OUT / "hyp.txt", "w") as f:
        for i, _, h in pairs:
            f.write(f"{i} {h}".rstrip() + "\n")
    with open(OUT / "ref.trn", "w") as f:
        for i, r, _ in pairs:
            f.write(f"{r} ({i})\n")
    with open(OUT / "hyp.trn", "w") as f:
        for i, _, h in pairs:
            f.write(f"{h} ({i})\n")

    totals = {}
    fallbacks = 0
    for level, chars in (("word", False), ("char", True)):
        tot = [0, 0, 0, 0]
        with open(OUT / f"jiwer_{level}.tsv", "w") as f:
            f.write("id\thits\tsub\tdel\tins\n")
            for i, r, h in pairs:
                c, how = jiwer_counts(r, h, chars)
                fallbacks += how != "jiwer"
                f.write(f"{i}\t" + "\t".join(map(str, c)) + "\n")
                tot = [a + b for a, b in zip(tot, c)]
        # jiwer's own corpus-level totals over all pairs in one call must agree
        # with the per-pair sums (it sums the same per-sentence counts).
        fn = jiwer.process_characters if chars else jiwer.process_words
        try:
            o = fn([r for _, r, _ in pairs], [h for _, _, h in pairs])
            assert [o.hits, o.substitutions, o.deletions, o.insertions] == tot, (level, tot)
        except ValueError:
            pass
        totals[f"jiwer_{level}"] = dict(zip(["hits", "sub", "del", "ins"], tot))

    sc, pra, cmd = run_sclite()
    assert len(sc) == len(pairs), (len(sc), len(pairs))
    tot = [0, 0, 0, 0]
    with open(OUT / "sclite_word.tsv", "w") as f:
        f.write("id\tcorrect\tsub\tdel\tins\n")
        for i, _, _ in pairs:
            f.write(f"{i}\t" + "\t".join(map(str, sc[i])) + "\n")
            tot = [a + b for a, b in zip(tot, sc[i])]
    (OUT / "sclite_pra.txt").write_text(pra)
    totals["sclite_word"] = dict(zip(["correct", "sub", "del", "ins"], tot))
    totals["pairs"] = len(pairs)
    totals["empty_refs"] = sum(1 for _, r, _ in pairs if not r)
    totals["empty_hyps"] = sum(1 for _, _, h in pairs if not h)
    totals["empty_ref_fallbacks"] = fallbacks
    (OUT / "totals.json").write_text(json.dumps(totals, indent=2) + "\n")

    sctk = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "sctk"], capture_output=True, text=True).stdout
    (OUT / "versions.txt").write_text(
        f"python {sys.version.split()[0]}\njiwer {version('jiwer')}\n"
        f"rapidfuzz {version('rapidfuzz')}\nsctk (Debian) {sctk}\nsclite command (in this folder): {cmd}\n"
    )
    print(json.dumps(totals, indent=2))


if __name__ == "__main__":
    main()
