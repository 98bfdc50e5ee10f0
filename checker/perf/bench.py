"""Which passing cases to time, and the benchmark process that times them.

:func:`plan` (pure, no GPU) groups a run's passing native records by kernel x shape x dtype:
every named config, and every passing sampled config (only the fastest of those is recorded).
:func:`run_job` hands the plan to ``python -m checker.perf.bench JOB OUT`` and reads back the
timing records it wrote: a crash, a hang (``timeout_s``) or a sticky CUDA error there costs the
benchmark, never the run's records. The process writes and flushes each record as it is made,
so what was timed before a failure is kept.

Per group the process: makes the inputs exactly as the case did (``checker.prepare.make_inputs``:
the spec's ``make_inputs`` under the run's ``--sweep-seed``, on the GPU), binds the Helion kernel,
compiles each config (``BoundKernel.compile_config``, from Triton's cache when the run compiled
it), measures bytes and FLOPs, and times each config, the reference eager and, where it
compiles, the reference under ``torch.compile``, all with :func:`checker.perf.timing.bench`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from checker.categories import Category
from checker.model import Mode, Record
from checker.options import DEFAULT_BENCHMARK_TIMEOUT_S as DEFAULT_TIMEOUT_S
from checker.perf.records import Role, TimingRecord
from checker.sweep import sampled_index


@dataclass(frozen=True)
class ConfigJob:
    """One config to time: its name (``default``, ``cfg3``), full config dict and node id."""

    name: str
    config: dict[str, Any]
    nodeid: str = ""


@dataclass(frozen=True)
class GroupJob:
    """Everything timed for one kernel x shape x dtype."""

    kernel: str
    shape: tuple[int, ...]
    dtype: str
    named: tuple[ConfigJob, ...] = ()
    sampled: tuple[ConfigJob, ...] = ()


@dataclass(frozen=True)
class BenchJob:
    """What the benchmark process does: where the kernels are, the inputs' seed, the groups."""

    kernel_paths: tuple[str, ...]
    sweep_seed: int
    groups: tuple[GroupJob, ...]
    torch_compile: bool = True
    warmup_ms: int = 25
    rep_ms: int = 100
    #: Where inputs go; ``cuda`` but in tests of the planning and recording logic.
    device: str = "cuda"

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> BenchJob:
        data = json.loads(text)
        groups = tuple(
            GroupJob(
                kernel=g["kernel"],
                shape=tuple(g["shape"]),
                dtype=g["dtype"],
                named=tuple(ConfigJob(**c) for c in g["named"]),
                sampled=tuple(ConfigJob(**c) for c in g["sampled"]),
            )
            for g in data.pop("groups")
        )
        return cls(kernel_paths=tuple(data.pop("kernel_paths")), groups=groups, **data)


def plan(
    records: Iterable[Record],
    kernel_paths: Sequence[Path | str],
    sweep_seed: int,
    *,
    torch_compile: bool = True,
    modes: frozenset[Mode] = frozenset({Mode.NATIVE}),
) -> BenchJob:
    """The benchmark job for a run's records: passing cases of ``modes`` (native: what ran on
    the GPU) with a config, grouped by kernel x shape x dtype in first-seen order. Failed,
    skipped and lost cases are never timed: a wrong kernel's speed means nothing."""
    groups: dict[tuple[str, tuple[int, ...], str], dict[str, list[ConfigJob]]] = {}
    for rec in records:
        if rec.category is not Category.PASSED or rec.mode not in modes or rec.config is None:
            continue
        key = (rec.case.kernel, rec.case.shape, rec.case.dtype)
        slot = groups.setdefault(key, {"named": [], "sampled": []})
        kind = "named" if sampled_index(rec.case.config) is None else "sampled"
        if all(c.name != rec.case.config for c in slot[kind]):
            slot[kind].append(ConfigJob(rec.case.config, dict(rec.config), rec.nodeid or ""))
    return BenchJob(
        kernel_paths=tuple(str(p) for p in kernel_paths),
        sweep_seed=sweep_seed,
        groups=tuple(
            GroupJob(k[0], k[1], k[2], tuple(v["named"]), tuple(v["sampled"])) for k, v in groups.items()
        ),
        torch_compile=torch_compile,
    )


@dataclass
class JobResult:
    """Timing records read back from the benchmark process, and what went wrong there."""

    records: list[TimingRecord] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def run_job(job: BenchJob, timeout_s: float = DEFAULT_TIMEOUT_S) -> JobResult:
    """Run ``job`` in ``python -m checker.perf.bench`` and return its timing records.

    Never raises for the benchmark's own failures: they are in ``problems`` (the last lines of
    the process's stderr, a timeout, unreadable lines).
    """
    result = JobResult()
    with tempfile.TemporaryDirectory(prefix="kcheck-bench-") as tmp:
        job_file, out_file, err_file = Path(tmp, "job.json"), Path(tmp, "out.jsonl"), Path(tmp, "err.txt")
        job_file.write_text(job.to_json(), encoding="utf-8")
        out_file.touch()
        with open(err_file, "wb") as err:
            try:
                proc = subprocess.run(
                    [sys.executable, "-m", "checker.perf.bench", str(job_file), str(out_file)],
                    stdout=err,
                    stderr=subprocess.STDOUT,
                    timeout=timeout_s,
                    check=False,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                )
                if proc.returncode != 0:
                    result.problems.append(f"benchmark process exited with status {proc.returncode}")
            except subprocess.TimeoutExpired:
                result.problems.append(
                    f"benchmark process killed after {timeout_s:g} s (--benchmark-timeout)"
                )
        for line in err_file.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("kcheck bench:"):
                result.problems.append(line.removeprefix("kcheck bench:").strip()[:300])
        for n, line in enumerate(out_file.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if line.strip():
                try:
                    result.records.append(TimingRecord.from_json(line))
                except ValueError as exc:
                    result.problems.append(f"timing line {n}: {exc}")
    return result


# ---- the benchmark process (GPU) ---------------------------------------------------------------


def _say(message: str) -> None:
    print(f"kcheck bench: {message}", file=sys.stderr, flush=True)


def _specs(paths: Sequence[str]) -> dict[str, Any]:
    from checker import loader
    from checker.spec import specs_of_module

    found: dict[str, Any] = {}
    for path in map(Path, paths):
        files = loader.kernel_files(path) if path.is_dir() else [path] if path.is_file() else []
        for file in files:
            try:
                for spec in specs_of_module(loader.load(file)):
                    found.setdefault(spec.name, spec)
            except Exception as exc:  # a module the run could not collect either
                _say(f"{file}: not loaded: {type(exc).__name__}: {str(exc)[:200]}")
    return found


def _time_group(
    spec: Any,
    group: GroupJob,
    job: BenchJob,
    ceilings: dict[str, float],
    common: dict[str, Any],
) -> Iterable[TimingRecord]:
    import helion
    import torch

    from checker import prepare
    from checker.perf import timing

    inputs = prepare.make_inputs(spec, group.shape, group.dtype, job.sweep_seed, job.device)
    mutated = list(prepare.mutated_indices(spec, inputs))
    bound = spec.kernel.bind(inputs)
    l2 = timing.l2_bytes() if job.device == "cuda" else 0
    size: dict[str, Any] = {"nbytes": None, "rotate": 1}
    try:
        size["flops"] = timing.count_flops(spec.reference, [prepare.clone(v) for v in inputs])
    except Exception as exc:
        size["flops"] = None
        _say(f"{spec.name}: FLOPs not counted: {type(exc).__name__}: {str(exc)[:160]}")

    def record(impl: str, role: Role, timed: timing.Timed, cfg: ConfigJob | None) -> TimingRecord:
        return TimingRecord(
            kernel=group.kernel,
            shape=group.shape,
            dtype=group.dtype,
            impl=impl,
            role=role,
            median_ms=timed.median_ms,
            samples_ms=timed.samples_ms,
            reps=timed.reps,
            nbytes=size["nbytes"],
            flops=size["flops"],
            ceilings=ceilings,
            rotated=timed.rotated,
            config=cfg.config if cfg else None,
            source=cfg.nodeid if cfg else "",
            **common,
        )

    def measure(fn: Any) -> timing.Timed:
        if size["nbytes"] is None:
            out = fn(*[prepare.clone(v) for v in inputs])
            if job.device == "cuda":
                torch.cuda.synchronize()
            moved = timing.count_bytes(inputs, out, mutated)
            size["nbytes"], size["rotate"] = moved, timing.rotation_count(moved, l2)
        return timing.bench(fn, inputs, rotate=size["rotate"], warmup_ms=job.warmup_ms, rep_ms=job.rep_ms)

    best: tuple[timing.Timed, ConfigJob] | None = None
    for cfg in (*group.named, *group.sampled):
        try:
            fn = bound.compile_config(helion.Config(**cfg.config), allow_print=False)
            timed = measure(fn)
        except Exception as exc:
            _say(f"{spec.name}[{group.dtype}] {cfg.name}: not timed: {type(exc).__name__}: {str(exc)[:200]}")
            continue
        if cfg in group.named:
            yield record(cfg.name, Role.NAMED, timed, cfg)
        elif best is None or timed.median_ms < best[0].median_ms:
            best = (timed, cfg)
    if best is not None:
        yield record(best[1].name, Role.SAMPLED, best[0], best[1])
    if spec.reference_device is not None:
        return  # a CPU reference: no device time to compare with

    def reference(*args: Any) -> Any:
        with torch.no_grad():
            return spec.reference(*args)

    try:
        yield record(Role.EAGER.value, Role.EAGER, measure(reference), None)
    except Exception as exc:
        _say(f"{spec.name}[{group.dtype}] torch eager: not timed: {type(exc).__name__}: {str(exc)[:200]}")
    if job.torch_compile:
        try:
            # Dynamo keeps at most 8 compiled variants per code object (cache_size_limit), and a
            # reference recompiles for every shape and dtype: past 8 groups it would silently
            # run eager. Each group compiles afresh anyway.
            torch._dynamo.reset()
            compiled = torch.compile(spec.reference, dynamic=False)

            def run_compiled(*args: Any) -> Any:
                with torch.no_grad():
                    return compiled(*args)

            yield record(Role.COMPILED.value, Role.COMPILED, measure(run_compiled), None)
        except Exception as exc:
            _say(
                f"{spec.name}[{group.dtype}] torch.compile: not timed: {type(exc).__name__}: {str(exc)[:200]}"
            )


def main(argv: Sequence[str]) -> int:
    """``python -m checker.perf.bench JOB OUT``: time ``JOB``'s groups, append records to OUT."""
    import torch

    from checker import targets, toolchain
    from checker.perf import timing

    job = BenchJob.from_json(Path(argv[0]).read_text(encoding="utf-8"))
    if not torch.cuda.is_available():
        _say("no CUDA device: nothing timed")
        return 2
    specs = _specs(job.kernel_paths)
    ceilings = timing.measure_ceilings(sorted({g.dtype for g in job.groups}))
    local = targets.local_cuda_target()
    common = {
        "device": torch.cuda.get_device_name(0),
        "target": local.name if local else "",
        "toolchain": toolchain.versions(),
    }
    with open(argv[1], "a", encoding="utf-8") as out:
        for group in job.groups:
            spec = specs.get(group.kernel)
            if spec is None:
                _say(f"{group.kernel}: no spec of that name in {', '.join(job.kernel_paths)}")
                continue
            try:
                for rec in _time_group(spec, group, job, ceilings[group.dtype], common):
                    out.write(rec.to_json() + "\n")
                    out.flush()
            except Exception as exc:
                _say(
                    f"{group.kernel}[{group.dtype}]: group not timed: {type(exc).__name__}: {str(exc)[:200]}"
                )
            torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
