"""ci/gpu-acceptance.sh and its table (benchmarks/acceptance_table.py) without a GPU.

The script's wiring (arguments, the commands of each step, the manifest, the exit status) runs
against a stand-in ``PYTHON`` that records its arguments and writes canned results; the table
helper it calls is the real one. A real CPU run of the whole script (1.5-3 minutes here) runs
only with ``KCHECK_ACCEPTANCE_SMOKE=1``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from checker.categories import Category
from checker.model import LOST, CaseId, Record

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "ci" / "gpu-acceptance.sh"

FAKE_PYTHON = """#!{python}
import json, os, sys
argv = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as f:
    f.write(json.dumps(argv) + "\\n")
if argv and argv[0].endswith("acceptance_table.py"):
    os.execv(sys.executable, [sys.executable, *argv])
plan = json.loads(open(os.environ["FAKE_PLAN"]).read())

def opt(name):
    for i, a in enumerate(argv):
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
        if a == name:
            return argv[i + 1]

if argv[0].endswith("stability.py"):
    if plan["stability"]["json"] is not None:
        with open(opt("--json"), "w") as f:
            json.dump(plan["stability"]["json"], f)
    sys.exit(plan["stability"]["rc"])
if argv[:3] == ["-m", "checker.cli", "run"]:
    step = plan[argv[3]]
    reports = opt("--reports-dir")
    os.makedirs(reports, exist_ok=True)
    if step["records"] is not None:
        with open(os.path.join(reports, "results.jsonl"), "w") as f:
            f.writelines(line + "\\n" for line in step["records"])
    print("fake kcheck run", argv[3])
    sys.exit(step["rc"])
if argv[0].endswith("check_run.py"):
    sys.exit(plan["check_run"])
sys.exit(99)
"""


@pytest.fixture(scope="module")
def table() -> ModuleType:
    path = ROOT / "benchmarks" / "acceptance_table.py"
    spec = importlib.util.spec_from_file_location("kcheck_bench_acceptance_table", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def rec(kernel: str, config: str = "default", category: Category = Category.PASSED, **kw: Any) -> Record:
    case = CaseId(kernel, (64,), "fp32", config)
    base: dict[str, Any] = dict(
        case=case,
        category=category,
        mode="native",
        target="sm_90",
        config=None,
        config_repr=None,
        toolchain={"helion": "1.4.0", "torch": "2.11.0", "triton": "3.6.0"},
        duration_s=0.1,
        nodeid=f"x.py::{case.name}",
    )
    base.update(kw)
    return Record(**base)


def lines(*records: Record) -> list[str]:
    return [r.to_json() for r in records]


def stability_json(ok: bool = True, flips: int = 0, **warm: Any) -> dict[str, Any]:
    """A benchmarks/stability.py --json summary."""
    cold = {"records": 3, "counts": {"passed": 2, "compiler-crash": 1}, "checker_errors": 0, "lost": 0}
    cold |= {"wall_s": 300.0, "exit_code": 1, "toolchain": {"torch": "2.11.0"}, "target": "sm_90"}
    flip = {"key": "k", "cold": "passed", "cold_message": "", "warm": "compile-timeout", "warm_message": "m"}
    return {
        "ok": ok,
        "problems": [] if ok else [f"{flips} verdict flip(s)"],
        "passes": {"cold": cold, "warm": {**cold, "wall_s": 100.0, **warm}},
        "flips": [flip] * flips,
        "one_pass": [],
    }


def clean_plan() -> dict[str, Any]:
    """Every step as it should be: real kernel failures, but nothing that fails the acceptance."""
    return {
        "stability": {"json": stability_json(), "rc": 0},
        "tests/faults/faults.py": {
            "records": lines(rec("nan_output", category=Category.NONFINITE_MISMATCH), rec("healthy")),
            "rc": 1,
        },
        "check_run": 0,
        "tests/helion_examples/specs": {
            "records": lines(rec("ex_add"), rec("ex_bmm", "cfg0", Category.COMPILER_CRASH)),
            "rc": 1,
        },
        "tests/triton_kernels/specs": {
            "records": lines(rec("tri"), rec("tri", "golden", Category.GOLDEN_MISSING)),
            "rc": 1,
        },
    }


def run_script(
    tmp_path: Path, plan: dict[str, Any], *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    """ci/gpu-acceptance.sh against the stand-in interpreter; (result, the interpreter's calls)."""
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_PYTHON.format(python=sys.executable))
    fake.chmod(0o755)
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    log = tmp_path / "calls.jsonl"
    log.unlink(missing_ok=True)
    result = subprocess.run(
        ["bash", str(SCRIPT), *args],
        cwd=tmp_path,
        env={
            **os.environ,
            "PYTHON": str(fake),
            "FAKE_PLAN": str(tmp_path / "plan.json"),
            "FAKE_LOG": str(log),
            **(env or {}),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


def test_usage_errors_exit_2_and_help_names_the_default_workers() -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, check=False)

    help_ = run("--help")
    assert help_.returncode == 0
    assert "kcheck's own default" in help_.stdout and "min(16, usable cores // GPUs)" in help_.stdout
    for args, message in [
        ((), "SEED is required"),
        (("seven",), "SEED must be a non-negative integer"),
        (("1", "2"), "one SEED only"),
        (("1", "-n"), "-n needs a value"),
        (("1", "-n", "many"), "-n takes a number"),
        (("1", "--out"), "--out needs a value"),
        (("1", "--steps", "1,4"), "--steps is a comma-separated list"),
        (("1", "--bogus"), "unknown option: --bogus"),
    ]:
        result = run(*args)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)
    result = subprocess.run(
        ["bash", str(SCRIPT), "1"],
        env={**os.environ, "KCHECK_ACCEPTANCE_DEVICE": "auto"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2 and "must be cuda or cpu" in result.stderr


def test_a_clean_run_passes_and_runs_each_step_as_specified(tmp_path: Path) -> None:
    result, calls = run_script(tmp_path, clean_plan(), "5", "--out", "acc")
    assert result.returncode == 0, result.stdout + result.stderr
    out = tmp_path / "acc"
    # Step 1: the bundled suite through stability.py; steps 2-3: kcheck run, then check_run.py.
    stab, faults, check, helion, triton, table = calls
    assert stab[0] == "benchmarks/stability.py"
    assert stab[1:] == [
        "--device",
        "cuda",
        "--configs",
        "1",
        "--sweep-seed",
        "5",
        "--reports-dir",
        f"{out}/suite",
        "--json",
        f"{out}/suite/stability.json",
        "--",
    ]
    assert faults == [
        "-m",
        "checker.cli",
        "run",
        "tests/faults/faults.py",
        "--device",
        "cuda",
        "--configs",
        "0",
        "--run-timeout",
        "60",
        f"--reports-dir={out}/faults",
    ]
    assert check == ["tests/faults/check_run.py", f"{out}/faults/results.jsonl", "--device", "cuda"]
    for call, path in ((helion, "tests/helion_examples/specs"), (triton, "tests/triton_kernels/specs")):
        # Named configs, all shapes (kcheck's default: no --shapes), kcheck's workers (no -n).
        assert call[3:] == [
            path,
            "--device",
            "cuda",
            "--configs",
            "0",
            f"--reports-dir={out}/{path.split('/')[1]}",
        ]
    assert table[0] == "benchmarks/acceptance_table.py"
    md = (out / "acceptance.md").read_text()
    assert md in result.stdout
    rows = [line for line in md.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [r.split(" | ")[1] for r in rows] == [
        "bundled suite (cold)",
        "bundled suite (warm)",
        "fault set",
        "helion examples",
        "triton kernels",
    ]
    assert all(r.endswith("| ok |") for r in rows), rows
    assert "| 3 | helion examples | 2 | 1 | 0 | compiler-crash 1 | 0 | - | 0 | - |" in md
    assert "| 2 | fault set | 2 | 1 | 0 | nonfinite-mismatch 1 | 0 | - | 0 | OK |" in md
    assert "| 1 | bundled suite (cold) | 3 | 2 | 0 | compiler-crash 1 | 0 | 0 | 0 | - | 300 | ok |" in md
    assert "seed 5; device cuda; workers: kcheck default" in md and md.rstrip().endswith("acceptance: PASS")
    assert "toolchain: torch 2.11.0; target sm_90" in md


def test_workers_device_and_filter_reach_every_run(tmp_path: Path) -> None:
    env = {"KCHECK_ACCEPTANCE_DEVICE": "cpu", "KCHECK_ACCEPTANCE_K": "softmax and fp32"}
    env["KCHECK_ACCEPTANCE_SHAPES"] = "small"
    result, calls = run_script(tmp_path, clean_plan(), "0", "-n", "12", "--out", "acc", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    stab, faults, check, helion, triton, _ = calls
    for call in (stab, faults, helion, triton):
        i = call.index("-n")
        assert call[i + 1] == "12"
        assert call[call.index("--device") + 1] == "cpu"
        j = call.index("-k")
        assert call[j : j + 4] == ["-k", "softmax and fp32", "--shapes", "small"]
    assert stab.index("--") < stab.index("-k")  # the filter goes through stability.py to kcheck run
    assert check[-2:] == ["--device", "cpu"]
    assert "workers: 12" in (tmp_path / "acc" / "acceptance.md").read_text()


def _break(plan: dict[str, Any], what: str) -> None:
    if what == "flip":
        plan["stability"] = {"json": stability_json(ok=False, flips=2), "rc": 1}
    elif what == "stability crashed":
        plan["stability"] = {"json": None, "rc": 1}
    elif what == "checker-error in an outside suite":
        plan["tests/helion_examples/specs"]["records"].append(
            rec("ex_exp", category=Category.CHECKER_ERROR).to_json()
        )
        plan["tests/helion_examples/specs"]["rc"] = 3
    elif what == "wrong fault verdict":
        plan["check_run"] = 1
    elif what == "lost record":
        lost = rec("tri", "cfg0", Category.NOT_RUN, fields={"reason": LOST})
        plan["tests/triton_kernels/specs"]["records"].append(lost.to_json())
    elif what == "no results":
        plan["tests/triton_kernels/specs"] = {"records": None, "rc": 1}
    elif what == "interrupted":
        plan["tests/faults/faults.py"]["rc"] = 2
    else:
        raise AssertionError(what)


@pytest.mark.parametrize(
    ("what", "row", "problem"),
    [
        ("flip", "1, bundled suite (cold)", "2 verdict flip(s)"),
        ("stability crashed", "1, bundled suite", "no stability summary"),
        ("checker-error in an outside suite", "3, helion examples", "1 checker-error record(s)"),
        ("wrong fault verdict", "2, fault set", "fault set: MISMATCH"),
        ("lost record", "3, triton kernels", "1 lost record(s)"),
        ("no results", "3, triton kernels", "no results.jsonl"),
        ("interrupted", "2, fault set", "kcheck run exited 2"),
    ],
)
def test_what_fails_the_acceptance(tmp_path: Path, what: str, row: str, problem: str) -> None:
    plan = clean_plan()
    _break(plan, what)
    result, _ = run_script(tmp_path, plan, "1", "--out", "acc")
    assert result.returncode == 1, result.stdout + result.stderr
    md = (tmp_path / "acc" / "acceptance.md").read_text()
    assert f"- step {row}: {problem}" in md
    failing = [line for line in md.splitlines() if line.endswith("| FAIL |")]
    label = row.split(", ")[1].split(" (")[0]
    assert failing and all(f" {label}" in line for line in failing), failing
    assert "acceptance: FAIL" in md


def test_steps_run_by_separate_calls_share_one_table(tmp_path: Path) -> None:
    result, calls = run_script(tmp_path, clean_plan(), "2", "--steps", "1", "--out", "acc")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [c[0] for c in calls] == ["benchmarks/stability.py", "benchmarks/acceptance_table.py"]
    assert "steps not run: 2, 3" in result.stdout
    plan = clean_plan()
    plan["stability"] = {"json": None, "rc": 99}  # must not run again
    result, calls = run_script(tmp_path, plan, "2", "--steps", "3,2", "--out", "acc")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "benchmarks/stability.py" not in [c[0] for c in calls]
    md = (tmp_path / "acc" / "acceptance.md").read_text()
    assert "steps not run" not in md
    steps = [line.split(" | ")[0] for line in md.splitlines() if line.startswith("| ") and "---" not in line]
    assert steps[1:] == ["| 1", "| 1", "| 2", "| 3", "| 3"]  # step order, whichever call ran them
    # Running a step again replaces its rows.
    plan = clean_plan()
    plan["check_run"] = 1
    result, _ = run_script(tmp_path, plan, "2", "--steps", "2", "--out", "acc")
    assert result.returncode == 1
    md = (tmp_path / "acc" / "acceptance.md").read_text()
    assert md.count("| 2 | fault set |") == 1 and "fault set: MISMATCH" in md


def test_the_table_from_a_manifest(table: ModuleType, tmp_path: Path) -> None:
    results = tmp_path / "r.jsonl"
    results.write_text("\n".join(lines(rec("a"), rec("b", "cfg0", Category.NOT_RUN), rec("c"))) + "\n")
    summary = tmp_path / "s.json"
    summary.write_text(json.dumps(stability_json(ok=False, flips=1)))
    manifest = f"1\tstability\tsuite\t{summary.name}\t400\t1\t-\n3\tsuite\tex\t{results}\t12.4\t0\t-\n"
    steps = table.parse_manifest(manifest, tmp_path)
    assert steps[0].path == summary and steps[0].check_rc is None and steps[1].wall_s == 12.4
    rows = table.build_rows(steps)
    assert [(r.label, r.records, r.passed, r.skipped, r.flips, r.fails) for r in rows] == [
        ("suite (cold)", 3, 2, 0, 1, True),
        ("suite (warm)", 3, 2, 0, 1, True),  # fails with its step; the problem is listed once
        ("ex", 3, 2, 1, None, False),
    ]
    text = table.render(rows, ["seed 1"], ["2"])
    assert text.count("- step 1, suite (cold): 1 verdict flip(s)") == 1
    assert "- steps not run: 2" in text and text.endswith("acceptance: FAIL (2 of 3 rows)\n")
    assert table.exit_status(rows) == 1
    assert table.verdict([]) == "FAIL (nothing ran)" and table.exit_status([]) == 1
    with pytest.raises(ValueError, match="manifest line 1"):
        table.parse_manifest("1\tnope\tx\tp\t1\t0\t-\n", tmp_path)
    with pytest.raises(ValueError, match="manifest line 2"):
        table.parse_manifest("\n1\tsuite\tx\tp\tslow\t0\t-\n", tmp_path)


def test_the_table_command_exit_statuses(tmp_path: Path) -> None:
    script = ROOT / "benchmarks" / "acceptance_table.py"
    results = tmp_path / "r.jsonl"
    results.write_text("\n".join(lines(rec("a"), rec("b", "cfg0", Category.COMPILER_CRASH))) + "\n")
    (tmp_path / "ok.tsv").write_text(f"3\tsuite\tsuite\t{results}\t5\t1\t-\n")
    (tmp_path / "bad.tsv").write_text("3\tsuite\n")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(script), *args], capture_output=True, text=True, check=False
        )

    ok = run(str(tmp_path / "ok.tsv"), "--md", str(tmp_path / "a.md"))
    assert ok.returncode == 0 and (tmp_path / "a.md").read_text() == ok.stdout
    assert "| 3 | suite | 2 | 1 | 0 | compiler-crash 1 | 0 | - | 0 | - | 5 | ok |" in ok.stdout
    assert run(str(tmp_path / "bad.tsv")).returncode == 2
    assert run(str(tmp_path / "missing.tsv")).returncode == 2


@pytest.mark.skipif(
    os.environ.get("KCHECK_ACCEPTANCE_SMOKE") != "1",
    reason="runs kcheck 5 times, 1.5-3 min on the 2-core machine: set KCHECK_ACCEPTANCE_SMOKE=1",
)
def test_a_real_cpu_run_of_the_script(tmp_path: Path) -> None:
    env = {
        "PYTHON": sys.executable,
        "KCHECK_ACCEPTANCE_DEVICE": "cpu",
        "KCHECK_ACCEPTANCE_SHAPES": "small",
        "KCHECK_ACCEPTANCE_K": "(layer_norm and fp32 and not golden) or nan_output "
        "or (ex_add and fp32 and not golden) or (tri_scale_bias and fp32 and not golden and not tuned)",
    }
    result = subprocess.run(
        ["bash", str(SCRIPT), "3", "-n", "0", "--out", str(tmp_path / "acc")],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]
    md = (tmp_path / "acc" / "acceptance.md").read_text()
    assert md.rstrip().endswith("acceptance: PASS") and "| 2 | fault set |" in md and "| OK |" in md
