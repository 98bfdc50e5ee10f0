"""Benchmark-log result tables as timing baselines (docs/perf.md#baselines-from-benchmark-logs).

``kcheck ingest-log`` turns each cell of tritonbench's result table into a ``passed`` record with
``fields.metrics`` (``latency`` in ms, ``speedup``, ``accuracy``), ``fields.operator``,
``fields.implementation`` and ``fields.role`` (``helion`` or ``baseline``), one per row and
implementation (docs/ingest-log.md). :func:`timings_of` makes them timing records:

- ``kernel`` is the operator (``rms_norm``: the kcheck spec of the same name is compared with it),
  ``shape`` the row's ``x_val`` integers, ``dtype`` the one given (logs do not say; ``unknown``
  matches a run's key when only one dtype of the run has it);
- a Helion implementation becomes ``impl`` ``best`` (Helion's autotuned config, compared with the
  run's fastest config); a baseline keeps its tritonbench name;
- ``median_ms`` is the cell's latency; a cell with only ``speedup`` gets the row's baseline
  latency divided by it (tritonbench's speedup is baseline latency / implementation latency),
  when the row has exactly one baseline latency. Failed cells (accuracy False, OOM) are no
  baseline.
"""

from __future__ import annotations

from collections.abc import Iterable

from checker.categories import Category
from checker.model import Record
from checker.perf.records import BEST, Role, TimingRecord


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        return None
    return float(value)


def timings_of(records: Iterable[Record], dtype: str = "unknown") -> list[TimingRecord]:
    """Timing records of the ingested table records among ``records`` (others are ignored)."""
    cells = [
        r
        for r in records
        if r.category is Category.PASSED and isinstance(r.fields.get("metrics"), dict) and r.case.shape
    ]
    rows: dict[tuple[object, object], list[Record]] = {}
    for rec in cells:
        rows.setdefault((rec.fields.get("log_file"), rec.fields.get("log_line")), []).append(rec)
    out: list[TimingRecord] = []
    for row in rows.values():
        base = [
            lat
            for r in row
            if r.fields.get("role") == "baseline" and (lat := _number(r.fields["metrics"].get("latency")))
        ]
        for rec in row:
            metrics = rec.fields["metrics"]
            latency = _number(metrics.get("latency"))
            speedup = _number(metrics.get("speedup"))
            if latency is None and speedup is not None and len(base) == 1:
                latency = base[0] / speedup
            if latency is None:
                continue
            helion = rec.fields.get("role") == "helion"
            implementation = str(rec.fields.get("implementation") or rec.case.kernel)
            out.append(
                TimingRecord(
                    kernel=str(rec.fields.get("operator") or rec.case.kernel),
                    shape=rec.case.shape,
                    dtype=dtype,
                    impl=BEST if helion else implementation,
                    role=Role.INGESTED,
                    median_ms=latency,
                    target=rec.target,
                    toolchain=dict(rec.toolchain),
                    source=f"{rec.fields.get('log_file')}:{rec.fields.get('log_line')} {implementation}",
                )
            )
    return out
