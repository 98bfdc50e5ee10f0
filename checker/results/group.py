"""Failures grouped into likely causes: one group per bug, whatever kernels, shapes and configs
it hit (docs/triage.md).

A group's key is the record's category and signature (checker/diagnostics.py), plus a *scope*
where the signature alone would merge or split causes wrongly (each category's ``scope`` in
checker.categories.TRAITS):

- Mismatch-like categories (``GroupScope.KERNEL``, :attr:`Category.is_mismatch`): their
  signature is the comparison message without any value ("N of N elements (N) outside rtol=N
  atol=N; ...", checker.diagnostics.normalize_values), the same text for every kernel, so two
  unrelated kernels that compute wrong numbers would share it. What went wrong is in the kernel
  (or its spec, for ``reference-error``), so the kernel is part of the key: one wrong constant in
  one kernel is one group over every shape, dtype and config.
- ``numel-overflow`` (``GroupScope.LIMIT``): the numbers are stripped from the signature, so
  both the tile's numel and Triton's limit are gone; the limit is put back (it names the rule
  that was broken, the numel only how far a config overshot it).
- Everything else (compiler crashes, out-of-resources, timeouts, CUDA errors): the signature
  holds no kernel name and no shape numbers, so one compiler bug across kernels is one group.

The scope is added here, not put into the records' signatures: the signature of a crash stays
one value across kernels, and records written before a scope rule changes group by it too.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from checker.categories import Category, GroupScope, Headline
from checker.model import Record
from checker.results.baseline import CaseResult, Group, Status
from checker.results.context import NotRunGroup, ResultTable, not_run_groups, result_tables
from checker.results.merge import record_key

#: Longest headline, characters (a headline is one line of a log or a comment).
MAX_HEADLINE = 200


@dataclass(frozen=True)
class GroupKey:
    """What makes failures one group: category, signature and scope (``kernel=NAME`` for
    categories of scope ``GroupScope.KERNEL``, ``limit=N`` for ``GroupScope.LIMIT``, else
    empty)."""

    category: Category
    signature: str | None
    scope: str = ""

    @property
    def anchor(self) -> str:
        """Stable markdown anchor of the group, ``group-`` plus 10 hex digits of a hash of the
        key: the same cause keeps its anchor across runs and machines."""
        text = f"{self.category.value}\n{self.signature or ''}\n{self.scope}"
        return "group-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]


def group_key(rec: Record) -> GroupKey:
    """The group a failing record belongs to (rules in the module docstring)."""
    scope = ""
    rule = rec.category.traits.scope
    if rule is GroupScope.KERNEL:
        scope = f"kernel={rec.case.kernel}"
    elif rule is GroupScope.LIMIT and rec.fields.get("limit") is not None:
        scope = f"limit={rec.fields['limit']}"
    return GroupKey(rec.category, rec.signature, scope)


# --- headline ---------------------------------------------------------------------------------

_NUMEL = re.compile(r"numel \(\d+\) exceeds triton maximum tensor numel \(\d+\)")
_OUT_OF_RESOURCE = re.compile(r"out of resource: [^\n]*")
_PTXAS_FATAL = re.compile(r"ptxas fatal\s*:[^\n]*")
# Triton's CompilationError starts with the source position only ("CompilationError: at 24:29:").
_POSITION_ONLY = re.compile(r"^(\w+: )?at \d+:\d+:\s*$")
# A line of the exception chain (checker/diagnostics.py writes "Type: text" per exception).
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Failure|Interrupt|Exit)\b: \S")


def headline(rec: Record) -> str:
    """The most informative line of a record's message, for group titles, by its category's
    ``headline`` rule (checker.categories.TRAITS):

    - ``Headline.NUMEL`` (``numel-overflow``): the ``numel (N) exceeds triton maximum tensor
      numel (M)`` line (not the ``CompilationError: at 3:14:`` position that starts the message);
    - ``Headline.OUT_OF_RESOURCE`` (``out-of-resources``): the ``out of resource: ...`` line;
    - ``Headline.COMPILER_CRASH`` (``compiler-crash``): ptxas's first ``fatal`` line, else the
      failing MLIR pass, else the innermost exception line (a Triton frontend error names its
      cause last);
    - ``Headline.INNERMOST_EXCEPTION`` (``runtime-error``, ``helion-internal-error``): the
      innermost exception line;
    - ``Headline.FIRST_LINE``, and when a rule finds nothing: the first line that is not only a
      source position.

    At most :data:`MAX_HEADLINE` characters; the category's name when the message is empty.
    """
    message = rec.message or ""
    found = _pick(rec, message)
    line = " ".join(found.split()) if found else rec.category.value
    return line if len(line) <= MAX_HEADLINE else line[: MAX_HEADLINE - 1] + "…"


def _pick(rec: Record, message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    rule = rec.category.traits.headline
    if rule is Headline.NUMEL:
        m = _NUMEL.search(message)
        if m:
            return m.group(0)
    if rule is Headline.OUT_OF_RESOURCE:
        m = _OUT_OF_RESOURCE.search(message)
        if m:
            return m.group(0)
    if rule is Headline.COMPILER_CRASH:
        m = _PTXAS_FATAL.search(message)
        if m:
            return m.group(0)
        failing_pass = rec.fields.get("pass")
        if isinstance(failing_pass, str) and failing_pass:
            return f"MLIR pass {failing_pass} failed"
    if rule in (Headline.COMPILER_CRASH, Headline.INNERMOST_EXCEPTION):
        chain = [line for line in lines if _EXCEPTION_LINE.match(line) and not _POSITION_ONLY.match(line)]
        if chain:
            return chain[-1]
    return next((line for line in lines if not _POSITION_ONLY.match(line)), "")


# --- knobs ------------------------------------------------------------------------------------


def flatten_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A config as knob -> leaf value, list-valued knobs indexed (``block_sizes[1]``) and nested
    dicts dotted (``a.b``), in the config's own key order. Empty lists have no knob."""
    return dict(_leaves("", config))


def _leaves(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, sub in value.items():
            yield from _leaves(f"{prefix}.{key}" if prefix else str(key), sub)
    elif isinstance(value, list | tuple):
        for i, sub in enumerate(value):
            yield from _leaves(f"{prefix}[{i}]", sub)
    else:
        yield prefix, value


def shared_knobs(configs: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Knobs with the same value in every config (flattened: see :func:`flatten_config`); a knob
    missing from one config is not shared. Empty for no configs."""
    shared: dict[str, Any] | None = None
    for config in configs:
        flat = flatten_config(config)
        if shared is None:
            shared = flat
        else:
            # Compared with type, so True and 1 (or 1 and 1.0) are different knob values.
            shared = {
                k: v for k, v in shared.items() if k in flat and (type(flat[k]), flat[k]) == (type(v), v)
            }
    return shared or {}


def format_knobs(knobs: Mapping[str, Any]) -> str:
    """``num_warps=16, pid_type='flat'``: knob assignments as in a ``helion.Config(...)`` call."""
    return ", ".join(f"{k}={v!r}" for k, v in knobs.items())


# --- groups -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """One failing record and the index of the run it came from (0: the first given)."""

    run: int
    record: Record


@dataclass(frozen=True)
class FailureGroup:
    """Failing records of one cause (:class:`GroupKey`) over one or several runs."""

    key: GroupKey
    seen: tuple[Seen, ...]

    @property
    def anchor(self) -> str:
        """The group's markdown anchor (:attr:`GroupKey.anchor`)."""
        return self.key.anchor

    @property
    def records(self) -> tuple[Record, ...]:
        """The failing records, in run order then file order."""
        return tuple(s.record for s in self.seen)

    @property
    def cases(self) -> int:
        """Distinct cases that failed this way (a case failing in several runs counts once)."""
        return len({record_key(r) for r in self.records})

    @property
    def runs(self) -> tuple[int, ...]:
        """Indices of the runs this group failed in, ascending."""
        return tuple(sorted({s.run for s in self.seen}))

    @property
    def representative(self) -> Record:
        """The case to show and reproduce: the first record of the latest run the group was
        seen in (the most recent toolchain and code)."""
        last = self.runs[-1]
        return next(s.record for s in self.seen if s.run == last)

    @property
    def headline(self) -> str:
        """:func:`headline` of the representative."""
        return headline(self.representative)

    def sources(self) -> Counter[str]:
        """Cases per kernel source line a compile error points at (:func:`source_of`); empty
        when no record names one."""
        return _count_cases((r for r in self.records if source_of(r) is not None), source_of)

    def kernels(self) -> Counter[str]:
        """Cases per kernel."""
        return _count_cases(self.records, lambda r: r.case.kernel)

    def dtypes(self) -> Counter[str]:
        """Cases per dtype."""
        return _count_cases(self.records, lambda r: r.case.dtype)

    def shapes(self) -> Counter[str]:
        """Cases per shape (``8192x2048``)."""
        return _count_cases(self.records, lambda r: r.case.shape_str)

    def configs(self) -> list[dict[str, Any]]:
        """The distinct configs of the failing records (records without one are left out)."""
        out: list[dict[str, Any]] = []
        for rec in self.records:
            if isinstance(rec.config, dict) and rec.config not in out:
                out.append(rec.config)
        return out

    def shared_knobs(self) -> dict[str, Any]:
        """Knob values every failing config of the group has (:func:`shared_knobs`)."""
        return shared_knobs(self.configs())

    def minimal_config(self) -> dict[str, Any] | None:
        """``fields.minimal_config`` (knob -> value, from the minimal-failing-config search) of
        the representative, else of the latest record that carries one; None when none does."""
        for rec in (self.representative, *reversed(self.records)):
            found = rec.fields.get("minimal_config")
            if isinstance(found, dict) and found:
                return found
        return None


def source_of(rec: Record) -> str | None:
    """``block_absmax.py:44: yv[tm, :, tn, :] = ...``: the kernel source line a compile error
    points at (fields ``source_file``, ``source_line`` and ``source``, set by
    checker/diagnostics.py; the PR comment lists them as fields), None when the record has none."""
    file, line, text = (rec.fields.get(k) for k in ("source_file", "source_line", "source"))
    if not isinstance(file, str) or not isinstance(line, int) or isinstance(line, bool):
        return None
    return f"{file}:{line}" + (f": {text}" if isinstance(text, str) and text else "")


def _count_cases(records: Iterable[Record], key: Any) -> Counter[str]:
    seen: dict[str, str] = {}
    for rec in records:
        seen.setdefault(record_key(rec), str(key(rec)))
    return Counter(seen.values())


@dataclass(frozen=True)
class Triage:
    """The failure groups of one or several runs (``runs``: their names, oldest first), largest
    group first; and, of the last run only, the cases that did not run (``not_run``, by reason)
    and tritonbench's result tables (``tables``, checker/results/context.py)."""

    runs: tuple[str, ...]
    groups: tuple[FailureGroup, ...]
    not_run: tuple[NotRunGroup, ...] = ()
    tables: tuple[ResultTable, ...] = ()

    @property
    def failing_cases(self) -> int:
        """Distinct failing cases over all groups."""
        return sum(g.cases for g in self.groups)

    @property
    def not_run_cases(self) -> int:
        """Cases of the last run that did not run (lost ones excepted: they are failures)."""
        return sum(g.cases for g in self.not_run)


def triage(runs: Sequence[tuple[str, Sequence[Record]]]) -> Triage:
    """Group the failing records (:attr:`Record.failed`: failure categories and lost cases) of
    ``runs`` (name, records), given oldest first. Largest group (most cases) first; ties by
    category, then anchor, so the order is stable.

    The not-run cases and result tables are the last run's only: unlike a failure, which a
    reader wants to see recur or go away, an interruption or a timing of an older run says
    nothing about the newest code, and mixing tables of several runs would mix machines."""
    buckets: dict[GroupKey, list[Seen]] = {}
    for index, (_, records) in enumerate(runs):
        for rec in records:
            if rec.failed:
                buckets.setdefault(group_key(rec), []).append(Seen(index, rec))
    groups = [FailureGroup(key, tuple(seen)) for key, seen in buckets.items()]
    groups.sort(key=lambda g: (not g.key.category.shown_first, -g.cases, g.key.category.value, g.anchor))
    last: Sequence[Record] = runs[-1][1] if runs else ()
    return Triage(
        tuple(name for name, _ in runs),
        tuple(groups),
        not_run=not_run_groups(last),
        tables=result_tables(last),
    )


def split_groups(groups: Sequence[Group]) -> list[Group]:
    """Baseline groups (category + signature, checker/results/baseline.py) split by
    :func:`group_key`, so that the PR comment and the terminal show the same groups as triage.md;
    biggest first. The record a group is keyed by is the one the baseline grouped it by (the
    base's for fixed cases)."""
    out: list[Group] = []
    for group in groups:
        parts: dict[GroupKey, list[CaseResult]] = {}
        for case in group.cases:
            parts.setdefault(group_key(shown_record(case, group.status)), []).append(case)
        out += [Group(group.status, group.category, group.signature, tuple(c)) for c in parts.values()]
    out.sort(key=lambda g: (*_order(g), anchor_of(g)))
    return out


def _order(g: Group) -> tuple[bool, int, str, str]:
    # kcheck's own bugs first (Category.shown_first), then the biggest group.
    return (not g.category.shown_first, -len(g.cases), g.category.value, g.signature or "")


def shown_record(case: CaseResult, status: Status) -> Record:
    """The record a baseline group shows for ``case``: the base's for a fixed case, else the
    case's own failing attempt."""
    base = case.base_record
    return base if status is Status.FIXED and base is not None else case.record


def anchor_of(group: Group) -> str:
    """The triage anchor of a baseline group (its representative's :func:`group_key`)."""
    return group_key(shown_record(group.representative, group.status)).anchor
