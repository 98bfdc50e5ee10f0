"""GitHub Actions output: ``::error`` annotations, the step summary, untrusted log text.

- Annotations: one ``::error`` per group of new failures / golden changes (never for
  pre-existing or flaky ones), at most ``max_annotations`` (GitHub shows up to 10 error
  annotations per step), each pointing at the kernel file.
- Untrusted text printed to the log goes through :func:`checker.escape.log_text`, so no
  line of a kernel message can be a workflow command (why lines are escaped rather than wrapped
  in ``::stop-commands::``: :mod:`checker.escape`).
- ``$GITHUB_STEP_SUMMARY``: GitHub accepts up to 1 MiB per step summary; a longer summary is
  trimmed with a notice (:func:`checker.report.summary.fit`), never dropped.

Escaping follows "Workflow commands for GitHub Actions" (:mod:`checker.escape`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from checker.escape import command_data, command_property, log_text
from checker.report.summary import fit
from checker.results.verdict import Finding

#: GitHub's size limit of one step's summary file, bytes.
STEP_SUMMARY_LIMIT = 1024 * 1024
#: Error annotations GitHub shows per step.
MAX_ANNOTATIONS = 10


def annotation(finding: Finding) -> str:
    """The ``::error`` workflow command of one finding (one line)."""
    props = [
        f"title={command_property(f'kcheck {finding.status}: {finding.category} ({finding.cases} cases)')}"
    ]
    if finding.file:
        props.insert(0, f"file={command_property(finding.file)}")
    body = f"{finding.case}: {finding.message}" + (f"\nrepro: {finding.repro}" if finding.repro else "")
    return f"::error {','.join(props)}::{command_data(body)}"


def emit_annotations(findings: Iterable[Finding], out: TextIO, max_annotations: int = MAX_ANNOTATIONS) -> int:
    """Write annotations for ``findings`` to ``out``; returns how many were written. Findings
    beyond the cap are counted in one last annotation."""
    items = list(findings)
    shown = items[:max_annotations] if len(items) <= max_annotations else items[: max_annotations - 1]
    for finding in shown:
        out.write(annotation(finding) + "\n")
    if len(shown) < len(items):
        rest = len(items) - len(shown)
        out.write(
            f"::error title=kcheck::{command_data(f'{rest} more new failure groups: see the summary')}\n"
        )
    out.flush()
    return min(len(items), max_annotations)


def print_untrusted(text: str, out: TextIO) -> None:
    """Print ``text`` (ending it with a newline) so that none of its lines is a workflow
    command: :func:`checker.escape.log_text`."""
    text = log_text(text)
    out.write(text if text.endswith("\n") else text + "\n")
    out.flush()


def write_step_summary(text: str, path: Path, artifact: str) -> None:
    """Append ``text`` to the step summary file, trimmed to GitHub's 1 MiB with a notice.

    Raises:
        OSError: the file cannot be written.
    """
    existing = path.stat().st_size if path.exists() else 0
    room = max(STEP_SUMMARY_LIMIT - existing - 1, 4096)
    note = (
        "> [!NOTE]\n> Trimmed to stay under GitHub's 1 MiB step-summary limit; the full report is in "
        f"artifact `{artifact}`."
    )
    body = fit(text, note, max_chars=room, max_bytes=room)
    with open(path, "a", encoding="utf-8") as f:
        f.write(body if body.endswith("\n") else body + "\n")
