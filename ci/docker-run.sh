#!/usr/bin/env bash
# Runs the kcheck image on a GPU runner, the way every workflow in ci/workflows does:
#
#   ci/docker-run.sh [-v HOST:CONTAINER[:ro]]... IMAGE OUT_DIR [KCHECK_ARGS...]
#
# - the GPUs: all of the host's, or KCHECK_DOCKER_GPUS (docker's --gpus value, e.g.
#   '"device=0,1"' where several runners share one host); inside, kcheck starts one xdist
#   worker per GPU it sees;
# - as the runner's own uid/gid, so that what the container writes into OUT_DIR (mounted as the
#   image's reports/) and the other mounts belongs to the runner and its workspace cleanup can
#   remove it; HOME is a scratch directory (Triton's cache), nothing of the host's;
# - --init reaps the worker and compiler processes kcheck starts and forwards signals, so a
#   cancelled job stops the run.
# The exit status is kcheck's.
set -euo pipefail
mounts=()
while [ "${1:-}" = "-v" ]; do
  [ $# -ge 2 ] || { echo "docker-run.sh: -v needs HOST:CONTAINER" >&2; exit 2; }
  mounts+=(--volume "$2")
  shift 2
done
if [ $# -lt 2 ]; then
  echo "usage: ci/docker-run.sh [-v HOST:CONTAINER[:ro]]... IMAGE OUT_DIR [KCHECK_ARGS...]" >&2
  exit 2
fi
image=$1
out=$2
shift 2
mkdir -p "$out"
exec docker run --rm --init \
  --gpus "${KCHECK_DOCKER_GPUS:-all}" \
  --user "$(id -u):$(id -g)" \
  --env HOME=/tmp/kcheck-home \
  --env GITHUB_ACTIONS \
  --volume "$(cd "$out" && pwd):/opt/kcheck/reports" \
  "${mounts[@]}" \
  "$image" "$@"
