#!/usr/bin/env bash
# Generation speed and disk use of `crossover corpus synth`, with a peer
# measured in the same run: bare espeak-ng (one process per sentence, no
# augmentation) on 200 of the corpus's own sentences.
# Usage: scripts/bench_synth.sh [HOURS=0.5] [OUT=/tmp/synth-bench]
# Prints CPU seconds per audio hour (robust on a shared machine) and wall x real time.
set -euo pipefail
HOURS=${1:-0.5}
OUT=${2:-/tmp/synth-bench}
BIN=${CROSSOVER_BIN:-target/debug/crossover}
# The subcommand words (on the synth branch before merge: corpus-synth).
read -r -a SUB <<< "${SYNTH_SUBCOMMAND:-corpus synth}"
rm -rf "$OUT"
/usr/bin/time -f "%U %S %e" -o "$OUT.time" "$BIN" "${SUB[@]}" --hours "$HOURS" --out "$OUT" --quiet
read -r U S E < "$OUT.time"
AUDIO=$(awk -F'\t' 'NR>1{s+=$5} END{print s}' "$OUT/manifest.tsv")
BYTES=$(du -sb "$OUT/wav" | cut -f1)
awk -v u="$U" -v s="$S" -v e="$E" -v a="$AUDIO" -v b="$BYTES" 'BEGIN{
  printf "synth: %.1f s audio, %.1f s wall (%.0fx real time), %.1f CPU s (%.1f CPU s per audio hour; %.0fx real time on 2 idle cores), %.1f MB per audio hour\n",
    a, e, a/e, u+s, (u+s)/a*3600, 2*a/(u+s), b/1e6/(a/3600) }'
awk -F'\t' 'NR>1 && NR<=201 {print $6}' "$OUT/manifest.tsv" > "$OUT.peer.txt"
: > "$OUT.peer.dur"
/usr/bin/time -f "%U %S %e" -o "$OUT.peer.time" bash -c '
  while IFS= read -r s; do espeak-ng -v en-us -w "$0.peer.wav" "$s"; echo $(( $(stat -c %s "$0.peer.wav") - 44 )) >> "$0.peer.dur"; done < "$0.peer.txt"' "$OUT"
read -r PU PS PE < "$OUT.peer.time"
PA=$(awk '{s+=$1/2/22050} END{print s}' "$OUT.peer.dur")
awk -v u="$PU" -v s="$PS" -v a="$PA" -v su="$U" -v ss="$S" -v sa="$AUDIO" 'BEGIN{
  p=(u+s)/a*3600; q=(su+ss)/sa*3600;
  printf "peer (bare espeak-ng): %.1f s audio, %.1f CPU s per audio hour; synth/peer CPU ratio %.2f\n", a, p, q/p }'
rm -f "$OUT.time" "$OUT.peer.txt" "$OUT.peer.dur" "$OUT.peer.time" "$OUT.peer.wav"
