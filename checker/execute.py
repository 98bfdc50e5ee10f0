"""Checking one case end to end: inputs, reference, codegen, run, compare -> Record.

Runs in the calling process. On a CUDA machine the generated code runs natively on the GPU;
on a CPU-only machine small shapes are compiled for the target (level ``check``) and then run
under the Triton interpreter, and full shapes are compiled only (recorded ``not-run`` with the
reason). Cases that do not run never materialize their inputs: ``make_inputs`` runs under
``FakeTensorMode`` and Helion binds to uninitialized ``torch.empty_strided`` tensors of the same
shapes, strides and dtypes.

:func:`check_case` is the sequence of stages; each stage lives in its own module:
checker/prepare.py (inputs, reference, config, code), checker/compile_step.py (the compile in a
compile worker, or its cached verdict) and checker/run_step.py (the run and the comparison).
This module adds the interpreter verdicts of the stage cache and makes the records.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from checker import codegen, compile_step, diagnostics, interpreter, prepare, run_step
from checker.cache import keys
from checker.cache import stages as stage_entries
from checker.categories import Category
from checker.model import CaseId, Mode, Record, new_record
from checker.numerics import Verdict
from checker.pool import Ok
from checker.prepare import CaseFailure, Expected, Prepared
from checker.run_options import RunOptions
from checker.spec import KernelSpec


@dataclass
class _Trace:
    """What one case has gathered for its record so far: its mode (a case that cannot run
    becomes compile-only once it compiles), its config, the seconds of each stage and the
    fields of its compile and launch."""

    case: CaseId
    opts: RunOptions
    mode: Mode
    started: float = field(default_factory=time.perf_counter)
    stages: dict[str, float] = field(default_factory=dict)
    config: Any = None
    compiled: dict[str, Any] = field(default_factory=dict)

    def timed(self, stage: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        try:
            return fn()
        finally:
            self.stages[stage] = round(time.perf_counter() - t0, 4)

    def record(self, category: Category, message: str = "", **kw: Any) -> Record:
        return new_record(
            self.case,
            category,
            self.mode,
            self.opts.target.name,
            helion_config=self.config,
            duration_s=round(time.perf_counter() - self.started, 4),
            stages=self.stages,
            message=message,
            **kw,
        )

    def failed(self, category: Category, message: str, **kw: Any) -> Record:
        return self.record(category, message, signature=diagnostics.signature(category, message), **kw)

    def diagnosed(self, d: diagnostics.Diagnosis) -> Record:
        return self.record(d.category, d.message, signature=d.signature, fields=d.fields)


def check_case(spec: KernelSpec, case: CaseId, opts: RunOptions, config_override: Any = None) -> Record:
    """Check one case and return its record; never raises for a kernel's fault.

    ``config_override`` replaces the config ``case.config`` names: a config dict (a record's
    ``config``, e.g. a probe of the minimal-failing-config search, checker/triage/minimize.py)
    or ``checker.spec.DEFAULT`` for Helion's default config of the bound kernel.
    """
    small = spec.is_small(case.shape)
    mode = Mode.NATIVE if opts.native else (Mode.INTERPRETER if small else Mode.CODEGEN_ONLY)
    trace = _Trace(case, opts, mode)
    try:
        return _stages(spec, case, opts, config_override, trace)
    except CaseFailure as f:
        return trace.failed(f.category, str(f), fields=f.fields)
    except BaseException as exc:
        if prepare.escapes(exc):
            raise
        # SystemExit, pytest.skip from a kernel or its input factory: still one record.
        return trace.diagnosed(diagnostics.classify(exc))


def _stages(spec: KernelSpec, case: CaseId, opts: RunOptions, config_override: Any, t: _Trace) -> Record:
    """The stages of one case, in order: prepare, config, codegen, compile, (not run), reference,
    a cached interpreter verdict, run and compare. Any stage may end the case with its record."""
    runs = t.mode is not Mode.CODEGEN_ONLY
    prep = t.timed(
        "prepare", lambda: prepare.for_group(spec, case.shape, case.dtype, opts.sweep_seed, opts.device, runs)
    )
    t.config = prepare.config_for(spec, prep, case, opts, config_override)
    code, code_cached = t.timed("codegen", lambda: prepare.generate(spec, prep, t.config, opts))
    if code_cached:
        t.compiled["codegen_cached"] = True
    failure = _compile(spec, prep, code, opts, t, runs)
    if failure is not None:
        return t.diagnosed(failure)
    if t.mode in (Mode.CODEGEN_ONLY, Mode.COMPILE_ONLY):
        return _not_run(code, t)
    if t.mode is Mode.INTERPRETER:
        dtypes = {v.dtype for v in prep.inputs if isinstance(v, torch.Tensor)}
        reason = interpreter.unsupported_reason(code, dtypes)
        if reason:
            raise interpreter.InterpreterGap(reason)
    mutated = prepare.mutated_indices(spec, prep.inputs)
    reference = t.timed("reference", lambda: prepare.reference(spec, prep, mutated))
    if isinstance(reference, BaseException):
        return _reference_failed(reference, t)
    prepare.check_declared_outputs(spec, reference)
    runs_cache = _runs_cache(spec, case, prep, code, reference, opts) if t.mode is Mode.INTERPRETER else None
    hit = runs_cache[0].get_run(runs_cache[1]) if runs_cache is not None else None
    if hit is not None and (opts.run_timeout is None or hit.run_s <= opts.run_timeout):
        # (A run that took longer than this run's timeout allows runs again, to time out.)
        # The interpreter would run the same code on the same inputs against the same
        # reference with the same tolerances: its verdict is this one (checker.cache.stages).
        fields = {**t.compiled, **hit.fields, "run_cached": True, "cached_run_s": hit.run_s}
        return t.record(
            hit.category, hit.message, signature=hit.signature, comparison=hit.comparison, fields=fields
        )
    verdict, extra = _run(spec, case, prep, code, reference, mutated, t)
    fields = {**t.compiled, **extra}
    done = (
        t.record(Category.PASSED, comparison=verdict.comparison, fields=fields)
        if verdict.category is Category.PASSED
        else t.failed(verdict.category, verdict.message, comparison=verdict.comparison, fields=fields)
    )
    if runs_cache is not None:
        entry = stage_entries.CachedRun(
            done.category, done.message, done.signature, done.comparison, extra, t.stages["run"]
        )
        runs_cache[0].put_run(runs_cache[1], entry)
    return done


def _compile(
    spec: KernelSpec, prep: Prepared, code: str, opts: RunOptions, t: _Trace, runs: bool
) -> diagnostics.Diagnosis | None:
    """The compile stage at ``opts``'s level (checker/compile_step.py): the diagnosis of a failed
    compile, None when it succeeded (its fields and stage seconds kept in ``t``) or none runs."""
    level = opts.compile_level(executes=runs)
    if level is None:
        return None
    if t.mode is Mode.CODEGEN_ONLY:
        t.mode = Mode.COMPILE_ONLY
    attempt = compile_step.cross_compile(spec, prep, code, opts, level)
    t.stages["compile"] = round(attempt.stage_seconds, 4)
    failure = compile_step.compile_failure(attempt, opts)
    if failure is not None:
        return failure
    assert isinstance(attempt.outcome, Ok)
    outcome = attempt.outcome
    t.compiled.update({**attempt.fields(), **outcome.result.fields()})
    if not attempt.cached:
        # Stages say where this case's time went; a cached compile ran none of them.
        t.stages.update({f"compile.{k}": v for k, v in outcome.result.stage_s.items()})
    return None


def _not_run(code: str, t: _Trace) -> Record:
    """The ``not-run`` record of a full shape on a CPU-only machine."""
    compiled = t.compiled
    # Only a compile sets compile_level: code from the stage cache with no compile (--compile
    # off) was generated, not compiled.
    level = compiled.get("compile_level")
    done = f"compiled for {t.opts.target.name} (level {level})" if level else "code generated"
    return t.record(
        Category.NOT_RUN,
        f"full shape on a CPU-only machine: {done}, not executed",
        fields={"reason": "no GPU", "code_lines": code.count("\n") + 1, **compiled},
    )


def _reference_failed(raised: BaseException, t: _Trace) -> Record:
    """The record of a case whose reference raised ``raised``: ``reference-error``, unless the
    checker's own copy of the inputs failed (``checker-error``)."""
    d = diagnostics.classify(raised)
    if d.category is Category.CHECKER_ERROR:
        return t.diagnosed(d)
    return t.record(
        Category.REFERENCE_ERROR,
        f"reference raised: {d.message}",
        signature=diagnostics.signature(Category.REFERENCE_ERROR, d.message),
        fields={"exception": type(raised).__name__},
    )


def _runs_cache(
    spec: KernelSpec, case: CaseId, prep: Prepared, code: str, reference: Expected, opts: RunOptions
) -> tuple[stage_entries.StageCache, str] | None:
    """The stage cache and the key of this interpreter run's verdict, None when caching is off
    or the run has no stable key. Helion kernels only: their generated code is the whole program
    the interpreter runs."""
    group = prepare.stage_group(spec, prep, opts)
    if group is None:
        return None
    expected = [*reference.returned, *(reference.mutated[i] for i in sorted(reference.mutated))]
    key = keys.run_key(
        spec, case.shape, case.dtype, code, spec.kernel.name, prep.inputs, expected, opts.target
    )
    return None if key is None else (group[0], key)


def _run(
    spec: KernelSpec,
    case: CaseId,
    prep: Prepared,
    code: str,
    reference: Expected,
    mutated: dict[int, str],
    t: _Trace,
) -> tuple[Verdict, dict[str, Any]]:
    """Run the generated code on copies of the inputs and judge it (checker/run_step.py): the
    verdict and extra record fields."""
    entry = codegen.load(code, spec.kernel.name)
    if t.mode is Mode.INTERPRETER:
        interpreter.install_shims(codegen.module_of(entry))
    args = tuple(prepare.clone(v) for v in prep.inputs)
    launches: list[bool] = []
    returned = t.timed("run", lambda: run_step.run(entry, args, t.opts.native, launches))
    outputs = prepare.as_list(returned, bool(spec.mutates))
    if t.opts.native:
        # False means this process compiled (the worker's cubin was not reused): the
        # isolation of a hung or crashing compile did not hold for this case. No launch
        # event at all means the process had already loaded this kernel (identical code
        # earlier in the run): nothing compiled here either.
        t.compiled["launch_cache_hit"] = all(launches)
    clobbered = run_step.clobbered_input(spec, prep.inputs, args, mutated)
    if clobbered is not None:
        return Verdict(Category.INPUT_MUTATED, clobbered[0]), clobbered[1]
    compared: tuple[Verdict, dict[str, Any]] = t.timed(
        "compare", lambda: run_step.compare_outputs(spec, case, reference, outputs, args, mutated)
    )
    return compared


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
