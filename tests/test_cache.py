"""The compile cache (checker/cache/compile_cache.py, keys in checker/cache/keys.py): real
compiles replayed, keys, bad entries, races, bounds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from checker import compile_step, run_options, toolchain
from checker.attempts import CompileAttempts
from checker.cache import compile_cache, keys, store
from checker.cache.store import STALE_TEMP_S, EntryStore, prune
from checker.categories import Category
from checker.compile import CompileResult, TensorArg
from checker.diagnostics import Diagnosis
from checker.model import Record
from checker.pool import CompileJob, CompileWorker, Died, Error, Ok, TimedOut
from checker.results.jsonl import read_records
from checker.run_options import Level
from checker.targets import get_target

SM90 = get_target("sm_90")
COMPILED = (
    "add[2048x1024-fp32-default]",
    "add[2048x1024-fp32-wide]",
    "mm[512x512x512-fp32-default]",
    "mm[512x512x512-fp32-huge]",
)


def _run(p: pytest.Pytester, cache_dir: Path, *extra: str) -> dict[str, Record]:
    # --cache-dir=DIR, one token: a separate existing DIR would decide pytest's rootdir.
    p.runpytest("--configs", "0", "-p", "no:xdist", f"--cache-dir={cache_dir}", *extra)
    return {r.case.name: r for r in read_records(p.path / "reports" / "results.jsonl")}


def _entries(root: Path) -> dict[str, dict[str, Any]]:
    """The data of each compile entry (inside its signed envelope, checker.cache.store)."""
    return {f.name: json.loads(f.read_text())["data"] for f in sorted((root / "compile").glob("*/*.json"))}


def _verdict(rec: Record) -> tuple[Any, ...]:
    ignored = ("compile_cached", "compile_lock_wait_s", "gpu_lock_wait_s", "codegen_cached")
    fields = {k: v for k, v in rec.fields.items() if k not in ignored}
    return rec.category, rec.signature, rec.mode, fields


def test_a_rerun_takes_real_compile_verdicts_from_the_cache(
    compile_dir: pytest.Pytester, tmp_path: Path
) -> None:
    """A real numel overflow, a real shared-memory overuse and two successful compiles (level
    check, the CPU default): cold, warm, after an edit and a corrupt entry, without the cache."""
    root = tmp_path / "kc"
    cold = _run(compile_dir, root)
    assert cold["add[2048x1024-fp32-wide]"].category is Category.NUMEL_OVERFLOW
    assert cold["mm[512x512x512-fp32-huge]"].category is Category.OUT_OF_RESOURCES
    assert not any("compile_cached" in cold[n].fields for n in COMPILED)
    entries = _entries(root)
    assert sorted(e["kind"] for e in entries.values()) == ["error", "error", "ok", "ok"]

    warm = _run(compile_dir, root)
    for name in COMPILED:
        assert warm[name].fields["compile_cached"] is True, name
        assert _verdict(warm[name]) == _verdict(cold[name]), name
        # The compile seconds are the cold run's; the stage is the lookup, and no Triton stage ran.
        assert warm[name].fields["compile_s"] == cold[name].fields["compile_s"]
        assert warm[name].stages["compile"] < cold[name].stages["compile"]
        assert not any(s.startswith("compile.") for s in warm[name].stages), name
        assert "--no-cache" in (warm[name].repro or "")

    # Edit the add kernel (same findings, other code), and corrupt the mm huge entry.
    kernel = compile_dir.path / "kernels" / "add.py"
    kernel.write_text(kernel.read_text().replace("x[tile] + y[tile]", "y[tile] + x[tile]"))
    (smem,) = [n for n, e in entries.items() if e.get("diagnosis", {}).get("category") == "out-of-resources"]
    smem_path = next((root / "compile").glob(f"*/{smem}"))
    smem_path.write_bytes(b'{"schema": 1, "kind": "err')
    edited = _run(compile_dir, root)
    cached = {n for n in COMPILED if edited[n].fields.get("compile_cached")}
    assert cached == {"mm[512x512x512-fp32-default]"}
    assert edited["add[2048x1024-fp32-wide]"].category is Category.NUMEL_OVERFLOW
    assert edited["mm[512x512x512-fp32-huge]"].category is Category.OUT_OF_RESOURCES
    assert json.loads(smem_path.read_text())["data"]["diagnosis"]["category"] == "out-of-resources"
    assert len(_entries(root)) == 6  # two more for the edited add kernel

    # --no-cache neither reads (nothing cached) nor writes (a removed entry stays removed,
    # and no entry is touched).
    smem_path.unlink()
    before = {f: f.stat().st_mtime_ns for f in root.rglob("*.json")}
    uncached = _run(compile_dir, root, "--no-cache")
    assert not any("compile_cached" in uncached[n].fields for n in COMPILED)
    assert uncached["mm[512x512x512-fp32-huge]"].category is Category.OUT_OF_RESOURCES
    assert {f: f.stat().st_mtime_ns for f in root.rglob("*.json")} == before

    # The controller prunes at the end of a run, to --cache-max-mb (here about 2 KiB).
    compile_dir.runpytest(
        "-p", "no:xdist", f"--cache-dir={root}", "-k", "no_such_case", "--cache-max-mb", "0.002"
    )
    left = list(root.rglob("*.json"))
    assert len(left) < len(before) and sum(f.stat().st_size for f in left) <= 2097


def _job(**kw: Any) -> CompileJob:
    fields: dict[str, Any] = {
        "code": "import triton\n# from /tmp/kcheck-run-abc/gen-1/kcheck_gen_0123456789abcdef0123.py\n",
        "entry": "add",
        "args": (TensorArg((64, 96), (96, 1), torch.float32), 16, 1.5),
        "target": SM90,
        "level": "check",
    }
    fields.update(kw)
    return CompileJob(**fields)


def test_key_covers_code_launch_signature_target_level_and_toolchain(monkeypatch: pytest.MonkeyPatch) -> None:
    base = keys.compile_key(_job())
    assert base is not None and len(base) == 64 and base == keys.compile_key(_job())
    assert (
        keys.compile_key(_job(code=_job().code.replace("0123456789abcdef0123", "fedcba9876543210fedc")))
        == base
    )
    differs = [
        _job(code="import triton\n"),
        _job(entry="add2"),
        _job(args=(TensorArg((64, 96), (1, 64), torch.float32), 16, 1.5)),  # strides
        _job(args=(TensorArg((64, 96), (96, 1), torch.float16), 16, 1.5)),  # dtype
        _job(args=(TensorArg((64, 96), (96, 1), torch.float32), 16.0, 1.5)),  # int vs float
        _job(target=get_target("sm_80")),
        _job(level=Level.FULL.value),
    ]
    found = {keys.compile_key(j) for j in differs}
    assert base not in found and len(found) == len(differs)
    other = {**toolchain.versions(), "triton": "9.9.9"}
    monkeypatch.setattr(toolchain, "versions", lambda: other)
    assert keys.compile_key(_job()) != base
    assert keys.compile_key(_job(fault="segv")) is None
    assert keys.compile_key(_job(args=(object(),))) is None


def _ok(seconds: float = 1.25) -> CompileAttempts:
    result = CompileResult(seconds, 1024, 4, 2, None, None, "check", {"ttir": 0.5, "ttgir": 0.7})
    return CompileAttempts(Ok(result, seconds=seconds))


def _ok_native() -> CompileAttempts:
    result = CompileResult(2.5, 1024, 4, 2, 40, 0, "full", {"cubin": 0.5}, "e" * 64, "_helion_add")
    return CompileAttempts(Ok(result, seconds=2.5))


def _numel() -> CompileAttempts:
    d = Diagnosis(Category.NUMEL_OVERFLOW, "numel (2097152) exceeds", "abcdef012345", {"numel": 2097152})
    return CompileAttempts(Error(d, seconds=0.8, stderr_tail="log"))


def test_outcomes_round_trip_and_only_verdicts_are_stored(tmp_path: Path) -> None:
    store = compile_cache.CompileCache(tmp_path)
    crash = CompileAttempts(Died(3.0, "SIGSEGV", None, "ptxas died", crash_signal=True))
    alone = CompileAttempts(TimedOut(60.4, 60.0, 20.0), first=TimedOut(60.1, 60.0, 3.0), budget_s=60.0)
    for i, attempts in enumerate((_ok(), _numel(), crash, alone)):
        assert store.put(f"{i:064x}", attempts)
        hit = store.get(f"{i:064x}", 60.0)
        assert hit is not None and hit.cached and hit.lookup_s < 1
        assert (hit.outcome, hit.first) == (attempts.outcome, attempts.first)
    runtime = Diagnosis(Category.RUNTIME_ERROR, "No space left on device", "0" * 12)
    for i, attempts in enumerate(
        (
            CompileAttempts(Error(runtime)),
            CompileAttempts(Died(1.0, "SIGKILL", None, "", crash_signal=False)),  # the OOM killer
        )
    ):
        assert not store.put(f"{i + 10:064x}", attempts)
    assert len(list(tmp_path.rglob("*.json"))) == 4


def test_a_cached_timeout_counts_only_for_a_timeout_no_longer(tmp_path: Path) -> None:
    store = compile_cache.CompileCache(tmp_path)
    k = "a" * 64
    store.put(k, CompileAttempts(TimedOut(5.1, 5.0, 5.0), budget_s=5.0))
    assert store.get(k, 10.0) is None  # a longer timeout now: compile again
    assert store.get(k, 5.0) is not None and store.get(k, 2.0) is not None
    # A success that took 30 s is no verdict under a 10 s timeout.
    store.put(k, _ok(30.0))
    assert store.get(k, 10.0) is None and store.get(k, 30.0) is not None
    # Costs are GPU-host CPU seconds: 60 CPU s on a host twice as slow is 30, whatever the wall.
    result = _ok().outcome.result
    store.put(k, CompileAttempts(Ok(result, seconds=200.0, cpu_s=60.0), budget_s=60.0, host_speed=2.0))
    assert store.get(k, 29.0) is None and store.get(k, 30.0) is not None


def _forged_result(**changes: Any) -> bytes:
    entry = compile_cache.encode(_ok_native())
    assert entry is not None
    entry["result"].update(changes)
    return json.dumps(entry).encode()


def test_corrupt_or_forged_entries_are_misses_and_removed(tmp_path: Path) -> None:
    """Garbage is a miss; so is an entry that is signed (checker.cache.store: as if written with this
    cache's secret) but is no verdict of this schema: the field-by-field check stands behind the
    signature."""
    store = compile_cache.CompileCache(tmp_path)
    k = "b" * 64
    garbage = [b"\x00\xff garbage", b'{"format": 1, "kind": "compile", "da', b"[" * 100000 + b"]" * 100000]
    signed = [
        json.dumps({**compile_cache.encode(_numel()), "schema": 0}).encode(),  # type: ignore[dict-item]
        json.dumps(
            {
                "schema": keys.SCHEMA,
                "kind": "error",
                "seconds": 1,
                "stderr_tail": "",
                "first": None,
                "diagnosis": {"category": "passed", "message": "", "signature": "", "fields": {}},
            }
        ).encode(),
        # A Triton cache key or kernel name that is no plain name would be joined into a path.
        _forged_result(triton_hash="../../../etc/passwd"),
        _forged_result(triton_hash="E" * 64),
        _forged_result(kernel_name="../x"),
    ]
    for data in garbage + signed:
        if data in signed:
            assert EntryStore(tmp_path, "compile").put(k, json.loads(data))
        else:
            store.path(k).parent.mkdir(parents=True, exist_ok=True)
            store.path(k).write_bytes(data)
        assert store.get(k, 60.0) is None, data[:40]
        assert not store.path(k).exists(), data[:40]
    assert store.put(k, _numel()) and store.get(k, 60.0) is not None


_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from checker.cache import compile_cache
    from checker.attempts import CompileAttempts
    from checker.diagnostics import Diagnosis
    from checker.categories import Category
    from checker.pool import Error

    root, key, tag, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    d = Diagnosis(Category.COMPILER_CRASH, "crash", "0" * 12, {"writer": tag})
    attempts = CompileAttempts(Error(d, 1.0, tag * 400_000))
    store = compile_cache.CompileCache(Path(root))
    for _ in range(n):
        assert store.put(key, attempts)
    """
)


def test_concurrent_writers_never_leave_a_partial_entry(tmp_path: Path) -> None:
    """Four processes rewrite one key with 400 kB entries while this one reads it raw."""
    key = "c" * 64
    path = compile_cache.CompileCache(tmp_path).path(key)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), key, tag, "40"], env=env)
        for tag in "wxyz"
    ]
    reads = 0
    while any(w.poll() is None for w in writers):
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        entry = json.loads(data)["data"]  # a torn entry fails here
        tag = entry["diagnosis"]["fields"]["writer"]
        assert entry["stderr_tail"] == tag * 400_000
        reads += 1
    assert [w.wait() for w in writers] == [0, 0, 0, 0]
    assert reads > 10
    assert not list(path.parent.glob("*.tmp"))


def test_prune_removes_least_recently_used_first(tmp_path: Path) -> None:
    store = compile_cache.CompileCache(tmp_path)
    keys = [f"{i:02x}" * 32 for i in range(4)]
    now = time.time()
    for age, k in zip((400, 300, 200, 100), keys, strict=True):
        store.put(k, _numel())
        os.utime(store.path(k), (now - age, now - age))
    size = store.path(keys[0]).stat().st_size
    assert store.get(keys[0], 60.0) is not None  # a hit: now the most recently used
    stale = store.path(keys[0]).parent / f".{keys[0]}.json.a1b2c3.tmp"  # a writer killed mid-write
    stale.write_bytes(b"{")
    os.utime(stale, (now - 2 * STALE_TEMP_S, now - 2 * STALE_TEMP_S))
    removed = prune(tmp_path, 2 * size)
    assert sorted(removed) == sorted([store.path(keys[1]), store.path(keys[2]), stale])
    assert store.get(keys[0], 60.0) is not None and store.get(keys[3], 60.0) is not None


def _fake_compile(monkeypatch: pytest.MonkeyPatch, outcome: Any) -> list[float]:
    calls: list[float] = []

    def fake(worker: Any, job: CompileJob, budget_s: float, host_speed: float = 1.0) -> CompileAttempts:
        calls.append(budget_s)
        return CompileAttempts(outcome(budget_s), budget_s=budget_s, host_speed=host_speed)

    monkeypatch.setattr(compile_step, "compile_attempts", fake)
    monkeypatch.setattr(compile_step, "_worker", object())
    return calls


def _compile(opts: run_options.RunOptions) -> CompileAttempts:
    spec = SimpleNamespace(kernel=SimpleNamespace(name="add"))
    prep = SimpleNamespace(inputs=(torch.empty(8, 16),), materialized=False)
    return compile_step.cross_compile(spec, prep, "code", opts, Level.CHECK)  # type: ignore[arg-type]


def test_cross_compile_replays_timeouts_and_only_failures_on_a_gpu(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls = _fake_compile(monkeypatch, lambda t: TimedOut(t + 0.2, t, t))
    opts = run_options.RunOptions(
        0, SM90, native=False, n_configs=0, compile_timeout=60.0, cache_dir=str(tmp_path)
    )
    assert not _compile(opts).cached and _compile(opts).cached and calls == [60.0]
    longer = run_options.RunOptions(0, SM90, False, 0, compile_timeout=120.0, cache_dir=str(tmp_path))
    assert not _compile(longer).cached and calls == [60.0, 120.0]
    hit = _compile(opts)  # the 120 s timeout now stands for 60 s too
    assert hit.cached and calls == [60.0, 120.0]
    d = compile_step.compile_failure(hit, opts)
    assert d is not None and d.category is Category.COMPILE_TIMEOUT
    assert d.fields["compile_cached"] is True and d.fields["timeout_s"] == 120.0 and "120 s" in d.message

    # On a GPU a success is taken from the cache only while Triton's cache holds its binary (the
    # launch must load what a supervised compile made; the real check is tested below)...
    gpu = run_options.RunOptions(0, SM90, native=True, n_configs=0, cache_dir=str(tmp_path / "gpu"))
    held = {"now": False}
    monkeypatch.setattr(compile_step, "triton_cache_holds", lambda h, n: held["now"])
    calls = _fake_compile(monkeypatch, lambda t: _ok_native().outcome)
    assert not _compile(gpu).cached and not _compile(gpu).cached and len(calls) == 2
    held["now"] = True
    assert _compile(gpu).cached and len(calls) == 2
    # ...never one that names no binary (an entry from before the hash was kept)...
    calls = _fake_compile(monkeypatch, lambda t: _ok().outcome)
    gpu = run_options.RunOptions(0, SM90, native=True, n_configs=0, cache_dir=str(tmp_path / "gpu2"))
    assert not _compile(gpu).cached and not _compile(gpu).cached and len(calls) == 2
    # ...and a failure, which launches nothing, always.
    held["now"] = False
    calls = _fake_compile(monkeypatch, lambda t: _numel().outcome)
    gpu = run_options.RunOptions(0, SM90, native=True, n_configs=0, cache_dir=str(tmp_path / "gpu3"))
    assert not _compile(gpu).cached and _compile(gpu).cached and len(calls) == 1

    off = run_options.RunOptions(0, SM90, native=False, n_configs=0, cache_dir=None)
    calls = _fake_compile(monkeypatch, lambda t: _numel().outcome)
    assert not _compile(off).cached and not _compile(off).cached and len(calls) == 2


_DOUBLE = """
import torch
import triton
import triton.language as tl


@triton.jit
def _double(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=mask) * 2, mask=mask)


def double(x, *, _launcher):
    out = torch.empty_like(x)
    _launcher(_double, (triton.cdiv(x.numel(), 64),), x, out, x.numel(), 64, num_warps=2, num_stages=1)
    return out
"""


def test_a_native_success_is_reused_only_while_tritons_cache_holds_its_binary(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A real level-``full`` compile for sm_90 (ptxas runs here too) records Triton's cache key;
    the entry keeps it through JSON, and a GPU rerun may skip the compile worker exactly while
    Triton's cache (TRITON_CACHE_DIR) still has the cubin that the launch will load."""
    from checker.compile import describe_args, triton_cache_holds

    monkeypatch.setenv("TRITON_CACHE_DIR", str(tmp_path / "triton"))
    worker = CompileWorker()  # started now: it inherits TRITON_CACHE_DIR
    try:
        job = CompileJob(_DOUBLE, "double", describe_args((torch.empty(1000),)), SM90, Level.FULL.value)
        outcome = worker.run(job, 120.0)
    finally:
        worker.close()
    assert isinstance(outcome, Ok), getattr(outcome, "stderr_tail", outcome)
    result = outcome.result
    assert result.kernel_name == "_double" and result.triton_hash is not None
    assert triton_cache_holds(result.triton_hash, result.kernel_name)

    store = compile_cache.CompileCache(tmp_path / "kc")
    assert store.put("d" * 64, CompileAttempts(outcome))
    hit = store.get("d" * 64, 60.0)
    assert hit is not None and isinstance(hit.outcome, Ok) and hit.outcome.result == result
    assert compile_step.launchable(hit)

    (cubin,) = (tmp_path / "triton").rglob("_double.cubin")
    cubin.unlink()
    assert not triton_cache_holds(result.triton_hash, result.kernel_name)
    assert not compile_step.launchable(hit)
    assert compile_step.launchable(_numel())


def test_default_location_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert store.default_dir() == tmp_path / "kcheck"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert store.default_dir() == tmp_path / "home" / ".cache" / "kcheck"
