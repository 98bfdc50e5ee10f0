"""The log state machine: classified lines in, findings out, one line at a time.

State is small and bounded whatever the log's size: the run's context (kernel, operator, input
shard, inputs done, the implementation being benchmarked, its autotuned config:
checker/ingest/context.py), at most one traceback chain being read (frames and message capped),
and a result table's column spans. Nothing holds the log's lines. Every line is either
understood (it matched a pattern, or belongs to a block that did: generated code, a traceback, a
table) or counted as skipped. What a completed block or line becomes is built by
checker/ingest/findings.py.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any

from checker.ingest import findings, tables
from checker.ingest.configs import find_config_call
from checker.ingest.context import MAX_NAMES, RunContext, Shard, clean_name
from checker.ingest.events import Finding, NotRunReason
from checker.ingest.lines import STRUCTURAL, Line, LineKind, classify_line, split_progress
from checker.ingest.tracebacks import (
    FRAME,
    PACKAGES,
    Frame,
    TracebackBlock,
    diagnose,
    innermost_operator_frame,
    package_of,
)

#: Skipped lines quoted in the summary (the first ones, cut to EXAMPLE_CHARS).
MAX_EXAMPLES = 5
EXAMPLE_CHARS = 120
#: Lines of an exception block after "Error:" in Helion's "Triton compile failed" message.
MAX_ERROR_LINES = 50

_SM = re.compile(r"\bsm_(\d{2,3})[a-z]?\b")
_PYTHON = re.compile(r"/python(\d+\.\d+)/(?:site|dist)-packages/")
_CODE_START = re.compile(r"^(?:from |import |@|def |class |#|[A-Za-z_]\w*\s*(?::[^=]*)?=[^=])")


class State(enum.Enum):
    """What the lines being read belong to."""

    TOP = "top"
    CODE = "code"
    TRACEBACK = "traceback"
    EXCEPTION = "exception"
    TABLE = "table"
    COMPILE_FAILED = "compile-failed"


@dataclass
class Stats:
    """Counts over one log. ``lines`` are newline-terminated lines and carriage-return separated
    segments of them (tqdm redraws its bar with ``\\r``)."""

    lines: int = 0
    understood: int = 0
    skipped: int = 0
    oversized: int = 0
    duplicates: int = 0
    tables: int = 0
    table_rows: int = 0
    skipped_examples: list[tuple[int, str]] = field(default_factory=list)

    def skip(self, line: int, text: str) -> None:
        self.skipped += 1
        if len(self.skipped_examples) < MAX_EXAMPLES:
            self.skipped_examples.append((line, text[:EXAMPLE_CHARS]))


class LogParser:
    """Feed it a log's lines in order with :meth:`feed`, then call :meth:`finish`; both return
    the findings the lines completed. ``target`` and ``toolchain`` hold what the log revealed so
    far (``sm_90`` only when the log names it; install locations of torch/triton/helion and the
    Python version from traceback paths)."""

    def __init__(self, log_name: str) -> None:
        self.log_name = log_name
        self.stats = Stats()
        self.target = "unknown"
        self.toolchain: dict[str, str] = {}
        self._ctx = RunContext(log_name)
        self._state = State.TOP
        self._block: TracebackBlock | None = None
        self._chain: list[TracebackBlock] = []
        self._chain_open = False
        self._last_failure: tuple[str, str | None, int | None] | None = None
        self._last_unknown: tuple[int, str] | None = None
        self._after_warning = False
        self._hint_pending = False
        self._columns: tuple[tables.Column, ...] = ()
        self._result_table = False
        self._table_line = 0
        self._banner = False
        self._failed_block: dict[str, Any] = {}

    # -- public --------------------------------------------------------------------------------

    def feed(self, line_no: int, text: str) -> list[Finding]:
        """Process one line (no newline, sanitized); the findings it completed, in order."""
        out: list[Finding] = []
        self.stats.lines += 1
        if "sm_" in text and self.target == "unknown":
            m = _SM.search(text)
            if m is not None:
                self.target = f"sm_{m.group(1)}"
        self._dispatch(line_no, text, out)
        return out

    def finish(self, line_no: int) -> list[Finding]:
        """End of the log (``line_no``: its last line): close open blocks, report inputs and
        kernels that never ran."""
        out: list[Finding] = []
        if self._state is State.EXCEPTION:
            self._end_block()
        elif self._state is State.COMPILE_FAILED:
            self._emit_compile_failed(out)
        self._state = State.TOP
        self._flush_chain(out)
        self._end_shard(line_no, out)
        self._end_run(line_no, out)
        return out

    def fork(self) -> LogParser:
        """A parser for another process's lines of the same log (checker/ingest/ingest.py): its
        own blocks, context and counts, so interleaved tracebacks stay apart; it starts knowing
        only what this one is running (:meth:`RunContext.fork`)."""
        child = LogParser(self.log_name)
        child._ctx = self._ctx.fork()
        return child

    def recover(self) -> None:
        """Drop any half-read block and go back to the top level (after a failed line)."""
        self._state = State.TOP
        self._block = None
        self._chain = []
        self._chain_open = False
        self._failed_block = {}

    # -- dispatch ------------------------------------------------------------------------------

    def _understood(self) -> None:
        self.stats.understood += 1

    def _dispatch(self, n: int, text: str, out: list[Finding]) -> None:
        state = self._state
        if state is State.CODE:
            if self._is_code(text):
                self._understood()
                return
            self._state = State.TOP
        elif state is State.TRACEBACK:
            if self._traceback_line(n, text):
                return
        elif state is State.EXCEPTION:
            if self._exception_line(text):
                return
        elif state is State.TABLE:
            if self._table_line_in(n, text, out):
                return
        elif state is State.COMPILE_FAILED and self._compile_failed_line(text, out):
            return
        self._top(n, text, out)

    def _is_code(self, text: str) -> bool:
        if not text.strip():
            return True
        if text[0] in " \t":
            return "@helion.kernel(" not in text and split_progress(text)[0] is None
        return _CODE_START.match(text) is not None and classify_line(text).kind not in STRUCTURAL

    def _top(self, n: int, text: str, out: list[Finding]) -> None:
        progress, rest = split_progress(text)
        line = classify_line(rest) if rest else Line(LineKind.BLANK, rest)
        if self._chain and (progress is not None or line.kind is not LineKind.BLANK):
            if line.kind is LineKind.CHAIN:
                self._chain_open = True
            elif not (line.kind is LineKind.TRACEBACK and self._chain_open):
                self._flush_chain(out)
        if progress is not None:
            self._ctx.progress(*progress)
            if line.kind is LineKind.BLANK:
                self._understood()
                return
        previous_unknown, self._last_unknown = self._last_unknown, None
        after_warning, self._after_warning = self._after_warning, False
        hint, self._hint_pending = self._hint_pending, False
        kind = line.kind
        v = line.values
        if kind is LineKind.UNKNOWN:
            if after_warning and rest[:1] in (" ", "\t"):
                self._understood()  # the source line Python prints under a warning
                return
            self._last_unknown = (n, rest)
            self.stats.skip(n, rest)
            return
        if kind is LineKind.LOG_WARNING:
            self.stats.skip(n, rest)
            return
        self._understood()
        if kind is LineKind.RUN_ALL or kind is LineKind.RUN_LIST:
            self._end_shard(n, out)
            self._end_run(n, out)
            self._ctx.kernels_planned = int(v["count"])
            if kind is LineKind.RUN_LIST:
                names = [clean_name(k) for k in v["names"].split(",") if k.strip()]
                self._ctx.kernels_named = names[:MAX_NAMES]
        elif kind is LineKind.KERNEL_BANNER:
            self._end_shard(n, out)
            self._ctx.start_kernel(clean_name(v["name"]))
            self._banner = True
        elif kind is LineKind.OPERATOR_START:
            operator = clean_name(v["operator"])
            if not self._banner:
                # run.py prints no banner for a single kernel: this line starts it.
                self._end_shard(n, out)
                self._ctx.start_kernel(operator)
            self._banner = False
            self._ctx.operator = operator
        elif kind is LineKind.SHARD:
            self._end_shard(n, out)
            self._ctx.shard = Shard(
                int(v["index"]), int(v["shards"]), int(v["first"]), int(v["last"]), int(v["total"])
            )
            self._ctx.reset_shard()
        elif kind is LineKind.BENCH_FUNCTION:
            impl = clean_name(v["name"])
            self._ctx.implementation = impl
            if impl not in self._ctx.implementations and len(self._ctx.implementations) < MAX_NAMES:
                self._ctx.implementations.append(impl)
        elif kind is LineKind.OUTPUT_CODE:
            self._state = State.CODE
        elif kind is LineKind.COMPILE_TIMEOUT:
            out.append(findings.compile_timeout(self._ctx, n, v, rest))
        elif kind is LineKind.COMPILE_FAILED:
            self._state = State.COMPILE_FAILED
            self._failed_block = {"line": n, "config": None, "error": []}
        elif kind is LineKind.HARDCODE_HINT:
            self._hint_pending = True
        elif kind is LineKind.DECORATOR:
            config = find_config_call(rest)
            impl = self._ctx.implementation
            if hint and config and impl and len(self._ctx.best_configs) < MAX_NAMES:
                self._ctx.best_configs[impl] = config
        elif kind is LineKind.ACCURACY_FAILED:
            out.append(findings.accuracy_failed(self._ctx, n, v.get("config", "")))
        elif kind is LineKind.EARLY_TERMINATION:
            self._ctx.early_termination = True
        elif kind is LineKind.TRACEBACK:
            self._block = TracebackBlock(start_line=n)
            self._state = State.TRACEBACK
            self._chain_open = False
        elif kind is LineKind.TABLE_RULE:
            self._start_table(n, previous_unknown, rest)
        elif kind is LineKind.PROCESS_DIED:
            what = v.get("what", rest.strip())
            died = findings.process_died(self._ctx, n, what)
            out.append(died)
            self._close_shard(NotRunReason.DIED, what, died.signature, n, out)
        elif kind is LineKind.PY_WARNING:
            self._after_warning = True
        # BLANK, RULE, AUTOTUNE, BANG_RULE, CHAIN, DYNAMO_HINT, NOISE, LOG_INFO: understood, no state.

    # -- blocks --------------------------------------------------------------------------------

    def _traceback_line(self, n: int, text: str) -> bool:
        """A line inside a traceback's frames; False hands it back to the top level."""
        block = self._block
        assert block is not None
        if not text.strip() or text[0] in " \t":
            m = FRAME.match(text)
            if m is not None:
                frame = Frame(m["path"], int(m["line"]), m["function"])
                block.add_frame(frame)
                self._note_toolchain(frame.path)
            self._understood()
            return True
        if classify_line(text).kind is LineKind.TRACEBACK:
            # A traceback with no exception line (the output was cut): drop it, start anew.
            self._block = TracebackBlock(start_line=n)
            self._understood()
            return True
        block.set_exception(text)
        self._state = State.EXCEPTION
        self._understood()
        return True

    def _exception_line(self, text: str) -> bool:
        """A line of the exception's message; False ends the message and hands the line back."""
        block = self._block
        assert block is not None
        if not text.strip():
            self._end_block()
            self._understood()
            return True
        if text[0] not in " \t":
            kind = classify_line(text).kind
            if kind in STRUCTURAL or kind is LineKind.TABLE_RULE:
                self._end_block()
                return False
        elif split_progress(text)[0] is not None:
            self._end_block()
            return False
        block.add_message(text)
        self._understood()
        return True

    def _end_block(self) -> None:
        if self._block is not None:
            self._chain.append(self._block)
            del self._chain[:-8]  # a chain longer than 8 keeps its outermost exceptions
        self._block = None
        self._state = State.TOP

    def _note_toolchain(self, path: str) -> None:
        if "python" not in self.toolchain:
            m = _PYTHON.search(path)
            if m is not None:
                self.toolchain["python"] = m.group(1)
        found = package_of(path)
        if found is not None and len(self.toolchain) < len(PACKAGES) + 1:
            self.toolchain.setdefault(f"{found[0]}_path", found[1])

    def _compile_failed_line(self, text: str, out: list[Finding]) -> bool:
        block = self._failed_block
        if text.startswith("Config: "):
            block["config"] = find_config_call(text)
            self._understood()
            return True
        if text.startswith("Error: "):
            block["error"].append(text[len("Error: ") :])
            self._understood()
            return True
        if text.startswith("Set HELION_AUTOTUNE_LOG_LEVEL"):
            self._emit_compile_failed(out)
            self._understood()
            return True
        if block["error"] and text.strip() and classify_line(text).kind not in STRUCTURAL:
            if len(block["error"]) < MAX_ERROR_LINES:
                block["error"].append(text)
            self._understood()
            return True
        self._emit_compile_failed(out)
        return False

    # -- completed outcomes (their findings: checker/ingest/findings.py) ------------------------

    def _emit_compile_failed(self, out: list[Finding]) -> None:
        block, self._failed_block = self._failed_block, {}
        self._state = State.TOP
        if not block:
            return
        out.append(findings.compile_failed(self._ctx, block["line"], block["config"], block["error"]))

    def _flush_chain(self, out: list[Finding]) -> None:
        chain, self._chain = self._chain, []
        self._chain_open = False
        if not chain:
            return
        outer = chain[-1]
        if outer.short_type == "KeyboardInterrupt":
            out.append(findings.interrupted(self._ctx, chain))
            self._close_shard(NotRunReason.INTERRUPTED, "KeyboardInterrupt", None, outer.start_line, out)
            return
        d = diagnose(chain)
        frame = innermost_operator_frame(chain)
        impl = self._ctx.implementation
        if frame is not None:
            impl = clean_name(frame.function)  # tritonbench calls each implementation by its name
        kernel = impl or self._ctx.operator or "unknown"
        index = self._ctx.input_index
        key = (kernel, d.signature, index)
        if key == self._last_failure:
            # The same exception printed again: tritonbench logs it, then it ends the process
            # uncaught and Python prints it once more.
            self.stats.duplicates += 1
            return
        self._last_failure = key
        out.append(findings.exception_chain(self._ctx, chain, d, impl, kernel))
        if self._ctx.early_termination:
            cause = f"{kernel}: {outer.short_type}"
            self._close_shard(NotRunReason.ABORTED, cause, d.signature, chain[0].start_line, out)

    def _close_shard(
        self, reason: NotRunReason, cause: str, cause_signature: str | None, n: int, out: list[Finding]
    ) -> None:
        """The shard's inputs from the one running now to its last did not complete."""
        ctx = self._ctx
        if ctx.shard_closed:
            return
        ctx.shard_closed = True
        ctx.stop_reason = reason
        finding = findings.inputs_not_completed(ctx, reason, cause, cause_signature, n)
        if finding is not None:
            out.append(finding)

    def _end_shard(self, n: int, out: list[Finding]) -> None:
        ctx = self._ctx
        size = ctx.shard.size if ctx.shard is not None else ctx.progress_total
        if size is not None and ctx.done is not None and ctx.done < size:
            self._close_shard(NotRunReason.LOG_ENDED, "the log shows no more of this shard", None, n, out)

    def _end_run(self, n: int, out: list[Finding]) -> None:
        out.extend(findings.never_started(self._ctx, n))
        self._ctx = RunContext(self.log_name)
        self._banner = False

    # -- tables --------------------------------------------------------------------------------

    def _start_table(self, n: int, header: tuple[int, str] | None, rule: str) -> None:
        if header is None:
            return
        cols = tables.columns(header[1], rule)
        if len(cols) < 2:
            return
        # The header was counted as skipped when it came; it was a table header after all.
        self.stats.skipped -= 1
        self.stats.understood += 1
        if self.stats.skipped_examples and self.stats.skipped_examples[-1][0] == header[0]:
            self.stats.skipped_examples.pop()
        self._columns = cols
        self._result_table = tables.is_result_table(cols)
        self._table_line = header[0]
        self._state = State.TABLE
        self.stats.tables += 1

    def _table_line_in(self, n: int, text: str, out: list[Finding]) -> bool:
        if not text.strip() or classify_line(text).kind in STRUCTURAL:
            self._state = State.TOP
            return False
        self._understood()
        self.stats.table_rows += 1
        if self._result_table:
            out.extend(findings.table_row(self._ctx, n, text, self._columns, self._table_line))
        return True
