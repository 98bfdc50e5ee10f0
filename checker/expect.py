"""Targeted expectations on generated code, checked with the ``filecheck`` package.

A kernel spec may declare, per named config, FileCheck directives that its generated (and
normalized) Triton must satisfy, where a whole-file snapshot would be too brittle::

    expectations={
        "tma": "CHECK: tl.make_tensor_descriptor",
        "split_k": "CHECK: tl.dot\\nCHECK: tl.atomic_add",
    }

The directives are LLVM FileCheck's (``CHECK``, ``CHECK-NEXT``, ``CHECK-NOT``, ``CHECK-DAG``,
``CHECK-SAME``, ``CHECK-COUNT-n``, ``{{regex}}``, ``[[VAR:...]]``), as implemented by the
``filecheck`` package (https://github.com/AntonLydike/filecheck), the one Helion depends on.
"""

from __future__ import annotations

import contextlib
import io
import re
import tempfile
from pathlib import Path

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class ExpectationError(ValueError):
    """Declared FileCheck directives are malformed; the message names where they come from."""


def _parse(checks: str, where: str) -> list[int]:
    from filecheck.error import ParseError
    from filecheck.options import Options
    from filecheck.parser import Parser, pattern_for_opts

    opts = Options(match_filename=where)
    try:
        return [op.source_line for op in Parser(opts, io.StringIO(checks), *pattern_for_opts(opts))]
    except ParseError as exc:
        raise ExpectationError(f"{where}: line {exc.line_no}: {exc.message}") from None


def validate_checks(checks: str, where: str) -> None:
    """Check that ``checks`` is a non-empty list of FileCheck directives.

    Every non-blank line must be a directive (or a ``COM:`` comment): FileCheck itself skips
    a misspelled ``CHECK-NXT:`` silently, which would make the expectation vacuous.

    Raises:
        ExpectationError: naming ``where`` and the offending line.
    """
    if not isinstance(checks, str):
        raise ExpectationError(f"{where}: expected FileCheck directives as a string, got {type(checks)}")
    parsed = set(_parse(checks, where))
    if not parsed:
        raise ExpectationError(f"{where}: no CHECK directive found")
    for number, line in enumerate(checks.splitlines(), start=1):
        text = line.strip()
        if text and number not in parsed and not text.startswith("COM:"):
            raise ExpectationError(f"{where}: line {number} is not a FileCheck directive: {text!r}")


def run_checks(checks: str, code: str, checks_name: str, code_name: str) -> str | None:
    """Match ``code`` against the FileCheck directives ``checks``.

    ``checks_name`` and ``code_name`` name the two sides in the message (for example
    ``matmul_split_k.expectations[short_chunks]`` and the case name).

    Returns:
        None when every directive matched, else FileCheck's error (which directive failed, and
        where in the code it was looking), without colour codes.
    """
    from filecheck.matcher import Matcher
    from filecheck.options import Options

    with tempfile.TemporaryDirectory(prefix="kcheck-filecheck-") as tmp:
        check_file, input_file = Path(tmp, "checks"), Path(tmp, "code")
        check_file.write_text(checks, encoding="utf-8")
        input_file.write_text(code, encoding="utf-8")
        matcher = Matcher.from_opts(Options(match_filename=str(check_file), input_file=str(input_file)))
        out = io.StringIO()
        matcher.stderr = out
        with contextlib.redirect_stderr(out):  # its warnings go straight to sys.stderr
            status = matcher.run()
        if status == 0:
            return None
        message = _ANSI.sub("", out.getvalue())
        message = message.replace(str(check_file), checks_name).replace(str(input_file), code_name)
        return message.strip() or f"FileCheck failed (exit status {status})"
