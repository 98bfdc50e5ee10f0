"""Merging shards, baseline classification and junit.xml (reruns, corrupt shards, hostile text)."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from junitparser.xunit2 import JUnitXml
from recorded_shards import recorded, write_shard

from checker.categories import Category
from checker.model import Record, encodable
from checker.report import junit
from checker.results.baseline import FailOn, Status, classify, exit_code, parse_fail_on
from checker.results.merge import merge, parse_shard, read_shards, record_key


def _fail(rec: Record, category: Category = Category.NUMERICAL_MISMATCH, sig: str = "0123456789ab") -> Record:
    return dataclasses.replace(
        rec, category=category, signature=sig, message=f"{category.value} in {rec.case.name}"
    )


def test_shards_merge_and_the_same_shard_twice_counts_once(tmp_path: Path) -> None:
    recs = recorded()
    (tmp_path / "a").mkdir()
    a = write_shard(tmp_path / "a" / "results.jsonl", recs[:20])
    b = write_shard(tmp_path / "results-b.jsonl", recs[20:])
    run = merge(read_shards([a, b, a, tmp_path / "a"]))
    assert len(run.records) == len(recs) == len(run.attempts)
    assert run.duplicate_shards and run.reruns == 0
    copy = write_shard(tmp_path / "results-copy.jsonl", recs[:5])  # other file, same records
    assert len(merge(read_shards([a, copy])).records) == 20


def test_truncated_empty_missing_and_zip_shards(tmp_path: Path) -> None:
    recs = recorded()
    good = write_shard(tmp_path / "results-good.jsonl", recs[:10])
    truncated = tmp_path / "results-cut.jsonl"
    text = "".join(r.to_json() + "\n" for r in recs[10:15])
    truncated.write_text(text + recs[15].to_json()[:70], encoding="utf-8")
    empty = tmp_path / "results-empty.jsonl"
    empty.write_bytes(b"")
    garbage = tmp_path / "results-bin.jsonl"
    garbage.write_bytes(recs[16].to_json().encode() + b"\n\xff\xfe{\n")
    archive = tmp_path / "artifact.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("shard1/results.jsonl", "".join(r.to_json() + "\n" for r in recs[20:25]))
    run = merge(read_shards([good, truncated, empty, tmp_path / "missing.jsonl", garbage, archive]))
    assert len(run.records) == 10 + 5 + 1 + 5, "every readable line merged"
    described = [c.describe() for c in run.corrupt]
    assert any(d.startswith(f"{truncated}:6: truncated last line") for d in described), described
    assert any(d.startswith(f"{empty}: empty shard") for d in described)
    assert any(d.startswith(f"{tmp_path / 'missing.jsonl'}: cannot read") for d in described)
    assert any(d.startswith(f"{garbage}:2: not UTF-8") for d in described)
    assert f"{archive}!shard1/results.jsonl" in run.shards
    result = classify(run)
    assert exit_code(result, {FailOn.CORRUPT}) == 1 and exit_code(result, set()) == 0
    xml = junit.to_bytes(junit.build(run.records, corrupt=run.corrupt))
    errors = [e for e in ET.fromstring(xml).iter("error") if e.get("type") == "report-corrupt"]
    assert len(errors) == len(run.corrupt) == 4


def test_an_encrypted_member_is_named_and_the_other_members_are_merged(tmp_path: Path) -> None:
    recs = recorded()
    archive = tmp_path / "artifact.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a/results.jsonl", "".join(r.to_json() + "\n" for r in recs[:3]))
        z.writestr("b/results.jsonl", recs[3].to_json() + "\n")
    # Mark the second member encrypted (bit 0 of the general purpose flags) in its local and
    # central headers: zipfile then refuses to read it without a password (RuntimeError).
    data = bytearray(archive.read_bytes())
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        second = data.index(signature, data.index(signature) + 1)
        data[second + flags_at] |= 0x1
    archive.write_bytes(bytes(data))
    run = merge(read_shards([archive]))
    assert len(run.records) == 3
    described = [c.describe() for c in run.corrupt]
    assert any(d.startswith(f"{archive}!b/results.jsonl: cannot extract") for d in described), described


def test_classification_against_a_baseline() -> None:
    recs = recorded()[:12]
    base_recs = list(recs)
    base_recs[1] = _fail(recs[1])  # failing on base, failing now: pre-existing
    base_recs[2] = _fail(recs[2])  # failing on base, passing now: fixed
    base_recs[4] = _fail(recs[4], Category.INVALID_CONFIG)  # other category on base: new
    now = list(recs)
    now[0] = _fail(recs[0])  # the injected regression
    now[1] = _fail(recs[1])
    now[4] = _fail(recs[4])
    now[5] = _fail(recs[5], Category.GOLDEN_DIFF, "fedcba987654")
    now[3] = _fail(recs[3], Category.RUN_TIMEOUT, "aaaaaaaaaaaa")
    rerun = [dataclasses.replace(recs[3], duration_s=9.0)]  # the rerun of now[3] passed
    result = classify(merge(_shards(now + rerun)), merge(_shards(base_recs)))
    status = {c.key: c.status for c in result.cases}
    assert status[record_key(recs[0])] is Status.NEW
    assert status[record_key(recs[1])] is Status.PRE_EXISTING
    assert status[record_key(recs[2])] is Status.FIXED
    assert status[record_key(recs[3])] is Status.FLAKY
    assert status[record_key(recs[4])] is Status.NEW
    assert status[record_key(recs[5])] is Status.GOLDEN
    assert sum(s is Status.PASSED for s in status.values()) == 6
    assert result.reruns == 1
    assert exit_code(result) == 1
    assert exit_code(result, parse_fail_on("flaky")) == 1
    assert exit_code(result, parse_fail_on("none")) == 0
    no_base = classify(merge(_shards(now)), None).counts()
    assert (no_base[Status.NEW], no_base[Status.GOLDEN], no_base[Status.FIXED]) == (4, 1, 0), "no baseline"
    with pytest.raises(ValueError, match="unknown item 'news'"):
        parse_fail_on("new,news")


def _shards(records: list[Record]) -> list:  # type: ignore[type-arg]
    data = "".join(r.to_json() + "\n" for r in records).encode()
    return [parse_shard("mem", data)]


HOSTILE = "nul\x00 esc\x1b[31mred\x1b[0m lone\ud800 cdata]]> emoji🎉 <b>&amp; \ufffe bell\x07"


def test_hostile_text_yields_xml_both_parsers_read(tmp_path: Path) -> None:
    rec = _fail(recorded()[0])
    rec = dataclasses.replace(rec, message=HOSTILE, case=dataclasses.replace(rec.case, kernel="k]]>\x01"))
    path = write_shard(tmp_path / "results.jsonl", [rec])  # through JSON and back, surrogate included
    [back] = merge(read_shards([path])).records
    # Records make every text encodable where they are made: the lone surrogate is escaped.
    assert back.message == encodable(HOSTILE) and "lone\\ud800" in back.message
    out = tmp_path / "junit.xml"
    junit.write([back], out)
    root = ET.parse(out).getroot()
    failure = next(root.iter("failure"))
    assert (
        "cdata]]>" in (failure.text or "")
        and "emoji🎉" in (failure.text or "")
        and "<b>&amp;" in failure.text
    )
    assert "\x00" not in (failure.text or "") and "\x1b" not in (failure.text or "")
    parsed = JUnitXml.fromfile(str(out))
    [case] = [c for suite in parsed for c in suite]
    assert case.result[0].type == "numerical-mismatch"


def test_reruns_are_recorded_in_junit() -> None:
    rec = recorded()[0]
    flaky = [_fail(rec), rec]
    failing = [_fail(rec, sig="111111111111"), dataclasses.replace(_fail(rec), duration_s=3.0)]
    other = recorded()[1]
    xml = junit.to_bytes(
        junit.build([*flaky, *[dataclasses.replace(r, nodeid="x::y") for r in failing], other])
    )
    parsed = [c for suite in JUnitXml.fromstring(xml.decode()) for c in suite]
    assert [c.is_flaky for c in parsed].count(True) == 1 and [c.is_rerun for c in parsed].count(True) == 1
    root = ET.fromstring(xml)
    testcases = list(root.iter("testcase"))
    assert len(testcases) == 3, "one testcase per case, attempts folded in"
    assert sum(1 for _ in root.iter("flakyFailure")) == 1
    assert sum(1 for _ in root.iter("rerunFailure")) == 1
    assert sum(1 for _ in root.iter("failure")) == 1
