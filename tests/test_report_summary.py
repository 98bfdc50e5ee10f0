"""The PR comment (summary.md): content, escaping, size caps; ``kcheck report`` end to end."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from recorded_shards import recorded, write_shard

from checker.categories import Category
from checker.cli import main
from checker.escape import md_block, md_code
from checker.model import Record
from checker.report.summary import COMMENT_BYTE_LIMIT, COMMENT_CHAR_LIMIT, RunInfo, marker, render
from checker.results.baseline import classify
from checker.results.merge import merge, parse_shard, read_shards


def _overflow(rec: Record, message: str = "", sig: str = "5e1f00aa0b12") -> Record:
    return dataclasses.replace(
        rec,
        category=Category.NUMEL_OVERFLOW,
        signature=sig,
        message=message or "CompilationError: numel (2097152) exceeds triton maximum tensor numel (1048576)",
        fields={"numel": 2097152, "limit": 1048576},
    )


def test_md_code_and_block_neutralize_markdown() -> None:
    assert md_code("a`b``c") == "```a`b``c```"
    assert md_code("`x`") == "`` `x` ``"
    assert md_code("a|b", in_table=True) == "`a\\|b`"
    assert md_code("line\nbreak") == "`line break`"
    block = md_block("```\ninside\n`````")
    assert block.startswith("``````\n") and block.endswith("\n``````")


def test_one_injected_regression_is_the_only_new_failure(tmp_path: Path) -> None:
    """The issue's acceptance run, on the CPU run's records: base = the run as it was; the PR
    injects one regression; every other case is passing, skipped or pre-existing."""
    recs = recorded()
    base = list(recs)
    base[3] = _overflow(recs[3], sig="0000000000aa")  # already broken on main
    pr = list(base)
    pr[7] = _overflow(recs[7])  # the injected regression
    base_path = write_shard(tmp_path / "base.jsonl", base)
    pr_path = write_shard(tmp_path / "results.jsonl", pr)
    out = tmp_path / "out"
    env_free = ["--commit", "0123456789abcdef0123", "--run-url", "https://github.com/o/r/actions/runs/99"]
    code = main(
        ["report", str(pr_path), "--baseline", str(base_path), "--out", str(out), "--quiet", *env_free]
    )
    assert code == 1
    text = (out / "summary.md").read_text()
    assert text.startswith(marker() + "\n## kcheck: ❌ 1 new failure")
    new = text.split("\n### New failures")[1].split("\n### ")[0]
    assert pr[7].case.name in new and pr[3].case.name not in new
    assert "was `passed` on the base" in new
    assert "`limit` `1048576`; `numel` `2097152`" in new
    assert pr[7].repro is not None and pr[7].repro in new
    assert "\n### Pre-existing failures" in text and pr[3].case.name in text.split("\n### Pre-existing")[1]
    assert "`0123456789ab`" in text and "(https://github.com/o/r/actions/runs/99)" in text
    total = re.search(r"\| \*\*total\*\* \| \*\*(\d+)\*\* \| \*\*(\d+)\*\* \|", text)
    assert total is not None and total.groups() == (str(len(recs)), "1")
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["exit_code"] == 1 and [f["case"] for f in verdict["findings"]] == [pr[7].case.name]
    assert len((out / "results.jsonl").read_text().splitlines()) == len(recs)
    assert len((out / "baseline.jsonl").read_text().splitlines()) == len(recs), "post can redo the comparison"
    # the same comparison without the regression passes
    assert main(["report", str(base_path), "--baseline", str(base_path), "--out", str(out), "--quiet"]) == 0
    # and the exit policy is configurable
    assert main(["report", str(pr_path), "--baseline", str(base_path), "--out", str(out), "--quiet",
                 "--fail-on", "none"]) == 0  # fmt: skip


def test_report_reads_its_own_output_dir_and_rejects_bad_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_shard(tmp_path / "results.jsonl", recorded())
    assert main(["report", "--out", str(tmp_path), "--quiet"]) == 0
    [merged] = read_shards([tmp_path / "results.jsonl"])
    assert len(merged.records) == len(recorded())
    assert main(["report", "--out", str(tmp_path), "--fail-on", "bogus"]) == 2
    assert "unknown item 'bogus'" in capsys.readouterr().err


def test_untrusted_text_renders_nothing_live() -> None:
    rec = recorded()[0]
    evil = (
        "@octocat see https://evil.example/x and [click](https://evil.example) <img src=x onerror=alert(1)> "
        "| broken | table ``` fence ```` <details> \u202eevil"
    )
    bad = dataclasses.replace(
        _overflow(rec, message=evil),
        case=dataclasses.replace(rec.case, kernel="k@octocat|<b>"),
        fields={"numel": "@octocat", "limit": "<script>"},
    )
    text = render(classify(merge([parse_shard("m", (bad.to_json() + "\n").encode())])))
    outside = _outside_code(text)
    for live in ("@octocat", "https://evil", "<img", "<script", "<b>", "[click]"):
        assert live not in outside, live
    table = [line for line in text.splitlines() if line.startswith("|")]
    widths = {len(re.split(r"(?<!\\)\|", line)) for line in table}
    assert len(widths) == 1, "a pipe in a kernel name broke the table"
    assert "\u202e" not in text


def _outside_code(text: str) -> str:
    """The comment with fenced blocks, code spans and <code> elements removed."""
    out, fence = [], None
    for line in text.splitlines():
        m = re.match(r"^(`{3,})", line)
        if fence is None and m:
            fence = m.group(1)
            continue
        if fence is not None:
            if line.strip() == fence:
                fence = None
            continue
        line = re.sub(r"<code>.*?</code>", "", line)
        line = re.sub(r"(`+)(?:(?!\1).)+?\1", "", line)
        out.append(line)
    return "\n".join(out)


def _many_groups(n: int, message: str) -> list[Record]:
    base = recorded()[0]
    out = []
    for i in range(n):
        case = dataclasses.replace(base.case, config=f"cfg{i}")
        out.append(
            dataclasses.replace(
                _overflow(base, message=f"{message} #{i}", sig=f"{i:012x}"),
                case=case,
                nodeid=f"kernels/rms_norm.py::{case.name}",
            )
        )
    return out


def test_cap_keeps_every_group_headline_and_names_the_artifact() -> None:
    recs = _many_groups(400, "x" * 1200)
    result = classify(merge([parse_shard("m", "".join(r.to_json() + "\n" for r in recs).encode())]))
    text = render(result, RunInfo(artifact="kcheck-reports-sm90"))
    assert len(text) <= COMMENT_CHAR_LIMIT
    assert "artifact `kcheck-reports-sm90`" in text
    assert all(f"`{i:012x}`" in text for i in range(400)), "every group kept"
    assert len(re.findall(r"\]\(triage\.md#group-[0-9a-f]{10}\)", text)) == 400, "every group links"
    lines = [line for line in text.splitlines() if line.startswith("- **")]
    assert ": `xxxx" in lines[0] and ": `xxxx" not in lines[-1], "headlines first, in group order"
    small = render(classify(merge([parse_shard("m", (recs[0].to_json() + "\n").encode())])))
    assert "left out" not in small and "x" * 1200 in small


def test_byte_cap_with_four_byte_characters() -> None:
    recs = _many_groups(60, "🎉" * 1500)
    result = classify(merge([parse_shard("m", "".join(r.to_json() + "\n" for r in recs).encode())]))
    text = render(result)
    assert len(text.encode()) <= COMMENT_BYTE_LIMIT and len(text) <= COMMENT_CHAR_LIMIT
    tight = render(result, max_chars=20_000, max_bytes=30_000)
    assert len(tight) <= 20_000 and len(tight.encode()) <= 30_000
    assert "more groups are in the artifact" in tight or all(f"`{i:012x}`" in tight for i in range(60))
