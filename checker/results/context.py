"""What a run shows besides its failures: the cases that did not run and why, and tritonbench's
result tables (docs/triage.md).

Both are read from records only, so they work for kcheck's own runs and for benchmark logs read
by ``kcheck ingest-log`` (docs/ingest-log.md) alike:

- :func:`not_run_groups`: ``not-run`` records that are not lost (a lost case is a failure and is
  already in a failure group), grouped by ``fields.reason`` (``interrupted``, ``aborted``,
  ``never-started``, ``no GPU``...), each case with a one-line summary of its fields.
- :func:`result_tables`: the rows of tritonbench's result tables (records with
  ``fields.x_val``) as one table per operator: rows the inputs, columns the implementations.

Nothing here judges: a not-run case is a gap in the evidence, a table cell a measurement.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from checker.categories import Category
from checker.escape import clean
from checker.model import Record

#: Reasons whose cases are only counted, not listed: kcheck's full shapes on a CPU-only machine
#: are compiled, not run, by design (checker/execute.py); listing hundreds of them would bury the
#: interruptions that do need a reader.
COUNTED_ONLY: frozenset[str] = frozenset({"no GPU"})

#: ``fields.reason`` shown for a ``not-run`` record that has none.
NO_REASON = "no reason given"

#: Characters of one field value in a summary line (record text can be arbitrarily long).
MAX_VALUE_CHARS = 120


# --- not run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NotRunGroup:
    """The ``not-run`` records of one reason, in file order. ``listed`` is False for the reasons
    of :data:`COUNTED_ONLY`, which renderers only count."""

    reason: str
    records: tuple[Record, ...]
    listed: bool = True

    @property
    def cases(self) -> int:
        """Records in the group (one per case: a run's records are merged per case)."""
        return len(self.records)


def not_run_groups(records: Iterable[Record]) -> tuple[NotRunGroup, ...]:
    """The ``not-run`` records of one run that are not lost, grouped by ``fields.reason``
    (:data:`NO_REASON` when missing). Listed reasons first, largest first, ties by reason; the
    counted-only reasons (:data:`COUNTED_ONLY`) last."""
    buckets: dict[str, list[Record]] = {}
    for rec in records:
        # Lost cases fail the run (Record.failed) and are triaged as failures already.
        if rec.category is not Category.NOT_RUN or rec.lost:
            continue
        reason = rec.fields.get("reason")
        key = str(reason) if reason not in (None, "") else NO_REASON
        buckets.setdefault(key, []).append(rec)
    groups = [NotRunGroup(r, tuple(recs), r not in COUNTED_ONLY) for r, recs in buckets.items()]
    groups.sort(key=lambda g: (not g.listed, -g.cases, g.reason))
    return tuple(groups)


def first_line(text: str) -> str:
    """The first non-blank line of ``text``, stripped ('' for none)."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def not_run_facts(rec: Record) -> str:
    """One line of what a ``not-run`` record's fields say (docs/ingest-log.md): shard, inputs,
    the input's ``x_val``, where an interruption cut the run off, the cause, which kernels a run
    announced and started; '' when the record carries none of them (kcheck's own records: their
    message says it)."""
    f = rec.fields
    parts: list[str] = []
    if f.get("shard") is not None:
        parts.append(f"shard {_short(f['shard'])}")
    pending = f.get("inputs_not_completed")
    if isinstance(pending, list | tuple) and len(pending) == 2:
        first, last = pending
        parts.append(
            f"input {first} not completed" if first == last else f"inputs {first}-{last} not completed"
        )
    elif f.get("input_index") is not None:
        parts.append(f"input {_short(f['input_index'])}")
    if f.get("x_val") is not None:
        parts.append(f"x_val {_short(f['x_val'])}")
    where = f.get("innermost_frame")
    helion = f.get("helion_frame")
    if where or helion:
        # The innermost frame is where the signal landed, often in a library; Helion's own frame
        # says which compiler step was running, the one a reader can act on.
        # "cut off" for an interruption: the frame is where the run stopped, not a failure.
        verb = "cut off at" if rec.fields.get("reason") == "interrupted" else "at"
        at = f"{verb} {_short(where)}" if where else ""
        if helion and helion != where:
            at = f"{at} (Helion: {_short(helion)})" if at else f"{verb} {_short(helion)} (Helion)"
        parts.append(at)
    if f.get("cause"):
        parts.append(f"cause: {_short(f['cause'])}")
    planned = f.get("kernels_planned")
    started = f.get("kernels_started")
    if planned is not None or isinstance(started, list):
        started_names = ", ".join(_short(s) for s in started) if isinstance(started, list) else ""
        parts.append(
            (f"run announced {_short(planned)} kernels" if planned is not None else "run")
            + (f", started {started_names}" if started_names else ", started none")
        )
    if f.get("run_stopped"):
        parts.append(f"run stopped: {_short(f['run_stopped'])}")
    return "; ".join(parts)


def _short(value: Any) -> str:
    # Record text: ANSI escapes and control characters removed, bidi overrides made visible, so
    # a value cannot recolor or reorder the terminal line it is shown in.
    text = " ".join(clean(str(value), limit=4 * MAX_VALUE_CHARS).split())
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


# --- result tables ----------------------------------------------------------------------------

#: Metrics a cell shows, in order of preference: tritonbench's headline metric is the speedup
#: over its baseline; a baseline column has only a latency. tritonbench reports latency in
#: milliseconds (its ``Latency`` metric); the table text itself carries no unit.
SPEEDUP = "speedup"
LATENCY = "latency"
ACCURACY = "accuracy"


@dataclass(frozen=True)
class TableCell:
    """One implementation on one input: its record, and the text a table shows for it."""

    record: Record

    @property
    def metrics(self) -> Mapping[str, Any]:
        """``fields.metrics`` (empty for a failed cell)."""
        metrics = self.record.fields.get("metrics")
        return metrics if isinstance(metrics, dict) else {}

    @property
    def inaccurate(self) -> bool:
        """tritonbench's accuracy check said False for this cell."""
        return self.metrics.get(ACCURACY) is False

    @property
    def text(self) -> str:
        """``1.31x`` (speedup), else ``0.0123 ms`` (latency), else another metric
        (``tflops 312``), else the record's category (``cuda-oom``) or, for a not-run cell, its
        reason (``not supported``)."""
        metrics = self.metrics
        speedup = _number(metrics.get(SPEEDUP))
        if speedup is not None:
            return f"{speedup:.2f}x"
        latency = _number(metrics.get(LATENCY))
        if latency is not None:
            return f"{latency:.4g} ms"
        for name, value in metrics.items():
            number = _number(value)
            if name != ACCURACY and number is not None:
                return f"{_short(name)} {number:.4g}"
        rec = self.record
        if rec.category is Category.NOT_RUN and rec.fields.get("reason"):
            return _short(rec.fields["reason"])
        if rec.category is Category.PASSED:
            # A passing cell with no usable metric (e.g. only an accuracy column).
            return "passed"
        return rec.category.value


def _number(value: Any) -> float | None:
    # bool is an int subclass: True is not a speedup of 1.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class ResultTable:
    """tritonbench's results for one operator: ``rows`` (x_val) in first-seen order,
    ``implementations`` in first-seen order, ``cells[i][j]`` the cell of row i and implementation
    j (None when that implementation has no result for that input)."""

    operator: str
    rows: tuple[str, ...]
    implementations: tuple[str, ...]
    cells: tuple[tuple[TableCell | None, ...], ...]

    def cell(self, x_val: str, implementation: str) -> TableCell | None:
        """The cell of one input and implementation (None when there is none)."""
        if x_val not in self.rows or implementation not in self.implementations:
            return None
        return self.cells[self.rows.index(x_val)][self.implementations.index(implementation)]

    @property
    def inaccurate(self) -> int:
        """Cells whose accuracy check failed."""
        return sum(1 for row in self.cells for c in row if c is not None and c.inaccurate)


def is_table_cell(rec: Record) -> bool:
    """A record read from a row of tritonbench's result table: it carries ``fields.x_val``."""
    return rec.fields.get("x_val") is not None


def result_tables(records: Iterable[Record]) -> tuple[ResultTable, ...]:
    """One :class:`ResultTable` per operator (``fields.operator``, '' when missing), operators
    in first-seen order. The implementation is ``fields.implementation``, else the case's kernel
    (the ingester names the case after it). A second record for the same input and
    implementation replaces the first (a later table in a log concatenated from two runs)."""
    found: dict[str, dict[tuple[str, str], Record]] = {}
    for rec in records:
        if not is_table_cell(rec):
            continue
        operator = str(rec.fields.get("operator") or "")
        implementation = str(rec.fields.get("implementation") or rec.case.kernel)
        found.setdefault(operator, {})[(str(rec.fields["x_val"]), implementation)] = rec
    return tuple(_table(op, cells) for op, cells in found.items())


def _table(operator: str, found: Mapping[tuple[str, str], Record]) -> ResultTable:
    # dict keys keep insertion order, but a replaced cell keeps its first position: first-seen.
    rows = tuple(dict.fromkeys(x for x, _ in found))
    implementations = tuple(dict.fromkeys(i for _, i in found))
    cells = tuple(
        tuple(TableCell(found[(x, i)]) if (x, i) in found else None for i in implementations) for x in rows
    )
    return ResultTable(operator, rows, implementations, cells)


def reason_counts(groups: Sequence[NotRunGroup]) -> str:
    """``interrupted 2, aborted 1``: cases per reason, in the groups' order."""
    return ", ".join(f"{g.reason} {g.cases}" for g in groups)
