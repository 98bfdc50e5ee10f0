"""benchmarks/rerun.py's own logic, without running kcheck: the edit it makes (it must change
every config's generated code and no verdict), and which golden directory it copies."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def rerun() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kcheck_bench_rerun", ROOT / "benchmarks" / "rerun.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("kernel", "line", "text"),
    [
        ("kernels/softmax.py", 23, "vals = vals * 1.0"),
        ("kernels/block_absmax.py", 41, "blk = blk * 1.0"),
        ("tests/helion_examples/specs/geglu.py", 61, "a_vals = a_vals * 1.0"),
    ],
)
def test_the_edit_follows_the_first_fp32_upcast_in_a_kernel_loop(
    rerun: ModuleType, kernel: str, line: int, text: str
) -> None:
    path = ROOT / kernel
    edited, edit = rerun.plan_edit(path)
    assert (edit.line, edit.text.split("  #")[0]) == (line, text)
    before, after = path.read_text().splitlines(), edited.splitlines()
    assert after[: line - 1] == before[: line - 1] and after[line:] == before[line - 1 :]
    assert after[line - 1].strip() == edit.text
    assert "to(torch.float32)" in after[line - 2]
    ast.parse(edited)  # still a module
    assert path.read_text() == "\n".join(before) + "\n"  # nothing written


def test_a_file_without_an_upcast_in_a_loop_is_refused(rerun: ModuleType) -> None:
    with pytest.raises(ValueError, match="name another kernel file with --edit"):
        rerun.plan_edit(ROOT / "kernels" / "matmul.py")


def test_the_golden_directory_is_the_one_beside_the_kernels(rerun: ModuleType) -> None:
    examples = ROOT / "tests" / "helion_examples"
    assert rerun.golden_of([examples / "specs" / "geglu.py"]) == examples / "specs" / "golden"
    assert rerun.golden_of([ROOT / "kernels" / "softmax.py"]) == ROOT / "golden"
    # Kernels from several directories: the repository's.
    mixed = [ROOT / "kernels" / "softmax.py", examples / "specs" / "geglu.py"]
    assert rerun.golden_of(mixed) == ROOT / "golden"


def test_the_timeline_has_every_process_of_an_xdist_run_in_order(rerun: ModuleType, tmp_path: Path) -> None:
    """``rerun.py --timeline``: the plugin is loaded by the controller and by each xdist worker
    (through the environment), and each phase's time comes back in the order it happened."""
    import os
    import subprocess

    (tmp_path / "test_two.py").write_text("def test_a():\n    pass\n\ndef test_b():\n    pass\n")
    timeline = tmp_path / "timeline.jsonl"
    env = rerun.kcheck_timeline.environment(dict(os.environ), timeline)
    started = __import__("time").time()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:kcheck",
            "-n",
            "2",
            "test_two.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    events = rerun.kcheck_timeline.read(timeline)
    assert {e["role"] for e in events} == {"controller", "gw0", "gw1"}
    rows = rerun.kcheck_timeline.summarise(events, started)
    controller = {event: at for who, event, at, _ in rows if who == "controller"}
    workers = {event: (median, slowest) for who, event, median, slowest in rows if who == "workers (2)"}
    assert [e for e in rerun.kcheck_timeline.EVENTS if e not in ("collected", "first case")] == list(
        controller
    )
    assert list(workers) == list(rerun.kcheck_timeline.EVENTS)
    order = [
        controller["configured"],
        workers["start"][0],
        workers["collected"][0],
        controller["first result"],
    ]
    assert order == sorted(order)
    assert all(
        0 <= at <= done_at for at, done_at in zip(order, [*order[1:], controller["exit"]], strict=True)
    )
