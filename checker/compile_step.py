"""The compile step: a case's generated code compiled for its target, in a compile worker.

:func:`cross_compile` takes the outcome from the compile cache (checker/cache/compile_cache.py)
or compiles in this process's compile worker (``pool.CompileWorker``, one per process, started
on first use or early by :func:`prestart_compile_worker`, stopped by :func:`shutdown`), with
the retries of checker/attempts.py; :func:`compile_failure` turns a failed outcome into the
case's diagnosis.
"""

from __future__ import annotations

import dataclasses

from checker import diagnostics, hostspeed
from checker.attempts import CompileAttempts, allowance_s, compile_attempts, wall_limit_s
from checker.cache import compile_cache, keys
from checker.categories import Category
from checker.compile import CompileResult, describe_args, triton_cache_holds
from checker.pool import CompileJob, CompileWorker, Died, Error, Ok, TimedOut, clock_paused
from checker.prepare import Prepared
from checker.run_options import Level, RunOptions
from checker.spec import KernelSpec

_worker: CompileWorker | None = None


def cross_compile(
    spec: KernelSpec, prep: Prepared, code: str, opts: RunOptions, level: Level
) -> CompileAttempts:
    """Compile ``code`` for the target in this process's compile worker, or take the outcome
    from the compile cache (``opts.cache_dir``), storing a new outcome there.

    On a GPU a cached success is taken only while Triton's own cache still holds the binary that
    compile made (:func:`checker.compile.triton_cache_holds`): the native launch that follows
    then loads it (``launch_cache_hit``). Otherwise the worker compiles again, to fill Triton's
    cache under supervision: a launch that compiled by itself would do so in the case worker,
    where a hung or crashing compile costs the case worker and no compile timeout applies. A
    cached failure (numel overflow, out of resources, a compiler crash, a compile timeout)
    launches nothing. On a CPU nothing launches compiled code (the interpreter runs the source),
    so every verdict is taken from the cache.

    ``opts.compile_timeout`` is the compile's budget in GPU-host CPU seconds; the worker may
    use it times this host's speed factor (checker.hostspeed.factor, measured once per host on
    the first compile that is not cached) before it is killed (checker.attempts).
    """
    global _worker
    job = CompileJob(
        code, spec.kernel.name, describe_args(prep.inputs, values=prep.materialized), opts.target, level.value
    )
    store = compile_cache.open_cache(opts.cache_dir)
    key = keys.compile_key(job) if store is not None else None
    if store is not None and key is not None:
        hit = store.get(key, opts.compile_timeout)
        if hit is not None and (not opts.native or launchable(hit)):
            return hit
    if _worker is None:
        _worker = CompileWorker()
    speed = hostspeed.factor(opts.cache_dir, _worker)
    # In a case worker, --run-timeout does not count the compile: it has its own timeouts.
    with clock_paused("compile", allowance_s(wall_limit_s(opts.compile_timeout, speed))):
        attempts = compile_attempts(_worker, job, opts.compile_timeout, speed)
    if store is not None and key is not None:
        store.put(key, attempts)
    return attempts


def launchable(cached: CompileAttempts) -> bool:
    """Whether a native run may use the cached compile outcome ``cached`` as it is: a failure
    (nothing launches), or a success whose binary is still in Triton's cache."""
    outcome = cached.outcome
    if not isinstance(outcome, Ok):
        return True
    result = outcome.result
    return (
        isinstance(result, CompileResult)
        and result.triton_hash is not None
        and result.kernel_name is not None
        and triton_cache_holds(result.triton_hash, result.kernel_name)
    )


def prestart_compile_worker() -> None:
    """Start this process's compile worker now, without waiting for its imports (14-20 s on
    the H200 host): a case worker on a GPU does this once it passed its health check, so that
    the first case that must compile does not wait for a whole interpreter start. A warm rerun
    that compiles nothing only pays the CPU time of the start."""
    global _worker
    if _worker is None:
        _worker = CompileWorker()
    _worker.start()


def shutdown() -> None:
    """Stop this process's compile worker (and its process group), if one was started."""
    global _worker
    if _worker is not None:
        _worker.close()
        _worker = None


def compile_failure(compiled: CompileAttempts, opts: RunOptions) -> diagnostics.Diagnosis | None:
    """The diagnosis of a failed cross-compile, None if it succeeded."""
    outcome = compiled.outcome
    attempts = compiled.fields()
    match outcome:
        case Ok():
            return None
        case Error():
            d: diagnostics.Diagnosis = diagnostics.with_compiler_log(outcome.diagnosis, outcome.stderr_tail)
            return dataclasses.replace(d, fields={**d.fields, **attempts})
        case TimedOut():
            how = (
                "twice, the second time alone"
                if compiled.first is not None
                else f"using {outcome.cpu_s:g} s of CPU time"
                if outcome.cpu_s is not None
                else "once"
            )
            # The budget it ran under: the current one, or for a cached timeout that of the
            # run that compiled, which is at least as large (checker.cache.compile_cache.usable).
            if outcome.by_cpu:
                assert outcome.cpu_limit_s is not None
                message = (
                    f"compile for {opts.target.name} exceeded its budget of {compiled.budget_s:g} "
                    f"GPU-host CPU s ({outcome.cpu_limit_s:g} CPU s here, host speed factor "
                    f"{compiled.host_speed:.2f}): {outcome.cpu_s:g} CPU s in {outcome.seconds:g} s; "
                    "the worker's process group was killed"
                )
            else:
                message = (
                    f"compile for {opts.target.name} exceeded {outcome.timeout_s:g} s of wall time "
                    f"({how}); the worker's process group was killed"
                )
            return diagnostics.Diagnosis(
                Category.COMPILE_TIMEOUT,
                message,
                diagnostics.signature(Category.COMPILE_TIMEOUT, "compile timeout"),
                {
                    "seconds": outcome.seconds,
                    "cpu_s": outcome.cpu_s,
                    "timeout_s": outcome.timeout_s,
                    "cpu_limit_s": outcome.cpu_limit_s,
                    **attempts,
                },
            )
        case Died():
            category = Category.COMPILER_CRASH if outcome.crash_signal else Category.WORKER_DIED
            tail = diagnostics.sanitize(outcome.stderr_tail, limit=2000)
            return diagnostics.Diagnosis(
                category,
                f"compile worker died ({outcome.how}) while compiling for {opts.target.name}\n"
                f"stderr tail:\n{tail}",
                diagnostics.signature(category, f"compile worker died {outcome.how}"),
                {
                    "signal": outcome.signal,
                    "exit_status": outcome.exit_status,
                    "stage": "native" if outcome.crash_signal else None,
                    **attempts,
                },
            )
