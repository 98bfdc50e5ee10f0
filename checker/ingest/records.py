"""Findings -> kcheck records (the results.jsonl schema, docs/records.md)."""

from __future__ import annotations

from collections.abc import Mapping

from checker.diagnostics import sanitize
from checker.ingest.events import INGESTED_MODE, Finding
from checker.model import CaseId, Mode, Record, new_record

#: ``case.dtype`` of ingested records: benchmark logs do not say which dtype a case ran in.
UNKNOWN_DTYPE = "unknown"


def to_record(finding: Finding, *, target: str, toolchain: Mapping[str, str]) -> Record:
    """The record of ``finding`` for a log whose target and toolchain are known.

    ``duration_s`` is 0.0 and ``stages`` empty: a benchmark log does not time cases. ``repro``,
    ``nodeid`` and ``worker`` are None: the case ran outside kcheck; ``fields['log_file']`` and
    ``fields['log_line']`` say where it was read.
    """
    return new_record(
        CaseId(
            kernel=finding.kernel,
            shape=finding.shape,
            dtype=UNKNOWN_DTYPE,
            config=finding.case_config,
        ),
        finding.category,
        Mode(INGESTED_MODE),
        target,
        config=finding.config,
        config_repr=finding.config_repr,
        toolchain=toolchain,
        message=sanitize(finding.message),
        signature=finding.signature,
        fields=dict(finding.fields),
    )
