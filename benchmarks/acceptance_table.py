"""The final table of ci/gpu-acceptance.sh: one row per run, and the acceptance verdict.

    python benchmarks/acceptance_table.py OUT/steps.tsv [--md OUT/acceptance.md] [--note TEXT]

The manifest (``steps.tsv``, written by ci/gpu-acceptance.sh) has one tab-separated line per run:

    STEP  KIND  LABEL  PATH  WALL_S  RUN_RC  CHECK_RC

``KIND`` is ``stability`` (PATH: the ``--json`` summary of benchmarks/stability.py, RUN_RC its exit
status), ``faults`` (PATH: the fault set's results.jsonl, RUN_RC kcheck run's exit status,
CHECK_RC tests/faults/check_run.py's) or ``suite`` (PATH: a results.jsonl, RUN_RC kcheck run's).
``-`` stands for a value that does not apply.

A run fails the acceptance when it has a verdict flip or a missing record (a case in one pass
only, or a ``lost`` record), a ``checker-error`` record, a wrong fault-set verdict, no records,
or a ``kcheck run`` that did not run to its end (exit status other than 0 or 1). Real kernel
failures (exit 1, any other failure category) never do: finding them is the checker's job.

Exit status: 0 when every run in the manifest passes (and there is at least one), 1 otherwise,
2 on a usage error or an unreadable manifest.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
for _path in (HERE.parent, HERE):  # this source tree's checker, and stability.py beside this file
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from stability import NORMAL_EXITS, load_pass, summarize_pass  # noqa: E402

from checker.categories import Category  # noqa: E402

KINDS = ("stability", "faults", "suite")
#: The steps of ci/gpu-acceptance.sh; those missing from a manifest are listed as not run.
ALL_STEPS = ("1", "2", "3")


@dataclass(frozen=True)
class Step:
    """One manifest line."""

    step: str
    kind: str
    label: str
    path: Path
    wall_s: float | None
    run_rc: int | None
    check_rc: int | None


@dataclass
class Row:
    """One table row: what a run's records say, and why it fails the acceptance (``problems``)."""

    step: str
    label: str
    records: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    checker_errors: int = 0
    lost: int = 0
    flips: int | None = None
    one_pass: int | None = None
    faults: str | None = None
    wall_s: float | None = None
    problems: list[str] = field(default_factory=list)
    #: Fails with the problems of another row of its step (the warm row of a stability run).
    fails_with_step: bool = False
    toolchain: dict[str, str] = field(default_factory=dict)
    target: str | None = None

    @property
    def fails(self) -> bool:
        """Whether this row fails the acceptance."""
        return bool(self.problems) or self.fails_with_step

    @property
    def passed(self) -> int:
        return self.counts.get(Category.PASSED.value, 0)

    @property
    def skipped(self) -> int:
        """Skips (``not-run``, ``interpreter-unsupported``) less the ``lost`` records (missing)."""
        return sum(n for c, n in self.counts.items() if _is_skip(c)) - self.lost

    @property
    def failed(self) -> dict[str, int]:
        """Failure categories (and unknown ones) with their counts, in the counts' order."""
        return {c: n for c, n in self.counts.items() if c != Category.PASSED.value and not _is_skip(c)}


def _is_skip(category: str) -> bool:
    try:
        return Category(category).is_skip
    except ValueError:  # a category this checker does not know is shown as a failure
        return False


def _int(text: str) -> int | None:
    return None if text in ("", "-") else int(text)


def _float(text: str) -> float | None:
    return None if text in ("", "-") else float(text)


def parse_manifest(text: str, base: Path) -> list[Step]:
    """The manifest's lines as :class:`Step` s (relative paths are relative to ``base``).

    Raises:
        ValueError: naming the line that is not ``STEP KIND LABEL PATH WALL_S RUN_RC CHECK_RC``.
    """
    steps: list[Step] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        cells = line.split("\t")
        try:
            if len(cells) != 7 or cells[1] not in KINDS:
                raise ValueError(
                    "expected STEP KIND LABEL PATH WALL_S RUN_RC CHECK_RC, KIND one of " + str(KINDS)
                )
            path = Path(cells[3])
            steps.append(
                Step(
                    step=cells[0],
                    kind=cells[1],
                    label=cells[2],
                    path=path if path.is_absolute() else base / path,
                    wall_s=_float(cells[4]),
                    run_rc=_int(cells[5]),
                    check_rc=_int(cells[6]),
                )
            )
        except ValueError as exc:
            raise ValueError(f"manifest line {lineno}: {exc}: {line!r}") from None
    return steps


def records_row(step: Step) -> Row:
    """The row of a ``faults`` or ``suite`` run, from its results.jsonl."""
    records, error = load_pass(step.path)
    summary = summarize_pass(step.label, records, wall_s=step.wall_s, exit_code=step.run_rc, error=error)
    row = Row(
        step=step.step,
        label=step.label,
        records=summary.records,
        counts=summary.counts,
        checker_errors=summary.checker_errors,
        lost=summary.lost,
        wall_s=step.wall_s,
        toolchain=summary.toolchain,
        target=summary.target,
    )
    if summary.error:
        row.problems.append(summary.error)
    if summary.lost:
        row.problems.append(f"{summary.lost} lost record(s)")
    if summary.checker_errors:
        row.problems.append(f"{summary.checker_errors} checker-error record(s)")
    if step.kind == "faults":
        row.faults = (
            "OK" if step.check_rc == 0 else "MISMATCH" if step.check_rc is not None else "not checked"
        )
        if row.faults != "OK":
            row.problems.append(f"fault set: {row.faults}")
    return row


def stability_rows(step: Step) -> list[Row]:
    """The two rows (cold, warm) of a ``stability`` run, from its JSON summary; flips and cases
    missing from a pass are shown on both rows, and the run's problems on the first."""
    try:
        data = json.loads(step.path.read_text(encoding="utf-8"))
        passes = data["passes"]
        if not isinstance(passes, dict):
            raise TypeError("'passes' is not an object")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        problem = f"no stability summary ({type(exc).__name__}: {exc})"
        if step.run_rc is not None:
            problem += f", stability.py exit {step.run_rc}"
        return [Row(step=step.step, label=step.label, wall_s=step.wall_s, problems=[problem])]
    rows = []
    for name in ("cold", "warm"):
        p = passes.get(name) or {}
        rows.append(
            Row(
                step=step.step,
                label=f"{step.label} ({name})",
                records=int(p.get("records") or 0),
                counts=dict(p.get("counts") or {}),
                checker_errors=int(p.get("checker_errors") or 0),
                lost=int(p.get("lost") or 0),
                flips=len(data.get("flips") or []),
                one_pass=len(data.get("one_pass") or []),
                wall_s=p.get("wall_s"),
                toolchain=dict(p.get("toolchain") or {}),
                target=p.get("target"),
            )
        )
    problems = list(data.get("problems") or [])
    if step.run_rc not in (None, *NORMAL_EXITS) or (step.run_rc == 1 and not problems):
        problems.append(f"stability.py exit {step.run_rc}")
    rows[0].problems = problems
    rows[1].fails_with_step = bool(problems)
    return rows


def build_rows(steps: Sequence[Step]) -> list[Row]:
    """Every manifest line's row(s), in manifest order."""
    rows: list[Row] = []
    for step in steps:
        rows.extend(stability_rows(step) if step.kind == "stability" else [records_row(step)])
    return rows


def _cell(value: object) -> str:
    return "-" if value is None else str(value).replace("|", "\\|")


def render(rows: Sequence[Row], notes: Sequence[str] = (), not_run: Sequence[str] = ()) -> str:
    """The markdown report: notes, the table, the problems, and the verdict line."""
    lines = ["# kcheck GPU acceptance", ""]
    lines += [f"- {n}" for n in notes]
    for r in rows:
        if r.toolchain or r.target:
            tools = ", ".join(f"{k} {v}" for k, v in sorted(r.toolchain.items()))
            lines.append(f"- toolchain: {tools or '-'}; target {r.target or '-'} (step {r.step}, {r.label})")
            break
    if not_run:
        lines.append(f"- steps not run: {', '.join(not_run)}")
    if lines[-1] != "":
        lines.append("")
    lines += [
        "| step | run | records | passed | skipped | failed by category | checker-error | flips "
        "| missing | fault set | wall s | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        failed = ", ".join(f"{c} {n}" for c, n in r.failed.items() if c != Category.CHECKER_ERROR.value)
        missing = r.lost + (r.one_pass or 0)
        wall = None if r.wall_s is None else f"{r.wall_s:.0f}"
        cells = [r.step, r.label, r.records, r.passed, r.skipped, failed or "-", r.checker_errors, r.flips]
        cells += [missing, r.faults, wall, "FAIL" if r.fails else "ok"]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    problems = [f"- step {r.step}, {r.label}: {p}" for r in rows for p in r.problems]
    lines.append("")
    if problems:
        lines += ["Problems:", "", *problems, ""]
    lines.append("acceptance: " + verdict(rows))
    return "\n".join(lines) + "\n"


def verdict(rows: Sequence[Row]) -> str:
    """``PASS``, or ``FAIL`` with the number of runs that failed (or that nothing ran)."""
    if not rows:
        return "FAIL (nothing ran)"
    failing = sum(r.fails for r in rows)
    return "PASS" if not failing else f"FAIL ({failing} of {len(rows)} rows)"


def exit_status(rows: Sequence[Row]) -> int:
    """0 when :func:`verdict` is PASS, else 1."""
    return 0 if verdict(rows) == "PASS" else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Read the manifest, print (and with ``--md`` write) the report; the exit status (module doc)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("manifest", type=Path, help="steps.tsv written by ci/gpu-acceptance.sh")
    p.add_argument("--md", type=Path, help="also write the report here")
    p.add_argument("--note", action="append", default=[], help="a line under the title, repeatable")
    opts = p.parse_args(argv)
    try:
        steps = parse_manifest(opts.manifest.read_text(encoding="utf-8"), opts.manifest.parent)
    except (OSError, ValueError) as exc:
        print(f"acceptance_table: {exc}", file=sys.stderr)
        return 2
    rows = build_rows(steps)
    ran = {s.step for s in steps}
    report = render(rows, opts.note, [s for s in ALL_STEPS if s not in ran])
    print(report, end="")
    if opts.md:
        opts.md.parent.mkdir(parents=True, exist_ok=True)
        opts.md.write_text(report, encoding="utf-8")
    return exit_status(rows)


if __name__ == "__main__":
    sys.exit(main())
