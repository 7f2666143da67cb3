#!/usr/bin/env bash
# One short, prepared CUDA check (docs/NEURAL.md, "GPU check"): build, train
# the same char-ctc cell on the CPU and on CUDA for a fixed work budget (an
# update cap, so both runs do the same updates), compare their loss curves,
# and report training audio-seconds per second on each device.
#
#   scripts/device_check.sh [CORPUS]   (default: corpora/build/synth-quick)
#
# Needs a machine where `scripts/setup.sh` has run (libtorch's PyPI wheel
# carries CUDA) and an NVIDIA GPU. Tolerance: every epoch's mean training
# loss within 5 % (relative) of the CPU run's. The runs cannot agree bit for
# bit: cuDNN's GRU kernels sum in another order than the CPU's, and the
# difference grows with each update; 5 % over 4 epochs separates that drift
# from a broken device path (a wrong layout or mask gives losses that differ
# by far more from the first epoch on). Exit status 0 when within tolerance.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CORPUS="${1:-corpora/build/synth-quick}"
OUT="${OUT:-$ROOT/target/device-check}"
mkdir -p "$OUT"
if [ ! -f "$CORPUS/manifest.tsv" ]; then
    echo "device_check: no corpus at $CORPUS (build one with: crossover corpus build corpora/synth-quick.toml)" >&2
    exit 2
fi
cargo build --bin crossover
BIN=target/debug/crossover
cat > "$OUT/cell.toml" <<'TOML'
# The device check's cell: the shipped char-ctc model, 4 epochs, at most 200 updates.
kind = "char-ctc"
presets = []
[model]
encoder = "lstm"
hidden = 160
layers = 2
[train]
max_epochs = 4
max_updates = 200
lr = 3e-3
patience = 0
TOML
for dev in cpu cuda; do
    rm -rf "$OUT/$dev"
    /usr/bin/time -f "%e" -o "$OUT/$dev.seconds" \
        "$BIN" train --pipeline "$OUT/cell.toml" --corpus "$CORPUS" --seed 1 \
        --device "$dev" --quiet --out "$OUT/$dev"
done
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
runs = {}
for dev in ("cpu", "cuda"):
    st = json.load(open(f"{out}/{dev}/checkpoints/state.json"))
    runs[dev] = st
    speed = st["audio_seconds_trained"] / max(st["train_seconds"], 1e-9)
    print(f"{dev}: {st['epochs_done']} epochs, {st['step']} updates, "
          f"{st['audio_seconds_trained']:.0f} audio-s in {st['train_seconds']:.1f} s = {speed:.0f} audio-s/s")
cpu = [e["train_loss"] for e in runs["cpu"]["history"]]
gpu = [e["train_loss"] for e in runs["cuda"]["history"]]
worst = 0.0
for i, (a, b) in enumerate(zip(cpu, gpu), 1):
    rel = abs(a - b) / max(abs(a), 1e-9)
    worst = max(worst, rel)
    print(f"epoch {i}: loss cpu {a:.4f} cuda {b:.4f} (relative difference {100*rel:.2f} %)")
ok = len(cpu) == len(gpu) and worst <= 0.05
print("within tolerance (5 %)" if ok else f"OUT OF TOLERANCE: worst {100*worst:.2f} %")
sys.exit(0 if ok else 1)
PY
