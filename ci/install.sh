#!/usr/bin/env bash
# Installs the checker and its pinned toolchain (constraints.txt) into a virtual environment.
# Used by the README commands, .ci/run and the Dockerfile, so all three install the same way.
#   ci/install.sh [VENV_DIR]     default .venv; "--system" installs into the current python
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
target=${1:-.venv}
python=${PYTHON:-python3}
if [ "$target" != "--system" ]; then
  if [ ! -x "$target/bin/python" ]; then
    "$python" -m venv "$target"
  fi
  python="$target/bin/python"
fi
pip() { "$python" -m pip --disable-pip-version-check -q "$@"; }
# torch first, alone: with its exact pin, pip takes the local CPU wheel where one is provided
# instead of the CUDA build from the index. TORCH_VERSION overrides it (the Docker image does).
pip install "torch==${TORCH_VERSION:-$(sed -n 's/^torch==//p' "$here/constraints.txt")}"
grep -v '^torch==' "$here/constraints.txt" > "${TMPDIR:-/tmp}/kcheck-constraints.$$"
trap 'rm -f "${TMPDIR:-/tmp}/kcheck-constraints.$$"' EXIT
pip install -c "${TMPDIR:-/tmp}/kcheck-constraints.$$" -e "$here[dev]"
"$python" -c "import checker.toolchain as t; print('kcheck installed:', t.versions())"
