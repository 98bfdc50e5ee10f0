"""Records every stage passes along: the case, its outcome category and the record.

A record carries exactly one category of the closed set in checker/categories.py (with what
each means to every view and stage) and the fields its category carries (docs/records.md).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from checker import toolchain as _toolchain
from checker.categories import Category

#: Version of the results.jsonl record schema (docs/records.md). Bump on any incompatible change.
SCHEMA_VERSION = 1


class Mode(enum.StrEnum):
    """How a record's case was checked (docs/records.md); a closed set like :class:`Category`."""

    #: Compiled and run on the local GPU.
    NATIVE = "native"
    #: Small shape on CPU: compiled for the target (``--compile``), run under the Triton
    #: interpreter.
    INTERPRETER = "interpreter"
    #: Full shape on CPU with ``--compile off``: code generated only.
    CODEGEN_ONLY = "codegen-only"
    #: Full shape on CPU: compiled for the target, not run.
    COMPILE_ONLY = "compile-only"
    #: A golden (expect file) check (docs/goldens.md).
    GOLDEN = "golden"
    #: A kernel module that could not be collected.
    COLLECTION = "collection"
    #: A collected case that never reported (:data:`LOST`).
    LOST = "lost"
    #: Read from a benchmark log by ``kcheck ingest-log`` (docs/ingest-log.md).
    INGESTED = "ingested"


@dataclass(frozen=True)
class CaseId:
    """Identity of one case: kernel x shape x dtype x config name.

    ``shape`` is the problem shape as declared in the kernel spec (a tuple of ints), ``dtype`` a
    short name such as ``bf16`` and ``config`` a named config (``default``) or a sampled one
    (``cfg3``). ``param`` is the pytest parameter id, e.g. ``2048x4096-bf16-cfg3``.
    """

    kernel: str
    shape: tuple[int, ...]
    dtype: str
    config: str

    @property
    def shape_str(self) -> str:
        return "x".join(str(d) for d in self.shape)

    @property
    def param(self) -> str:
        if not self.shape:  # a whole-file record (collection error): no shape or dtype
            return self.config
        return f"{self.shape_str}-{self.dtype}-{self.config}"

    @property
    def name(self) -> str:
        """The test name, e.g. ``rms_norm[2048x4096-bf16-cfg3]``."""
        return f"{self.kernel}[{self.param}]"


@dataclass(frozen=True)
class Comparison:
    """Statistics of one output compared with its reference (errors in the output's units)."""

    max_abs_err: float
    max_rel_err: float
    mismatches: int
    numel: int
    rtol: float
    atol: float
    worst_index: tuple[int, ...] | None = None
    worst_actual: float | None = None
    worst_expected: float | None = None
    #: Where rtol/atol came from: the dtype default, the terms the policy added (tf32 dots,
    #: reduction length K) or the spec's override with its reason (checker/numerics.py).
    tolerance_source: str = ""

    @property
    def mismatch_pct(self) -> float:
        return 100.0 * self.mismatches / self.numel if self.numel else 0.0


#: ``fields["reason"]`` of a ``not-run`` record for a case that was collected but got no record.
LOST = "lost"

#: ``kind`` values of results.jsonl lines that are records of another kind than a case Record
#: (a Record has no ``kind`` key): ``timing`` (checker/perf/records.py). They never count as
#: cases; case readers skip them (docs/records.md#other-kinds-of-line).
OTHER_KINDS = frozenset({"timing"})


def other_kind(line: str | bytes) -> str | None:
    """The :data:`OTHER_KINDS` value of a results.jsonl line, or None for anything else (a case
    record, or a line that is not JSON). Only called on lines that are not case records, so case
    records are parsed once."""
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):
        return None
    kind = data.get("kind") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) and kind in OTHER_KINDS else None


@dataclass(frozen=True)
class Record:
    """One line of results.jsonl: the outcome of one case (schema: docs/records.md).

    ``duration_s`` is wall time of the whole case in seconds; ``stages`` maps each stage that ran
    (``codegen``, ``run``, ``compare``) to its wall time in seconds.
    """

    case: CaseId
    category: Category
    mode: Mode
    target: str
    config: dict[str, Any] | None
    config_repr: str | None
    toolchain: dict[str, str]
    duration_s: float
    stages: dict[str, float] = field(default_factory=dict)
    message: str = ""
    signature: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    comparison: Comparison | None = None
    repro: str | None = None
    nodeid: str | None = None
    worker: str | None = None
    #: The run options that re-run this case, by name (checker/options.py; what ``repro``
    #: passes): None for a record that has no command (lost, ingested, collection errors).
    options: dict[str, Any] | None = None
    schema: int = SCHEMA_VERSION

    @property
    def lost(self) -> bool:
        """A case that was collected but never produced a record of its own (checker/collected.py)."""
        return self.category is Category.NOT_RUN and self.fields.get("reason") == LOST

    @property
    def failed(self) -> bool:
        """Whether this record fails the run: a failure category, or a lost case."""
        return self.category.is_failure or self.lost

    def __post_init__(self) -> None:
        # Every text a record carries came from a kernel, a compiler or a file name: a lone
        # surrogate (os.fsdecode of a non-UTF-8 path) made execnet fail to send the record to
        # the xdist controller (INTERNALERROR, 6 of 9 records lost). Cleaned once, here.
        # Typed by the constructor, not by every caller: a plain string becomes a Mode here
        # (ValueError for one outside the set).
        object.__setattr__(self, "mode", Mode(self.mode))
        for name in ("message", "signature", "config_repr", "repro", "nodeid", "worker", "target"):
            value = getattr(self, name)
            if isinstance(value, str) and not value.isascii():
                object.__setattr__(self, name, encodable(value))
        for name in ("fields", "config", "toolchain", "options"):
            value = getattr(self, name)
            if value:
                object.__setattr__(self, name, _encodable_tree(value))

    def to_json(self) -> str:
        """Serialize to one JSON line (no trailing newline)."""
        data = asdict(self)
        data["category"] = self.category.value
        data["mode"] = self.mode.value
        data["case"]["name"] = self.case.name
        return json.dumps(data, sort_keys=True, default=str)

    @classmethod
    def from_json(cls, line: str) -> Record:
        """Parse one results.jsonl line.

        Raises:
            ValueError: the line is not JSON, has another schema version or lacks fields.
        """
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a JSON record: {exc}") from exc
        if data.get("schema") != SCHEMA_VERSION:
            raise ValueError(f"record schema {data.get('schema')!r}, expected {SCHEMA_VERSION}")
        try:
            case = data.pop("case")
            case.pop("name", None)
            comparison = data.pop("comparison")
            return cls(
                case=CaseId(
                    kernel=case["kernel"],
                    shape=tuple(case["shape"]),
                    dtype=case["dtype"],
                    config=case["config"],
                ),
                category=Category(data.pop("category")),
                comparison=comparison_from_dict(comparison),
                **data,
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed record: {exc}") from exc


def new_record(
    case: CaseId,
    category: Category,
    mode: Mode,
    target: str,
    *,
    helion_config: Any = None,
    toolchain: Mapping[str, str] | None = None,
    **fields_of_record: Any,
) -> Record:
    """A :class:`Record` of an outcome made in this process: the one way the checker makes
    records (:meth:`Record.from_json` reads them back).

    ``helion_config`` is the ``helion.Config`` the case used: the record keeps its ``config``
    dict and its repr (None: neither, unless ``config``/``config_repr`` are given as they are,
    as a benchmark log's records give them). ``toolchain`` defaults to this process's versions
    (checker/toolchain.py). ``fields_of_record`` are the other :class:`Record` fields
    (``duration_s`` defaults to 0.0); ``message`` is kept as given: text from outside the
    checker is sanitized by the caller (``checker.diagnostics.sanitize``).
    """
    if helion_config is not None:
        cfg = getattr(helion_config, "config", None)
        fields_of_record["config"] = dict(cfg) if cfg is not None else None
        fields_of_record["config_repr"] = repr(helion_config)
    fields_of_record.setdefault("config", None)
    fields_of_record.setdefault("config_repr", None)
    fields_of_record.setdefault("duration_s", 0.0)
    return Record(
        case=case,
        category=category,
        mode=mode,
        target=target,
        toolchain=dict(toolchain) if toolchain is not None else _toolchain.versions(),
        **fields_of_record,
    )


def encodable(text: str) -> str:
    """``text`` with every character UTF-8 cannot encode (lone surrogates) written as a
    backslash escape, so the text can be sent, written to XML and JSON, and printed."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _encodable_tree(value: Any) -> Any:
    if isinstance(value, str):
        return encodable(value)
    if isinstance(value, dict):
        return {_encodable_tree(k): _encodable_tree(v) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_encodable_tree(v) for v in value)
    return value


def comparison_from_dict(data: dict[str, Any] | None) -> Comparison | None:
    """The :class:`Comparison` a record's ``comparison`` field holds (None stays None).

    Raises:
        TypeError: ``data`` has unknown or missing fields.
    """
    if data is None:
        return None
    if data.get("worst_index") is not None:
        data = {**data, "worst_index": tuple(data["worst_index"])}
    return Comparison(**data)
