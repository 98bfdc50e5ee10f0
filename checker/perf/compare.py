"""Regression detection: a run's timings against a baseline (docs/perf.md#the-regression-rule).

A timing is a **regression** only when it clears all three gates:

1. **minimum relative slowdown**: ``after / before - 1 >= min_slowdown`` (default 5%), where
   ``before`` is the median of the baseline runs' medians and ``after`` this run's median;
2. **minimum absolute slowdown**: ``after - before >= min_abs_ms`` (default 1 us, about the
   resolution of CUDA events), so a 5% change of a 3 us launch does not count;
3. **noise test**: the modified z-score of ``after``, ``0.6745 * (after - before) / MAD``, is at
   least ``z_threshold`` (default 3.0). Iglewicz and Hoaglin ("How to Detect and Handle
   Outliers", ASQC 1993) define the modified z-score with the median absolute deviation (MAD)
   and recommend 3.5 as the outlier threshold; 0.6745 is the 0.75 quantile of the standard
   normal, which makes ``MAD / 0.6745`` estimate the standard deviation of normal data.
   The MAD comes from **history** when the baseline holds at least ``min_history`` runs of the
   key (the spread of their medians: run-to-run noise), else from the **samples** (the larger
   of the baseline's and this run's per-repetition MADs). Without either (an ingested latency
   and a run without samples) the noise test is not applied and says so (``noise: none``).

An **improvement** is the mirror image (faster by the same margins). Everything else is
unchanged: noise. Keys only in the baseline are ``missing``, only in the run ``new``.
"""

from __future__ import annotations

import enum
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from checker.perf.records import BEST, KERNEL_ROLES, Role, TimingRecord

#: The constant of the modified z-score (Iglewicz and Hoaglin 1993): the 0.75 quantile of N(0, 1).
Z_CONSTANT = 0.6745

Key = tuple[str, tuple[int, ...], str, str]


@dataclass(frozen=True)
class Rule:
    """The regression rule's thresholds (defaults: docs/perf.md).

    Attributes:
        min_slowdown: relative slowdown a regression needs at least (0.05: 5%).
        min_abs_ms: absolute slowdown a regression needs at least, ms.
        z_threshold: modified z-score a regression needs at least.
        min_history: baseline runs of a key needed to take the noise from their medians.
    """

    min_slowdown: float = 0.05
    min_abs_ms: float = 0.001
    z_threshold: float = 3.0
    min_history: int = 3

    def __post_init__(self) -> None:
        if not (self.min_slowdown >= 0 and self.min_abs_ms >= 0 and self.z_threshold >= 0):
            raise ValueError("rule thresholds must be >= 0")
        if self.min_history < 2:
            raise ValueError("min_history must be >= 2 (a MAD needs two values)")


class Verdict(enum.StrEnum):
    """What the comparison of one key found."""

    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    UNCHANGED = "unchanged"
    #: In the run, not in the baseline.
    NEW = "new"
    #: In the baseline, not in the run.
    MISSING = "missing"


@dataclass(frozen=True)
class Change:
    """One key's comparison. Times in ms; ``rel`` = after / before - 1; ``z`` the modified
    z-score (None: no noise estimate); ``noise`` where the MAD came from: ``history``,
    ``samples`` or ``none``; ``runs`` baseline runs that had the key."""

    key: Key
    verdict: Verdict
    before_ms: float | None
    after_ms: float | None
    rel: float | None = None
    z: float | None = None
    noise: str = "none"
    runs: int = 0
    role: Role | None = None

    @property
    def name(self) -> str:
        """``kernel[shape-dtype-impl]``, the way case ids read."""
        kernel, shape, dtype, impl = self.key
        return f"{kernel}[{'x'.join(map(str, shape)) or '-'}-{dtype}-{impl}]"


def median(values: Sequence[float]) -> float:
    """The median of ``values`` (non-empty)."""
    return float(statistics.median(values))


def mad(values: Sequence[float]) -> float:
    """Median absolute deviation from the median (0.0 for fewer than two values)."""
    if len(values) < 2:
        return 0.0
    center = median(values)
    return median([abs(v - center) for v in values])


def modified_z(value: float, center: float, spread: float) -> float | None:
    """``0.6745 * (value - center) / spread`` (Iglewicz and Hoaglin 1993); None when the MAD
    ``spread`` is 0 (no noise estimate)."""
    return Z_CONSTANT * (value - center) / spread if spread > 0 else None


def _index(records: Iterable[TimingRecord]) -> dict[Key, list[TimingRecord]]:
    out: dict[Key, list[TimingRecord]] = {}
    for rec in records:
        out.setdefault(rec.key, []).append(rec)
    return out


def with_best(records: Sequence[TimingRecord]) -> list[TimingRecord]:
    """``records`` plus, per kernel x shape x dtype, a :data:`~checker.perf.records.BEST` row: the
    fastest kernel-role record (named or sampled) under ``impl`` ``best``, which a benchmark log's
    Helion implementation (Helion's autotuned best) is compared with."""
    import dataclasses

    fastest: dict[tuple[str, tuple[int, ...], str], TimingRecord] = {}
    for rec in records:
        if rec.role in KERNEL_ROLES:
            group = (rec.kernel, rec.shape, rec.dtype)
            if group not in fastest or rec.median_ms < fastest[group].median_ms:
                fastest[group] = rec
    return [*records, *(dataclasses.replace(r, impl=BEST) for r in fastest.values())]


def compare(
    run: Sequence[TimingRecord],
    history: Sequence[Sequence[TimingRecord]],
    rule: Rule | None = None,
) -> list[Change]:
    """Compare ``run`` with ``history`` (baseline runs, oldest first; one run is enough).

    A key seen several times in one run (merged shards, reruns) counts with its median.
    """
    rule = rule or Rule()
    wants_best = any(r.impl == BEST for base in history for r in base)
    now = _index(with_best(run) if wants_best else run)
    past = [_index(base) for base in history]
    past = [_resolve_unknown_dtypes(p, now) for p in past]
    changes: list[Change] = []
    for key in sorted(now):
        recs = now[key]
        after = median([r.median_ms for r in recs])
        base_runs = [p[key] for p in past if key in p]
        if not base_runs:
            changes.append(Change(key, Verdict.NEW, None, after, role=recs[0].role))
            continue
        medians = [median([r.median_ms for r in b]) for b in base_runs]
        before = median(medians)
        spread, noise = 0.0, "none"
        if len(medians) >= rule.min_history:
            spread, noise = mad(medians), "history"
        if spread == 0:
            samples = [mad(base_runs[-1][-1].samples_ms), mad(recs[-1].samples_ms)]
            spread = max(samples)
            noise = "samples" if spread > 0 else "none"
        z = modified_z(after, before, spread)
        rel = after / before - 1
        verdict = Verdict.UNCHANGED
        if (
            rel >= rule.min_slowdown
            and after - before >= rule.min_abs_ms
            and (z is None or z >= rule.z_threshold)
        ):
            verdict = Verdict.REGRESSION
        elif (
            -rel >= rule.min_slowdown
            and before - after >= rule.min_abs_ms
            and (z is None or -z >= rule.z_threshold)
        ):
            verdict = Verdict.IMPROVEMENT
        changes.append(Change(key, verdict, before, after, rel, z, noise, len(medians), recs[0].role))
    for key in sorted({k for p in past for k in p} - set(now)):
        before = median([median([r.median_ms for r in p[key]]) for p in past if key in p])
        changes.append(Change(key, Verdict.MISSING, before, None))
    return changes


def _resolve_unknown_dtypes(
    base: dict[Key, list[TimingRecord]], run: dict[Key, list[TimingRecord]]
) -> dict[Key, list[TimingRecord]]:
    """A baseline key of dtype ``unknown`` (an ingested log: logs do not say their dtype) takes
    the run's dtype when exactly one run key has the same kernel, shape and impl."""
    out: dict[Key, list[TimingRecord]] = {}
    for key, recs in base.items():
        kernel, shape, dtype, impl = key
        if dtype == "unknown":
            matches = [k for k in run if k[0] == kernel and k[1] == shape and k[3] == impl]
            if len(matches) == 1:
                key = matches[0]
        out.setdefault(key, []).extend(recs)
    return out


def regressions(changes: Iterable[Change]) -> list[Change]:
    """The regressions among ``changes``, largest relative slowdown first."""
    return sorted((c for c in changes if c.verdict is Verdict.REGRESSION), key=lambda c: -(c.rel or 0))


def improvements(changes: Iterable[Change]) -> list[Change]:
    """The improvements among ``changes``, largest relative speed-up first."""
    return sorted((c for c in changes if c.verdict is Verdict.IMPROVEMENT), key=lambda c: c.rel or 0)


def counts(changes: Iterable[Change]) -> dict[str, int]:
    """Changes per verdict (every verdict present, zeros included)."""
    out = {v.value: 0 for v in Verdict}
    for c in changes:
        out[c.verdict.value] += 1
    return out
