"""No false greens and no lost records (issue 13): each test makes a real kernel module misbehave
and checks the run with the one invariant helper (tests/invariant.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import kernel_source
from invariant import check_run

from checker import collected
from checker.categories import Category
from checker.cli import main
from checker.results.jsonl import read_records

SMALL = ("--configs", "0", "--shapes", "small", "-p", "no:xdist")


def _hostile(p: pytest.Pytester, body: str, when: str = "dtype == torch.float16") -> None:
    """add's input factory runs ``body`` for the cases where ``when`` holds."""
    extra = (
        "import os, signal, sys, time\n"
        "_inputs = make_inputs\n"
        "def hostile_inputs(shape, dtype, gen):\n"
        f"    if {when}:\n"
        f"        {body}\n"
        "    return _inputs(shape, dtype, gen)\n"
    )
    src = kernel_source(extra=extra).replace("make_inputs=make_inputs", "make_inputs=hostile_inputs")
    (p.path / "kernels" / "add.py").write_text(src)


def _run(p: pytest.Pytester, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest in a subprocess (a case may end its process), from the pytester directory."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", *SMALL, "-p", "no:cacheprovider", *args],
        cwd=p.path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_os_exit_in_a_case_costs_a_worker_not_the_run(kernel_dir: pytest.Pytester) -> None:
    """os._exit(0) in a case with -n 0 (as in every printed repro) used to end the run with exit
    0, 2 of 5 records and no junit.xml. Each case now runs in a supervised worker."""
    _hostile(kernel_dir, "os._exit(0)")
    proc = _run(kernel_dir)
    records = check_run(kernel_dir.path / "reports", proc.returncode)
    assert proc.returncode == 1, proc.stdout[-2000:]
    died = [r for r in records if r.case.dtype == "fp16"]
    assert {r.category for r in died} == {Category.WORKER_DIED}
    assert all(r.fields["exit_status"] == 0 for r in died)


def test_truncated_run_is_not_complete_for_kcheck_report(kernel_dir: pytest.Pytester) -> None:
    """Without isolation, a case that kills its process (SIGKILL, as the OOM killer would) ends
    pytest with partial results. The run wrote what it collected first, so `kcheck report` marks
    the missing cases lost and fails. (os._exit(0) no longer ends such a run: it is the case's
    record, tests/test_isolate_off_exit.py.)"""
    _hostile(
        kernel_dir, "os.kill(os.getpid(), signal.SIGKILL)", when="dtype == torch.float16 and shape[0] == 8"
    )
    proc = _run(kernel_dir, "--isolate", "off")
    reports = kernel_dir.path / "reports"
    assert proc.returncode == -9  # the process is gone: nothing in it can change that
    partial = list(read_records(reports / "results.jsonl"))
    assert len(partial) < len(collected.read(reports / collected.FILENAME)) == 4
    out = kernel_dir.path / "merged"
    code = main(["report", str(reports / "results.jsonl"), "--out", str(out), "--quiet"])
    assert code == 1
    merged = list(read_records(out / "results.jsonl"))
    lost = [r for r in merged if r.lost]
    assert len(merged) == 4 and lost and all(r.category is Category.NOT_RUN for r in lost)
    assert "lost" in (out / "summary.md").read_text()


def test_interrupted_run_records_what_it_lost(kernel_dir: pytest.Pytester) -> None:
    """Ctrl-C (KeyboardInterrupt) in the middle of a run: the session still ends, and every case
    it did not get to has a lost record, in results.jsonl and junit.xml alike."""
    _hostile(kernel_dir, "raise KeyboardInterrupt", when="dtype == torch.float16")
    proc = _run(kernel_dir, "--isolate", "off")
    assert proc.returncode == pytest.ExitCode.INTERRUPTED
    records = check_run(kernel_dir.path / "reports", proc.returncode)
    assert {r.case.name for r in records if r.lost} >= {"add[8x16-fp16-default]"} or any(
        r.lost for r in records
    )


def test_stale_outputs_of_an_earlier_run_are_removed(kernel_dir: pytest.Pytester) -> None:
    reports = kernel_dir.path / "reports"
    reports.mkdir()
    for name in ("junit.xml", "summary.md", "verdict.json"):
        (reports / name).write_text("from an earlier run")
    (reports / "results.jsonl").write_text("")
    proc = _run(kernel_dir, "-k", "fp32")
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert not (reports / "summary.md").exists() and not (reports / "verdict.json").exists()
    check_run(reports, proc.returncode)


def test_sys_exit_at_import_is_a_collection_error(kernel_dir: pytest.Pytester) -> None:
    """sys.exit() at a kernel module's import aborted the session (exit 3, no records)."""
    (kernel_dir.path / "kernels" / "quits.py").write_text("import sys\nsys.exit(0)\n")
    proc = _run(kernel_dir, "-k", "fp32 or collection")
    records = check_run(kernel_dir.path / "reports", proc.returncode)
    assert proc.returncode == 1
    assert [r.category for r in records if r.mode == "collection"] == [Category.COLLECTION_ERROR]
    assert sum(r.category is Category.PASSED for r in records) == 2


@pytest.mark.parametrize(
    ("reference", "why"),
    [
        ("lambda x, y: None", "reference returned NoneType as output 0"),
        ("lambda x, y: __import__('pytest').importorskip('no_such_module_kcheck')", "no_such_module_kcheck"),
    ],
)
def test_broken_references_are_reference_errors(
    kernel_dir: pytest.Pytester, reference: str, why: str
) -> None:
    """A reference that returns None was a runtime-error; one that calls pytest.importorskip
    left no record at all."""
    (kernel_dir.path / "kernels" / "add.py").write_text(kernel_source(reference=reference))
    proc = _run(kernel_dir, "-k", "fp32")
    records = check_run(kernel_dir.path / "reports", proc.returncode)
    assert {r.category for r in records} == {Category.REFERENCE_ERROR}, [r.message[:200] for r in records]
    assert all(why in r.message for r in records)


def test_lone_surrogate_in_a_message_loses_nothing_under_xdist(kernel_dir: pytest.Pytester) -> None:
    """`os.fsdecode(b'/d/w-\\xff')` in an error message made execnet fail to send the record:
    INTERNALERROR and 6 of 9 records lost."""
    _hostile(kernel_dir, "raise ValueError(os.fsdecode(b'/d/w-\\xff'))")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--configs",
            "1",
            "--shapes",
            "small",
            "-n",
            "2",
            "-p",
            "no:cacheprovider",
        ],
        cwd=kernel_dir.path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert "INTERNALERROR" not in proc.stdout + proc.stderr
    records = check_run(kernel_dir.path / "reports", proc.returncode)
    bad = [r for r in records if r.case.dtype == "fp16"]
    assert bad and all("\\udcff" in r.message for r in bad), [r.message[:200] for r in bad]
    json.dumps([r.message for r in records], ensure_ascii=False).encode("utf-8")


def test_golden_path_that_is_a_directory_is_a_golden_failure(pytester: pytest.Pytester) -> None:
    """A golden file path that is a directory made the golden item raise and leave no record:
    exit 1 with 0 failures in junit, and a green `kcheck report`."""
    pytester.makeini("[pytest]\nkcheck_kernel_paths = kernels\nkcheck_golden_dir = golden\n")
    pytester.mkdir("kernels")
    (pytester.path / "kernels" / "add.py").write_text(kernel_source())
    (pytester.path / "golden" / "cpu-sm_90" / "add" / "64x96-fp32-default.triton").mkdir(parents=True)
    proc = _run(pytester, "-k", "golden and fp32")
    records = check_run(pytester.path / "reports", proc.returncode)
    bad = [r for r in records if r.case.config == "default"]
    assert [r.category for r in bad] == [Category.GOLDEN_DIFF], [r.message[:200] for r in bad]
    assert "unreadable golden file" in bad[0].message
    assert main(["report", str(pytester.path / "reports"), "--out", str(pytester.path / "m"), "--quiet"]) == 1


def test_invariant_helper_catches_a_lost_record(kernel_dir: pytest.Pytester) -> None:
    """The helper itself fails on a run that lost a record (a test that cannot fail is a defect)."""
    proc = _run(kernel_dir, "-k", "fp32")
    reports = kernel_dir.path / "reports"
    lines = (reports / "results.jsonl").read_text().splitlines()
    (reports / "results.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(AssertionError, match="collected 2 cases, recorded 1"):
        check_run(reports, proc.returncode)


def test_golden_symlink_out_of_the_golden_directory_is_a_golden_failure(pytester: pytest.Pytester) -> None:
    """A golden file that is a symlink to a file outside the golden directory (a pull request
    can commit one) is refused, with a record; the file it points to is never read or written."""
    pytester.makeini("[pytest]\nkcheck_kernel_paths = kernels\nkcheck_golden_dir = golden\n")
    pytester.mkdir("kernels")
    (pytester.path / "kernels" / "add.py").write_text(kernel_source())
    outside = pytester.path / "secret.txt"
    outside.write_text("not a golden file\n")
    link = pytester.path / "golden" / "cpu-sm_90" / "add" / "64x96-fp32-default.triton"
    link.parent.mkdir(parents=True)
    link.symlink_to(outside)
    for update in ((), ("--update-golden",)):
        proc = _run(pytester, "-k", "golden and fp32", *update)
        records = check_run(pytester.path / "reports", proc.returncode)
        bad = [r for r in records if r.case.config == "default"]
        assert [r.category for r in bad] == [Category.GOLDEN_DIFF], [r.message[:200] for r in bad]
        assert "escapes" in bad[0].message
        assert outside.read_text() == "not a golden file\n", "--update-golden wrote through the link"
    assert main(["report", str(pytester.path / "reports"), "--out", str(pytester.path / "m"), "--quiet"]) == 1


def test_xdist_restart_limit_leaves_lost_records_that_fail_the_run(kernel_dir: pytest.Pytester) -> None:
    """Without isolation, cases that segfault their xdist worker: past xdist's restart limit the
    remaining cases never run. They were missing from the records and `kcheck report` exited 0;
    each is now a lost not-run record, and the run and the report fail."""
    _hostile(kernel_dir, "os.kill(os.getpid(), signal.SIGSEGV)", when="True")
    proc = _run(kernel_dir, "--isolate", "off", "-p", "xdist", "-n", "2", "--max-worker-restart", "0")
    reports = kernel_dir.path / "reports"
    records = check_run(reports, proc.returncode)
    assert proc.returncode != 0
    lost = [r for r in records if r.lost]
    died = [r for r in records if r.category is Category.WORKER_DIED]
    assert lost, "with no restarts allowed, some cases never ran"
    assert died and all(r.fields.get("signal") == "SIGSEGV" for r in died)
    assert len(lost) + len(died) == 4
    assert main(["report", str(reports), "--out", str(kernel_dir.path / "m"), "--quiet"]) == 1


@pytest.mark.parametrize("pipe", ["tee run.log", "head -1", "true"])
def test_a_failing_run_through_a_pipe_keeps_its_records_and_exit_status(
    kernel_dir: pytest.Pytester, pipe: str
) -> None:
    """`kcheck run ... | tee log` (with pipefail, as CI shells run) exits non-zero on a failure,
    and a reader that stops early (`| head -1`) or never reads (`| true`) costs no record:
    pytest's next write raised BrokenPipeError and junit.xml was never written."""
    _hostile(kernel_dir, "raise RuntimeError('boom')")
    run = f"{sys.executable} -m checker.cli run kernels -n 0 --configs 0 --shapes small"
    command = f"set -o pipefail; {run} | {pipe}"
    proc = subprocess.run(
        ["bash", "-c", command], cwd=kernel_dir.path, capture_output=True, text=True, timeout=600, check=False
    )
    records = check_run(kernel_dir.path / "reports", proc.returncode)
    assert proc.returncode != 0 and any(r.failed for r in records)
    if pipe.startswith("tee"):
        assert (
            "reference-error" in (kernel_dir.path / "run.log").read_text()
            or "runtime-error" in (kernel_dir.path / "run.log").read_text()
        )
