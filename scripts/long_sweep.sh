#!/usr/bin/env bash
# The long synthetic sweep (reports/example-long): the default sweep's task
# (corpora/synth-long.toml: the same voices, vocabulary, dev and test as
# synth-default) with training sizes to 8 h, over the default report's four
# pipelines, so that what the default report projects beyond 1 h is
# measured. Hours of machine time on 2 cores: re-run the same command to
# continue (finished cells are reused, an interrupted network resumes from
# its last epoch), and commit the report when every cell has finished.
#
#   scripts/long_sweep.sh [OUT] [extra sweep flags...]
#
# OUT defaults to reports/example-long. The projection check cuts at 1 h,
# the default grid's largest size (`--fit-upto 1`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${1:-reports/example-long}"
shift || true
cargo build --bin crossover
BIN=target/debug/crossover
# synth-long differs from synth-default only in its hours, and the generator
# makes a longer corpus by extending a shorter one (the same first 2 h, the
# same dev and test): start from a copy of a built synth-default and
# `corpus build` generates the other 6 h. The audio and the feature cache
# are hard-linked (files there are written once, or replaced by a rename,
# never rewritten in place); everything else is copied.
SRC=corpora/build/synth-default DST=corpora/build/synth-long
if [ ! -e "$DST" ] && [ -f "$SRC/recipe.sha256" ]; then
  mkdir -p "$DST.partial"
  for f in "$SRC"/* "$SRC"/.[!.]*; do
    case "$(basename "$f")" in
      wav|.cache) cp -al "$f" "$DST.partial/" ;;
      *) cp -a "$f" "$DST.partial/" ;;
    esac
  done
  mv "$DST.partial" "$DST"
fi
"$BIN" corpus build corpora/synth-long.toml
exec "$BIN" sweep --corpus corpora/synth-long.toml \
  --pipelines pipelines/classical.toml,pipelines/phone-ctc.toml,pipelines/char-ctc.toml,pipelines/char-ctc-lm.toml \
  --hours 0.1,0.3,1,2,4,8 --seeds 1,2 --fit-upto 1 --out "$OUT" "$@"
