"""Known failures as data (issue 25, item 3): the ``kcheck_baseline`` ini option and
``--update-baseline`` (checker/baseline_plugin.py, checker/results/known.py).

Real runs of a small pytester suite of real Helion kernels (under the interpreter, one small case
each): ``good`` adds the reference's constant, ``alpha`` and ``beta`` a wrong one
(numerical-mismatch). Exit 0 means nothing new failed; a new failure, a changed category and a
checker-error are never forgiven; records and junit.xml stay the truth.
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from checker.categories import EXIT_CHECKER_ERROR, Category
from checker.model import CaseId, Mode, Record, new_record
from checker.results import known
from checker.results.baseline import Status, classify
from checker.results.merge import merge, parse_shard

ROOT = Path(__file__).resolve().parents[1]
INJECT = ROOT / "tests" / "checker_faults" / "inject.py"
#: One small fp32 case per kernel, in the pytest process, nothing compiled for a target.
ARGS = ("--configs", "0", "--shapes", "small", "--isolate", "off", "--compile", "off", "-p", "no:xdist")

KERNEL = textwrap.dedent(
    """
    import helion
    import helion.language as hl
    import torch

    from checker.spec import DEFAULT, KernelSpec


    @helion.kernel(static_shapes=True)
    def NAME_kernel(x: torch.Tensor) -> torch.Tensor:
        out = torch.empty_like(x)
        for tile in hl.tile(x.size()):
            out[tile] = x[tile] + CONST
        return out


    def make_inputs(shape, dtype, gen):
        return (torch.randn(shape, generator=gen).to(dtype),)


    SPEC = KernelSpec(
        name="NAME",
        kernel=NAME_kernel,
        reference=lambda x: REFERENCE,
        make_inputs=make_inputs,
        shapes=[],
        small_shapes=[(8, 16)],
        dtypes=[torch.float32],
        configs={"default": DEFAULT},
    )
    """
)


def _kernel(p: pytest.Pytester, name: str, const: float, reference: str = "x + 1.0") -> None:
    src = KERNEL.replace("NAME", name).replace("CONST", repr(const)).replace("REFERENCE", reference)
    (p.path / "kernels" / f"{name}.py").write_text(src)


def _id(name: str) -> str:
    return f"kernels/{name}.py::{name}[8x16-fp32-default]"


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """kernels/good.py passes; kernels/alpha.py and beta.py fail (numerical-mismatch); the ini
    names known.jsonl, which does not exist yet."""
    pytester.makeini("[pytest]\nkcheck_kernel_paths = kernels\nkcheck_baseline = known.jsonl\n")
    pytester.mkdir("kernels")
    _kernel(pytester, "good", 1.0)
    _kernel(pytester, "alpha", 1.5)
    _kernel(pytester, "beta", 2.0)
    return pytester


def _entries(p: pytest.Pytester) -> dict[str, str]:
    lines = (p.path / "known.jsonl").read_text().splitlines()
    return {rec.nodeid or "": rec.category.value for rec in map(Record.from_json, lines)}


def _failed_in_junit(p: pytest.Pytester) -> set[str]:
    root = ET.parse(p.path / "reports" / "junit.xml").getroot()
    return {str(c.get("name")) for c in root.iter("testcase") if c.find("failure") is not None}


def _out(result: pytest.RunResult) -> str:
    return "\n".join(result.outlines + result.errlines)


def test_exit_0_when_every_failure_is_known_and_1_for_a_new_one(suite: pytest.Pytester) -> None:
    first = suite.runpytest(*ARGS, "--update-baseline")
    assert first.ret == 0, _out(first)
    assert _entries(suite) == {_id("alpha"): "numerical-mismatch", _id("beta"): "numerical-mismatch"}
    assert "updated: 2 added, 0 removed, 0 changed (category), 0 kept" in _out(first)

    again = suite.runpytest(*ARGS)
    assert again.ret == 0, _out(again)
    assert "0 new failure(s), 2 pre-existing (listed with the same category); exit 0: nothing new failed" in (
        _out(again)
    )
    # The records stay the truth: a pre-existing failure is a failure in junit.xml.
    assert _failed_in_junit(suite) == {"alpha[8x16-fp32-default]", "beta[8x16-fp32-default]"}
    assert "2 failed" in _out(again)

    _kernel(suite, "good", 1.25)  # the changed kernel
    broken = suite.runpytest(*ARGS)
    assert broken.ret == 1, _out(broken)
    out = _out(broken)
    assert "1 new failure(s), 2 pre-existing (listed with the same category); exit 1: something new" in out
    assert f"  new: {_id('good')} numerical-mismatch (not listed)" in out
    assert out.index("1 new failure(s)") < out.index(f"  new: {_id('good')}")
    assert _entries(suite) == {_id("alpha"): "numerical-mismatch", _id("beta"): "numerical-mismatch"}


def test_a_known_case_failing_with_another_category_is_new(suite: pytest.Pytester) -> None:
    assert suite.runpytest(*ARGS, "--update-baseline").ret == 0
    # alpha's reference now returns another shape: shape-mismatch, not the known numerical-mismatch.
    _kernel(suite, "alpha", 1.5, reference="(x + 1.0)[:4]")
    result = suite.runpytest(*ARGS)
    assert result.ret == 1, _out(result)
    assert f"  new: {_id('alpha')} shape-mismatch (listed as numerical-mismatch)" in _out(result)
    assert "1 new failure(s), 1 pre-existing" in _out(result)


def test_update_keeps_the_entries_of_cases_it_did_not_run(suite: pytest.Pytester) -> None:
    assert suite.runpytest(*ARGS, "--update-baseline").ret == 0
    before = (suite.path / "known.jsonl").read_text().splitlines()
    _kernel(suite, "beta", 1.0)  # fixed
    _kernel(suite, "alpha", 1.0)  # fixed too, but not selected below
    result = suite.runpytest(*ARGS, "--update-baseline", "-k", "beta or good")
    assert result.ret == 0, _out(result)
    assert "updated: 0 added, 1 removed, 0 changed (category), 1 kept (cases this run did not check)" in _out(
        result
    )
    after = (suite.path / "known.jsonl").read_text().splitlines()
    assert after == [line for line in before if _id("alpha") in line]  # alpha's entry, byte for byte
    # A kernel file deleted from the suite: its entries go with it, on any run.
    (suite.path / "kernels" / "alpha.py").unlink()
    result = suite.runpytest(*ARGS, "--update-baseline", "-k", "good")
    assert "updated: 0 added, 1 removed" in _out(result)
    assert (suite.path / "known.jsonl").read_text() == ""
    # An empty file is a baseline of no known failures.
    _kernel(suite, "good", 1.25)
    result = suite.runpytest(*ARGS)
    assert result.ret == 1
    assert "1 new failure(s), 0 pre-existing" in _out(result)


def test_a_full_run_drops_the_entries_of_cases_that_no_longer_exist(suite: pytest.Pytester) -> None:
    assert suite.runpytest(*ARGS, "--update-baseline").ret == 0
    src = (suite.path / "kernels" / "alpha.py").read_text()
    (suite.path / "kernels" / "alpha.py").write_text(src.replace("(8, 16)", "(4, 16)"))  # another case id
    result = suite.runpytest(*ARGS, "--update-baseline")
    assert "updated: 1 added, 1 removed, 0 changed (category), 0 kept" in _out(result)
    assert _entries(suite) == {
        "kernels/alpha.py::alpha[4x16-fp32-default]": "numerical-mismatch",
        _id("beta"): "numerical-mismatch",
    }


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "known.jsonl does not exist"),
        ("not json\n", "unreadable baseline "),
        ('{"schema": 1}\n', "unreadable baseline "),
    ],
)
def test_a_missing_or_corrupt_baseline_is_a_usage_error_naming_it(
    suite: pytest.Pytester, content: str | None, problem: str
) -> None:
    if content is not None:
        (suite.path / "known.jsonl").write_text(content)
    result = suite.runpytest(*ARGS)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.errlines if line.startswith("ERROR:")]
    assert len(errors) == 1, result.errlines
    assert errors[0].startswith(f"ERROR: kcheck_baseline (in {suite.path / 'tox.ini'}): "), errors
    assert problem in errors[0] and str(suite.path / "known.jsonl") in errors[0]
    assert not (suite.path / "reports" / "results.jsonl").exists()  # nothing ran


def test_update_baseline_needs_a_configured_file(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nkcheck_kernel_paths = kernels\n")
    pytester.mkdir("kernels")
    _kernel(pytester, "good", 1.0)
    result = pytester.runpytest(*ARGS, "--update-baseline")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert any("--update-baseline: no known-failures file is configured" in line for line in result.errlines)


def test_a_checker_error_exits_3_even_when_listed(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kcheck's own bug is never pre-existing: not written by --update-baseline, and not
    forgiven when a hand-edited file lists it."""
    pytester.makeini("[pytest]\nkcheck_kernel_paths = kernels\nkcheck_baseline = known.jsonl\n")
    pytester.mkdir("kernels")
    shutil.copy(INJECT, pytester.path / "kernels" / "inject.py")
    monkeypatch.setenv("KCHECK_TEST_INJECT", "compare")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    args = ARGS
    first = pytester.runpytest_subprocess(*args, "--update-baseline")
    assert first.ret == EXIT_CHECKER_ERROR, _out(first)
    assert (pytester.path / "known.jsonl").read_text() == ""
    lines = (pytester.path / "reports" / "results.jsonl").read_text().splitlines()
    bugs = [line for line in lines if json.loads(line)["category"] == "checker-error"]
    assert bugs, lines
    (pytester.path / "known.jsonl").write_text("".join(line + "\n" for line in bugs))
    second = pytester.runpytest_subprocess(*args)
    assert second.ret == EXIT_CHECKER_ERROR, _out(second)
    assert "(listed as checker-error)" in _out(second)
    assert "; exit 3: a bug in kcheck" in _out(second)


def _record(name: str, category: Category, **fields: object) -> Record:
    return new_record(
        CaseId(name, (8, 16), "fp32", "default"),
        category,
        Mode.INTERPRETER,
        "sm_90",
        nodeid=f"kernels/{name}.py::{name}[8x16-fp32-default]",
        **fields,
    )


def test_a_lost_case_is_never_pre_existing() -> None:
    """A lost case says what happened to the run (a worker killed by another case, an
    interrupt), not to the case: a baseline listing it forgives nothing."""
    lost = _record("k", Category.NOT_RUN, fields={"reason": "lost"})
    base = merge([parse_shard("base", (lost.to_json() + "\n").encode())])
    (case,) = classify(known.of_run([lost]), base).cases
    assert case.status is Status.NEW
    assert not known.listable(lost)


def test_update_keeps_an_unchanged_entry_and_writes_no_timing(tmp_path: Path) -> None:
    old = _record("k", Category.NUMEL_OVERFLOW, duration_s=1.5, worker="gw0")
    up = known.update(None, [old], lambda key: False)
    (entry,) = up.entries
    assert (entry.duration_s, entry.worker, entry.stages) == (0.0, None, {})
    path = tmp_path / "known.jsonl"
    known.write(path, up.entries)
    again = known.update(
        known.read(path), [_record("k", Category.NUMEL_OVERFLOW, duration_s=9.0)], lambda k: False
    )
    assert (again.added, again.removed, again.changed) == ((), (), ())
    known.write(path, again.entries)
    assert path.read_text() == entry.to_json() + "\n"
    changed = known.update(known.read(path), [_record("k", Category.OUT_OF_RESOURCES)], lambda k: False)
    assert changed.changed == ("kernels/k.py::k[8x16-fp32-default]",)
    assert [e.category for e in changed.entries] == [Category.OUT_OF_RESOURCES]
