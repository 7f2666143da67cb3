#!/usr/bin/env bash
# The main job: set up (idempotent), build, then run the default sweep on the
# generated synthetic corpus (generated on first use). Extra arguments go to
# `crossover sweep`, e.g. `scripts/main.sh --quick` or `--out reports/mine`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
# The dev profile is optimised (see Cargo.toml) and shares its build with the tests.
cargo build --bin crossover
exec target/debug/crossover sweep "$@"
