"""reports/junit.xml from Records, written with junitparser (one testcase per case).

One testsuite per kernel and one testcase per case (key: :func:`checker.results.merge.record_key`),
with kernel, shape, dtype, config, target, mode, category, signature (and the baseline status
when one is known) as properties. Reruns are not dropped: they use the Maven Surefire elements
junitparser's ``xunit2`` module writes. A case that failed and later passed is a passed testcase
with one ``<flakyFailure>`` per failed attempt; a case that failed every time is a failure with
one ``<rerunFailure>`` per earlier attempt. An unreadable shard becomes an ``<error
type="report-corrupt">`` testcase in the ``kcheck.report`` suite that names it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from junitparser import Error, Failure, Properties, Property, Skipped
from junitparser.junitparser import FinalResult
from junitparser.xunit2 import (
    FlakyError,
    FlakyFailure,
    JUnitXml,
    RerunError,
    RerunFailure,
    TestCase,
    TestSuite,
)

from checker.atomic import write_atomic
from checker.categories import Category, JUnitElement
from checker.escape import xml_text
from checker.model import Mode, Record
from checker.results.merge import CorruptEntry, record_key

#: Characters of a message kept in a failure's ``message`` attribute (the body keeps 20000).
ATTR_LIMIT = 500


def _first_line(rec: Record) -> str:
    return rec.message.splitlines()[0] if rec.message.strip() else ""


def _body(rec: Record) -> str:
    return xml_text(rec.message + (f"\nrepro: {rec.repro}" if rec.repro else ""))


def _properties(rec: Record, attempts: int, status: str | None) -> Properties:
    props = Properties()
    for key, value in (
        ("kernel", rec.case.kernel),
        ("shape", rec.case.shape_str),
        ("dtype", rec.case.dtype),
        ("config_name", rec.case.config),
        ("config", json.dumps(rec.config, sort_keys=True) if rec.config else ""),
        ("target", rec.target),
        ("mode", rec.mode),
        ("category", rec.category.value),
        ("signature", rec.signature or ""),
        *((("attempts", str(attempts)),) if attempts > 1 else ()),
        *((("status", status),) if status else ()),
    ):
        props.add_property(Property(key, xml_text(str(value), limit=ATTR_LIMIT * 8)))
    return props


def element(rec: Record) -> JUnitElement:
    """The result element of ``rec``'s testcase: its category's (checker.categories.TRAITS), but a
    lost case, whose category is a skip, fails."""
    found = rec.category.traits.junit
    return JUnitElement.FAILURE if rec.lost and found is JUnitElement.SKIPPED else found


def _final(rec: Record) -> list[FinalResult]:
    kind = element(rec)
    if kind is JUnitElement.NONE:
        return []
    label = f"{rec.category.value}: {_first_line(rec)}"
    if kind is JUnitElement.SKIPPED:
        return [Skipped(xml_text(label, limit=ATTR_LIMIT))]
    result: Failure | Error
    if kind is JUnitElement.ERROR:
        result = Error(xml_text(_first_line(rec), limit=ATTR_LIMIT), rec.category.value)
    else:
        result = Failure(xml_text(label, limit=ATTR_LIMIT), rec.category.value)
    result.text = _body(rec)
    return [result]


def _interim(rec: Record, flaky: bool) -> FlakyFailure | FlakyError | RerunFailure | RerunError:
    error = element(rec) is JUnitElement.ERROR
    cls = (FlakyError if error else FlakyFailure) if flaky else (RerunError if error else RerunFailure)
    item = cls(xml_text(f"{rec.category.value}: {_first_line(rec)}", limit=ATTR_LIMIT), rec.category.value)
    item.stack_trace = _body(rec)
    return item


def _testcase(attempts: list[Record], status: str | None, suite_name: str) -> TestCase:
    failing = [r for r in attempts if r.failed]
    flaky = bool(failing) and any(r.category is Category.PASSED for r in attempts)
    # The final result is the last pass of a flaky case, else the last attempt.
    final = [r for r in attempts if r.category is Category.PASSED][-1] if flaky else attempts[-1]
    # A golden item checks the same case id as its execution case: its own classname keeps the
    # two testcases apart for tools that key JUnit results by (classname, name).
    golden = ".golden" if final.mode is Mode.GOLDEN else ""
    case = TestCase(
        xml_text(final.case.name, limit=ATTR_LIMIT),
        classname=xml_text(f"{suite_name}.{final.case.kernel}{golden}", limit=ATTR_LIMIT),
        time=round(sum(r.duration_s for r in attempts), 4),
    )
    case.append(_properties(final, len(attempts), status))
    case.result = _final(final)
    for rec in attempts:
        if rec is not final and rec.failed:
            case.add_interim_result(_interim(rec, flaky))
    return case


def build(
    records: Iterable[Record],
    suite_name: str = "kcheck",
    *,
    corrupt: Iterable[CorruptEntry] = (),
    statuses: Mapping[str, str] | None = None,
) -> JUnitXml:
    """A JUnit document: one testsuite per kernel, one testcase per case (attempts of one key
    folded into it), plus a ``<suite_name>.report`` suite with one error per corrupt entry.

    ``statuses`` maps record keys to a baseline status (``new``, ``pre-existing``...), written
    as the ``status`` property.
    """
    by_key: dict[str, list[Record]] = {}
    for rec in records:
        by_key.setdefault(record_key(rec), []).append(rec)
    suites: dict[str, TestSuite] = {}
    for key, attempts in by_key.items():
        kernel = attempts[-1].case.kernel
        suite = suites.get(kernel)
        if suite is None:
            suite = suites[kernel] = TestSuite(xml_text(f"{suite_name}.{kernel}", limit=ATTR_LIMIT))
        suite.add_testcase(_testcase(attempts, (statuses or {}).get(key), suite_name))
    entries = list(corrupt)
    if entries:
        suite = suites[""] = TestSuite(f"{suite_name}.report")
        for entry in entries:
            case = TestCase(xml_text(entry.shard, limit=ATTR_LIMIT), classname=f"{suite_name}.report-corrupt")
            err = Error(xml_text(entry.describe(), limit=ATTR_LIMIT), "report-corrupt")
            err.text = xml_text(entry.describe())
            case.result = [err]
            suite.add_testcase(case)
    xml = JUnitXml(suite_name)
    for suite in suites.values():
        suite.update_statistics()
        xml.add_testsuite(suite)
    xml.update_statistics()
    return xml


def to_bytes(xml: JUnitXml) -> bytes:
    """The document serialized as UTF-8 XML."""
    buf = io.BytesIO()
    xml.write(buf, pretty=True)
    return buf.getvalue()


def write(
    records: Iterable[Record],
    path: Path,
    *,
    corrupt: Iterable[CorruptEntry] = (),
    statuses: Mapping[str, str] | None = None,
) -> None:
    """Write (atomically replace) ``path`` with the JUnit XML of ``records`` (see :func:`build`)."""
    write_atomic(path, to_bytes(build(records, corrupt=corrupt, statuses=statuses)))
