"""Records of a real CPU run (tests/data/results_cpu.jsonl), shared by the report tests."""

from __future__ import annotations

from pathlib import Path

from checker.model import Record
from checker.results.merge import parse_shard

DATA = Path(__file__).parent / "data" / "results_cpu.jsonl"


def recorded() -> list[Record]:
    """The recorded run's records, parsed as a shard."""
    return list(parse_shard(str(DATA), DATA.read_bytes()).records)


def write_shard(path: Path, records: list[Record]) -> Path:
    """``records`` as a results.jsonl shard at ``path``."""
    path.write_text("".join(r.to_json() + "\n" for r in records), encoding="utf-8")
    return path
