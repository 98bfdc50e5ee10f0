"""Timing records and the regression rule (checker/perf/), on synthetic timings: no GPU."""

from __future__ import annotations

import dataclasses
import json
import random

import pytest

from checker.perf.compare import Rule, Verdict, compare, mad, modified_z, regressions
from checker.perf.records import MAX_SAMPLES, Role, TimingRecord, thin


def timing(
    median_ms: float = 1.0,
    *,
    impl: str = "default",
    kernel: str = "softmax",
    shape: tuple[int, ...] = (4096, 2048),
    dtype: str = "bf16",
    role: Role = Role.NAMED,
    samples: list[float] | None = None,
) -> TimingRecord:
    return TimingRecord(
        kernel=kernel,
        shape=shape,
        dtype=dtype,
        impl=impl,
        role=role,
        median_ms=median_ms,
        samples_ms=thin(samples or []),
        reps=len(samples or []),
        nbytes=2 * 4096 * 2048 * 2,
        ceilings={"copy_gbps": 4000.0},
    )


def noisy(rng: random.Random, center_ms: float, rel_sd: float, n: int = 200) -> TimingRecord:
    """A do_bench-like measurement: ``n`` repetitions with relative noise ``rel_sd``, and the
    run-to-run drift of a real device (the run's own center moves by up to 1%)."""
    center = center_ms * (1 + rng.uniform(-0.01, 0.01))
    samples = [max(1e-6, rng.gauss(center, center * rel_sd)) for _ in range(n)]
    samples.sort()
    return timing(samples[n // 2], samples=samples)


# ---- records -------------------------------------------------------------------------------------


def test_timing_record_round_trips_and_is_no_case_record() -> None:
    rec = timing(0.5, samples=[0.4, 0.5, 0.6])
    line = rec.to_json()
    data = json.loads(line)
    assert data["kind"] == "timing" and "category" not in data
    assert TimingRecord.from_json(line) == rec
    assert TimingRecord.from_json(line.encode()) == rec


def test_derived_metrics_use_the_measured_ceilings() -> None:
    rec = dataclasses.replace(
        timing(2.0),
        nbytes=8_000_000_000,
        flops=10**12,
        ceilings={"copy_gbps": 8000.0, "matmul_tflops": 1000.0},
    )
    assert rec.gbps == pytest.approx(4000.0)  # 8 GB in 2 ms
    assert rec.tflops == pytest.approx(500.0)
    # roofline: max(8 GB / 8000 GB/s, 1 TFLOP / 1000 TFLOP/s) = 1 ms -> 50% of it at 2 ms
    assert rec.roofline_ms == pytest.approx(1.0) and rec.pct_of_roofline == pytest.approx(50.0)
    assert dataclasses.replace(rec, ceilings={}).pct_of_roofline is None


@pytest.mark.parametrize(
    "change",
    [
        {"median_ms": 0.0},
        {"median_ms": float("nan")},
        {"median_ms": True},
        {"samples_ms": tuple(range(MAX_SAMPLES + 1))},
        {"nbytes": -1},
        {"role": "fastest"},
        {"shape": (4, -1)},
        {"ceilings": {"copy_gbps": 0}},
        {"kernel": ""},
    ],
)
def test_bad_timing_records_are_rejected_where_made(change: dict) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(timing(), **change)


@pytest.mark.parametrize(
    "line",
    [
        '{"kind": "timing"}',
        '{"kind": "timing", "kernel": "k", "shape": [1], "dtype": "fp32", "impl": "x", "role": "named", '
        '"median_ms": 1, "evil": 1}',
        '{"kind": "case"}',
        "[1, 2]",
        "not json",
        '{"kind": "timing", "kernel": "k", "shape": "1x2", "dtype": "fp32", "impl": "x", "role": "named", '
        '"median_ms": 1}',
    ],
)
def test_bad_timing_lines_are_value_errors(line: str) -> None:
    with pytest.raises(ValueError):
        TimingRecord.from_json(line)


def test_thin_keeps_order_statistics() -> None:
    values = list(range(1001))
    kept = thin(reversed(values))
    assert len(kept) == MAX_SAMPLES and kept[0] == 0 and kept[-1] == 1000
    assert abs(sorted(kept)[MAX_SAMPLES // 2] - 500) <= 1000 / (MAX_SAMPLES - 1)
    assert thin([3.0, 1.0]) == (1.0, 3.0)


# ---- the rule ------------------------------------------------------------------------------------


def test_modified_z_score_is_iglewicz_hoaglin() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 100.0]
    assert mad(values) == 1.0  # deviations from the median 3: 2, 1, 0, 1, 97
    assert modified_z(100.0, 3.0, 1.0) == pytest.approx(0.6745 * 97)
    assert modified_z(5.0, 3.0, 0.0) is None
    assert mad([7.0]) == 0.0


def test_a_real_20_percent_slowdown_over_noisy_samples_is_flagged() -> None:
    rng = random.Random(1)
    base = noisy(rng, 1.0, 0.03)
    slow = noisy(rng, 1.2, 0.03)
    (change,) = compare([slow], [[base]])
    assert change.verdict is Verdict.REGRESSION and change.noise == "samples"
    assert change.rel == pytest.approx(0.2, abs=0.03) and change.z is not None and change.z > 3
    assert change.before_ms == base.median_ms and change.after_ms == slow.median_ms


def test_noise_alone_is_never_flagged_across_repeats() -> None:
    """Three reruns of an unchanged suite of 40 timings, each compared with the first run."""
    rng = random.Random(7)
    centers = [rng.uniform(0.005, 5.0) for _ in range(40)]

    def run() -> list[TimingRecord]:
        return [
            dataclasses.replace(noisy(rng, c, rng.uniform(0.005, 0.05)), impl=f"cfg{i}")
            for i, c in enumerate(centers)
        ]

    first = run()
    for _ in range(3):
        changes = compare(run(), [first])
        assert [c for c in changes if c.verdict is not Verdict.UNCHANGED] == []


def test_improvements_are_reported() -> None:
    rng = random.Random(2)
    (change,) = compare([noisy(rng, 0.8, 0.02)], [[noisy(rng, 1.0, 0.02)]])
    assert change.verdict is Verdict.IMPROVEMENT and change.rel is not None and change.rel < -0.15
    assert regressions([change]) == []


def test_the_minimum_slowdown_gates_a_significant_but_small_change() -> None:
    # 3% slower with 0.2% noise: the z-score is far over 3, the slowdown under 5%.
    rng = random.Random(3)
    base, slow = noisy(rng, 1.0, 0.002), noisy(rng, 1.03, 0.002)
    slow = dataclasses.replace(slow, median_ms=base.median_ms * 1.03)
    (change,) = compare([slow], [[base]])
    assert change.z is not None and change.z > 3 and change.verdict is Verdict.UNCHANGED
    (change,) = compare([slow], [[base]], Rule(min_slowdown=0.02))
    assert change.verdict is Verdict.REGRESSION


def test_the_noise_test_gates_a_large_change_of_a_noisy_kernel() -> None:
    base = timing(1.0, samples=[0.5, 0.7, 1.0, 1.3, 1.6])  # MAD 0.3 ms
    slow = timing(1.1, samples=[0.6, 0.8, 1.1, 1.4, 1.7])
    (change,) = compare([slow], [[base]])
    assert change.rel == pytest.approx(0.1) and change.z == pytest.approx(0.6745 * 0.1 / 0.3)
    assert change.verdict is Verdict.UNCHANGED


def test_the_absolute_floor_ignores_launch_sized_changes() -> None:
    base = timing(0.003, samples=[0.003] * 10 + [0.0031])
    slow = timing(0.0036, samples=[0.0036] * 10 + [0.0037])  # +20%, 0.6 us
    assert compare([slow], [[base]])[0].verdict is Verdict.UNCHANGED
    assert compare([slow], [[base]], Rule(min_abs_ms=0.0001))[0].verdict is Verdict.REGRESSION


def test_history_gives_the_run_to_run_noise() -> None:
    history = [[timing(m)] for m in (1.00, 1.04, 0.97, 1.02, 0.99)]  # no samples: noise from history
    (same,) = compare([timing(1.05)], history)
    assert same.noise == "history" and same.runs == 5 and same.verdict is Verdict.UNCHANGED
    (slow,) = compare([timing(1.25)], history)
    assert slow.verdict is Verdict.REGRESSION and slow.before_ms == 1.0
    assert slow.z == pytest.approx(0.6745 * 0.25 / 0.02)


def test_new_and_missing_keys_are_listed_not_flagged() -> None:
    changes = compare([timing(1.0, impl="a")], [[timing(1.0, impl="b")]])
    assert {(c.key[3], c.verdict) for c in changes} == {("a", Verdict.NEW), ("b", Verdict.MISSING)}


def test_rule_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        Rule(min_slowdown=-0.1)
    with pytest.raises(ValueError):
        Rule(min_history=1)
