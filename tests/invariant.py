"""The checker's promise, checked by one helper that every fault test calls.

Every collected case has exactly one record that belongs to it; results.jsonl, collected.json
and junit.xml agree on the cases; and a run with anything that is not a pass (or a skip) exits
non-zero.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from checker import collected
from checker.model import Record
from checker.results.jsonl import read_records


def check_run(reports: Path, exit_code: int) -> list[Record]:
    """Assert the invariant over the reports of a finished run; return its records.

    ``exit_code`` is what the run (pytest, or ``kcheck run``, or a shell pipeline around it)
    exited with.
    """
    records = list(read_records(reports / "results.jsonl"))
    nodeids = [r.nodeid for r in records]
    assert len(nodeids) == len(set(nodeids)), f"a case has several records: {sorted(nodeids)}"
    wanted = collected.read(reports / collected.FILENAME)
    assert sorted(n for n in nodeids if n) == sorted(wanted), (
        f"collected {len(wanted)} cases, recorded {len(records)}: "
        f"missing {sorted(set(wanted) - set(nodeids))[:5]}, extra {sorted(set(nodeids) - set(wanted))[:5]}"
    )
    for rec in records:
        assert (rec.nodeid is not None and rec.nodeid.endswith(f"::{rec.case.name}")) or rec.mode in (
            "golden",
            "collection",
        ), f"record of {rec.case.name} filed under {rec.nodeid}"
    cases = ET.parse(reports / "junit.xml").getroot().iter("testcase")
    assert sum(1 for _ in cases) == len(records), "junit.xml and results.jsonl disagree on the cases"
    if any(r.failed for r in records):
        assert exit_code != 0, "a run with a failing or lost case exited 0"
    return records
