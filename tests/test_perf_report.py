"""Timing records beside case records: every reader of results.jsonl skips or carries them, and
``kcheck report`` / ``post`` / ``compare`` / ``ingest-log`` baselines work with them."""

from __future__ import annotations

import dataclasses
import os
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from recorded_shards import recorded
from test_ingest import SYNTHETIC
from test_perf import timing

from checker import collected
from checker.categories import Category
from checker.cli import main
from checker.model import Record
from checker.perf import records as perf_records
from checker.perf.compare import Verdict, compare
from checker.perf.ingested import timings_of
from checker.perf.records import BEST, Role, TimingRecord
from checker.report import junit
from checker.results.jsonl import JsonlWriter, read_records
from checker.results.merge import merge, parse_shard
from checker.results.validate import OtherKind, parse_record

SEED_LOGS = Path(os.environ.get("KCHECK_SEED_LOGS", Path(__file__).parent / "data" / "seed-logs"))


def _timings(scale: float = 1.0) -> list[TimingRecord]:
    samples = [0.99, 1.0, 1.0, 1.01, 1.02]
    return [
        timing(scale * 1.0, impl="default", samples=[scale * s for s in samples]),
        timing(0.9, impl="cfg1", role=Role.SAMPLED, samples=[0.9 * s for s in samples]),
        timing(1.5, impl="torch-eager", role=Role.EAGER, samples=[1.5 * s for s in samples]),
    ]


def _run(path: Path, records: list[Record], timings: list[TimingRecord]) -> Path:
    """A run directory as the plugin leaves it: collected.json, results.jsonl (cases, then
    timings, through the plugin's writer) and junit.xml."""
    path.mkdir(parents=True, exist_ok=True)
    collected.write(path, [r.nodeid for r in records if r.nodeid])
    writer = JsonlWriter(path / "results.jsonl")
    for rec in [*records, *timings]:
        writer.write(rec)
    writer.close()
    junit.write(records, path / "junit.xml")
    return path


@pytest.fixture
def cases() -> list[Record]:
    return [r for r in recorded() if r.nodeid][:12]


def test_case_readers_skip_timing_lines_and_the_invariant_holds(tmp_path: Path, cases: list[Record]) -> None:
    from invariant import check_run

    run = _run(tmp_path / "run", cases, _timings())
    assert list(read_records(run / "results.jsonl")) == cases
    assert check_run(run, exit_code=1 if any(r.failed for r in cases) else 0) == cases
    line = _timings()[0].to_json()
    with pytest.raises(OtherKind):
        parse_record(line)
    shard = parse_shard("s", (run / "results.jsonl").read_bytes())
    assert list(shard.records) == cases and shard.corrupt == () and len(shard.other) == 3
    only = parse_shard("t", (line + "\n").encode())
    assert only.records == () and only.corrupt == (), "a shard of timings only is not empty or corrupt"
    # Merged twice, the same timing line counts once.
    merged = merge([shard, dataclasses.replace(shard, digest="other")])
    assert len(merged.other) == 3 and len(merged.records) == len(cases)
    loaded = perf_records.load([run])
    assert loaded.timings == _timings() and loaded.case_records == len(cases) and not loaded.unreadable


def test_a_forged_kind_is_still_corrupt() -> None:
    shard = parse_shard("s", b'{"kind": "surprise", "schema": 1}\n{"kind": ["timing"]}\n')
    assert len(shard.corrupt) == 2 and shard.other == ()


def test_lost_cases_and_junit_do_not_count_timings(tmp_path: Path, cases: list[Record]) -> None:
    run = _run(tmp_path / "run", cases, _timings())
    ids = collected.read(run / collected.FILENAME)
    assert collected.lost_records(ids, list(read_records(run / "results.jsonl")), "sm_90") == []
    tests = ET.parse(run / "junit.xml").getroot().iter("testcase")
    assert sum(1 for _ in tests) == len(cases)


def test_triage_reads_a_results_file_with_timings(tmp_path: Path, cases: list[Record], capsys) -> None:
    run = _run(tmp_path / "run", cases, _timings())
    assert main(["triage", str(run / "results.jsonl")]) == 0
    assert "unreadable" not in capsys.readouterr().err


def test_report_keeps_timings_and_the_comment_groups_regressions(tmp_path: Path, cases: list[Record]) -> None:
    base = _run(tmp_path / "base", cases, _timings())
    head = _run(tmp_path / "head", cases, _timings(scale=1.3))  # the named config 30% slower
    out = tmp_path / "out"
    argv = [
        "report",
        str(head / "results.jsonl"),
        "--baseline",
        str(base / "results.jsonl"),
        "--out",
        str(out),
    ]
    assert main([*argv, "--quiet", "--fail-on", "none"]) == 0
    comment = (out / "summary.md").read_text()
    assert "### Performance: 1 regression(s), 0 improvement(s) of 3 timings compared" in comment
    assert "#### Regressions" in comment and "`softmax[4096x2048-bf16-default]`" in comment
    assert "| 1.0000 | 1.3000 | +30.0% |" in comment
    assert "`speedup.md`" in comment and (out / "speedup.md").is_file()
    # The merged results keep the timings, so `kcheck post` can redo the comparison.
    assert len(perf_records.load([out / "results.jsonl"]).timings) == 3
    assert len(perf_records.load([out / "baseline.jsonl"]).timings) == 3
    assert main([*argv, "--quiet", "--fail-on", "regression"]) == 1
    verdict = (out / "verdict.json").read_text()
    assert "1 performance regression(s)" in verdict


def test_post_renders_the_regression_section_from_the_records(
    tmp_path: Path, cases: list[Record], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = _run(tmp_path / "base", cases, _timings())
    head = _run(tmp_path / "head", cases, _timings(scale=0.7))  # 30% faster: an improvement
    out = tmp_path / "out"
    main(["report", str(head / "results.jsonl"), "--baseline", str(base), "--out", str(out), "--quiet"])
    step = tmp_path / "step.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    main(["post", "--reports-dir", str(out), "--no-comment", "--fail-on", "none"])
    text = step.read_text()
    assert "0 regression(s), 1 improvement(s)" in text and "#### Improvements" in text


def test_compare_command_flags_and_fails_only_when_asked(tmp_path: Path, cases: list[Record], capsys) -> None:
    base = _run(tmp_path / "base", cases, _timings())
    same = _run(tmp_path / "same", cases, _timings())
    slow = _run(tmp_path / "slow", cases, _timings(scale=1.5))
    assert main(["compare", str(same), "--baseline", str(base), "--fail-on-regression"]) == 0
    assert "0 regression(s)" in capsys.readouterr().err
    md = tmp_path / "cmp.md"
    assert main(["compare", str(slow), "--baseline", str(base), "--markdown", str(md)]) == 0
    out = capsys.readouterr()
    assert out.out.startswith("regression  softmax[4096x2048-bf16-default]") and "1 regression(s)" in out.err
    assert "#### Regressions" in md.read_text()
    assert main(["compare", str(slow), "--baseline", str(base), "--fail-on-regression"]) == 1
    empty = _run(tmp_path / "empty", cases, [])
    assert main(["compare", str(empty), "--baseline", str(base)]) == 2
    assert main(["compare", str(tmp_path / "nowhere"), "--baseline", str(base)]) == 2


def _zip_dir(directory: Path, archive: Path, prefix: str = "reports/") -> Path:
    """``directory``'s files in a zip under ``prefix``, as a downloaded CI artifact holds them."""
    with zipfile.ZipFile(archive, "w") as z:
        for f in sorted(directory.iterdir()):
            z.write(f, prefix + f.name)
    return archive


def test_compare_reads_zip_artifacts_and_names_a_broken_one(
    tmp_path: Path, cases: list[Record], capsys
) -> None:
    base = _zip_dir(_run(tmp_path / "base", cases, _timings()), tmp_path / "base.zip")
    slow = _zip_dir(_run(tmp_path / "slow", cases, _timings(scale=1.5)), tmp_path / "slow.zip", "")
    assert main(["compare", str(slow), "--baseline", str(base), "--fail-on-regression"]) == 1
    out = capsys.readouterr()
    assert out.out.startswith("regression  softmax[4096x2048-bf16-default]") and "unreadable" not in out.err
    # The same records read from the unpacked directories give the same verdict lines.
    assert main(["compare", str(tmp_path / "slow"), "--baseline", str(tmp_path / "base")]) == 0
    assert capsys.readouterr().out == out.out

    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(base.read_bytes()[:-30])  # the central directory's end is gone
    assert main(["compare", str(slow), "--baseline", str(truncated)]) == 2
    err = capsys.readouterr().err
    assert (
        f"unreadable: {truncated}: not a readable zip archive" in err and "no timings in any baseline" in err
    )
    no_results = tmp_path / "junit-only.zip"
    with zipfile.ZipFile(no_results, "w") as z:
        z.writestr("reports/junit.xml", "<testsuites/>")
    assert main(["compare", str(slow), "--baseline", str(no_results)]) == 2
    assert (
        f"{no_results}: no results*.jsonl, timings*.jsonl, ingested*.jsonl inside the archive"
        in capsys.readouterr().err
    )


def test_ingested_result_tables_become_a_baseline(tmp_path: Path, capsys) -> None:
    log = tmp_path / "rms.log"
    log.write_text(SYNTHETIC, encoding="utf-8")
    ingested = tmp_path / "ingested.jsonl"
    assert main(["ingest-log", str(log), "-o", str(ingested)]) == 0
    base = timings_of(perf_records.load([ingested]).ingested)
    by = {(t.impl, t.shape): t for t in base}
    # llama_rms (the table's baseline) 0.0123 ms; Helion's speedup 1.31 over it -> 0.0123 / 1.31.
    assert by[("llama_rms", (2048, 1024))].median_ms == pytest.approx(0.0123)
    assert by[(BEST, (2048, 1024))].median_ms == pytest.approx(0.0123 / 1.31)
    assert (BEST, (2048, 2048)) not in by, "an accuracy failure is no baseline"
    assert {t.kernel for t in base} == {"rms_norm"} and {t.role for t in base} == {Role.INGESTED}
    # A kcheck run of rms_norm at that shape: its fastest config is compared with Helion's.
    run = [
        timing(0.0094, kernel="rms_norm", shape=(2048, 1024), impl="default"),
        timing(0.0200, kernel="rms_norm", shape=(2048, 1024), impl="cfg0", role=Role.SAMPLED),
    ]
    best = next(c for c in compare(run, [base]) if c.key[3] == BEST)
    assert best.key == ("rms_norm", (2048, 1024), "bf16", BEST) and best.verdict is Verdict.UNCHANGED
    slow = [dataclasses.replace(r, median_ms=r.median_ms * 2) for r in run]
    flagged = next(c for c in compare(slow, [base]) if c.key[3] == BEST)
    assert flagged.verdict is Verdict.REGRESSION and flagged.noise == "none"
    run_file = tmp_path / "timings.jsonl"
    perf_records.write(run_file, slow)
    assert main(["compare", str(run_file), "--baseline", str(ingested), "--fail-on-regression"]) == 1
    assert "regression  rms_norm[2048x1024-bf16-best]" in capsys.readouterr().out


@pytest.mark.skipif(not (SEED_LOGS / "gemm-benchmark-run.log").exists(), reason="no seed logs")
def test_seed_logs_hold_no_result_table_and_give_an_empty_baseline(tmp_path: Path) -> None:
    out = tmp_path / "ingested.jsonl"
    assert main(["ingest-log", *map(str, sorted(SEED_LOGS.glob("*.log"))), "-o", str(out)]) == 0
    loaded = perf_records.load([out])
    assert loaded.case_records > 0 and not loaded.unreadable
    # Both seed runs were cut short before tritonbench printed its table (docs/ingest-log.md).
    assert timings_of(loaded.ingested) == []
    assert all(r.category is not Category.PASSED for r in read_records(out))
