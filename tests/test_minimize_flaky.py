"""``kcheck minimize`` checks for flakiness (issue 23): the verdicts a result rests on are repeated
(checker.triage.minimize.REPEATS probes each), and a search whose probes of one config disagree
ends ``flaky`` with the counts and no minimal config.

Without repeats, a probe that failed half the time whatever the config ended 273 of 1000
simulated searches with "fails iff <knob>=<value>".
"""

from __future__ import annotations

import collections
import random
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from checker.categories import Category
from checker.cli import main
from checker.model import CaseId, Mode, Record
from checker.results.jsonl import read_records
from checker.triage import minimize as mz

#: Twelve knob values differ, as in a sampled config against the default one.
FAILING = {f"knob{i}": 1 for i in range(12)}
PASSING = {f"knob{i}": 0 for i in range(12)}


def _record(category: Category, config: dict[str, Any]) -> Record:
    return Record(
        case=CaseId("racy", (1024,), "fp32", "cfg0"),
        category=category,
        mode=Mode.NATIVE,
        target="sm_90",
        config=config,
        config_repr=None,
        toolchain={},
        duration_s=0.0,
        signature="sig" if category is Category.NUMERICAL_MISMATCH else None,
    )


def _coin(rng: random.Random) -> Callable[[dict[str, Any]], Record]:
    """A racy kernel: each probe fails (the same way) with p = 0.5, whatever the config."""

    def probe(config: dict[str, Any]) -> Record:
        return _record(Category.NUMERICAL_MISMATCH if rng.random() < 0.5 else Category.PASSED, config)

    return probe


def test_a_probe_that_fails_half_the_time_never_yields_a_minimal_config() -> None:
    results = [
        mz.minimize(_record(Category.NUMERICAL_MISMATCH, FAILING), PASSING, _coin(random.Random(seed)))
        for seed in range(1000)
    ]
    blamed = [r.summary() for r in results if r.outcome in (mz.Outcome.MINIMAL, mz.Outcome.BUDGET)]
    assert blamed == [], f"{len(blamed)} of 1000 searches named knobs, e.g. {blamed[0]}"
    outcomes: collections.Counter[str] = collections.Counter()
    for seed, result in enumerate(results):
        outcomes[result.outcome.value] += 1
        assert result.fields()["minimal_config"] == {}, seed
        last = result.checks[-1]
        if result.outcome is mz.Outcome.FLAKY:
            assert result.knobs == {}, seed
            # The counts of the config whose probes disagreed, in the summary and the record.
            assert 0 < last.failed < last.probed <= mz.REPEATS, seed
            said = f"{last.config} failed the same way in {last.failed} of {last.probed} probes"
            assert result.summary().startswith(f"flaky, no minimal config: {said}"), seed
            search = result.fields()["minimal_config_search"]
            assert search["outcome"] == "flaky"
            assert search["repeats"][-1] == {
                "config": last.config,
                "failed": last.failed,
                "probed": last.probed,
            }
        else:
            # No knob named either way: a coin that came up the same REPEATS times in a row on
            # the failing config (passed every time: not reproduced) or on both it and the
            # reference (failed every time: no knob is to blame).
            assert result.outcome in (mz.Outcome.NOT_REPRODUCED, mz.Outcome.REFERENCE_FAILS), seed
            assert last.probed == mz.REPEATS and last.failed in (0, mz.REPEATS), seed
    # The coin comes up the same REPEATS times in a row on the failing config in 2 / 2**REPEATS
    # of searches: about 6% at 5. Every other search ends flaky.
    assert outcomes["flaky"] >= 900, outcomes
    assert outcomes["flaky"] + outcomes["not-reproduced"] + outcomes["reference-fails"] == 1000, outcomes


def test_without_repeats_the_simulation_blames_knobs() -> None:
    """The old search, one probe per verdict: the issue's 273 of 1000."""
    minimal = sum(
        mz.minimize(
            _record(Category.NUMERICAL_MISMATCH, FAILING), PASSING, _coin(random.Random(seed)), repeats=1
        ).outcome
        is mz.Outcome.MINIMAL
        for seed in range(1000)
    )
    assert minimal == 273


def _scripted(rule: Callable[[dict[str, Any], int], bool]) -> Callable[[dict[str, Any]], Record]:
    """A probe failing when ``rule(config, how many times this config was probed before)``."""
    seen: collections.Counter[str] = collections.Counter()

    def probe(config: dict[str, Any]) -> Record:
        key = repr(sorted(config.items()))
        fails = rule(config, seen[key])
        seen[key] += 1
        return _record(Category.NUMERICAL_MISMATCH if fails else Category.PASSED, config)

    return probe


def test_a_deterministic_failure_is_confirmed_by_repeats() -> None:
    """knob3 alone makes it fail: the failing config, the reference and knob3 alone are each
    probed REPEATS times; one-less of {knob3} is the reference, already confirmed."""
    result = mz.minimize(
        _record(Category.NUMERICAL_MISMATCH, FAILING), PASSING, _scripted(lambda c, n: c["knob3"] == 1)
    )
    assert result.outcome is mz.Outcome.MINIMAL and result.knobs == {"knob3": 1}
    assert [(c.config, c.failed, c.probed) for c in result.checks] == [
        ("the failing config", mz.REPEATS, mz.REPEATS),
        ("the reference config", 0, mz.REPEATS),
        ("the config found", mz.REPEATS, mz.REPEATS),
        ("the config found without knob3", 0, mz.REPEATS),
    ]
    assert result.fields()["minimal_config_search"]["repeats"][2] == {
        "config": "the config found",
        "failed": mz.REPEATS,
        "probed": mz.REPEATS,
    }


@pytest.mark.parametrize(
    ("rule", "flaky_config", "failed", "probed"),
    [
        # The failing config fails, then passes: flaky before anything else is probed.
        (lambda c, n: c["knob3"] == 1 and n == 0, "the failing config", 1, 2),
        # The reference passes but once in its last probe.
        (
            lambda c, n: c["knob3"] == 1 or (c == PASSING and n == mz.REPEATS - 1),
            "the reference config",
            1,
            5,
        ),
        # knob3 alone fails once (in the search), then passes.
        (
            lambda c, n: c["knob3"] == 1 and (c != {**PASSING, "knob3": 1} or n == 0),
            "the config found",
            1,
            2,
        ),
        # Without knob5 the config found passes in the search, then fails: not 1-minimal after all.
        (
            lambda c, n: c["knob3"] == 1 and (c["knob5"] == 1 or (c == {**PASSING, "knob3": 1} and n > 0)),
            "the config found without knob5",
            1,
            2,
        ),
    ],
)
def test_probes_of_one_config_that_disagree_end_flaky(
    rule: Callable[[dict[str, Any], int], bool], flaky_config: str, failed: int, probed: int
) -> None:
    result = mz.minimize(_record(Category.NUMERICAL_MISMATCH, FAILING), PASSING, _scripted(rule))
    assert result.outcome is mz.Outcome.FLAKY and result.knobs == {}
    last = result.checks[-1]
    assert (last.config, last.failed, last.probed) == (flaky_config, failed, probed)
    assert f"{flaky_config} failed the same way in {failed} of {probed} probes" in result.summary()


FLIP_KERNEL = """
import helion
import helion.language as hl
import torch

from checker.spec import DEFAULT, KernelSpec

#: Launches so far in this process: odd launches add y, even ones forget it (a kernel whose
#: result changes from launch to launch, whatever its config, as a racy one's does).
LAUNCHES = torch.zeros(1)


@helion.kernel(static_shapes=True)
def flip(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    scale = LAUNCHES.add_(1).remainder(2).expand(x.size(0), x.size(1))
    for tile in hl.tile(x.size()):
        out[tile] = x[tile] + y[tile] * scale[tile]
    return out


def make_inputs(shape, dtype, gen):
    return (torch.randn(shape, generator=gen).to(dtype), torch.randn(shape, generator=gen).to(dtype))


SPEC = KernelSpec(
    name="flip",
    kernel=flip,
    reference=lambda x, y: x + y,
    make_inputs=make_inputs,
    shapes=[],
    small_shapes=[(8, 16)],
    dtypes=[torch.float32],
    configs={"default": DEFAULT, "wide": helion.Config(block_sizes=[8, 16], num_warps=2)},
)
"""


def test_kcheck_minimize_of_a_real_flaky_case_ends_flaky_with_exit_1(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real kernel under the interpreter that is right on odd launches of its process and
    wrong on even ones. The run: the default case passes (launch 1), the wide one fails (launch
    2). minimize's fresh case worker probes the wide config: it passes (launch 1), then fails
    (launch 2): flaky, exit 1, stored in the record. The old search probed it once, saw it pass
    and said "did not fail the same way again", exit 0."""
    pytester.makeini("[pytest]\nkcheck_kernel_paths = kernels\n")
    pytester.mkdir("kernels")
    (pytester.path / "kernels" / "flip.py").write_text(FLIP_KERNEL)
    argv = [sys.executable, "-m", "checker.cli", "run", "--configs", "0", "-n", "0", "--device", "cpu"]
    proc = subprocess.run(
        [*argv, "--no-cache"], cwd=pytester.path, capture_output=True, text=True, timeout=600, check=False
    )
    results = pytester.path / "reports" / "results.jsonl"
    before = {r.case.name: r for r in read_records(results)}
    assert before["flip[8x16-fp32-default]"].category is Category.PASSED, proc.stdout[-3000:]
    assert before["flip[8x16-fp32-wide]"].category is Category.NUMERICAL_MISMATCH, proc.stdout[-3000:]
    monkeypatch.chdir(pytester.path)
    status = main(["minimize", "flip[8x16-fp32-wide]", "--results", str(results)])
    out = capsys.readouterr().out
    assert "flaky, no minimal config: the failing config failed the same way in 1 of 2 probes" in out, out
    assert "repeated probes: the failing config failed 1 of 2" in out
    assert status == 1, out
    after = {r.case.name: r for r in read_records(results)}["flip[8x16-fp32-wide]"]
    assert after.fields["minimal_config"] == {}
    search = after.fields["minimal_config_search"]
    assert search["outcome"] == "flaky" and search["probes"] == 2
    assert search["repeats"] == [{"config": "the failing config", "failed": 1, "probed": 2}]
