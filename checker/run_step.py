"""The run step: the generated code run once on copies of a case's inputs, and what it
produced judged against the reference.

:func:`run` calls the generated host function (natively, or under the Triton interpreter) with
unwritten outputs poisoned; :func:`clobbered_input` finds an input the kernel wrote without the
spec saying so; :func:`compare_outputs` compares each returned output and mutated argument with
the reference's (checker/prepare.py) under its tolerance (checker/numerics.py) and gives the
case's verdict.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import torch

from checker.categories import Category
from checker.model import CaseId
from checker.numerics import PoisonOutputs, Verdict, case_tolerance, changed_elements, compare
from checker.prepare import Expected
from checker.spec import DTYPES_BY_NAME, KernelSpec, Output
from checker.targets import interpreter_grid


def run(entry: Any, args: tuple[Any, ...], native: bool, launches: list[bool]) -> Any:
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


def clobbered_input(
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


def compare_outputs(
    spec: KernelSpec,
    case: CaseId,
    expected: Expected,
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
