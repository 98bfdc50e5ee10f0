"""Checking one case end to end: inputs, reference, codegen, run, compare -> Record.

Runs in the calling process. On a CUDA machine the generated code runs natively on the GPU;
on a CPU-only machine small shapes run under the Triton interpreter and full shapes go through
code generation only (recorded ``not-run`` with the reason).
"""

from __future__ import annotations

import dataclasses
import functools
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from checker import codegen, diagnostics, interpreter, toolchain
from checker.compile import Level, describe_args
from checker.model import CaseId, Category, Record
from checker.numerics import PoisonOutputs, Verdict, all_zero_inputs, case_tolerance, compare
from checker.pool import DEFAULT_COMPILE_TIMEOUT_S, CompileJob, CompileWorker, JobOutcome
from checker.spec import DTYPES_BY_NAME, KernelSpec
from checker.sweep import derived_seed, sample_configs, sampled_index
from checker.targets import Target, interpreter_grid


@dataclass(frozen=True)
class RunOptions:
    """How cases run in this process.

    Attributes:
        sweep_seed: seeds sampled configs and inputs.
        target: the GPU target (the local GPU when ``native``).
        native: run on the local CUDA device; False runs on CPU (interpreter / codegen only).
        n_configs: how many configs are sampled per (kernel, shape, dtype).
        compile: ``--compile`` policy: ``auto``, ``off``, ``check`` or ``full`` (see
            :meth:`compile_level`).
        compile_timeout: seconds one compile may take in its worker before it is killed.
    """

    sweep_seed: int
    target: Target
    native: bool
    n_configs: int
    compile: str = "auto"
    compile_timeout: float = DEFAULT_COMPILE_TIMEOUT_S

    @property
    def device(self) -> str:
        return "cuda" if self.native else "cpu"

    def compile_level(self, executes: bool) -> Level | None:
        """How far to compile a case in a supervised worker before anything else, or None.

        ``auto`` compiles every case fully on a GPU (the worker fills Triton's cache, so the
        native launch that follows loads the cubin instead of compiling in this process, and a
        hung or crashing compile costs a worker, not the run); on a CPU it checks, at level
        ``check``, the cases the CPU cannot execute (full-size shapes), which keeps the main job
        within minutes on 2 cores. ``check`` and ``full`` apply to every case; ``off`` to none.
        ``executes`` says whether the case runs (natively or under the interpreter).
        """
        if self.compile == "off":
            return None
        if self.compile == "auto":
            if self.native:
                return Level.FULL
            return None if executes else Level.CHECK
        return Level(self.compile)


@dataclass
class _Prepared:
    """Per (kernel, shape, dtype) state shared by its config cases in one process."""

    inputs: tuple[Any, ...]
    bound: Any
    reference: list[torch.Tensor] | BaseException | None = None
    samples: list[Any] | None = None


class _Failure(Exception):
    def __init__(self, category: Category, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.category = category
        self.fields = fields


def _to_device(value: Any, device: str) -> Any:
    return value.to(device) if isinstance(value, torch.Tensor) else value


def _upcast(value: Any, dtype: torch.dtype) -> Any:
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return value.to(torch.float32).to(dtype) if value.element_size() == 1 else value.to(dtype)
    return value


def _clone(value: Any) -> Any:
    return value.clone() if isinstance(value, torch.Tensor) else value


def _as_list(out: Any) -> list[Any]:
    return list(out) if isinstance(out, (tuple, list)) else [out]


@functools.lru_cache(maxsize=8)
def _prepare(spec: KernelSpec, shape: tuple[int, ...], dtype_name: str, seed: int, device: str) -> _Prepared:
    """Inputs and the bound kernel of one (kernel, shape, dtype) group.

    Raises:
        _Failure: ``reference-error`` when ``make_inputs`` returns an all-zero floating tensor
            (it would hide unwritten outputs: the spec is at fault, not the kernel).
    """
    dtype = DTYPES_BY_NAME[dtype_name]
    gen = torch.Generator().manual_seed(derived_seed(seed, spec.name, shape, dtype_name))
    made = spec.make_inputs(shape, dtype, gen)
    zero = all_zero_inputs(made)
    if zero:
        raise _Failure(
            Category.REFERENCE_ERROR,
            f"kernel spec {spec.name!r}: make_inputs{tuple(shape)} at {dtype_name} returned an "
            f"all-zero floating tensor as input {zero[0]}; all-zero inputs hide unwritten outputs",
            input_index=zero[0],
        )
    inputs = tuple(_to_device(v, device) for v in made)
    return _Prepared(inputs=inputs, bound=spec.kernel.bind(inputs))


def _reference(spec: KernelSpec, prep: _Prepared) -> list[torch.Tensor] | BaseException:
    """The reference outputs (or what the reference raised), computed once per group and only
    when some case of it runs: a float64 4096^3 matmul costs ~10 s of CPU for nothing in a
    codegen-only case."""
    if prep.reference is None:
        try:
            with torch.no_grad():
                ref = spec.reference(*(_upcast(v, spec.reference_dtype) for v in prep.inputs))
            prep.reference = _as_list(ref)
        except Exception as exc:
            prep.reference = exc
    return prep.reference


def _config_for(spec: KernelSpec, prep: _Prepared, case: CaseId, opts: RunOptions) -> Any:
    index = sampled_index(case.config)
    if index is None:
        try:
            return codegen.resolve_config(prep.bound, spec.configs[case.config])
        except KeyError:
            raise _Failure(Category.INVALID_CONFIG, f"no named config {case.config!r}") from None
    if prep.samples is None or len(prep.samples) <= index:
        seed = derived_seed(opts.sweep_seed, spec.name, case.shape, case.dtype)
        prep.samples = sample_configs(prep.bound.config_spec, max(opts.n_configs, index + 1), seed)
    config = prep.samples[index]
    if isinstance(config, BaseException):
        raise _Failure(Category.INVALID_CONFIG, f"Helion could not generate config {case.config}: {config}")
    return config


def check_case(spec: KernelSpec, case: CaseId, opts: RunOptions) -> Record:
    """Check one case and return its record; never raises for a kernel's fault."""
    started = time.perf_counter()
    stages: dict[str, float] = {}
    config: Any = None
    mode = "native" if opts.native else ("interpreter" if spec.is_small(case.shape) else "codegen-only")

    def record(category: Category, message: str = "", **kw: Any) -> Record:
        cfg = getattr(config, "config", None)
        return Record(
            case=case,
            category=category,
            mode=mode,
            target=opts.target.name,
            config=dict(cfg) if cfg is not None else None,
            config_repr=repr(config) if config is not None else None,
            toolchain=toolchain.versions(),
            duration_s=round(time.perf_counter() - started, 4),
            stages=stages,
            message=message,
            **kw,
        )

    def failed(category: Category, message: str, **kw: Any) -> Record:
        return record(category, message, signature=diagnostics.signature(category, message), **kw)

    def diagnosed(d: diagnostics.Diagnosis) -> Record:
        return record(d.category, d.message, signature=d.signature, fields=d.fields)

    def timed(stage: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        try:
            return fn()
        finally:
            stages[stage] = round(time.perf_counter() - t0, 4)

    try:
        prep = timed("prepare", lambda: _prepare(spec, case.shape, case.dtype, opts.sweep_seed, opts.device))
        config = _config_for(spec, prep, case, opts)
        code = timed("codegen", lambda: codegen.generate(prep.bound, config))
        compiled: dict[str, Any] = {}
        level = opts.compile_level(executes=mode != "codegen-only")
        if level is not None and mode == "codegen-only":
            mode = "compile-only"
        if level is not None:
            outcome = _cross_compile(spec, prep, code, opts, level)
            stages["compile"] = round(outcome.seconds, 4)
            failure = _compile_failure(outcome, opts)
            if failure is not None:
                return diagnosed(failure)
            compiled = outcome.result.fields()
            stages.update({f"compile.{k}": v for k, v in outcome.result.stage_s.items()})
        if mode in ("codegen-only", "compile-only"):
            return record(
                Category.NOT_RUN,
                "full shape on a CPU-only machine: "
                + (
                    f"compiled for {opts.target.name} (level {compiled['compile_level']})"
                    if compiled
                    else "code generated"
                )
                + ", not executed",
                fields={"reason": "no GPU", "code_lines": code.count("\n") + 1, **compiled},
            )
        if mode == "interpreter":
            dtypes = {v.dtype for v in prep.inputs if isinstance(v, torch.Tensor)}
            reason = interpreter.unsupported_reason(code, dtypes)
            if reason:
                raise interpreter.InterpreterGap(reason)
        reference = timed("reference", lambda: _reference(spec, prep))
        if isinstance(reference, BaseException):
            d = diagnostics.classify(reference)
            return record(
                Category.REFERENCE_ERROR,
                f"reference raised: {d.message}",
                signature=diagnostics.signature(Category.REFERENCE_ERROR, d.message),
                fields={"exception": type(reference).__name__},
            )
        entry = codegen.load(code, spec.kernel.name)
        if mode == "interpreter":
            interpreter.install_shims(codegen.module_of(entry))
        args = tuple(_clone(v) for v in prep.inputs)
        launches: list[bool] = []
        outputs = _as_list(timed("run", lambda: _run(entry, args, opts.native, launches)))
        if opts.native:
            # False means this process compiled (the worker's cubin was not reused): the
            # isolation of a hung or crashing compile did not hold for this case. No launch
            # event at all means the process had already loaded this kernel (identical code
            # earlier in the run): nothing compiled here either.
            compiled["launch_cache_hit"] = all(launches)
        verdict = timed("compare", lambda: _compare(spec, case, reference, outputs))
        if verdict.category is Category.PASSED:
            return record(Category.PASSED, comparison=verdict.comparison, fields=compiled)
        return failed(verdict.category, verdict.message, comparison=verdict.comparison, fields=compiled)
    except _Failure as f:
        return failed(f.category, str(f), fields=f.fields)
    except Exception as exc:
        return diagnosed(diagnostics.classify(exc))


_worker: CompileWorker | None = None


def _cross_compile(
    spec: KernelSpec, prep: _Prepared, code: str, opts: RunOptions, level: Level
) -> JobOutcome:
    global _worker
    if _worker is None:
        _worker = CompileWorker()
    job = CompileJob(code, spec.kernel.name, describe_args(prep.inputs), opts.target, level.value)
    return _worker.run(job, opts.compile_timeout)


def shutdown() -> None:
    """Stop this process's compile worker (and its process group), if one was started."""
    global _worker
    if _worker is not None:
        _worker.close()
        _worker = None


def _compile_failure(outcome: JobOutcome, opts: RunOptions) -> diagnostics.Diagnosis | None:
    """The diagnosis of a failed cross-compile, None if it succeeded."""
    if outcome.kind == "ok":
        return None
    if outcome.kind == "error":
        d: diagnostics.Diagnosis = diagnostics.with_compiler_log(outcome.diagnosis, outcome.stderr_tail)
        return dataclasses.replace(d, fields={**d.fields, "compile_s": round(outcome.seconds, 4)})
    if outcome.kind == "timeout":
        message = (
            f"compile for {opts.target.name} exceeded {opts.compile_timeout:g} s; "
            "the worker's process group was killed"
        )
        return diagnostics.Diagnosis(
            Category.COMPILE_TIMEOUT,
            message,
            diagnostics.signature(Category.COMPILE_TIMEOUT, "compile timeout"),
            {"seconds": outcome.seconds, "timeout_s": opts.compile_timeout},
        )
    crashed = bool(outcome.fields.get("crash_signal"))
    category = Category.COMPILER_CRASH if crashed else Category.WORKER_DIED
    how = f"signal {outcome.signal}" if outcome.signal else f"exit status {outcome.exit_status}"
    tail = diagnostics.sanitize(outcome.stderr_tail, limit=2000)
    return diagnostics.Diagnosis(
        category,
        f"compile worker died ({how}) while compiling for {opts.target.name}\nstderr tail:\n{tail}",
        diagnostics.signature(category, f"compile worker died {how}"),
        {
            "signal": outcome.signal,
            "exit_status": outcome.exit_status,
            "stage": "native" if crashed else None,
        },
    )


def _run(entry: Any, args: tuple[Any, ...], native: bool, launches: list[bool]) -> Any:
    """Call the generated host function; on a GPU, append to ``launches`` whether each Triton
    compile it triggered was a cache hit (Triton's compilation listener).

    Outputs the host function allocates uninitialized (``torch.empty`` & co.) are filled with
    NaN / an integer sentinel first (:class:`~checker.numerics.PoisonOutputs`), so elements the
    kernel never writes fail the comparison."""
    if not native:
        with torch.no_grad(), PoisonOutputs(), interpreter_grid(), warnings.catch_warnings():
            # numpy evaluates masked-off lanes too (log(0), -inf - -inf): tens of thousands of
            # RuntimeWarnings per run that a GPU never raises and that say nothing of the kernel.
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.filterwarnings("ignore", "Conversion of an array with ndim > 0", DeprecationWarning)
            return entry(*args)
    from triton import knobs

    def listen(*, cache_hit: bool, **_: Any) -> None:
        launches.append(cache_hit)

    with torch.no_grad(), knobs.compilation.scope(), PoisonOutputs():
        knobs.compilation.listener = listen
        out = entry(*args)
    # Charge asynchronous errors to the case that caused them.
    torch.cuda.synchronize()
    return out


def _compare(spec: KernelSpec, case: CaseId, reference: list[torch.Tensor], outputs: list[Any]) -> Verdict:
    """The first failing output's verdict; when all pass, the first output's (its statistics
    go into the record). Every output gets the case's policy tolerance
    (:func:`~checker.numerics.case_tolerance`)."""
    if len(outputs) != len(reference):
        return Verdict(
            Category.SHAPE_MISMATCH, f"kernel returned {len(outputs)} outputs, reference {len(reference)}"
        )
    dtype = DTYPES_BY_NAME[case.dtype]
    tol = case_tolerance(spec, case.shape, dtype)
    first: Verdict | None = None
    for i, (out, ref) in enumerate(zip(outputs, reference, strict=True)):
        if not isinstance(out, torch.Tensor):
            return Verdict(Category.DTYPE_MISMATCH, f"output {i} is {type(out).__name__}, not a tensor")
        verdict = compare(out, ref, spec.output_dtype(dtype), tol)
        if verdict.category is not Category.PASSED:
            return (
                verdict
                if len(outputs) == 1
                else Verdict(verdict.category, f"output {i}: {verdict.message}", verdict.comparison)
            )
        first = first or verdict
    assert first is not None, "a kernel returns at least one output"
    return first


def clear_caches() -> None:
    """Drop this process's cached inputs and references (after a CUDA OOM, to free memory)."""
    _prepare.cache_clear()


def unconfigured_record(
    case: CaseId,
    category: Category,
    opts: RunOptions,
    message: str,
    signature_text: str,
    duration_s: float,
    **kw: Any,
) -> Record:
    """A record for a case that produced none itself (its worker died or timed out): no config,
    the mode the case would have run in, ``message`` sanitized, the signature from
    ``signature_text``. ``kw`` are further Record fields (``fields``, ``nodeid``, ``repro``)."""
    return Record(
        case=case,
        category=category,
        mode="native" if opts.native else "interpreter",
        target=opts.target.name,
        config=None,
        config_repr=None,
        toolchain=toolchain.versions(),
        duration_s=duration_s,
        message=diagnostics.sanitize(message),
        signature=diagnostics.signature(category, signature_text),
        **kw,
    )
