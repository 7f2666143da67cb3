#!/usr/bin/env python3
"""Paired bootstrap of an ablation step over sweep cells: does B improve on A?

    scripts/ablation.py CORPUS_DIR A_CELL[,A_CELL...] B_CELL[,B_CELL...] [--bootstrap N] [--split test|dev]

Each cell is a sweep cell folder (OUT/cells/<pipeline>_h<H>_s<S>) holding
hyp_test.txt and hyp_dev.txt. Cells listed together (one per seed) are
pooled: every (seed, utterance) pair is one item of the paired bootstrap,
so both systems are scored on the same resampled items. The references are
the corpus manifest's normalised text. The scoring and the bootstrap are
the tool's own (`crossover score --compare`); this script only pools the
seeds' files. Prints the pooled WER of A and B, the difference with its
interval and P(B better than A).
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# CROSSOVER_BIN: another build of the tool (e.g. a copy a long run uses).
BIN = os.environ.get("CROSSOVER_BIN", os.path.join(ROOT, "target", "debug", "crossover"))


def refs(corpus, split):
    path = os.path.join(corpus, "manifest.tsv")
    with open(path, newline="") as f:
        rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return {r["id"]: r["norm_text"] for r in rows if r["split"] == split}


def pooled(cells, split):
    """Hypotheses of each cell, ids prefixed by the cell's position (its seed)."""
    out = {}
    for k, cell in enumerate(cells):
        path = os.path.join(cell, f"hyp_{split}.txt")
        if not os.path.exists(path):
            sys.exit(f"ablation.py: {path} not found (not a finished sweep cell?)")
        with open(path) as f:
            for line in f:
                uid, _, text = line.rstrip("\n").partition(" ")
                out[f"{k}-{uid}"] = text
    return out


def write(path, texts):
    with open(path, "w") as f:
        for uid in sorted(texts):
            f.write(f"{uid} {texts[uid]}".rstrip() + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus")
    ap.add_argument("a", help="comma-separated cell folders of system A (one per seed)")
    ap.add_argument("b", help="comma-separated cell folders of system B, seeds in the same order")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--split", default="test", choices=["test", "dev"])
    args = ap.parse_args()
    a_cells, b_cells = args.a.split(","), args.b.split(",")
    if len(a_cells) != len(b_cells):
        sys.exit("ablation.py: A and B need the same number of cells (one per seed)")
    ref = refs(args.corpus, args.split)
    ref_pooled = {f"{k}-{u}": t for k in range(len(a_cells)) for u, t in ref.items()}
    with tempfile.TemporaryDirectory() as d:
        paths = {n: os.path.join(d, n) for n in ("ref", "a", "b")}
        write(paths["ref"], ref_pooled)
        write(paths["a"], pooled(b_cells, args.split))  # HYP = B, so P(HYP better) = P(B better)
        write(paths["b"], pooled(a_cells, args.split))
        r = subprocess.run(
            [BIN, "score", "--ref", paths["ref"], "--hyp", paths["a"], "--compare", paths["b"],
             "--bootstrap", str(args.bootstrap), "--seed", "1"],
            capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(r.stderr)
        print(r.stdout.replace(paths["a"], "B").replace(paths["b"], "A"), end="")


if __name__ == "__main__":
    main()
