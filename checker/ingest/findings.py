"""What each outcome the log parser reads becomes: one :class:`Finding`, with the run's context.

The parser (checker/ingest/parser.py) decides what a line means and when a block is complete;
the functions here build the finding of a complete one: its category, kernel, case config,
message, signature and fields (docs/ingest-log.md lists them). They change no parser state; the
context (checker/ingest/context.py) says where the run was.
"""

from __future__ import annotations

from typing import Any

from checker import diagnostics
from checker.categories import Category
from checker.ingest import tables
from checker.ingest.configs import find_config_call, parse_config
from checker.ingest.context import MAX_NAMES, RunContext, clean_name
from checker.ingest.events import Finding, NotRunReason, Role, role_of
from checker.ingest.tracebacks import TracebackBlock, diagnose, innermost_frame


def compile_timeout(ctx: RunContext, n: int, v: dict[str, str], text: str) -> Finding:
    """Helion's "compile timeout" line ``text`` at line ``n`` (``v``: its config and seconds)."""
    config_repr = v["config"]
    seconds = float(v["seconds"])
    impl = ctx.implementation
    fields = {
        **ctx.fields(n),
        **ctx.implementation_fields(impl),
        "seconds": int(seconds) if seconds.is_integer() else seconds,
        "sigkill_required": "sigkill" in v,
    }
    fields.pop("config_context", None)  # the record's own config is the one that timed out
    return Finding(
        Category.COMPILE_TIMEOUT,
        impl or ctx.operator or "unknown",
        ctx.case_config(config_repr),
        n,
        text.strip(),
        diagnostics.signature(Category.COMPILE_TIMEOUT, "compile timeout"),
        fields,
        config=parse_config(config_repr),
        config_repr=config_repr,
    )


def accuracy_failed(ctx: RunContext, n: int, decorator: str) -> Finding:
    """tritonbench's accuracy check failure for the Helion config in ``decorator``."""
    impl = ctx.implementation
    config_repr = find_config_call(decorator)
    fields = {**ctx.fields(n), **ctx.implementation_fields(impl), "check": "tritonbench accuracy"}
    fields.pop("config_context", None)
    return Finding(
        Category.NUMERICAL_MISMATCH,
        impl or ctx.operator or "unknown",
        ctx.case_config(config_repr),
        n,
        f"TritonBench accuracy check failed with Helion kernel config: {decorator}",
        diagnostics.signature(Category.NUMERICAL_MISMATCH, "tritonbench accuracy check failed"),
        fields,
        config=parse_config(config_repr) if config_repr else None,
        config_repr=config_repr,
    )


def compile_failed(ctx: RunContext, n: int, config_repr: str | None, error: list[str]) -> Finding:
    """Helion's "Triton compile failed" block starting at line ``n``: its ``Config:`` and the
    lines of its ``Error:``, diagnosed like a traceback (a plain runtime error is a Triton
    ``compiler-crash``)."""
    error = error or ["unknown error"]
    tb = TracebackBlock(start_line=n)
    tb.set_exception(error[0])
    for line in error[1:]:
        tb.add_message(line)
    d = diagnose([tb])
    category, fields = d.category, dict(d.fields)
    if category is Category.RUNTIME_ERROR:
        category, fields["stage"] = Category.COMPILER_CRASH, "triton"
    impl = ctx.implementation
    return Finding(
        category,
        impl or ctx.operator or "unknown",
        ctx.case_config(config_repr),
        n,
        "Triton compile failed (Helion autotuner skipped the config)\n" + d.message,
        diagnostics.signature(category, d.message.splitlines()[0] if d.message else ""),
        {**ctx.fields(n), **ctx.implementation_fields(impl), **fields},
        config=parse_config(config_repr) if config_repr else None,
        config_repr=config_repr,
    )


def exception_chain(
    ctx: RunContext, chain: list[TracebackBlock], d: diagnostics.Diagnosis, impl: str, kernel: str
) -> Finding:
    """A logged exception chain (innermost first), diagnosed as ``d``, raised by ``impl``."""
    n = chain[0].start_line
    fields = {**ctx.fields(n), **ctx.implementation_fields(impl), **d.fields}
    if role_of(impl) is Role.UNKNOWN and innermost_frame(chain, "helion") is not None:
        fields["role"] = Role.HELION.value
    inner = innermost_frame(chain)
    if inner is not None:
        fields["innermost_frame"] = inner.short
    helion = innermost_frame(chain, "helion")
    if helion is not None:
        fields["helion_frame"] = helion.short
    return Finding(d.category, kernel, ctx.case_config(), n, d.message, d.signature, fields)


def interrupted(ctx: RunContext, chain: list[TracebackBlock]) -> Finding:
    """A KeyboardInterrupt chain: the run was stopped while the current implementation ran."""
    n = chain[-1].start_line
    impl = ctx.implementation
    kernel = impl or ctx.operator or "unknown"
    fields = {
        **ctx.fields(n),
        **ctx.implementation_fields(impl),
        "reason": NotRunReason.INTERRUPTED.value,
        "exception": "KeyboardInterrupt",
    }
    where = ""
    inner = innermost_frame(chain)
    if inner is not None:
        fields["innermost_frame"] = inner.short
        where = f" in {inner.short}"
    helion = innermost_frame(chain, "helion")
    if helion is not None:
        fields["helion_frame"] = helion.short
        where += f" (Helion: {helion.short})"
    index = ctx.input_index
    on_input = f" on input {index}" if index is not None else ""
    return Finding(
        Category.NOT_RUN,
        kernel,
        ctx.case_config(),
        n,
        f"run interrupted (KeyboardInterrupt) while {kernel} ran{on_input}{where}",
        diagnostics.signature(Category.NOT_RUN, "ingested interrupted"),
        fields,
    )


def process_died(ctx: RunContext, n: int, what: str) -> Finding:
    """A shell's report that the benchmark process died (``what``: "Segmentation fault"...)."""
    impl = ctx.implementation
    kernel = impl or ctx.operator or "unknown"
    fields = {**ctx.fields(n), **ctx.implementation_fields(impl), "signal": what}
    finding = Finding(
        Category.WORKER_DIED,
        kernel,
        ctx.case_config(),
        n,
        f"the benchmark process died: {what}",
        diagnostics.signature(Category.WORKER_DIED, f"process died {what}"),
        fields,
    )
    return finding


def inputs_not_completed(
    ctx: RunContext, reason: NotRunReason, cause: str, cause_signature: str | None, n: int
) -> Finding | None:
    """The shard's inputs from the one running now to its last, which did not complete; None
    when none is left (or the log never said how many there are)."""
    size = ctx.shard.size if ctx.shard is not None else ctx.progress_total
    done = ctx.done or 0
    if size is None or done >= size:
        return None
    first = (ctx.shard.first if ctx.shard is not None else 0) + done
    last = (ctx.shard.first if ctx.shard is not None else 0) + size - 1
    fields = {
        **ctx.fields(n),
        "reason": reason.value,
        "cause": cause,
        "inputs_not_completed": [first, last],
        "inputs_not_completed_count": last - first + 1,
        "implementations": list(ctx.implementations),
    }
    if cause_signature is not None:
        fields["cause_signature"] = cause_signature
    fields.pop("input_index", None)
    kernel = ctx.operator or "unknown"
    return Finding(
        Category.NOT_RUN,
        kernel,
        f"inputs{first}-{last}",
        n,
        f"{kernel}: inputs {first} to {last} of shard {fields.get('shard', '?')} did not "
        f"complete ({reason.value}: {cause})",
        diagnostics.signature(Category.NOT_RUN, f"ingested {reason.value} inputs"),
        fields,
    )


def never_started(ctx: RunContext, n: int) -> list[Finding]:
    """At the end of a run (line ``n``): one finding per kernel it announced and never started
    (by name when the announcement listed them, else numbered)."""
    out: list[Finding] = []
    planned = ctx.kernels_planned
    if planned is not None:
        started = ctx.kernels_started
        if ctx.kernels_named is not None:
            missing = [(k, True) for k in ctx.kernels_named if k not in started]
        else:
            missing = [
                (f"unnamed-kernel-{i}-of-{planned}", False) for i in range(len(started) + 1, planned + 1)
            ]
        for name, known in missing[:MAX_NAMES]:
            fields: dict[str, Any] = {
                "log_file": ctx.log_name,
                "log_line": n,
                "reason": NotRunReason.NEVER_STARTED.value,
                "kernels_planned": planned,
                "kernels_started": list(started),
                "name_known": known,
            }
            if ctx.stop_reason is not None:
                fields["run_stopped"] = ctx.stop_reason.value
            stopped = f" (the run stopped: {ctx.stop_reason.value})" if ctx.stop_reason else ""
            out.append(
                Finding(
                    Category.NOT_RUN,
                    name,
                    "run",
                    n,
                    f"{name} never started: the run announced {planned} kernels and started "
                    f"{len(started)}{stopped}",
                    diagnostics.signature(Category.NOT_RUN, "ingested never started"),
                    fields,
                )
            )
    return out


def table_row(
    ctx: RunContext, n: int, text: str, columns: tuple[tables.Column, ...], table_line: int
) -> list[Finding]:
    """One row of a result table (header at line ``table_line``): a finding per implementation
    with metrics or an error cell; none for the ``average`` row."""
    values = tables.cells(text, columns)
    x_val = values[0]
    if x_val == "average" or not x_val:
        return []
    groups: dict[str, list[tuple[str, str]]] = {}
    for col, cell in zip(columns[1:], values[1:], strict=False):
        if col.implementation:
            groups.setdefault(col.implementation, []).append((col.metric, cell))
    shape = tables.shape_of(x_val)
    label = "table" if shape else "x" + clean_name(x_val)[:60]
    out = []
    for impl_raw, items in groups.items():
        impl = clean_name(impl_raw)
        metrics: dict[str, float | bool] = {}
        for metric, cell in items:
            value = tables.cell_value(cell)
            if value is not None:
                metrics[metric] = value
        fields = {
            **ctx.fields(n),
            **ctx.implementation_fields(impl),
            "x_val": x_val,
            "table_line": table_line,
        }
        fields.pop("input_index", None)  # the row names its input by x_val
        fields.pop("inputs_done_in_shard", None)
        error = items[0][1]
        if not metrics and error:
            out.append(_error_cell(impl, label, shape, n, error, fields))
            continue
        if not metrics:
            continue
        fields["metrics"] = metrics
        accuracy = metrics.get("accuracy")
        failed = accuracy is False or (accuracy is not True and accuracy == 0.0)
        category = Category.NUMERICAL_MISMATCH if failed else Category.PASSED
        message = f"accuracy check failed for x_val {x_val}" if failed else ""
        sig = diagnostics.signature(category, "tritonbench accuracy check failed") if failed else None
        out.append(Finding(category, impl, label, n, message, sig, fields, shape=shape))
    return out


def _error_cell(
    impl: str, label: str, shape: tuple[int, ...], n: int, error: str, fields: dict[str, Any]
) -> Finding:
    if error == "CUDA OOM":
        category = Category.CUDA_OOM
    elif error == "not supported":
        category = Category.NOT_RUN
        fields["reason"] = NotRunReason.NOT_SUPPORTED.value
    else:
        category = Category.RUNTIME_ERROR
    fields["cell"] = error
    message = f"{impl} on x_val {fields['x_val']}: {error}"
    return Finding(
        category, impl, label, n, message, diagnostics.signature(category, error), fields, shape=shape
    )
