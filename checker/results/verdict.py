"""The verdict of a classification (exit status, reasons, findings) and reports/verdict.json.

``kcheck report`` and ``kcheck post`` each compute it with :func:`of`. ``verdict.json`` records
``report``'s for people and other tools; ``post`` never reads it, since in a ``workflow_run`` job
it comes from an artifact a run of the PR's code wrote (:func:`read` checks its shape only, not
its truth).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from checker.atomic import write_atomic
from checker.results.baseline import Classification, FailOn, Group, Status, exit_code, fail_reasons
from checker.results.commands import repro_command

VERDICT_SCHEMA = 1


@dataclass(frozen=True)
class Finding:
    """One group of new failures (or golden changes), as an annotation shows it; ``repro``
    relative to the repository root (checker.results.commands.relative_command)."""

    status: str
    category: str
    signature: str | None
    cases: int
    case: str
    nodeid: str | None
    message: str
    repro: str | None

    @property
    def file(self) -> str | None:
        """The kernel file of the representative case (its node id before ``::``)."""
        return self.nodeid.split("::", 1)[0] if self.nodeid and "::" in self.nodeid else None


@dataclass(frozen=True)
class Verdict:
    """Exit status, the reasons for it and the findings worth an annotation."""

    exit_code: int
    fail_reasons: tuple[str, ...]
    counts: dict[str, int]
    findings: tuple[Finding, ...]
    schema: int = VERDICT_SCHEMA


def _finding(group: Group) -> Finding:
    rec = group.representative.record
    return Finding(
        status=group.status.value,
        category=group.category.value,
        signature=group.signature,
        cases=len(group.cases),
        case=rec.case.name,
        nodeid=rec.nodeid,
        message=rec.message.strip().splitlines()[0] if rec.message.strip() else "",
        # For an annotation on the PR and an artifact: relative to the repository root.
        repro=repro_command(rec, relative=True),
    )


def of(result: Classification, fail_on: frozenset[FailOn]) -> Verdict:
    """The verdict of a classification under the ``fail_on`` policy."""
    groups = result.groups(Status.NEW) + result.groups(Status.GOLDEN)
    return Verdict(
        exit_code=exit_code(result, fail_on),
        fail_reasons=tuple(fail_reasons(result, fail_on)),
        counts={s.value: n for s, n in sorted(result.counts().items())},
        findings=tuple(_finding(g) for g in groups),
    )


def write(verdict: Verdict, path: Path) -> None:
    """Write ``path`` atomically."""
    write_atomic(path, (json.dumps(asdict(verdict), indent=1, sort_keys=True) + "\n").encode())


def read(path: Path) -> Verdict:
    """Read a verdict written by :func:`write`.

    Raises:
        ValueError: naming ``path`` when it is missing, not JSON, or of another schema.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: missing; run `kcheck report` first") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: unreadable verdict: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != VERDICT_SCHEMA:
        raise ValueError(f"{path}: verdict schema {data.get('schema') if isinstance(data, dict) else None!r}")
    try:
        return Verdict(
            exit_code=int(data["exit_code"]),
            fail_reasons=tuple(data["fail_reasons"]),
            counts=dict(data["counts"]),
            findings=tuple(Finding(**f) for f in data["findings"]),
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}: malformed verdict: {exc}") from None
