"""Cached results of the pure stages before and after the compile: Helion's code generation,
config sampling, and interpreter verdicts (issue 15, items 2 and 3).

A warm rerun on CPU spent 12 s of its 58 s of case time generating the same code again, and
32 s running the same generated code on the same inputs under the interpreter again
(docs/benchmarks.md). Each of those results is a function of what went in, so it is stored
under a key of exactly that (checker.cache.keys says what each key covers) and reused
(checker.cache.store: one signed JSON file per key, atomic, pruned with the compile verdicts,
read as untrusted input).

Codegen-side entries (sampled configs, the default config, generated code) also list the files
the user's functions read while Helion bound the kernel or generated code, with their digests
(checker.cache.identity.codegen_reads): an entry whose files changed is a miss. Interpreter
verdicts are cached for interpreter runs only: verdicts of native GPU runs are never cached (a
racy kernel's wrong result varies from run to run, 93.8% and 94.7% of elements on two H200 runs
of one case, and running the kernel on the device is what a GPU job is for).

Helion configs are stored as their dicts (keys.config_dict) and rebuilt with
``helion.Config(**d)``; tests/test_stage_cache.py checks that code generated from a rebuilt
config equals the original's for the bundled kernels' sampled configs.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from checker.cache import identity
from checker.cache.keys import SCHEMA, KernelKey, config_dict
from checker.cache.store import BadEntry, EntryStore, Kind
from checker.categories import Category, categories
from checker.model import Comparison, comparison_from_dict

#: Categories of a completed comparison: what the interpreter run of given code on given inputs
#: decides. Exceptions (runtime errors, interpreter gaps) are not stored: they are rare, and an
#: exception's text may name process-specific paths. (checker.categories.TRAITS: ``compared``.)
CACHED_RUN_CATEGORIES = categories(lambda t: t.compared)


def _config_of(data: Any) -> Any:
    import helion

    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise BadEntry("config: expected an object")
    return helion.Config(**data)


@dataclasses.dataclass(frozen=True)
class StageCache:
    """Codegen, config samples and interpreter verdicts under cache directory ``root``."""

    root: Path

    # -- config sampling ------------------------------------------------------------------------

    def get_samples(self, group: KernelKey, seed: int, count: int) -> list[Any] | None:
        """The ``count`` configs :func:`checker.sweep.sample_configs` drew for ``seed``: each a
        ``helion.Config`` or a :class:`SampleError` (a draw Helion could not make); None on a
        miss."""
        return EntryStore(self.root, Kind.SAMPLES).get(group.samples(seed, count), _decode_samples)

    def put_samples(self, group: KernelKey, seed: int, samples: Sequence[Any]) -> bool:
        """Store what ``sample_configs`` returned (configs and exceptions) for ``seed``."""
        try:
            entry = [
                {"error": str(s)} if isinstance(s, BaseException) else {"config": config_dict(s)}
                for s in samples
            ]
        except TypeError:
            return False
        key = group.samples(seed, len(samples))
        data = {"schema": SCHEMA, "samples": entry, "reads": identity.codegen_reads(group.sources)}
        return EntryStore(self.root, Kind.SAMPLES).put(key, data)

    def get_default(self, group: KernelKey) -> Any | None:
        """Helion's ``default_config()`` for the group, None on a miss."""
        return EntryStore(self.root, Kind.SAMPLES).get(group.default_config(), _decode_default)

    def put_default(self, group: KernelKey, config: Any) -> bool:
        """Store the group's default config."""
        try:
            entry = {
                "schema": SCHEMA,
                "config": config_dict(config),
                "reads": identity.codegen_reads(group.sources),
            }
        except TypeError:
            return False
        return EntryStore(self.root, Kind.SAMPLES).put(group.default_config(), entry)

    # -- code generation ------------------------------------------------------------------------

    def get_code(self, group: KernelKey, config: Any) -> str | None:
        """The Triton source Helion generated for ``config`` in this group, None on a miss."""
        key = group.code(config)
        return None if key is None else EntryStore(self.root, Kind.CODEGEN).get(key, _decode_code)

    def put_code(self, group: KernelKey, config: Any, code: str) -> bool:
        """Store the generated source of ``config``."""
        key = group.code(config)
        if key is None:
            return False
        entry = {"schema": SCHEMA, "code": code, "reads": identity.codegen_reads(group.sources)}
        return EntryStore(self.root, Kind.CODEGEN).put(key, entry)

    # -- interpreter verdicts -------------------------------------------------------------------

    def get_run(self, key: str) -> CachedRun | None:
        """The interpreter verdict stored under ``key`` (checker.cache.keys.run_key), None on a miss."""
        return EntryStore(self.root, Kind.RUN).get(key, _decode_run)

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
        return EntryStore(self.root, Kind.RUN).put(key, entry)


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


def _check_reads(data: dict[str, Any]) -> None:
    """A codegen-side entry holds only while every file read when it was made is unchanged.

    Raises:
        BadEntry: ``reads`` is malformed, or a file it names changed (the entry is then removed,
            and the code generated again replaces it).
    """
    reads = data["reads"]
    if not isinstance(reads, dict):
        raise BadEntry("reads: expected an object")
    for path, digest in reads.items():
        if not isinstance(digest, str) or identity.file_digest(path) != digest:
            raise BadEntry(f"{path}, read while the entry's code was generated, changed")


def _decode_samples(data: Any) -> list[Any]:
    _check_schema(data)
    _check_reads(data)
    out: list[Any] = []
    for item in data["samples"]:
        if isinstance(item, dict) and isinstance(item.get("error"), str):
            out.append(SampleError(item["error"]))
        else:
            out.append(_config_of(item["config"]))
    return out


def _decode_default(data: Any) -> Any:
    _check_schema(data)
    _check_reads(data)
    return _config_of(data["config"])


def _decode_code(data: Any) -> str:
    _check_schema(data)
    _check_reads(data)
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
