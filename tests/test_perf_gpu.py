"""GPU timing (checker/perf/timing.py, ``--benchmark``) on a CUDA device; skipped cleanly without one."""

from __future__ import annotations

import json

import pytest
import torch

from checker.perf import timing
from checker.perf.records import Role, TimingRecord

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def test_bench_times_a_copy_with_rotation_and_refuses_zeros() -> None:
    x = torch.randn(1 << 20, device="cuda")
    timed = timing.bench(torch.clone, (x,), rotate=timing.rotation_count(8 * x.numel(), timing.l2_bytes()))
    assert timed.median_ms > 0 and timed.reps >= 10 and timed.rotated > 1
    assert list(timed.samples_ms) == sorted(timed.samples_ms)
    with pytest.raises(ValueError, match="all zeros"):
        timing.bench(torch.clone, (torch.zeros(16, device="cuda"),))


def test_ceilings_are_plausible() -> None:
    ceilings = timing.measure_ceilings(["bf16", "i32"])
    assert 100 < ceilings["bf16"]["copy_gbps"] < 20_000
    assert 10 < ceilings["bf16"]["matmul_tflops"] < 5_000
    assert "matmul_tflops" not in ceilings["i32"]


def test_benchmark_appends_timings_after_the_cases(kernel_dir: pytest.Pytester) -> None:
    result = kernel_dir.runpytest_subprocess(
        "--benchmark", "--configs", "1", "--device", "cuda", "-p", "no:xdist", "--benchmark-no-compile"
    )
    assert result.ret == 0
    lines = (kernel_dir.path / "reports" / "results.jsonl").read_text().splitlines()
    timings = [TimingRecord.from_json(line) for line in lines if json.loads(line).get("kind") == "timing"]
    # 2 shapes x 2 dtypes: 2 named configs, the best sampled one and the eager reference each
    assert len(timings) == 16, [t.key for t in timings]
    assert {t.role for t in timings} == {Role.NAMED, Role.SAMPLED, Role.EAGER}
    assert all(t.nbytes and t.ceilings.get("copy_gbps") and t.pct_of_roofline for t in timings)
    result.stdout.fnmatch_lines(["*kcheck benchmark*", "*16 timing records appended*"])
