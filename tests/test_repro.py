"""``kcheck repro``: standalone reproducers that replay real failures without the checker.

One real CPU run (module fixture) checks a numerical mismatch and a passing case from
tests/faults/faults.py under the interpreter, and a numel overflow and a compiler crash from
tests/repro_kernels/compile_faults.py cross-compiled for sm_90. Each reproducer then runs in a
fresh interpreter, in another directory, with ``checker`` made unimportable.
"""

from __future__ import annotations

import ast
import base64
import dataclasses
import io
import json
import os
import runpy
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from checker import rerun
from checker.categories import Category
from checker.cli import main
from checker.golden.paths import safe_component
from checker.model import CaseId, Record
from checker.results.jsonl import read_records
from checker.triage.locate import ReproError
from checker.triage.repro import default_output_name, write_repro

TESTS = Path(__file__).parent
MISMATCH = "zero_output[1024-fp32-default]"
PASSING = "healthy_after_zero_output[1024-fp32-default]"
NUMEL = "wide_add[2048x1024-fp32-wide]"
CRASH = "causal_attention[1x2x16x16-fp16-wide_q]"
# Runs a reproducer the way the brief's users do, where ``import checker`` fails.
NO_CHECKER = (
    "import sys, runpy; sys.modules['checker'] = None; "
    "sys.argv = [sys.argv[1], *sys.argv[2:]]; runpy.run_path(sys.argv[0], run_name='__main__')"
)


@dataclasses.dataclass(frozen=True)
class Run:
    """A finished kcheck run: its directory (the working directory) and its records by name."""

    path: Path
    records: dict[str, Record]
    #: The temp directory the run had (TMPDIR): where the old repro commands wrote their reports.
    tmpdir: Path

    @property
    def results(self) -> Path:
        return self.path / "reports" / "results.jsonl"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("repro-run")
    # A project whose configured kernel path is the suite: kcheck repro loads kernels from there
    # (or from --kernels), never from the path a record names.
    (root / "pytest.ini").write_text("[pytest]\nkcheck_kernel_paths = repro_suite\n")
    suite = root / "repro_suite"
    suite.mkdir()
    shutil.copy(TESTS / "faults" / "faults.py", suite / "faults.py")
    shutil.copy(TESTS / "repro_kernels" / "compile_faults.py", suite / "compile_faults.py")
    tmpdir = tmp_path_factory.mktemp("repro-run-tmpdir")
    env = {k: v for k, v in os.environ.items() if k != "KCHECK_RUN_DIR"} | {"TMPDIR": str(tmpdir)}
    argv = [sys.executable, "-m", "checker.cli", "run", "repro_suite", "--configs", "0", "-n", "0"]
    argv += ["-k", "zero_output or wide_add or causal_attention", "--device", "cpu"]
    proc = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=600, check=False, env=env)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    records = {r.case.name: r for r in read_records(root / "reports" / "results.jsonl")}
    # The run itself found what the reproducers must find again.
    assert records[MISMATCH].category is Category.NUMERICAL_MISMATCH
    assert records[MISMATCH].mode == "interpreter"
    assert records[PASSING].category is Category.PASSED
    assert records[NUMEL].category is Category.NUMEL_OVERFLOW
    assert records[CRASH].category is Category.COMPILER_CRASH
    return Run(root, records, tmpdir)


def _repro(run: Run, case: str, monkeypatch: pytest.MonkeyPatch, *extra: str) -> Path:
    """``kcheck repro CASE`` in the run's directory; the file it wrote."""
    monkeypatch.chdir(run.path)
    out = run.path / f"{default_output_name(run.records[case])}"
    assert main(["repro", case, "--results", str(run.results), "-o", str(out), *extra]) == 0
    return out


def _execute(path: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a reproducer in a fresh interpreter in ``cwd``, where ``checker`` cannot be imported."""
    env = {k: v for k, v in os.environ.items() if k not in ("TRITON_INTERPRET", "PYTHONPATH")}
    # A temp directory of its own, so a test can see what the reproducer leaves there.
    (cwd / "tmp").mkdir(exist_ok=True)
    env["TMPDIR"] = str(cwd / "tmp")
    argv = [sys.executable, "-c", NO_CHECKER, str(path), *args]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300, env=env, check=False)


def _verdict(proc: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in proc.stdout.splitlines() if line.startswith(("REPRODUCED", "NOT ", "CANNOT"))]
    assert len(lines) == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    return lines[0]


def _data(path: Path) -> dict[str, Any]:
    """The data block of a reproducer (loaded without running its main)."""
    data: dict[str, Any] = runpy.run_path(str(path), run_name="kcheck_repro_under_test")["DATA"]
    return data


@pytest.mark.parametrize(
    ("case", "category"),
    [
        (MISMATCH, "numerical-mismatch"),
        (NUMEL, "numel-overflow"),
        (CRASH, "compiler-crash"),
    ],
)
def test_failure_reproduces_without_the_checker(
    run: Run, case: str, category: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = _repro(run, case, monkeypatch)
    proc = _execute(path, tmp_path)
    assert _verdict(proc).startswith(f"REPRODUCED {category}: "), proc.stderr[-2000:]
    assert proc.returncode == 1
    assert not list((tmp_path / "tmp").glob("kcheck-repro-*")), "the reproducer left its scratch behind"
    text = path.read_text()
    # The file's code imports nothing of the checker's (checker/interpreter.py, embedded as text
    # in INTERPRETER_SOURCE, names the checker only when it is the checker's own module).
    imported = [
        getattr(node, "module", None) or alias.name
        for node in ast.walk(ast.parse(text))
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    ]
    assert not [name for name in imported if name.split(".")[0] == "checker"], imported
    data = _data(path)
    record = run.records[case]
    assert data["category"] == category and data["target"]["name"] == record.target == "sm_90"
    assert data["toolchain"] == record.toolchain and data["command"] == record.repro
    assert f"toolchain: {json.dumps(record.toolchain, sort_keys=True)!a}" in text
    assert f"made by:   {record.repro!a}" in text


def test_mismatch_file_embeds_code_inputs_reference_and_the_recorded_tolerance(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _repro(run, MISMATCH, monkeypatch)
    data = _data(path)
    module = runpy.run_path(str(path), run_name="kcheck_repro_under_test")
    code = module["GENERATED_CODE"]
    assert "def _helion_zero_output(" in code and "@triton.jit" in code
    assert data["inputs"]["form"] == "embedded" and module["INPUTS_B64"]
    assert data["reference"]["form"] == "embedded" and module["EXPECTED_B64"]
    assert data["stage"] == "run" and data["mode"] == "interpreter"
    comparison = run.records[MISMATCH].comparison
    assert comparison is not None
    slot = data["default_slot"]
    assert (slot["rtol"], slot["atol"]) == (comparison.rtol, comparison.atol) == (1.3e-6, 1e-5)
    # The embedded inputs are the checker's: the reference on them has the recorded worst value.
    expected = torch.load(io.BytesIO(base64.b64decode(module["EXPECTED_B64"])), weights_only=True)
    assert comparison.worst_index is not None
    assert float(expected["returned"][0][comparison.worst_index]) == comparison.worst_expected


def test_run_it_names_the_interpreter_that_wrote_the_file(
    run: Run, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``kcheck repro`` prints ``run it: <its own sys.executable> FILE`` (a bare ``python`` may
    lack torch), and that command, pasted, reproduces the failure."""
    monkeypatch.chdir(run.path)
    out = tmp_path / "pasted.py"
    assert main(["repro", NUMEL, "--results", str(run.results), "-o", str(out)]) == 0
    [line] = [x for x in capsys.readouterr().out.splitlines() if x.startswith("run it: ")]
    argv = shlex.split(line.removeprefix("run it: "))
    assert argv == [sys.executable, str(out)]
    assert f"# run with:  {sys.executable!a}" in out.read_text()
    env = {k: v for k, v in os.environ.items() if k not in ("TRITON_INTERPRET", "PYTHONPATH")}
    proc = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert _verdict(proc).startswith("REPRODUCED numel-overflow: "), proc.stderr[-2000:]
    assert proc.returncode == 1


@pytest.mark.parametrize("case", [NUMEL, MISMATCH])
def test_a_python_without_the_toolchain_cannot_run_it(
    run: Run, case: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Issue 25: a ``python`` without triton printed ``NOT REPRODUCED: got runtime-error
    (recorded: numel-overflow): ModuleNotFoundError: No module named 'triton'`` and exited 0.
    ``-S`` leaves site-packages (torch, triton, helion) off this interpreter's path."""
    path = _repro(run, case, monkeypatch)
    argv = [sys.executable, "-I", "-S", str(path)]
    probe = subprocess.run([*argv[:3], "-c", "import torch"], capture_output=True, check=False)
    assert probe.returncode != 0, "the premise: this Python cannot import torch"
    proc = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    verdict = _verdict(proc)
    assert verdict.startswith(f"CANNOT RUN: this Python ({sys.executable}) has no torch, triton, helion")
    assert f"Run it with the Python that wrote it: {sys.executable} {path}" in verdict
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


def test_another_toolchain_cannot_run_it_unless_asked(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A record made with another Triton release: CANNOT RUN (exit 2), naming both versions;
    ``--any-toolchain`` replays it here, with a warning. Another local label of the same torch
    release (``+cu126`` for ``+cpu``: a build for other devices) is not another toolchain."""
    here = run.records[NUMEL].toolchain
    toolchain = {**here, "triton": "3.5.0", "torch": here["torch"].split("+")[0] + "+cu126"}
    record = dataclasses.replace(run.records[NUMEL], toolchain=toolchain)
    monkeypatch.chdir(run.path)
    path = write_repro(record, run.path / "repro_suite" / "compile_faults.py", tmp_path / "old.py")
    proc = _execute(path, tmp_path)
    verdict = _verdict(proc)
    assert verdict.startswith(f"CANNOT RUN: triton {here['triton']} here, 3.5.0 in the record: "), verdict
    assert "torch" not in verdict.split(":")[1] and "--any-toolchain" in verdict
    assert proc.returncode == 2
    anyway = _execute(path, tmp_path, "--any-toolchain")
    assert _verdict(anyway).startswith("REPRODUCED numel-overflow: ")
    assert anyway.returncode == 1
    assert f"WARNING: triton {here['triton']} here, 3.5.0 in the record" in anyway.stderr


@pytest.mark.parametrize("case", [NUMEL, MISMATCH])
def test_generated_code_this_python_cannot_import_is_cannot_run(
    run: Run, case: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Generated code that imports what is not here (the kernel's own module, for helpers its
    host code calls: docs/repro.md, Limits) is CANNOT RUN, exit 2; it was a traceback (exit 1,
    which reads as reproduced) on the run path and ``NOT REPRODUCED`` on the compile path."""
    path = _repro(run, case, monkeypatch)
    start = "GENERATED_CODE = \"\".join(\n    [\n        'from __future__ import annotations\\n',\n"
    text = path.read_text()
    assert start in text
    path.write_text(text.replace(start, start + "        'import kcheck_no_such_module\\n',\n", 1))
    proc = _execute(path, tmp_path)
    assert _verdict(proc) == (
        "CANNOT RUN: the generated code imports what this Python cannot: ModuleNotFoundError: "
        "No module named 'kcheck_no_such_module'"
    ), proc.stderr[-2000:]
    assert proc.returncode == 2


def test_compile_failures_carry_layouts_only(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _data(_repro(run, NUMEL, monkeypatch))
    assert data["stage"] == "compile" and data["compile_level"] == "check"
    assert data["inputs"]["form"] == "layout" and data["reference"]["form"] == "none"
    assert [a["shape"] for a in data["args"]] == [[2048, 1024], [2048, 1024]]


def test_passing_case_is_not_reproduced(run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    proc = _execute(_repro(run, PASSING, monkeypatch), tmp_path)
    assert _verdict(proc).startswith("NOT REPRODUCED: passed")
    assert proc.returncode == 0


def test_a_failure_that_does_not_happen_is_not_reproduced(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The healthy kernel's record, relabelled as a mismatch: the verdict comes from running."""
    passing = run.records[PASSING]
    record = dataclasses.replace(passing, category=Category.NUMERICAL_MISMATCH, message="made up")
    monkeypatch.chdir(run.path)
    path = write_repro(record, run.path / "repro_suite" / "faults.py", tmp_path / "relabelled.py")
    proc = _execute(path, tmp_path)
    assert _verdict(proc).startswith("NOT REPRODUCED: passed")
    assert proc.returncode == 0


def test_large_inputs_come_from_make_inputs_and_the_reference_from_its_source(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """wide_add's 2048x1024 inputs (16 MiB) are over the embedding limit; its make_inputs and
    reference are plain functions of torch, so the file carries their source. A config whose
    tile fits (256x1024) runs under the interpreter and passes."""
    record = dataclasses.replace(
        run.records[NUMEL],
        category=Category.PASSED,
        mode="interpreter",
        config={"block_sizes": [256, 1024], "num_warps": 4},
        message="",
        fields={},
    )
    monkeypatch.chdir(run.path)
    path = write_repro(record, run.path / "repro_suite" / "compile_faults.py", tmp_path / "large.py")
    module = runpy.run_path(str(path), run_name="kcheck_repro_under_test")
    data = module["DATA"]
    assert data["inputs"]["form"] == "generator" and data["inputs"]["function"] == "add_inputs"
    assert data["reference"]["form"] == "source" and data["reference"]["function"] == "add_reference"
    assert "def add_reference(" in module["REFERENCE_SOURCE"] and module["INPUTS_B64"] == ""
    proc = _execute(path, tmp_path)
    assert _verdict(proc).startswith("NOT REPRODUCED: passed (within rtol=1.3e-06")
    assert proc.returncode == 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU machine runs native cases instead")
def test_native_case_says_it_needs_a_gpu(run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    record = dataclasses.replace(run.records[MISMATCH], mode="native")
    monkeypatch.chdir(run.path)
    path = write_repro(record, run.path / "repro_suite" / "faults.py", tmp_path / "native.py")
    proc = _execute(path, tmp_path)
    verdict = _verdict(proc)
    assert verdict.startswith("CANNOT RUN: ") and "needs a CUDA GPU" in verdict
    assert proc.returncode == 2


def test_run_timeout_reproduces_in_a_child(run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """faults.py's ``endless`` kernel loops ~2**62 times. Its record, as the checker writes it
    for a case worker it killed, has no config; the reproducer derives the named config and
    stops the launch after the record's limit, from a watchdog in a child process."""
    record = dataclasses.replace(
        run.records[MISMATCH],
        case=CaseId("endless", (1024,), "fp32", "default"),
        category=Category.RUN_TIMEOUT,
        config=None,
        config_repr=None,
        comparison=None,
        message="case worker killed after 3 s",
        fields={"seconds": 3.0, "timeout_s": 3},
    )
    monkeypatch.chdir(run.path)
    path = write_repro(record, run.path / "repro_suite" / "faults.py", tmp_path / "endless.py")
    data = _data(path)
    assert data["isolate"] and data["timeout_s"] == 3.0 and data["config"]["block_sizes"] == [256]
    assert data["reference"]["form"] == "none"
    proc = _execute(path, tmp_path)
    assert _verdict(proc) == "REPRODUCED run-timeout: the run did not finish within 3 s"
    assert proc.returncode == 1


def test_hostile_record_text_stays_data(run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Messages, node ids and commands come from kernels and compilers: none may become code."""
    evil = "x'''\"\"\"\n)\nkcheck_pwned(); import os; os._exit(7)\n# \\\udcff \u2028 kcheck_pwned()"
    record = dataclasses.replace(run.records[NUMEL], message=evil, repro=evil, nodeid=evil)
    monkeypatch.chdir(run.path)
    path = write_repro(record, run.path / "repro_suite" / "compile_faults.py", tmp_path / "evil.py")
    text = path.read_text(encoding="utf-8")
    assert text.isascii()
    tree = ast.parse(text)
    names = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == "kcheck_pwned"]
    assert names == [] and "kcheck_pwned" in text  # there, but only inside string literals
    proc = _execute(path, tmp_path, "--show-code")
    assert proc.returncode == 0 and "def _helion_wide_add(" in proc.stdout
    assert _data(path)["message"] == record.message


def test_unknown_case_is_exit_2_naming_it(
    run: Run, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(run.path)
    assert main(["repro", "nope[1-fp32-x]", "--results", str(run.results)]) == 2
    assert "nope[1-fp32-x]" in capsys.readouterr().err
    assert main(["repro", MISMATCH, "--results", str(run.path / "missing.jsonl")]) == 2
    err = capsys.readouterr().err
    assert MISMATCH in err and "does not exist" in err


def test_missing_kernel_file_is_exit_2_naming_the_case(
    run: Run, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    record = dataclasses.replace(
        run.records[MISMATCH], nodeid=f"gone/faults.py::{MISMATCH}", repro=None, options=None
    )
    results = tmp_path / "results.jsonl"
    results.write_text(record.to_json() + "\n")
    monkeypatch.chdir(tmp_path)
    assert main(["repro", MISMATCH, "--results", str(results)]) == 2
    err = capsys.readouterr().err
    assert MISMATCH in err and "gone/faults.py" in err
    # --kernels finds it elsewhere; a directory without the spec does not.
    elsewhere = str(TESTS / "repro_kernels")
    assert main(["repro", MISMATCH, "--results", str(results), "--kernels", elsewhere]) == 2
    assert "declares spec 'zero_output'" in capsys.readouterr().err
    suite = run.path / "repro_suite"
    assert main(["repro", MISMATCH, "--results", str(results), "--kernels", str(suite)]) == 0
    assert (tmp_path / "repro_zero_output_1024-fp32-default.py").is_file()


def test_categories_without_a_replay_are_refused(run: Run, tmp_path: Path) -> None:
    record = dataclasses.replace(run.records[MISMATCH], category=Category.REFERENCE_ERROR)
    with pytest.raises(ReproError, match=r"zero_output\[1024-fp32-default\].*reference-error"):
        write_repro(record, run.path / "repro_suite" / "faults.py", tmp_path / "x.py")
    assert not (tmp_path / "x.py").exists()


def test_output_name_is_sanitized() -> None:
    record = Record(
        case=CaseId("add", (8, 16), "fp16", "../../etc/x y;rm"),
        category=Category.PASSED,
        mode="interpreter",
        target="sm_90",
        config={},
        config_repr=None,
        toolchain={},
        duration_s=0.0,
    )
    name = default_output_name(record)
    assert name == "repro_add_8x16-fp16-.._.._etc_x_y_rm.py"
    assert "/" not in name and not name.startswith(".")


def test_a_pasted_repro_command_never_follows_a_planted_symlink(run: Run, tmp_path: Path) -> None:
    """The repro command of a record wrote its reports to <temp dir>/kcheck-repro/<case>, a path
    anyone can predict and plant as a symlink: a pasted repro then replaced another directory's
    results (issue 23). Now it writes to kcheck-repro/<case> under the directory it is pasted in."""
    record = run.records[MISMATCH]
    assert record.repro is not None
    argv = shlex.split(record.repro)
    # Someone else's results, and a symlink to them where the old command wrote.
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "results.jsonl").write_text("precious\n")
    planted = run.tmpdir / "kcheck-repro" / safe_component(record.case.name)
    planted.parent.mkdir(exist_ok=True)
    planted.symlink_to(victim, target_is_directory=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "KCHECK_RUN_DIR"} | {"TMPDIR": str(run.tmpdir)}
    proc = subprocess.run(
        argv, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert [p.name for p in victim.iterdir()] == ["results.jsonl"], "the repro wrote through the symlink"
    assert (victim / "results.jsonl").read_text() == "precious\n"
    assert proc.returncode == 1, proc.stdout[-3000:]
    reports = Path(argv[argv.index("--reports-dir") + 1])
    assert not reports.is_absolute() and reports == rerun.repro_reports_dir(record.case.name)
    assert str(run.tmpdir) not in record.repro
    (again,) = read_records(elsewhere / reports / "results.jsonl")
    assert again.case == record.case and again.category is Category.NUMERICAL_MISMATCH
    assert not (elsewhere / "reports").exists()
