"""The ``kcheck`` console command."""

from __future__ import annotations

import pytest

from checker.categories import Category
from checker.cli import main
from checker.results.jsonl import read_records


def test_run_sweeps_and_writes_reports(
    kernel_dir: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["run", "-n", "0", "--configs", "1", "--shapes", "small", "--reports-dir", "out", "-k", "fp32"]
    )
    assert code == 0
    records = list(read_records(kernel_dir.path / "out" / "results.jsonl"))
    assert [r.case.config for r in records] == ["default", "wide", "cfg0"]
    assert all(r.category is Category.PASSED for r in records)
    assert (kernel_dir.path / "out" / "junit.xml").exists()
    assert "kcheck: pytest --kernels=kernels --sweep-seed 0 --configs 1 " in capsys.readouterr().err


def test_run_exit_code_reflects_failures(kernel_dir: pytest.Pytester) -> None:
    src = (kernel_dir.path / "kernels" / "add.py").read_text()
    (kernel_dir.path / "kernels" / "add.py").write_text(src.replace("return x + y\n", "return x - y\n", 1))
    assert main(["run", "-n", "0", "--configs", "0", "--shapes", "small", "-k", "fp32 and default"]) == 1


def test_negative_configs_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "--configs", "-2"])
    assert info.value.code == 2
    assert "--configs must be >= 0" in capsys.readouterr().err
