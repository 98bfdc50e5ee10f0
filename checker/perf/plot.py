"""PNG plots of timing records with matplotlib's Agg backend (docs/perf.md#plots).

- ``speedup.png``: per kernel, the speedup of its fastest timed config over the PyTorch
  reference (eager and ``torch.compile``) at each shape and dtype; 1.0 is parity.
- ``roofline.png``: per kernel, the percent of the roofline (the measured copy bandwidth and
  matmul throughput, :attr:`checker.perf.records.TimingRecord.pct_of_roofline`) that its fastest
  config and the eager reference reach at each shape and dtype.

matplotlib is imported only here, and only when a plot is made, so that timing and comparison
work where it is not installed; :func:`available` says whether it is. Figures are built with
matplotlib's object API (``Figure``), never ``pyplot``'s global state, so plotting is safe in any
process.

Kernel names, dtypes and shapes come from records (a pull request's own run can write them), so
every text drawn is plain text (:func:`_plain`): matplotlib would parse ``$...$`` as mathtext
(``$\\frac{1}{$`` ended ``kcheck plot`` in a ParseSyntaxException) or hand it to LaTeX with
``text.usetex``. Each Text gets ``parse_math=False`` and ``usetex=False``, and ``$`` is escaped
as well where a matplotlib without ``parse_math`` (before 3.5) draws it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from checker.perf.records import KERNEL_ROLES, Role, TimingRecord
from checker.perf.table import references

SPEEDUP_PNG = "speedup.png"
ROOFLINE_PNG = "roofline.png"
#: Most kernels plotted (one panel each).
MAX_KERNELS = 24
#: Longest text drawn (a kernel name in a title, a tick label), characters.
MAX_TEXT = 80


def available() -> bool:
    """Whether matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _plain_props() -> dict[str, Any]:
    """Text properties that draw a string as it is (no mathtext, no TeX), as far as this
    matplotlib supports them."""
    from matplotlib.text import Text

    props: dict[str, Any] = {"usetex": False}
    if hasattr(Text, "set_parse_math"):
        props["parse_math"] = False
    return props


def _plain(text: str) -> str:
    """``text`` cut to :data:`MAX_TEXT` and made inert for matplotlib: control characters
    (newlines included) become spaces; where ``parse_math`` is unknown, ``$`` is escaped."""
    text = "".join(" " if not ch.isprintable() else ch for ch in text)
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    if "parse_math" not in _plain_props():
        text = text.replace("$", r"\$")
    return text


def _figure(panels: int) -> tuple[Any, list[Any]]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    cols = min(3, panels)
    rows = math.ceil(panels / cols)
    fig = Figure(figsize=(5.5 * cols, 3.6 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    flat = [a for row in axes for a in row]
    for extra in flat[panels:]:
        extra.set_visible(False)
    return fig, flat[:panels]


def _best(records: Sequence[TimingRecord]) -> dict[str, dict[tuple[tuple[int, ...], str], TimingRecord]]:
    out: dict[str, dict[tuple[tuple[int, ...], str], TimingRecord]] = {}
    for rec in records:
        if rec.role in KERNEL_ROLES:
            slot = out.setdefault(rec.kernel, {})
            key = (rec.shape, rec.dtype)
            if key not in slot or rec.median_ms < slot[key].median_ms:
                slot[key] = rec
    return dict(sorted(out.items())[:MAX_KERNELS])


def _label(key: tuple[tuple[int, ...], str]) -> str:
    return f"{_plain('x'.join(map(str, key[0])))}\n{_plain(key[1])}"


def _bars(ax: Any, labels: list[str], series: list[tuple[str, list[float]]]) -> None:
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series):
        xs = [x + (i - (len(series) - 1) / 2) * width for x in range(len(labels))]
        ax.bar(xs, values, width, label=name)
    plain = _plain_props()
    ax.set_xticks(range(len(labels)), labels, fontsize=7, **plain)
    legend = ax.legend(fontsize=7)
    for text in legend.get_texts():
        text.update(plain)


def _title(ax: Any, text: str) -> None:
    ax.set_title(text, fontsize=9, **_plain_props())


def speedup_plot(records: Sequence[TimingRecord], path: Path) -> Path | None:
    """Write the speedup plot to ``path`` (PNG); None when no kernel has a reference timing."""
    best, refs = _best(records), references(records)
    panels = [(k, groups) for k, groups in best.items() if any((k, *g) in refs for g in groups)]
    if not panels:
        return None
    fig, axes = _figure(len(panels))
    for ax, (kernel, groups) in zip(axes, panels, strict=True):
        keys = sorted(groups)
        series = []
        for role, name in ((Role.EAGER, "vs torch eager"), (Role.COMPILED, "vs torch.compile")):
            values = []
            for key in keys:
                ref = refs.get((kernel, *key), {}).get(role)
                values.append(ref.median_ms / groups[key].median_ms if ref else math.nan)
            if any(not math.isnan(v) for v in values):
                series.append((name, values))
        _bars(ax, [_label(k) for k in keys], series)
        ax.axhline(1.0, color="black", linewidth=0.8)
        _title(ax, f"{_plain(kernel)}: fastest config")
        ax.set_ylabel("speedup (x)")
    fig.suptitle("Kernel speedup over the PyTorch reference (higher is better)", fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100)
    return path


def roofline_plot(records: Sequence[TimingRecord], path: Path) -> Path | None:
    """Write the percent-of-roofline plot to ``path`` (PNG); None when no record has one."""
    best, refs = _best(records), references(records)
    panels = [(k, g) for k, g in best.items() if any(r.pct_of_roofline is not None for r in g.values())]
    if not panels:
        return None
    fig, axes = _figure(len(panels))
    for ax, (kernel, groups) in zip(axes, panels, strict=True):
        keys = sorted(groups)
        kernel_pct = [groups[k].pct_of_roofline or math.nan for k in keys]
        eager = [refs.get((kernel, *k), {}).get(Role.EAGER) for k in keys]
        series = [("kernel (fastest config)", kernel_pct)]
        if any(e is not None for e in eager):
            series.append(
                ("torch eager", [(e.pct_of_roofline or math.nan) if e else math.nan for e in eager])
            )
        _bars(ax, [_label(k) for k in keys], series)
        ax.axhline(100.0, color="black", linewidth=0.8)
        _title(ax, _plain(kernel))
        ax.set_ylabel("% of roofline")
    fig.suptitle("Percent of the measured roofline (copy bandwidth, matmul throughput)", fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=100)
    return path


def write_plots(records: Sequence[TimingRecord], out_dir: Path) -> list[Path]:
    """Both plots into ``out_dir``; the paths written (a plot with nothing to show is skipped).

    Raises:
        ImportError: matplotlib is not installed (check :func:`available` first).
    """
    written = [
        speedup_plot(records, out_dir / SPEEDUP_PNG),
        roofline_plot(records, out_dir / ROOFLINE_PNG),
    ]
    return [p for p in written if p is not None]
