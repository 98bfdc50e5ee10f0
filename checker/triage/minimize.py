"""Minimal failing config: which knob values of a failing config make it fail.

A sampled config differs from a passing config of the same kernel (its default config, or the
nearest passing sampled one) in a dozen knob values; usually one or two of them matter. The
search is delta debugging (Zeller and Hildebrandt, "Simplifying and Isolating Failure-Inducing
Input", IEEE TSE 2002, the ``ddmin`` algorithm) over the set of knob values in which the failing
config differs from the passing one: a probe is the passing config with a subset of the failing
values applied, and a subset *fails* when its probe fails with the same category and signature
as the original case (or only the same category, ``match="category"``, or any failure,
``match="failure"``). The result is
1-minimal: taking away any one of its knob values makes the probe pass, or fail differently.

Knobs are the config's top-level keys, and the elements of list-valued keys of equal length
(``range_unroll_factors[1]``): one loop's unroll factor is one decision. An element that is
itself a list (a loop order) is one value, not split further: half a permutation is no config.

Each probe runs in the caller's ``probe`` function (the CLI runs it in an isolated case worker:
a probe that crashes or hangs costs that worker, never the search); the delta-debugging probes
are bounded by ``max_probes`` and cached by subset, so the search never probes a config twice.

A verdict the result rests on is **repeated** (:data:`REPEATS` probes of the same config): the
failing config (it must fail every time), the reference (it must pass every time), the config
found, and, for a minimal result, the found config without each one of its knob values (each
must pass every time). Probes of one config that disagree end the search ``flaky`` with the
counts and no minimal config: a racy kernel that fails half the time whatever the config made
27% of simulated searches without repeats blame one knob ("fails iff <knob>=<value>").
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from checker.categories import Category
from checker.model import Record

#: What counts as failing "the same way" (--match).
MATCHES = ("signature", "category", "failure")
#: Default bound on probes per search (--max-probes). ddmin needs O(k^2) probes in the worst case
#: for k differing knob values and about 2 log2(k) when one or two matter; 12 knobs: 64 is ample.
DEFAULT_MAX_PROBES = 64
#: Probes of each config a result rests on (the failing config, the reference, the config found
#: and each of its one-less configs): all of them must agree, else the search ends ``flaky``.
#: A probe that fails with p = 0.5 whatever the config (a racy kernel) ends a search with a
#: minimal config only when at least 3 * REPEATS - 1 probes happen to agree. Simulated (100,000
#: searches over 12 knobs): 1 search in 100,000 at 5, 33 at 4, about 400 at 3, 27,300 without
#: repeats (the 273 of 1000 of issue 23). Each repeat costs one probe per checked config.
REPEATS = 5


@dataclass(frozen=True, eq=False)
class Knob:
    """One knob value: ``key`` of the config, ``index`` into it for list-valued keys, and the
    failing config's ``value`` there."""

    key: str
    index: int | None
    value: Any

    @property
    def name(self) -> str:
        """``num_warps`` or ``range_unroll_factors[1]``."""
        return self.key if self.index is None else f"{self.key}[{self.index}]"


class Outcome(enum.StrEnum):
    """How a search ended."""

    #: a 1-minimal set of knob values was found
    MINIMAL = "minimal"
    #: ``max_probes`` ran out: the knob values found still fail but may not be minimal
    BUDGET = "budget"
    #: the failing config itself did not fail the same way when probed again (flaky, or it
    #: depends on something the probe does not repeat)
    NOT_REPRODUCED = "not-reproduced"
    #: the passing reference config fails the same way too: no knob value is to blame
    REFERENCE_FAILS = "reference-fails"
    #: probes of one config disagreed (failed the same way in some, not in others): no minimal
    #: config; ``Minimal.checks`` has the counts
    FLAKY = "flaky"


@dataclass(frozen=True)
class Probe:
    """One probe: the knob values applied to the reference config, and what the case became.
    ``outcome`` says it in words (:func:`describe`), ``same`` whether it counted as failing the
    same way, ``phase`` why it ran (``search``, or ``repeat <config>``)."""

    knobs: tuple[Knob, ...]
    category: Category
    signature: str | None
    seconds: float
    outcome: str = ""
    same: bool = False
    phase: str = "search"


@dataclass(frozen=True)
class Check:
    """The repeated probes of one config a result rests on: ``failed`` of ``probed`` failed the
    same way. ``config`` names it (``the failing config``, ``without num_warps``...)."""

    config: str
    failed: int
    probed: int

    @property
    def agrees(self) -> bool:
        return self.failed in (0, self.probed)

    def __str__(self) -> str:
        return f"{self.config} failed {self.failed} of {self.probed}"


@dataclass(frozen=True)
class Minimal:
    """A search's result. ``knobs`` are the failing values that matter (name -> value), ``config``
    the reference config with them applied (a complete config that fails), ``reference`` says
    which passing config was the starting point, ``probes`` every probe run, in order."""

    outcome: Outcome
    knobs: dict[str, Any]
    config: dict[str, Any]
    reference: str
    probes: tuple[Probe, ...]
    #: The repeated probes the result rests on, in order; for ``flaky``, the last one disagreed.
    checks: tuple[Check, ...] = ()

    def summary(self) -> str:
        """``fails iff num_warps=16 and range_unroll_factors[1]=4 (vs. default config; 9 probes)``,
        or ``flaky, no minimal config: the failing config failed the same way in 2 of 3 probes (...)``."""
        shown = " and ".join(f"{k}={v!r}" for k, v in self.knobs.items())
        last = self.checks[-1] if self.checks else None
        head = {
            Outcome.MINIMAL: f"fails iff {shown}" if shown else "fails with no knob changed",
            Outcome.BUDGET: f"fails with {shown} (probe budget ran out; may not be minimal)",
            Outcome.NOT_REPRODUCED: "the failing config did not fail the same way again"
            + (f" (0 of {last.probed} probes)" if last else ""),
            Outcome.REFERENCE_FAILS: "the reference config fails the same way: no knob is to blame"
            + (f" ({last.failed} of {last.probed} probes)" if last else ""),
            Outcome.FLAKY: "flaky, no minimal config: "
            + (f"{last.config} failed the same way in {last.failed} of {last.probed} probes" if last else ""),
        }[self.outcome]
        return f"{head} (vs. {self.reference}; {len(self.probes)} probes)"

    def fields(self) -> dict[str, Any]:
        """What a record carries: ``minimal_config`` (knob -> value; empty unless found) and
        ``minimal_config_search`` (outcome, reference, probes, summary)."""
        return {
            "minimal_config": dict(self.knobs) if self.outcome in (Outcome.MINIMAL, Outcome.BUDGET) else {},
            "minimal_config_search": {
                "outcome": self.outcome.value,
                "reference": self.reference,
                "probes": len(self.probes),
                "summary": self.summary(),
                "repeats": [
                    {"config": c.config, "failed": c.failed, "probed": c.probed} for c in self.checks
                ],
            },
        }


def describe(rec: Record) -> str:
    """A probe's outcome in words: its category, except a case that compiled (or was generated)
    for the target but was not run on a machine without a GPU, which is what it says, not
    ``not-run``."""
    if rec.category is Category.NOT_RUN and rec.fields.get("reason") == "no GPU":
        did = "compiled" if "compile_level" in rec.fields else "code generated"
        return f"{did} for {rec.target}, not run (no GPU)"
    return rec.category.value


def matches(rec: Record, failing: Record, match: str) -> bool:
    """Whether probe record ``rec`` fails the way ``failing`` did, under ``match``."""
    if match == "failure":
        # A config Helion rejects is no finding about the kernel: half of a sampled config
        # can be invalid (maxnreg=128 alone was, on an H200), and counting it as a failure
        # made the search blame that knob alone.
        return rec.failed and rec.category is not Category.INVALID_CONFIG
    return rec.category is failing.category and (match == "category" or rec.signature == failing.signature)


def knob_diff(failing: Mapping[str, Any], passing: Mapping[str, Any]) -> list[Knob]:
    """The knob values in which ``failing`` differs from ``passing``, in ``failing``'s key order.
    Values compare with their type (True is not 1)."""
    out: list[Knob] = []
    for key, value in failing.items():
        other = passing.get(key, _MISSING)
        if isinstance(value, list) and isinstance(other, list) and len(value) == len(other):
            out += [
                Knob(key, i, v) for i, (v, o) in enumerate(zip(value, other, strict=True)) if not _same(v, o)
            ]
        elif not _same(value, other):
            out.append(Knob(key, None, value))
    return out


_MISSING = object()


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def apply(passing: Mapping[str, Any], knobs: Sequence[Knob]) -> dict[str, Any]:
    """``passing`` with ``knobs`` applied (a new dict; ``passing`` is not changed)."""
    config = copy.deepcopy(dict(passing))
    for knob in knobs:
        if knob.index is None:
            config[knob.key] = copy.deepcopy(knob.value)
        else:
            config[knob.key][knob.index] = copy.deepcopy(knob.value)
    return config


class BudgetExhausted(Exception):
    """Raised inside the search when ``max_probes`` probes have run."""


def minimize(
    failing: Record,
    reference: Mapping[str, Any],
    probe: Callable[[dict[str, Any]], Record],
    *,
    reference_name: str = "reference config",
    match: str = "signature",
    max_probes: int = DEFAULT_MAX_PROBES,
    repeats: int = REPEATS,
    on_probe: Callable[[Probe, int], None] | None = None,
) -> Minimal:
    """Delta-debug ``failing.config`` toward ``reference`` (a config dict that passes).

    ``probe(config)`` checks the case under a config and returns its record. ``match`` is
    ``signature`` (same category and signature as ``failing``), ``category``, or ``failure``
    (any failure: a wrong result whose knobs give an illegal memory access on a plain config
    still counts). ``on_probe(p, n)`` is called after the n-th probe (progress).

    The failing config and the reference are probed ``repeats`` times first, the config found
    (and, for a minimal one, each of its one-less configs) until it has ``repeats`` probes: any
    config whose probes disagree ends the search ``flaky``. At most ``max_probes`` probes
    search (delta debugging); the repeats come on top, at most ``repeats`` per checked config.

    Raises:
        ValueError: ``failing`` has no config dict, ``match`` is none of :data:`MATCHES`, or
            ``repeats`` < 1.
    """
    if not isinstance(failing.config, dict):
        raise ValueError(f"{failing.case.name}: the record has no config to minimize")
    if match not in MATCHES:
        raise ValueError(f"match must be one of {', '.join(MATCHES)}, got {match!r}")
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    diff = knob_diff(failing.config, reference)
    probes: list[Probe] = []
    checks: list[Check] = []
    # Every probe's verdict, by subset (by position: knob values may be lists, which do not hash).
    seen: dict[frozenset[int], list[bool]] = {}
    searched = 0

    def ordered(subset: Sequence[Knob]) -> list[Knob]:
        return sorted(subset, key=lambda k: _position(diff, k))

    def key(subset: Sequence[Knob]) -> frozenset[int]:
        return frozenset(_position(diff, k) for k in subset)

    def observe(subset: Sequence[Knob], phase: str) -> bool:
        knobs = ordered(subset)
        rec = probe(apply(reference, knobs))
        same = matches(rec, failing, match)
        p = Probe(tuple(knobs), rec.category, rec.signature, rec.duration_s, describe(rec), same, phase)
        probes.append(p)
        seen.setdefault(key(subset), []).append(same)
        if on_probe is not None:
            on_probe(p, len(probes))
        return same

    def fails(subset: Sequence[Knob]) -> bool:
        nonlocal searched
        if key(subset) in seen:
            return seen[key(subset)][0]
        if searched >= max_probes:
            raise BudgetExhausted
        searched += 1
        return observe(subset, "search")

    def confirm(subset: Sequence[Knob], name: str) -> bool:
        """Probe ``subset`` until it has ``repeats`` verdicts (stopping at the first that
        disagrees); whether it fails, when all agree.

        Raises:
            _Disagree: they do not."""
        verdicts = seen.setdefault(key(subset), [])
        while len(verdicts) < repeats and len(set(verdicts)) < 2:
            observe(subset, f"repeat {name}")
        check = Check(name, sum(verdicts), len(verdicts))
        checks.append(check)
        if not check.agrees:
            raise _Disagree
        return check.failed > 0

    def result(outcome: Outcome, knobs: Sequence[Knob]) -> Minimal:
        kept = ordered(knobs)
        return Minimal(
            outcome,
            {k.name: k.value for k in kept},
            apply(reference, kept),
            reference_name,
            tuple(probes),
            tuple(checks),
        )

    best: list[Knob] = list(diff)
    try:
        if not confirm(diff, "the failing config"):
            return result(Outcome.NOT_REPRODUCED, diff)
        if confirm([], "the reference config"):
            return result(Outcome.REFERENCE_FAILS, [])
        outcome = Outcome.MINIMAL
        try:
            best = _ddmin(diff, fails, lambda found: best.__setitem__(slice(None), found))
        except BudgetExhausted:
            outcome = Outcome.BUDGET
        if len(best) < len(diff):
            confirm(best, "the config found")  # its first probe failed: it fails, or disagrees
        if outcome is Outcome.MINIMAL:
            for knob in best:
                # ddmin probed each one-less config and saw it pass (else it would have gone on);
                # repeated, it passes every time, or disagrees.
                confirm([k for k in best if k is not knob], f"the config found without {knob.name}")
    except _Disagree:
        return result(Outcome.FLAKY, [])
    return result(outcome, best)


class _Disagree(Exception):
    """Raised inside the search when probes of one config disagreed."""


def _position(diff: list[Knob], knob: Knob) -> int:
    return next(i for i, k in enumerate(diff) if k is knob)


def _ddmin(
    items: list[Knob], fails: Callable[[Sequence[Knob]], bool], found: Callable[[list[Knob]], None]
) -> list[Knob]:
    """Zeller's ddmin: a 1-minimal failing subset of ``items`` (which fail as a whole).
    ``found`` hears each smaller failing subset, so a search cut short keeps its progress."""
    n = 2
    while len(items) >= 2:
        chunks = _split(items, n)
        for chunk in chunks:
            if fails(chunk):
                items, n = chunk, 2
                found(items)
                break
        else:
            for chunk in chunks:
                rest = [k for k in items if all(k is not c for c in chunk)]
                if fails(rest):
                    items, n = rest, max(n - 1, 2)
                    found(items)
                    break
            else:
                if n >= len(items):
                    break
                n = min(len(items), 2 * n)
    return items


def _split(items: list[Knob], n: int) -> list[list[Knob]]:
    size, extra = divmod(len(items), n)
    out, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        if end > start:
            out.append(items[start:end])
        start = end
    return out
