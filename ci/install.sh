#!/usr/bin/env bash
# Installs the checker and its pinned toolchain (constraints.txt) into a virtual environment.
# The one install path: the README commands, .ci/run, the Dockerfile and the CI workflows all
# run this script, so what CI tests on CPU is what the GPU image installs.
#
#   ci/install.sh [--deps-only] [--runtime-only] [VENV_DIR]
#                      VENV_DIR default .venv; "--system" installs into the current python
#
#   --deps-only        only the pinned packages of constraints.txt, not this package: the Dockerfile
#                      runs it before copying the source so that the toolchain layer stays cached
#                      while the code changes (.ci/run runs both steps the same way)
#   --runtime-only     the runtime dependencies only (pyproject's [project] dependencies, pinned by
#                      constraints.txt), without the dev extras (test-only packages, linters): what
#                      `kcheck run` needs. .ci/run runs the main job in such a venv under the
#                      distribution's python3. With --deps-only: those dependencies without this
#                      package. Use a fresh VENV_DIR: nothing already installed is removed.
#   PYTHON             interpreter that creates the venv (default python3)
#   TORCH_VERSION      overrides the torch pin (the Docker image takes a CUDA build)
#   TRITON_VERSION, HELION_VERSION   override those pins
#   TORCH_INDEX_URL    package index for torch alone, e.g. https://download.pytorch.org/whl/cpu
#                      for the small CPU build on GitHub-hosted runners (reports and comments)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
deps_only=0
runtime_only=0
while [ $# -gt 0 ]; do
  case $1 in
    --deps-only) deps_only=1 ;;
    --runtime-only) runtime_only=1 ;;
    --system) break ;;
    -*)
      echo "ci/install.sh: unknown option $1 (see the header of ci/install.sh)" >&2
      exit 2
      ;;
    *) break ;;
  esac
  shift
done
target=${1:-.venv}
python=${PYTHON:-python3}
if [ "$target" != "--system" ]; then
  if [ ! -x "$target/bin/python" ]; then
    "$python" -m venv "$target"
  fi
  python="$target/bin/python"
fi
pip() { "$python" -m pip --disable-pip-version-check -q "$@"; }
# Bytecode for everything installed, written now rather than by the first import of each process:
# torch alone is ~2,000 modules, and a worker process that compiles its imports pays that at
# start-up (issue 27). compileall skips what is already compiled; PYTHONDONTWRITEBYTECODE (the
# Dockerfile sets it so that running code writes nothing) does not stop it. pip installs with
# --no-compile and compile_bytecode writes it all, one process per core: pip compiles in one
# process (torch on the 2-core CI machine: 34 s of CPU in pip, against 9 s in pip and 22 s
# spread over the cores by compileall; docs/ci.md).
compile_bytecode() {
  "$python" -m compileall -q -j 0 "$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" >/dev/null || true
}

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

pip install --no-compile ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "$torch_pin"
if [ "$runtime_only" = 1 ]; then
  extras=""
else
  extras="[dev]"
fi
if [ "$deps_only" = 1 ]; then
  requirements="$constraints"
  if [ "$runtime_only" = 1 ]; then
    # pyproject's runtime dependencies, read by the target's own python (>= 3.11 has tomllib).
    requirements="$constraints.runtime"
    trap 'rm -f "$constraints" "$requirements"' EXIT
    "$python" -c 'import sys, tomllib
print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]))' \
      "$here/pyproject.toml" >"$requirements"
  fi
  # Every pin is also a requirement here (with --runtime-only, every runtime dependency); the
  # full install below adds whatever is left.
  pip install --no-compile -c "$constraints" -r "$requirements"
  compile_bytecode
  echo "kcheck dependencies${extras:+ and dev extras} installed into $python"
  exit 0
fi
pip install --no-compile -c "$constraints" -e "${here}${extras}"
compile_bytecode
"$python" -c "import checker.toolchain as t; print('kcheck installed:', t.versions())"
