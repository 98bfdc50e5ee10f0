"""``--isolate off``: a case that calls ``os._exit`` in the pytest process (issue 23).

Before, ``kcheck run --isolate off -n 0`` over five cases whose third reference calls
``os._exit(0)`` exited 0 with two records and no junit.xml: a green run with cases missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from invariant import check_run

from checker.categories import Category

ROOT = Path(__file__).resolve().parents[1]

KERNELS = textwrap.dedent(
    """
    import os

    import helion
    import helion.language as hl
    import torch

    from checker.spec import KernelSpec


    @helion.kernel(static_shapes=True)
    def add_one(x: torch.Tensor) -> torch.Tensor:
        out = torch.empty_like(x)
        for tile in hl.tile(x.size(0)):
            out[tile] = x[tile] + 1.0
        return out


    def inputs(shape, dtype, gen):
        return (torch.randn(*shape, generator=gen).to(dtype),)


    def leaves(x):
        os._exit(0)


    def spec(name, reference):
        return KernelSpec(
            name=name,
            kernel=add_one,
            reference=reference,
            make_inputs=inputs,
            shapes=[(1 << 16,)],
            small_shapes=[(256,)],
            dtypes=[torch.float32],
            configs={"small": helion.Config(block_sizes=[64], num_warps=2)},
        )


    SPECS = [
        spec("first", lambda x: x + 1.0),
        spec("second", lambda x: x + 1.0),
        spec("exits", leaves),
        spec("fourth", lambda x: x + 1.0),
        spec("fifth", lambda x: x + 1.0),
    ]
    """
)


def test_os_exit_in_a_case_run_in_process_is_that_cases_record(tmp_path: Path) -> None:
    kernels = tmp_path / "kernels"
    kernels.mkdir()
    (kernels / "exiting.py").write_text(KERNELS)
    reports = tmp_path / "reports"
    options = ["--configs", "0", "--shapes", "small", f"--reports-dir={reports}", "--no-cache"]
    proc = subprocess.run(
        [sys.executable, "-m", "checker.cli", "run", str(kernels), "--isolate", "off", "-n", "0", *options],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    records = check_run(reports, proc.returncode)
    got = {r.case.kernel: r for r in records}
    assert sorted(got) == ["exits", "fifth", "first", "fourth", "second"]
    assert got["exits"].category is Category.REFERENCE_ERROR
    assert "os._exit(0) called while a case ran in the pytest process" in got["exits"].message
    assert all(got[k].category is Category.PASSED for k in ("first", "second", "fourth", "fifth"))
