"""Signatures that group by cause (issue 25, item 1): numbers and their formats never reach the
signature of a mismatch-like category, so one wrong constant in one kernel is one group in the
terminal summary, ``kcheck triage`` and the PR comment; other categories' signatures are as
discriminating as they were.

One real CPU run (module fixture) of tests/signature_kernels/wrong_constant.py: two ranks of
shapes, three dtypes, a named and two sampled configs, all failing from one constant.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from checker.categories import Category
from checker.cli import main
from checker.diagnostics import normalize_values, signature
from checker.model import Record
from checker.results.group import triage
from checker.results.jsonl import read_records

TESTS = Path(__file__).parent
RUNS = TESTS.parent / "docs" / "runs"


@dataclasses.dataclass(frozen=True)
class Run:
    """A finished ``kcheck run``: its directory, its stdout (the terminal summary), its records."""

    path: Path
    stdout: str
    records: list[Record]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    root = tmp_path_factory.mktemp("signature-run")
    (root / "pytest.ini").write_text("[pytest]\nkcheck_kernel_paths = suite\n")
    (root / "suite").mkdir()
    shutil.copy(TESTS / "signature_kernels" / "wrong_constant.py", root / "suite" / "wrong_constant.py")
    env = {k: v for k, v in os.environ.items() if k not in ("KCHECK_RUN_DIR", "COLUMNS")}
    argv = [sys.executable, "-m", "checker.cli", "run", "suite", "--configs", "2", "-n", "0"]
    argv += ["--device", "cpu", "--no-cache"]
    proc = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=600, check=False, env=env)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    return Run(root, proc.stdout, list(read_records(root / "reports" / "results.jsonl")))


def test_the_run_fails_every_case_with_differently_formatted_numbers(run: Run) -> None:
    """The premise: 18 cases (2 shapes x 3 dtypes x 3 configs) fail from one constant, and
    their messages differ in the numbers' values and formats."""
    assert len(run.records) == 18
    assert {r.category for r in run.records} == {Category.NUMERICAL_MISMATCH}
    percents = {re.search(r"\(([\d.]+%)\)", r.message).group(1) for r in run.records}  # type: ignore[union-attr]
    rtols = {re.search(r"rtol=(\S+)", r.message).group(1) for r in run.records}  # type: ignore[union-attr]
    ranks = {r.message.split("worst at (")[1].split(")")[0].count(",") for r in run.records}
    assert len(percents) > 1 and any("." in p for p in percents), percents
    assert len(rtols) == 3 and any("e-" in t for t in rtols), rtols
    assert ranks == {1}, "(977,) and (12, 3): one comma each, but a different number of values"


def test_one_wrong_constant_is_one_signature_and_one_group_everywhere(
    run: Run, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert len({r.signature for r in run.records}) == 1
    # The terminal summary of kcheck run.
    assert "failures: 18 cases in 1 groups" in run.stdout, run.stdout[-3000:]
    assert run.stdout.count("numerical-mismatch x18") == 1
    # The triage view, as a function and as the command.
    [group] = triage([("run", run.records)]).groups
    assert group.cases == 18
    assert group.dtypes() == {"fp32": 6, "fp16": 6, "bf16": 6}
    monkeypatch.chdir(run.path)
    assert main(["triage"]) == 0
    assert "kcheck triage: 18 failing cases in 1 groups" in capsys.readouterr().out.replace("\n", " ")
    # The PR comment and its triage.md.
    assert main(["report", "reports", "--out", "out", "--quiet"]) == 1
    comment = (run.path / "out" / "summary.md").read_text()
    assert "### New failures: 18 cases, 1 group\n" in comment
    assert len(set(re.findall(r"\]\(triage\.md#(group-[0-9a-f]{10})\)", comment))) == 1
    assert (run.path / "out" / "triage.md").read_text().count('<a id="group-') == 1


def _recorded(category_test: bool) -> dict[tuple[str, str], set[str]]:
    """Signatures of the failing records of docs/runs, made again from their messages, per
    (kernel, category), for mismatch-like categories (True) or not (False)."""
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    for path in sorted(RUNS.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                if '"case"' not in line:
                    continue  # a timing line, not a case's record
                rec = Record.from_json(line)
                if rec.failed and rec.category.is_mismatch is category_test:
                    out[(rec.case.kernel, rec.category.value)].add(signature(rec.category, rec.message))
    return out


def test_recorded_mismatches_have_one_signature_per_kernel_and_category() -> None:
    """The recorded CPU and GPU runs: ex_add's, ex_longsum's and four other kernels' mismatches
    had two signatures each (``got nan, expected -0.96`` vs ``expected 3.71875``; ``got
    64596308131840.0`` vs ``got 1.0176901842728262e+36``; ``got -inf`` vs ``got nan``)."""
    per_kernel = _recorded(True)
    assert ("ex_add", "nonfinite-mismatch") in per_kernel and ("wrong_shape", "shape-mismatch") in per_kernel
    assert {k: len(v) for k, v in per_kernel.items() if len(v) != 1} == {}


# Representative failures of other categories (messages of the recorded runs and
# docs/records.md), with their signatures as computed before issue 25: unchanged.
OTHERS = [
    (
        Category.NUMEL_OVERFLOW,
        "ValueError: numel (4194304) exceeds triton maximum tensor numel (1048576)",
        "ea13a79d1280",
    ),
    (
        Category.OUT_OF_RESOURCES,
        "OutOfResources: out of resource: shared memory, Required: 797696, Hardware limit: 232448. "
        "Reducing block sizes or `num_stages` may help.",
        "abdb61d4f0f2",
    ),
    (
        Category.COMPILER_CRASH,
        "PTXASError: PTXAS error: Internal Triton PTX codegen error ptxas fatal   : (C7602) "
        "Insufficient registers (32) to compile instruction",
        "dba651414786",
    ),
    (Category.COMPILER_CRASH, "ValueError: invalid axis 2. Expected -2 <= axis < 2", "20fab41960ba"),
    (Category.COMPILER_CRASH, "ValueError: invalid axis -3. Expected -2 <= axis < 2", "0b65006c5b2d"),
    (Category.COMPILER_CRASH, "CompilationError: unsupported dtype torch.float16", "d1cb0367c0c8"),
    (Category.COMPILER_CRASH, "CompilationError: unsupported dtype torch.bfloat16", "b086faed887c"),
    (
        Category.RUNTIME_ERROR,
        "InterpreterError: ValueError(\"axis 2 out of bounds for shape ['constexpr[8]', 'constexpr[32]']\")",
        "67e1657f61df",
    ),
    (Category.COMPILE_TIMEOUT, "compile timeout", "7eabd71036de"),
    (Category.WORKER_DIED, "compile worker died signal SIGSEGV", "407df1d7c209"),
]


@pytest.mark.parametrize(("category", "message", "before"), OTHERS)
def test_other_categories_keep_their_signatures(category: Category, message: str, before: str) -> None:
    assert signature(category, message) == before


def test_other_categories_stay_apart_where_a_mismatch_would_merge() -> None:
    """The two invalid axes and the two dtypes are different crashes: only a mismatch's values
    are stripped (normalize_values would make each pair one text)."""
    sigs = [signature(c, m) for c, m, _ in OTHERS]
    assert len(set(sigs)) == len(sigs)
    assert normalize_values(OTHERS[3][1]) == normalize_values(OTHERS[4][1])
    assert normalize_values(OTHERS[5][1]) == normalize_values(OTHERS[6][1])
    # Recorded compiler crashes, timeouts and overflows keep as many signatures as before.
    assert len(_recorded(False)) > 10


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "12 of 1024 elements (92%) outside rtol=1.3e-06 atol=1e-05; max abs err 0.05, max rel err "
            "0.0476; worst at (3, 4): got 1.05, expected 0.0",
            "3 of 9 elements (33.4%) outside rtol=0.016 atol=0.016; max abs err 6.46e+13, max rel err "
            "7.54e+13; worst at (): got 64596308131840.0, expected -0.85666",
        ),
        (
            "32 of 1024 elements non-finite where the reference is not (or the reverse); first at (0, 9): "
            "got nan, expected -0.9609375",
            "619 of 1024 elements non-finite where the reference is not (or the reverse); first at "
            "(0, 0, 1): got -inf, expected 2.580123806701269e-05",
        ),
        ("output shape (512,), expected (1024,)", "output shape (4, 8), expected ()"),
        (
            "output dtype torch.float16, expected torch.float32",
            "output dtype torch.float32, expected torch.bfloat16",
        ),
        (
            "3 of 8 elements (37.5%) differ from the reference (exact comparison of i32); "
            "worst at (5,): got 7.0, expected 3.0",
            "1 of 8 elements (12.5%) differ from the reference (exact comparison of u8); "
            "worst at (0,): got 1.0, expected 0.0",
        ),
        (
            "kernel wrote input 'x' (argument 0), which the spec does not list in mutates: 5 of 64 elements "
            "changed; first at (0, 1): was 0.5, now 1.5",
            "kernel wrote input 'x' (argument 0), which the spec does not list in mutates: 64 of 64 elements "
            "changed; first at (0,): was -1e-05, now inf",
        ),
    ],
)
def test_a_mismatch_signature_holds_no_value(a: str, b: str) -> None:
    for category in (c for c in Category if c.is_mismatch):
        assert signature(category, a) == signature(category, b)
    assert signature(Category.RUNTIME_ERROR, a) != signature(Category.RUNTIME_ERROR, b)


def test_a_mismatch_signature_still_says_which_output_and_how() -> None:
    mismatch = Category.NUMERICAL_MISMATCH
    outside = "1 of 4 elements (25%) outside rtol=0.001 atol=1e-05; max abs err 1, max rel err 1"
    sigs = {
        signature(mismatch, f"output 'mean': {outside}"),
        signature(mismatch, f"output 'rstd': {outside}"),
        signature(mismatch, outside),
        signature(mismatch, "output is all zeros but the reference is not (false-pass guard)"),
    }
    assert len(sigs) == 4
