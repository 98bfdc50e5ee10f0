"""Checking one case end to end: inputs, reference, codegen, run, compare -> Record.

Runs in the calling process. On a CUDA machine the generated code runs natively on the GPU;
on a CPU-only machine small shapes are compiled for the target (level ``check``) and then run
under the Triton interpreter, and full shapes are compiled only (recorded ``not-run`` with the
reason). Cases that do not run never materialize their inputs: ``make_inputs`` runs under
``FakeTensorMode`` and Helion binds to uninitialized ``torch.empty_strided`` tensors of the same
shapes, strides and dtypes.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from checker import codegen, diagnostics, interpreter
from checker.attempts import CompileAttempts, allowance_s, compile_attempts
from checker.blame import CaseFault
from checker.cache import compile_cache, keys
from checker.cache import stages as stage_entries
from checker.compile import CompileResult, Level, describe_args, triton_cache_holds
from checker.model import CaseId, Category, Mode, Record, new_record
from checker.numerics import (
    PoisonOutputs,
    Verdict,
    all_zero_inputs,
    case_tolerance,
    changed_elements,
    compare,
)
from checker.options import DEFAULT_COMPILE_TIMEOUT_S, CompilePolicy, Isolate, Values
from checker.pool import (
    CompileJob,
    CompileWorker,
    Died,
    Error,
    Ok,
    TimedOut,
    clock_paused,
)
from checker.spec import DTYPES_BY_NAME, DefaultConfig, KernelSpec, Output
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
        compile: ``--compile`` policy (see :meth:`compile_level`); a string is taken as its
            :class:`~checker.options.CompilePolicy`.
        compile_timeout: seconds one compile may take in its worker before it is killed.
        cache_dir: directory of the compile and stage caches (checker.cache), None for none (--no-cache).
        run_timeout: seconds a case may run in its supervised worker (--run-timeout), None when
            nothing supervises it; a cached interpreter verdict that took longer is not used.
    """

    sweep_seed: int
    target: Target
    native: bool
    n_configs: int
    compile: CompilePolicy = CompilePolicy.AUTO
    compile_timeout: float = DEFAULT_COMPILE_TIMEOUT_S
    cache_dir: str | None = None
    run_timeout: float | None = None

    def __post_init__(self) -> None:
        # ValueError for a policy outside the closed set.
        object.__setattr__(self, "compile", CompilePolicy(self.compile))

    @classmethod
    def of(cls, values: Values, target: Target, *, native: bool, cache_dir: str | None) -> RunOptions:
        """The options cases run with, from a run's option ``values`` (checker/options.py) and
        what the caller resolved from them and the machine: the ``target`` profile, whether it
        is the local GPU (``native``), and the compile cache's absolute directory (None: no
        cache). The one place a RunOptions is made outside tests."""
        return cls(
            sweep_seed=values["sweep_seed"],
            target=target,
            native=native,
            n_configs=values["configs"],
            compile=values["compile"],
            compile_timeout=values["compile_timeout"],
            cache_dir=cache_dir,
            run_timeout=None if values["isolate"] is Isolate.OFF else values["run_timeout"],
        )

    @property
    def device(self) -> str:
        return "cuda" if self.native else "cpu"

    def compile_level(self, executes: bool) -> Level | None:
        """How far to compile a case in a supervised worker before anything else, or None.

        ``auto`` compiles every case fully on a GPU (the worker fills Triton's cache, so the
        native launch that follows loads the cubin instead of compiling in this process, and a
        hung or crashing compile costs a worker, not the run); on a CPU it compiles every case
        to level ``check`` (no LLVM, no ptxas, which keeps the main job within minutes on 2
        cores): full shapes because the CPU cannot run them, small shapes too, before the
        interpreter runs them, because the interpreter runs code the target's compiler rejects
        (an MLIR pass crash on causal_attention's ``wide_q`` config at 16x16 fp16). ``check`` and
        ``full`` apply to every case; ``off`` to none. ``executes`` (whether the case runs,
        natively or under the interpreter) no longer changes the answer; callers pass it so a
        policy may again.
        """
        if self.compile is CompilePolicy.OFF:
            return None
        if self.compile is CompilePolicy.AUTO:
            return Level.FULL if self.native else Level.CHECK
        return Level(self.compile.value)


@dataclass(frozen=True)
class _Expected:
    """What the reference produced: its returned outputs (on the reference's device), and the
    mutated arguments after it ran, by argument index."""

    returned: list[Any]
    mutated: dict[int, torch.Tensor]


@dataclass
class _Prepared:
    """Per (kernel, shape, dtype) state shared by its config cases in one process.

    ``materialized`` is False when the inputs are uninitialized stand-ins with the layout
    ``make_inputs`` would give (cases that only generate or compile code): their values must
    never be read. The kernel is bound to the inputs on first use (:attr:`bound`): a case whose
    config and code come from the stage cache never binds (Helion's bind traces the kernel).
    """

    inputs: tuple[Any, ...]
    kernel: Any
    materialized: bool = True
    reference: _Expected | BaseException | None = None
    samples: list[Any] | None = None
    _bound: Any = None
    #: The stage cache's key of this group (False: not computed yet; None: not cacheable).
    group_key: keys.KernelKey | bool | None = False

    @property
    def bound(self) -> Any:
        if self._bound is None:
            self._bound = self.kernel.bind(self.inputs)
        return self._bound


def _escapes(exc: BaseException) -> bool:
    """Exceptions a case must not turn into its own record: Ctrl-C, and pytest's ``Failed``,
    which pytest-timeout raises (signal method) when a case without isolation runs too long;
    the plugin records that case ``run-timeout``."""
    if isinstance(exc, KeyboardInterrupt):
        return True
    # Looked up, not imported: a case worker never imports pytest unless a spec does.
    outcomes = sys.modules.get("_pytest.outcomes")
    return outcomes is not None and isinstance(exc, outcomes.Failed)


class ReferenceOutputError(CaseFault, TypeError):
    """A spec's reference returned something that is not a tensor (None: a missing return)."""


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


def _as_list(out: Any, in_place: bool = False) -> list[Any]:
    # None is "no returned output" only for in-place kernels; elsewhere it stays a (non-tensor)
    # output, so a kernel that forgets its return fails as before.
    if in_place and out is None:
        return []
    return list(out) if isinstance(out, (tuple, list)) else [out]


def layout_inputs(
    make_inputs: Any, shape: tuple[int, ...], dtype: torch.dtype, gen: torch.Generator, device: str
) -> tuple[Any, ...] | None:
    """``make_inputs(shape, dtype, gen)`` by layout only, for cases that never read input values.

    ``make_inputs`` runs under ``FakeTensorMode`` (no data is created: a 4096x4096x4096 matmul's
    inputs cost nothing) and each tensor it returns is replaced by ``torch.empty_strided`` with
    the same shape, strides and dtype on ``device``. The memory is uninitialized and never
    touched, so it is not resident: enough for Helion's ``bind``, code generation and
    ``compile.describe_args``. Non-tensor arguments pass through unchanged.

    Returns:
        The argument tuple, or None when ``make_inputs`` cannot run without real data (it reads
        values: ``.item()``, data-dependent shapes, numpy); the caller then materializes.
    """
    from torch._subclasses.fake_tensor import FakeTensorMode

    try:
        with FakeTensorMode(allow_non_fake_inputs=True):
            made = make_inputs(shape, dtype, gen)
    except Exception:
        return None
    if not isinstance(made, (tuple, list)):
        return None
    return tuple(
        torch.empty_strided(tuple(v.shape), tuple(v.stride()), dtype=v.dtype, device=device)
        if isinstance(v, torch.Tensor)
        else v
        for v in made
    )


@functools.lru_cache(maxsize=8)
def _prepare(
    spec: KernelSpec,
    shape: tuple[int, ...],
    dtype_name: str,
    seed: int,
    device: str,
    materialize: bool = True,
) -> _Prepared:
    """Inputs and the bound kernel of one (kernel, shape, dtype) group.

    ``materialize`` False (the group's cases only generate or compile code) binds to inputs
    by layout only (:func:`layout_inputs`), unless ``make_inputs`` needs real data.

    Raises:
        _Failure: ``reference-error`` when ``make_inputs`` returns an all-zero data tensor
            (it would hide unwritten outputs: the spec is at fault, not the kernel); checked
            only on materialized inputs, which every case that runs has.
    """
    dtype = DTYPES_BY_NAME[dtype_name]
    gen = torch.Generator().manual_seed(derived_seed(seed, spec.name, shape, dtype_name))
    if not materialize:
        layout = layout_inputs(spec.make_inputs, shape, dtype, gen, device)
        if layout is not None:
            return _Prepared(inputs=layout, kernel=spec.kernel, materialized=False)
    made = spec.make_inputs(shape, dtype, gen)
    zero = all_zero_inputs(made, dtype)
    if zero:
        raise _Failure(
            Category.REFERENCE_ERROR,
            f"kernel spec {spec.name!r}: make_inputs{tuple(shape)} at {dtype_name} returned an "
            f"all-zero data tensor as input {zero[0]}; all-zero inputs hide unwritten outputs",
            input_index=zero[0],
        )
    inputs = tuple(_to_device(v, device) for v in made)
    return _Prepared(inputs=inputs, kernel=spec.kernel)


def _mutated_indices(spec: KernelSpec, inputs: tuple[Any, ...]) -> dict[int, str]:
    """Argument index -> parameter name of each argument the spec says the kernel writes.

    Raises:
        _Failure: ``reference-error`` when ``make_inputs`` supplies no tensor for one.
    """
    params = spec.parameter_names()
    found = {}
    for name in spec.mutates:
        index = params.index(name)
        if index >= len(inputs) or not isinstance(inputs[index], torch.Tensor):
            raise _Failure(
                Category.REFERENCE_ERROR,
                f"kernel spec {spec.name!r}: mutates names {name!r} (parameter {index}), but "
                f"make_inputs returned no tensor for it ({len(inputs)} arguments)",
            )
        found[index] = name
    return found


def _reference(spec: KernelSpec, prep: _Prepared, mutated: dict[int, str]) -> _Expected | BaseException:
    """The reference outputs (or what the reference raised), computed once per group and only
    when some case of it runs: a float64 4096^3 matmul costs ~10 s of CPU for nothing in a
    codegen-only case.

    The reference gets copies (upcast, on ``spec.reference_device`` when set), never the cached
    inputs themselves, so an in-place reference updates its own copies: those of the mutated
    arguments are the expected values of the kernel's writes."""
    if prep.reference is None:

        def copy(v: Any) -> Any:
            if not isinstance(v, torch.Tensor):
                return v
            moved = v.to(spec.reference_device) if spec.reference_device else v
            up = _upcast(moved, spec.reference_dtype)
            # .to() returns the tensor itself when nothing changes (integer tensors).
            return up.clone() if up is v else up

        try:
            args = [copy(v) for v in prep.inputs]
            with torch.no_grad():
                ref = spec.reference(*args)
            outputs = _as_list(ref, bool(spec.mutates))
            for i, out in enumerate(outputs):
                if not isinstance(out, torch.Tensor):
                    # A forgotten `return` is the spec's fault; comparing a kernel with it would
                    # read as the kernel's (a runtime-error or a shape-mismatch).
                    raise ReferenceOutputError(
                        f"kernel spec {spec.name!r}: reference returned {type(out).__name__} as "
                        f"output {i}, not a tensor"
                    )
            prep.reference = _Expected(outputs, {i: args[i] for i in mutated})
        except BaseException as exc:
            if _escapes(exc):
                raise
            # SystemExit and pytest's skip (pytest.importorskip in a reference) included: they
            # escaped the case before and left it without a record.
            prep.reference = exc
    return prep.reference


def _group(
    spec: KernelSpec, prep: _Prepared, opts: RunOptions
) -> tuple[stage_entries.StageCache, keys.KernelKey] | None:
    """The stage cache and this group's key in it, None when caching is off or the launch
    arguments have no stable description."""
    store = stage_entries.open_stage_cache(opts.cache_dir)
    if store is None:
        return None
    if prep.group_key is False:
        prep.group_key = keys.kernel_key(spec, prep.inputs, opts.target, opts.native)
    if not isinstance(prep.group_key, keys.KernelKey):
        return None
    return store, prep.group_key


def _resolve(spec: KernelSpec, prep: _Prepared, config: Any, opts: RunOptions) -> Any:
    """``codegen.resolve_config``, with Helion's default config taken from the stage cache."""
    if not isinstance(config, DefaultConfig):
        return config
    cached = _group(spec, prep, opts)
    if cached is not None:
        hit = cached[0].get_default(cached[1])
        if hit is not None:
            return hit
    resolved = codegen.resolve_config(prep.bound, config)
    if cached is not None:
        cached[0].put_default(cached[1], resolved)
    return resolved


def _samples(spec: KernelSpec, prep: _Prepared, case: CaseId, opts: RunOptions, count: int) -> list[Any]:
    """``count`` sampled configs of the case's group (sweep.sample_configs), from the stage cache
    when it has them: every xdist worker and case worker that runs a case of the group would
    otherwise bind the kernel and build Helion's config generator for it again."""
    seed = derived_seed(opts.sweep_seed, spec.name, case.shape, case.dtype)
    cached = _group(spec, prep, opts)
    if cached is not None:
        hit = cached[0].get_samples(cached[1], seed, count)
        if hit is not None:
            return hit
    drawn = sample_configs(prep.bound.config_spec, count, seed)
    if cached is not None:
        cached[0].put_samples(cached[1], seed, drawn)
    return drawn


def _generate(spec: KernelSpec, prep: _Prepared, config: Any, opts: RunOptions) -> tuple[str, bool]:
    """The generated Triton source of ``config`` and whether it came from the stage cache."""
    cached = _group(spec, prep, opts)
    if cached is not None:
        hit = cached[0].get_code(cached[1], config)
        if hit is not None:
            return hit, True
    code = codegen.generate(prep.bound, config)
    if cached is not None:
        cached[0].put_code(cached[1], config, code)
    return code, False


def _config_for(spec: KernelSpec, prep: _Prepared, case: CaseId, opts: RunOptions) -> Any:
    index = sampled_index(case.config)
    if index is None:
        try:
            named = spec.configs[case.config]
        except KeyError:
            raise _Failure(Category.INVALID_CONFIG, f"no named config {case.config!r}") from None
        return _resolve(spec, prep, named, opts)
    if prep.samples is None or len(prep.samples) <= index:
        prep.samples = _samples(spec, prep, case, opts, max(opts.n_configs, index + 1))
    config = prep.samples[index]
    if isinstance(config, BaseException):
        raise _Failure(Category.INVALID_CONFIG, f"Helion could not generate config {case.config}: {config}")
    return config


def generate_named(
    spec: KernelSpec, case: CaseId, opts: RunOptions, input_seed: int
) -> tuple[str, Any, bool]:
    """Generated source of a named-config ``case`` (the golden stage's code), the config it was
    generated with and whether the code came from the stage cache.

    Helion binds to uninitialized inputs with ``make_inputs``'s layout drawn from
    ``input_seed`` (:func:`layout_inputs`: generated code depends on shapes, strides and dtypes
    only, so a 4096x4096 golden case allocates nothing), and only when the stage cache misses.

    Raises:
        Exception: whatever ``make_inputs``, ``bind`` or Helion's codegen raise, and
            ``_Failure`` (``invalid-config``) for a config name the spec does not declare.
    """
    prep = _prepare(spec, case.shape, case.dtype, input_seed, opts.device, False)
    config = _config_for(spec, prep, case, opts)
    code, cached = _generate(spec, prep, config, opts)
    return code, config, cached


def bound_of(spec: KernelSpec, case: CaseId, opts: RunOptions, input_seed: int) -> Any:
    """The kernel bound to ``case``'s layout inputs (see :func:`generate_named`)."""
    return _prepare(spec, case.shape, case.dtype, input_seed, opts.device, False).bound


def _override(spec: KernelSpec, prep: _Prepared, config: Any, opts: RunOptions) -> Any:
    if isinstance(config, dict):
        import helion

        return helion.Config(**config)
    return _resolve(spec, prep, config, opts)


def check_case(spec: KernelSpec, case: CaseId, opts: RunOptions, config_override: Any = None) -> Record:
    """Check one case and return its record; never raises for a kernel's fault.

    ``config_override`` replaces the config ``case.config`` names: a config dict (a record's
    ``config``, e.g. a probe of the minimal-failing-config search, checker/triage/minimize.py)
    or ``checker.spec.DEFAULT`` for Helion's default config of the bound kernel.
    """
    started = time.perf_counter()
    stages: dict[str, float] = {}
    config: Any = None
    small = spec.is_small(case.shape)
    mode = Mode.NATIVE if opts.native else (Mode.INTERPRETER if small else Mode.CODEGEN_ONLY)

    def record(category: Category, message: str = "", **kw: Any) -> Record:
        return new_record(
            case,
            category,
            mode,
            opts.target.name,
            helion_config=config,
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
        runs = mode is not Mode.CODEGEN_ONLY
        prep = timed(
            "prepare", lambda: _prepare(spec, case.shape, case.dtype, opts.sweep_seed, opts.device, runs)
        )
        config = (
            _config_for(spec, prep, case, opts)
            if config_override is None
            else _override(spec, prep, config_override, opts)
        )
        code, code_cached = timed("codegen", lambda: _generate(spec, prep, config, opts))
        compiled: dict[str, Any] = {"codegen_cached": True} if code_cached else {}
        level = opts.compile_level(executes=runs)
        if level is not None and mode is Mode.CODEGEN_ONLY:
            mode = Mode.COMPILE_ONLY
        if level is not None:
            attempt = _cross_compile(spec, prep, code, opts, level)
            stages["compile"] = round(attempt.stage_seconds, 4)
            failure = _compile_failure(attempt, opts)
            if failure is not None:
                return diagnosed(failure)
            assert isinstance(attempt.outcome, Ok)
            outcome = attempt.outcome
            compiled.update({**attempt.fields(), **outcome.result.fields()})
            if not attempt.cached:
                # Stages say where this case's time went; a cached compile ran none of them.
                stages.update({f"compile.{k}": v for k, v in outcome.result.stage_s.items()})
        if mode in (Mode.CODEGEN_ONLY, Mode.COMPILE_ONLY):
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
        if mode is Mode.INTERPRETER:
            dtypes = {v.dtype for v in prep.inputs if isinstance(v, torch.Tensor)}
            reason = interpreter.unsupported_reason(code, dtypes)
            if reason:
                raise interpreter.InterpreterGap(reason)
        mutated = _mutated_indices(spec, prep.inputs)
        reference = timed("reference", lambda: _reference(spec, prep, mutated))
        if isinstance(reference, BaseException):
            d = diagnostics.classify(reference)
            if d.category is Category.CHECKER_ERROR:
                return diagnosed(d)  # the checker's copy of the inputs failed, not the reference
            return record(
                Category.REFERENCE_ERROR,
                f"reference raised: {d.message}",
                signature=diagnostics.signature(Category.REFERENCE_ERROR, d.message),
                fields={"exception": type(reference).__name__},
            )
        declared = spec.returned_outputs()
        if spec.outputs and len(reference.returned) != len(declared):
            names = ", ".join(repr(o.name) for o in declared)
            raise _Failure(
                Category.REFERENCE_ERROR,
                f"kernel spec {spec.name!r}: the reference returned {len(reference.returned)} outputs, "
                f"outputs declares {len(declared)} ({names})",
            )
        runs_store, run_key = None, None
        if mode is Mode.INTERPRETER and _group(spec, prep, opts) is not None:
            # Helion kernels only: their generated code is the whole program the interpreter runs.
            runs_store = stage_entries.open_stage_cache(opts.cache_dir)
        if runs_store is not None:
            expected = [*reference.returned, *(reference.mutated[i] for i in sorted(reference.mutated))]
            run_key = keys.run_key(
                spec, case.shape, case.dtype, code, spec.kernel.name, prep.inputs, expected, opts.target
            )
            hit = runs_store.get_run(run_key) if run_key is not None else None
            if hit is not None and (opts.run_timeout is None or hit.run_s <= opts.run_timeout):
                # (A run that took longer than this run's timeout allows runs again, to time out.)
                # The interpreter would run the same code on the same inputs against the same
                # reference with the same tolerances: its verdict is this one (checker.cache.stages).
                fields = {**compiled, **hit.fields, "run_cached": True, "cached_run_s": hit.run_s}
                return record(
                    hit.category,
                    hit.message,
                    signature=hit.signature,
                    comparison=hit.comparison,
                    fields=fields,
                )
        entry = codegen.load(code, spec.kernel.name)
        if mode is Mode.INTERPRETER:
            interpreter.install_shims(codegen.module_of(entry))
        args = tuple(_clone(v) for v in prep.inputs)
        launches: list[bool] = []
        returned = timed("run", lambda: _run(entry, args, opts.native, launches))
        outputs = _as_list(returned, bool(spec.mutates))
        if opts.native:
            # False means this process compiled (the worker's cubin was not reused): the
            # isolation of a hung or crashing compile did not hold for this case. No launch
            # event at all means the process had already loaded this kernel (identical code
            # earlier in the run): nothing compiled here either.
            compiled["launch_cache_hit"] = all(launches)
        clobbered = _clobbered_input(spec, prep.inputs, args, mutated)
        if clobbered is not None:
            verdict = Verdict(Category.INPUT_MUTATED, clobbered[0])
            extra = clobbered[1]
        else:
            verdict, extra = timed("compare", lambda: _compare(spec, case, reference, outputs, args, mutated))
        done = (
            record(Category.PASSED, comparison=verdict.comparison, fields={**compiled, **extra})
            if verdict.category is Category.PASSED
            else failed(
                verdict.category, verdict.message, comparison=verdict.comparison, fields={**compiled, **extra}
            )
        )
        if runs_store is not None and run_key is not None:
            runs_store.put_run(
                run_key,
                stage_entries.CachedRun(
                    done.category, done.message, done.signature, done.comparison, extra, stages["run"]
                ),
            )
        return done
    except _Failure as f:
        return failed(f.category, str(f), fields=f.fields)
    except BaseException as exc:
        if _escapes(exc):
            raise
        # SystemExit, pytest.skip from a kernel or its input factory: still one record.
        return diagnosed(diagnostics.classify(exc))


_worker: CompileWorker | None = None


def _cross_compile(
    spec: KernelSpec, prep: _Prepared, code: str, opts: RunOptions, level: Level
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
    """
    global _worker
    job = CompileJob(code, spec.kernel.name, describe_args(prep.inputs), opts.target, level.value)
    store = compile_cache.open_cache(opts.cache_dir)
    key = keys.compile_key(job) if store is not None else None
    if store is not None and key is not None:
        hit = store.get(key, opts.compile_timeout)
        if hit is not None and (not opts.native or _launchable(hit)):
            return hit
    if _worker is None:
        _worker = CompileWorker()
    # In a case worker, --run-timeout does not count the compile: it has its own timeouts.
    with clock_paused("compile", allowance_s(opts.compile_timeout)):
        attempts = compile_attempts(_worker, job, opts.compile_timeout)
    if store is not None and key is not None:
        store.put(key, attempts)
    return attempts


def _launchable(cached: CompileAttempts) -> bool:
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


def _compile_failure(compiled: CompileAttempts, opts: RunOptions) -> diagnostics.Diagnosis | None:
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
            # The timeout it ran under: the current one, or for a cached timeout that of the
            # run that compiled, which is at least as long (checker.cache.compile_cache.usable).
            message = (
                f"compile for {opts.target.name} exceeded {outcome.timeout_s:g} s ({how}); "
                "the worker's process group was killed"
            )
            return diagnostics.Diagnosis(
                Category.COMPILE_TIMEOUT,
                message,
                diagnostics.signature(Category.COMPILE_TIMEOUT, "compile timeout"),
                {
                    "seconds": outcome.seconds,
                    "cpu_s": outcome.cpu_s,
                    "timeout_s": outcome.timeout_s,
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


def _clobbered_input(
    spec: KernelSpec, before: tuple[Any, ...], after: tuple[Any, ...], mutated: dict[int, str]
) -> tuple[str, dict[str, Any]] | None:
    """The ``input-mutated`` message and fields when the kernel changed a tensor argument the
    spec does not list in ``mutates`` (``after`` are the copies the kernel received, ``before``
    the pristine inputs), else None. Checked bit for bit, argument by argument, in order."""
    params = spec.parameter_names()
    for i, (old, new) in enumerate(zip(before, after, strict=True)):
        if i in mutated or not isinstance(old, torch.Tensor):
            continue
        count, where = changed_elements(old, new)
        if count:
            name = params[i] if i < len(params) else f"#{i}"
            assert where is not None
            message = (
                f"kernel wrote input {name!r} (argument {i}), which the spec does not list in "
                f"mutates: {count} of {old.numel()} elements changed; first at {where}: was "
                f"{old[where].item()!r}, now {new[where].item()!r}"
            )
            return message, {"argument": name, "argument_index": i, "changed": count, "numel": old.numel()}
    return None


@dataclass(frozen=True)
class _Slot:
    """One value a case compares: a returned output or a mutated argument."""

    label: str  # message prefix: "output 0", "output 'mean'", "mutated argument 'acc'"
    name: str  # key in the record's per-output fields
    actual: Any
    expected: Any
    output: Output | None
    expected_dtype: torch.dtype


def _compare(
    spec: KernelSpec,
    case: CaseId,
    expected: _Expected,
    outputs: list[Any],
    args: tuple[Any, ...],
    mutated: dict[int, str],
) -> tuple[Verdict, dict[str, Any]]:
    """The verdict of a case's outputs, and extra record fields.

    Returned outputs first, in order, then the mutated arguments in argument order. The verdict
    is the first failing value's (its message prefixed with the value's label, except for the
    one output of a spec without ``outputs``/``mutates``: unchanged from before those existed);
    when all pass, the first compared value's (its statistics go into the record). Each value
    gets its own tolerance (:func:`~checker.numerics.case_tolerance` with its
    :class:`~checker.spec.Output`). Fields: ``uncompared`` (name -> reason) when some output is
    left uncompared, ``outputs`` (name -> max_abs_err, mismatches, rtol, atol) when several
    values were compared.
    """
    dtype = DTYPES_BY_NAME[case.dtype]
    declared = spec.returned_outputs()
    if spec.outputs and len(outputs) != len(declared):
        names = ", ".join(repr(o.name) for o in declared)
        message = f"kernel returned {len(outputs)} outputs, the spec declares {len(declared)} ({names})"
        return Verdict(Category.SHAPE_MISMATCH, message), {}
    if len(outputs) != len(expected.returned):
        message = f"kernel returned {len(outputs)} outputs, reference {len(expected.returned)}"
        return Verdict(Category.SHAPE_MISMATCH, message), {}
    slots: list[_Slot] = []
    for i, (out, ref) in enumerate(zip(outputs, expected.returned, strict=True)):
        spec_out = declared[i] if declared else None
        label = f"output {spec_out.name!r}" if spec_out else f"output {i}"
        want = (spec_out.dtype_for(dtype) if spec_out else None) or spec.output_dtype(dtype)
        slots.append(_Slot(label, spec_out.name if spec_out else str(i), out, ref, spec_out, want))
    for index, name in sorted(mutated.items()):
        arg = args[index]
        slots.append(
            _Slot(
                f"mutated argument {name!r}",
                name,
                arg,
                expected.mutated[index],
                spec.output_named(name),
                arg.dtype,
            )
        )
    labelled = bool(spec.outputs or spec.mutates or len(slots) > 1)
    uncompared = {s.name: s.output.reason for s in slots if s.output is not None and not s.output.compare}
    extra: dict[str, Any] = {"uncompared": uncompared} if uncompared else {}
    first: Verdict | None = None
    stats: dict[str, Any] = {}
    for slot in slots:
        if slot.output is not None and not slot.output.compare:
            continue
        if not isinstance(slot.actual, torch.Tensor):
            message = f"{slot.label} is {type(slot.actual).__name__}, not a tensor"
            return Verdict(Category.DTYPE_MISMATCH, message), extra
        tol = case_tolerance(spec, case.shape, dtype, slot.output, slot.expected_dtype)
        verdict = compare(slot.actual, slot.expected, slot.expected_dtype, tol)
        if verdict.category is not Category.PASSED:
            message = f"{slot.label}: {verdict.message}" if labelled else verdict.message
            return Verdict(verdict.category, message, verdict.comparison), extra
        if verdict.comparison is not None:
            c = verdict.comparison
            stats[slot.name] = {
                "max_abs_err": c.max_abs_err,
                "mismatches": c.mismatches,
                "rtol": c.rtol,
                "atol": c.atol,
            }
        first = first or verdict
    if len(stats) > 1:
        extra["outputs"] = stats
    return first or Verdict(Category.PASSED, ""), extra


def clear_caches() -> None:
    """Drop this process's cached inputs and references (after a CUDA OOM, to free memory)."""
    _prepare.cache_clear()


def diagnosed_unconfigured_record(
    case: CaseId, d: diagnostics.Diagnosis, opts: RunOptions, duration_s: float, **kw: Any
) -> Record:
    """:func:`unconfigured_record` for a diagnosis made elsewhere (a checker-error caught
    outside ``check_case``): its category, message and fields, and its own signature."""
    fields = {**d.fields, **kw.pop("fields", {})}
    rec = unconfigured_record(case, d.category, opts, d.message, "", duration_s, fields=fields, **kw)
    return dataclasses.replace(rec, signature=d.signature)


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
    return new_record(
        case,
        category,
        Mode.NATIVE if opts.native else Mode.INTERPRETER,
        opts.target.name,
        duration_s=duration_s,
        message=diagnostics.sanitize(message),
        signature=diagnostics.signature(category, signature_text),
        **kw,
    )
