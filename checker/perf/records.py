"""Timing records: the ``timing`` kind of results.jsonl line (docs/perf.md#what-is-recorded).

A timing record is not a case record: it has no Category, it never counts as a case and it
never fails a run by itself. It shares results.jsonl with the case records and is told apart by
its ``"kind": "timing"`` key (:data:`checker.model.OTHER_KINDS`), which case readers skip
(:func:`checker.results.jsonl.read_records`, :func:`checker.results.validate.parse_record`).

Every record is checked where it is made (``__post_init__``) and again where it is read
(:meth:`TimingRecord.from_json`): a results file may come from a pull request's own run.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checker.model import CaseId, Mode, Record, encodable, other_kind

#: The ``kind`` value of a timing line (one of :data:`checker.model.OTHER_KINDS`).
KIND = "timing"
#: Version of the timing record schema; readers reject others.
TIMING_SCHEMA = 1
#: Most per-repetition samples kept per record: sorted, evenly thinned (order statistics), enough
#: for a median and a MAD without making a 5 us kernel's 20,000 repetitions a 400 KB line.
MAX_SAMPLES = 64
#: Longest timing line read, in bytes (a real one is about 2 KB).
MAX_LINE_BYTES = 1 << 20
#: ``impl`` of the derived row "fastest timed config of the kernel" (named or sampled), which
#: ingested Helion implementations (Helion's autotuned best) are compared with.
BEST = "best"


class Role(enum.StrEnum):
    """What a timing record timed."""

    #: A named config of the spec (``impl`` is its name).
    NAMED = "named"
    #: The fastest passing sampled config of its kernel x shape x dtype (``impl``: ``cfgK``).
    SAMPLED = "sampled"
    #: The spec's PyTorch reference at the kernel's dtype, eager (``impl``: ``torch-eager``).
    EAGER = "torch-eager"
    #: The same reference under ``torch.compile`` (``impl``: ``torch-compile``).
    COMPILED = "torch-compile"
    #: A cell of a benchmark log's result table (``kcheck ingest-log``, checker/perf/ingested.py).
    INGESTED = "ingested"


#: Roles whose records time the kernel itself (not a reference).
KERNEL_ROLES = frozenset({Role.NAMED, Role.SAMPLED})


def _finite(value: object, what: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"timing record: {what} is {value!r}, not a finite number")
    if value < 0 or (positive and value == 0):
        raise ValueError(f"timing record: {what} is {value!r}, not {'> 0' if positive else '>= 0'}")
    return float(value)


def _count(value: object, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"timing record: {what} is {value!r}, not an integer >= 0 or null")
    return value


def thin(samples: Iterable[float], limit: int = MAX_SAMPLES) -> tuple[float, ...]:
    """``samples`` sorted and cut to at most ``limit`` evenly spaced order statistics (the first
    and last included), so the median and the MAD of the kept values are those of the whole, to
    within one spacing."""
    ordered = sorted(float(s) for s in samples)
    if len(ordered) <= limit:
        return tuple(ordered)
    step = (len(ordered) - 1) / (limit - 1)
    return tuple(ordered[round(i * step)] for i in range(limit))


@dataclass(frozen=True)
class TimingRecord:
    """One timed implementation of one kernel x shape x dtype (times in milliseconds).

    Attributes:
        kernel, shape, dtype: the case group, as in :class:`checker.model.CaseId`.
        impl: config name (``default``, ``cfg3``), ``torch-eager``, ``torch-compile``, or a
            benchmark log's implementation (``best`` for a Helion one: checker/perf/ingested.py).
        role: :class:`Role`.
        median_ms: median of the timed repetitions, ms (``triton.testing.do_bench``, warm-up
            excluded); for an ingested cell, the log's latency.
        samples_ms: per-repetition times, ms, sorted and thinned to :data:`MAX_SAMPLES`; empty
            when unknown (ingested).
        reps: repetitions behind ``median_ms`` (0: unknown).
        nbytes: bytes the case must move at least (inputs read once, outputs written once,
            mutated arguments read and written); None: unknown.
        flops: floating-point operations of the reference (``torch.utils.flop_counter``: matmuls,
            convolutions, attention); 0 for a kernel without such ops; None: unknown.
        ceilings: the device's measured ceilings this run: ``copy_gbps`` (GB/s of a large device
            copy) and ``matmul_tflops`` (TFLOP/s of a large matmul at this dtype).
        rotated: input sets rotated between repetitions (1: none; the working set exceeds L2).
        device, target, toolchain: where it ran; ``config``: the full config dict (kernel roles).
        source: the case's node id, or ``log:line`` of an ingested cell.
    """

    kernel: str
    shape: tuple[int, ...]
    dtype: str
    impl: str
    role: Role
    median_ms: float
    samples_ms: tuple[float, ...] = ()
    reps: int = 0
    nbytes: int | None = None
    flops: int | None = None
    ceilings: dict[str, float] = field(default_factory=dict)
    rotated: int = 1
    device: str = ""
    target: str = ""
    toolchain: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] | None = None
    source: str = ""
    kind: str = KIND
    schema: int = TIMING_SCHEMA

    def __post_init__(self) -> None:
        if self.kind != KIND or self.schema != TIMING_SCHEMA:
            raise ValueError(f"timing record: kind {self.kind!r} schema {self.schema!r}")
        object.__setattr__(self, "role", Role(self.role))
        for name in ("kernel", "dtype", "impl", "device", "target", "source"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise ValueError(f"timing record: {name} is {type(value).__name__}, not a string")
            object.__setattr__(self, name, encodable(value)[:500])
        if not self.kernel or not self.impl:
            raise ValueError("timing record: kernel and impl must not be empty")
        shape = tuple(self.shape)
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise ValueError(f"timing record: shape {self.shape!r} is not a list of integers >= 0")
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "median_ms", _finite(self.median_ms, "median_ms", positive=True))
        samples = tuple(_finite(s, "a sample") for s in self.samples_ms)
        if len(samples) > MAX_SAMPLES:
            raise ValueError(f"timing record: {len(samples)} samples, over {MAX_SAMPLES} (use thin())")
        object.__setattr__(self, "samples_ms", samples)
        _count(self.reps, "reps")
        _count(self.nbytes, "bytes")
        _count(self.flops, "flops")
        if not isinstance(self.rotated, int) or isinstance(self.rotated, bool) or self.rotated < 1:
            raise ValueError(f"timing record: rotated is {self.rotated!r}, not an integer >= 1")
        if not isinstance(self.ceilings, dict):
            raise ValueError("timing record: ceilings is not an object")
        for key, value in self.ceilings.items():
            _finite(value, f"ceilings[{key!r}]", positive=True)
        if not isinstance(self.toolchain, dict) or not all(
            isinstance(v, str) for v in self.toolchain.values()
        ):
            raise ValueError("timing record: toolchain is not an object of strings")
        if self.config is not None and not isinstance(self.config, dict):
            raise ValueError("timing record: config is not an object or null")

    @property
    def key(self) -> tuple[str, tuple[int, ...], str, str]:
        """Identity across runs: (kernel, shape, dtype, impl)."""
        return (self.kernel, self.shape, self.dtype, self.impl)

    @property
    def shape_str(self) -> str:
        return "x".join(str(d) for d in self.shape) or "-"

    @property
    def gbps(self) -> float | None:
        """Achieved bandwidth, GB/s (10^9 bytes per second) of :attr:`nbytes` in the median time."""
        return self.nbytes / (self.median_ms * 1e-3) / 1e9 if self.nbytes else None

    @property
    def tflops(self) -> float | None:
        """Achieved TFLOP/s (10^12 FLOP per second) of :attr:`flops` in the median time."""
        return self.flops / (self.median_ms * 1e-3) / 1e12 if self.flops else None

    @property
    def roofline_ms(self) -> float | None:
        """The fastest time the measured ceilings allow, ms: the larger of bytes / copy bandwidth
        and FLOPs / matmul throughput (the roofline model, Williams et al., CACM 2009)."""
        bounds = []
        if self.nbytes and "copy_gbps" in self.ceilings:
            bounds.append(self.nbytes / (self.ceilings["copy_gbps"] * 1e9) * 1e3)
        if self.flops and "matmul_tflops" in self.ceilings:
            bounds.append(self.flops / (self.ceilings["matmul_tflops"] * 1e12) * 1e3)
        return max(bounds) if bounds else None

    @property
    def pct_of_roofline(self) -> float | None:
        """100 x roofline time / median time: how close to the hardware limit (100 = at it)."""
        roof = self.roofline_ms
        return 100.0 * roof / self.median_ms if roof is not None else None

    def to_json(self) -> str:
        """One JSON line (no trailing newline)."""
        data = dataclasses.asdict(self)
        data["role"] = self.role.value
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, line: str | bytes) -> TimingRecord:
        """Parse and check one timing line.

        Raises:
            ValueError: a short reason (not JSON, another kind or schema, unknown or mistyped
                fields, values out of range).
        """
        if len(line) > MAX_LINE_BYTES:
            raise ValueError(f"timing line of {len(line):,} bytes, over {MAX_LINE_BYTES:,}")
        try:
            data = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise ValueError(f"not a JSON line: {str(exc)[:120]}") from None
        if not isinstance(data, dict) or data.get("kind") != KIND:
            raise ValueError("not a timing record")
        unknown = sorted(set(data) - _FIELDS)
        if unknown:
            raise ValueError(f"timing record: unknown key {unknown[0][:60]!r}")
        for key in ("shape", "samples_ms"):
            if key in data and not isinstance(data[key], list):
                raise ValueError(f"timing record: {key} is not an array")
        try:
            return cls(
                **{
                    **data,
                    "shape": tuple(data.get("shape", ())),
                    "samples_ms": tuple(data.get("samples_ms", ())),
                }
            )
        except TypeError as exc:
            raise ValueError(f"timing record: {str(exc)[:200]}") from None


_FIELDS = frozenset(f.name for f in dataclasses.fields(TimingRecord))


@dataclass
class Loaded:
    """What :func:`load` read: timing records, ingested case records (benchmark-log tables,
    turned into timings by checker/perf/ingested.py) and the reasons lines could not be read."""

    timings: list[TimingRecord] = field(default_factory=list)
    ingested: list[Record] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    case_records: int = 0


#: File names read inside a directory: a run's results, ``kcheck bench`` output, ingested logs.
#: Not ``baseline.jsonl``, which ``kcheck report`` writes beside a run's results.
FILE_GLOBS = ("results*.jsonl", "timings*.jsonl", "ingested*.jsonl")


def files_of(paths: Sequence[Path]) -> list[Path]:
    """The jsonl files ``paths`` name: files as given, directories searched for :data:`FILE_GLOBS`.

    Raises:
        FileNotFoundError: a path does not exist.
    """
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted({p for g in FILE_GLOBS for p in path.rglob(g) if p.is_file()}))
        elif path.is_file():
            out.append(path)
        else:
            raise FileNotFoundError(f"no such file or directory: {path}")
    return out


def load(paths: Sequence[Path]) -> Loaded:
    """Timing records (and ingested table records) of results files, directories and zip
    archives (a CI artifact as downloaded: its members named like :data:`FILE_GLOBS` are read).

    Case records are counted and skipped; a line that is neither is named in ``unreadable``, as
    are an archive that cannot be read, one with no such member and a member over
    :data:`checker.results.merge.MAX_SHARD_BYTES` (read by :func:`checker.results.merge.zip_members`,
    as ``kcheck report`` reads them).

    Raises:
        FileNotFoundError: a path does not exist. (Unreadable lines and archives never raise.)
    """
    loaded = Loaded()
    for file in files_of(paths):
        if file.suffix == ".zip" or zipfile.is_zipfile(file):
            _load_archive(file, loaded)
            continue
        with open(file, "rb") as f:
            _load_lines(str(file), f, loaded)
    return loaded


def _load_archive(path: Path, loaded: Loaded) -> None:
    from checker.results.merge import zip_members

    for member in zip_members(path, FILE_GLOBS):
        if member.data is None:
            loaded.unreadable.append(f"{member.source}: {(member.problem or '')[:200]}")
        else:
            _load_lines(member.source, member.data.splitlines(keepends=True), loaded)


def _load_lines(source: str, lines: Iterable[bytes], loaded: Loaded) -> None:
    for lineno, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        where = f"{source}:{lineno}"
        try:
            if other_kind(raw) == KIND:
                loaded.timings.append(TimingRecord.from_json(raw))
                continue
            rec = Record.from_json(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            loaded.unreadable.append(f"{where}: {str(exc)[:200]}")
            continue
        loaded.case_records += 1
        if rec.mode is Mode.INGESTED and isinstance(rec.fields.get("metrics"), dict):
            loaded.ingested.append(rec)


def write(path: Path, records: Iterable[TimingRecord]) -> int:
    """Write ``records`` to ``path`` (replaced), one line each; returns how many."""
    from checker.atomic import write_atomic

    lines = [r.to_json() + "\n" for r in records]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, "".join(lines).encode("utf-8"))
    return len(lines)


def case_id(rec: TimingRecord) -> CaseId:
    """The case id a kernel-role record times (``impl`` as the config name)."""
    return CaseId(rec.kernel, rec.shape, rec.dtype, rec.impl)
