"""Whole cases in a supervised worker process, so a bad kernel costs a worker, not the run.

On a GPU a kernel can leave the CUDA context unusable (illegal memory access, misaligned
address, device-side assert, unspecified launch failure: "sticky" errors, after which every
later CUDA call in that process fails), or never finish. Each pytest process therefore runs
its GPU cases in a child (``checker.pool.Worker``) that it can kill: the child checks the case
(``checker.execute.check_case``) and returns the record. After a sticky error the child is
recycled, and a new one must pass a health check (a small computation on the device, then a
synchronize) before the next case; a case that outlives ``--run-timeout`` is recorded
``run-timeout`` and its child killed; a child that dies is recorded ``worker-died``; a CUDA OOM
frees the child's cached inputs and memory, and it goes on. CUDA_VISIBLE_DEVICES, set per
pytest-xdist worker (checker.gpus), is inherited by the child.

GPU memory contention is decided alone (issue 22: with ``-n 16`` on an H100, two of 861 verdicts
flipped to ``reference-error: OutOfMemoryError`` between identical runs, 16 case workers sharing
80 GB). Every case runs while its supervisor holds the lock of its GPU shared (checker.alone,
lock ``gpu-<device>``, :func:`gpu_lock_name`). A case that runs out of memory (:func:`out_of_memory`:
``cuda-oom``, or a ``reference-error`` whose exception is torch's ``OutOfMemoryError``) is run
again holding that lock exclusively, in a worker that first freed what it keeps (cached inputs
and references, torch's cached blocks); only that second outcome is the verdict, and the record
keeps the first in ``retried_alone``. Meanwhile the other supervisors of the GPU make room: one
that sees the retry waiting when it finishes a case, or before it starts one, has its worker
free its memory first (:class:`FreeMemory`), and no new case starts until the retry is done.
What the lock cannot reach: a case worker whose supervisor is between cases when the retry
starts and starts none while it runs (an xdist worker with no items left, or collecting) keeps
its CUDA context and what it cached, at most ``prepare.for_group``'s last 8 input groups with
their references (docs/records.md, ``retried_alone``). Without isolation (``--isolate off``)
there is no supervisor, no lock and no retry.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from checker import alone, diagnostics
from checker.categories import Category
from checker.execute import diagnosed_unconfigured_record, unconfigured_record
from checker.model import CaseId, Record
from checker.options import DEFAULT_RUN_TIMEOUT_S
from checker.pool import WALL_BACKSTOP, Died, Error, JobOutcome, Ok, TimedOut, Worker
from checker.run_options import RunOptions

#: Seconds a fresh worker may take to start, import torch/triton/helion and pass its health check.
HEALTH_TIMEOUT_S = 180.0
#: Seconds a worker may take to free its memory (:class:`FreeMemory`) before it is killed instead.
FREE_TIMEOUT_S = 60.0
#: Shorter waits for the GPU lock are not recorded (``gpu_lock_wait_s``).
MIN_RECORDED_WAIT_S = 0.01


@dataclass(frozen=True)
class CaseJob:
    """Check ``case`` of the spec called ``spec_name`` declared in ``kernel_file``."""

    kernel_file: str
    spec_name: str
    case: CaseId
    opts: RunOptions
    #: A config dict (or checker.spec.DEFAULT) instead of the one ``case.config`` names.
    config: Any = None
    #: The retry of a case that ran out of memory, with the GPU to itself: free what this worker
    #: keeps (cached inputs and references, torch's cached blocks) first.
    alone: bool = False

    def handle(self) -> JobOutcome:
        from checker import execute

        _setup(self.opts)
        spec = _spec(self.kernel_file, self.spec_name)
        if self.alone:
            _free_memory()
        peak = _gpu_peak(self.opts.native)
        record = execute.check_case(spec, self.case, self.opts, self.config)
        peak_bytes = peak()
        if peak_bytes is not None:
            record = dataclasses.replace(record, fields={**record.fields, "gpu_peak_bytes": peak_bytes})
        if out_of_memory(record):
            _free_memory()
        return Ok(record, seconds=record.duration_s)


@dataclass(frozen=True)
class FreeMemory:
    """Give back the memory the worker keeps between cases (cached inputs and references, torch's
    cached blocks), for a case that is about to run alone on the GPU."""

    def handle(self) -> JobOutcome:
        started = time.perf_counter()
        _free_memory()
        return Ok(seconds=time.perf_counter() - started)


@dataclass(frozen=True)
class HealthJob:
    """A small computation on the device the worker will run cases on, then a synchronize."""

    opts: RunOptions

    def handle(self) -> JobOutcome:
        import torch

        _setup(self.opts)
        started = time.perf_counter()
        x = torch.arange(1 << 20, dtype=torch.float32, device=self.opts.device)
        total = float((x * 2).sum())
        if self.opts.native:
            torch.cuda.synchronize()
        if total != float((1 << 20) * ((1 << 20) - 1)):
            raise RuntimeError(f"health check computed {total}")
        if self.opts.native and self.opts.compile_level(executes=True) is not None:
            # Not on CPU: there its start would take a core from the xdist workers' collection
            # (2-core CI machines), and a warm rerun there compiles nothing at all.
            from checker import compile_step

            compile_step.prestart_compile_worker()
        return Ok(seconds=time.perf_counter() - started)


_configured = False
_specs: dict[tuple[str, str], Any] = {}


def _setup(opts: RunOptions) -> None:
    global _configured
    if _configured:
        return
    import torch

    from checker import options

    # xdist's count of workers in this run (absent without xdist: one worker).
    torch.set_num_threads(options.case_threads(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)))
    if not opts.native:
        from checker import interpreter, targets

        interpreter.enable()
        targets.use_target_on_cpu(opts.target)
    _configured = True


def _spec(kernel_file: str, spec_name: str) -> Any:
    key = (kernel_file, spec_name)
    if key not in _specs:
        from checker import loader

        _specs[key] = loader.spec_named(kernel_file, spec_name)
    return _specs[key]


def _free_memory() -> None:
    import gc

    import torch

    from checker import prepare

    prepare.clear_caches()
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _gpu_peak(native: bool) -> Callable[[], int | None]:
    """Start measuring the case's peak of allocated GPU memory; the returned function reads it
    (bytes; None on CPU, or where a sticky CUDA error broke the allocator's statistics). The
    peak counts every tensor the worker holds during the case, the inputs it cached for earlier
    groups included."""
    import torch

    if not native or not torch.cuda.is_available():
        return lambda: None
    try:
        torch.cuda.reset_peak_memory_stats()
    except RuntimeError:
        return lambda: None

    def read() -> int | None:
        try:
            return int(torch.cuda.max_memory_allocated())
        except RuntimeError:
            return None

    return read


def gpu_lock_name(native: bool) -> str:
    """The checker.alone lock over the memory this process's cases use: ``gpu-<device>`` for the
    GPU its case worker sees as ``cuda:0`` (the first entry of CUDA_VISIBLE_DEVICES, which
    checker.gpus sets per xdist worker; ``0`` when unset), ``cpu`` for CPU runs (host memory)."""
    if not native:
        return "cpu"
    first = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip() or "0"
    return "gpu-" + re.sub(r"[^\w.-]", "_", first)


#: First lines of failures that say the GPU had no memory for this process: torch's allocator,
#: the runtime's, and a CUDA context that could not be created (cudaErrorDevicesUnavailable,
#: which a full GPU gives a new process: a golden check's first bind on an H100, 2026-12-07).
_NO_MEMORY = re.compile(diagnostics.OUT_OF_MEMORY.pattern + r"|device\(s\) is/are busy or unavailable")


def out_of_memory(record: Record) -> bool:
    """Whether the case ran out of GPU memory: ``cuda-oom`` (its inputs, launch or comparison), or
    another failure whose exception is torch's ``OutOfMemoryError`` (``reference-error``: the
    reference), or whose first line says the GPU had no memory for it (:data:`_NO_MEMORY`)."""
    if record.category is Category.CUDA_OOM:
        return True
    if not record.category.is_failure or record.category.traits.supervisor_made:
        return False
    first_line = record.message.split("\n", 1)[0]
    return record.fields.get("exception") == "OutOfMemoryError" or _NO_MEMORY.search(first_line) is not None


# torch's allocator: "Tried to allocate 2.00 GiB" (c10 format_size: bytes, KiB, MiB, GiB);
# its CPU allocator: "you tried to allocate 1152921504606846976 bytes".
_REQUESTED = re.compile(r"[Tt]ried to allocate (?P<n>\d+(?:\.\d+)?) ?(?P<unit>bytes|B|KiB|MiB|GiB|TiB)\b")
_UNITS = {"bytes": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}


def requested_bytes(message: str) -> int | None:
    """The bytes the failed allocation asked for, from torch's message (to the 3 significant
    digits torch prints: ``2.00 GiB`` is 2147483648); None when the message does not say."""
    m = _REQUESTED.search(message)
    return None if m is None else round(float(m["n"]) * _UNITS[m["unit"]])


class CaseRunner:
    """The supervising side: one worker per pytest process, recycled as the module doc says."""

    def __init__(self, opts: RunOptions, run_timeout: float = DEFAULT_RUN_TIMEOUT_S) -> None:
        self.opts = opts
        self.run_timeout = run_timeout
        self._worker = Worker(interpret=not opts.native)
        #: The checker.alone lock of the memory this worker's cases use.
        self._lock = gpu_lock_name(opts.native)
        #: Whether the worker may keep memory a case retried alone needs: it ran a case since it
        #: last freed (:meth:`free`).
        self._holds_memory = False

    def close(self) -> None:
        self._worker.close()

    def prestart(self) -> None:
        """Start the worker and queue its health check now, without waiting for either: its
        imports (14-20 s on the H200 host) then overlap the pytest process's collection instead
        of delaying the first case. The first :meth:`check` reads the health check's answer."""
        if not self._worker.alive:
            self._worker.start((HealthJob(self.opts), HEALTH_TIMEOUT_S))

    def _healthy(self) -> str | None:
        """Health-check the worker (started by :meth:`prestart`, or started now); None when
        healthy, else what went wrong, after a second, fresh worker failed too."""
        problem = ""
        for _ in range(2):
            if not self._worker.pending:
                self.prestart()
            outcome = self._worker.settle()
            if isinstance(outcome, Ok):
                return None
            problem = _describe(outcome) if outcome is not None else "no answer"
            self._worker.kill()
        return problem

    def check(self, kernel_file: str, spec_name: str, case: CaseId, config: Any = None) -> Record:
        """The record of ``case``, whatever happens to the worker that checks it; ``config``
        overrides the case's config (:func:`checker.execute.check_case`)."""
        if not self._worker.alive or self._worker.pending:
            problem = self._healthy()
            if problem is not None:
                return self._record(
                    case,
                    Category.WORKER_DIED,
                    f"the {self.opts.device} worker failed its health check twice: {problem}",
                    {"health_check": "failed"},
                )
        job = CaseJob(kernel_file, spec_name, case, self.opts, config)
        record, waited = decided_alone(
            self._lock, lambda by_itself: self._run(dataclasses.replace(job, alone=by_itself)), self.free
        )
        if waited >= MIN_RECORDED_WAIT_S:
            record = dataclasses.replace(
                record, fields={**record.fields, "gpu_lock_wait_s": round(waited, 3)}
            )
        return record

    def free(self) -> None:
        """Have the worker give back the memory it keeps between cases, for a case about to run
        alone; a worker that fails to is killed, which frees everything."""
        if not self._holds_memory:
            return
        self._holds_memory = False
        if not self._worker.alive or self._worker.pending:
            return
        try:
            outcome = self._worker.run(FreeMemory(), FREE_TIMEOUT_S)
        except BaseException:
            self._worker.kill()
            raise
        if not isinstance(outcome, Ok):
            self._worker.kill()

    def _run(self, job: CaseJob) -> Record:
        """The record of ``job``'s case from the worker, or the supervisor's when the worker died,
        timed out or answered for another case."""
        case = job.case
        self._holds_memory = True
        started = time.monotonic()
        # A compile inside the case has timeouts of its own (--compile-timeout, checker.attempts):
        # the worker stops this clock while it compiles (pool.clock_paused), so --run-timeout
        # counts everything else and never fires first on a slow compile. It once was the run
        # timeout plus three compile timeouts for every case, so a case stuck in its input
        # factory ran 185 s under --run-timeout 5.
        # Natively a case waits on the GPU: wall time is its measure. Under the interpreter a case
        # is CPU-bound, and on a loaded host wall time measures the neighbours (two CPU cases of
        # the main job once ran out of 300 s at load average 20): there --run-timeout is the
        # worker's CPU seconds, and wall time a backstop (pool.WALL_BACKSTOP).
        cpu_limit = None if self.opts.native else self.run_timeout
        wall_limit = self.run_timeout if cpu_limit is None else WALL_BACKSTOP * self.run_timeout
        try:
            outcome = self._worker.run(job, wall_limit, cpu_limit_s=cpu_limit)
        except BaseException:
            # pytest-timeout, Ctrl-C or any error while the worker owns this case: the worker may
            # still be busy with it and would answer the next case with this case's record.
            self._worker.kill()
            raise
        if isinstance(outcome, Ok) and getattr(outcome.result, "case", None) != case:
            self._worker.kill()
            return self._record(
                case,
                Category.WORKER_DIED,
                f"the worker answered with a record for {getattr(outcome.result, 'case', None)!r}, "
                f"not for {case.name}; it was killed and its answer refused",
                {"worker_recycled": True},
                signature_text="case worker answered for another case",
            )
        if isinstance(outcome, Ok):
            record: Record = outcome.result
            if record.category.traits.sticky:
                # The CUDA context is gone: the next case gets a fresh, health-checked worker.
                self._worker.kill()
                record = dataclasses.replace(
                    record,
                    message=diagnostics.sanitize(f"{record.message}\nworker output:\n{outcome.stderr_tail}"),
                    fields={**record.fields, "worker_recycled": True},
                )
            return record
        if isinstance(outcome, TimedOut):
            if outcome.step is None and outcome.by_cpu:
                what = f"case used --run-timeout {self.run_timeout:g} CPU s"
            elif outcome.step is None and cpu_limit is not None:
                what = (
                    f"case ran past the wall backstop {wall_limit:g} s of --run-timeout "
                    f"{self.run_timeout:g} CPU s, using {outcome.cpu_s or 0:.3g} CPU s (stuck, not computing)"
                )
            elif outcome.step is None:
                what = f"case exceeded --run-timeout {self.run_timeout:g} s"
                if outcome.paused_s:
                    what += f" (its compile's {outcome.paused_s:g} s not counted)"
            else:
                # The step outlived the allowance its own timeouts add up to: something in it
                # ignored them (a compile worker that never answered, a lock never released).
                what = (
                    f"case stuck in its {outcome.step} stage, past the "
                    f"{outcome.step_allowance_s or 0:g} s that --compile-timeout "
                    f"{self.opts.compile_timeout:g} s allows it (attempts, lock wait, worker starts)"
                )
            return self._record(
                case,
                Category.RUN_TIMEOUT,
                f"{what}; its worker's process group was killed",
                {
                    "seconds": round(time.monotonic() - started, 3),
                    "timeout_s": self.run_timeout,
                    "cpu_s": outcome.cpu_s,
                    **({"cpu_limit_s": cpu_limit, "wall_limit_s": wall_limit} if cpu_limit else {}),
                    **({"compile_s": outcome.paused_s} if outcome.paused_s else {}),
                    **({"stage": outcome.step} if outcome.step else {}),
                },
            )
        self._worker.kill()
        if isinstance(outcome, Error) and outcome.diagnosis.category is Category.CHECKER_ERROR:
            return diagnosed_unconfigured_record(
                case, outcome.diagnosis, self.opts, 0.0, fields={"worker_recycled": True}
            )
        if isinstance(outcome, Error):
            # The job raised outside check_case (e.g. the kernel file no longer loads here).
            return self._record(case, Category.WORKER_DIED, _describe(outcome), {"worker_recycled": True})
        return self._record(
            case,
            Category.WORKER_DIED,
            _describe(outcome),
            {"signal": outcome.signal, "exit_status": outcome.exit_status, "worker_recycled": True},
            signature_text=f"case worker died {outcome.signal or outcome.exit_status}",
        )

    def _record(
        self,
        case: CaseId,
        category: Category,
        message: str,
        fields: dict[str, Any],
        signature_text: str | None = None,
    ) -> Record:
        return unconfigured_record(
            case,
            category,
            self.opts,
            message,
            signature_text or category.value,
            duration_s=float(fields.get("seconds", 0.0)),
            fields=fields,
        )


def decided_alone(
    lock: str, attempt: Callable[[bool], Record], free: Callable[[], None]
) -> tuple[Record, float]:
    """``attempt(False)``'s record, run holding the checker.alone ``lock`` of a GPU shared with
    every other case on it; when it ran out of memory (:func:`out_of_memory`), ``attempt(True)``'s
    instead, run holding ``lock`` alone (:func:`retried`). A retry alone waits for the shared
    holders to end, and while it waits or runs nothing new starts; either way a shared holder
    has ``free()`` give back what its process keeps first (issue 22: an OOM beside 15 other
    workers is no verdict). Returns the record and the seconds waited for the shared lock."""
    t0 = time.monotonic()
    with alone.shared(lock, before_wait=free):
        waited = time.monotonic() - t0
        record = attempt(False)
        if alone.pending(lock):
            free()
    if out_of_memory(record):
        t0 = time.monotonic()
        with alone.exclusive(lock):
            wait_s = time.monotonic() - t0
            retry = attempt(True)
        record = retried(retry, record, wait_s)
    return record, waited


def retried(retry: Record, first: Record, wait_s: float) -> Record:
    """The record of a case retried alone: the retry's outcome (a pass is a pass), with the first
    attempt in ``retried_alone``; the wall time of both attempts. Out of memory again, alone, it
    is the verdict: its message then says what was asked for (``requested_bytes``), and by whom
    for the reference."""
    info: dict[str, Any] = {
        "first_category": first.category.value,
        "first_message": first.message.split("\n", 1)[0],
        "wait_s": round(wait_s, 3),
    }
    first_requested = requested_bytes(first.message)
    if first_requested is not None:
        info["first_requested_bytes"] = first_requested
    fields = {**retry.fields, "retried_alone": info}
    message = retry.message
    if out_of_memory(retry):
        asked = _REQUESTED.search(retry.message)
        said = "out of memory alone (retried with no other case of the run on its device)"
        if asked is not None:
            fields["requested_bytes"] = requested_bytes(retry.message)
            said += f": it tried to allocate {asked['n']} {asked['unit']} ({fields['requested_bytes']} bytes)"
        if retry.category is Category.REFERENCE_ERROR:
            said = f"the reference of kernel spec {retry.case.kernel!r} ran {said}"
        else:
            said = f"ran {said}"
        message = diagnostics.sanitize(f"{said}\n{retry.message}")
    return dataclasses.replace(
        retry,
        message=message,
        fields=fields,
        duration_s=round(first.duration_s + retry.duration_s, 4),
    )


def _describe(outcome: JobOutcome) -> str:
    match outcome:
        case Died():
            return f"worker died ({outcome.how})\nworker output:\n{outcome.stderr_tail}"
        case TimedOut():
            return f"timed out after {outcome.seconds:g} s"
        case Error():
            return f"{outcome.diagnosis.message}\n{outcome.stderr_tail}"
        case Ok():
            return "ok"


_runner: CaseRunner | None = None


def runner(opts: RunOptions, run_timeout: float) -> CaseRunner:
    """This process's CaseRunner (created on first use)."""
    global _runner
    if _runner is None:
        _runner = CaseRunner(opts, run_timeout)
    return _runner


def free_memory() -> None:
    """Have this process's case worker (if it has one) give back the memory it keeps between
    cases, and torch give back this process's cached blocks: before this process runs something
    alone on its GPU (a golden check, checker/golden_plugin.py)."""
    if _runner is not None:
        _runner.free()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


def shutdown() -> None:
    """Stop this process's case worker, if one was started."""
    global _runner
    if _runner is not None:
        _runner.close()
        _runner = None
