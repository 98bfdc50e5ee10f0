"""Every cache key: the one place that says what a cached result depends on.

Four kinds of result are cached (:class:`checker.cache.store.Kind`): compile verdicts, sampled
configs (with Helion's default config), generated code, and interpreter verdicts. Each key is
SHA-256 over JSON key material made by :func:`_key`, which puts in every key what every cached
result depends on (:func:`common`):

- ``schema``: :data:`SCHEMA`, bumped when key material or an entry format changes meaning;
- ``kind``: which of the four results, so no key of one kind can equal another kind's;
- ``toolchain``: the torch, triton, helion and Python versions (checker.toolchain);
- ``checker``: :func:`checker_digest`, the source of every module of the checker package: a
  checker that generates, compiles, interprets, compares or classifies differently never replays
  what an older one decided (a CI cache restored by a prefix key would otherwise);
- ``env``: the ``TRITON_*`` and ``HELION_*`` settings that can change generated or compiled
  code (:func:`settings_env`);
- ``salt``: ``$KCHECK_CACHE_SALT``, to force a miss for what no key can observe.

and then what that kind's result depends on besides:

- **compile** (:func:`compile_key`): the normalized generated code, its entry, the launch
  arguments' layouts and types, the target profile, the compile level, and the kernel modules
  the generated code imports with what they depend on (:func:`imported_kernel_files`);
- **samples** and **codegen** (:class:`KernelKey`): the kernel's identity (its user files, the
  files they read at import, the environment variables they name or declare:
  checker.cache.identity), the target profile, whether Helion sees the real device, the launch
  arguments' layouts; then the seed and count (samples), or the config (codegen);
- **run** (:func:`run_key`): the normalized generated code and its entry, the input tensors' and
  the reference outputs' bytes, shapes, strides and dtypes, the spec's numeric settings, the
  imported kernel files, the target profile.

A key component is added here and nowhere else (docs/architecture.md, "Adding a cache key
component"); tests/test_cache_keys.py checks that each common component reaches all four kinds.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from checker import toolchain
from checker.cache import identity
from checker.cache.store import Kind
from checker.targets import Target

#: Version of the key material and of every entry format; bump it when either changes meaning.
SCHEMA = 4
#: Environment variable whose value is part of every key: set it to something new to force a
#: miss for everything (what no key can observe, README "Compile and stage cache").
SALT_ENV = "KCHECK_CACHE_SALT"
#: Prefixes of the environment settings that are part of every key.
_SETTINGS_PREFIXES = ("TRITON_", "HELION_")
#: Settings that change no generated or compiled code but vary between runs.
_IGNORED_ENV = frozenset({"TRITON_CACHE_DIR", "TRITON_INTERPRET", "TRITON_HOME", "TRITON_DUMP_DIR"})
#: Names the checker gives generated modules (checker.codegen.load): a hash of the code itself.
_GEN_MODULE = re.compile(r"kcheck_gen_[0-9a-f]{20}")
#: Kernel modules generated code may import (checker.loader.PACKAGE).
_KERNEL_IMPORT = re.compile(r"\bkcheck_kernels\.[A-Za-z0-9_.]+")
#: The checker package's directory.
_PACKAGE = Path(__file__).resolve().parent.parent


class Entry(enum.Enum):
    """What a codegen-side key names within its kind (the default config is stored beside the
    sampled configs, under its own key)."""

    SAMPLES = "samples"
    DEFAULT_CONFIG = "default"
    CODE = "codegen"

    @property
    def kind(self) -> Kind:
        """The store kind (cache subdirectory) entries of this name live in."""
        return Kind.CODEGEN if self is Entry.CODE else Kind.SAMPLES


def salt() -> str:
    """``$KCHECK_CACHE_SALT``: part of every key."""
    return os.environ.get(SALT_ENV, "")


def settings_env() -> dict[str, str]:
    """The ``TRITON_*`` and ``HELION_*`` settings that can change what is generated, compiled or
    run (TRITON_PTXAS_PATH, TRITON_DEFAULT_FP_FUSION, HELION_*...), without those that vary
    between runs and change nothing (cache and dump directories, TRITON_INTERPRET, which the
    checker sets itself on CPU)."""
    return {
        k: v
        for k, v in sorted(os.environ.items())
        if k.startswith(_SETTINGS_PREFIXES) and k not in _IGNORED_ENV
    }


@functools.cache
def checker_digest() -> str:
    """SHA-256 of the source of every module of the checker package (path and bytes), computed
    once per process. One rule rather than a list of the modules that decide: a list drifts."""
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"-")
        digest.update(b"\0")
    return digest.hexdigest()


def common() -> dict[str, Any]:
    """The key material every key has (see the module docstring)."""
    return {
        "schema": SCHEMA,
        "toolchain": toolchain.versions(),
        "checker": checker_digest(),
        "env": settings_env(),
        "salt": salt(),
    }


def digest(material: Any) -> str:
    """64 hex digits of SHA-256 over the canonical JSON of ``material``."""
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _key(kind: Kind | Entry, material: dict[str, Any]) -> str:
    # The common part last: a kind's material can never shadow it.
    return digest({**material, **common(), "kind": kind.value})


# -- pieces of key material ----------------------------------------------------------------------


def normalize_code(code: str) -> str:
    """``code`` without what differs between two identical runs.

    Helion's generated code names no temp file and no absolute path (two generations of every
    kernel in kernels/ were identical; ``# src[softmax.py:21]`` comments hold the file's base
    name only, and kernel modules are imported under names fixed by their directory and stem,
    checker.loader.module_name). What could still vary is replaced: the run's scratch directory
    and the system temp directory in a path, and generated module names.
    """
    for directory in filter(None, (os.environ.get("KCHECK_RUN_DIR"), tempfile.gettempdir())):
        code = re.sub(re.escape(directory.rstrip("/")) + r"/[^\s'\"]*", "<tmp>", code)
    return _GEN_MODULE.sub("kcheck_gen_<hash>", code)


def arg_json(value: Any) -> Any:
    """A JSON form of one described launch argument (``compile.describe_args``), None when it
    has none that is stable across runs."""
    from checker.compile import TensorArg

    if isinstance(value, TensorArg):
        layout = {"shape": list(value.shape), "stride": list(value.stride), "dtype": str(value.dtype)}
        # Host code that reads a small integer tensor (jagged offsets) compiles per its values.
        return layout if value.values is None else {**layout, "values": digest(list(value.values))}
    if value is None or isinstance(value, (bool, int, str)):
        # The type too: Triton specializes 1 and True and 1.0 differently.
        return {"type": type(value).__name__, "value": value}
    if isinstance(value, float):
        return {"type": "float", "value": repr(value)}  # repr: nan and inf are not JSON
    text = repr(value)
    if " at 0x" in text or " object>" in text:
        return None  # an address: no two runs agree, and nothing says which objects are equal
    return {"type": type(value).__qualname__, "repr": text}


def module_sources(module: Any) -> str:
    """SHA-256 of what a kernel module contributes: its file, the user's modules it imports
    transitively, files read at their import, environment variables named or declared
    (checker.cache.identity.sources)."""
    return digest(identity.sources([module])[1])


def imported_kernel_files(code: str) -> dict[str, str]:
    """A digest of each kernel module the generated ``code`` imports (a ``@triton.jit`` helper
    in a kernel file is compiled from that file, not from the generated code): of what it
    depends on (:func:`module_sources`) when the module is imported in this process (the process
    whose kernel it is); of its file only otherwise; ``-`` when it cannot be read."""
    from checker import loader

    registered = loader.registered()
    found: dict[str, str] = {}
    for name in sorted(set(_KERNEL_IMPORT.findall(code))):
        parts = name.split(".")
        # `kcheck_kernels.dir__stem.helper` names an attribute of the module dir__stem.
        prefixes = (".".join(parts[:i]) for i in range(len(parts), 1, -1))
        module = next((p for p in prefixes if p in registered), None)
        if module is None:
            found[name] = "-"
            continue
        loaded = sys.modules.get(module)
        if loaded is not None:
            found[module] = module_sources(loaded)
            continue
        found[module] = identity.file_digest(registered[module])
    return found


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


def tensor_json(value: Any) -> Any:
    """A tensor's shape, stride, dtype and SHA-256 of its bytes; another value's type and repr;
    None for a value printed with its address (no stable description)."""
    import torch

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


def numeric_settings(spec: Any, shape: tuple[int, ...]) -> dict[str, Any]:
    """The fields of ``spec`` (a checker.spec.KernelSpec) the comparison reads, in a stable text
    form, for a case of ``shape``."""
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


# -- the four kinds ------------------------------------------------------------------------------


def _cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ('' where it cannot be read)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def hostspeed_key() -> str:
    """The key of this host's speed measurement (checker.hostspeed): the CPU model, core count
    and machine type, with the common material (toolchain, checker source: the reference kernel
    lives there)."""
    import platform

    return _key(
        Kind.HOSTSPEED,
        {"cpu_model": _cpu_model(), "cpus": os.cpu_count(), "machine": platform.machine()},
    )


def compile_key(job: Any) -> str | None:
    """The key of compile job ``job`` (a checker.pool.CompileJob); None when it cannot be cached
    (a test-hook fault, or a launch argument without a stable description)."""
    if job.fault is not None:
        return None
    args = [arg_json(a) for a in job.args]
    if any(a is None for a in args):
        return None
    return _key(
        Kind.COMPILE,
        {
            "code": normalize_code(job.code),
            "entry": job.entry,
            "args": args,
            # Every profile field can change a verdict: max_shared_memory and the register file
            # decide out-of-resources, capability and warp_size the compiled code.
            "target": dataclasses.asdict(job.target),
            "level": job.level,
            "kernel_files": imported_kernel_files(job.code),
        },
    )


@dataclasses.dataclass(frozen=True)
class KernelKey:
    """The part of every codegen-side key shared by one (kernel, launch arguments) group.

    Attributes:
        kernel: the kernel's identity: a digest of its user files and what they read and name
            (checker.cache.identity.sources), its name, the target profile and whether Helion
            sees the real device.
        args: the JSON form of the launch arguments' layouts (:func:`arg_json`).
        sources: the user's files the kernel identity covers (real paths): files their functions
            read under Helion are checked on every hit (identity.codegen_reads).
    """

    kernel: str
    args: list[Any]
    sources: tuple[str, ...] = dataclasses.field(default=(), compare=False)

    def of(self, entry: Entry, **extra: Any) -> str:
        """The key of one entry named ``entry`` for this group, with ``extra`` key material
        (seed and count for samples, ``config`` for code)."""
        return _key(entry, {"kernel": self.kernel, "args": self.args, **extra})

    def samples(self, seed: int, count: int) -> str:
        """The key of the ``count`` configs sampled with ``seed``."""
        return self.of(Entry.SAMPLES, seed=seed, count=count)

    def default_config(self) -> str:
        """The key of Helion's default config."""
        return self.of(Entry.DEFAULT_CONFIG)

    def code(self, config: Any) -> str | None:
        """The key of the code generated for ``config`` (a helion.Config), None when the config
        has no JSON form."""
        try:
            return self.of(Entry.CODE, config=config_dict(config))
        except TypeError:
            return None


def kernel_key(spec: Any, args: Sequence[Any], target: Target, native: bool) -> KernelKey | None:
    """The group key of ``spec`` (a checker.spec.KernelSpec) bound to ``args`` (tensors by
    layout), None when an argument has no stable description (an object printed with its
    address) or the kernel is not a Helion kernel (entries rebuild helion.Config objects)."""
    from checker.compile import describe_args

    if not type(spec.kernel).__module__.startswith("helion."):
        return None
    described = [arg_json(a) for a in describe_args(tuple(args))]
    if any(a is None for a in described):
        return None
    files, material = identity.sources([spec.kernel])
    kernel = spec.kernel
    name = getattr(kernel, "name", None) or getattr(getattr(kernel, "fn", None), "__name__", "")
    identity_digest = digest(
        {"kernel": name, **material, "target": dataclasses.asdict(target), "native": native}
    )
    return KernelKey(identity_digest, described, tuple(files))


def run_key(
    spec: Any,
    case_shape: tuple[int, ...],
    case_dtype: str,
    code: str,
    entry: str,
    inputs: Sequence[Any],
    expected: Sequence[Any],
    target: Target,
) -> str | None:
    """The key of an interpreter verdict: see the module docstring; None when an input has no
    stable description. ``expected`` are the reference's outputs (returned, then mutated
    arguments in argument order)."""
    args = [tensor_json(v) for v in inputs]
    refs = [tensor_json(v) for v in expected]
    if any(a is None for a in args) or any(r is None for r in refs):
        return None
    return _key(
        Kind.RUN,
        {
            "code": normalize_code(code),
            "entry": entry,
            "dtype": case_dtype,
            "inputs": args,
            "expected": refs,
            "numerics": numeric_settings(spec, case_shape),
            "kernel_files": imported_kernel_files(code),
            "target": dataclasses.asdict(target),
        },
    )
