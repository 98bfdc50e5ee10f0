"""Native execution on a CUDA GPU (skipped cleanly without one)."""

from __future__ import annotations

import pytest
import torch

from checker.model import Category
from checker.report.jsonl import read_records

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def test_cases_run_natively_on_the_local_gpu(kernel_dir: pytest.Pytester) -> None:
    result = kernel_dir.runpytest("--configs", "1", "--device", "cuda", "-p", "no:xdist")
    # full and small shapes both run natively: 2 shapes x 2 dtypes x 3 configs
    result.assert_outcomes(passed=12)
    records = list(read_records(kernel_dir.path / "reports" / "results.jsonl"))
    assert {r.mode for r in records} == {"native"}
    assert all(r.category is Category.PASSED and r.target.startswith("sm_") for r in records)
