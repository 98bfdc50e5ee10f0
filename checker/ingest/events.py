"""What the log parser finds, before it becomes a record: findings and their closed vocabularies."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from checker.categories import Category

#: ``Record.mode`` of every ingested record: the case ran somewhere else, in a benchmark run whose
#: log this is. Not one of kcheck's own run modes; to be added to the mode enum when it lands.
INGESTED_MODE = "ingested"


class Role(enum.StrEnum):
    """Whose code a finding is about (``fields["role"]``). tritonbench runs Helion's kernels
    side by side with baselines (aten, Triton tutorials, Inductor, cutlass); a baseline that
    fails is not the Helion kernel's fault."""

    HELION = "helion"
    BASELINE = "baseline"
    #: no implementation could be named (an error before any benchmark function was fetched)
    UNKNOWN = "unknown"


class NotRunReason(enum.StrEnum):
    """``fields["reason"]`` of an ingested ``not-run`` record."""

    #: KeyboardInterrupt: someone (or a job timeout's SIGINT) stopped the run
    INTERRUPTED = "interrupted"
    #: an exception ended the run ("terminating early with partial results", or uncaught)
    ABORTED = "aborted"
    #: the process died (a shell's "Segmentation fault", "Killed")
    DIED = "died"
    #: the log stops in the middle of a shard with no sign of why (a killed job, a cut log)
    LOG_ENDED = "log-ended"
    #: a kernel the run announced ("Running all 4 kernels...") never started
    NEVER_STARTED = "never-started"
    #: tritonbench's "not supported" cell: the implementation does not run this input
    NOT_SUPPORTED = "not supported"


def role_of(implementation: str) -> Role:
    """Helion implementations are named ``helion_*`` by Helion's benchmark runner; every other
    tritonbench implementation is a baseline; '' is unknown."""
    if not implementation:
        return Role.UNKNOWN
    return Role.HELION if implementation.startswith("helion") else Role.BASELINE


@dataclass(frozen=True)
class Finding:
    """One outcome read from a log, everything a record needs but the file-wide target and
    toolchain (known only at the end of the file).

    ``kernel`` is the implementation (``helion_softmax``, ``pt2_cutlass_matmul``) or, for
    findings about a whole operator or run, the operator / kernel name. ``case_config`` names
    the case's input and config (``input46``, ``input1-cfg0a1b2c3d``). ``line`` is the 1-based
    log line the finding starts at.
    """

    category: Category
    kernel: str
    case_config: str
    line: int
    message: str
    signature: str | None
    fields: dict[str, Any] = field(default_factory=dict)
    shape: tuple[int, ...] = ()
    config: dict[str, Any] | None = None
    config_repr: str | None = None
