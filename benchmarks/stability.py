"""Verdict stability: one ``kcheck run`` sweep twice, cold then warm, compared case by case (issue 22).

Runs the same sweep two times from the repository root, with one fresh, empty compile cache
(``--cache-dir``) and one fresh Triton cache (``TRITON_CACHE_DIR``) in a temporary directory,
shared by the two passes, and a reports directory of its own for each:

  cold    empty caches: everything is generated and compiled
  warm    the identical command again: the caches answer what they may

Then it reads both ``results.jsonl`` files, matches records by pytest node id and prints

  - counts per category per pass, and the wall time of each pass (and warm / cold);
  - every case whose verdict (category) differs between the passes ("flips"), with both
    records' category and the first line of each message;
  - cases with a record in one pass only, and ``lost`` records (collected, never reported);
  - the number of ``checker-error`` records (bugs in kcheck itself) per pass.

    python benchmarks/stability.py --device cuda --configs 1 --sweep-seed 7 -n 12
    python benchmarks/stability.py kernels/softmax.py --configs 0 --shapes small -n 0
    python benchmarks/stability.py --json stab.json -- -k "softmax and fp32" --run-timeout 60

Arguments after ``--`` go to ``kcheck run`` unchanged (a second ``--`` among them passes the rest
on to pytest). ``-n`` is kcheck's own default (``$KCHECK_WORKERS``, else ``auto``: on a GPU host
``--workers-per-gpu`` per GPU, by default min(16, cores // GPUs)) unless given.

Exit status: 0 when the sweep is stable: no flip, no case missing from either pass (a record in
one pass only, or a ``lost`` record), no ``checker-error`` record, and each pass ran to its end
(``kcheck run`` exited 0 or 1 and wrote at least one record). 1 otherwise. 2 on a usage error.
``kcheck run``'s own failures (real kernel findings, exit 1) do not make the sweep unstable.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the checker of this source tree, installed or not

from checker.categories import Category  # noqa: E402
from checker.model import Record  # noqa: E402
from checker.results.jsonl import read_records  # noqa: E402

PASSES = ("cold", "warm")
#: Exit statuses of ``kcheck run`` that mean "the sweep ran to its end" (0: all passed, 1: some
#: case failed); anything else (interrupted, internal or usage error, the checker-error status)
#: is a pass that did not.
NORMAL_EXITS = frozenset({0, 1})
#: Longest message text shown per record in a table cell.
MESSAGE_CHARS = 160


def record_key(record: Record) -> str:
    """The key records of two passes are matched by: the pytest node id, else the case name."""
    return record.nodeid or record.case.name


def first_line(message: str, limit: int = MESSAGE_CHARS) -> str:
    """The first non-empty line of ``message``, cut to ``limit`` characters ("..." marks a cut)."""
    for line in message.splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= limit else line[: limit - 3] + "..."
    return ""


def category_counts(records: Iterable[Record]) -> dict[str, int]:
    """Records per category value, most frequent first (ties by name)."""
    counts = Counter(r.category.value for r in records)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


@dataclass(frozen=True)
class PassSummary:
    """What one pass's records say, and how its ``kcheck run`` ended."""

    name: str
    records: int
    counts: dict[str, int]
    checker_errors: int
    lost: int
    duplicates: list[str]
    wall_s: float | None = None
    exit_code: int | None = None
    results: str | None = None
    #: Why the pass did not run to its end (no results file, no record, abnormal exit); None if it did.
    error: str | None = None
    #: The first record's toolchain (torch, triton, helion, python versions) and target.
    toolchain: dict[str, str] = field(default_factory=dict)
    target: str | None = None


def summarize_pass(
    name: str,
    records: Sequence[Record],
    *,
    wall_s: float | None = None,
    exit_code: int | None = None,
    results: str | None = None,
    error: str | None = None,
) -> PassSummary:
    """Count one pass's records: per category, ``checker-error``, ``lost``, and node ids that have
    more than one record. ``error`` (a pass that could not be read) is kept; an exit status outside
    :data:`NORMAL_EXITS` or a pass without records adds one."""
    keys = Counter(record_key(r) for r in records)
    if error is None and exit_code is not None and exit_code not in NORMAL_EXITS:
        error = f"kcheck run exited {exit_code}"
    if error is None and not records:
        error = "no records"
    return PassSummary(
        name=name,
        records=len(records),
        counts=category_counts(records),
        checker_errors=sum(r.category is Category.CHECKER_ERROR for r in records),
        lost=sum(r.lost for r in records),
        duplicates=sorted(k for k, n in keys.items() if n > 1),
        wall_s=wall_s,
        exit_code=exit_code,
        results=results,
        error=error,
        toolchain=dict(records[0].toolchain) if records else {},
        target=records[0].target if records else None,
    )


@dataclass(frozen=True)
class Flip:
    """A case whose category differs between the passes: both records' category and first line."""

    key: str
    cold: str
    cold_message: str
    warm: str
    warm_message: str


@dataclass(frozen=True)
class OnePass:
    """A case with a record in one pass only: which pass, its category and first message line."""

    key: str
    present_in: str
    category: str
    message: str


@dataclass(frozen=True)
class Comparison:
    """Two passes of one sweep compared case by case (:func:`compare_passes`)."""

    cold: PassSummary
    warm: PassSummary
    flips: list[Flip] = field(default_factory=list)
    one_pass: list[OnePass] = field(default_factory=list)

    @property
    def warm_cold_ratio(self) -> float | None:
        """Warm wall time over cold wall time; None without both times (or a zero cold time)."""
        if self.cold.wall_s is None or self.warm.wall_s is None or self.cold.wall_s <= 0:
            return None
        return self.warm.wall_s / self.cold.wall_s

    def problems(self) -> list[str]:
        """Why the sweep is not stable, one short phrase each; empty when it is."""
        out: list[str] = []
        if self.flips:
            out.append(f"{len(self.flips)} verdict flip(s)")
        if self.one_pass:
            out.append(f"{len(self.one_pass)} case(s) with a record in one pass only")
        for p in (self.cold, self.warm):
            if p.lost:
                out.append(f"{p.lost} lost record(s) in the {p.name} pass")
            if p.checker_errors:
                out.append(f"{p.checker_errors} checker-error record(s) in the {p.name} pass")
            if p.error:
                out.append(f"{p.name} pass: {p.error}")
        return out

    @property
    def ok(self) -> bool:
        """True when :meth:`problems` is empty."""
        return not self.problems()


def compare_passes(
    cold_records: Sequence[Record],
    warm_records: Sequence[Record],
    *,
    cold: PassSummary | None = None,
    warm: PassSummary | None = None,
) -> Comparison:
    """Match the two passes' records by :func:`record_key` and list the flips (same case, another
    category) and the cases present in one pass only, both in node id order. ``cold`` and ``warm``
    are the passes' summaries (times, exit statuses), made from the records when not given. For a
    node id with several records in a pass (:attr:`PassSummary.duplicates`) its last record counts."""
    cold = cold or summarize_pass("cold", cold_records)
    warm = warm or summarize_pass("warm", warm_records)
    a = {record_key(r): r for r in cold_records}
    b = {record_key(r): r for r in warm_records}
    flips = [
        Flip(
            key=k,
            cold=a[k].category.value,
            cold_message=first_line(a[k].message),
            warm=b[k].category.value,
            warm_message=first_line(b[k].message),
        )
        for k in sorted(a.keys() & b.keys())
        if a[k].category is not b[k].category
    ]
    one_pass = [
        OnePass(key=k, present_in=name, category=r.category.value, message=first_line(r.message))
        for k in sorted(a.keys() ^ b.keys())
        for name, r in (("cold", a.get(k)), ("warm", b.get(k)))
        if r is not None
    ]
    return Comparison(cold=cold, warm=warm, flips=flips, one_pass=one_pass)


def _cell(text: str) -> str:
    """``text`` safe in a markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "'") or "-"


def render(comparison: Comparison) -> str:
    """The human report: counts table, times, flips, one-pass cases, checker-errors, verdict."""
    c = comparison
    lines = ["| category | cold | warm |", "| --- | --- | --- |"]
    categories = sorted(
        set(c.cold.counts) | set(c.warm.counts),
        key=lambda k: (k != Category.PASSED.value, -(c.cold.counts.get(k, 0) + c.warm.counts.get(k, 0)), k),
    )
    for cat in categories:
        lines.append(f"| {cat} | {c.cold.counts.get(cat, 0)} | {c.warm.counts.get(cat, 0)} |")
    lines.append(f"| **total** | {c.cold.records} | {c.warm.records} |")
    lines.append("")

    def wall(p: PassSummary) -> str:
        return "-" if p.wall_s is None else f"{p.wall_s:.1f} s"

    ratio = c.warm_cold_ratio
    lines.append(
        f"wall time: cold {wall(c.cold)}, warm {wall(c.warm)}"
        + ("" if ratio is None else f", warm/cold {ratio:.2f} ({ratio:.0%})")
    )
    for p in (c.cold, c.warm):
        if p.exit_code is not None:
            lines.append(f"{p.name}: kcheck run exit {p.exit_code}, {p.records} records, {p.results or ''}")
    lines.append("")
    lines.append(f"verdict flips (category differs between the passes): {len(c.flips)}")
    if c.flips:
        lines += [
            "",
            "| case | cold | cold message | warm | warm message |",
            "| --- | --- | --- | --- | --- |",
        ]
        for f in c.flips:
            cells = (_cell(f.key), f.cold, _cell(f.cold_message), f.warm, _cell(f.warm_message))
            lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"cases with a record in one pass only: {len(c.one_pass)}")
    if c.one_pass:
        lines += ["", "| case | only in | category | message |", "| --- | --- | --- | --- |"]
        for o in c.one_pass:
            lines.append(f"| {_cell(o.key)} | {o.present_in} | {o.category} | {_cell(o.message)} |")
    lines.append("")
    lines.append(f"lost records (collected, never reported): cold {c.cold.lost}, warm {c.warm.lost}")
    lines.append(f"checker-error records: cold {c.cold.checker_errors}, warm {c.warm.checker_errors}")
    for p in (c.cold, c.warm):
        if p.duplicates:
            shown = ", ".join(p.duplicates[:5]) + (" ..." if len(p.duplicates) > 5 else "")
            lines.append(f"{p.name}: {len(p.duplicates)} node id(s) with several records: {shown}")
    problems = c.problems()
    lines.append("")
    lines.append("stability: " + ("OK" if not problems else "UNSTABLE: " + "; ".join(problems)))
    return "\n".join(lines)


def to_json(comparison: Comparison) -> dict[str, Any]:
    """The JSON summary (``--json``): both passes, ratio, flips, one-pass cases, problems, ok."""
    c = comparison

    def pass_json(p: PassSummary) -> dict[str, Any]:
        return {
            "records": p.records,
            "counts": p.counts,
            "checker_errors": p.checker_errors,
            "lost": p.lost,
            "duplicates": p.duplicates,
            "wall_s": p.wall_s,
            "exit_code": p.exit_code,
            "results": p.results,
            "error": p.error,
            "toolchain": p.toolchain,
            "target": p.target,
        }

    return {
        "ok": c.ok,
        "problems": c.problems(),
        "passes": {"cold": pass_json(c.cold), "warm": pass_json(c.warm)},
        "warm_cold_ratio": c.warm_cold_ratio,
        "flips": [vars(f) for f in c.flips],
        "one_pass": [vars(o) for o in c.one_pass],
    }


def exit_status(comparison: Comparison) -> int:
    """0 when the sweep is stable (:attr:`Comparison.ok`), else 1."""
    return 0 if comparison.ok else 1


def load_pass(path: Path) -> tuple[list[Record], str | None]:
    """The records of one pass's results.jsonl and, when it could not be read, why."""
    if not path.is_file():
        return [], f"no {path.name}"
    try:
        return list(read_records(path)), None
    except (OSError, ValueError) as exc:
        return [], f"unreadable {path.name}: {exc}"


def kcheck_command(opts: argparse.Namespace, cache: Path, reports: Path, extra: Sequence[str]) -> list[str]:
    """The ``kcheck run`` command of one pass (through this interpreter, so a source tree works)."""
    cmd = [sys.executable, "-m", "checker.cli", "run", *[str(p) for p in opts.paths]]
    cmd += [f"--cache-dir={cache}", f"--reports-dir={reports}"]
    for name in ("configs", "sweep_seed", "shapes", "device"):
        value = getattr(opts, name)
        if value is not None:
            cmd += ["--" + name.replace("_", "-"), str(value)]
    if opts.workers is not None:
        cmd += ["-n", str(opts.workers)]
    return [*cmd, *extra]


def run_pass(cmd: list[str], env: dict[str, str], log: Path) -> tuple[int, float]:
    """Run one pass from the repository root, its output into ``log``; (exit status, wall s)."""
    with log.open("w", encoding="utf-8") as out:
        started = time.monotonic()
        code = subprocess.call(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        return code, time.monotonic() - started


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """Options, and the ``kcheck run`` arguments after ``--``."""
    raw = list(argv)
    extra: list[str] = []
    if "--" in raw:
        cut = raw.index("--")
        raw, extra = raw[:cut], raw[cut + 1 :]
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
        epilog="Exit status: 0 stable; 1 a flip, a missing or lost record, a checker-error record, or a "
        "pass that did not run to its end; 2 usage error. Arguments after -- go to kcheck run.",
    )
    p.add_argument("paths", nargs="*", type=Path, help="kernel files or directories (default: kcheck's)")
    p.add_argument("--kernels", action="append", type=Path, default=[], help="kernel path, repeatable")
    p.add_argument("--configs", type=int, help="kcheck run --configs (default: kcheck's own)")
    p.add_argument("--sweep-seed", type=int, help="kcheck run --sweep-seed")
    p.add_argument("--shapes", choices=("small", "full", "all"), help="kcheck run --shapes")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="kcheck run --device")
    p.add_argument("-n", "--workers", help="kcheck run -n (default: kcheck's own, $KCHECK_WORKERS or auto)")
    p.add_argument(
        "--reports-dir", type=Path, help="put the passes' reports and logs here (DIR/cold, DIR/warm)"
    )
    p.add_argument("--json", type=Path, help="write the JSON summary here")
    p.add_argument("--keep", action="store_true", help="keep the temporary caches (and reports)")
    opts = p.parse_args(raw)
    opts.paths = [k.resolve() for k in [*opts.paths, *opts.kernels]]
    missing = [str(k) for k in opts.paths if not k.exists()]
    if missing:
        p.error(f"no such kernel path: {', '.join(missing)}")
    return opts, extra


def main(argv: Sequence[str] | None = None) -> int:
    """Run the two passes, print the comparison, write ``--json``; the exit status (module doc)."""
    opts, extra = parse_args(sys.argv[1:] if argv is None else argv)
    tmp = Path(tempfile.mkdtemp(prefix="kcheck-stability-"))
    reports_root = opts.reports_dir.resolve() if opts.reports_dir else tmp
    reports_root.mkdir(parents=True, exist_ok=True)
    # One compile cache and one Triton cache for both passes, empty before the cold one.
    cache = tmp / "kcheck-cache"
    env = {**os.environ, "TRITON_CACHE_DIR": str(tmp / "triton-cache"), "PYTHONUNBUFFERED": "1"}
    summaries: dict[str, PassSummary] = {}
    records: dict[str, list[Record]] = {}
    try:
        for name in PASSES:
            reports = reports_root / name
            shutil.rmtree(reports, ignore_errors=True)
            cmd = kcheck_command(opts, cache, reports, extra)
            log = reports_root / f"{name}.log"
            print(f"{name}: {shlex.join(cmd)}", flush=True)
            code, wall = run_pass(cmd, env, log)
            results = reports / "results.jsonl"
            recs, error = load_pass(results)
            records[name] = recs
            summaries[name] = summarize_pass(
                name, recs, wall_s=wall, exit_code=code, results=str(results), error=error
            )
            print(f"    {wall:.1f} s, exit {code}, {len(recs)} records (log: {log})", flush=True)
    finally:
        if opts.keep:
            print(f"kept: {tmp} (caches{'' if opts.reports_dir else ', reports and logs'})")
        else:
            # The caches go; reports and logs stay where --reports-dir put them.
            shutil.rmtree(tmp, ignore_errors=True)
        if opts.reports_dir:
            print(f"reports and logs: {reports_root}")
    comparison = compare_passes(
        records["cold"], records["warm"], cold=summaries["cold"], warm=summaries["warm"]
    )
    print()
    print(render(comparison))
    if opts.json:
        opts.json.parent.mkdir(parents=True, exist_ok=True)
        opts.json.write_text(json.dumps(to_json(comparison), indent=2) + "\n", encoding="utf-8")
    return exit_status(comparison)


if __name__ == "__main__":
    sys.exit(main())
