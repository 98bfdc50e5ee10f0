"""Exception -> failure category, key fields, sanitized message and stable signature.

Classification is table-driven: the first rule whose exception type name and message pattern
match decides the category; its named groups become the record's fields. Messages quoted in the
rules are real ones (seed logs, measurements in docs/gpu-runs.md); tests/test_diagnostics.py holds them.
Anything no rule matches is ``runtime-error`` with the exception type, never a pass.
"""

from __future__ import annotations

import hashlib
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from checker import blame
from checker.categories import Category
from checker.model import encodable

#: Longest message kept in a record, characters (the rest is cut in the middle).
MAX_MESSAGE = 4000


@dataclass(frozen=True)
class Rule:
    """Exceptions whose type (or a base's) name is in ``types`` (empty: any) and whose message
    matches ``pattern`` (None: any) get ``category``; named groups become integer/str fields.

    ``in_reproducer``: the standalone reproducer classifies by this rule too (its category,
    types and pattern are written into every reproducer, checker/triage/repro.py); False for
    exceptions only the checker's own stages raise."""

    category: Category
    types: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None
    extra: Callable[[BaseException, str], dict[str, Any]] | None = None
    in_reproducer: bool = True


def _helion_location(_: BaseException, message: str) -> dict[str, Any]:
    m = re.search(r'While processing:\s*File "([^"]+)", line (\d+)', message)
    return {"source_file": m.group(1).rsplit("/", 1)[-1], "source_line": int(m.group(2))} if m else {}


# Helion writes the kernel source line above the Triton code generated from it:
# "# src[block_absmax.py:40]: blk = xv[tm, :, tn, :].to(torch.float32)"
_HELION_SRC = re.compile(r"# src\[(?P<file>[^\]:]+):(?P<line>\d+)\]: (?P<code>.*)")
_CARET = re.compile(r"^\s*\^\s*$", re.MULTILINE)


def _numel_details(exc: BaseException, message: str) -> dict[str, Any]:
    """The overflowing tile's shape and the kernel source line that built it.

    ``block_shape`` is read from ``shape``, a local of triton's ``validate_block_shape`` (the
    function that raises the numel error, triton/_utils.py), in the traceback of the chained
    ValueError; ``source_file``/``source_line``/``source`` from the last ``# src[...]`` comment
    Helion wrote above the line Triton points at.
    """
    out: dict[str, Any] = {}
    for e in _chain(exc):
        tb = e.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_name == "validate_block_shape":
                # A triton.language tuple, not a Python one: take any iterable of ints.
                try:
                    dims = list(tb.tb_frame.f_locals.get("shape") or ())
                except TypeError:
                    dims = []
                if dims and all(isinstance(d, int) for d in dims):
                    out["block_shape"] = dims
            tb = tb.tb_next
    caret = _CARET.search(message)
    before = message[: caret.start()] if caret else message
    sources = list(_HELION_SRC.finditer(before))
    if sources:
        src = sources[-1]
        out["source_file"] = src["file"]
        out["source_line"] = int(src["line"])
        out["source"] = src["code"].strip()[:200]
    else:
        out.update(_triton_location(exc))
    return out


def _is_jit_function(obj: Any) -> bool:
    """Whether ``obj`` looks like Triton's ``JITFunction`` (what this module reads of one),
    without importing triton. A user object whose ``__getattr__`` raises anything is not one:
    this runs while an exception is being classified, and must not raise another."""
    try:
        return hasattr(obj, "starting_line_number") and hasattr(obj, "src")
    except Exception:
        return False


def _jit_functions(exc: BaseException) -> list[Any]:
    """The ``JITFunction`` compiled when ``exc`` was raised (``triton.compile``'s ``src.fn``,
    from the traceback), then the ``@triton.jit`` functions in its module's globals."""
    roots: list[Any] = []
    for e in _chain(exc):
        tb = e.__traceback__
        while tb is not None:
            fn = getattr(tb.tb_frame.f_locals.get("src"), "fn", None)
            if _is_jit_function(fn) and fn not in roots:
                roots.append(fn)
            tb = tb.tb_next
    found = list(roots)
    for root in roots:
        for value in getattr(getattr(root, "fn", None), "__globals__", {}).values():
            if _is_jit_function(value) and value not in found:
                found.append(value)
    return found


def _triton_location(exc: BaseException) -> dict[str, Any]:
    """For a hand-written ``@triton.jit`` kernel (no Helion ``# src`` comments): its file, line
    and source at the statement Triton's CompilationError points at.

    The innermost CompilationError of the chain gives the statement's line within the function's
    source from its ``def`` line (``node.lineno``, triton/compiler/errors.py) and that source.
    The ``JITFunction`` with that source is the compiled kernel (``ASTSource.fn``, a local of
    ``triton.compile`` in the traceback) or a ``@triton.jit`` function its module's globals
    name (a helper); it gives the file and where the function starts
    (``starting_line_number``: its first decorator, from ``inspect.getsourcelines``). Empty when
    either is missing, and for the checker's generated modules (Helion code).
    """
    errors = [e for e in _chain(exc) if type(e).__name__ == "CompilationError"]
    located = [e for e in errors if isinstance(getattr(getattr(e, "node", None), "lineno", None), int)]
    if not located:
        return {}
    inner = located[-1]
    wanted = getattr(inner, "src", None)
    jit = next((j for j in _jit_functions(exc) if wanted is not None and j.src == wanted), None)
    fn = getattr(jit, "fn", None)
    code = getattr(fn, "__code__", None)
    raw = getattr(jit, "raw_src", None)
    start = getattr(jit, "starting_line_number", None)
    if code is None or not isinstance(start, int) or not isinstance(raw, list):
        return {}
    filename = code.co_filename.rsplit("/", 1)[-1]
    if filename.startswith("kcheck_gen_"):
        return {}
    # src starts at the `def` line; raw_src (and starting_line_number) at the first decorator.
    def_offset = next((i for i, line in enumerate(raw) if re.match(r"\s*def\s", line)), 0)
    lineno: int = inner.node.lineno  # type: ignore[attr-defined]
    src_lines = str(inner.src).split("\n")  # type: ignore[attr-defined]
    text = src_lines[lineno - 1].strip() if 0 < lineno <= len(src_lines) else ""
    return {
        "source_file": filename,
        "source_line": start + def_offset + lineno - 1,
        **({"source": text[:200]} if text else {}),
    }


# Triton's nvidia backend (triton/backends/nvidia/compiler.py, make_cubin) raises PTXASError
# inside ``except CalledProcessError``; its message names 255 and SIGSEGV, other codes by number.
_PTXAS_STATUS = (
    (re.compile(r"Internal Triton PTX codegen error"), 255),
    (re.compile(r"`ptxas` raised SIGSEGV"), 128 + 11),
)
_PTXAS_CODE = re.compile(r"`ptxas` failed with error code (\d+)")


# "ptxas fatal   : (C7600) Register allocation failed with register count of '64'. ..."
# (H100, causal_attention fp16 sampled config, 2026-11-21)
_PTXAS_FATAL = re.compile(r"ptxas fatal\s*:\s*(?:\((?P<code>C\d+)\)\s*)?(?P<text>.+)")


def _ptxas_details(exc: BaseException, message: str) -> dict[str, Any]:
    """``stage: ptxas``; ptxas's ``exit_status`` from the chained CalledProcessError, else from
    the message Triton wrote for it; ``ptxas_error`` (and ``ptxas_code`` such as ``C7600``) from
    ptxas's first ``fatal`` line."""
    out: dict[str, Any] = {"stage": "ptxas"}
    fatal = _PTXAS_FATAL.search(message)
    if fatal:
        out["ptxas_error"] = fatal["text"].strip()[:200]
        if fatal["code"]:
            out["ptxas_code"] = fatal["code"]
    for e in _chain(exc):
        code = getattr(e, "returncode", None)
        if isinstance(code, int):
            out["exit_status"] = code
            return out
    m = _PTXAS_CODE.search(message)
    if m:
        out["exit_status"] = int(m.group(1))
        return out
    for pattern, code in _PTXAS_STATUS:
        if pattern.search(message):
            out["exit_status"] = code
            break
    return out


def _stage(stage: str) -> Callable[[BaseException, str], dict[str, Any]]:
    return lambda _exc, _msg: {"stage": stage}


#: What torch's allocator ("CUDA out of memory") and the CUDA runtime ("CUDA error: out of
#: memory") say when the GPU has no memory left (checker.exec_worker.out_of_memory reads it too).
OUT_OF_MEMORY = re.compile(r"CUDA out of memory|CUDA error: out of memory")

RULES: tuple[Rule, ...] = (
    # "numel (2097152) exceeds triton maximum tensor numel (1048576)" (seed logs, Triton)
    Rule(
        Category.NUMEL_OVERFLOW,
        pattern=re.compile(
            r"numel \((?P<numel>\d+)\) exceeds triton maximum tensor numel \((?P<limit>\d+)\)"
        ),
        extra=_numel_details,
    ),
    # The checker's interpreter shims raise InterpreterGap (checker/interpreter.py); a reproducer
    # has its own shims, which raise what an unshimmed interpreter would.
    Rule(Category.INTERPRETER_UNSUPPORTED, types=("InterpreterGap",), in_reproducer=False),
    # checker/interpreter.py's store patch (a reproducer carries its text); Triton's interpreter
    # wraps what a kernel raises: "InterpreterError: StoreRace('one store writes ...')".
    Rule(Category.STORE_RACE, types=("StoreRace",)),
    Rule(Category.STORE_RACE, pattern=re.compile(r"\bStoreRace\(")),
    # Triton 3.6's interpreter has no TMA reductions (Helion's atomic_indexing=tensor_descriptor):
    # "AttributeError: 'InterpreterBuilder' object has no attribute 'create_descriptor_reduce'"
    Rule(
        Category.INTERPRETER_UNSUPPORTED,
        pattern=re.compile(r"'InterpreterBuilder' object has no attribute '(?P<operation>\w+)'"),
    ),
    # Triton: "out of resource: shared memory, Required: 1048584, Hardware limit: 232448"
    Rule(
        Category.OUT_OF_RESOURCES,
        types=("OutOfResources",),
        pattern=re.compile(
            r"out of resource: (?P<resource>[\w ]+?), Required: (?P<required>\d+), "
            r"Hardware limit: (?P<limit>\d+)"
        ),
        # Only adds fields: a reproducer's verdict line names the exception, by the next rule.
        in_reproducer=False,
    ),
    Rule(Category.OUT_OF_RESOURCES, types=("OutOfResources",)),
    Rule(Category.COMPILER_CRASH, types=("PTXASError",), extra=_ptxas_details),
    # Triton's MLIR pipeline failing (H100, causal_attention fp16 sampled config, 2026-11-21)
    Rule(Category.COMPILER_CRASH, pattern=re.compile(r"PassManager::run failed"), extra=_stage("mlir-pass")),
    Rule(Category.INVALID_CONFIG, types=("InvalidConfig",)),
    # Helion's own errors arise while generating code, which a reproducer does not do.
    Rule(Category.HELION_INTERNAL_ERROR, types=("Base",), extra=_helion_location, in_reproducer=False),
    Rule(Category.CUDA_OOM, types=("OutOfMemoryError",)),
    # torch's allocator says "CUDA out of memory"; the runtime's own allocations (a context, a
    # library's workspace) fail as AcceleratorError "CUDA error: out of memory", which was a
    # runtime-error blamed on the kernel (H100, golden checks beside 16 case workers, 2026-12-07).
    Rule(Category.CUDA_OOM, pattern=OUT_OF_MEMORY),
    Rule(Category.ILLEGAL_MEMORY_ACCESS, pattern=re.compile(r"illegal memory access|misaligned address")),
    # "device-side assert triggered", not "device-side assert": torch ends every CUDA error's
    # message with "Compile with `TORCH_USE_CUDA_DSA` to enable device-side assertions.", and
    # an illegal instruction (Helion's jagged_dense_add example, H100) was filed as an assert.
    Rule(Category.DEVICE_ASSERT, pattern=re.compile(r"device-side assert triggered")),
    Rule(Category.LAUNCH_FAILURE, pattern=re.compile(r"unspecified launch failure|illegal instruction")),
    Rule(Category.COMPILER_CRASH, types=("CompilationError",), extra=_stage("triton-frontend")),
)


@dataclass(frozen=True)
class Diagnosis:
    """What an exception means for a case."""

    category: Category
    message: str
    signature: str
    fields: dict[str, Any] = field(default_factory=dict)


def _type_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _full_message(exc: BaseException) -> str:
    return "\n".join(f"{type(e).__name__}: {e}" for e in _chain(exc))


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def sanitize(text: str, limit: int = MAX_MESSAGE) -> str:
    """Strip ANSI escapes and control characters, escape what UTF-8 cannot encode (lone
    surrogates); cut the middle of texts over ``limit`` chars."""
    text = encodable(_CONTROL.sub("", _ANSI.sub("", text)))
    if len(text) > limit:
        half = limit // 2
        text = f"{text[:half]}\n... [{len(text) - limit} characters cut] ...\n{text[-half:]}"
    return text


_NORMALIZERS = (
    (re.compile(r"(/[\w.\-+@~]+)+/([\w.\-+@]+)"), r"\2"),  # absolute paths -> basename
    (re.compile(r"0x[0-9a-fA-F]+"), "0xADDR"),
    (re.compile(r"\btmp[\w]+"), "TMP"),
    (re.compile(r"kcheck_gen_[0-9a-f]+"), "GEN"),
    (re.compile(r"\d+"), "N"),
)


def normalize(text: str) -> str:
    """Message with paths, addresses, temp names and numbers replaced, for signatures."""
    for pattern, repl in _NORMALIZERS:
        text = pattern.sub(repl, text)
    return " ".join(text.split())


# What a comparison message (checker/numerics.py, run_step.compare_outputs, run_step.clobbered_input)
# says about values, in every form they are printed: torch dtypes and kcheck's short dtype names
# first (they hold digits), then numbers as %.3g or repr prints them (``92%``, ``33.4%``,
# ``1.3e-06``, ``-0.96``, ``1.6562641035353959e+37``) and non-finite values, then the tuples and
# lists those leave behind (an index or a shape of any rank: ``(N, N)``, ``(N,)``, ``()``).
_VALUE_NORMALIZERS = (
    (re.compile(r"\btorch\.(?:float|bfloat|int|uint|bool|complex)\w*"), "DTYPE"),
    (re.compile(r"\b(?:fp8e4m3|fp8e5m2|fp\d+|bf16|[iu]\d+|bool)\b"), "DTYPE"),
    (re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?%?"), "N"),
    (re.compile(r"[-+]?\b(?:nan|inf)\b"), "N"),
    (re.compile(r"\((?:\s*N\s*,)*\s*N?\s*\)"), "(N)"),
    (re.compile(r"\[(?:\s*N\s*,)*\s*N?\s*\]"), "[N]"),
)


def normalize_values(text: str) -> str:
    """:func:`normalize`, and besides every value a comparison message names replaced: numbers
    in any format (sign, decimals, exponent, percent), ``nan``/``inf``, dtypes, and the index
    and shape tuples of any rank. What is left says which output failed and how (outside the
    tolerance, non-finite, all zeros, wrong shape or dtype, an input written), never by how much
    or where."""
    for pattern, repl in _VALUE_NORMALIZERS:
        text = pattern.sub(repl, text)
    return normalize(text)


#: Packages whose innermost traceback frame goes into an exception's signature.
TOOL_PACKAGES = ("triton", "helion", "torch")
#: Characters of the normalized message a signature is made of.
SIGNATURE_TEXT_LIMIT = 500


def _innermost_tool_frame(exc: BaseException) -> str:
    """``module:function`` of the innermost traceback frame inside triton or helion, or ''."""
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    for frame in reversed(frames):
        for pkg in TOOL_PACKAGES:
            marker = f"/{pkg}/"
            if marker in frame.filename:
                module = frame.filename.split(marker, 1)[1].removesuffix(".py").replace("/", ".")
                return f"{pkg}.{module}:{frame.name}"
    return ""


def signature(category: Category, message: str, frame: str = "") -> str:
    """Stable 12-hex-digit signature of a failure: the same crash in two configs, machines or
    runs gets the same value.

    A mismatch-like category's (:attr:`Category.is_mismatch`) message is normalized with
    :func:`normalize_values`: one wrong constant in a kernel fails 92% of the elements of one
    case and 33.4% of another, under rtol=1.3e-06 or 0.016, and is one signature (triage scopes
    those by kernel). Any other category's with :func:`normalize`, which keeps what the digits
    were embedded in (``numel (N)``, ``(CN)`` of a ptxas code), so that different crashes stay
    apart."""
    text = normalize_values(message) if category.is_mismatch else normalize(message)
    key = f"{category.value}\n{text[:SIGNATURE_TEXT_LIMIT]}\n{frame}"
    return hashlib.sha256(encodable(key).encode()).hexdigest()[:12]


def signature_recipe() -> dict[str, Any]:
    """How :func:`signature`, :func:`_headline`, :func:`_innermost_tool_frame` and
    :func:`with_compiler_log` make a signature, as tables a standalone reproducer applies
    (checker/triage/repro.py writes them into its ``CLASSIFICATION``), so that the file computes
    the checker's signature of what it observed without the checker:

    - ``normalizers``, ``value_normalizers``: ``[pattern, replacement]`` in order;
    - ``mismatch``: the categories whose messages lose their values (``is_mismatch``);
    - ``limit``: characters of normalized text hashed; ``tool_packages``: the packages whose
      innermost frame is part of an exception's signature;
    - ``ptxas_fatal``, ``position_only``, ``mlir_pass``: the patterns of the headline rules and
      of the failing MLIR pass a compiler's stderr names.
    """
    return {
        "normalizers": [[p.pattern, r] for p, r in _NORMALIZERS],
        "value_normalizers": [[p.pattern, r] for p, r in _VALUE_NORMALIZERS],
        "mismatch": sorted(c.value for c in Category if c.is_mismatch),
        "limit": SIGNATURE_TEXT_LIMIT,
        "tool_packages": list(TOOL_PACKAGES),
        "ptxas_fatal": _PTXAS_FATAL.pattern,
        "position_only": _POSITION_ONLY.pattern,
        "mlir_pass": _MLIR_PASS.pattern,
    }


def classify(exc: BaseException) -> Diagnosis:
    """Diagnose an exception raised while generating, compiling or running a case.

    An exception carrying a worker's diagnosis (``kcheck_diagnosis``: a plain Triton golden
    case's TTIR, checker/triton_ttir.py) keeps it."""
    carried = getattr(exc, "kcheck_diagnosis", None)
    if isinstance(carried, Diagnosis):
        return carried
    message = _full_message(exc)
    names = set().union(*(_type_names(e) for e in _chain(exc)))
    for rule in RULES:
        if rule.types and not names.intersection(rule.types):
            continue
        fields: dict[str, Any] = {}
        if rule.pattern is not None:
            m = rule.pattern.search(message)
            if m is None:
                continue
            fields = {k: int(v) if v.isdigit() else v.strip() for k, v in m.groupdict().items()}
        if rule.extra is not None:
            fields.update(rule.extra(exc, message))
        fields["exception"] = type(exc).__name__
        return _diagnosis(rule.category, message, exc, fields)
    found = blame.checker_fault(exc)
    if found is not None:
        return checker_error(exc, found)
    return _diagnosis(Category.RUNTIME_ERROR, message, exc, {"exception": type(exc).__name__})


def checker_error(exc: BaseException, where: blame.Culprit) -> Diagnosis:
    """The ``checker-error`` diagnosis of ``exc``, raised by the checker's own code at ``where``
    (checker.blame): a kcheck bug, reported with its traceback, never the kernel's failure.

    The signature is the exception type and the checker function that raised it (no line
    number, no message): one bug is one group however many cases it hit."""
    text = str(exc).strip()
    headline = f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")
    message = (
        f"kcheck's own code raised {headline}\n"
        f"at {where.where}: this is a bug in kcheck, not in the kernel; "
        "please report it with this traceback\n" + blame.traceback_text(exc)
    )
    function = where.where.split(":", 1)[0] + " " + where.function
    return Diagnosis(
        category=Category.CHECKER_ERROR,
        message=sanitize(message),
        signature=signature(Category.CHECKER_ERROR, f"{type(exc).__name__} {function}"),
        fields={"exception": type(exc).__name__, "checker_frame": where.where},
    )


def _chain(exc: BaseException) -> list[BaseException]:
    out = [exc]
    cur = exc.__cause__ or exc.__context__
    while cur is not None and cur not in out:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


# Triton's CompilationError starts with the position of the failing expression ("at 24:28:"),
# followed by source lines; what went wrong is the exception it chains.
_POSITION_ONLY = re.compile(r"^\w+: at \d+:\d+:\s*$")


def _headline(exc: BaseException, message: str) -> str:
    """The line a signature is made of: the message's first line (with ptxas's first ``fatal``
    line, when there is one), or, when that line is only a source position, the first line of
    the innermost chained exception."""
    first_line = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
    fatal = _PTXAS_FATAL.search(message)
    if fatal:
        # Triton's first line is the same for every ptxas failure with one exit status.
        return f"{first_line} {fatal.group(0)}"
    if _POSITION_ONLY.match(first_line):
        inner = _chain(exc)[-1]
        text = str(inner).strip()
        return f"{type(inner).__name__}: {text.splitlines()[0] if text else ''}"
    return first_line


# Files a message names that are gone by the time anyone reads it: kcheck's scratch directories
# (checker/rundir.py: ``kcheck-run-*`` of a run, ``kcheck-gen-*`` and ``kcheck-ptxas-*`` of a
# process, each removed when it ends; their names end in tempfile's 8 random characters) and the
# ``tmpXXXXXXXX.ptx`` files Triton hands ptxas, deleted as soon as ptxas fails.
_PATH_CHAR = r"[^\s/:'\"`]"
_GONE = re.compile(
    rf"(?:/{_PATH_CHAR}+)*/(?:kcheck-[a-z]+-[a-z0-9_]{{8}}/(?:{_PATH_CHAR}+/)*(?P<name>{_PATH_CHAR}+)"
    r"|(?P<tmp>tmp[a-z0-9_]{8}(?:\.[a-z]+)+))"
)
#: The placeholder of a gone file's directory, and the line that explains it.
GONE_DIR = "<scratch>"
GONE_NOTE = (
    f"({GONE_DIR}: a temporary directory removed when the compile or the run ended; "
    "`kcheck repro` on this case writes its generated code to a file that stays)"
)


def name_gone_files(message: str) -> str:
    """``message`` with every path into a temporary directory that no longer exists once the
    run ends written ``<scratch>/<file name>``, and a last line (:data:`GONE_NOTE`) saying so
    and what to run instead; unchanged when it names no such path."""
    rewritten = _GONE.sub(lambda m: f"{GONE_DIR}/{m['name'] or m['tmp']}", message)
    if rewritten == message or GONE_NOTE in rewritten:
        return rewritten
    return f"{rewritten}\n{GONE_NOTE}"


def _diagnosis(category: Category, message: str, exc: BaseException, fields: dict[str, Any]) -> Diagnosis:
    return Diagnosis(
        category=category,
        message=sanitize(name_gone_files(message)),
        signature=signature(category, _headline(exc, message), _innermost_tool_frame(exc)),
        fields=fields,
    )


# MLIR's pass manager reports the failing pass on stderr, not in the exception (which only says
# "PassManager::run failed"): "Pipeline failed while executing [`TritonGPURemoveLayoutConversions`
# on 'builtin.module' operation]" (triton 3.6, seen on attention fp16 configs for sm_90).
_MLIR_PASS = re.compile(r"Pipeline failed while executing \[`(?P<name>[\w:.\-]+)`")
_COMPILER_DIAG = re.compile(r":\d+:\d+: (error|note): ")


def with_compiler_log(d: Diagnosis, log: str) -> Diagnosis:
    """``d`` completed with what the compiler printed while failing (a worker's stderr).

    Adds the failing MLIR pass as field ``pass`` and into the signature (two configs that break
    the same pass share a signature; different passes do not), and appends the compiler's
    ``error:``/``note:`` lines (at most 10) to the message. Returns ``d`` unchanged when the log
    holds neither.
    """
    found = _MLIR_PASS.search(log)
    lines = [line for line in log.splitlines() if _COMPILER_DIAG.search(line)][-10:]
    if found is None and not lines:
        return d
    fields, sig, message = dict(d.fields), d.signature, d.message
    if found is not None:
        fields["pass"] = found.group("name")
        sig = signature(d.category, f"{d.signature} {fields['pass']}")
    if lines:
        message = sanitize(name_gone_files(f"{message}\ncompiler diagnostics:\n" + "\n".join(lines)))
    return replace(d, message=message, signature=sig, fields=fields)
