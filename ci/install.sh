#!/usr/bin/env bash
# Installs the checker and its pinned toolchain (constraints.txt) into a virtual environment.
# The one install path: the README commands, .ci/run, the Dockerfile and the CI workflows all
# run this script, so what CI tests on CPU is what the GPU image installs.
#
#   ci/install.sh [--deps-only] [VENV_DIR]   default .venv; "--system" installs into the current python
#
#   --deps-only        only the pinned packages of constraints.txt, not this package: the Dockerfile
#                      runs it before copying the source so that the toolchain layer stays cached
#                      while the code changes (.ci/run runs both steps the same way)
#   PYTHON             interpreter that creates the venv (default python3)
#   TORCH_VERSION      overrides the torch pin (the Docker image takes a CUDA build)
#   TRITON_VERSION, HELION_VERSION   override those pins
#   TORCH_INDEX_URL    package index for torch alone, e.g. https://download.pytorch.org/whl/cpu
#                      for the small CPU build on GitHub-hosted runners (reports and comments)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
deps_only=0
if [ "${1:-}" = "--deps-only" ]; then
  deps_only=1
  shift
fi
target=${1:-.venv}
python=${PYTHON:-python3}
if [ "$target" != "--system" ]; then
  if [ ! -x "$target/bin/python" ]; then
    "$python" -m venv "$target"
  fi
  python="$target/bin/python"
fi
pip() { "$python" -m pip --disable-pip-version-check -q "$@"; }

constraints="${TMPDIR:-/tmp}/kcheck-constraints.$$"
trap 'rm -f "$constraints"' EXIT
# The pins with the overrides applied; torch is left out of it and installed first, alone: with
# its exact pin pip takes a local CPU wheel where one is provided (find-links) instead of the
# CUDA build from the index.
torch_pin="torch==${TORCH_VERSION:-$(sed -n 's/^torch==//p' "$here/constraints.txt")}"
sed -e '/^torch==/d' \
  -e "${TRITON_VERSION:+s/^triton==.*/triton==$TRITON_VERSION/}" \
  -e "${HELION_VERSION:+s/^helion==.*/helion==$HELION_VERSION/}" \
  "$here/constraints.txt" >"$constraints"

pip install ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "$torch_pin"
if [ "$deps_only" = 1 ]; then
  # Every pin is also a requirement here; the full install below adds whatever is left.
  pip install -c "$constraints" -r "$constraints"
  echo "kcheck dependencies installed into $python"
  exit 0
fi
pip install -c "$constraints" -e "${here}[dev]"
"$python" -c "import checker.toolchain as t; print('kcheck installed:', t.versions())"
