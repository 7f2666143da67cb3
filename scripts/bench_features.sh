#!/usr/bin/env bash
# One-thread MFCC + deltas speed, crossover vs kaldi-native-fbank (Python),
# on the same 16 kHz samples, in the same run. Prints both as x real time
# (median of REPEATS runs each) and their ratio.
#   scripts/bench_features.sh [NFILES=100] [REPEATS=7]
# Needs ~/.cache/crossover/ref-venv with kaldi-native-fbank and numpy:
#   python3 -m venv ~/.cache/crossover/ref-venv && ~/.cache/crossover/ref-venv/bin/pip install kaldi-native-fbank numpy
set -euo pipefail
cd "$(dirname "$0")/.."
NFILES=${1:-100}
REPEATS=${2:-7}
PY=${REF_PY:-$HOME/.cache/crossover/ref-venv/bin/python}
CORPORA=${CROSSOVER_SHARED:-../shared/corpora}
[ -x "$PY" ] || { echo "no $PY: create the reference venv (see the header of $0)" >&2; exit 1; }
[ -d "$CORPORA/kathleen" ] || { echo "no $CORPORA/kathleen (set CROSSOVER_SHARED)" >&2; exit 1; }
cargo build --release --quiet --bin crossover --example feature_speed
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
mapfile -t FILES < <(ls "$CORPORA"/kathleen/*.flac | sort | head -n "$NFILES")
target/release/crossover features --dump-samples "$TMP" "${FILES[@]}" > /dev/null
OURS=$(RAYON_NUM_THREADS=1 target/release/examples/feature_speed "$TMP" "$REPEATS")
KNF=$("$PY" - "$TMP" "$REPEATS" <<'PYEOF'
import pathlib, sys, time
import numpy as np
import kaldi_native_fbank as knf
d, repeats = pathlib.Path(sys.argv[1]), int(sys.argv[2])
audio = [np.fromfile(p, dtype="<f4") for p in sorted(d.glob("*.f32"))]
seconds = sum(len(a) for a in audio) / 16000
o = knf.MfccOptions(); o.frame_opts.dither = 0.0
lists = [a.tolist() for a in audio]  # conversion outside the timed loops
def median_rate(work):
    rates = []
    for _ in range(repeats):
        t = time.perf_counter()
        work()
        rates.append(seconds / (time.perf_counter() - t))
    rates.sort()
    return rates[len(rates) // 2], rates[0], rates[-1]
def mfcc_only():
    # Features are computed inside accept_waveform/input_finished (C++).
    for x in lists:
        c = knf.OnlineMfcc(o); c.accept_waveform(16000, x); c.input_finished()
def mfcc_deltas():
    for x in lists:
        c = knf.OnlineMfcc(o); c.accept_waveform(16000, x); c.input_finished()
        m = np.array([c.get_frame(i) for i in range(c.num_frames_ready)], dtype=np.float32)
        knf.compute_deltas(knf.DeltaOptions(), m)  # Kaldi add-deltas: order 2, window 2
full = median_rate(mfcc_deltas)
only = median_rate(mfcc_only)
print(f"kaldi-native-fbank {knf.__version__} {len(audio)} files {seconds:.1f} s audio: median {only[0]:.0f}x real time (min {only[1]:.0f}, max {only[2]:.0f}) over {repeats} repeats, MFCC only in C++ (no frame retrieval, no deltas)")
print(f"kaldi-native-fbank MFCC + get_frame + compute_deltas from Python: median {full[0]:.0f}x real time (min {full[1]:.0f}, max {full[2]:.0f})")
PYEOF
)
echo "$OURS"
echo "$KNF"
o=$(sed -E 's/.*median ([0-9]+)x.*/\1/' <<<"$OURS"); k=$(head -1 <<<"$KNF" | sed -E 's/.*median ([0-9]+)x.*/\1/')
echo "ratio crossover (MFCC+deltas) / kaldi-native-fbank (MFCC only, its fastest): $(awk -v o="$o" -v k="$k" 'BEGIN{printf "%.2f", o/k}')x (one thread each; load: $(cut -d' ' -f1-3 /proc/loadavg))"
