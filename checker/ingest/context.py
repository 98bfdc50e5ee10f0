"""Where a benchmark run is, as its log has shown so far, and the record fields that follow.

The log parser (checker/ingest/parser.py) moves a :class:`RunContext` along as lines announce
kernels, shards, inputs and implementations; findings (checker/ingest/findings.py) take their
``operator``, ``shard``, ``input_index``, ``implementation``, ``role`` and case config from it.
Bounded: at most :data:`MAX_NAMES` names per run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from checker.ingest.configs import config_label
from checker.ingest.events import NotRunReason, role_of

#: Names kept per run (kernels started, implementations, autotuned configs): a forged log with
#: endless names cannot grow the parser's state.
MAX_NAMES = 256

_NAME_CHARS = re.compile(r"[^\w.\-]")


def clean_name(text: str) -> str:
    """A kernel or implementation name from the log, reduced to name characters."""
    return _NAME_CHARS.sub("_", text.strip())[:100] or "unknown"


@dataclass
class Shard:
    """tritonbench's input shard: ``index`` of ``shards``, inputs ``first`` to ``last`` (both
    included) of ``total``."""

    index: int
    shards: int
    first: int
    last: int
    total: int

    @property
    def size(self) -> int:
        return max(0, self.last - self.first + 1)


@dataclass
class RunContext:
    """Where the run is: reset piecewise as kernels, shards and inputs start.

    ``log_name`` is the log file every finding names; the rest is what the log said last.
    """

    log_name: str
    kernels_planned: int | None = None
    kernels_named: list[str] | None = None
    kernels_started: list[str] = field(default_factory=list)
    operator: str = ""
    shard: Shard | None = None
    done: int | None = None
    progress_total: int | None = None
    implementation: str = ""
    implementations: list[str] = field(default_factory=list)
    best_configs: dict[str, str] = field(default_factory=dict)
    early_termination: bool = False
    shard_closed: bool = False
    stop_reason: NotRunReason | None = None

    def fork(self) -> RunContext:
        """A context for another process's lines of the same log: it knows only what this one is
        running (operator, implementation, autotuned configs), for attribution, not the run
        plan, shard or progress (those would be reported twice)."""
        return RunContext(
            self.log_name,
            operator=self.operator,
            implementation=self.implementation,
            implementations=list(self.implementations),
            best_configs=dict(self.best_configs),
        )

    def start_kernel(self, name: str) -> None:
        if name not in self.kernels_started and len(self.kernels_started) < MAX_NAMES:
            self.kernels_started.append(name)
        self.operator = name
        self.shard = None
        self.implementations = []
        self.best_configs = {}
        self.reset_shard()

    def reset_shard(self) -> None:
        self.done = None
        self.progress_total = None
        self.implementation = ""
        self.early_termination = False
        self.shard_closed = False

    def progress(self, done: int, total: int) -> None:
        if self.done != done:
            self.implementation = ""  # a new input: no implementation has started on it yet
        self.done = done
        self.progress_total = total

    @property
    def input_index(self) -> int | None:
        """The input running now, counted over the whole run (the shard's first plus the
        inputs done in it); None before the log shows one."""
        if self.done is None:
            return self.shard.first if self.shard is not None else None
        return (self.shard.first if self.shard is not None else 0) + self.done

    def fields(self, line: int) -> dict[str, Any]:
        """A finding's ``fields`` for log line ``line``: the log and where the run was."""
        out: dict[str, Any] = {"log_file": self.log_name, "log_line": line}
        if self.operator:
            out["operator"] = self.operator
        if self.shard is not None:
            out["shard"] = f"{self.shard.index}/{self.shard.shards}"
            out["shard_inputs"] = [self.shard.first, self.shard.last]
            out["inputs_total"] = self.shard.total
        index = self.input_index
        if index is not None:
            out["input_index"] = index
        if self.done is not None:
            out["inputs_done_in_shard"] = self.done
        return out

    def case_config(self, config_repr: str | None = None) -> str:
        """A finding's ``case.config``: ``input<i>``, plus the config's label when there is one."""
        parts = []
        index = self.input_index
        if index is not None:
            parts.append(f"input{index}")
        if config_repr:
            parts.append(config_label(config_repr))
        return "-".join(parts) or "run"

    def implementation_fields(self, impl: str) -> dict[str, Any]:
        """``role``, ``implementation`` and the autotuned ``config_context`` of ``impl``."""
        role = role_of(impl)
        out: dict[str, Any] = {"role": role.value}
        if impl:
            out["implementation"] = impl
        best = self.best_configs.get(impl)
        if best is not None:
            out["config_context"] = best  # the config Helion's autotuner picked for this kernel
        return out
