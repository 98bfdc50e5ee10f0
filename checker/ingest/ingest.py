"""Logs in, records out: one pass per log file, streamed, written atomically.

Lines that name their process (``[rank1]: ...``, :func:`checker.ingest.lines.split_process`)
are read by a parser of that process's own (:meth:`LogParser.fork`), at most
:data:`MAX_PROCESSES` of them, so the tracebacks of processes that write one log at once stay
one record each; their records carry ``fields.process`` and the process in ``case.config``.

Records are spooled to a temporary file as they are found, because a record's ``target`` and
``toolchain`` are what the whole log reveals and the log may reveal them after the failure
(a path in a later traceback). At the end of each log the spool is copied to the output with
those two filled in. Memory stays bounded by the parser's state and one line, whatever the log's
size; disk use is the records' size.
"""

from __future__ import annotations

import dataclasses
import io
import json
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TypeVar

from checker.atomic import replacing
from checker.ingest.events import Finding
from checker.ingest.lines import split_process
from checker.ingest.parser import MAX_EXAMPLES, LogParser
from checker.ingest.reader import LineReader
from checker.ingest.records import to_record
from checker.model import Record

T = TypeVar("T")

#: Processes read apart per log; the lines of any further process share one more parser.
MAX_PROCESSES = 64
#: The process name of those shared lines.
OTHER_PROCESSES = "other"


class LogUnreadable(Exception):
    """A log file could not be opened or read; ``path`` names it, ``reason`` says why."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class FileSummary:
    """What one log gave: line counts, records per category, what it revealed of the run.

    ``lines`` counts lines and carriage-return segments; ``understood + skipped + oversized``
    equals ``lines`` plus the oversized ones. ``parser_errors`` counts lines whose handling
    failed inside the parser (a bug; the line is skipped and the parser starts afresh).
    """

    path: str
    bytes_read: int
    lines: int
    understood: int
    skipped: int
    oversized: int
    duplicates: int
    tables: int
    table_rows: int
    parser_errors: int
    target: str
    toolchain: dict[str, str]
    categories: dict[str, int]
    skipped_examples: tuple[tuple[int, str], ...] = ()
    #: Processes whose prefixed lines were read apart (``rank0``, ``gw1``...), in order seen.
    processes: tuple[str, ...] = ()

    @property
    def records(self) -> int:
        return sum(self.categories.values())


@dataclass(frozen=True)
class IngestSummary:
    """All logs of one ``kcheck ingest-log``: per-file summaries and where records went."""

    files: tuple[FileSummary, ...]
    out: Path | None = None
    categories: dict[str, int] = field(default_factory=dict)

    @property
    def records(self) -> int:
        return sum(self.categories.values())


def ingest_stream(stream: BinaryIO, name: str, write: Callable[[str], object]) -> FileSummary:
    """Parse the log in ``stream`` (binary, read line by line) and pass each record's JSON line
    (no newline) to ``write``, in log order, once the log has been read to its end.

    ``name`` goes into each record's ``fields['log_file']``.

    Raises:
        OSError: reading the stream failed.
    """
    main = LogParser(name)
    parsers: dict[str, LogParser] = {"": main}
    reader = LineReader(stream)
    categories: Counter[str] = Counter()
    parser_errors = 0
    target = "unknown"
    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:

        def keep(findings: Iterable[Finding], process: str) -> None:
            for finding in findings:
                if process:
                    finding = dataclasses.replace(
                        finding,
                        case_config=f"{process}-{finding.case_config}",
                        fields={**finding.fields, "process": process},
                    )
                record = to_record(finding, target="unknown", toolchain={})
                categories[record.category.value] += 1
                spool.write(record.to_json() + "\n")

        line_of, process_of = 0, ""
        for n, text in reader:
            process, rest = split_process(text)
            if not process and n == line_of:
                process = process_of  # a carriage-return segment of a line the prefix began
            line_of, process_of = n, process
            parser = parsers.get(process)
            if parser is None:
                if len(parsers) > MAX_PROCESSES:
                    process = OTHER_PROCESSES
                parser = parsers.get(process) or parsers.setdefault(process, main.fork())
            try:
                keep(parser.feed(n, rest), process)
            except Exception:
                parser_errors += 1
                parser.recover()
            if target == "unknown":
                target = parser.target
        for process, parser in parsers.items():
            try:
                keep(parser.finish(reader.last_line), process)
            except Exception:
                parser_errors += 1
        toolchain: dict[str, str] = {}
        for parser in parsers.values():
            for key, value in parser.toolchain.items():
                toolchain.setdefault(key, value)
        spool.seek(0)
        for line in spool:
            data = json.loads(line)
            data["target"] = target
            data["toolchain"] = dict(toolchain)
            write(json.dumps(data, sort_keys=True))
    every = [p.stats for p in parsers.values()]
    examples = sorted(e for stats in every for e in stats.skipped_examples)[:MAX_EXAMPLES]
    return FileSummary(
        path=name,
        bytes_read=reader.bytes_read,
        lines=sum(s.lines for s in every) + reader.oversized,
        understood=sum(s.understood for s in every),
        skipped=sum(s.skipped for s in every) + parser_errors,
        oversized=reader.oversized,
        duplicates=sum(s.duplicates for s in every),
        tables=sum(s.tables for s in every),
        table_rows=sum(s.table_rows for s in every),
        parser_errors=parser_errors,
        target=target,
        toolchain=toolchain,
        categories=dict(categories),
        skipped_examples=tuple(examples),
        processes=tuple(p for p in parsers if p),
    )


def ingest_bytes(data: bytes, name: str = "<log>") -> tuple[list[Record], FileSummary]:
    """Records and summary of a log held in memory (tests, small logs)."""
    lines: list[str] = []
    summary = ingest_stream(io.BytesIO(data), name, lines.append)
    return [Record.from_json(line) for line in lines], summary


def ingest_paths(paths: Sequence[Path], out: Path) -> IngestSummary:
    """Ingest each log in ``paths`` into ``out`` (one record per line), replacing ``out``
    atomically: readers see the old file or the complete new one.

    Raises:
        LogUnreadable: a log could not be opened or read; ``out`` is left as it was.
        OSError: ``out`` could not be written.
    """
    files: list[FileSummary] = []

    def produce(write: Callable[[str], object]) -> None:
        for path in paths:
            try:
                stream = open(path, "rb")  # noqa: SIM115 - closed below, errors told apart
            except OSError as exc:
                raise LogUnreadable(str(path), exc.strerror or type(exc).__name__) from exc
            with stream:
                try:
                    files.append(ingest_stream(stream, str(path), write))
                except OSError as exc:
                    raise LogUnreadable(str(path), exc.strerror or type(exc).__name__) from exc

    _write_lines_atomic(out, produce)
    total: Counter[str] = Counter()
    for f in files:
        total.update(f.categories)
    return IngestSummary(files=tuple(files), out=out, categories=dict(total))


def _write_lines_atomic(path: Path, produce: Callable[[Callable[[str], object]], T]) -> T:
    """Streamed and atomic (:func:`checker.atomic.replacing`): ``produce`` gets a function
    that writes one line, so the output is never held in memory."""
    with replacing(path, text=True) as f:
        return produce(lambda line: f.write(line + "\n"))
