"""A Python traceback printed in a log, rebuilt and diagnosed like a live exception.

Frames and the exception text are collected line by line (with caps, so a runaway traceback
costs bounded memory). :func:`diagnose` turns a chain of them into an exception object whose
type has the logged type's name (and, for ``helion.exc`` errors, a base named ``Base`` like
Helion's), so :func:`checker.diagnostics.classify` applies the same rules it applies to a run's
exceptions: a numel overflow in a log is the same category, with the same fields, as in a run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from checker import diagnostics
from checker.diagnostics import Diagnosis

#: Frames kept per traceback: the outermost few and the innermost many (where the error is).
MAX_FRAMES_HEAD = 8
MAX_FRAMES_TAIL = 40
#: Exception message kept, characters (a record keeps at most diagnostics.MAX_MESSAGE).
MAX_MESSAGE_CHARS = 16_000

FRAME = re.compile(r'^\s*File "(?P<path>[^"]*)", line (?P<line>\d+), in (?P<function>.+?)\s*$')
_EXCEPTION = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::\s?(?P<message>.*))?$")
_TOOL_PACKAGES = ("triton", "helion", "torch")


@dataclass(frozen=True)
class Frame:
    """One ``File "...", line N, in f`` line of a traceback."""

    path: str
    line: int
    function: str

    @property
    def short(self) -> str:
        """``file.py:line in function``, the file without its directories."""
        return f"{self.path.rsplit('/', 1)[-1]}:{self.line} in {self.function}"


@dataclass
class TracebackBlock:
    """One ``Traceback (most recent call last):`` block being read (mutable while it is read)."""

    start_line: int
    head: list[Frame] = field(default_factory=list)
    tail: list[Frame] = field(default_factory=list)
    frames_dropped: int = 0
    exc_type: str = ""
    message_lines: list[str] = field(default_factory=list)
    message_chars: int = 0

    def add_frame(self, frame: Frame) -> None:
        """Keep ``frame``: the first MAX_FRAMES_HEAD and the last MAX_FRAMES_TAIL survive."""
        if len(self.head) < MAX_FRAMES_HEAD:
            self.head.append(frame)
            return
        self.tail.append(frame)
        if len(self.tail) > MAX_FRAMES_TAIL:
            self.tail.pop(0)
            self.frames_dropped += 1

    def set_exception(self, text: str) -> None:
        """Start the exception part with its first line (``module.Type: message``)."""
        m = _EXCEPTION.match(text)
        if m is not None and _looks_like_exception(m["type"]):
            self.exc_type = m["type"]
            self.add_message(m["message"] or "")
        else:
            self.exc_type = "Exception"
            self.add_message(text)

    def add_message(self, text: str) -> None:
        """Append a line to the exception's message (dropped past MAX_MESSAGE_CHARS)."""
        if self.message_chars >= MAX_MESSAGE_CHARS:
            return
        self.message_lines.append(text)
        self.message_chars += len(text) + 1

    @property
    def frames(self) -> list[Frame]:
        return self.head + self.tail

    @property
    def message(self) -> str:
        return "\n".join(self.message_lines).strip()

    @property
    def short_type(self) -> str:
        return self.exc_type.rsplit(".", 1)[-1]


def _looks_like_exception(name: str) -> bool:
    short = name.rsplit(".", 1)[-1]
    return (
        short.endswith(("Error", "Exception", "Interrupt", "Exit", "Failure", "Warning"))
        or "." in name
        or short in ("Abort", "Timeout")
    )


# Synthetic exception types, one per logged type name. Bounded: a hostile log with endless
# distinct names gets plain classes past the cap (only the name matters for classification).
_TYPES: dict[tuple[str, bool], type[Exception]] = {}
_MAX_TYPES = 512
_HelionBase = type("Base", (RuntimeError,), {})


def _synthetic_type(qualified: str) -> type[Exception]:
    short = qualified.rsplit(".", 1)[-1] or "Exception"
    helion = qualified.startswith("helion.exc.") or qualified.startswith("helion._compiler")
    key = (short, helion)
    cls = _TYPES.get(key)
    if cls is None:
        base: type[Exception] = _HelionBase if helion else Exception
        try:
            cls = type(short, (base,), {"__module__": qualified.rpartition(".")[0] or "builtins"})
        except TypeError:
            cls = type("LoggedException", (base,), {})
        if len(_TYPES) < _MAX_TYPES:
            _TYPES[key] = cls
    return cls


def as_exception(chain: Sequence[TracebackBlock]) -> BaseException:
    """The outermost exception of ``chain`` (causes first, as Python prints them), with each
    earlier block as the ``__cause__`` of the next."""
    exc: BaseException | None = None
    for block in chain:
        outer = _synthetic_type(block.exc_type)(block.message)
        outer.__cause__ = exc
        exc = outer
    assert exc is not None, "an empty chain has no exception"
    return exc


#: Packages a frame can belong to; tritonbench too, because its checkout often sits inside a
#: Helion checkout (".../helion/benchmarks/tritonbench/tritonbench/...").
PACKAGES = ("torch", "triton", "helion", "tritonbench")
# Directories of a repository's scripts, not of its package: ".../helion/benchmarks/run.py".
_NOT_PACKAGE_DIRS = ("benchmarks/", "tests/", "test/", "examples/", "docs/")


def package_of(path: str) -> tuple[str, str, str] | None:
    """``(package, package directory, module path inside it)`` of a source path, by the last
    ``/<package>/`` in it; None for a path in no known package or in a repository's scripts."""
    best, where = "", -1
    for pkg in PACKAGES:
        i = path.rfind(f"/{pkg}/")
        if i > where:
            best, where = pkg, i
    if not best:
        return None
    rest = path[where + len(best) + 2 :]
    if rest.startswith(_NOT_PACKAGE_DIRS):
        return None
    return best, path[: where + len(best) + 1], rest


def innermost_tool_frame(chain: Sequence[TracebackBlock]) -> str:
    """``pkg.module:function`` of the innermost triton/helion/torch frame, as
    :mod:`checker.diagnostics` uses in signatures; '' when there is none."""
    for block in reversed(chain):
        for frame in reversed(block.frames):
            found = package_of(frame.path)
            if found is not None and found[0] in _TOOL_PACKAGES:
                module = found[2].removesuffix(".py").replace("/", ".")
                return f"{found[0]}.{module}:{frame.function}"
    return ""


def innermost_frame(chain: Sequence[TracebackBlock], package: str = "") -> Frame | None:
    """The innermost frame of the chain in ``package`` (any frame for '')."""
    for block in reversed(chain):
        for frame in reversed(block.frames):
            if not package:
                return frame
            found = package_of(frame.path)
            if found is not None and found[0] == package:
                return frame
    return None


def innermost_operator_frame(chain: Sequence[TracebackBlock]) -> Frame | None:
    """The innermost frame in a tritonbench operator module (``operators/<op>/operator.py``),
    whose function is the implementation tritonbench was calling."""
    for block in reversed(chain):
        for frame in reversed(block.frames):
            if "/operators/" in frame.path and frame.path.endswith("/operator.py"):
                return frame
    return None


def diagnose(chain: Sequence[TracebackBlock]) -> Diagnosis:
    """Category, sanitized message, fields and signature of a logged exception chain, by the
    rules of :func:`checker.diagnostics.classify`, with the signature's frame taken from the
    logged frames (the synthetic exception has none)."""
    exc = as_exception(chain)
    d = diagnostics.classify(exc)
    outer = chain[-1]
    headline = f"{outer.short_type}: {outer.message.splitlines()[0] if outer.message else ''}"
    if re.match(r"at \d+:\d+:\s*$", outer.message.splitlines()[0] if outer.message else ""):
        # Triton's CompilationError starts with a source position; what went wrong is its last line.
        lines = [line for line in outer.message.splitlines() if line.strip()]
        headline = f"{outer.short_type}: {lines[-1].strip()}"
    if d.category.value == "numel-overflow":
        # The numel text is the error, whatever wraps it (CompilationError's "at 12:4:").
        m = re.search(r"numel \(\d+\) exceeds triton maximum tensor numel \(\d+\)", d.message)
        headline = m.group() if m else headline
    sig = diagnostics.signature(d.category, headline, innermost_tool_frame(chain))
    fields = dict(d.fields)
    fields["exception"] = outer.exc_type
    return Diagnosis(d.category, d.message, sig, fields)
