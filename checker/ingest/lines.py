"""One log line -> what kind of line it is, with the values it carries.

The classifier looks at a single line without context; the state machine in
:mod:`checker.ingest.parser` decides what a line means where it appears (a line of generated
code, a traceback frame, a table row). Patterns quote the texts Helion, tritonbench, Helion's
``benchmarks/run.py``, PyTorch and tqdm print (docs/ingest-log.md lists them with examples).
"""

from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass, field


class LineKind(enum.Enum):
    """What one line is, seen on its own."""

    BLANK = "blank"
    #: "Running all 4 kernels..." (run.py without --kernel)
    RUN_ALL = "run-all"
    #: "Running 2 kernels: softmax, gemm..." (run.py --kernel a,b)
    RUN_LIST = "run-list"
    #: "Kernel: gemm" between two "=====" rules
    KERNEL_BANNER = "kernel-banner"
    RULE = "rule"
    #: "Running gemm benchmark with 2 Helion implementations..."
    OPERATOR_START = "operator-start"
    #: "Running input shard 3/4: inputs 16 to 22 (of 31 total)"
    SHARD = "shard"
    #: "INFO:tritonbench.utils.triton_op:Took 0.01ms to get benchmark function for aten_matmul"
    BENCH_FUNCTION = "bench-function"
    #: "INFO:helion.runtime.kernel:Output code:" (generated Triton code follows)
    OUTPUT_CODE = "output-code"
    #: "[61s] Timeout after 60s compiling Config(...)" (Helion's autotuner)
    COMPILE_TIMEOUT = "compile-timeout"
    #: "[12s] Triton compile failed. ... Skipping failing config." (Config:/Error: lines follow)
    COMPILE_FAILED = "compile-failed"
    #: "[478s] Generation 19: ..." and the other lines of Helion's autotuner
    AUTOTUNE = "autotune"
    #: "One can hardcode the best config and skip autotuning with:"
    HARDCODE_HINT = "hardcode-hint"
    #: "    @helion.kernel(config=helion.Config(...))"
    DECORATOR = "decorator"
    #: "TritonBench accuracy check failed with Helion kernel config: @helion.kernel(...)"
    ACCURACY_FAILED = "accuracy-failed"
    #: the "!!!!..." rules around ACCURACY_FAILED
    BANG_RULE = "bang-rule"
    #: "WARNING:tritonbench.utils.triton_op:Caught exception, terminating early with partial results"
    EARLY_TERMINATION = "early-termination"
    TRACEBACK = "traceback"
    #: "The above exception was the direct cause of the following exception:" and its sibling
    CHAIN = "chain"
    #: "Set TORCHDYNAMO_VERBOSE=1 for the internal stack trace ..."
    DYNAMO_HINT = "dynamo-hint"
    #: "---------  -----" under a tabulate header (tritonbench's result table)
    TABLE_RULE = "table-rule"
    #: "Segmentation fault (core dumped)", "Killed", "Aborted (core dumped)" from the shell
    PROCESS_DIED = "process-died"
    #: a Python warning "path.py:131: UserWarning: ..." (its source line follows, indented)
    PY_WARNING = "py-warning"
    #: Inductor's "AUTOTUNE mm(...)" block and other chatter that carries no finding
    NOISE = "noise"
    #: "INFO:name:..." / "DEBUG:name:..." logger lines no other pattern claims
    LOG_INFO = "log-info"
    #: "WARNING:name:..." / "ERROR:name:..." lines no other pattern claims: not understood
    LOG_WARNING = "log-warning"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Line:
    """A classified line: its kind, its text and the named values its pattern found."""

    kind: LineKind
    text: str
    values: dict[str, str] = field(default_factory=dict)


# tqdm writes its bar and the next log line on one line when the bar is redrawn without a
# newline: "  0%|          | 0/8 [00:00<?, ?it/s]INFO:tritonbench...". The bar is split off
# first and the rest classified on its own.
PROGRESS = re.compile(
    r"^\s*(?P<pct>\d{1,3})%\|[^|]{0,200}\|\s*(?P<done>\d+)/(?P<total>\d+)\s*\[[^\]]{0,200}\]"
)

_PATTERNS: tuple[tuple[LineKind, re.Pattern[str]], ...] = (
    (LineKind.RUN_ALL, re.compile(r"^Running all (?P<count>\d+) kernels\.\.\.\s*$")),
    (LineKind.RUN_LIST, re.compile(r"^Running (?P<count>\d+) kernels: (?P<names>.+?)\.\.\.\s*$")),
    (LineKind.KERNEL_BANNER, re.compile(r"^Kernel: (?P<name>[\w.\-]+)\s*$")),
    (LineKind.RULE, re.compile(r"^={10,}\s*$")),
    (
        LineKind.OPERATOR_START,
        re.compile(
            r"^Running (?P<operator>[\w.\-]+) benchmark with (?:(?P<count>\d+) )?Helion "
            r"implementations?\.\.\.\s*$"
        ),
    ),
    (
        LineKind.SHARD,
        re.compile(
            r"^Running input shard (?P<index>\d+)/(?P<shards>\d+): inputs (?P<first>\d+) to "
            r"(?P<last>-?\d+) \(of (?P<total>\d+) total\)\s*$"
        ),
    ),
    (
        LineKind.BENCH_FUNCTION,
        re.compile(
            r"^INFO:tritonbench[\w.]*:Took [\d.]+ ?ms to get benchmark function for (?P<name>[\w.\-]+)"
        ),
    ),
    (LineKind.OUTPUT_CODE, re.compile(r"^INFO:helion[\w.]*:Output code:\s*$")),
    (
        LineKind.COMPILE_TIMEOUT,
        re.compile(
            r"^(?:\[\d+s\] )?Timeout after (?P<seconds>\d+(?:\.\d+)?)s compiling "
            r"(?P<config>(?:helion\.)?Config\(.*?\))(?P<sigkill> \(SIGKILL required\))?\s*$"
        ),
    ),
    (LineKind.COMPILE_FAILED, re.compile(r"^(?:\[\d+s\] )?Triton compile failed\b")),
    (
        LineKind.AUTOTUNE,
        re.compile(
            r"^\[\d+s\] (?:Starting \w+|Initial population|Generation \d+|Autotuning complete|"
            r"Finished|Starting|Initial|Best|Using)"
        ),
    ),
    (LineKind.HARDCODE_HINT, re.compile(r"^One can hardcode the best config and skip autotuning with:\s*$")),
    (LineKind.DECORATOR, re.compile(r"^\s+@helion\.kernel\(.*\bConfig\(")),
    (
        LineKind.ACCURACY_FAILED,
        re.compile(r"^TritonBench accuracy check failed with Helion kernel config: (?P<config>.*)$"),
    ),
    (LineKind.BANG_RULE, re.compile(r"^!{20,}\s*$")),
    (
        LineKind.EARLY_TERMINATION,
        re.compile(r"^(?:WARNING:[\w.]+:)?Caught exception, terminating early with partial results"),
    ),
    (LineKind.TRACEBACK, re.compile(r"^Traceback \(most recent call last\):\s*$")),
    (
        LineKind.CHAIN,
        re.compile(
            r"^(?:The above exception was the direct cause of the following exception:|"
            r"During handling of the above exception, another exception occurred:)\s*$"
        ),
    ),
    (LineKind.DYNAMO_HINT, re.compile(r"^Set TORCHDYNAMO_VERBOSE=1 ")),
    (LineKind.TABLE_RULE, re.compile(r"^-+(?:  -+)+\s*$|^-{3,}\s*$")),
    (
        LineKind.PROCESS_DIED,
        re.compile(
            r"^(?:.*: )?(?P<what>Segmentation fault|Aborted|Killed|Bus error|Illegal instruction|"
            r"Floating point exception)(?: \(core dumped\))?\s*$"
        ),
    ),
    (LineKind.PY_WARNING, re.compile(r"^\S+:\d+: (?:\w+)?Warning: ")),
    (
        LineKind.NOISE,
        re.compile(
            r"^(?:Removed \d+ outliers from \d+ samples|AUTOTUNE \w+\(|strides: |dtypes: |"
            r"SingleProcess AUTOTUNE |\s+\w+ [\d.]+ ms [\d.]+%|Compile time for |"
            r"Running .+ benchmark|Using tritonbench path|Autotune metrics exported)"
        ),
    ),
    (LineKind.LOG_INFO, re.compile(r"^(?:INFO|DEBUG):[\w.\-]*:")),
    (LineKind.LOG_WARNING, re.compile(r"^(?:WARNING|ERROR|CRITICAL):[\w.\-]*:")),
)


# Characters each kind's line can start with (None: any). Most lines are tried against two or
# three patterns instead of all of them, which doubled throughput (docs/ingest-log.md).
_FIRST: dict[LineKind, str | None] = {
    LineKind.RUN_ALL: "R",
    LineKind.RUN_LIST: "R",
    LineKind.KERNEL_BANNER: "K",
    LineKind.RULE: "=",
    LineKind.OPERATOR_START: "R",
    LineKind.SHARD: "R",
    LineKind.BENCH_FUNCTION: "I",
    LineKind.OUTPUT_CODE: "I",
    LineKind.COMPILE_TIMEOUT: "[T",
    LineKind.COMPILE_FAILED: "[T",
    LineKind.AUTOTUNE: "[",
    LineKind.HARDCODE_HINT: "O",
    LineKind.DECORATOR: " \t",
    LineKind.ACCURACY_FAILED: "T",
    LineKind.BANG_RULE: "!",
    LineKind.EARLY_TERMINATION: "WC",
    LineKind.TRACEBACK: "T",
    LineKind.CHAIN: "TD",
    LineKind.DYNAMO_HINT: "S",
    LineKind.TABLE_RULE: "-",
    LineKind.PROCESS_DIED: None,
    LineKind.PY_WARNING: None,
    LineKind.NOISE: "RAsdSCU \t",
    LineKind.LOG_INFO: "ID",
    LineKind.LOG_WARNING: "WEC",
}
# Patterns tried on every line only when their line can hold them at all.
_NEEDLES: dict[LineKind, tuple[str, ...]] = {
    LineKind.PROCESS_DIED: (
        "Segmentation fault",
        "Aborted",
        "Killed",
        "Bus error",
        "Illegal instruction",
        "Floating point exception",
    ),
    LineKind.PY_WARNING: ("Warning: ",),
}


@functools.lru_cache(maxsize=256)
def _candidates(first: str) -> tuple[tuple[LineKind, re.Pattern[str]], ...]:
    return tuple(
        (kind, pattern)
        for kind, pattern in _PATTERNS
        if _FIRST[kind] is None or first in (_FIRST[kind] or "")
    )


def classify_line(text: str) -> Line:
    """The kind of ``text`` (one line, newline removed, already sanitized) and its values.

    Never raises; a line no pattern matches is ``UNKNOWN``.
    """
    if not text.strip():
        return Line(LineKind.BLANK, text)
    first = text[0]
    for kind, pattern in _candidates(first if first.isascii() else "\x00"):
        needles = _NEEDLES.get(kind)
        if needles is not None and not any(needle in text for needle in needles):
            continue
        m = pattern.match(text)
        if m is not None:
            return Line(kind, text, {k: v for k, v in m.groupdict().items() if v is not None})
    return Line(LineKind.UNKNOWN, text)


#: Kinds that end an exception message or a block of generated code: a line of one of these
#: starts something new. Unknown and indented lines do not.
STRUCTURAL = frozenset(
    {
        LineKind.RUN_ALL,
        LineKind.RUN_LIST,
        LineKind.KERNEL_BANNER,
        LineKind.RULE,
        LineKind.OPERATOR_START,
        LineKind.SHARD,
        LineKind.BENCH_FUNCTION,
        LineKind.OUTPUT_CODE,
        LineKind.COMPILE_TIMEOUT,
        LineKind.COMPILE_FAILED,
        LineKind.AUTOTUNE,
        LineKind.HARDCODE_HINT,
        LineKind.ACCURACY_FAILED,
        LineKind.BANG_RULE,
        LineKind.EARLY_TERMINATION,
        LineKind.TRACEBACK,
        LineKind.CHAIN,
        LineKind.DYNAMO_HINT,
        LineKind.PROCESS_DIED,
        LineKind.PY_WARNING,
        LineKind.LOG_INFO,
        LineKind.LOG_WARNING,
    }
)


def split_progress(text: str) -> tuple[tuple[int, int] | None, str]:
    """``((done, total), rest)`` when ``text`` starts with a tqdm bar, else ``(None, text)``.

    ``done`` is the number of inputs finished so far; ``rest`` is what followed the bar.
    """
    m = PROGRESS.match(text)
    if m is None:
        return None, text
    return (int(m["done"]), int(m["total"])), text[m.end() :]


# Prefixes that name the process a line came from, as launchers print them when several
# processes share one log (a process's lines then interleave with the others', line by line):
#  - "[rank0]: ", "[default1]:" PyTorch distributed / torchrun ("[{role}{rank}]:"), the form real
#    multi-GPU logs show tracebacks in, each line of each rank's traceback prefixed;
#  - "[gw3] " pytest-xdist's worker ids;
#  - "(pid=4242) ", "(RayWorker pid=4242, ip=10.0.0.1) " Ray's worker output.
# A line without one belongs to the log's own (main) process.
_PROCESS = re.compile(
    r"^(?:\[(?P<role>[A-Za-z_][A-Za-z_\-]{0,30}?) ?(?P<rank>\d{1,7})\]: ?"
    r"|\[(?P<gw>gw\d{1,6})\] "
    r"|\((?:[\w.\-]{1,60} )?pid=(?P<pid>\d{1,10})(?:, ip=[0-9A-Fa-f.:]{1,45})?\) ?)"
)


def split_process(text: str) -> tuple[str, str]:
    """``(process, rest)``: the process a line's prefix names (``rank0``, ``gw3``,
    ``pid4242``) and the line without the prefix (its own indentation kept); ``("", text)``
    for a line without one."""
    if text[:1] not in ("[", "("):
        return "", text
    m = _PROCESS.match(text)
    if m is None:
        return "", text
    if m["role"] is not None:
        process = f"{m['role']}{m['rank']}"
    elif m["gw"] is not None:
        process = m["gw"]
    else:
        process = f"pid{m['pid']}"
    return process, text[m.end() :]
