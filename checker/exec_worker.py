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
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from checker import diagnostics
from checker.attempts import allowance_s
from checker.execute import RunOptions, unconfigured_record
from checker.model import CaseId, Category, Record
from checker.pool import DEFAULT_RUN_TIMEOUT_S, Died, Error, JobOutcome, Ok, TimedOut, Worker

#: Categories after which the CUDA context of the process that saw them is unusable.
STICKY = frozenset({Category.ILLEGAL_MEMORY_ACCESS, Category.DEVICE_ASSERT, Category.LAUNCH_FAILURE})
#: Seconds a fresh worker may take to start, import torch/triton/helion and pass its health check.
HEALTH_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class CaseJob:
    """Check ``case`` of the spec called ``spec_name`` declared in ``kernel_file``."""

    kernel_file: str
    spec_name: str
    case: CaseId
    opts: RunOptions
    #: A config dict (or checker.spec.DEFAULT) instead of the one ``case.config`` names.
    config: Any = None

    def handle(self) -> JobOutcome:
        from checker import execute

        _setup(self.opts)
        spec = _spec(self.kernel_file, self.spec_name)
        record = execute.check_case(spec, self.case, self.opts, self.config)
        if record.category is Category.CUDA_OOM:
            _free_memory()
        return Ok(record, seconds=record.duration_s)


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
            from checker import execute

            execute.prestart_compile_worker()
        return Ok(seconds=time.perf_counter() - started)


_configured = False
_specs: dict[tuple[str, str], Any] = {}


def _setup(opts: RunOptions) -> None:
    global _configured
    if _configured:
        return
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

    from checker import execute

    execute.clear_caches()
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


class CaseRunner:
    """The supervising side: one worker per pytest process, recycled as the module doc says."""

    def __init__(self, opts: RunOptions, run_timeout: float = DEFAULT_RUN_TIMEOUT_S) -> None:
        self.opts = opts
        self.run_timeout = run_timeout
        self._worker = Worker(interpret=not opts.native)

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
        started = time.monotonic()
        # A compile inside the case has timeouts of its own (--compile-timeout, checker.attempts):
        # the worker stops this clock while it compiles (pool.clock_paused), so --run-timeout
        # counts everything else and never fires first on a slow compile. It once was the run
        # timeout plus three compile timeouts for every case, so a case stuck in its input
        # factory ran 185 s under --run-timeout 5.
        try:
            outcome = self._worker.run(
                CaseJob(kernel_file, spec_name, case, self.opts, config), self.run_timeout
            )
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
            if record.category in STICKY:
                # The CUDA context is gone: the next case gets a fresh, health-checked worker.
                self._worker.kill()
                record = dataclasses.replace(
                    record,
                    message=diagnostics.sanitize(f"{record.message}\nworker output:\n{outcome.stderr_tail}"),
                    fields={**record.fields, "worker_recycled": True},
                )
            return record
        if isinstance(outcome, TimedOut):
            if outcome.step is None:
                what = f"case exceeded --run-timeout {self.run_timeout:g} s"
                if outcome.paused_s:
                    what += f" (its compile's {outcome.paused_s:g} s not counted)"
            else:
                # The step outlived the allowance its own timeouts add up to: something in it
                # ignored them (a compile worker that never answered, a lock never released).
                what = (
                    f"case stuck in its {outcome.step} stage, past the "
                    f"{allowance_s(self.opts.compile_timeout):g} s that --compile-timeout "
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
                    **({"compile_s": outcome.paused_s} if outcome.paused_s else {}),
                    **({"stage": outcome.step} if outcome.step else {}),
                },
            )
        self._worker.kill()
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


def shutdown() -> None:
    """Stop this process's case worker, if one was started."""
    global _runner
    if _runner is not None:
        _runner.close()
        _runner = None
