#!/usr/bin/env python3
"""Compare two sweeps' results.csv cell by cell, as a "run twice" check.

    scripts/compare_results.py FIRST/results.csv SECOND/results.csv

Cells are matched by (pipeline, target_hours, seed); every column is
compared except those that measure the machine rather than the result
(the same list as `stable` in tests/common/mod.rs). Cells missing from
either file are counted, not failed, so a second run still in progress can
be checked on the cells it has. Exit status 1 when a shared cell differs.
"""
import csv
import sys

MACHINE_COLUMNS = {
    "train_seconds",
    "decode_rtf",
    "node",
    "train_cpu_seconds",
    "peak_rss_mb",
    "feature_cache_mb",
    "model_disk_mb",
}


def cells(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {(r["pipeline"], r["target_hours"], r["seed"]): r for r in rows if r["status"] == "ok"}


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    first, second = (cells(p) for p in sys.argv[1:])
    shared = sorted(set(first) & set(second))
    differing = 0
    for key in shared:
        a, b = first[key], second[key]
        diff = [c for c in a if c not in MACHINE_COLUMNS and a[c] != b.get(c)]
        name = "%s_h%s_s%s" % key
        if diff:
            differing += 1
            print("DIFFERS %s: %s" % (name, ", ".join("%s %r -> %r" % (c, a[c], b.get(c)) for c in diff)))
        else:
            print("same    %s (WER %s; train s %s -> %s)" % (name, a["wer"], a["train_seconds"], b["train_seconds"]))
    only = len(set(first) ^ set(second))
    print(
        "%d cells in both: %d identical, %d differ; %d in one file only"
        % (len(shared), len(shared) - differing, differing, only)
    )
    sys.exit(1 if differing else 0)


if __name__ == "__main__":
    main()
