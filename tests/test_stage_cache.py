"""The stage cache (checker/cache/stages.py): generated code, sampled configs and interpreter
verdicts replayed across runs; what must miss does miss; bad entries are misses."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import kernel_source

from checker import execute, loader, prepare, run_options
from checker.cache import keys
from checker.cache.store import EntryStore
from checker.categories import Category
from checker.model import CaseId, Record
from checker.results.jsonl import read_records
from checker.spec import KernelSpec
from checker.targets import get_target, use_target_on_cpu

SM90 = get_target("sm_90")

#: A reference that reads a number from a file beside the kernel: editing that file changes the
#: reference's outputs but no byte of the kernel's code or of its kernel file.
SHIFTED = """
import pathlib


def shifted(x, y):
    return x + y + float(pathlib.Path(__file__).with_name("shift.txt").read_text())
"""


def _run(p: pytest.Pytester, cache_dir: Path, *extra: str) -> dict[str, Record]:
    # --cache-dir=DIR, one token: a separate existing DIR would decide pytest's rootdir.
    p.runpytest("--configs", "2", "-p", "no:xdist", f"--cache-dir={cache_dir}", *extra)
    return {r.case.name: r for r in read_records(p.path / "reports" / "results.jsonl")}


def _verdict(rec: Record) -> tuple[Any, ...]:
    return rec.category, rec.signature, rec.message, rec.config, rec.config_repr, rec.comparison


def test_a_rerun_replays_code_configs_and_interpreter_verdicts_and_misses_on_a_new_reference(
    kernel_dir: pytest.Pytester, tmp_path: Path
) -> None:
    """Cold, warm (everything from the cache, same verdicts), then the reference's outputs
    change outside the kernel file: the code still comes from the cache, the interpreter runs
    again and the case fails; a cached pass never hides it."""
    kernels = kernel_dir.path / "kernels"
    (kernels / "add.py").write_text(kernel_source("shifted", SHIFTED))
    (kernels / "shift.txt").write_text("0")
    # Golden items on (their files are missing: no matter here).
    kernel_dir.makeini("[pytest]\nkcheck_kernel_paths = kernels\nkcheck_golden_dir = golden\n")
    (kernel_dir.path / "golden").mkdir()
    root = tmp_path / "kc"

    cold = _run(kernel_dir, root)
    ran = [n for n, r in cold.items() if r.mode.value == "interpreter"]
    assert len(ran) == 8 and all(cold[n].category is Category.PASSED for n in ran), cold
    # (Golden items of a cold run may take code that the run's own cases generated first.)
    assert not any(cold[n].fields.get("run_cached") or cold[n].fields.get("codegen_cached") for n in ran)
    assert {p.parent.parent.name for p in root.rglob("*.json")} >= {"codegen", "samples", "run", "compile"}

    warm = _run(kernel_dir, root)
    assert set(warm) == set(cold)
    for name in ran:
        assert _verdict(warm[name]) == _verdict(cold[name]), name
        assert warm[name].fields["run_cached"] is True, name
        assert warm[name].fields["codegen_cached"] is True, name
        assert warm[name].fields["cached_run_s"] == cold[name].stages["run"], name
        assert "run" not in warm[name].stages, name

    goldens = [n for n, r in cold.items() if r.mode.value == "golden"]
    assert goldens
    for name in goldens:  # the golden stage takes its code from the same cache
        assert warm[name].category is cold[name].category, name
        assert warm[name].fields["codegen_cached"] is True, name

    (kernels / "shift.txt").write_text("1")
    shifted = _run(kernel_dir, root)
    for name in ran:
        assert shifted[name].category is Category.NUMERICAL_MISMATCH, name
        assert "run_cached" not in shifted[name].fields, name
        assert shifted[name].fields["codegen_cached"] is True, name
    # The failure is cached as well, and replayed as the failure it is.
    again = _run(kernel_dir, root)
    for name in ran:
        assert again[name].fields["run_cached"] is True, name
        assert _verdict(again[name]) == _verdict(shifted[name]), name


def test_editing_the_kernel_misses_and_no_cache_neither_reads_nor_writes(
    kernel_dir: pytest.Pytester, tmp_path: Path
) -> None:
    root = tmp_path / "kc"
    _run(kernel_dir, root)
    kernel = kernel_dir.path / "kernels" / "add.py"
    kernel.write_text(kernel.read_text().replace("x[tile] + y[tile]", "y[tile] + x[tile]"))
    edited = _run(kernel_dir, root)
    assert edited and not any(
        r.fields.get("codegen_cached") or r.fields.get("run_cached") for r in edited.values()
    )
    assert all(r.category is Category.PASSED for r in edited.values() if r.mode.value == "interpreter")

    before = {f: f.stat().st_mtime_ns for f in root.rglob("*.json")}
    uncached = _run(kernel_dir, root, "--no-cache")
    assert not any(r.fields.get("codegen_cached") or r.fields.get("run_cached") for r in uncached.values())
    assert {f: f.stat().st_mtime_ns for f in root.rglob("*.json")} == before


def _spec(tmp_path: Path, source: str) -> KernelSpec:
    # A directory named after the test: loaded kernel modules are named by directory and stem.
    path = tmp_path / tmp_path.name / "add.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    (spec,) = loader.specs_in([path])
    return spec


def _check(spec: KernelSpec, case: CaseId, cache_dir: Path) -> Record:
    prepare.clear_caches()  # a fresh (kernel, shape, dtype) group, as in a new process
    opts = run_options.RunOptions(0, SM90, native=False, n_configs=2, compile="off", cache_dir=str(cache_dir))
    return execute.check_case(spec, case, opts)


def test_a_warm_case_never_binds_the_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sampled configs, Helion's default config and the code all come from the cache: the kernel
    is not bound at all (Helion's bind traces the kernel), and the verdict is the same."""
    use_target_on_cpu(SM90)
    spec = _spec(tmp_path, kernel_source())
    cases = [CaseId("add", (8, 16), "fp32", c) for c in ("default", "cfg0", "cfg1")]
    cold = [_check(spec, c, tmp_path / "kc") for c in cases]
    assert [r.category for r in cold] == [Category.PASSED] * 3

    def refuse(*_: Any) -> Any:
        raise AssertionError("the kernel was bound")

    monkeypatch.setattr(type(spec.kernel), "bind", refuse)
    warm = [_check(spec, c, tmp_path / "kc") for c in cases]
    assert [_verdict(r) for r in warm] == [_verdict(r) for r in cold]
    assert all(r.fields["codegen_cached"] and r.fields["run_cached"] for r in warm)


def test_corrupt_or_forged_entries_are_misses_and_removed(tmp_path: Path) -> None:
    use_target_on_cpu(SM90)
    spec = _spec(tmp_path, kernel_source())
    case = CaseId("add", (8, 16), "fp32", "cfg0")
    root = tmp_path / "kc"
    cold = _check(spec, case, root)
    entries = sorted(root.rglob("*.json"))
    kinds = {p.parent.parent.name for p in entries}
    assert kinds == {"codegen", "samples", "run"}
    for path in entries:
        envelope = json.loads(path.read_text())
        if path.parent.parent.name == "run":
            # A verdict of a category that is never cached, signed as if with this cache's secret
            # (checker.cache.store): the field-by-field check stands behind the signature.
            data = envelope["data"]
            data["category"] = "worker-died"
            assert EntryStore(root, "run").put(envelope["key"], data)
        else:
            path.write_bytes(b'{"format": 1, "co')
    again = _check(spec, case, root)
    assert _verdict(again) == _verdict(cold)
    assert "codegen_cached" not in again.fields and "run_cached" not in again.fields
    # Each bad entry was removed and replaced by a good one.
    stored = [json.loads(p.read_text())["data"] for p in root.rglob("*.json")]
    assert all(data.get("category") != "worker-died" for data in stored)
    assert _check(spec, case, root).fields["run_cached"] is True


def test_configs_rebuilt_from_json_generate_the_same_code() -> None:
    """What a samples entry rebuilds (``helion.Config(**json)``) generates byte-identical code to
    the config Helion drew, for the bundled kernels' sampled configs (lists of lists, None, bools
    and strings among the knob values)."""
    import helion

    from checker import codegen
    from checker.sweep import sample_configs

    use_target_on_cpu(SM90)
    root = Path(__file__).resolve().parent.parent / "kernels"
    checked = 0
    for name in ("softmax", "attention", "matmul", "layer_norm"):
        spec = loader.specs_in([root / f"{name}.py"])[0]
        shape, dtype = tuple(spec.small_shapes[0]), spec.dtypes[0]
        inputs = spec.make_inputs(shape, dtype, torch.Generator().manual_seed(0))
        bound = spec.kernel.bind(inputs)
        for config in sample_configs(bound.config_spec, 4, seed=7):
            if isinstance(config, BaseException):
                continue
            rebuilt = helion.Config(**keys.config_dict(config))
            assert keys.config_dict(rebuilt) == keys.config_dict(config)
            try:
                original = codegen.generate(bound, config)
            except Exception:
                continue  # a config Helion rejects at codegen: nothing to compare
            assert codegen.generate(bound, rebuilt) == original, (name, config)
            checked += 1
    assert checked >= 8


def test_the_run_key_follows_inputs_reference_and_tolerance(tmp_path: Path) -> None:
    spec = _spec(tmp_path, kernel_source())
    x, y = torch.ones(4, 4), torch.full((4, 4), 2.0)
    base = keys.run_key(spec, (4, 4), "fp32", "code", "add", (x, y), [x + y], SM90)
    assert base == keys.run_key(spec, (4, 4), "fp32", "code", "add", (x.clone(), y), [x + y], SM90)
    y2 = y.clone()
    y2[3, 3] = 2.5
    other = {
        keys.run_key(spec, (4, 4), "fp32", "code", "add", (x, y2), [x + y], SM90),
        keys.run_key(spec, (4, 4), "fp32", "code", "add", (x, y), [x + y2], SM90),
        keys.run_key(spec, (4, 4), "fp32", "code2", "add", (x, y), [x + y], SM90),
        keys.run_key(spec, (4, 4), "fp32", "code", "add", (x, y.t()), [x + y], SM90),
        keys.run_key(spec, (4, 4), "fp32", "code", "add", (x, y), [x + y], get_target("sm_80")),
    }
    from checker.spec import Tolerance

    tighter = dataclasses.replace(spec, tolerances={torch.float32: Tolerance(0.0, 0.0, reason="exact")})
    other.add(keys.run_key(tighter, (4, 4), "fp32", "code", "add", (x, y), [x + y], SM90))
    assert base not in other and len(other) == 6


def test_a_cached_run_longer_than_the_run_timeout_runs_again(tmp_path: Path) -> None:
    """Like a cached compile timeout: a verdict is reused only where running now could give it;
    a run that took longer than this run's --run-timeout runs again (and its supervisor, not the
    cache, decides)."""
    use_target_on_cpu(SM90)
    spec = _spec(tmp_path, kernel_source())
    case = CaseId("add", (8, 16), "fp32", "wide")
    root = tmp_path / "kc"
    cold = _check(spec, case, root)
    prepare.clear_caches()
    opts = run_options.RunOptions(0, SM90, False, 2, compile="off", cache_dir=str(root), run_timeout=1e-6)
    short = execute.check_case(spec, case, opts)
    assert "run_cached" not in short.fields and _verdict(short) == _verdict(cold)
    assert _check(spec, case, root).fields["run_cached"] is True


def test_a_full_shape_with_cached_code_and_no_compile_is_not_run(tmp_path: Path) -> None:
    """``--compile off`` on CPU, run twice: the second run takes the full shape's code from the
    stage cache and compiles nothing. Its not-run record named a compile level no compile had
    set, and the KeyError made the case a checker-error (found in session 10's refactor)."""
    spec = _spec(tmp_path, kernel_source())
    case = CaseId("add", (64, 96), "fp32", "default")
    root = tmp_path / "kc"
    cold = _check(spec, case, root)
    warm = _check(spec, case, root)
    assert cold.category is Category.NOT_RUN, cold.message
    assert warm.category is Category.NOT_RUN, warm.message
    assert warm.fields.get("codegen_cached") is True
    assert "code generated" in warm.message
