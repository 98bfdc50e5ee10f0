"""Standalone reproducers: one Python file per case that replays its failure without the checker.

:func:`write_repro` regenerates the case's Triton code from its record (the full Helion config,
the target, the sweep seed in the record's command) with the checker's own codegen, and writes
``checker/triage/repro_template.py`` with its data block filled in: the checker's
classification (:func:`classification`, from checker/diagnostics.py and checker.categories.TRAITS,
so the file cannot drift from it), the record's fields, the generated code, the inputs (embedded
as ``torch.save`` bytes when small, else the spec's seeded ``make_inputs`` source when it is
self-contained, else their layout only), the reference (expected outputs embedded when small,
else the reference's source when self-contained) and the tolerance of every compared value
exactly as the checker applied it. docs/repro.md describes the file.

Everything embedded comes from kernel files, compilers and records, so it is written as
``ascii()`` string literals (or JSON inside one): no name or message can become code.
"""

from __future__ import annotations

import ast
import base64
import builtins
import dataclasses
import enum
import inspect
import io
import json
import re
import symtable
import sys
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from checker.categories import Category, Replay
from checker.model import Record
from checker.run_options import RunOptions
from checker.spec import DTYPES_BY_NAME, KernelSpec, Output
from checker.triage.locate import ReproError, recorded_options, spec_of

#: Inputs (and expected outputs) up to this many bytes are embedded in the file (1 MiB).
EMBED_LIMIT_BYTES = 1 << 20
#: SM count that sizes persistent grids under the interpreter (checker/targets.py's value).
INTERPRETER_SM_COUNT = 2
#: Top-level packages a make_inputs or reference function may use and still count as
#: self-contained (the file imports them itself).
ALLOWED_PACKAGES = frozenset({"torch", "math", "numpy", "random", "functools", "itertools", "operator"})

_DATA_BEGIN = "# ---- data: written by kcheck repro ----\n"
_DATA_END = "# ---- end of data ----\n"


class InputsForm(enum.StrEnum):
    """How the file carries the case's inputs."""

    EMBEDDED = "embedded"
    GENERATOR = "generator"
    LAYOUT = "layout"


class ReferenceForm(enum.StrEnum):
    """How the file carries the expected outputs."""

    EMBEDDED = "embedded"
    SOURCE = "source"
    NONE = "none"


@dataclasses.dataclass(frozen=True)
class _Embedded:
    """Text for one form of the inputs or the reference: the data-block entry and the payload."""

    data: dict[str, Any]
    payload: str = ""


def stage_of(record: Record) -> Replay:
    """The stage that produced ``record``'s category: its ``replay`` (checker.categories.TRAITS), but
    the compile for a worker that died compiling, and none for a lost case.

    Raises:
        ReproError: the category has nothing a reproducer can replay (skips, spec errors,
            golden checks, lost cases, Helion rejecting the config).
    """
    category = record.category
    if category is Category.WORKER_DIED and record.message.startswith("compile worker died"):
        return Replay.COMPILE
    replay = category.traits.replay
    if replay is not None and not record.lost:
        return replay
    raise ReproError(
        f"case {record.case.name}: category {category.value} has nothing to reproduce "
        "(not a kernel failure the generated code can replay)"
    )


def default_output_name(record: Record) -> str:
    """``repro_<kernel>_<param>.py`` with every character but letters, digits, ``.``, ``_``
    and ``-`` replaced by ``_``."""
    raw = f"repro_{record.case.kernel}_{record.case.param}"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", raw).lstrip(".") + ".py"


def _target_profile(name: str) -> dict[str, Any]:
    from checker.targets import TARGETS

    target = TARGETS.get(name)
    if target is None:
        m = re.fullmatch(r"sm_(\d+)", name)
        if m is None:
            raise ReproError(f"unknown target {name!r}")
        # A local GPU the profiles do not list: its capability, sm_90's other limits.
        target = dataclasses.replace(TARGETS["sm_90"], name=name, capability=int(m.group(1)))
    return dataclasses.asdict(target)


def _nbytes(values: Iterable[Any]) -> int:
    seen: set[int] = set()
    total = 0
    for v in values:
        if isinstance(v, torch.Tensor):
            try:
                storage = v.untyped_storage()
                key, size = storage.data_ptr(), storage.nbytes()
            except (NotImplementedError, RuntimeError):  # fake tensors have no storage
                key, size = id(v), v.numel() * v.element_size()
            if key not in seen or key == 0:
                seen.add(key)
                total += size
    return total


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _describe(args: Sequence[Any], record: Record) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, v in enumerate(args):
        if isinstance(v, torch.Tensor):
            out.append(
                {
                    "kind": "tensor",
                    "shape": list(v.shape),
                    "stride": list(v.stride()),
                    "dtype": _dtype_name(v.dtype),
                }
            )
        elif v is None or isinstance(v, (bool, int, float, str)):
            out.append({"kind": "value", "value": v})
        else:
            raise ReproError(
                f"case {record.case.name}: argument {i} is a {type(v).__name__}, "
                "which a reproducer cannot carry"
            )
    return out


def _self_contained(fn: Any) -> tuple[str, str] | None:
    """(source with its imports, function name) of a plain ``def`` that refers to nothing but
    builtins and modules of :data:`ALLOWED_PACKAGES`; None otherwise (lambdas, closures,
    helpers of the kernel module)."""
    if not inspect.isfunction(fn) or fn.__name__ == "<lambda>" or fn.__closure__:
        return None
    try:
        source = textwrap.dedent(inspect.getsource(fn))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        return None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.FunctionDef):
        return None
    if tree.body[0].name != fn.__name__ or tree.body[0].decorator_list:
        return None
    names: set[str] = set()
    pending = [symtable.symtable(source, "<source>", "exec")]
    while pending:
        table = pending.pop()
        for symbol in table.get_symbols():
            if symbol.is_global() and symbol.is_referenced():
                names.add(symbol.get_name())
        pending.extend(table.get_children())
    imports: list[str] = []
    for name in sorted(names - {fn.__name__}):
        if hasattr(builtins, name) and name not in fn.__globals__:
            continue
        value = fn.__globals__.get(name)
        if not isinstance(value, ModuleType) or value.__name__.split(".")[0] not in ALLOWED_PACKAGES:
            return None
        module = value.__name__
        imports.append(f"import {module}" if module == name else f"import {module} as {name}")
    return "\n".join(["from __future__ import annotations", *imports, "", source]), fn.__name__


def _saved(value: Any) -> str:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _reference_outputs(spec: KernelSpec, inputs: tuple[Any, ...], mutated: dict[int, str]) -> dict[str, Any]:
    """The reference as the checker runs it (``prepare.reference_outputs``) on the CPU inputs:
    ``returned`` (list of outputs, on the CPU) and ``mutated`` (argument index -> the
    reference's copy after it ran)."""
    from checker import prepare

    expected = prepare.reference_outputs(spec, inputs, mutated)
    return {"returned": [o.detach().cpu() for o in expected.returned], "mutated": expected.mutated}


def _slot(
    spec: KernelSpec,
    record: Record,
    label: str,
    name: str,
    output: Output | None,
    want: torch.dtype,
) -> dict[str, Any]:
    from checker.numerics import case_tolerance

    swept = DTYPES_BY_NAME[record.case.dtype]
    tol = case_tolerance(spec, record.case.shape, swept, output, want)
    return {
        "label": label,
        "name": name,
        "dtype": _dtype_name(want),
        "compare": output is None or output.compare,
        "rtol": tol.rtol,
        "atol": tol.atol,
        "tolerance_source": tol.reason,
    }


def _slots(
    spec: KernelSpec, record: Record, args: Sequence[Any], mutated: dict[int, str]
) -> tuple[list[dict[str, Any]], dict[str, Any], list[dict[str, Any]]]:
    """(declared returned outputs, the slot of an undeclared output, mutated arguments), each
    with its tolerance: the record's own rtol/atol where it has them, the policy's otherwise."""
    swept = DTYPES_BY_NAME[record.case.dtype]
    declared = [
        _slot(spec, record, f"output {o.name!r}", o.name, o, o.dtype_for(swept) or spec.output_dtype(swept))
        for o in spec.returned_outputs()
    ]
    default = _slot(spec, record, "output 0", "0", None, spec.output_dtype(swept))
    mutated_slots = [
        {
            **_slot(spec, record, f"mutated argument {name!r}", name, spec.output_named(name), args[i].dtype),
            "index": i,
        }
        for i, name in sorted(mutated.items())
    ]
    # What the checker applied wins over what the policy says today: per-value tolerances from
    # fields.outputs, and the record's comparison for the value it describes (the failing one,
    # named by the message's label, or the first compared one).
    per_name = record.fields.get("outputs") or {}
    for slot in [*declared, default, *mutated_slots]:
        seen = per_name.get(slot["name"])
        if isinstance(seen, dict) and "rtol" in seen and "atol" in seen:
            slot.update(rtol=seen["rtol"], atol=seen["atol"])
    if record.comparison is not None:
        c = record.comparison
        candidates = [*(declared or [default]), *mutated_slots]
        described = next((s for s in candidates if record.message.startswith(f"{s['label']}: ")), None)
        described = described or next((s for s in candidates if s["compare"]), None)
        if described is not None:
            described.update(rtol=c.rtol, atol=c.atol, tolerance_source=c.tolerance_source or "")
    return declared, default, mutated_slots


def _config_of(spec: KernelSpec, prep: Any, record: Record, opts: RunOptions) -> tuple[Any, str]:
    """The ``helion.Config`` of the case and where it came from (``prepare.config_for``).

    The record's full config when it has one. A case whose worker died or timed out has none
    (its record was made outside the worker), so the config is derived as the checker derived
    it: the spec's named config, or the K-th draw of ``cfgK`` under the sweep seed.

    Raises:
        ReproError: the named config does not exist or Helion cannot draw the sampled one.
    """
    from checker import prepare
    from checker.sweep import sampled_index

    case = record.case
    index = sampled_index(case.config)
    try:
        config = prepare.config_for(spec, prep, case, opts, record.config)
    except prepare.CaseFailure as exc:
        if index is None:
            message = f"the record has no config and the spec no {case.config!r}"
            raise ReproError(f"case {case.name}: {message}") from None
        raise ReproError(f"case {case.name}: {exc}") from None
    if record.config is not None:
        return config, "the record"
    if index is None:
        return config, f"the spec's named config {case.config!r} (the record has none)"
    return config, f"draw {index} of the sweep seed {opts.sweep_seed} (the record has none)"


def _compile_level(record: Record) -> str:
    if record.mode == "native" or record.fields.get("stage") == "ptxas":
        return "full"
    level = record.fields.get("compile_level") or recorded_options(record)["compile"]
    return "full" if level == "full" else "check"


def write_repro(record: Record, kernel_file: Path, out_path: Path) -> Path:
    """Write a standalone reproducer of ``record`` (from ``kernel_file``) to ``out_path``.

    Loads the kernel module, regenerates the Triton code for the record's config with the
    checker's codegen (Helion seeing the record's target when there is no GPU), gathers inputs,
    reference and tolerances, and fills the template's data block.

    Returns:
        ``out_path``.

    Raises:
        ReproError: the category has nothing to replay, the record has no config, the spec is
            missing, or Helion cannot generate the code for the config.
        OSError: ``out_path`` cannot be written.
    """
    from checker import prepare, targets

    stage = stage_of(record)
    name = record.case.name
    spec = spec_of(Path(kernel_file), record)
    profile = _target_profile(record.target)
    target = targets.Target(**profile)
    local = targets.local_cuda_target()
    if local is None:
        targets.use_target_on_cpu(target)
    # The case's own options; no stage cache: the config and code are made afresh.
    opts = RunOptions.of(recorded_options(record), target, native=local is not None, cache_dir=None)
    shape, dtype_name = tuple(record.case.shape), record.case.dtype
    if dtype_name not in DTYPES_BY_NAME:
        raise ReproError(f"case {name}: unknown dtype {dtype_name!r}")
    dtype = DTYPES_BY_NAME[dtype_name]
    seed = prepare.input_seed(spec, shape, dtype_name, opts.sweep_seed)
    layout = prepare.layout_inputs(spec.make_inputs, shape, dtype, torch.Generator().manual_seed(seed), "cpu")
    small = layout is not None and _nbytes(layout) <= EMBED_LIMIT_BYTES
    try:
        real = (
            prepare.make_inputs(spec, shape, dtype_name, opts.sweep_seed, "cpu")
            if layout is None or (small and stage is Replay.RUN)
            else None
        )
        args = real if real is not None else layout
        assert args is not None
        mutated = prepare.mutated_indices(spec, args)
    except prepare.CaseFailure as exc:
        raise ReproError(f"case {name}: {exc}") from None
    on_device = tuple(prepare.to_device(a, opts.device) for a in args)
    try:
        prep = prepare.Prepared(inputs=on_device, kernel=spec.kernel, _bound=spec.kernel.bind(on_device))
    except Exception as exc:
        raise ReproError(f"case {name}: Helion cannot bind the kernel to its inputs: {exc}") from exc
    config, config_source = _config_of(spec, prep, record, opts)
    try:
        code, _ = prepare.generate(spec, prep, config, opts)
    except Exception as exc:
        raise ReproError(f"case {name}: Helion cannot generate the code for its config: {exc}") from exc

    inputs = _inputs_form(stage, spec, record, real, small, seed)
    reference = _reference_form(stage, spec, record, inputs, real, mutated)
    declared, default, mutated_slots = _slots(spec, record, args, mutated)
    outside = record.category.traits.observed_outside
    timeout = record.fields.get("timeout_s") if outside else None
    data: dict[str, Any] = {
        "format": 1,
        "case": name,
        "kernel": record.case.kernel,
        "shape": list(shape),
        "dtype": dtype_name,
        "torch_dtype": _dtype_name(dtype),
        "entry": spec.kernel.name,
        "category": record.category.value,
        "message": record.message,
        "signature": record.signature,
        "fields": record.fields,
        "comparison": dataclasses.asdict(record.comparison) if record.comparison else None,
        "mode": str(record.mode),
        "target": profile,
        "stage": stage.value,
        "compile_level": _compile_level(record),
        "isolate": outside
        or (record.category is Category.COMPILER_CRASH and record.fields.get("stage") == "native"),
        "timeout_s": float(timeout) if isinstance(timeout, (int, float)) else None,
        "toolchain": record.toolchain,
        # The Python that wrote the file (it imported torch and helion to do so): the one the
        # file names when this Python lacks the toolchain.
        "interpreter": sys.executable,
        "command": record.repro or "",
        "nodeid": record.nodeid or "",
        "config": dict(config.config),
        "config_repr": record.config_repr or repr(config),
        "config_source": config_source,
        "args": _describe(args, record),
        "params": spec.parameter_names(),
        "mutated": {str(i): n for i, n in mutated.items()},
        "inputs": inputs.data,
        "reference": reference.data,
        "declared_outputs": declared,
        "default_slot": default,
        "mutated_slots": mutated_slots,
        "labelled": bool(spec.outputs or spec.mutates),
        "interpreter_sm_count": INTERPRETER_SM_COUNT,
    }
    # A run may happen under the interpreter (interpreter records, or --interpret): the file
    # carries the checker's interpreter fixes, the one module that makes them.
    semantics = _interpreter_source() if stage is Replay.RUN else ""
    text = render(data, code, inputs.payload, reference.payload, record, semantics)
    out = Path(out_path)
    out.write_text(text, encoding="utf-8")
    return out


def _inputs_form(
    stage: Replay, spec: KernelSpec, record: Record, real: tuple[Any, ...] | None, small: bool, seed: int
) -> _Embedded:
    if stage is Replay.COMPILE:
        return _Embedded({"form": InputsForm.LAYOUT.value, "reason": "a compile never reads values"})
    if real is not None and small:
        size = _nbytes(real)
        reason = f"{size} bytes, saved with torch.save"
        return _Embedded({"form": InputsForm.EMBEDDED.value, "reason": reason}, _saved(real))
    source = _self_contained(spec.make_inputs)
    if source is not None:
        reason = f"over {EMBED_LIMIT_BYTES} bytes: the spec's make_inputs, seeded as the checker seeds it"
        data = {"form": InputsForm.GENERATOR.value, "reason": reason, "seed": seed, "function": source[1]}
        return _Embedded(data, source[0])
    reason = f"over {EMBED_LIMIT_BYTES} bytes and make_inputs is not self-contained; layout only"
    return _Embedded({"form": InputsForm.LAYOUT.value, "reason": reason})


def _reference_form(
    stage: Replay,
    spec: KernelSpec,
    record: Record,
    inputs: _Embedded,
    real: tuple[Any, ...] | None,
    mutated: dict[int, str],
) -> _Embedded:
    base = {
        "dtype": _dtype_name(spec.reference_dtype),
        "device": spec.reference_device or "",
    }
    if stage is Replay.COMPILE:
        return _Embedded({**base, "form": ReferenceForm.NONE.value, "reason": "a compile has no outputs"})
    if record.category.traits.supervisor_made:
        reason = "the case never reached its comparison"
        return _Embedded({**base, "form": ReferenceForm.NONE.value, "reason": reason})
    if inputs.data["form"] == InputsForm.EMBEDDED.value and real is not None:
        try:
            expected = _reference_outputs(spec, real, mutated)
        except Exception as exc:
            reason = f"the reference raised when the file was written: {type(exc).__name__}: {exc}"
            return _Embedded({**base, "form": ReferenceForm.NONE.value, "reason": reason[:300]})
        size = _nbytes([*expected["returned"], *expected["mutated"].values()])
        if size <= EMBED_LIMIT_BYTES:
            reason = f"expected outputs computed by the spec's reference in {base['dtype']}, {size} bytes"
            return _Embedded(
                {**base, "form": ReferenceForm.EMBEDDED.value, "reason": reason}, _saved(expected)
            )
    source = _self_contained(spec.reference)
    if source is not None:
        reason = f"the spec's reference function, run on {base['dtype']} copies of the inputs"
        data = {**base, "form": ReferenceForm.SOURCE.value, "reason": reason, "function": source[1]}
        return _Embedded(data, source[0])
    reason = "the expected outputs are too large to embed and the reference is not self-contained"
    return _Embedded({**base, "form": ReferenceForm.NONE.value, "reason": reason})


def _text_literal(text: str, indent: str = "    ") -> str:
    """A Python expression equal to ``text``: one ``ascii()`` literal per line, joined."""
    if not text:
        return '""'
    lines = text.splitlines(keepends=True)
    body = "".join(f"{indent}{indent}{line!a},\n" for line in lines)
    return f'"".join(\n{indent}[\n{body}{indent}]\n)'


def _chunks(text: str, width: int = 100) -> str:
    if not text:
        return '""'
    body = "".join(f"        {text[i : i + width]!a},\n" for i in range(0, len(text), width))
    return f'"".join(\n    [\n{body}    ]\n)'


def classification() -> dict[str, Any]:
    """The checker's classification as a reproducer applies it (its ``CLASSIFICATION``), from
    the checker's own tables, so the two cannot drift apart:

    - ``rules``: ``[category, [exception type names], pattern or None]`` of every
      ``checker.diagnostics.RULES`` entry a reproducer can meet (``in_reproducer``), in order;
    - ``fallback``: the category of an exception no rule claims;
    - ``compared``, ``supervisor_made``: the categories with that trait (checker.categories.TRAITS);
    - ``crash_signals``: the signals that make a dead compile a ``compiler-crash``
      (checker/pool.py);
    - ``signature``: how the checker makes a failure's signature
      (``checker.diagnostics.signature_recipe``), so the file compares what it observed with the
      record by category and signature.
    """
    from checker import diagnostics
    from checker.pool import CRASH_SIGNALS

    return {
        "rules": [
            [rule.category.value, list(rule.types), rule.pattern.pattern if rule.pattern else None]
            for rule in diagnostics.RULES
            if rule.in_reproducer
        ],
        "fallback": Category.RUNTIME_ERROR.value,
        "compared": sorted(c.value for c in Category if c.traits.compared),
        "supervisor_made": sorted(c.value for c in Category if c.traits.supervisor_made),
        "crash_signals": sorted(s.name for s in CRASH_SIGNALS),
        "signature": diagnostics.signature_recipe(),
    }


def _interpreter_source() -> str:
    """The source of checker/interpreter.py, which a reproducer loads as a module of its own to
    run the case under the same interpreter semantics as the checker (bf16 arithmetic, bf16
    dots, 16-bit reductions, libdevice)."""
    from checker import interpreter

    return Path(interpreter.__file__).read_text(encoding="utf-8")


def _template_text() -> str:
    from checker.triage import repro_template

    return Path(repro_template.__file__).read_text(encoding="utf-8")


def render(
    data: dict[str, Any],
    code: str,
    inputs_payload: str,
    reference_payload: str,
    record: Record,
    interpreter_source: str = "",
) -> str:
    """The reproducer's text: a comment header, then the template with its data block filled.
    ``interpreter_source`` is checker/interpreter.py's text for files that run the case ('' for
    compiles).

    Every value from the record or the kernel goes through ``ascii()`` (header comments
    included), so none can end a literal or a comment line.

    Raises:
        ReproError: the template lost its data-block markers.
    """
    template = _template_text()
    start, end = template.find(_DATA_BEGIN), template.find(_DATA_END)
    if start < 0 or end < start:
        raise ReproError("checker/triage/repro_template.py has no data block markers")
    inputs_form, reference_form = data["inputs"]["form"], data["reference"]["form"]
    data_json = _text_literal(json.dumps(data, indent=1, sort_keys=True))
    rules_json = _text_literal(json.dumps(classification(), indent=1, sort_keys=True))
    block = "\n".join(
        [
            _DATA_BEGIN.rstrip("\n"),
            "# The checker's classification of outcomes, as this file applies it (JSON).",
            f"CLASSIFICATION: dict[str, Any] = json.loads(\n{rules_json}\n)",
            "# The record's fields, the case's arguments, tolerances and what the file embeds (JSON).",
            f"DATA: dict[str, Any] = json.loads(\n{data_json}\n)",
            "# The Triton code Helion generated for the record's config (what the checker compiled and ran).",
            f"GENERATED_CODE = {_text_literal(code)}",
            f"# Inputs: {inputs_form} (base64 of torch.save of the argument tuple when embedded).",
            f"INPUTS_B64 = {_chunks(inputs_payload if inputs_form == 'embedded' else '')}",
            "# Expected outputs when embedded: base64 of torch.save({'returned': [...], 'mutated': {...}}).",
            f"EXPECTED_B64 = {_chunks(reference_payload if reference_form == 'embedded' else '')}",
            "# The spec's make_inputs, when the inputs are regenerated rather than embedded.",
            f"MAKE_INPUTS_SOURCE = {_text_literal(inputs_payload if inputs_form == 'generator' else '')}",
            "# The spec's reference function, when the expected outputs are not embedded.",
            f"REFERENCE_SOURCE = {_text_literal(reference_payload if reference_form == 'source' else '')}",
            "# checker/interpreter.py: the checker's fixes of the Triton interpreter, for runs under it.",
            f"INTERPRETER_SOURCE = {_text_literal(interpreter_source)}",
            "",
        ]
    )
    header = [
        "#!/usr/bin/env python3",
        "# Standalone reproducer written by `kcheck repro` (docs/repro.md); needs torch, triton and helion,",
        "# not the checker. Exit status: 1 reproduced, 0 passed, 2 cannot run here, 3 failed differently.",
        f"# case:      {record.case.name!a}",
        f"# category:  {record.category.value!a} (mode {str(record.mode)!a}, stage {data['stage']!a})",
        f"# target:    {record.target!a}",
        f"# toolchain: {json.dumps(record.toolchain, sort_keys=True)!a}",
        f"# run with:  {sys.executable!a} (the Python that wrote this file)",
        f"# made by:   {record.repro or ''!a}",
        f"# inputs:    {inputs_form!a}; reference: {reference_form!a}",
        "",
    ]
    return "\n".join(header) + template[:start] + block + template[end:]
