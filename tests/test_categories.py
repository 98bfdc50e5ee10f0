"""Failure categories have one home: ``checker.categories.TRAITS``.

Every category is walked through the terminal summary, the PR comment, JUnit and the standalone
reproducer, with what each view must do read from the category's row: a category added to
model.py (and its classifier) is covered here without touching this file. The reproducer's
classification is checked against the checker's on real exception texts, and every category it
names against the enum.
"""

from __future__ import annotations

import ast
import dataclasses
import runpy
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from rich.console import Group

from checker import diagnostics
from checker.categories import (
    GOLDEN_CATEGORIES,
    TRAITS,
    Category,
    GroupScope,
    Headline,
    JUnitElement,
    Kind,
    Owner,
    Replay,
    categories,
)
from checker.model import CaseId, Mode, Record, new_record
from checker.report import junit, summary, terminal
from checker.results import baseline
from checker.results.group import group_key, headline, triage
from checker.results.merge import merge, parse_shard
from checker.triage import repro
from checker.triage.locate import ReproError
from checker.triage.render import render_markdown, render_terminal
from checker.triage.repro import write_repro

TESTS = Path(__file__).parent
CHECKER = TESTS.parent / "checker"
#: A real kernel file and a case of it with a named config: what reproducers are written from.
KERNEL_FILE = TESTS / "faults" / "faults.py"
CASE = CaseId("zero_output", (1024,), "fp32", "default")


def _record(category: Category) -> Record:
    """One record of ``category``: its own case (config name) and signature, so every category
    is its own testcase and failure group."""
    return new_record(
        dataclasses.replace(CASE, config=category.name.lower()),
        category,
        Mode.INTERPRETER,
        "sm_90",
        message=f"{category.value} happened here\nsecond line",
        signature=f"sig-{category.name.lower()}",
        fields={"limit": 1048576} if category.traits.scope is GroupScope.LIMIT else {},
        nodeid=f"kernels/faults.py::zero_output[{category.name.lower()}]",
    )


RECORDS = [_record(c) for c in Category]


def test_every_category_has_a_row_and_the_row_decides_its_properties() -> None:
    assert set(TRAITS) == set(Category)
    for c in Category:
        assert c.is_failure is (TRAITS[c].kind is Kind.FAILURE)
        assert c.is_skip is (TRAITS[c].kind is Kind.SKIP)
        assert c.shown_first is (TRAITS[c].owner is Owner.CHECKER)
    assert categories(lambda t: t.owner is Owner.GOLDEN) == GOLDEN_CATEGORIES


def test_the_table_keeps_the_sets_the_checker_had_before_it() -> None:
    """The sets that were written out by hand across the package, before the table: the same
    membership among the categories that existed then (a category added later is free)."""
    before = set(Category)
    known = {c for c in Category if c in before}

    def derived(pred: Any) -> set[Category]:
        return {c for c in categories(pred) if c in known}

    C = Category
    assert derived(lambda t: t.kind is Kind.SKIP) == {C.NOT_RUN, C.INTERPRETER_UNSUPPORTED}
    assert derived(lambda t: t.kind is Kind.PASS) == {C.PASSED}
    assert derived(lambda t: t.owner is Owner.GOLDEN) == {C.GOLDEN_DIFF, C.GOLDEN_MISSING, C.GOLDEN_STALE}
    assert derived(lambda t: t.owner is Owner.CHECKER) == {C.CHECKER_ERROR}
    assert derived(lambda t: t.junit is JUnitElement.ERROR) == {C.COLLECTION_ERROR}
    mismatches = {C.NUMERICAL_MISMATCH, C.NONFINITE_MISMATCH, C.SHAPE_MISMATCH, C.DTYPE_MISMATCH}
    assert derived(lambda t: t.scope is GroupScope.KERNEL) == mismatches | {
        C.INPUT_MUTATED,
        C.REFERENCE_ERROR,
    }
    assert derived(lambda t: t.scope is GroupScope.LIMIT) == {C.NUMEL_OVERFLOW}
    assert derived(lambda t: t.compared) == mismatches | {C.PASSED, C.INPUT_MUTATED}
    assert derived(lambda t: t.compile_cacheable) == {C.NUMEL_OVERFLOW, C.OUT_OF_RESOURCES, C.COMPILER_CRASH}
    assert derived(lambda t: t.sticky) == {C.ILLEGAL_MEMORY_ACCESS, C.DEVICE_ASSERT, C.LAUNCH_FAILURE}
    assert derived(lambda t: t.supervisor_made) == {C.WORKER_DIED, C.RUN_TIMEOUT}
    assert derived(lambda t: t.observed_outside) == {C.WORKER_DIED, C.RUN_TIMEOUT, C.COMPILE_TIMEOUT}
    compile_stage = {C.NUMEL_OVERFLOW, C.OUT_OF_RESOURCES, C.COMPILER_CRASH, C.COMPILE_TIMEOUT, C.NOT_RUN}
    assert derived(lambda t: t.replay is Replay.COMPILE) == compile_stage
    run_stage = {C.CUDA_OOM, C.ILLEGAL_MEMORY_ACCESS, C.DEVICE_ASSERT, C.LAUNCH_FAILURE, C.RUNTIME_ERROR}
    run_stage |= mismatches | {C.PASSED, C.INPUT_MUTATED, C.RUN_TIMEOUT, C.WORKER_DIED, C.STORE_RACE}
    assert derived(lambda t: t.replay is Replay.RUN) == run_stage
    assert derived(lambda t: t.headline is Headline.INNERMOST_EXCEPTION) == {
        C.RUNTIME_ERROR,
        C.HELION_INTERNAL_ERROR,
    }


def _cells(line: str, bar: str) -> list[str]:
    return [cell.strip() for cell in line.split(bar)[1:-1]]


def test_every_category_in_the_terminal_summary_and_failure_groups() -> None:
    width = 4000
    table = terminal.to_text(terminal.summary_table(RECORDS, width), width).splitlines()
    columns = _cells(next(line for line in table if "┃" in line), "┃")
    total = dict(zip(columns, _cells(next(line for line in table if "total" in line), "│"), strict=True))
    groups = terminal.to_text(Group(*terminal.failure_groups_view(RECORDS, max_groups=len(RECORDS))), width)
    for rec in RECORDS:
        c = rec.category
        title = f"{c.value} x1  [{rec.signature}]"
        if c.is_failure:
            assert total[c.value] == "1", c  # a column of its own
            assert title in groups, c
        else:
            assert title not in groups, c
    assert total["skipped"] == str(sum(c.is_skip for c in Category))
    assert total["passed"] == str(sum(c.traits.kind is Kind.PASS for c in Category))
    assert int(total["cases"]) == len(Category)
    # kcheck's own bugs come before every kernel's failure, and are called out.
    titles = [line.split()[1] for line in groups.splitlines() if line[:1].isdigit()]
    assert sorted(titles) == sorted(c.value for c in Category if c.is_failure)
    bugs = [c.value for c in Category if c.shown_first]
    assert titles[: len(bugs)] == sorted(bugs)
    assert ("bug in kcheck itself" in groups) is bool(bugs)


def _comment_sections(records: list[Record]) -> dict[str, str]:
    """The PR comment of ``records`` (as ``kcheck report`` reads them: through JSON lines and
    validation), split into its ``###`` sections by heading."""
    data = "".join(r.to_json() + "\n" for r in records).encode()
    result = baseline.classify(merge([parse_shard("results.jsonl", data)]))
    text = summary.render(result)
    sections: dict[str, str] = {}
    for part in text.split("\n### ")[1:]:
        heading, _, body = part.partition("\n")
        sections[heading] = body
    return sections


def test_every_category_in_its_section_of_the_pr_comment() -> None:
    sections = _comment_sections(RECORDS)
    for rec in RECORDS:
        c = rec.category
        holding = [h for h, body in sections.items() if f"`{rec.signature}`" in body]
        if not c.is_failure:
            assert holding == [], c
            continue
        assert len(holding) == 1, (c, holding)
        expected = {
            Owner.CHECKER: "kcheck errors (a bug in the checker, not in the kernels)",
            Owner.GOLDEN: "Golden changes",
        }.get(c.traits.owner, "New failures")
        assert holding[0].startswith(expected), (c, holding)
        assert f"`{c.value}` · `{rec.signature}`" in sections[holding[0]]
        shows_diff = f"<summary>diff of <code>{rec.case.name}" in sections[holding[0]]
        assert shows_diff is (c in GOLDEN_CATEGORIES), c  # the diff (here: the message)
    # kcheck's own bugs: a section above every other.
    if any(c.shown_first for c in Category):
        assert next(iter(sections)).startswith("kcheck errors")


def test_every_category_says_what_to_do_next_in_every_group_view() -> None:
    """Each row's ``next_step`` (whose fault, which command narrows it) is one line of plain
    text, and every failure group shows its category's: the run's terminal groups, ``kcheck
    triage`` (terminal and markdown) and the PR comment."""
    for c in Category:
        step = c.traits.next_step
        assert step.strip() == step and step and "\n" not in step and len(step) <= 160, c
        # Shown as markdown text in the comment and triage.md: nothing that would render.
        assert not set(step) & set("<>`*_[]|#\\!"), c
    failing = [rec for rec in RECORDS if rec.category.is_failure]
    width = 4000
    result = triage([("run", RECORDS)])
    views = {
        "run": terminal.to_text(
            Group(*terminal.failure_groups_view(RECORDS, max_groups=len(RECORDS))), width
        ),
        "triage": render_terminal(result, width=width),
        "triage.md": render_markdown(result),
        "comment": "".join(_comment_sections(RECORDS).values()),
    }
    for name, text in views.items():
        shown = [line.split("next: ", 1)[1] for line in text.splitlines() if "next: " in line]
        assert sorted(shown) == sorted(r.category.traits.next_step for r in failing), name


def test_every_category_has_its_junit_element() -> None:
    root = ET.fromstring(junit.to_bytes(junit.build(RECORDS)))
    by_name = {case.get("name"): case for case in root.iter("testcase")}
    assert len(by_name) == len(Category)
    for rec in RECORDS:
        c = rec.category
        case = by_name[rec.case.name]
        results = [e for e in case if e.tag in ("failure", "error", "skipped")]
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        assert props["category"] == c.value
        if c.traits.junit is JUnitElement.NONE:
            assert results == [], c
            continue
        assert [e.tag for e in results] == [c.traits.junit.value], c
        if c.traits.junit is not JUnitElement.SKIPPED:
            assert results[0].get("type") == c.value
    # A lost case fails, whatever its category's element.
    lost = dataclasses.replace(RECORDS[0], category=Category.NOT_RUN, fields={"reason": "lost"})
    assert lost.lost and junit.element(lost) is JUnitElement.FAILURE


def test_every_category_groups_and_titles_by_its_row() -> None:
    for rec in RECORDS:
        c = rec.category
        key = group_key(rec)
        scope = {GroupScope.KERNEL: f"kernel={CASE.kernel}", GroupScope.LIMIT: "limit=1048576"}
        assert key.scope == scope.get(c.traits.scope, ""), c
        assert headline(rec) == f"{c.value} happened here", c


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[Category, Path | ReproError]:
    """A reproducer of a ``zero_output`` case recorded with each category (or the refusal)."""
    out_dir = tmp_path_factory.mktemp("repros")
    out: dict[Category, Path | ReproError] = {}
    for c in Category:
        rec = dataclasses.replace(_record(c), case=CASE)
        try:
            out[c] = write_repro(rec, KERNEL_FILE, out_dir / f"{c.name.lower()}.py")
        except ReproError as exc:
            out[c] = exc
    return out


def _namespace(path: Path) -> dict[str, Any]:
    """A reproducer's globals, loaded without running its main."""
    return runpy.run_path(str(path), run_name="kcheck_repro_under_test")


def test_every_category_replays_its_stage_in_a_reproducer(written: dict[Category, Path | ReproError]) -> None:
    for c in Category:
        found = written[c]
        if c.traits.replay is None:
            assert isinstance(found, ReproError) and c.value in str(found), c
            continue
        assert isinstance(found, Path), (c, found)
        ns = _namespace(found)
        assert ns["DATA"]["category"] == c.value
        assert ns["DATA"]["stage"] == c.traits.replay.value
        assert ns["DATA"]["isolate"] is c.traits.observed_outside
        assert ns["CLASSIFICATION"] == repro.classification()


# Exception texts the checker met (tests/test_diagnostics.py, docs/gpu-runs.md): (type name,
# base type names, message). A reproducer must classify each as the checker does.
_EXCEPTIONS: list[tuple[str, tuple[str, ...], str]] = [
    (
        "CompilationError",
        (),
        "at 3:14:\nValueError: numel (2097152) exceeds triton maximum tensor numel (1048576)",
    ),
    ("AttributeError", (), "'InterpreterBuilder' object has no attribute 'create_descriptor_reduce'"),
    ("OutOfResources", (), "out of resource: shared memory, Required: 1048584, Hardware limit: 232448"),
    ("OutOfResources", (), "out of resource: registers"),
    ("PTXASError", (), "PTXAS error: Internal Triton PTX codegen error\nptxas fatal   : (C7600) Register"),
    ("RuntimeError", (), "PassManager::run failed"),
    ("InvalidConfig", ("Base",), "block size 4096 is larger than the maximum"),
    ("OutOfMemoryError", (), "CUDA out of memory. Tried to allocate 2.00 GiB"),
    ("RuntimeError", (), "CUDA error: out of memory... CUDA out of memory"),
    ("AcceleratorError", (), "CUDA error: an illegal memory access was encountered"),
    ("AcceleratorError", (), "CUDA error: misaligned address"),
    ("RuntimeError", (), "CUDA error: device-side assert triggered"),
    ("RuntimeError", (), "CUDA error: unspecified launch failure"),
    (
        "AcceleratorError",
        (),
        "CUDA error: an illegal instruction was encountered\nCompile with `TORCH_USE_CUDA_DSA` to "
        "enable device-side assertions.",
    ),
    ("CompilationError", (), "at 24:29:\nunsupported AST node type: Starred"),
    ("ValueError", (), "something no rule knows"),
    ("StoreRace", ("RuntimeError",), "one store writes different values to one address from 2 lanes"),
    ("InterpreterError", (), "StoreRace('one store writes different values to one address from 3 lanes')"),
]
# Exceptions only the checker's own stages raise: its interpreter shims, Helion's code generation.
_CHECKER_ONLY: list[tuple[str, tuple[str, ...], str]] = [
    ("InterpreterGap", (), "tl.dot on bf16 is not faithful under the interpreter"),
    ("BaseError", ("Base",), "Helion could not lower this"),
]


def _exception(name: str, bases: tuple[str, ...], message: str) -> Exception:
    parents = tuple(type(b, (Exception,), {}) for b in bases) or (Exception,)
    return type(name, parents, {})(message)


def _decides(rule: diagnostics.Rule, exc: BaseException) -> bool:
    names = {cls.__name__ for cls in type(exc).__mro__}
    if rule.types and not names.intersection(rule.types):
        return False
    return rule.pattern is None or rule.pattern.search(f"{type(exc).__name__}: {exc}") is not None


def test_the_reproducer_classifies_exceptions_as_the_checker_does(
    written: dict[Category, Path | ReproError],
) -> None:
    path = written[Category.NUMERICAL_MISMATCH]
    assert isinstance(path, Path)
    reproducer_classify = _namespace(path)["classify"]
    met: set[int] = set()
    for name, bases, message in [*_EXCEPTIONS, *_CHECKER_ONLY]:
        exc = _exception(name, bases, message)
        met.update(i for i, r in enumerate(diagnostics.RULES) if _decides(r, exc))
        if (name, bases, message) in _CHECKER_ONLY:
            continue
        checker = diagnostics.classify(exc)
        mine = reproducer_classify(exc)
        assert mine.category == checker.category.value, (name, message, checker)
        # The file's signature is the checker's (its tables are CLASSIFICATION["signature"]).
        assert mine.signature == checker.signature, (name, message)
    # Every rule was met above: a new rule needs an example here.
    missing = [r for i, r in enumerate(diagnostics.RULES) if i not in met]
    assert missing == [], missing


def test_the_reproducer_signs_comparisons_and_compiler_logs_as_the_checker_does(
    written: dict[Category, Path | ReproError],
) -> None:
    """A comparison's message loses its values, a compiler crash's signature gains the failing
    MLIR pass, in the file as in checker/diagnostics.py."""
    path = written[Category.NUMERICAL_MISMATCH]
    assert isinstance(path, Path)
    ns = _namespace(path)
    for category, message in [
        (
            Category.NUMERICAL_MISMATCH,
            "output 'mean': 3 of 64 elements (4.69%) outside rtol=0.016 "
            "atol=1e-05; max abs err 0.25, max rel err 2.1; worst at (3, 1): got 0.5, expected 0.25",
        ),
        (
            Category.INPUT_MUTATED,
            "kernel wrote input 'x' (argument 0), which the spec does not list "
            "in mutates: 4 of 16 elements changed; first at (2,): was 1.5, now -0.5",
        ),
        (Category.RUNTIME_ERROR, "ValueError: 0x7f00 at /tmp/tmpab12/x.py line 12"),
    ]:
        assert ns["signature"](category.value, message) == diagnostics.signature(category, message)
    log = "error: x\nPipeline failed while executing [`TritonGPURemoveLayoutConversions` on 'builtin.module'"
    crash = diagnostics.Diagnosis(Category.COMPILER_CRASH, "RuntimeError: PassManager::run failed", "abc")
    outcome = ns["Outcome"]("compiler-crash", crash.message, crash.signature)
    assert (
        ns["with_compiler_log"](outcome, log).signature == diagnostics.with_compiler_log(crash, log).signature
    )


def _outcome_categories(tree: ast.AST) -> set[str]:
    """Every category the template names as an outcome: ``Outcome("x", ...)`` literals, both
    branches of a conditional first argument, and ``f"{stage}-timeout"`` for either stage."""
    found: set[str] = set()

    def literals(node: ast.expr) -> set[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        if isinstance(node, ast.IfExp):
            return literals(node.body) | literals(node.orelse)
        if isinstance(node, ast.JoinedStr):
            tail = "".join(str(v.value) for v in node.values if isinstance(v, ast.Constant))
            return {stage.value + tail for stage in Replay}
        return set()

    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Outcome" and node.args:
            found |= literals(node.args[0])
        if isinstance(node, ast.Dict):  # {"category": f"{stage}-timeout", ...} child answers
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "category" and value is not None:
                    found |= literals(value)
    return found


def test_the_reproducer_names_only_the_checkers_categories() -> None:
    tree = ast.parse((CHECKER / "triage" / "repro_template.py").read_text(encoding="utf-8"))
    named = _outcome_categories(tree)
    # "ran": the kernel ran without a reference to compare with; "cannot-run": a child's answer.
    assert named - {c.value for c in Category} == {"ran", "cannot-run"}
    assert {"passed", "compiler-crash", "worker-died", "run-timeout", "compile-timeout"} <= named


def test_records_are_made_by_the_one_factory() -> None:
    """No module of the checker calls ``Record(...)`` but model.py (its factory and parser)."""
    calls = []
    for path in sorted(CHECKER.rglob("*.py")):
        if path == CHECKER / "model.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Record"
            ):
                calls.append(f"{path.relative_to(CHECKER)}:{node.lineno}")
    assert calls == []
