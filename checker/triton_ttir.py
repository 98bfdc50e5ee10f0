"""The golden text of a plain Triton case: its kernel's TTIR, normalized.

Golden files of plain Triton kernels hold the kernel's TTIR for the target (the IR Triton's
frontend and its target-independent passes make: inlined, canonicalized, CSE'd), not Python
source: what a golden file must catch is a change in what gets compiled (a new Triton, a changed
helper in another module, a launcher that specializes differently), which the Python source of
the kernel does not show. :func:`normalize_ttir` says what is normalized and why.

The TTIR is made for the run's target in a compile worker from the case's host module
(checker/triton_codegen.py), with the compile stage's own binder and options
(checker/compile.py); golden/cases.py calls :func:`golden_ttir`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

#: Seconds one TTIR job of a golden case may take in its compile worker.
TTIR_TIMEOUT_S = 60.0


class TtirUnavailable(RuntimeError):
    """The TTIR of a golden case could not be made; carries the compile worker's diagnosis
    (``kcheck_diagnosis``, read by checker.diagnostics.classify), so the golden record gets the
    category a case would (``numel-overflow``, ``compiler-crash``...)."""

    def __init__(self, diagnosis: Any) -> None:
        super().__init__(getattr(diagnosis, "message", str(diagnosis)))
        self.kcheck_diagnosis = diagnosis


@dataclass(frozen=True)
class TtirJob:
    """Make the TTIR of a host module's kernel launch for ``target`` in a compile worker
    (TRITON_INTERPRET is off there; the pytest process on a CPU machine interprets)."""

    code: str
    entry: str
    args: tuple[Any, ...]
    target: Any  # checker.targets.Target

    def handle(self) -> Any:
        from checker import diagnostics
        from checker.pool import Error, Ok

        started = time.perf_counter()
        try:
            text = ttir_for_target(self.code, self.entry, self.args, self.target)
        except Exception as exc:
            return Error(diagnostics.classify(exc), seconds=time.perf_counter() - started)
        return Ok(text, seconds=time.perf_counter() - started)


class _StopAfterTtir(Exception):
    def __init__(self, text: str) -> None:
        super().__init__("ttir")
        self.text = text


def ttir_for_target(code: str, entry_name: str, args: tuple[Any, ...], target: Any) -> str:
    """The TTIR (without debug locations) of the first kernel launch of host module ``code``,
    compiled for ``target``; ``args`` as from ``checker.compile.describe_args``.

    The same binder and options as the compile stage (checker/compile.py), stopped right after
    the ``ttir`` stage; ``always_compile`` so a Triton cache hit cannot skip the stages.

    Raises:
        Whatever Triton raises (CompilationError for numel overflow...).
    """
    from triton import knobs
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource, make_backend
    from triton.compiler import compile as triton_compile
    from triton.runtime.jit import create_function_from_signature

    from checker import codegen
    from checker.compile import TensorArg, capture_launch

    real_args = tuple(a.materialize() if isinstance(a, TensorArg) else a for a in args)
    fn, kw, kargs = capture_launch(codegen.load(code, entry_name), real_args)
    gpu = GPUTarget("cuda", target.capability, target.warp_size)
    backend = make_backend(gpu)
    binder = create_function_from_signature(fn.signature, fn.params, backend)
    bound, specialization, options = binder(*kargs, **kw)
    options, signature, constexprs, attrs = fn._pack_args(backend, kw, bound, specialization, options)

    def hook(backend: Any, stages: dict[str, Any], options: Any, language: Any, capability: Any) -> None:
        def stop(src: Any, metadata: dict[str, Any]) -> Any:
            raise _StopAfterTtir(src.str_nodebug() if hasattr(src, "str_nodebug") else str(src))

        stages["ttgir"] = stop

    with knobs.runtime.scope(), knobs.compilation.scope():
        knobs.runtime.add_stages_inspection_hook = hook
        knobs.compilation.always_compile = True
        try:
            triton_compile(ASTSource(fn, signature, constexprs, attrs), target=gpu, options=options.__dict__)
        except _StopAfterTtir as stop:
            return stop.text
    raise RuntimeError("Triton's pipeline has no ttgir stage after ttir; cannot take the TTIR")


_LOC_DEF = re.compile(r"^#loc\d*\s*=.*$", re.MULTILINE)
_LOC_REF = re.compile(r"\s*loc\(")


def _strip_locs(text: str) -> str:
    """Remove every ``loc(...)`` (balanced parentheses; locations may nest ``callsite(...)``)."""
    out: list[str] = []
    i = 0
    while True:
        m = _LOC_REF.search(text, i)
        if m is None:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i : m.start()])
        depth, j = 0, m.end() - 1
        while j < len(text):
            if text[j] == "(":
                depth += 1
            elif text[j] == ")":
                depth -= 1
                if depth == 0:
                    break
            elif text[j] == '"':
                j = text.index('"', j + 1)
            j += 1
        i = j + 1


def normalize_ttir(text: str) -> str:
    """Canonical TTIR for a golden file.

    Normalized, and why:

    * debug locations (``loc(...)`` and ``#locN = loc("/path/file.py":12:5)`` lines) are
      removed: they hold absolute paths and line numbers, which move when an unrelated line of
      the kernel's file (a docstring) changes, or when the package lives elsewhere;
    * line endings and trailing whitespace, as for Helion code (checker/golden/normalize.py
      runs on top).

    Kept: the kernel name, argument types and specialization attributes (``tt.divisibility``:
    a launcher that passes a different stride changes what is compiled), every operation.
    SSA value numbers are kept too: MLIR's printer numbers values in order, so they are stable
    for the same IR.
    """
    text = _LOC_DEF.sub("", text.replace("\r\n", "\n"))
    text = _strip_locs(text)
    lines = [line.rstrip() for line in text.split("\n")]
    # Blank lines too: removing the #loc definitions leaves some behind.
    return "\n".join(line for line in lines if line.strip()) + "\n"


_worker: Any = None


def _target() -> Any:
    """The target golden TTIR is made for: the local GPU, else the one Helion is made to see
    on this CPU machine (``--target``, checker.targets.use_target_on_cpu), else sm_90."""
    from checker import targets

    local = targets.local_cuda_target()
    if local is not None:
        return local
    return getattr(targets, "_active", None) or targets.get_target(targets.DEFAULT_TARGET)


def golden_ttir(code: str, entry: str, inputs: tuple[Any, ...]) -> str:
    """Normalized TTIR of host module ``code`` (entry ``entry``) on ``inputs`` for the run's
    target, made in a compile worker of this process (started once, killed at exit).

    Raises:
        TtirUnavailable: the compile failed (its diagnosis: numel overflow, a compiler crash...),
            timed out or the worker died.
    """
    global _worker
    from checker import diagnostics
    from checker.categories import Category
    from checker.compile import describe_args
    from checker.pool import CompileWorker, Error, Ok

    if _worker is None:
        _worker = CompileWorker()
    outcome = _worker.run(TtirJob(code, entry, describe_args(inputs), _target()), TTIR_TIMEOUT_S)
    if isinstance(outcome, Ok):
        return normalize_ttir(outcome.result)
    if isinstance(outcome, Error):
        raise TtirUnavailable(diagnostics.with_compiler_log(outcome.diagnosis, outcome.stderr_tail))
    message = f"TTIR for the golden file: the compile worker did not answer ({type(outcome).__name__})"
    raise TtirUnavailable(
        diagnostics.Diagnosis(
            Category.WORKER_DIED, message, diagnostics.signature(Category.WORKER_DIED, message), {}
        )
    )
