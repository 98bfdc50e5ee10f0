"""tritonbench's result table (``tabulate`` "simple" layout) -> cells per implementation.

tritonbench prints one row per input (its ``x_val``, e.g. ``(256, 256, 256)``), one column per
implementation and metric headed ``<implementation>-<metric>``, and a final ``average`` row::

          (M, N, K)    aten_matmul-latency    helion_matmul-speedup
    ---------------  ---------------------  -----------------------
    (256, 256, 256)       0.0057 (±1.2%)                      1.23
    (512, 512, 512)             CUDA OOM                      1.10

The dashes under the header give each column's character span; rows are cut at those spans, so
an ``x_val`` with spaces in it stays one cell. A cell of an implementation that failed holds
tritonbench's error text (``CUDA OOM``, ``not supported``, or the exception's message) in its
first metric column and nothing in the others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Most columns kept per table: a forged rule line of thousands of dashes groups gives no more.
MAX_COLUMNS = 256

_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INT = re.compile(r"-?\d+")


@dataclass(frozen=True)
class Column:
    """One table column: its header, the implementation and metric it holds (both empty for the
    first, ``x_val`` column and for headers without a dash) and its character span."""

    header: str
    implementation: str
    metric: str
    start: int
    end: int


def columns(header: str, rule: str) -> tuple[Column, ...]:
    """The columns of a table from its header line and the dashes line under it."""
    spans = [(m.start(), m.end()) for m in re.finditer(r"-+", rule)][:MAX_COLUMNS]
    out: list[Column] = []
    for i, (start, end) in enumerate(spans):
        text = header[start:end].strip()
        implementation, metric = "", ""
        if i > 0 and "-" in text:
            implementation, _, metric = text.rpartition("-")
        out.append(Column(text, implementation, metric, start, end))
    return tuple(out)


def is_result_table(cols: tuple[Column, ...]) -> bool:
    """True when the header names implementations and metrics (tritonbench's table), not some
    other tabulate table (Helion's autotune metrics)."""
    return len(cols) > 1 and any(c.implementation for c in cols[1:])


def cells(row: str, cols: tuple[Column, ...]) -> list[str]:
    """The stripped text of each column's span in ``row``; the last column takes the rest of the
    line (a long error message may overflow its span)."""
    out = []
    for i, col in enumerate(cols):
        end = None if i == len(cols) - 1 else cols[i + 1].start
        out.append(row[col.start : end].strip())
    return out


def cell_value(text: str) -> float | bool | None:
    """A cell as a number (``0.0057 (±1.2%)`` -> 0.0057: the variance is dropped) or a boolean
    (``True``/``False``, the accuracy metric); None for an empty cell or text."""
    if text in ("True", "False"):
        return text == "True"
    m = _NUMBER.match(text)
    if m is None:
        return None
    rest = text[m.end() :].strip()
    if rest and not rest.startswith("("):
        return None
    return float(m.group())


def shape_of(x_val: str) -> tuple[int, ...]:
    """The integers of an ``x_val`` such as ``(256, 256, 256)`` or ``4096``, in order; empty
    when the ``x_val`` has none or is not only numbers and punctuation (a name, say)."""
    if re.search(r"[A-Za-z]", x_val):
        return ()
    return tuple(int(v) for v in _INT.findall(x_val)[:16])
