"""Artifacts are data, never code (issue 23): ``kcheck repro`` and ``kcheck minimize`` load a
kernel file only from the paths the user names (``--kernels``) or the project's configured
kernel paths, never from a path a record names.

A downloaded artifact can ship a results file whose record's node id (or command) names a
``.py`` file of the artifact; importing it runs the artifact's code. Here that file writes a
marker on import: it must never appear unless the user names the artifact with ``--kernels``.
"""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import pytest
from conftest import kernel_source

from checker.categories import Category
from checker.cli import main
from checker.model import CaseId, Mode, Record

CASE = "add[8x16-fp32-wide]"


@dataclasses.dataclass(frozen=True)
class Layout:
    """A checkout (pytest.ini naming kernels/, a harmless kernels/add.py) and, beside it, an
    unzipped artifact: results.jsonl and add.py, a working kernel that also writes ``marker``
    when imported."""

    checkout: Path
    artifact: Path
    marker: Path

    def results(self, *records: Record) -> Path:
        path = self.artifact / "results.jsonl"
        path.write_text("".join(r.to_json() + "\n" for r in records))
        return path


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Layout:
    # Directory names of their own: a kernel module's name is its directory's name and its stem
    # (checker.loader), and one imported by another test of this process would clash.
    unique = uuid.uuid4().hex[:8]
    checkout, artifact = tmp_path / "checkout", tmp_path / f"artifact_{unique}"
    (checkout / f"kernels_{unique}").mkdir(parents=True)
    (checkout / "pytest.ini").write_text(f"[pytest]\nkcheck_kernel_paths = kernels_{unique}\n")
    (checkout / f"kernels_{unique}" / "add.py").write_text(kernel_source())
    artifact.mkdir()
    marker = tmp_path / "PWNED"
    payload = f"import pathlib\npathlib.Path({str(marker)!r}).write_text('imported')\n"
    (artifact / "add.py").write_text(payload + kernel_source())
    monkeypatch.chdir(checkout)
    return Layout(checkout, artifact, marker)


def _record(nodeid: str | None, repro: str | None = None) -> Record:
    """A numerical mismatch of ``add`` under the interpreter: something both commands accept."""
    return Record(
        case=CaseId("add", (8, 16), "fp32", "wide"),
        category=Category.NUMERICAL_MISMATCH,
        mode=Mode.INTERPRETER,
        target="sm_90",
        config={"block_sizes": [8, 16], "num_warps": 2},
        config_repr=None,
        toolchain={},
        duration_s=0.1,
        message="output 0: 1 of 128 elements outside rtol=1.3e-06 atol=1e-05",
        signature="0123456789ab",
        nodeid=nodeid,
        repro=repro,
    )


def _hostile_records(layout: Layout) -> dict[str, Record]:
    evil = layout.artifact / "add.py"
    return {
        "absolute node id": _record(f"{evil}::{CASE}"),
        "relative node id": _record(f"../{layout.artifact.name}/add.py::{CASE}"),
        "node id through the kernel dir": _record(f"kernels/../../{layout.artifact.name}/add.py::{CASE}"),
        "command's --kernels": _record(None, f"python -m pytest x --kernels {evil} --sweep-seed 0"),
    }


def _error_line(err: str, command: str) -> str:
    """stderr less the one line naming the run the command read (checker/results/runs.py)."""
    lines = err.strip().splitlines()
    return "\n".join(x for x in lines if not x.startswith(f"kcheck {command}: reads ")).strip()


@pytest.mark.parametrize("command", ["repro", "minimize"])
def test_a_record_naming_an_artifact_file_imports_nothing(
    layout: Layout, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for how, record in _hostile_records(layout).items():
        results = layout.results(record)
        status = main([command, CASE, "--results", str(results)])
        err = capsys.readouterr().err
        assert not layout.marker.exists(), f"{command} imported the artifact's file ({how})"
        assert status == 2, (how, err)
        line = _error_line(err, command)
        assert "\n" not in line, (how, err)
        assert f"{layout.artifact.name}/add.py" in line, (how, line)
        assert "--kernels DIR" in line and CASE in line, (how, line)
    assert not (layout.checkout / "repro_add_8x16-fp32-wide.py").exists()


def test_inside_the_artifact_nothing_is_a_kernel_path(
    layout: Layout, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Run from the unzipped artifact (no ini there, no kernels/): its add.py is no project file,
    and the message says there is no kernel path here."""
    monkeypatch.chdir(layout.artifact)
    results = layout.results(_record(f"add.py::{CASE}"))
    for command in ("repro", "minimize"):
        status = main([command, CASE, "--results", str(results)])
        err = capsys.readouterr().err
        assert not layout.marker.exists(), f"{command} imported the artifact's file"
        assert status == 2, err
        assert "--kernels DIR" in err and "add.py" in err and "none: no" in err


def test_the_project_kernel_or_a_named_directory_is_loaded(
    layout: Layout, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same record, pointing into the checkout's kernels/, is reproduced from there; a file
    of the artifact is loaded once the user names its directory (``--kernels``), and only then."""
    kernels = next(layout.checkout.glob("kernels_*")).name
    results = layout.results(_record(f"{kernels}/add.py::{CASE}"))
    out = layout.checkout / "from-project.py"
    assert main(["repro", CASE, "--results", str(results), "-o", str(out)]) == 0, capsys.readouterr().err
    assert out.is_file() and not layout.marker.exists()
    results = layout.results(_hostile_records(layout)["absolute node id"])
    out = layout.checkout / "named.py"
    status = main(
        ["repro", CASE, "--results", str(results), "--kernels", str(layout.artifact), "-o", str(out)]
    )
    assert status == 0, capsys.readouterr().err
    assert out.is_file() and layout.marker.read_text() == "imported"


@pytest.mark.parametrize("command", ["repro", "minimize"])
@pytest.mark.parametrize("nodeid", [f"a\x00b.py::{CASE}", f"a\nb/add.py::{CASE}", f"/::{CASE}"])
def test_a_node_id_that_is_no_file_is_one_line_exit_2(
    layout: Layout, command: str, nodeid: str, capsys: pytest.CaptureFixture[str]
) -> None:
    results = layout.results(_record(nodeid))
    assert main([command, CASE, "--results", str(results)]) == 2
    err = _error_line(capsys.readouterr().err, command)
    assert "\n" not in err and "--kernels DIR" in err, err
