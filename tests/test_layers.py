"""The floors contract (pyproject.toml, docs/architecture.md) names every module of the checker
package, so a new module cannot sit outside the layering unnoticed; .ci/run runs import-linter
(``lint-imports``) on it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _layers() -> list[list[str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["name"] == "floors"]
    return [re.split(r"\s*[:|]\s*", layer.strip()) for layer in contract["layers"]]


def test_every_top_level_module_is_on_exactly_one_floor() -> None:
    named = [m for layer in _layers() for m in layer]
    assert len(named) == len(set(named)), "a module is on two floors"
    package = ROOT / "checker"
    modules = {f"checker.{p.stem}" for p in package.glob("*.py") if p.stem != "__init__"}
    modules |= {f"checker.{p.name}" for p in package.iterdir() if (p / "__init__.py").exists()}
    assert modules == set(named), {"not on a floor": modules - set(named), "gone": set(named) - modules}


def test_the_rooms_floor_keeps_its_rooms_apart() -> None:
    rooms = next(layer for layer in (c for c in _layers()) if "checker.report" in layer)
    assert set(rooms) == {"checker.report", "checker.triage", "checker.perf", "checker.ingest"}
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["name"] == "floors"]
    line = next(layer for layer in contract["layers"] if "checker.report" in layer)
    assert ":" not in line, "the rooms must be independent ('|'), not siblings (':')"
