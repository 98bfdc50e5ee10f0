"""Every reader is bounded and total (issue 23, item 4), each scenario reproduced as it was found.

- a record whose ``fields`` nest 600 deep ended report, post, triage, compare and plot in
  RecursionError (exit 1, which the comment workflow took for "tests failed");
- a 1 MB zip of newlines declaring 1 GB took ``kcheck report`` to MemoryError (about 10 bytes of
  memory per input byte);
- a zip artifact of a killed run (1 record, collected.json with 9 ids) reported "1 records" and
  exit 0, the same files as a directory 8 lost cases and exit 1;
- ``kcheck report --out`` below a file ended in a traceback; other outputs likewise;
- a kernel name with ``$...$`` ended ``kcheck plot`` in matplotlib's mathtext parser.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import resource
import shutil
import struct
import subprocess
import sys
import tracemalloc
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest
from recorded_shards import recorded, write_shard
from test_perf import timing

import checker
from checker import collected
from checker.categories import Category
from checker.cli import main
from checker.commands import report as commands
from checker.commands.report import PostExit
from checker.model import Record
from checker.perf import records as perf_records
from checker.perf.records import Role
from checker.results import jsonl, merge, validate
from checker.results.merge import merge as merge_shards
from checker.results.merge import read_shards

REPO = Path(__file__).resolve().parent.parent
# The limits and statuses as docs/reports.md states them (literals, so that this file runs
# against the code before them too, and fails there for what it does, not for a missing name).
MAX_DEPTH = 64
EXIT_UNWRITABLE = 5
EXIT_INTERNAL = 70
MAX_CORRUPT_PER_SHARD = 1000


@pytest.fixture(autouse=True)
def _plain_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No GitHub Actions, no token, no step summary: the commands print and write locally."""
    for var in (
        "GITHUB_ACTIONS",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_TOKEN",
        "GITHUB_EVENT_PATH",
        "GITHUB_SHA",
        "GITHUB_RUN_ID",
        "GITHUB_REPOSITORY",
        "GITHUB_SERVER_URL",
    ):
        monkeypatch.delenv(var, raising=False)


def _cases() -> list[Record]:
    """The recorded run's records that kcheck node ids name (collected.json lists those)."""
    return [r for r in recorded() if r.nodeid and collected.case_of(r.nodeid)]


def _deep_line(depth: int = 600) -> bytes:
    data = json.loads(_cases()[0].to_json())
    nested: dict[str, Any] = {}
    inner = nested
    for _ in range(depth):
        inner["a"] = {}
        inner = inner["a"]
    data["fields"] = {"x": nested}
    data["category"] = Category.RUNTIME_ERROR.value
    data["nodeid"] = data["nodeid"].replace("]", "-deep]")
    return json.dumps(data).encode()


# --- a record nested 600 deep -----------------------------------------------------------------


def _results_with_a_deep_record(path: Path) -> Path:
    """A results.jsonl of real case records, timing records and one record nested 600 deep."""
    path.mkdir(parents=True, exist_ok=True)
    results = path / "results.jsonl"
    timings = [
        timing(0.05, impl="default"),
        timing(0.08, impl="torch-eager", role=Role.EAGER),
    ]
    lines = [r.to_json().encode() for r in _cases()[:5]]
    lines += [_deep_line()]
    lines += [t.to_json().encode() for t in timings]
    results.write_bytes(b"\n".join(lines) + b"\n")
    return results


def test_a_record_nested_600_deep_is_a_corrupt_entry_for_every_reader(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = _results_with_a_deep_record(tmp_path / "run")
    want = f"{results}:6: record nested more than {MAX_DEPTH} deep"

    assert main(["report", str(results), "--out", str(tmp_path / "out"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert want in err and "Traceback" not in err and "5 records" in err

    # post (an artifact holding that results.jsonl) renders the comment, listing the unreadable
    # record: the verdict, not a crash
    assert main(["post", "--reports-dir", str(results.parent), "--no-comment"]) == PostExit.TESTS_FAILED
    err = capsys.readouterr().err
    assert want in err and "Traceback" not in err

    assert main(["triage", str(results), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert want in err and "Traceback" not in err

    line_want = f"{results}:6: line nested more than {MAX_DEPTH} deep"
    assert main(["compare", str(results), "--baseline", str(results)]) == 0
    err = capsys.readouterr().err
    assert line_want in err and "Traceback" not in err and "2 unchanged" in err

    pytest.importorskip("matplotlib")
    assert main(["plot", str(results), "-o", str(tmp_path / "plots")]) == 0
    err = capsys.readouterr().err
    assert line_want in err and "2 timings" in err
    assert (tmp_path / "plots" / "speedup.png").is_file()

    # kcheck bench (and repro) read with read_records: a ValueError naming the line
    with pytest.raises(ValueError, match=r"results\.jsonl:6: record nested more than 64 deep"):
        list(jsonl.read_records(results))


def test_depth_is_counted_without_recursion() -> None:
    assert validate.depth(1) == 0 and validate.depth([]) == 1 and validate.depth({"a": [{}]}) == 3
    very = json.loads("[" * 900 + "]" * 900)  # json parses it; a recursive walk would not
    assert validate.depth(very) == MAX_DEPTH + 1, "counting stops past the limit"
    with pytest.raises(ValueError, match="nested more than 64 deep"):
        validate.parse_record(_deep_line(65))
    validate.loads(_deep_line(MAX_DEPTH - 3))  # a record's own 3 levels + 61


def test_a_deep_or_huge_collected_json_is_a_corrupt_entry(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    write_shard(run / "results.jsonl", _cases()[:2])
    (run / collected.FILENAME).write_bytes(b"[" * 100_000 + b"]" * 100_000)
    [shard] = read_shards([run])
    assert len(shard.records) == 2
    assert [c.describe() for c in shard.corrupt] == [
        f"{run / collected.FILENAME}: not a collected-cases file: nested too deeply"
    ]
    with pytest.raises(ValueError, match="over the 33,554,432-byte limit"):
        collected.parse(b" " * (collected.MAX_BYTES + 1))


# --- zip bombs, files of newlines, long lines: memory bounded -------------------------------------


def newline_bomb(path: Path, declared: int, name: str = "results.jsonl") -> Path:
    """A valid zip whose one member is ``declared`` newlines, deflated (about 1,000 to 1): the
    compressed stream is one deflated MiB of newlines with a full flush (so it stands alone)
    repeated, built in well under a second."""
    chunk = b"\n" * (1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    full, rest = divmod(declared, len(chunk))
    last = zlib.compressobj(9, zlib.DEFLATED, -15)
    tail = last.compress(chunk[:rest]) + last.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(full):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(chunk[:rest], crc)
    size = len(piece) * full + len(tail)
    raw = name.encode()
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, size, declared, len(raw), 0)
    with path.open("wb") as f:
        f.write(local + raw)
        for _ in range(full):
            f.write(piece)
        f.write(tail)
        directory_at = f.tell()
        central = struct.pack(
            "<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, size, declared, len(raw), 0, 0, 0, 0, 0, 0
        )
        f.write(central + raw)
        f.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central) + len(raw), directory_at, 0))
    return path


def test_a_zip_of_newlines_declaring_a_gigabyte_is_refused_unread(tmp_path: Path) -> None:
    bomb = newline_bomb(tmp_path / "artifact.zip", 1_000_000_000)
    assert bomb.stat().st_size < 1_100_000
    [info] = zipfile.ZipFile(bomb).infolist()
    assert info.file_size == 1_000_000_000, "a valid archive: zipfile would inflate all of it"

    # The command, as it was found, with 2 GiB of heap (RLIMIT_DATA: the mapped libraries do not
    # count, so a CUDA build of torch still imports) (before: MemoryError
    # inflating it, a traceback, exit 1)
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (2 << 30, 2 << 30))

    # The checker this test imported, whichever checkout that is.
    env = {**os.environ, "PYTHONPATH": str(Path(checker.__file__).resolve().parent.parent)}
    proc = subprocess.run(
        [sys.executable, "-m", "checker.cli", "report", str(bomb), "--out", str(tmp_path / "out"), "--quiet"],
        capture_output=True,
        text=True,
        preexec_fn=limit,
        env=env,
        cwd=tmp_path,  # not the checkout: `python -m` puts the working directory first
        timeout=300,
    )
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr, proc.stderr[-2000:]
    assert "over the 400-to-1 limit (a zip bomb?)" in proc.stderr
    assert proc.returncode == 1, "an unreadable shard fails the verdict"

    # In process: refused from the member's header, nothing inflated
    tracemalloc.start()
    try:
        [shard] = read_shards([bomb])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    [entry] = shard.corrupt
    assert "declares 1,000,000,000 bytes" in entry.reason and "over the 400-to-1 limit" in entry.reason
    assert peak < 2_000_000, peak


def _peak(fn: Any) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def test_newlines_and_long_lines_are_read_in_bounded_memory(tmp_path: Path) -> None:
    good = _cases()[0].to_json().encode()
    # 48 MB of newlines, then a record: the file as a shard of a directory
    run = tmp_path / "run"
    run.mkdir()
    with (run / "results.jsonl").open("wb") as f:
        for _ in range(48):
            f.write(b"\n" * 1_000_000)
        f.write(good + b"\n")
    [shard], peak = _peak(lambda: read_shards([run]))
    assert len(shard.records) == 1 and not shard.corrupt
    assert peak < 8_000_000, peak

    # the same newlines in a zip (under the 64 MiB a ratio is checked from): streamed the same
    assert merge.RATIO_FLOOR_BYTES > 48_000_000
    bomb = newline_bomb(tmp_path / "b.zip", 48_000_000)
    [shard], peak = _peak(lambda: read_shards([bomb]))
    assert [c.reason for c in shard.corrupt] == ["empty shard: no records"]
    assert peak < 8_000_000, peak

    # a 40 MB line is dropped while it is read, and the next record still counts
    long = tmp_path / "long" / "results.jsonl"
    long.parent.mkdir()
    with long.open("wb") as f:
        f.write(b'{"message": "' + b"x" * 40_000_000 + b'"}\n' + good + b"\n")
    [shard], peak = _peak(lambda: read_shards([long]))
    assert len(shard.records) == 1
    [entry] = shard.corrupt
    assert entry.line == 1 and entry.reason == "record of 40,000,015 bytes, over the 4,194,304-byte limit"
    assert peak < 16_000_000, peak


def test_lines_and_unreadable_entries_are_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "results.jsonl"
    path.write_bytes(b"garbage\n" * 5000 + _cases()[0].to_json().encode() + b"\n")
    [shard] = read_shards([path])
    assert len(shard.records) == 1
    assert len(shard.corrupt) == MAX_CORRUPT_PER_SHARD + 1
    assert shard.corrupt[-1].describe() == f"{path}: 4,000 more unreadable lines, not listed"

    monkeypatch.setattr(jsonl, "MAX_LINES", 100)
    [shard] = read_shards([path])
    assert not shard.records and len(shard.corrupt) == 101
    assert shard.corrupt[-1].describe() == f"{path}:101: over 100 lines: not read from here on"


@pytest.mark.timeout(60)
def test_a_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "results.jsonl"
    os.mkfifo(fifo)
    zipped = tmp_path / "artifact.zip"
    os.mkfifo(zipped)
    run = merge_shards(read_shards([fifo, zipped]))
    assert [c.describe() for c in run.corrupt] == [
        f"{fifo}: not a regular file",
        f"{zipped}: not a readable zip archive: not a regular file",
    ]


# --- zip artifacts read exactly as directories -------------------------------------------------


def _killed(d: Path) -> None:
    cases = _cases()
    collected.write(d, [r.nodeid or "" for r in cases[:9]])
    write_shard(d / "results.jsonl", cases[:1])


def _complete(d: Path) -> None:
    cases = _cases()
    collected.write(d, [r.nodeid or "" for r in cases])
    write_shard(d / "results.jsonl", cases)


def _sharded(d: Path) -> None:
    """Shards at several depths, names that sort differently as strings and as paths
    (``a-b/`` before ``a/`` as text, after it as a path), a listing in one directory only with
    a second shard beside it (a rerun of case 0, and case 4: only case 5 is lost), a shard of
    another run with a listing that does not match its digest."""
    cases = _cases()
    for sub, recs in (("a", cases[:4]), ("a-b", cases[6:8]), ("a/x", cases[8:10]), ("z", cases[10:12])):
        (d / sub).mkdir(parents=True)
        write_shard(d / sub / "results.jsonl", recs)
    collected.write(d / "a", [r.nodeid or "" for r in cases[:6]])
    failed = dataclasses.replace(cases[0], category=Category.NUMERICAL_MISMATCH, message="boom")
    write_shard(d / "a" / "results-rerun.jsonl", [failed, cases[4]])
    (d / "z" / collected.FILENAME).write_text('{"schema": 1, "count": 3, "sha256": "x", "nodeids": []}')


def _corrupt(d: Path) -> None:
    """Truncated, garbage, deep and oversized lines, a junit.xml that is no shard."""
    cases = _cases()
    text = b"".join(r.to_json().encode() + b"\n" for r in cases[:3])
    big = b'{"message": "' + b"y" * (validate.MAX_RECORD_BYTES + 10) + b'"}'
    data = text + b"not json\n" + _deep_line() + b"\n" + big + b"\n" + cases[3].to_json().encode()[:80]
    (d / "results.jsonl").write_bytes(data)
    (d / "junit.xml").write_text("<testsuites/>")


def _no_shards(d: Path) -> None:
    (d / "junit.xml").write_text("<testsuites/>")


def _zip(src: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(src.rglob("*"), reverse=True):  # member order must not matter
            if path.is_file():
                z.write(path, path.relative_to(src).as_posix())
    return archive


def _report(
    shard: Path, out: Path, capsys: pytest.CaptureFixture[str], base: Path | None = None
) -> tuple[int, str, dict[str, bytes]]:
    argv = ["report", str(shard), "--out", str(out), "--commit", "abc"]
    if base is not None:
        argv += ["--baseline", str(base)]
    code = main(argv)
    captured = capsys.readouterr()
    files = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
    return code, captured.out + captured.err, files


@pytest.mark.parametrize(
    ("build", "want_code", "want_text"),
    [
        (_killed, 1, "9 records (9 cases, 0 reruns)"),
        (_complete, 0, f"{len(_cases())} records"),
        (_sharded, 1, "13 records (12 cases, 1 reruns) from 5 shard(s)"),
        (_corrupt, 1, "unreadable shard entr"),
        (_no_shards, 1, "no results*.jsonl inside"),
    ],
)
def test_a_zip_artifact_reports_exactly_as_its_directory(
    build: Any, want_code: int, want_text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Paths of the same length ("artzip1/x" and "art.zip!x"), so that the terminal view wraps
    # the same when it names a shard.
    src = tmp_path / "artzip1"
    src.mkdir()
    build(src)
    archive = _zip(src, tmp_path / "art.zip")
    dir_code, dir_text, dir_files = _report(src, tmp_path / "out-dir", capsys)
    zip_code, zip_text, zip_files = _report(archive, tmp_path / "out-zip", capsys)

    def same(data: bytes | str) -> str:
        text = data.decode("utf-8", "surrogatepass") if isinstance(data, bytes) else data
        # The terminal view wraps long paths at the terminal's width (80 columns in CI), so a
        # member path "art.zip!results.jsonl" may be split over two lines: compare without
        # whitespace (paths here have none).
        text = re.sub(r"\s+", "", text)
        text = text.replace(f"{archive}!", f"{src}/").replace(str(archive), str(src))
        text = text.replace(str(tmp_path / "out-zip"), str(tmp_path / "out-dir"))
        return re.sub(r'(timestamp|time|hostname)="[^"]*"', r'\1=""', text)

    assert (dir_code, want_code) == (zip_code, want_code)
    assert want_text in dir_text, dir_text
    assert same(zip_text) == same(dir_text)
    assert zip_files.keys() == dir_files.keys()
    for name in dir_files:
        assert same(zip_files[name]) == same(dir_files[name]), name
    if build is _killed:
        lost = [json.loads(line) for line in dir_files["results.jsonl"].splitlines()]
        assert sum(r["fields"].get("reason") == "lost" for r in lost) == 8
        assert "8 new case(s)" in zip_text


def test_a_zip_baseline_compares_exactly_as_its_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = tmp_path / "base"
    base.mkdir()
    _killed(base)  # the base lost 8 cases: failures there, so passing now is "fixed"
    now = tmp_path / "now"
    now.mkdir()
    _complete(now)
    archive = _zip(base, tmp_path / "base.zip")
    dir_code, _, dir_files = _report(now, tmp_path / "o1", capsys, base=base)
    zip_code, _, zip_files = _report(now, tmp_path / "o2", capsys, base=archive)
    assert dir_code == zip_code == 0
    assert dir_files["verdict.json"] == zip_files["verdict.json"]
    assert json.loads(dir_files["verdict.json"])["counts"]["fixed"] == 8


# --- outputs that cannot be written ------------------------------------------------------------


def _one_line(err: str, command: str, path: Path) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == [line for line in lines if not line.startswith(("Traceback", "  File"))]
    assert any(line.startswith(f"kcheck {command}: ") and "cannot write" in line for line in lines), err
    assert str(path) in err


def test_every_unwritable_output_is_one_line_and_status_5(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = _results_with_a_deep_record(tmp_path / "run")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    below = blocker / "sub"

    assert main(["report", str(results), "--out", str(below), "--quiet"]) == EXIT_UNWRITABLE
    err = capsys.readouterr().err
    _one_line(err, "report", below)
    assert f"kcheck report: cannot write {below}: Not a directory" in err

    assert main(["triage", str(results), "--markdown", str(below / "t.md"), "--quiet"]) == EXIT_UNWRITABLE
    _one_line(capsys.readouterr().err, "triage", below / "t.md")

    md = below / "c.md"
    assert (
        main(["compare", str(results), "--baseline", str(results), "--markdown", str(md)]) == EXIT_UNWRITABLE
    )
    _one_line(capsys.readouterr().err, "compare", md)

    assert main(["plot", str(results), "-o", str(below)]) == EXIT_UNWRITABLE
    _one_line(capsys.readouterr().err, "plot", below)

    log = tmp_path / "x.log"
    log.write_text("Running all 2 kernels...\n")
    assert main(["ingest-log", str(log), "-o", str(below / "i.jsonl")]) == EXIT_UNWRITABLE
    _one_line(capsys.readouterr().err, "ingest-log", below / "i.jsonl")
    assert blocker.read_text() == "x"


def test_a_bug_in_post_or_report_is_never_status_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    _complete(run)
    assert main(["report", str(run), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    capsys.readouterr()

    def broken(*args: Any, **kwargs: Any) -> str:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(commands.summary, "render", broken)
    assert main(["post", "--reports-dir", str(tmp_path / "out"), "--no-comment"]) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "kcheck post: internal error (RecursionError): exit 70" in err
    assert main(["report", str(run), "--out", str(tmp_path / "out2"), "--quiet"]) == EXIT_INTERNAL
    assert "kcheck report: internal error (RecursionError)" in capsys.readouterr().err


# --- the comment workflow -------------------------------------------------------------------------


def _post_step_script() -> str:
    text = (REPO / "ci" / "workflows" / "kcheck-comment.yml").read_text()
    step = text[text.index("- name: kcheck post") :]
    block = step[step.index("run: |") + len("run: |") :].splitlines()[1:]
    indent = len(block[0]) - len(block[0].lstrip())
    script = []
    for line in block:
        if line.strip() and len(line) - len(line.lstrip()) < indent:
            break
        script.append(line[indent:])
    return "\n".join(script) + "\n"


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
@pytest.mark.parametrize(
    ("status", "passes"), [(0, True), (1, True), (2, False), (3, False), (4, False), (5, False), (70, False)]
)
def test_the_comment_workflow_accepts_only_a_verdict(status: int, passes: bool, tmp_path: Path) -> None:
    """The step's own script, run as GitHub runs a bash step (``bash -e``), with a kcheck that
    exits ``status``."""
    kcheck = tmp_path / ".venv" / "bin" / "kcheck"
    kcheck.parent.mkdir(parents=True)
    kcheck.write_text(f"#!/bin/sh\nexit {status}\n")
    kcheck.chmod(0o755)
    script = tmp_path / "step.sh"
    script.write_text(_post_step_script())
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (proc.returncode == 0) is passes, proc.stdout + proc.stderr
    if not passes:
        assert proc.stdout.startswith("::error::kcheck post"), proc.stdout


# --- text that reaches matplotlib ---------------------------------------------------------------


def test_mathtext_in_kernel_names_is_drawn_as_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    timings = []
    for kernel in ("$\\frac{1}{$", "k$\\foo$", "a$b", "x$^$y", "\\textbf{t}$"):
        for impl, role, ms in (("default", Role.NAMED, 0.05), ("torch-eager", Role.EAGER, 0.08)):
            t = timing(ms, impl=impl, role=role, kernel=kernel, dtype="fp$32$")
            timings.append(dataclasses.replace(t, ceilings={"copy_gbps": 4000.0}))
    results = tmp_path / "results.jsonl"
    perf_records.write(results, timings)
    assert main(["plot", str(results), "-o", str(tmp_path / "out")]) == 0
    assert "Traceback" not in capsys.readouterr().err
    for name in ("speedup.png", "roofline.png"):
        assert (tmp_path / "out" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # kcheck report draws the same plots into its reports
    run = tmp_path / "run"
    run.mkdir()
    _complete(run)
    with (run / "results.jsonl").open("a") as f:
        f.write("".join(t.to_json() + "\n" for t in timings))
    assert main(["report", str(run), "--out", str(tmp_path / "rep"), "--quiet"]) == 0
    assert (tmp_path / "rep" / "speedup.png").is_file()
