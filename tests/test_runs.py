"""Runs kept, not replaced (checker/results/runs.py): each run writes its own directory under the
reports directory; ``latest`` names the latest full run, which a golden-only run or a run that
selects nothing never moves; commands read the latest full run by default; a minimal config
``kcheck minimize`` found survives later runs; retention never removes ``latest``.

In-process pytester runs of the tiny real add kernel (tests/conftest.py) on CPU.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
from conftest import kernel_source

from checker import cli
from checker.categories import Category
from checker.results import runs
from checker.results.jsonl import read_records

GOLDEN_INI = "[pytest]\nkcheck_kernel_paths = kernels\nkcheck_golden_dir = golden\n"
#: add with a wrong reference: every execution case is a numerical-mismatch.
WRONG = kernel_source(reference="wrong", extra="def wrong(x, y):\n    return x - y\n")


def _link(p: pytest.Pytester, name: str) -> str:
    return os.readlink(p.path / "reports" / name)


def _ids(p: pytest.Pytester) -> list[str]:
    return runs.run_ids(p.path / "reports")


@pytest.fixture
def wrong_dir(pytester: pytest.Pytester) -> pytest.Pytester:
    """A suite of the add kernel with a wrong reference, golden checks on."""
    pytester.makeini(GOLDEN_INI)
    pytester.mkdir("kernels")
    (pytester.path / "kernels" / "add.py").write_text(WRONG)
    return pytester


def test_golden_only_and_empty_runs_never_move_latest_and_commands_read_it(
    wrong_dir: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    p = wrong_dir
    full = p.runpytest("--configs", "0", "--shapes", "small", "-k", "not golden and fp32", "-p", "no:xdist")
    full.assert_outcomes(failed=2)
    (first,) = _ids(p)
    assert _link(p, "latest") == _link(p, "last") == f"runs/{first}"
    assert _link(p, "results.jsonl") == "latest/results.jsonl"
    full.stdout.fnmatch_lines([f"records: reports/runs/{first}/results.jsonl  *(now reports/latest)"])
    mismatches = list(read_records(p.path / "reports" / "results.jsonl"))
    assert {r.category for r in mismatches} == {Category.NUMERICAL_MISMATCH}

    # A golden-only run (here: goldens not blessed yet, so failing): its own directory, `last`,
    # never `latest`.
    golden = p.runpytest("-k", "golden and fp32", "-p", "no:xdist")
    assert golden.ret == 1
    first_again, golden_run = _ids(p)
    assert first_again == first
    assert _link(p, "latest") == f"runs/{first}" and _link(p, "last") == f"runs/{golden_run}"
    unchanged = f"(golden checks only: reports/latest unchanged, still {first})"
    golden.stdout.fnmatch_lines([f"records: reports/runs/{golden_run}/results.jsonl  *{unchanged}"])
    golden_records = list(read_records(p.path / "reports" / "last" / "results.jsonl"))
    assert {r.category for r in golden_records} == {Category.GOLDEN_MISSING}
    assert list(read_records(p.path / "reports" / "results.jsonl")) == mismatches

    # A run that selects nothing writes nothing.
    assert p.runpytest("-k", "no_such_kernel", "-p", "no:xdist").ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert _ids(p) == [first, golden_run]

    # Commands read the latest full run, and say which.
    monkeypatch.chdir(p.path)
    capsys.readouterr()
    assert cli.main(["triage"]) == 0
    out, err = capsys.readouterr()
    assert f"kcheck triage: reads run {first} (" in err
    assert "numerical-mismatch" in out and "golden-missing" not in out
    assert cli.main(["report", "--quiet"]) == 1
    assert f"kcheck report: reads run {first} (" in capsys.readouterr().err
    summary = (p.path / "reports" / "summary.md").read_text()
    assert "numerical-mismatch" in summary and "golden-missing" not in summary
    # An explicit path still works, and is named too.
    golden_file = p.path / "reports" / "runs" / golden_run / "results.jsonl"
    assert cli.main(["triage", str(golden_file)]) == 0
    assert f"reads run {golden_run} (" in capsys.readouterr().err

    # A directory of reports counts each reports directory once, not once per kept run.
    assert cli.main(["report", str(p.path / "reports"), "--out", str(p.path / "out"), "--quiet"]) == 1
    merged = list(read_records(p.path / "out" / "results.jsonl"))
    assert sorted(r.nodeid or "" for r in merged) == sorted(r.nodeid or "" for r in mismatches)
    # So does a zip artifact of it, links followed as an upload does.
    archive = p.path / "artifact.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for top, _, files in os.walk(p.path / "reports", followlinks=True):
            for name in files:
                z.write(Path(top) / name, (Path(top) / name).relative_to(p.path))
    assert "reports/latest/results.jsonl" in zipfile.ZipFile(archive).namelist()
    assert cli.main(["report", str(archive), "--out", str(p.path / "out-zip"), "--quiet"]) == 1
    merged = list(read_records(p.path / "out-zip" / "results.jsonl"))
    assert sorted(r.nodeid or "" for r in merged) == sorted(r.nodeid or "" for r in mismatches)


def test_retention_prunes_the_oldest_runs_but_never_latest(
    wrong_dir: pytest.Pytester,
) -> None:
    p = wrong_dir
    assert (
        p.runpytest(
            "--configs", "0", "--shapes", "small", "-k", "not golden and fp32 and default", "-p", "no:xdist"
        ).ret
        == 1
    )
    (full,) = _ids(p)
    for _ in range(3):  # blessing goldens, as docs/goldens.md says to
        bless = p.runpytest(
            "-k", "golden and fp32 and default", "--update-golden", "--keep-runs", "2", "-p", "no:xdist"
        )
        assert bless.ret == 0
    ids = _ids(p)
    # The full run is older than every golden run, yet kept: latest names it.
    assert len(ids) == 2 and ids[0] == full
    assert _link(p, "latest") == f"runs/{full}" and _link(p, "last") == f"runs/{ids[1]}"
    assert (p.path / "reports" / "results.jsonl").is_file()
    # A new full run may replace it; then the old one is the oldest and goes.
    assert (
        p.runpytest(
            "--configs",
            "0",
            "--shapes",
            "small",
            "-k",
            "not golden and fp32 and default",
            "--keep-runs",
            "2",
            "-p",
            "no:xdist",
        ).ret
        == 1
    )
    ids = _ids(p)
    assert full not in ids and len(ids) == 2 and _link(p, "latest") == f"runs/{ids[1]}"


def test_a_minimal_config_survives_later_runs(
    compile_dir: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """kcheck minimize's result (add's `wide` config overflows Triton's numel limit, found by
    compiling for sm_90 on CPU) is shown by triage after a later run replaced ``latest``."""
    p = compile_dir
    p.runpytest("--configs", "0", "-k", "add and wide", "-p", "no:xdist")
    (found_in,) = _ids(p)
    monkeypatch.chdir(p.path)
    assert cli.main(["minimize", "add[2048x1024-fp32-wide]"]) == 0
    assert f"kcheck minimize: reads run {found_in} (" in capsys.readouterr().err
    # The run's file was rewritten, not the link that names it.
    assert _link(p, "results.jsonl") == "latest/results.jsonl"
    (rec,) = list(read_records(p.path / "reports" / "runs" / found_in / "results.jsonl"))
    assert rec.fields["minimal_config"] == {"block_sizes[0]": 2048, "block_sizes[1]": 1024}

    p.runpytest("--configs", "0", "-k", "add and wide", "-p", "no:xdist")
    later = _ids(p)[-1]
    assert later != found_in and _link(p, "latest") == f"runs/{later}"
    (again,) = list(read_records(p.path / "reports" / "results.jsonl"))
    assert again.category is Category.NUMEL_OVERFLOW
    assert again.fields["minimal_config"] == rec.fields["minimal_config"]
    assert cli.main(["triage"]) == 0
    assert "minimal config: block_sizes[0]=2048, block_sizes[1]=1024" in capsys.readouterr().out


def test_run_ids_sort_as_they_started() -> None:
    ids = [runs.new_id(t) for t in (1_700_000_000, 1_700_000_000.25, 1_700_000_001, 1_800_000_000)]
    # Two runs in one second sort as they started (retention once removed the newer one).
    assert ids == sorted(ids) and ids[0].startswith("20231114T221320.000000Z-")
    assert ids[1].startswith("20231114T221320.250000Z-")
    assert len(set(runs.new_id(0) for _ in range(20))) > 1


def test_in_history_skips_runs_of_a_reports_directory_only(tmp_path: Path) -> None:
    (tmp_path / "reports" / "runs").mkdir(parents=True)
    (tmp_path / "reports" / "results.jsonl").write_text("")
    (tmp_path / "shard-1" / "runs").mkdir(parents=True)

    def is_root(d: tuple[str, ...]) -> bool:
        return runs.is_root(lambda name: os.path.lexists(tmp_path.joinpath(*d, name)))

    assert runs.in_history(("reports", "runs", "x", "results.jsonl"), is_root)
    assert runs.in_history(("reports", "latest", "results.jsonl"), is_root)
    assert not runs.in_history(("reports", "results.jsonl"), is_root)
    # A shard directory that is merely named runs/ (no reports directory above it) is read.
    assert not runs.in_history(("shard-1", "runs", "results.jsonl"), is_root)


def test_announce_names_the_run_one_way_and_escapes_hostile_paths(tmp_path: Path) -> None:
    """Every command that reads an earlier run prints it through runs.announce; a reports
    directory named to inject a workflow command or a second line cannot do so in Actions."""
    import io

    hostile = tmp_path / "r\n::error::pwned"
    run_dir = hostile / runs.RUNS / "20261206T000000.000000Z-abcdef"
    run_dir.mkdir(parents=True)
    results = run_dir / "results.jsonl"
    results.write_text("", encoding="utf-8")
    out = io.StringIO()
    runs.announce("repro", results, env={"GITHUB_ACTIONS": "true"}, stream=out)
    text = out.getvalue()
    assert text.startswith("kcheck repro: reads run 20261206T000000.000000Z-abcdef (")
    assert not [line for line in text.splitlines() if line.startswith("::")]
    assert "pwned" in text  # shown, not dropped
