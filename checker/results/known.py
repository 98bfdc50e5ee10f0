"""Known failures: the committed baseline that ``kcheck run`` compares its records with.

The file is a results.jsonl (the format ``kcheck report --baseline`` reads, docs/records.md)
holding one entry per known failure: the record of a case that failed, keyed as every baseline
is (:func:`checker.results.merge.record_key`: the node id) and compared by category
(:func:`checker.results.baseline.classify`). A failure is pre-existing only when the file lists
its case with the same category; anything else that fails is new. A ``checker-error`` never is
pre-existing (``Owner.CHECKER``), nor a lost case (it says what happened to the run, not to the
case), so neither is ever written here; golden failures are not written either (they are
accepted with ``--update-golden``, docs/goldens.md), though a hand-written golden entry is read.

``kcheck run --update-baseline`` rewrites the file from a run's records (:func:`update`): the
cases the run checked get their current outcome (a failure is listed, a pass is dropped), the
entries of cases it did not run are kept, and entries of cases that no longer exist are dropped
only where the run covered their kernel file in full. Entries are sorted by key and carry no
timing, so an unchanged suite rewrites the same bytes, and an entry whose case fails as before
is kept as it was.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from checker.atomic import write_atomic
from checker.categories import GOLDEN_CATEGORIES, Owner
from checker.model import Record
from checker.results.baseline import Classification, classify
from checker.results.merge import (
    EMPTY_SHARD,
    READ_ERRORS,
    MergedRun,
    Refused,
    Shard,
    merge,
    open_regular,
    parse_stream,
    record_key,
)


def read(path: Path) -> MergedRun:
    """The entries of the known-failures file ``path`` (an empty file: none).

    Raises:
        ValueError: one line naming ``path``: it does not exist, is not a regular file, cannot
            be read, or a line of it is not a valid record.
    """
    try:
        with open_regular(path, what="baseline") as stream:
            shard = parse_stream(str(path), stream)
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist") from None
    except Refused as exc:
        raise ValueError(f"{path}: cannot read: {exc}") from None
    except READ_ERRORS as exc:
        raise ValueError(f"{path}: cannot read: {exc}") from None
    problems = [c for c in shard.corrupt if c.reason != EMPTY_SHARD]
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ValueError(f"unreadable baseline {problems[0].describe()}{more}")
    return merge([shard])


def of_run(records: Sequence[Record]) -> MergedRun:
    """This run's records as :func:`checker.results.baseline.classify` takes them."""
    return merge([Shard("this run", tuple(records), (), "this run")])


def compare(records: Sequence[Record], known: MergedRun) -> Classification:
    """Every case of this run against the known failures: ``new``, ``pre-existing``,
    ``golden``, ``passed``, ``skipped`` (rules in checker/results/baseline.py)."""
    return classify(of_run(records), known)


def listable(rec: Record) -> bool:
    """Whether a record may be a known failure: it failed, and neither kcheck's own bug, nor a
    lost case, nor a golden check."""
    return (
        rec.failed
        and not rec.lost
        and rec.category.traits.owner is not Owner.CHECKER
        and rec.category not in GOLDEN_CATEGORIES
    )


@dataclass(frozen=True)
class Update:
    """A rewritten known-failures file: its entries, and what changed (keys, sorted)."""

    entries: tuple[Record, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    #: Listed before and after, with another category.
    changed: tuple[str, ...]
    #: Entries kept because this run did not check their case (not selected, lost).
    kept_unrun: int


def _entry(rec: Record) -> Record:
    # Timing and the worker differ on every run; an entry is what failed and how.
    return dataclasses.replace(rec, duration_s=0.0, stages={}, worker=None)


def update(known: MergedRun | None, records: Iterable[Record], gone: Callable[[str], bool]) -> Update:
    """The known failures after this run.

    ``records``: this run's records; a case with a record that is not lost and not a
    ``checker-error`` counts as checked, and its entry becomes its failing record (a known
    failure whose category is unchanged keeps its old entry byte for byte) or goes (it passed,
    was skipped, or is a golden failure). ``gone(key)``: whether an entry's case, which this run
    did not check, no longer exists (its kernel file was collected in full without it, or was
    deleted); such entries are dropped, every other unchecked entry is kept.
    """
    old: dict[str, Record] = {}
    if known is not None:
        for key, attempts in known.attempts.items():
            old[key] = attempts[-1]
    checked: dict[str, Record | None] = {}
    for rec in records:
        if rec.lost or rec.category.traits.owner is Owner.CHECKER:
            continue
        key = record_key(rec)
        if listable(rec):
            before = old.get(key)
            checked[key] = before if before is not None and before.category is rec.category else _entry(rec)
        else:
            checked.setdefault(key, None)
    entries: dict[str, Record] = {}
    kept_unrun = 0
    for key, rec in old.items():
        if key not in checked and not gone(key):
            entries[key] = rec
            kept_unrun += 1
    entries.update({k: r for k, r in checked.items() if r is not None})
    return Update(
        entries=tuple(entries[k] for k in sorted(entries)),
        added=tuple(sorted(k for k in entries if k not in old)),
        removed=tuple(sorted(k for k in old if k not in entries)),
        changed=tuple(sorted(k for k in entries if k in old and entries[k] is not old[k])),
        kept_unrun=kept_unrun,
    )


def write(path: Path, entries: Sequence[Record]) -> None:
    """Replace ``path`` atomically with ``entries``, one JSON line each.

    Raises:
        OSError: the file cannot be written.
    """
    write_atomic(path, "".join(r.to_json() + "\n" for r in entries).encode("utf-8", "surrogatepass"))
