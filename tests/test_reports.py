"""Writers: atomic replacement and the terminal summary."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from checker.atomic import write_atomic
from checker.categories import Category
from checker.model import CaseId, Record
from checker.report.terminal import render


def test_write_atomic_replaces_and_uses_normal_mode(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "junit.xml"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in target.parent.iterdir()] == ["junit.xml"], "no temp file left behind"


def _rec(kernel: str, category: Category) -> Record:
    return Record(
        case=CaseId(kernel, (4, 4), "fp32", "default"),
        category=category,
        mode="interpreter",
        target="sm_90",
        config=None,
        config_repr=None,
        toolchain={},
        duration_s=0.1,
    )


def test_terminal_summary_counts_by_kernel_and_category() -> None:
    records = [
        _rec("softmax", Category.PASSED),
        _rec("softmax", Category.NUMEL_OVERFLOW),
        _rec("matmul", Category.NOT_RUN),
        _rec("matmul", Category.PASSED),
    ]
    text = render(records, width=120)
    lines = {line.split()[1]: line for line in text.splitlines() if line.startswith("│")}
    header = next(line for line in text.splitlines() if "kernel" in line and "cases" in line)
    assert header.replace("┃", " ").split() == ["kernel", "cases", "passed", "numel-overflow", "skipped"]
    assert lines["softmax"].replace("│", " ").split() == ["softmax", "2", "1", "1", "."]
    assert lines["matmul"].replace("│", " ").split() == ["matmul", "2", "1", ".", "1"]
    total = lines["total"].replace("│", " ").split()
    assert total == ["total", "4", "2", "1", "1"]


def test_a_golden_item_and_its_execution_case_have_distinct_junit_identities() -> None:
    """Both check case ``k[8-fp32-default]``: under one classname and name, tools that key JUnit
    results by the pair (CI test views, flaky-test trackers) merged them into one result."""
    import dataclasses
    import xml.etree.ElementTree as ET

    from checker.model import Mode
    from checker.report import junit

    run = Record(
        case=CaseId("k", (8,), "fp32", "default"),
        category=Category.PASSED,
        mode=Mode.INTERPRETER,
        target="sm_90",
        config=None,
        config_repr=None,
        toolchain={},
        duration_s=0.1,
        nodeid="kernels/k.py::k[8-fp32-default]",
    )
    golden = dataclasses.replace(
        run, mode=Mode.GOLDEN, category=Category.GOLDEN_DIFF, nodeid="kernels/k.py::golden::k[8-fp32-default]"
    )
    root = ET.fromstring(junit.to_bytes(junit.build([run, golden])))
    ids = [(c.get("classname"), c.get("name")) for c in root.iter("testcase")]
    assert len(ids) == 2 and len(set(ids)) == 2, ids
    assert ("kcheck.k.golden", "k[8-fp32-default]") in ids
