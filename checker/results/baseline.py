"""Comparing a run with the base branch's results: what is new, what was already broken.

Each case (see :func:`checker.results.merge.record_key`) gets one :class:`Status`:

========================  ==================================================================
status                    rule
========================  ==================================================================
``new``                   fails in every attempt, and on the base it passed, was skipped, was
                          absent (a new case), or failed with another category; without a
                          baseline every failure is new
``pre-existing``          fails, and the base failed with the same category (never a
                          ``checker-error`` or a lost case)
``flaky``                 failed and passed across this run's attempts (a rerun passed)
``fixed``                 passes, and failed in every attempt on the base
``golden``                a golden-diff / golden-missing / golden-stale the base did not have
``passed`` / ``skipped``  passes (the base did not fail) / was not checked
========================  ==================================================================

:func:`exit_code` turns a classification into the exit status of ``kcheck report`` under a
configurable policy (:class:`FailOn`, default: new failures, golden changes, unreadable shards).
"""

from __future__ import annotations

import enum
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from checker.categories import EXIT_CHECKER_ERROR, GOLDEN_CATEGORIES, Category, Owner
from checker.model import Record
from checker.results.merge import CorruptEntry, MergedRun


class Outcome(enum.StrEnum):
    """What a case's attempts in one run add up to."""

    PASSED = "passed"
    FAILED = "failed"
    FLAKY = "flaky"
    SKIPPED = "skipped"


class Status(enum.StrEnum):
    """A case's standing against the baseline (rules in the module docstring).

    Declared in report order: tables and the terminal view list their columns this way.
    """

    NEW = "new"
    GOLDEN = "golden"
    PRE_EXISTING = "pre-existing"
    FLAKY = "flaky"
    FIXED = "fixed"
    PASSED = "passed"
    SKIPPED = "skipped"


class FailOn(enum.StrEnum):
    """What makes ``kcheck report`` (and ``kcheck post``) exit 1."""

    NEW = "new"
    GOLDEN = "golden"
    CORRUPT = "corrupt"
    FLAKY = "flaky"
    PRE_EXISTING = "pre-existing"
    #: A performance regression of a timing against the baseline's (checker/perf/section.py).
    REGRESSION = "regression"


DEFAULT_FAIL_ON = frozenset({FailOn.NEW, FailOn.GOLDEN, FailOn.CORRUPT})


def outcome(attempts: Iterable[Record]) -> Outcome:
    """FAILED if every checked attempt failed, FLAKY if some failed and some passed."""
    records = list(attempts)
    failed = any(r.failed for r in records)
    passed = any(r.category is Category.PASSED for r in records)
    if failed and passed:
        return Outcome.FLAKY
    if failed:
        return Outcome.FAILED
    return Outcome.PASSED if passed else Outcome.SKIPPED


@dataclass(frozen=True)
class CaseResult:
    """One case: its attempts in this run, its attempts on the base (empty: not on the base, or
    no baseline) and its status."""

    key: str
    status: Status
    attempts: tuple[Record, ...]
    base: tuple[Record, ...] = ()

    @property
    def record(self) -> Record:
        """The attempt that explains the status: the last failing one for a failure or a flaky
        case, else the last attempt."""
        failing = [r for r in self.attempts if r.failed]
        if failing and self.status is not Status.PASSED:
            return failing[-1]
        return self.attempts[-1]

    @property
    def base_record(self) -> Record | None:
        """The base attempt to compare with: its last failing one, else its last, else None."""
        failing = [r for r in self.base if r.failed]
        return failing[-1] if failing else (self.base[-1] if self.base else None)

    @property
    def base_category(self) -> Category | None:
        """The category of :attr:`base_record`, None without a base attempt."""
        rec = self.base_record
        return rec.category if rec else None


@dataclass(frozen=True)
class Group:
    """Cases of one status sharing a failure category and signature (one bug, many configs)."""

    status: Status
    category: Category
    signature: str | None
    cases: tuple[CaseResult, ...]

    @property
    def representative(self) -> CaseResult:
        return self.cases[0]


@dataclass(frozen=True)
class Classification:
    """Every case of a merged run with its status, plus run-level facts a report states."""

    cases: tuple[CaseResult, ...]
    baseline_given: bool
    corrupt: tuple[CorruptEntry, ...] = ()
    #: keys the baseline has and this run does not (cases removed or not selected)
    missing: tuple[str, ...] = ()
    reruns: int = 0

    def of(self, status: Status) -> list[CaseResult]:
        return [c for c in self.cases if c.status is status]

    def groups(self, status: Status) -> list[Group]:
        """Cases of ``status`` grouped by (category, signature), biggest group first."""
        buckets: dict[tuple[Category, str | None], list[CaseResult]] = defaultdict(list)
        for case in self.of(status):
            base = case.base_record
            rec = base if status is Status.FIXED and base is not None else case.record
            buckets[(rec.category, rec.signature)].append(case)
        groups = [Group(status, cat, sig, tuple(cases)) for (cat, sig), cases in buckets.items()]
        return sorted(groups, key=_group_order)

    def counts(self) -> Counter[Status]:
        return Counter(c.status for c in self.cases)

    def per_kernel(self) -> dict[str, Counter[Status]]:
        """Status counts per kernel, kernels sorted by name."""
        table: dict[str, Counter[Status]] = defaultdict(Counter)
        for case in self.cases:
            table[case.record.case.kernel][case.status] += 1
        return dict(sorted(table.items()))


def _group_order(g: Group) -> tuple[bool, int, str, str]:
    # kcheck's own bugs first (Category.shown_first), then the biggest group.
    return (not g.category.shown_first, -len(g.cases), g.category.value, g.signature or "")


def _status(attempts: tuple[Record, ...], base: tuple[Record, ...], baseline_given: bool) -> Status:
    now = outcome(attempts)
    before = outcome(base) if base else None
    if now is Outcome.FLAKY:
        return Status.FLAKY
    if now is Outcome.SKIPPED:
        return Status.SKIPPED
    if now is Outcome.PASSED:
        return Status.FIXED if before is Outcome.FAILED else Status.PASSED
    failing = [r for r in attempts if r.failed][-1]
    category = failing.category
    if category.traits.owner is Owner.CHECKER:
        return Status.NEW  # a kcheck bug is never "pre-existing": it is not the kernel's state
    if failing.lost:
        # Nor is a lost case: it says what happened to the run (a killed worker, an interrupt),
        # and a verdict never depends on what other workers did.
        return Status.NEW
    base_failures = {r.category for r in base if r.failed}
    if category in GOLDEN_CATEGORIES:
        return Status.PRE_EXISTING if base_failures & GOLDEN_CATEGORIES else Status.GOLDEN
    if baseline_given and category in base_failures:
        return Status.PRE_EXISTING
    return Status.NEW


def classify(run: MergedRun, baseline: MergedRun | None = None) -> Classification:
    """Status of every case of ``run`` against ``baseline`` (None: no baseline, every failure is
    new). The baseline's own corrupt shards are not the run's and are not carried over."""
    base: Mapping[str, tuple[Record, ...]] = baseline.attempts if baseline else {}
    cases = tuple(
        CaseResult(
            key, _status(attempts, base.get(key, ()), baseline is not None), attempts, base.get(key, ())
        )
        for key, attempts in run.attempts.items()
    )
    missing = tuple(k for k in base if k not in run.attempts)
    return Classification(
        cases=cases,
        baseline_given=baseline is not None,
        corrupt=run.corrupt,
        missing=missing,
        reruns=run.reruns,
    )


def fail_reasons(result: Classification, fail_on: Iterable[FailOn] = DEFAULT_FAIL_ON) -> list[str]:
    """Why the report fails under ``fail_on``, one line per reason (empty: it passes)."""
    policy = set(fail_on)
    counts = result.counts()
    reasons = []
    bugs = checker_errors(result)
    if bugs:
        # Whatever --fail-on says: a run the checker broke says nothing about the kernels.
        reasons.append(f"{len(bugs)} checker-error case(s): bugs in kcheck, not in the kernels")
    for item, status in (
        (FailOn.NEW, Status.NEW),
        (FailOn.GOLDEN, Status.GOLDEN),
        (FailOn.FLAKY, Status.FLAKY),
        (FailOn.PRE_EXISTING, Status.PRE_EXISTING),
    ):
        if item in policy and counts[status]:
            reasons.append(f"{counts[status]} {status.value} case(s)")
    if FailOn.CORRUPT in policy and result.corrupt:
        reasons.append(f"{len(result.corrupt)} unreadable shard entr(y/ies)")
    return reasons


def checker_errors(result: Classification) -> list[CaseResult]:
    """Cases with a ``checker-error`` attempt (a kcheck bug), in run order."""
    return [c for c in result.cases if any(r.category.traits.owner is Owner.CHECKER for r in c.attempts)]


def exit_code(result: Classification, fail_on: Iterable[FailOn] = DEFAULT_FAIL_ON) -> int:
    """:data:`~checker.model.EXIT_CHECKER_ERROR` (3) when any case has a checker-error record,
    whatever ``fail_on`` says; else 1 when :func:`fail_reasons` finds any reason under
    ``fail_on``; else 0."""
    if checker_errors(result):
        return EXIT_CHECKER_ERROR
    return 1 if fail_reasons(result, fail_on) else 0


def parse_fail_on(text: str) -> frozenset[FailOn]:
    """Parse ``--fail-on`` (comma-separated FailOn values, or ``none``).

    Raises:
        ValueError: naming the unknown item and the accepted ones.
    """
    items = [t.strip() for t in text.split(",") if t.strip()]
    if items == ["none"]:
        return frozenset()
    try:
        return frozenset(FailOn(t) for t in items)
    except ValueError:
        bad = next(t for t in items if t not in {f.value for f in FailOn})
        raise ValueError(
            f"--fail-on: unknown item {bad!r}; use a comma list of {', '.join(f.value for f in FailOn)} "
            "or 'none'"
        ) from None
