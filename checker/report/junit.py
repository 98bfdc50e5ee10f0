"""reports/junit.xml from Records, written with junitparser (one testcase per case)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from junitparser import Error, Failure, JUnitXml, Properties, Property, Skipped, TestCase, TestSuite

from checker.diagnostics import sanitize
from checker.model import Category, Record
from checker.report.atomic import write_atomic


def _xml_safe(text: str) -> str:
    # XML 1.0 forbids most control characters and lone surrogates.
    text = sanitize(text, limit=20000)
    return text.encode("utf-8", "replace").decode("utf-8")


def build(records: Iterable[Record], suite_name: str = "kcheck") -> JUnitXml:
    """A JUnit document with one testsuite per kernel and one testcase per record."""
    suites: dict[str, TestSuite] = {}
    for rec in records:
        suite = suites.get(rec.case.kernel)
        if suite is None:
            suite = suites[rec.case.kernel] = TestSuite(f"{suite_name}.{rec.case.kernel}")
        case = TestCase(rec.case.name, classname=f"{suite_name}.{rec.case.kernel}", time=rec.duration_s)
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
        ):
            props.add_property(Property(key, _xml_safe(str(value))))
        case.append(props)
        body = _xml_safe(rec.message + (f"\nrepro: {rec.repro}" if rec.repro else ""))
        if rec.category.is_skip:
            case.result = [Skipped(_xml_safe(f"{rec.category.value}: {rec.message}"[:500]))]
        elif rec.category is Category.COLLECTION_ERROR:
            err = Error(_xml_safe(rec.message.splitlines()[0] if rec.message else ""), rec.category.value)
            err.text = body
            case.result = [err]
        elif rec.category.is_failure:
            fail = Failure(
                _xml_safe(
                    f"{rec.category.value}: {rec.message.splitlines()[0] if rec.message else ''}"[:500]
                ),
                rec.category.value,
            )
            fail.text = body
            case.result = [fail]
        suite.add_testcase(case)
    xml = JUnitXml(suite_name)
    for suite in suites.values():
        suite.update_statistics()
        xml.add_testsuite(suite)
    xml.update_statistics()
    return xml


def write(records: Iterable[Record], path: Path) -> None:
    """Write (atomically replace) ``path`` with the JUnit XML of ``records``."""
    import io

    buf = io.BytesIO()
    build(records).write(buf, pretty=True)
    write_atomic(path, buf.getvalue())
