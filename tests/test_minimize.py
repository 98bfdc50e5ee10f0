"""Minimal failing config: the delta-debugging search (checker/triage/minimize.py) and
``kcheck minimize`` on a config that really overflows Triton's numel limit, on CPU."""

from __future__ import annotations

import getpass
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import kernel_source

from checker import cli
from checker.categories import Category
from checker.model import CaseId, Mode, Record
from checker.results.jsonl import read_records
from checker.triage.minimize import REPEATS, Knob, Outcome, apply, knob_diff, minimize

PASSING = {
    "block_sizes": [32, 32],
    "num_warps": 4,
    "num_stages": 1,
    "range_unroll_factors": [0, 0],
    "loop_orders": [[0, 1]],
    "pid_type": "flat",
}
FAILING = {
    "block_sizes": [64, 16],
    "num_warps": 16,
    "num_stages": 3,
    "range_unroll_factors": [0, 4],
    "loop_orders": [[1, 0]],
    "pid_type": "persistent_blocked",
}


def _record(category: Category, config: dict[str, Any], signature: str | None = "sig") -> Record:
    return Record(
        case=CaseId("attention", (4, 48, 1024, 64), "fp32", "cfg0"),
        category=category,
        mode=Mode.NATIVE,
        target="sm_90",
        config=config,
        config_repr=None,
        toolchain={},
        duration_s=0.1,
        signature=signature,
    )


def _probe(rule: Callable[[dict[str, Any]], Category], log: list[dict[str, Any]]) -> Callable[..., Record]:
    def probe(config: dict[str, Any]) -> Record:
        log.append(config)
        category = rule(config)
        return _record(category, config, "sig" if category is Category.NUMERICAL_MISMATCH else None)

    return probe


def _two_knobs(config: dict[str, Any]) -> Category:
    # Wrong only with 16 warps and an unrolled inner loop together (the H100 attention finding).
    if config["num_warps"] == 16 and config["range_unroll_factors"][1] == 4:
        return Category.NUMERICAL_MISMATCH
    return Category.PASSED


def test_knob_diff_indexes_lists_and_keeps_nested_lists_whole() -> None:
    names = [k.name for k in knob_diff(FAILING, PASSING)]
    assert names == [
        "block_sizes[0]",
        "block_sizes[1]",
        "num_warps",
        "num_stages",
        "range_unroll_factors[1]",
        "loop_orders[0]",
        "pid_type",
    ]
    assert apply(PASSING, [Knob("loop_orders", 0, [1, 0])])["loop_orders"] == [[1, 0]]
    assert PASSING["loop_orders"] == [[0, 1]], "apply must not change the reference"
    # Different lengths: the whole list is one knob value; True is not 1.
    assert [k.name for k in knob_diff({"a": [1, 2, 3], "b": True}, {"a": [1, 2], "b": 1})] == ["a", "b"]


def test_two_knobs_that_fail_only_together_are_found() -> None:
    log: list[dict[str, Any]] = []
    result = minimize(_record(Category.NUMERICAL_MISMATCH, FAILING), PASSING, _probe(_two_knobs, log))
    assert result.outcome is Outcome.MINIMAL
    assert result.knobs == {"num_warps": 16, "range_unroll_factors[1]": 4}
    assert result.config == {**PASSING, "num_warps": 16, "range_unroll_factors": [0, 4]}
    assert len(result.probes) == len(log)
    # The search probes no config twice; only the verdicts the result rests on are repeated:
    # the failing config, the reference, the pair found and the pair without either knob.
    searched = [
        json.dumps(apply(PASSING, p.knobs), sort_keys=True) for p in result.probes if p.phase == "search"
    ]
    assert len(searched) == len(set(searched)) <= 20
    assert [(c.config, c.failed, c.probed) for c in result.checks] == [
        ("the failing config", REPEATS, REPEATS),
        ("the reference config", 0, REPEATS),
        ("the config found", REPEATS, REPEATS),
        ("the config found without num_warps", 0, REPEATS),
        ("the config found without range_unroll_factors[1]", 0, REPEATS),
    ]
    assert len(log) == len(searched) + 2 * REPEATS + 3 * (REPEATS - 1)
    assert result.summary().startswith("fails iff num_warps=16 and range_unroll_factors[1]=4")
    assert result.fields()["minimal_config"] == {"num_warps": 16, "range_unroll_factors[1]": 4}


def test_a_probe_failing_differently_does_not_count_unless_asked() -> None:
    """On a plain config the two knobs gave an illegal memory access, not a wrong result."""

    def rule(config: dict[str, Any]) -> Category:
        if _two_knobs(config) is Category.PASSED:
            return Category.PASSED
        return Category.NUMERICAL_MISMATCH if config["num_stages"] == 3 else Category.ILLEGAL_MEMORY_ACCESS

    strict = minimize(_record(Category.NUMERICAL_MISMATCH, FAILING), PASSING, _probe(rule, []))
    assert strict.knobs == {"num_warps": 16, "num_stages": 3, "range_unroll_factors[1]": 4}
    loose = minimize(
        _record(Category.NUMERICAL_MISMATCH, FAILING), PASSING, _probe(rule, []), match="failure"
    )
    assert loose.knobs == {"num_warps": 16, "range_unroll_factors[1]": 4}


def test_a_config_helion_rejects_never_counts_as_failing() -> None:
    """On an H200 the attention case's search with --match failure stopped at "fails iff
    maxnreg=128": that knob alone is a config Helion rejects (invalid-config), not a failure."""

    def rule(config: dict[str, Any]) -> Category:
        if config["num_stages"] == 3 and config["num_warps"] != 16:
            return Category.INVALID_CONFIG  # num_stages=3 needs 16 warps in this made-up space
        return _two_knobs(config)

    for match in ("failure", "category", "signature"):
        failing = _record(Category.NUMERICAL_MISMATCH, FAILING)
        found = minimize(failing, PASSING, _probe(rule, []), match=match)
        assert found.outcome is Outcome.MINIMAL
        assert found.knobs == {"num_warps": 16, "range_unroll_factors[1]": 4}, match


def test_budget_reference_and_flaky_outcomes() -> None:
    cut = minimize(
        _record(Category.NUMERICAL_MISMATCH, FAILING), PASSING, _probe(_two_knobs, []), max_probes=3
    )
    # --max-probes bounds the search; the repeats of the failing config and the reference come on top.
    assert cut.outcome is Outcome.BUDGET and [p.phase for p in cut.probes].count("search") == 3
    assert len(cut.probes) == 3 + 2 * REPEATS
    assert {"num_warps", "range_unroll_factors[1]"} <= set(cut.knobs), "what is kept still fails"
    always = minimize(
        _record(Category.NUMERICAL_MISMATCH, FAILING),
        PASSING,
        _probe(lambda c: Category.NUMERICAL_MISMATCH, []),
    )
    assert always.outcome is Outcome.REFERENCE_FAILS and always.knobs == {}
    never = minimize(
        _record(Category.NUMERICAL_MISMATCH, FAILING), PASSING, _probe(lambda c: Category.PASSED, [])
    )
    assert never.outcome is Outcome.NOT_REPRODUCED and never.fields()["minimal_config"] == {}


def test_kcheck_minimize_finds_the_knobs_of_a_real_numel_overflow(
    compile_dir: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """add's `wide` config (block [2048, 1024], 4 warps) needs a 2M-element tile, Triton allows
    1M: both block sizes matter, the warps do not. Compiled for sm_90 on CPU, in case workers."""
    compile_dir.runpytest("--configs", "0", "-k", "add", "-p", "no:xdist")
    results = compile_dir.path / "reports" / "results.jsonl"
    before = {r.case.name: r for r in read_records(results)}
    assert before["add[2048x1024-fp32-wide]"].category is Category.NUMEL_OVERFLOW
    monkeypatch.chdir(compile_dir.path)
    status = cli.main(["minimize", "add[2048x1024-fp32-wide]", "--results", str(results)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "fails iff block_sizes[0]=2048 and block_sizes[1]=1024" in out
    # A probe of a full shape on CPU compiles for the target and stops: named for what it is.
    assert "compiled for sm_90, not run (no GPU) with (reference config)" in out
    assert "not-run" not in out
    after = {r.case.name: r for r in read_records(results)}
    assert after["add[2048x1024-fp32-wide]"].fields["minimal_config"] == {
        "block_sizes[0]": 2048,
        "block_sizes[1]": 1024,
    }
    assert after.keys() == before.keys()
    assert after["add[2048x1024-fp32-default]"] == before["add[2048x1024-fp32-default]"]
    # Shown by triage and in the PR comment.
    assert cli.main(["triage", str(results)]) == 0
    assert "minimal config: block_sizes[0]=2048, block_sizes[1]=1024" in capsys.readouterr().out
    assert cli.main(["report", str(results), "--out", str(compile_dir.path / "out")]) == 1
    summary = (compile_dir.path / "out" / "summary.md").read_text()
    assert (
        "minimal failing config (`add[2048x1024-fp32-wide]`): `block_sizes[0]=2048, block_sizes[1]=1024`"
        in summary
    )


def test_kcheck_minimize_refuses_what_it_cannot_search(
    compile_dir: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    results = compile_dir.path / "results.jsonl"
    native = _record(Category.NUMERICAL_MISMATCH, FAILING)
    passed = _record(Category.PASSED, PASSING)
    results.write_text(
        "\n".join(
            r.to_json()
            for r in (native, Record(**{**passed.__dict__, "case": CaseId("add", (8,), "fp32", "x")}))
        )
        + "\n"
    )
    monkeypatch.chdir(compile_dir.path)
    assert (
        cli.main(
            [
                "minimize",
                "attention[4x48x1024x64-fp32-cfg0]",
                "add[8-fp32-x]",
                "nope[1-fp32-y]",
                "--results",
                str(results),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "attention[4x48x1024x64-fp32-cfg0] failed on a GPU (sm_90)" in err
    assert "add[8-fp32-x] did not fail (passed)" in err
    assert "case nope[1-fp32-y]: no record of it" in err
    assert Path(results).read_text().count("\n") == 2


def test_kcheck_minimize_leaves_no_scratch_behind(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """Probes under the interpreter import generated modules, which their case worker writes to
    a scratch directory; the workers end by SIGTERM, so their own cleanup never runs, and each
    minimize left a kcheck-gen-* directory in the temp directory. Now the command's own run
    directory holds them and is removed at the end: after a whole search, and after Ctrl-C."""
    pytester.makeini("[pytest]\nkcheck_kernel_paths = kernels\n")
    pytester.mkdir("kernels")
    wrong = kernel_source("wrong", "def wrong(x, y):\n    return x - y\n")
    wrong = wrong.replace("shapes=[(64, 96)]", "shapes=[]").replace(
        "dtypes=[torch.float32, torch.float16]", "dtypes=[torch.float32]"
    )
    (pytester.path / "kernels" / "add.py").write_text(wrong)
    kcheck = [sys.executable, "-m", "checker.cli"]
    run = subprocess.run(
        [*kcheck, "run", "--configs", "0", "-n", "0", "--device", "cpu", "--no-cache"],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 1, run.stdout[-3000:]
    private = tmp_path / "tmpdir"
    private.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "KCHECK_RUN_DIR"} | {"TMPDIR": str(private)}
    # torch's own compile cache (shared by every torch process of this user, kept on purpose).
    torch_cache = {f"torchinductor_{getpass.getuser()}"}
    before = set(os.listdir(private))
    argv = [*kcheck, "minimize", "add[8x16-fp32-wide]", "--no-write"]
    done = subprocess.run(
        argv, cwd=pytester.path, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    # Every config gives the wrong sum: the reference fails too (under the interpreter: probes run).
    assert "the reference config fails the same way" in done.stdout, done.stdout + done.stderr[-3000:]
    assert done.returncode == 0
    assert set(os.listdir(private)) - torch_cache == before, "a whole search left scratch behind"

    # SIGINT as a terminal's Ctrl-C finds it: a test run started in the background of a
    # non-interactive shell (`cmd &`) ignores SIGINT, a child inherits that, and Python then
    # installs no KeyboardInterrupt handler: the search ran to its end and exited 0.
    interrupted = subprocess.Popen(
        argv,
        cwd=pytester.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert interrupted.stdout is not None
    for line in interrupted.stdout:
        if "probe 1:" in line:
            break
    interrupted.send_signal(signal.SIGINT)
    interrupted.communicate(timeout=120)
    assert interrupted.returncode != 0
    assert set(os.listdir(private)) - torch_cache == before, "an interrupted search left scratch behind"
