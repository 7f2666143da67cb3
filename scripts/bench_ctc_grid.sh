#!/usr/bin/env bash
# Training throughput of candidate CTC encoders, crossover (tch) against
# PyTorch with the same settings, each pair run back to back in the same
# session so the ratio is not moved by the machine's load (run it on an idle
# machine; never beside a training). Each configuration runs REPEATS pairs
# (default 3), the order within a pair alternating so that neither side
# always gets the cooler CPU. Prints one TSV row per configuration: encoder,
# hidden, layers, batch x frames, parameters, the median audio-s/s of each,
# and the median of the per-pair tch/PyTorch ratios (>= 1.0: crossover is at
# least as fast).
#
#   scripts/bench_ctc_grid.sh                 # the default grid below
#   scripts/bench_ctc_grid.sh gru:192:2:16:1000 lstm:256:1:8:1000
#
# Each argument is encoder:hidden:layers:batch:frames. Needs scripts/setup.sh
# and `cargo build --bin crossover` first.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${CROSSOVER_TORCH_PY:-$HOME/.cache/crossover/torch-venv/bin/python}"
BIN="${CROSSOVER_BIN:-target/debug/crossover}"
THREADS="${THREADS:-2}"
STEPS="${STEPS:-6}"
REPEATS="${REPEATS:-3}"
[ -x "$BIN" ] || { echo "bench_ctc_grid: $BIN not built (cargo build --bin crossover)" >&2; exit 1; }
[ -x "$PY" ] || { echo "bench_ctc_grid: $PY missing (bash scripts/setup.sh)" >&2; exit 1; }
if [ $# -eq 0 ]; then
  # The rows of docs/NEURAL.md, "Speed".
  set -- gru:256:3:16:1000 gru:192:2:16:1000 gru:192:2:13:300 gru:192:2:4:1000 \
         gru:160:2:16:1000 gru:128:2:16:1000 gru:128:2:4:1000 gru:256:1:16:1000 \
         lstm:160:2:16:1000 lstm:192:2:16:1000 lstm:192:2:13:300 lstm:128:2:16:1000 \
         lstm:128:2:13:300 lstm:256:2:16:1000
fi
field() { python3 -c "import json,sys; print(json.loads(sys.stdin.read())['$1'])"; }
median() { python3 -c "import statistics,sys; print(round(statistics.median(map(float, sys.argv[1:])), 3))" "$@"; }
printf 'encoder\thidden\tlayers\tbatch\tframes\tparameters\ttch_audio_s_per_s\tpytorch_audio_s_per_s\tratio\n'
for spec in "$@"; do
  IFS=: read -r enc hid lay bat fr <<<"$spec"
  common=(--threads "$THREADS" --batch "$bat" --frames "$fr" --steps "$STEPS" --warmup 2 --hidden "$hid" --layers "$lay" --encoder "$enc")
  tas=(); pas=(); ratios=()
  for ((r = 0; r < REPEATS; r++)); do
    if ((r % 2 == 0)); then
      t=$("$BIN" bench ctc "${common[@]}")
      p=$("$PY" -W ignore scripts/bench_ctc_pytorch.py "${common[@]}" 2>/dev/null)
    else
      p=$("$PY" -W ignore scripts/bench_ctc_pytorch.py "${common[@]}" 2>/dev/null)
      t=$("$BIN" bench ctc "${common[@]}")
    fi
    tas+=("$(field audio_s_per_s <<<"$t")"); pas+=("$(field audio_s_per_s <<<"$p")")
    ratios+=("$(python3 -c "print(${tas[-1]} / ${pas[-1]})")")
  done
  params=$(field parameters <<<"$t")
  ta=$(median "${tas[@]}"); pa=$(median "${pas[@]}"); ratio=$(median "${ratios[@]}")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$enc" "$hid" "$lay" "$bat" "$fr" "$params" "$ta" "$pa" "$ratio"
done
