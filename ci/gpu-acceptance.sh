#!/usr/bin/env bash
# GPU acceptance run of kcheck (issue 22) on a GPU host; see usage below and docs/gpu-runs.md.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: ci/gpu-acceptance.sh SEED [-n N] [--out DIR] [--steps LIST]

GPU acceptance run of kcheck, natively (--device cuda):
  1  the bundled suite (kernels/) at --configs 1 --sweep-seed SEED, twice (cold, then warm
     caches) through benchmarks/stability.py: verdicts must not flip
  2  the fault set: kcheck run tests/faults/faults.py --configs 0 --run-timeout 60 (the endless
     kernels need a short run timeout), then tests/faults/check_run.py --device cuda
  3  the outside suites tests/helion_examples/specs and tests/triton_kernels/specs, named
     configs (--configs 0), all shapes
  4  a markdown table of every run (benchmarks/acceptance_table.py), also in DIR/acceptance.md

Options:
  SEED          sweep seed of step 1 (a non-negative integer)
  -n, --workers N
                kcheck run -n N for every run. Default: none is passed, so kcheck's own default
                applies ($KCHECK_WORKERS, else auto: on a GPU host --workers-per-gpu workers per
                GPU, by default min(16, usable cores // GPUs): 16 on a 16-core one-GPU host)
  --out DIR     where reports, logs and acceptance.md go (default: reports/acceptance-SEED);
                kept between invocations, so steps run by separate calls share one table
  --steps LIST  comma-separated steps to run, e.g. 1 or 2,3 (default: 1,2,3); the table shows
                every step the manifest DIR/steps.tsv holds, from this call or an earlier one
  -h, --help    this text

Exit status: 0 when no run has a verdict flip, a missing (one-pass or lost) record, a
checker-error record, a wrong fault-set verdict or an abnormal kcheck exit; 1 otherwise; 2 on a
usage error. Real kernel failures (e.g. the outside suites' compiler crashes) do not fail it.

Environment:
  PYTHON                      interpreter with kcheck importable (default: python3); source
                              ci/device-setup.sh on the GPU image first
  KCHECK_ACCEPTANCE_DEVICE    --device of every run and of check_run.py: cuda (default) or cpu
  KCHECK_ACCEPTANCE_K         a -k expression added to every run (testing the script on a CPU)
  KCHECK_ACCEPTANCE_SHAPES    --shapes of every run (default: kcheck's, all; testing on a CPU)
EOF
}

die() {
    printf 'gpu-acceptance: %s\n' "$1" >&2
    printf 'usage: ci/gpu-acceptance.sh SEED [-n N] [--out DIR] [--steps LIST] (--help)\n' >&2
    exit 2
}

seed=""
out=""
steps="1,2,3"
workers=()
while (($#)); do
    case $1 in
        -h | --help)
            usage
            exit 0
            ;;
        -n | --workers | --out | --steps)
            (($# >= 2)) || die "$1 needs a value"
            case $1 in
                -n | --workers) workers=(-n "$2") ;;
                --out) out=$2 ;;
                --steps) steps=$2 ;;
            esac
            shift 2
            ;;
        --workers=*) workers=(-n "${1#*=}") && shift ;;
        --out=*) out=${1#*=} && shift ;;
        --steps=*) steps=${1#*=} && shift ;;
        -*) die "unknown option: $1" ;;
        *)
            [[ -z $seed ]] || die "one SEED only (got $seed and $1)"
            seed=$1
            shift
            ;;
    esac
done
[[ -n $seed ]] || die "SEED is required"
[[ $seed =~ ^[0-9]+$ ]] || die "SEED must be a non-negative integer, got: $seed"
if ((${#workers[@]})) && ! [[ ${workers[1]} =~ ^([0-9]+|auto|logical)$ ]]; then
    die "-n takes a number, auto or logical, got: ${workers[1]}"
fi
[[ $steps =~ ^[123](,[123])*$ ]] || die "--steps is a comma-separated list of 1, 2 and 3, got: $steps"

PYTHON=${PYTHON:-python3}
device=${KCHECK_ACCEPTANCE_DEVICE:-cuda}
[[ $device == cuda || $device == cpu ]] || die "KCHECK_ACCEPTANCE_DEVICE must be cuda or cpu, got: $device"
select=()
[[ -z ${KCHECK_ACCEPTANCE_K:-} ]] || select+=(-k "$KCHECK_ACCEPTANCE_K")
[[ -z ${KCHECK_ACCEPTANCE_SHAPES:-} ]] || select+=(--shapes "$KCHECK_ACCEPTANCE_SHAPES")

out=${out:-reports/acceptance-$seed}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PYTHONUNBUFFERED=1

# The manifest keeps the lines of the steps not run now (an earlier call's), in step order.
manifest=$out/steps.tsv
touch "$manifest"
awk -F '\t' -v run=",$steps," 'index(run, "," $1 ",") == 0' "$manifest" >"$manifest.tmp"
mv "$manifest.tmp" "$manifest"
record() { # STEP KIND LABEL PATH WALL_S RUN_RC CHECK_RC
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$manifest"
}
want() { [[ ",$steps," == *",$1,"* ]]; }

# A kcheck run of one suite: NAME LABEL STEP PATH [kcheck run options...]; sets run_rc and wall.
run_suite() {
    local name=$1 label=$2 step=$3 path=$4
    shift 4
    rm -rf "${out:?}/$name"
    echo "== step $step: $label"
    local start=$SECONDS
    run_rc=0
    "$PYTHON" -m checker.cli run "$path" --device "$device" "$@" "${workers[@]}" "${select[@]}" \
        "--reports-dir=$out/$name" 2>&1 | tee "$out/$name.log" || run_rc=$?
    wall=$((SECONDS - start))
}

if want 1; then
    echo "== step 1: bundled suite, --configs 1 --sweep-seed $seed, cold then warm (benchmarks/stability.py)"
    rm -rf "${out:?}/suite"
    mkdir -p "$out/suite"
    start=$SECONDS
    rc=0
    "$PYTHON" benchmarks/stability.py --device "$device" --configs 1 --sweep-seed "$seed" "${workers[@]}" \
        --reports-dir "$out/suite" --json "$out/suite/stability.json" -- "${select[@]}" 2>&1 |
        tee "$out/suite/stability.txt" || rc=$?
    record 1 stability "bundled suite" "$out/suite/stability.json" $((SECONDS - start)) "$rc" -
fi

if want 2; then
    run_suite faults "fault set" 2 tests/faults/faults.py --configs 0 --run-timeout 60
    check_rc=0
    "$PYTHON" tests/faults/check_run.py "$out/faults/results.jsonl" --device "$device" 2>&1 |
        tee "$out/faults-check.txt" || check_rc=$?
    record 2 faults "fault set" "$out/faults/results.jsonl" "$wall" "$run_rc" "$check_rc"
fi

if want 3; then
    run_suite helion_examples "helion examples" 3 tests/helion_examples/specs --configs 0
    record 3 suite "helion examples" "$out/helion_examples/results.jsonl" "$wall" "$run_rc" -
    run_suite triton_kernels "triton kernels" 3 tests/triton_kernels/specs --configs 0
    record 3 suite "triton kernels" "$out/triton_kernels/results.jsonl" "$wall" "$run_rc" -
fi

# Step order in the table, whichever call ran which step.
sort -s -t "$(printf '\t')" -k1,1 "$manifest" >"$manifest.tmp"
mv "$manifest.tmp" "$manifest"
echo "== step 4: the table ($out/acceptance.md)"
"$PYTHON" benchmarks/acceptance_table.py "$manifest" --md "$out/acceptance.md" \
    --note "seed $seed; device $device; workers: ${workers[1]:-kcheck default}; steps run by this call: $steps" \
    --note "reports: $out"
