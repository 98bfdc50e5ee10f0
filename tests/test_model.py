"""Record serialization (results.jsonl schema)."""

from __future__ import annotations

import pytest

from checker.categories import Category
from checker.model import SCHEMA_VERSION, CaseId, Comparison, Record


def _record(**kw: object) -> Record:
    base: dict[str, object] = dict(
        case=CaseId("rms_norm", (2048, 4096), "bf16", "cfg3"),
        category=Category.NUMERICAL_MISMATCH,
        mode="native",
        target="sm_90",
        config={"block_sizes": [4], "num_warps": 8},
        config_repr="helion.Config(block_sizes=[4], num_warps=8)",
        toolchain={"helion": "1.4.0"},
        duration_s=1.5,
        comparison=Comparison(0.5, 0.1, 3, 100, 1e-2, 1e-5, (1, 2), 1.0, 0.5),
        message="3 of 100 elements",
        signature="abc123abc123",
    )
    base.update(kw)
    return Record(**base)  # type: ignore[arg-type]


def test_round_trip() -> None:
    rec = _record()
    assert rec.case.name == "rms_norm[2048x4096-bf16-cfg3]"
    assert Record.from_json(rec.to_json()) == rec


def test_round_trip_without_comparison() -> None:
    rec = _record(comparison=None, category=Category.NOT_RUN)
    assert Record.from_json(rec.to_json()) == rec


def test_rejects_other_schema_and_garbage() -> None:
    line = _record().to_json().replace(f'"schema": {SCHEMA_VERSION}', '"schema": 99')
    with pytest.raises(ValueError, match="schema 99"):
        Record.from_json(line)
    with pytest.raises(ValueError, match="not a JSON record"):
        Record.from_json('{"truncated')


def test_category_kinds() -> None:
    assert not Category.PASSED.is_failure
    assert Category.NOT_RUN.is_skip and not Category.NOT_RUN.is_failure
    assert Category.INTERPRETER_UNSUPPORTED.is_skip
    assert Category.NUMEL_OVERFLOW.is_failure and Category.COLLECTION_ERROR.is_failure
    assert Category.INPUT_MUTATED.is_failure and not Category.INPUT_MUTATED.is_skip


def test_input_mutated_record_round_trips() -> None:
    rec = _record(
        category=Category.INPUT_MUTATED,
        comparison=None,
        message="kernel wrote input 'x' (argument 0), which the spec does not list in mutates",
        fields={"argument": "x", "argument_index": 0, "changed": 96, "numel": 96},
    )
    assert Category("input-mutated") is Category.INPUT_MUTATED
    assert Record.from_json(rec.to_json()) == rec
