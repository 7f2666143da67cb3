#!/usr/bin/env bash
# Run every test: sets up what it needs first (idempotent), then the whole
# cargo test suite (unit, integration, golden and doc tests).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
# Benchmarks are compiled (so they cannot rot) but not timed here.
cargo test --all-targets --no-fail-fast "$@"
cargo test --doc --no-fail-fast "$@"
