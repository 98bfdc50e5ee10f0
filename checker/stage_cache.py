"""Cached results of the pure stages before and after the compile: Helion's code generation,
config sampling, and interpreter verdicts (issue 15, items 2 and 3).

A warm rerun on CPU spent 12 s of its 58 s of case time generating the same code again, and
32 s running the same generated code on the same inputs under the interpreter again
(docs/benchmarks.md). Each of those results is a function of what went in, so it is stored
under a hash of exactly that and reused (checker.store: one JSON file per key, atomic, pruned
with the compile verdicts, read as untrusted input).

What each key covers:

- **kernel identity** (:func:`kernel_digest`): the bytes of the kernel's source file and of every
  file that defines a Python object the kernel function reaches through its globals
  (transitively: helper functions, other kernels, modules of the user's own code; files of
  installed packages are not hashed: torch, triton and helion are covered by the toolchain
  versions, any other installed package a kernel imports code from is not, which the README
  says), ``HELION_*`` settings, the
  torch/triton/helion/python versions, the target profile, whether Helion sees the real device
  or is made to see the target on CPU, and the source of the checker modules that steer code
  generation. Editing a kernel file misses for its kernels only.
- **sampled configs** (``samples``): kernel identity, the launch arguments' shapes, strides and
  dtypes, the seed and the count. Helion's ``ConfigGeneration`` depends on nothing else.
- **generated code** (``codegen``): kernel identity, launch arguments, the config.
- **interpreter verdicts** (``run``): the normalized generated code, the entry, the input
  tensors' bytes, shapes, strides and dtypes, the reference's outputs' bytes (both hashed, not
  trusted to the spec: a reference or input factory edited anywhere changes them), the spec's
  numeric settings (tolerances, dot precision, reduction length, output dtypes, outputs,
  mutates), kernel files the generated code imports, toolchain and the checker's comparing
  and interpreting source. The interpreter is deterministic for given code and inputs, so the
  verdict is too. Verdicts of native GPU runs are never cached: a racy kernel's wrong result
  varies from run to run (93.8% and 94.7% of elements on two H200 runs of one case), and
  running the kernel on the device is what a GPU job is for.

Helion configs are stored as their dicts (``dict(config.config)``, JSON lists for lists) and
rebuilt with ``helion.Config(**d)``; tests/test_stage_cache.py checks that code generated from a
rebuilt config equals the original's for the bundled kernels' sampled configs.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import json
import os
import sys
import sysconfig
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from checker import toolchain
from checker.cache import arg_json, checker_digest, normalize_code, triton_env
from checker.model import Category, Comparison, comparison_from_dict
from checker.spec import KernelSpec
from checker.store import BadEntry, EntryStore
from checker.targets import Target

#: Version of the key material and the entry formats; bump when either changes meaning.
SCHEMA = 1
#: Checker modules that steer Helion's code generation or config sampling (the CPU target
#: patch, the sampler call, the stage cache's own keys).
_CODEGEN_MODULES = ("codegen", "targets", "sweep", "stage_cache")
#: Checker modules whose code decides an interpreter verdict from generated code and inputs.
_RUN_MODULES = ("execute", "numerics", "interpreter", "targets", "diagnostics", "stage_cache")
#: Categories of a completed comparison: what the interpreter run of given code on given inputs
#: decides. Exceptions (runtime errors, interpreter gaps) are not stored: they are rare, and an
#: exception's text may name process-specific paths.
CACHED_RUN_CATEGORIES = frozenset(
    {
        Category.PASSED,
        Category.NUMERICAL_MISMATCH,
        Category.NONFINITE_MISMATCH,
        Category.SHAPE_MISMATCH,
        Category.DTYPE_MISMATCH,
        Category.INPUT_MUTATED,
    }
)
#: How many objects the walk over a kernel's globals visits at most (a kernel file importing a
#: large package of the user's own stops there; the files seen so far still count).
_MAX_OBJECTS = 2000


def _digest(material: Any) -> str:
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@functools.cache
def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths.get(k, "") for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots.update({sys.prefix, sys.base_prefix, sys.exec_prefix})
    return tuple(sorted(r for r in roots if r))


def _is_library(path: str) -> bool:
    # Installed packages change with their version, which toolchain.versions() does not name for
    # every package; but a kernel's own imports of installed packages are rare, and hashing
    # site-packages files on every run would cost more than it saves. Editable installs of the
    # user's code live outside these roots and are hashed.
    real = os.path.realpath(path)
    return (
        any(real.startswith(root.rstrip("/") + "/") for root in _library_roots()) or "site-packages" in real
    )


def _source_file(obj: Any) -> str | None:
    """The source file of a function, class or module, or None when it has none on disk.

    Modules built into the interpreter have no ``__file__`` at all (``math`` and ``sys`` in
    Debian's and Ubuntu's python3: issue 22, where reading it failed every attention case); frozen
    and namespace modules have ``None`` or a non-file; C extensions a ``.so``; classes defined
    in such modules make ``inspect.getsourcefile`` raise ``TypeError`` (and ``OSError`` on newer
    Pythons). Objects of the user's own can raise anything from ``__getattr__``."""
    try:
        if isinstance(obj, types.ModuleType):
            path = getattr(obj, "__file__", None)
        else:
            path = inspect.getsourcefile(obj)
    except Exception:
        return None
    return path if isinstance(path, str) and os.path.isfile(path) else None


def _wrapped(obj: Any) -> Any:
    """What a Helion Kernel or a Triton JITFunction wraps (``.fn``), else None; an attribute
    lookup that raises (a user object's ``__getattr__``) counts as none."""
    try:
        inner = getattr(obj, "fn", None)
    except Exception:
        return None
    return inner if inner is not None and inner is not obj and callable(inner) else None


def _reachable_files(root_fn: Any) -> list[str]:
    """Source files (outside installed packages) of ``root_fn`` and of the functions, classes,
    modules and Helion kernels it reaches through global names, transitively."""
    files: set[str] = set()
    seen: set[int] = set()
    todo: list[Any] = [root_fn]
    while todo and len(seen) < _MAX_OBJECTS:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        inner = _wrapped(obj)
        if inner is not None:
            todo.append(inner)
            continue
        path = _source_file(obj)
        if path is None or _is_library(path):
            continue
        files.add(os.path.realpath(path))
        if isinstance(obj, types.FunctionType):
            names = global_names(obj.__code__)
            todo.extend(obj.__globals__[n] for n in names if n in obj.__globals__)
    return sorted(files)


def global_names(code: types.CodeType) -> set[str]:
    """The global (and attribute) names ``code`` and the functions nested in it refer to."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= global_names(const)
    return names


def _file_digest(path: str) -> str:
    try:
        st = os.stat(path)
    except OSError:
        return "-"
    # Keyed by size and mtime too: one process may see a file edited between two runs (pytest
    # sessions in one process, an IDE's test runner), and must not keep the old digest.
    return _digest_of(path, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=4096)
def _digest_of(path: str, size: int, mtime_ns: int) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return "-"


def kernel_digest(spec: KernelSpec, target: Target, native: bool) -> str:
    """SHA-256 (64 hex digits) of what a kernel's code generation and config space depend on
    besides the launch arguments and the config: see the module docstring ("kernel identity").
    Computed for each (kernel, shape, dtype) group a process prepares (a walk over the kernel's
    globals and a stat per file; files are read again only when their size or mtime changed)."""
    files = _reachable_files(spec.kernel)
    return _digest(
        {
            "schema": SCHEMA,
            "kernel": getattr(spec.kernel, "name", None)
            or getattr(getattr(spec.kernel, "fn", None), "__name__", ""),
            "files": {path: _file_digest(path) for path in files},
            "helion_env": {k: v for k, v in sorted(os.environ.items()) if k.startswith("HELION_")},
            "toolchain": toolchain.versions(),
            "target": dataclasses.asdict(target),
            "native": native,
            "checker": checker_digest(_CODEGEN_MODULES),
        }
    )


def _args_json(args: Sequence[Any]) -> list[Any] | None:
    from checker.compile import describe_args

    described = [arg_json(a) for a in describe_args(tuple(args))]
    return None if any(a is None for a in described) else described


def config_dict(config: Any) -> dict[str, Any]:
    """The JSON form of a ``helion.Config`` (its knob dict, lists as lists).

    Raises:
        TypeError: ``config`` is not a ``helion.Config`` or a knob value JSON cannot hold.
    """
    inner = getattr(config, "config", None)
    if not isinstance(inner, dict):
        raise TypeError(f"not a helion.Config: {type(config).__name__}")
    # A round trip through JSON: what is stored is exactly what a hit rebuilds from.
    data = json.loads(json.dumps(dict(inner)))
    if not isinstance(data, dict):
        raise TypeError("config does not serialize to a dict")
    return data


def _config_of(data: Any) -> Any:
    import helion

    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise BadEntry("config: expected an object")
    return helion.Config(**data)


@dataclasses.dataclass(frozen=True)
class KernelKey:
    """The part of every codegen-side key shared by one (kernel, launch arguments) group.

    Attributes:
        kernel: :func:`kernel_digest`.
        args: the JSON form of the launch arguments' layouts (``cache.arg_json``).
    """

    kernel: str
    args: list[Any]

    def of(self, kind: str, **extra: Any) -> str:
        """The key of one entry of ``kind`` for this group with ``extra`` key material."""
        return _digest({"schema": SCHEMA, "kind": kind, "kernel": self.kernel, "args": self.args, **extra})


def kernel_key(spec: KernelSpec, args: Sequence[Any], target: Target, native: bool) -> KernelKey | None:
    """The group key of ``spec`` bound to ``args`` (tensors by layout), None when an argument
    has no stable description (an object printed with its address) or the kernel is not a
    Helion kernel."""
    if not type(spec.kernel).__module__.startswith("helion."):
        # Entries rebuild helion.Config objects: other kernels (plain Triton) are not cached.
        return None
    described = _args_json(args)
    if described is None:
        return None
    return KernelKey(kernel_digest(spec, target, native), described)


@dataclasses.dataclass(frozen=True)
class StageCache:
    """Codegen, config samples and interpreter verdicts under cache directory ``root``."""

    root: Path

    # -- config sampling ------------------------------------------------------------------------

    def get_samples(self, group: KernelKey, seed: int, count: int) -> list[Any] | None:
        """The ``count`` configs :func:`checker.sweep.sample_configs` drew for ``seed``: each a
        ``helion.Config`` or a :class:`SampleError` (a draw Helion could not make); None on a
        miss."""
        return EntryStore(self.root, "samples").get(
            group.of("samples", seed=seed, count=count), _decode_samples
        )

    def put_samples(self, group: KernelKey, seed: int, samples: Sequence[Any]) -> bool:
        """Store what ``sample_configs`` returned (configs and exceptions) for ``seed``."""
        try:
            entry = [
                {"error": str(s)} if isinstance(s, BaseException) else {"config": config_dict(s)}
                for s in samples
            ]
        except TypeError:
            return False
        key = group.of("samples", seed=seed, count=len(samples))
        return EntryStore(self.root, "samples").put(key, {"schema": SCHEMA, "samples": entry})

    def get_default(self, group: KernelKey) -> Any | None:
        """Helion's ``default_config()`` for the group, None on a miss."""
        return EntryStore(self.root, "samples").get(group.of("default"), _decode_default)

    def put_default(self, group: KernelKey, config: Any) -> bool:
        """Store the group's default config."""
        try:
            entry = {"schema": SCHEMA, "config": config_dict(config)}
        except TypeError:
            return False
        return EntryStore(self.root, "samples").put(group.of("default"), entry)

    # -- code generation ------------------------------------------------------------------------

    def _code_key(self, group: KernelKey, config: Any) -> str | None:
        try:
            return group.of("codegen", config=config_dict(config))
        except TypeError:
            return None

    def get_code(self, group: KernelKey, config: Any) -> str | None:
        """The Triton source Helion generated for ``config`` in this group, None on a miss."""
        key = self._code_key(group, config)
        return None if key is None else EntryStore(self.root, "codegen").get(key, _decode_code)

    def put_code(self, group: KernelKey, config: Any, code: str) -> bool:
        """Store the generated source of ``config``."""
        key = self._code_key(group, config)
        if key is None:
            return False
        return EntryStore(self.root, "codegen").put(key, {"schema": SCHEMA, "code": code})

    # -- interpreter verdicts -------------------------------------------------------------------

    def get_run(self, key: str) -> CachedRun | None:
        """The interpreter verdict stored under ``key`` (:func:`run_key`), None on a miss."""
        return EntryStore(self.root, "run").get(key, _decode_run)

    def put_run(self, key: str, run: CachedRun) -> bool:
        """Store an interpreter verdict; only :data:`CACHED_RUN_CATEGORIES` are stored."""
        if run.category not in CACHED_RUN_CATEGORIES:
            return False
        entry = {
            "schema": SCHEMA,
            "category": run.category.value,
            "message": run.message,
            "signature": run.signature,
            "comparison": dataclasses.asdict(run.comparison) if run.comparison is not None else None,
            "fields": run.fields,
            "run_s": run.run_s,
        }
        return EntryStore(self.root, "run").put(key, entry)


class SampleError(Exception):
    """A sampled config Helion could not generate, as stored (its message only)."""


@dataclasses.dataclass(frozen=True)
class CachedRun:
    """An interpreter verdict: what the comparison of a run decided.

    Attributes:
        category: one of :data:`CACHED_RUN_CATEGORIES`.
        message, signature: the record's.
        comparison: the statistics, None where none were computed.
        fields: the record fields the run and comparison added (not the compile's).
        run_s: seconds the interpreter run took when it ran.
    """

    category: Category
    message: str
    signature: str | None
    comparison: Comparison | None
    fields: dict[str, Any]
    run_s: float


def _check_schema(data: Any) -> None:
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise BadEntry("another schema")


def _decode_samples(data: Any) -> list[Any]:
    _check_schema(data)
    out: list[Any] = []
    for item in data["samples"]:
        if isinstance(item, dict) and isinstance(item.get("error"), str):
            out.append(SampleError(item["error"]))
        else:
            out.append(_config_of(item["config"]))
    return out


def _decode_default(data: Any) -> Any:
    _check_schema(data)
    return _config_of(data["config"])


def _decode_code(data: Any) -> str:
    _check_schema(data)
    code = data["code"]
    if not isinstance(code, str):
        raise BadEntry("code: expected a string")
    return code


def _decode_run(data: Any) -> CachedRun:
    _check_schema(data)
    category = Category(data["category"])
    if category not in CACHED_RUN_CATEGORIES:
        raise BadEntry(f"category {category.value} is never cached")
    fields, message, signature = data["fields"], data["message"], data["signature"]
    if not isinstance(fields, dict) or not isinstance(message, str):
        raise BadEntry("fields/message")
    if signature is not None and not isinstance(signature, str):
        raise BadEntry("signature")
    run_s = data["run_s"]
    if not isinstance(run_s, (int, float)) or isinstance(run_s, bool):
        raise BadEntry("run_s")
    return CachedRun(
        category, message, signature, comparison_from_dict(data["comparison"]), fields, float(run_s)
    )


def open_stage_cache(root: str | os.PathLike[str] | None) -> StageCache | None:
    """The stage cache at ``root``, None when caching is off (``--no-cache``)."""
    return None if root is None else StageCache(Path(root))


# -- the interpreter verdict's key -------------------------------------------------------------


def _tensor_digest(value: Any) -> Any:
    if not isinstance(value, torch.Tensor):
        text = repr(value)
        return None if " at 0x" in text else {"type": type(value).__qualname__, "repr": text}
    t = value.detach()
    data = t.contiguous().cpu().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
    return {
        "shape": list(t.shape),
        "stride": list(t.stride()),
        "dtype": str(t.dtype),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def _numeric_settings(spec: KernelSpec, shape: tuple[int, ...]) -> dict[str, Any]:
    """The spec fields the comparison reads, in a stable text form."""
    return {
        "tolerances": {str(k): repr(v) for k, v in spec.tolerances.items()},
        "dot_precision": {str(k): v for k, v in spec.dot_precision.items()},
        "reduction_length": spec.reduction_length(shape) if spec.reduction_length else None,
        "output_dtypes": {str(k): str(v) for k, v in spec.output_dtypes.items()},
        "reference_dtype": str(spec.reference_dtype),
        "outputs": [
            {
                "name": o.name,
                "dtype": repr(o.dtype),
                "tolerances": {str(k): repr(v) for k, v in o.tolerances.items()},
                # Called, not printed: a lambda's repr holds its address, new in every process.
                "reduction_length": o.reduction_length(shape) if o.reduction_length else None,
                "compare": o.compare,
            }
            for o in spec.outputs
        ],
        "mutates": list(spec.mutates),
    }


def run_key(
    spec: KernelSpec,
    case_shape: tuple[int, ...],
    case_dtype: str,
    code: str,
    entry: str,
    inputs: Sequence[Any],
    expected: Sequence[Any],
    target: Target,
) -> str | None:
    """The key of an interpreter verdict (see the module docstring), None when an input has no
    stable description. ``expected`` are the reference's outputs (returned, then mutated
    arguments in argument order)."""
    from checker.cache import _imported_kernel_files

    args = [_tensor_digest(v) for v in inputs]
    refs = [_tensor_digest(v) for v in expected]
    if any(a is None for a in args) or any(r is None for r in refs):
        return None
    return _digest(
        {
            "schema": SCHEMA,
            "kind": "run",
            "code": normalize_code(code),
            "entry": entry,
            "dtype": case_dtype,
            "inputs": args,
            "expected": refs,
            "numerics": _numeric_settings(spec, case_shape),
            "kernel_files": _imported_kernel_files(code),
            "toolchain": toolchain.versions(),
            "target": dataclasses.asdict(target),
            "checker": checker_digest(_RUN_MODULES),
            "env": triton_env(),
        }
    )
