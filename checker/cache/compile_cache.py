"""A content-addressed cache of compile verdicts, kept between runs.

A rerun of an unchanged sweep compiled every case again: on an H200 host a warm rerun took 98%
of a cold run's wall time, and twelve 60 s compile timeouts were paid again in full (issue 15).
The compile stage's outcome is a function of what is compiled, for what and with what, so it is
stored under a hash of exactly that (checker.cache.keys.compile_key) and reused when the same
compile comes again.

One JSON file per key, ``<root>/compile/<2 hex>/<key>.json`` (checker.cache.store). Never pickle: a
cache directory may be restored from a CI cache, which is untrusted input; an entry is used only
when it is a regular file signed for its key with this cache's secret (checker.cache.store), and is
then parsed as JSON and checked field by field (:func:`decode`); one that does not is a miss and
is removed. Entries are written to a temp file beside the entry and renamed over it, so
concurrent writers (xdist workers, several runs) and a writer killed with SIGKILL never leave a
half-written entry under an entry's name; stray temp files are removed by checker.cache.store.prune. The cache
is bounded (``--cache-max-mb``): the controller prunes the least recently used entries (mtime,
touched on every hit) once per run, at its end.

What is stored (:func:`encode`) is a final verdict only: a successful compile, a deterministic
compile failure (:data:`CACHED_ERRORS`), a compiler crash (a crash signal), or a compile timeout
that stood (CPU-bound, or timed out again when retried alone; checker.attempts). A worker killed
otherwise (the OOM killer), a job that raised something else, and test-hook jobs are not stored.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checker.attempts import CompileAttempts
from checker.cache.keys import SCHEMA
from checker.cache.store import BadEntry, EntryStore, Kind
from checker.categories import Category, categories
from checker.compile import CompileResult
from checker.diagnostics import Diagnosis
from checker.pool import Died, Error, JobOutcome, Ok, TimedOut

#: Error categories that are properties of the compiled code and target, not of the machine:
#: the only ``Error`` outcomes stored. A ``runtime-error`` may be a full /tmp or a missing ptxas.
#: (checker.categories.TRAITS: ``compile_cacheable``.)
CACHED_ERRORS = categories(lambda t: t.compile_cacheable)


# -- entries ---------------------------------------------------------------------------------


def _get(data: dict[str, Any], name: str, *types: type) -> Any:
    value = data.get(name, _MISSING) if isinstance(data, dict) else _MISSING
    if value is _MISSING or not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        raise BadEntry(f"field {name!r}: expected {'/'.join(t.__name__ for t in types)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise BadEntry(f"field {name!r}: not finite")
    return value


_MISSING = object()
_NUM = (int, float)


def _timed_out(t: TimedOut) -> dict[str, Any]:
    return {"seconds": t.seconds, "timeout_s": t.timeout_s, "cpu_s": t.cpu_s, "cpu_limit_s": t.cpu_limit_s}


def _optional_float(data: Any, name: str) -> float | None:
    return None if data.get(name) is None else float(_get(data, name, *_NUM))


def _timed_out_of(data: Any) -> TimedOut:
    return TimedOut(
        seconds=float(_get(data, "seconds", *_NUM)),
        timeout_s=float(_get(data, "timeout_s", *_NUM)),
        cpu_s=_optional_float(data, "cpu_s"),
        cpu_limit_s=_optional_float(data, "cpu_limit_s"),
    )


def encode(attempts: CompileAttempts) -> dict[str, Any] | None:
    """The JSON entry of a compile's final outcome, or None when it is not stored (see the module
    docstring)."""
    outcome = attempts.outcome
    first = _timed_out(attempts.first) if attempts.first else None
    entry: dict[str, Any] = {
        "schema": SCHEMA,
        "first": first,
        "budget_s": attempts.budget_s,
        "host_speed": attempts.host_speed,
        "cpu_s": getattr(outcome, "cpu_s", None),
    }
    match outcome:
        case Ok(result=CompileResult() as result):
            entry.update(kind="ok", seconds=outcome.seconds, result=dataclasses.asdict(result))
        case Error(diagnosis=Diagnosis() as d) if d.category in CACHED_ERRORS:
            entry.update(
                kind="error",
                seconds=outcome.seconds,
                stderr_tail=outcome.stderr_tail,
                diagnosis={
                    "category": d.category.value,
                    "message": d.message,
                    "signature": d.signature,
                    "fields": d.fields,
                },
            )
        case TimedOut():
            entry.update(kind="timeout", **_timed_out(outcome))
        case Died(crash_signal=True):
            entry.update(
                kind="crash",
                seconds=outcome.seconds,
                signal=outcome.signal,
                exit_status=outcome.exit_status,
                stderr_tail=outcome.stderr_tail,
            )
        case _:
            return None
    return entry


def _hex64(value: Any) -> str | None:
    """A Triton cache key (64 hex digits; it becomes a directory name), None if absent.

    Raises:
        BadEntry: anything else (a forged entry could name another directory).
    """
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]{64}", value):
        raise BadEntry("field 'triton_hash': expected 64 hex digits")
    return value


def _identifier(value: Any) -> str | None:
    """A kernel name (a Python identifier; it becomes a file name), None if absent.

    Raises:
        BadEntry: anything else.
    """
    if value is None:
        return None
    if not isinstance(value, str) or not value.isidentifier():
        raise BadEntry("field 'kernel_name': expected an identifier")
    return value


def decode(data: Any) -> CompileAttempts:
    """The compile attempts an entry describes (``cached`` not yet set).

    Raises:
        BadEntry: ``data`` is not an entry of this schema, or a field has the wrong type or value.
    """
    if _get(data, "schema", int) != SCHEMA:
        raise BadEntry("another schema")
    kind = _get(data, "kind", str)
    first = None if data.get("first") is None else _timed_out_of(data["first"])
    outcome: JobOutcome
    if kind == "ok":
        r = _get(data, "result", dict)
        stage_s = _get(r, "stage_s", dict)
        result = CompileResult(
            seconds=float(_get(r, "seconds", *_NUM)),
            shared_memory=_get(r, "shared_memory", int),
            num_warps=_get(r, "num_warps", int),
            num_stages=_get(r, "num_stages", int),
            registers=None if r.get("registers") is None else _get(r, "registers", int),
            spills=None if r.get("spills") is None else _get(r, "spills", int),
            level=_get(r, "level", str),
            stage_s={str(k): float(_get(stage_s, k, *_NUM)) for k in stage_s},
            triton_hash=_hex64(r.get("triton_hash")),
            kernel_name=_identifier(r.get("kernel_name")),
        )
        seconds = float(_get(data, "seconds", *_NUM))
        outcome = Ok(result, seconds=seconds, cpu_s=_optional_float(data, "cpu_s"))
    elif kind == "error":
        d = _get(data, "diagnosis", dict)
        try:
            category = Category(_get(d, "category", str))
        except ValueError:
            raise BadEntry("unknown category") from None
        if category not in CACHED_ERRORS:
            raise BadEntry(f"category {category.value} is never cached")
        diagnosis = Diagnosis(
            category, _get(d, "message", str), _get(d, "signature", str), _get(d, "fields", dict)
        )
        outcome = Error(
            diagnosis,
            float(_get(data, "seconds", *_NUM)),
            _get(data, "stderr_tail", str),
            cpu_s=_optional_float(data, "cpu_s"),
        )
    elif kind == "timeout":
        outcome = _timed_out_of(data)
    elif kind == "crash":
        outcome = Died(
            seconds=float(_get(data, "seconds", *_NUM)),
            signal=_get(data, "signal", str),
            exit_status=None,
            stderr_tail=_get(data, "stderr_tail", str),
            crash_signal=True,
        )
    else:
        raise BadEntry(f"unknown kind {kind!r}")
    budget = float(_get(data, "budget_s", *_NUM))
    speed = float(_get(data, "host_speed", *_NUM))
    if not speed > 0:
        raise BadEntry("field 'host_speed': not positive")
    return CompileAttempts(outcome, first=first, budget_s=budget, host_speed=speed)


def usable(attempts: CompileAttempts, budget_s: float) -> bool:
    """Whether a stored outcome is what compiling now with a budget of ``budget_s`` GPU-host CPU
    seconds (``--compile-timeout``) would give, on any host: budgets and costs are both in
    GPU-host CPU seconds (checker.hostspeed), so an entry made on a CI runner serves a laptop.

    A timeout stands for a budget no larger than the one it ran under (a larger one now may let
    the compile finish, so it is compiled again); any other outcome for a budget at least as
    large as the compile's cost (:attr:`CompileAttempts.gpu_host_cpu_s`; a smaller one now
    would have killed it).
    """
    if isinstance(attempts.outcome, TimedOut):
        return attempts.budget_s >= budget_s
    return attempts.gpu_host_cpu_s <= budget_s


@dataclass(frozen=True)
class CompileCache:
    """The compile verdicts under directory ``root`` (created on the first store)."""

    root: Path

    @property
    def _store(self) -> EntryStore:
        return EntryStore(self.root, Kind.COMPILE)

    def path(self, key: str) -> Path:
        """Where the entry of ``key`` (64 hex digits) lives."""
        return self._store.path(key)

    def get(self, key: str, budget_s: float) -> CompileAttempts | None:
        """The stored verdict of ``key`` as :class:`CompileAttempts` with ``cached`` set and
        ``lookup_s`` the seconds this lookup took; None on a miss: no entry, an entry that is not
        :func:`usable` under a budget of ``budget_s`` GPU-host CPU seconds, or a bad entry
        (removed, so that the compile that follows replaces it). Never raises for what is in
        the directory."""
        started = time.perf_counter()
        attempts = self._store.get(key, decode)
        if attempts is None:
            return None
        if not usable(attempts, budget_s):
            return None
        return dataclasses.replace(attempts, cached=True, lookup_s=round(time.perf_counter() - started, 4))

    def put(self, key: str, attempts: CompileAttempts) -> bool:
        """Store ``attempts`` under ``key`` if it is a verdict worth storing (:func:`encode`);
        True if stored. A directory that cannot be written is no error: the run goes on
        uncached."""
        entry = encode(attempts)
        return entry is not None and self._store.put(key, entry)


def open_cache(root: str | os.PathLike[str] | None) -> CompileCache | None:
    """The cache at ``root``, None when caching is off (``root`` None: ``--no-cache``)."""
    return None if root is None else CompileCache(Path(root))
