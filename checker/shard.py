"""Deterministic sharding (``--shard i/n``), loaded by the kcheck plugin.

A CI matrix runs ``kcheck run --shard i/n`` once per ``i`` in ``1..n``; each run keeps one part of
the collected items and deselects the rest, so the union of the shards is exactly the full run
and no item runs twice. The split is pytest-split's least-duration algorithm: items are taken
longest first and each goes to the shard with the smallest total so far. The durations come from
the ``nodeid``/``duration_s`` fields of earlier results.jsonl files (``--shard-durations``);
items with no recorded duration count as the mean of the known ones, and with no file at all
every item weighs the same, which deals the items out in turn over the shards.

Every shard must compute the same split, so it depends only on the collected items (after
``-k``/``-m``) and the durations files: all shards of one CI run must get the same options and
the same files. Under xdist each worker collects and splits on its own, and gets the same result.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol, TypeVar, cast

import pytest

from checker import options

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclasses.dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


class _HasNodeid(Protocol):
    @property
    def nodeid(self) -> str: ...


_Item = TypeVar("_Item", bound=_HasNodeid)


def parse_shard(text: str) -> Shard:
    """Parse ``i/n`` (1 <= i <= n).

    Raises:
        ValueError: saying what is wrong with ``text``.
    """
    m = _SHARD.match(text)
    if m is None:
        raise ValueError(f"expected I/N such as 2/4, got {text!r}")
    index, count = int(m[1]), int(m[2])
    if count < 1:
        raise ValueError(f"the shard count must be >= 1, got {text!r}")
    if not 1 <= index <= count:
        raise ValueError(f"the shard index must be between 1 and {count}, got {text!r}")
    return Shard(index, count)


def _results_files(path: Path) -> list[Path]:
    if path.is_dir():
        # A directory of downloaded shard artifacts: every results.jsonl below it, in a fixed order.
        return sorted(path.rglob("results.jsonl"))
    if path.is_file():
        return [path]
    raise FileNotFoundError(f"no such file or directory: {path}")


def read_durations(paths: Iterable[Path]) -> dict[str, float]:
    """Case durations (seconds) by node id from results.jsonl files, or directories searched for
    them. A node id recorded twice keeps its last duration.

    Raises:
        FileNotFoundError: a path does not exist.
        ValueError: naming the file and line of a line that is not a JSON object.
    """
    durations: dict[str, float] = {}
    for path in paths:
        for file in _results_files(path):
            with open(file, encoding="utf-8") as f:
                for lineno, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise ValueError(f"{file}:{lineno}: not JSON: {exc}") from None
                    if not isinstance(record, dict):
                        raise ValueError(f"{file}:{lineno}: expected a JSON object")
                    nodeid, seconds = record.get("nodeid"), record.get("duration_s")
                    # Records of cases that died before timing (collection errors, crashes) carry
                    # no usable duration; they fall back to the mean like unseen cases.
                    if isinstance(nodeid, str) and isinstance(seconds, int | float) and seconds > 0:
                        durations[nodeid] = float(seconds)
    return durations


def split(items: Sequence[_Item], count: int, durations: dict[str, float]) -> list[list[_Item]]:
    """Split ``items`` into ``count`` groups of about equal total duration; each group keeps the
    items' original order. Deterministic for the same items (in the same order) and durations."""
    # Imported here: the plugin (and every pytest run) loads without pytest-split; only --shard needs it.
    from pytest_split.algorithms import Algorithms

    # pytest-split types its items as pytest Items but reads only their nodeid.
    groups = Algorithms.least_duration.value(count, cast("list[pytest.Item]", list(items)), durations)
    return [cast("list[_Item]", list(g.selected)) for g in groups]


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_pytest_options(parser.getgroup("kcheck", "kernel checker"), options.declared_by(__name__))


_SHARD_KEY = pytest.StashKey[Shard]()
_DURATIONS_KEY = pytest.StashKey[dict[str, float]]()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    text = config.getoption("shard")
    paths = [Path(p) for p in config.getoption("shard_durations")]
    if text is None:
        if paths:
            raise pytest.UsageError("--shard-durations needs --shard I/N")
        return
    try:
        config.stash[_SHARD_KEY] = parse_shard(text)
    except ValueError as exc:
        raise pytest.UsageError(f"--shard: {exc}") from None
    try:
        config.stash[_DURATIONS_KEY] = read_durations(paths)
    except (OSError, ValueError) as exc:
        raise pytest.UsageError(f"--shard-durations: {exc}") from None


# trylast: split what -k/-m and other plugins left, so the shards are balanced over the cases
# that actually run.
@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    shard = config.stash.get(_SHARD_KEY, None)
    if shard is None or not items:
        return
    groups = split(items, shard.count, config.stash[_DURATIONS_KEY])
    keep = {id(item) for item in groups[shard.index - 1]}
    deselected = [item for item in items if id(item) not in keep]
    items[:] = groups[shard.index - 1]
    if deselected:
        config.hook.pytest_deselected(items=deselected)


def pytest_report_header(config: pytest.Config) -> str | None:
    shard = config.stash.get(_SHARD_KEY, None)
    if shard is None:
        return None
    known = len(config.stash[_DURATIONS_KEY])
    return f"kcheck shard {shard} (durations known for {known} node ids)"
