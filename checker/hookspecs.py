"""Hooks the kcheck plugin adds to pytest (registered by checker/plugin.py's
``pytest_addhooks``), so that the golden and perf plugins hear about kernel modules and records
from the plugin instead of importing its state and parsing every report a second time."""

from __future__ import annotations

from typing import Any

import pytest

from checker.model import Record
from checker.spec import KernelSpec


@pytest.hookspec
def pytest_kcheck_spec_items(module: Any, spec: KernelSpec) -> list[pytest.Item]:  # type: ignore[empty-body]
    """Items besides the execution cases that ``spec``, declared in kernel module ``module`` (a
    checker.items.KernelModule), adds to the collection; called once per spec in collection
    order. Each implementation returns a list (empty for none); the golden plugin's returns the
    spec's golden items."""


@pytest.hookspec
def pytest_kcheck_record(record: Record, config: pytest.Config) -> None:
    """Called in the controlling process for every record the run keeps, once, in the order
    they are written to results.jsonl: case records as their reports arrive (after a second
    record of one case was resolved: checker/recorder.py), then ``lost`` records at the end."""
