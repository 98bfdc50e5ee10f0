"""benchmarks/stability.py: the cold/warm comparison on hand-made records, and one real run of
the script on one small kernel on CPU."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from checker.categories import Category
from checker.model import LOST, CaseId, Record

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def stability() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "kcheck_bench_stability", ROOT / "benchmarks" / "stability.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def rec(config: str, category: Category = Category.PASSED, message: str = "", **kw: object) -> Record:
    """A record of softmax[64x64-fp32-CONFIG] with its node id."""
    case = CaseId("softmax", (64, 64), "fp32", config)
    base: dict[str, object] = dict(
        case=case,
        category=category,
        mode="interpreter",
        target="sm_90",
        config=None,
        config_repr=None,
        toolchain={"helion": "1.4.0", "torch": "2.11.0"},
        duration_s=0.5,
        message=message,
        nodeid=f"kernels/softmax.py::{case.name}",
    )
    base.update(kw)
    return Record(**base)  # type: ignore[arg-type]


def test_identical_passes_are_stable(stability: ModuleType) -> None:
    cold = [rec("default"), rec("cfg0", Category.COMPILER_CRASH, "PassManager::run failed\nmore")]
    warm = [rec("cfg0", Category.COMPILER_CRASH, "PassManager::run failed"), rec("default")]
    c = stability.compare_passes(cold, warm)
    assert c.flips == [] and c.one_pass == []
    assert c.ok and c.problems() == [] and stability.exit_status(c) == 0
    # Real kernel failures are counted, not held against stability.
    assert c.cold.counts == {"compiler-crash": 1, "passed": 1} == c.warm.counts
    assert "stability: OK" in stability.render(c)


def test_a_flip_lists_both_categories_and_first_message_lines(stability: ModuleType) -> None:
    cold = [rec("default"), rec("cfg0", Category.COMPILE_TIMEOUT, "\n  compile took 60 s\nstderr tail")]
    warm = [rec("default"), rec("cfg0", Category.PASSED)]
    c = stability.compare_passes(cold, warm)
    (flip,) = c.flips
    assert flip.key == "kernels/softmax.py::softmax[64x64-fp32-cfg0]"
    assert (flip.cold, flip.cold_message) == ("compile-timeout", "compile took 60 s")
    assert (flip.warm, flip.warm_message) == ("passed", "")
    assert not c.ok and stability.exit_status(c) == 1
    assert c.problems() == ["1 verdict flip(s)"]
    text = stability.render(c)
    assert (
        "| kernels/softmax.py::softmax[64x64-fp32-cfg0] | compile-timeout | compile took 60 s | passed | - |"
        in text
    )
    assert "UNSTABLE: 1 verdict flip(s)" in text


def test_cases_in_one_pass_only_are_missing_records(stability: ModuleType) -> None:
    cold = [rec("default"), rec("cfg0")]
    warm = [rec("default"), rec("cfg1", Category.NUMERICAL_MISMATCH, "3 of 4096 elements")]
    c = stability.compare_passes(cold, warm)
    assert [(o.key.split("::")[1], o.present_in, o.category, o.message) for o in c.one_pass] == [
        ("softmax[64x64-fp32-cfg0]", "cold", "passed", ""),
        ("softmax[64x64-fp32-cfg1]", "warm", "numerical-mismatch", "3 of 4096 elements"),
    ]
    assert c.flips == [] and stability.exit_status(c) == 1
    assert c.problems() == ["2 case(s) with a record in one pass only"]


def test_lost_and_checker_error_records_fail_even_when_identical(stability: ModuleType) -> None:
    lost = rec("cfg0", Category.NOT_RUN, "collected, no record", fields={"reason": LOST})
    bug = rec("cfg1", Category.CHECKER_ERROR, "KeyError 'x' in checker/execute.py")
    c = stability.compare_passes([rec("default"), lost, bug], [rec("default"), lost, bug])
    assert c.flips == [] and c.one_pass == []
    assert (c.cold.lost, c.warm.lost, c.cold.checker_errors, c.warm.checker_errors) == (1, 1, 1, 1)
    assert c.problems() == [
        "1 lost record(s) in the cold pass",
        "1 checker-error record(s) in the cold pass",
        "1 lost record(s) in the warm pass",
        "1 checker-error record(s) in the warm pass",
    ]
    assert stability.exit_status(c) == 1
    text = stability.render(c)
    assert "checker-error records: cold 1, warm 1" in text
    assert "lost records (collected, never reported): cold 1, warm 1" in text


def test_a_checker_error_in_one_pass_is_a_flip_and_a_checker_error(stability: ModuleType) -> None:
    c = stability.compare_passes([rec("cfg0")], [rec("cfg0", Category.CHECKER_ERROR, "bug")])
    assert [f.warm for f in c.flips] == ["checker-error"]
    assert c.problems() == ["1 verdict flip(s)", "1 checker-error record(s) in the warm pass"]


def test_a_pass_that_did_not_run_to_its_end_fails(stability: ModuleType) -> None:
    records = [rec("default")]
    crashed = stability.summarize_pass("warm", records, exit_code=3)
    assert crashed.error == "kcheck run exited 3"
    empty = stability.summarize_pass("warm", [], exit_code=0)
    assert empty.error == "no records"
    unread = stability.summarize_pass("warm", [], exit_code=1, error="no results.jsonl")
    assert unread.error == "no results.jsonl"
    # Exit 1 (a kernel failed) is a pass that ran to its end.
    assert stability.summarize_pass("warm", records, exit_code=1).error is None
    c = stability.compare_passes(records, records, warm=crashed)
    assert c.problems() == ["warm pass: kcheck run exited 3"] and stability.exit_status(c) == 1


def test_records_without_node_id_match_by_case_name_and_duplicates_are_listed(stability: ModuleType) -> None:
    a = rec("default", nodeid=None)
    assert stability.record_key(a) == "softmax[64x64-fp32-default]"
    summary = stability.summarize_pass("cold", [a, a, rec("cfg0")])
    assert summary.duplicates == ["softmax[64x64-fp32-default]"] and summary.records == 3
    c = stability.compare_passes([a, a], [a])
    assert c.flips == [] and c.one_pass == []


def test_first_line_and_counts(stability: ModuleType) -> None:
    assert stability.first_line("\n\n  a | b  \nc") == "a | b"
    assert stability.first_line("x" * 300, limit=10) == "xxxxxxx..."
    assert stability.first_line("") == ""
    counts = stability.category_counts(
        [rec("a"), rec("b", Category.OUT_OF_RESOURCES), rec("c", Category.OUT_OF_RESOURCES), rec("d")]
    )
    assert list(counts.items()) == [("out-of-resources", 2), ("passed", 2)]


def test_json_summary_and_wall_time_ratio(stability: ModuleType) -> None:
    cold = stability.summarize_pass("cold", [rec("default")], wall_s=100.0, exit_code=0, results="c.jsonl")
    warm = stability.summarize_pass("warm", [rec("default", Category.RUN_TIMEOUT, "over 300 s")], wall_s=25.0)
    c = stability.compare_passes(
        [rec("default")], [rec("default", Category.RUN_TIMEOUT)], cold=cold, warm=warm
    )
    assert c.warm_cold_ratio == 0.25
    data = json.loads(json.dumps(stability.to_json(c)))  # JSON-serializable as it is
    assert data["ok"] is False and data["warm_cold_ratio"] == 0.25
    assert data["passes"]["cold"]["results"] == "c.jsonl" and data["passes"]["cold"]["exit_code"] == 0
    assert data["passes"]["warm"]["counts"] == {"run-timeout": 1}
    assert data["passes"]["cold"]["toolchain"] == {"helion": "1.4.0", "torch": "2.11.0"}
    assert data["flips"] == [
        {
            "key": "kernels/softmax.py::softmax[64x64-fp32-default]",
            "cold": "passed",
            "cold_message": "",
            "warm": "run-timeout",
            "warm_message": "",
        }
    ]
    text = stability.render(c)
    assert "wall time: cold 100.0 s, warm 25.0 s, warm/cold 0.25 (25%)" in text
    assert "| passed | 1 | 0 |" in text and "| run-timeout | 0 | 1 |" in text


def test_message_text_cannot_break_the_table(stability: ModuleType) -> None:
    c = stability.compare_passes([rec("cfg0", message="a|b`c")], [rec("cfg0", Category.RUNTIME_ERROR, "x")])
    row = next(line for line in stability.render(c).splitlines() if "cfg0" in line)
    assert row.count(" | ") == 4 and "a\\|b'c" in row


def test_command_line_of_a_pass(stability: ModuleType, tmp_path: Path) -> None:
    args = "kernels/softmax.py --kernels kernels/sum.py --configs 1 --sweep-seed 7 -n 12 --device cuda"
    opts, extra = stability.parse_args(
        [*args.split(), "--", "-k", "softmax and fp32", "--", "--timeout-method", "thread"]
    )
    cmd = stability.kcheck_command(opts, tmp_path / "cache", tmp_path / "cold", extra)
    assert cmd[:4] == [sys.executable, "-m", "checker.cli", "run"]
    assert cmd[4:6] == [str(Path("kernels/softmax.py").resolve()), str(Path("kernels/sum.py").resolve())]
    assert cmd[6:] == [
        f"--cache-dir={tmp_path / 'cache'}",
        f"--reports-dir={tmp_path / 'cold'}",
        "--configs",
        "1",
        "--sweep-seed",
        "7",
        "--device",
        "cuda",
        "-n",
        "12",
        "-k",
        "softmax and fp32",
        "--",
        "--timeout-method",
        "thread",
    ]
    # Nothing given: kcheck's own defaults (no -n at all).
    opts, extra = stability.parse_args([])
    assert stability.kcheck_command(opts, tmp_path, tmp_path, extra)[4:] == [
        f"--cache-dir={tmp_path}",
        f"--reports-dir={tmp_path}",
    ]
    with pytest.raises(SystemExit) as exc:
        stability.parse_args(["kernels/no_such_kernel.py"])
    assert exc.value.code == 2


def test_end_to_end_on_one_small_kernel_on_cpu(tmp_path: Path) -> None:
    """Really runs both passes (about 25 s on the 2-core machine): six interpreter cases."""
    started = time.monotonic()
    script, kernel = ROOT / "benchmarks" / "stability.py", ROOT / "kernels" / "sum.py"
    args = [str(script), str(kernel), "--configs", "0", "--shapes", "small", "--device", "cpu", "-n", "0"]
    args += ["--reports-dir", str(tmp_path / "r"), "--json", str(tmp_path / "s.json")]
    result = subprocess.run(
        [sys.executable, *args, "--", "-k", "sum and fp32 and not golden"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads((tmp_path / "s.json").read_text())
    assert data["ok"] is True and data["flips"] == [] and data["one_pass"] == []
    cold, warm = data["passes"]["cold"], data["passes"]["warm"]
    assert cold["records"] == warm["records"] > 0 and cold["counts"] == warm["counts"]
    assert cold["exit_code"] == warm["exit_code"] == 0
    assert (tmp_path / "r" / "cold" / "results.jsonl").is_file() and (tmp_path / "r" / "warm.log").is_file()
    assert "stability: OK" in result.stdout
    assert time.monotonic() - started < 240
