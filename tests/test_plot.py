"""Speedup tables and PNG plots of timing records (checker/perf/plot.py, ``kcheck plot``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from test_perf import timing

from checker.cli import main
from checker.perf import plot
from checker.perf import records as perf_records
from checker.perf.records import Role, TimingRecord
from checker.perf.table import markdown_table, text_table

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def suite() -> list[TimingRecord]:
    out = []
    for kernel, shapes in (("softmax", [(4096, 2048), (1024, 4096)]), ("matmul", [(1024, 1024, 1024)])):
        for shape in shapes:
            for dtype in ("fp16", "bf16"):
                base = dict(kernel=kernel, shape=shape, dtype=dtype)
                flops = 2 * 1024**3 if kernel == "matmul" else 0
                ceil = {"copy_gbps": 4000.0, "matmul_tflops": 700.0}
                out += [
                    dataclasses.replace(timing(0.05, impl="default", **base), flops=flops, ceilings=ceil),
                    dataclasses.replace(
                        timing(0.04, impl="cfg1", role=Role.SAMPLED, **base), flops=flops, ceilings=ceil
                    ),
                    dataclasses.replace(
                        timing(0.08, impl="torch-eager", role=Role.EAGER, **base), flops=flops, ceilings=ceil
                    ),
                    dataclasses.replace(
                        timing(0.06, impl="torch-compile", role=Role.COMPILED, **base),
                        flops=flops,
                        ceilings=ceil,
                    ),
                ]
    return out


def _valid_png(path: Path) -> tuple[int, ...]:
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG_MAGIC
    return tuple(matplotlib.image.imread(path).shape)


def test_plots_are_valid_pngs(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    written = plot.write_plots(suite(), tmp_path)
    assert [p.name for p in written] == [plot.SPEEDUP_PNG, plot.ROOFLINE_PNG]
    for path in written:
        height, width, _channels = _valid_png(path)
        assert width >= 500 and height >= 300


def test_nothing_to_plot_writes_nothing(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    only_kernels = [r for r in suite() if r.role in (Role.NAMED, Role.SAMPLED)]
    no_ceilings = [dataclasses.replace(r, ceilings={}) for r in only_kernels]
    assert plot.speedup_plot(only_kernels, tmp_path / "s.png") is None
    assert plot.roofline_plot(no_ceilings, tmp_path / "r.png") is None
    assert not list(tmp_path.iterdir())


def test_speedup_table_rows() -> None:
    table = markdown_table(suite())
    lines = table.splitlines()
    assert lines[0].startswith("| kernel | shape | dtype | config | ms | GB/s |")
    row = next(line for line in lines if "`cfg1*`" in line and "`matmul`" in line and "`fp16`" in line)
    # 0.04 ms vs eager 0.08 ms and torch.compile 0.06 ms
    assert "| 0.0800 | 2.00 | 0.0600 | 1.50 |" in row
    assert "Measured ceilings: copy 4000 GB/s; matmul TFLOP/s: bf16 700, fp16 700." in table
    assert "cfg1*" in text_table(suite())


def test_kcheck_plot_command(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    results = tmp_path / "results.jsonl"
    perf_records.write(results, suite())
    assert main(["plot", str(results), "-o", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "speedup.md").is_file()
    _valid_png(tmp_path / "out" / plot.SPEEDUP_PNG)
    _valid_png(tmp_path / "out" / plot.ROOFLINE_PNG)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["plot", str(empty), "-o", str(tmp_path / "none")]) == 2


def test_plot_without_matplotlib_still_writes_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plot, "available", lambda: False)
    results = tmp_path / "timings.jsonl"
    perf_records.write(results, suite())
    assert main(["plot", str(results), "-o", str(tmp_path / "out")]) == 2
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["speedup.md"]
