"""Timings in ``kcheck report`` and ``kcheck post``: the comment's regression section, the
``--fail-on regression`` policy, and the speedup table and plots in the report directory.

Both commands merge shards with :func:`checker.results.merge.merge`, which carries timing lines
unparsed (``MergedRun.other``); they are parsed and checked here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from checker.perf.compare import Change, Rule, compare, regressions
from checker.perf.records import TimingRecord
from checker.perf.table import markdown_table, regression_section
from checker.results.baseline import FailOn
from checker.results.verdict import Verdict

#: Files :func:`write_artifacts` adds to the report directory.
TABLE_FILE = "speedup.md"


@dataclass(frozen=True)
class PerfSummary:
    """The run's timings, their comparison with the baseline's and the comment section."""

    timings: tuple[TimingRecord, ...] = ()
    changes: tuple[Change, ...] = ()
    markdown: str = ""
    unreadable: int = 0
    artifacts: tuple[str, ...] = field(default=())

    @property
    def regressions(self) -> list[Change]:
        return regressions(self.changes)


def _parse(lines: Iterable[bytes]) -> tuple[list[TimingRecord], int]:
    good, bad = [], 0
    for line in lines:
        try:
            good.append(TimingRecord.from_json(line))
        except ValueError:
            bad += 1
    return good, bad


def summarize(
    run_other: Iterable[bytes], base_other: Iterable[bytes] | None, rule: Rule | None = None
) -> PerfSummary:
    """Parse the run's and the baseline's timing lines and compare them (no baseline, or no
    timings on either side: nothing compared, no section)."""
    rule = rule or Rule()
    run, bad = _parse(run_other)
    base, bad_base = _parse(base_other or ())
    if not run or not base:
        return PerfSummary(tuple(run), (), "", bad + bad_base)
    changes = compare(run, [base], rule)
    return PerfSummary(
        tuple(run), tuple(changes), regression_section(changes, rule, bad + bad_base), bad + bad_base
    )


def policy(decided: Verdict, perf: PerfSummary, fail_on: frozenset[FailOn]) -> Verdict:
    """``decided`` with exit status 1 and a reason when ``--fail-on`` holds ``regression`` and
    the comparison found any (regressions never fail a run otherwise)."""
    slow = perf.regressions
    if FailOn.REGRESSION not in fail_on or not slow:
        return decided
    return dataclasses.replace(
        decided,
        exit_code=1,
        fail_reasons=(*decided.fail_reasons, f"{len(slow)} performance regression(s)"),
        counts={**decided.counts, "regression": len(slow)},
    )


def write_artifacts(perf: PerfSummary, out: Path) -> PerfSummary:
    """The speedup table (``speedup.md``) and, where matplotlib is installed, the plots into the
    report directory ``out``; the returned summary's markdown links them (by name: the comment
    says they are in the artifact). Nothing is written without timings."""
    if not perf.timings:
        return perf
    from checker.atomic import write_atomic
    from checker.perf import plot

    write_atomic(out / TABLE_FILE, markdown_table(perf.timings).encode("utf-8"))
    names = [TABLE_FILE]
    if plot.available():
        names += [p.name for p in plot.write_plots(perf.timings, out)]
    line = f"\nSpeedup table and plots in the artifact: {', '.join(f'`{n}`' for n in names)}.\n"
    return dataclasses.replace(perf, markdown=perf.markdown + line, artifacts=tuple(names))
