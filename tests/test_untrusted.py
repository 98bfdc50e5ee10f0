"""Untrusted text and artifacts (issue 13, items 12-14), each attack reproduced as it was found.

12. ``kcheck post`` in the ``workflow_run`` job reads an artifact that a run of the PR's code
    wrote: a forged summary.md / verdict.json must not reach the comment, and hostile
    results.jsonl lines must give a clear error or a failing verdict, never a green one.
13. Record text printed to a GitHub Actions log must never be a workflow command.
14. An unreachable API is a one-line posting failure with its own exit status.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import kernel_source
from fake_github import MARK, PR, REPO, FakeGitHub
from recorded_shards import recorded, write_shard
from test_report_summary import _outside_code

from checker.categories import Category
from checker.cli import main
from checker.commands.report import PostExit
from checker.escape import log_text
from checker.items import format_failure
from checker.model import Record
from checker.report import github
from checker.report.terminal import render
from checker.results import validate
from checker.results.merge import parse_shard

#: What the attacker put in record text: workflow commands on their own lines (LF and CR), one
#: behind blanks (the runner trims them), a legacy command mid-line, and markdown that would
#: mention, link and embed if it rendered.
HOSTILE = (
    "boom\n::error::pwned\n  ::add-mask::secret\r::warning file=x::cr line ##[error]legacy\n"
    "@everyone [click](https://evil.example/x) ![img](https://evil.example/i.png) <img src=x>"
)


def _is_command(line: str) -> bool:
    """Whether a GitHub Actions runner would process ``line`` as a workflow command
    (actions/runner ActionCommand.TryParseV2 trims leading blanks; TryParse finds ``##[``
    anywhere)."""
    return line.lstrip().startswith("::") or "##[" in line


def _commands(text: str) -> list[str]:
    # The runner splits lines at LF, CR and CRLF.
    return [line for line in re.split(r"\r\n|\r|\n", text) if _is_command(line)]


def _hostile(rec: Record, message: str = HOSTILE, **extra: Any) -> Record:
    case = dataclasses.replace(rec.case, kernel="evil@everyone|<b>\n::error::k")
    return dataclasses.replace(
        rec,
        case=case,
        category=Category.NUMERICAL_MISMATCH,
        signature="@everyone ##[error]sig",
        message=message,
        config_repr="Config(x='[c](https://evil.example)')\n::error::cfg",
        fields={"\n::error::key @everyone": "[v](https://evil.example)\n::add-mask::v"},
        toolchain={"helion": "@everyone"},
        nodeid=f"kernels/evil.py::{case.name}",
        repro="pytest x\n::error::repro @everyone",
        **extra,
    )


@pytest.fixture
def actions_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """GITHUB_ACTIONS=true with a step summary file; no token, no event."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    for var in ("GITHUB_TOKEN", "GITHUB_EVENT_PATH", "GITHUB_SHA", "GITHUB_RUN_ID", "GITHUB_REPOSITORY"):
        monkeypatch.delenv(var, raising=False)
    real = github.client
    monkeypatch.setattr(github, "client", lambda *a, **k: real(*a, **{**k, "throttle": False}))
    return summary


def _forged_artifact(tmp_path: Path, records: list[Record] | bytes) -> Path:
    """What the attacker uploaded as kcheck-reports: a summary and verdict claiming all green,
    next to the records."""
    reports = tmp_path / "artifact"
    reports.mkdir()
    (reports / "summary.md").write_text(
        f"{MARK}\n## kcheck: ✅ no failures\n\n@everyone all green, merge it: "
        "[details](https://evil.example) ![x](https://evil.example/track.png) <img src=https://evil.example/a.png>\n"
    )
    verdict = {"schema": 1, "exit_code": 0, "fail_reasons": [], "counts": {"passed": 1}, "findings": []}
    (reports / "verdict.json").write_text(json.dumps(verdict))
    path = reports / "results.jsonl"
    if isinstance(records, bytes):
        path.write_bytes(records)
    else:
        write_shard(path, records)
    return reports


def _post_argv(reports: Path, fake: FakeGitHub | None = None, *extra: str) -> list[str]:
    api = fake.url("/") if fake else "http://127.0.0.1:9"
    return ["post", "--reports-dir", str(reports), "--repo", REPO, "--pr", str(PR), "--api-url", api, *extra]


# --- 12: the artifact is hostile ----------------------------------------------------------------


def test_forged_summary_and_verdict_are_not_posted(
    gh_server: FakeGitHub,
    waits: list[float],
    actions_env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "tok-bot")
    recs = recorded()
    reports = _forged_artifact(tmp_path, [*recs[1:], _hostile(recs[0])])
    code = main(_post_argv(reports, gh_server, "--annotations", "off"))
    assert code == PostExit.TESTS_FAILED, "the verdict is computed from the records, not verdict.json"
    [posted] = gh_server.comments
    body = posted["body"]
    assert body.startswith(f"{MARK}\n## kcheck: ❌ 1 new failure")
    assert "all green" not in body and "no failures" not in body, "summary.md was not used"
    live = _outside_code(body)
    for bad in ("@everyone", "https://evil", "<img", "<b>", "[click]", "![", "::error", "##[error]"):
        assert bad not in live, bad
    assert actions_env.read_text().startswith(MARK + "\n## kcheck: ❌"), (
        "the step summary is the re-rendered one"
    )
    out = capsys.readouterr()
    assert _commands(out.out + out.err) == []


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"schema": 1, "case": ', "truncated last line"),
        (b"[1, 2, 3]", "must be a JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"schema": true}', "record schema True"),
        (None, "unknown category 'all-good'"),
        (None, "unknown record key '\\n::error::x'"),
        (None, "'message' is a number"),
        (None, "'duration_s' is a string"),
        (None, "'case.shape' is not an array of integers"),
        (None, "'comparison.mismatches' is a string"),
        (None, "'fields' is an array"),
        (None, "'toolchain' is"),
        (None, "'duration_s' is nan"),
        (None, "over the 4,194,304-byte limit"),
    ],
)
def test_hostile_record_lines_fail_the_verdict(
    line: bytes | None, reason: str, actions_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recs = recorded()
    good = json.loads(recs[0].to_json())
    if line is None:
        bad: dict[str, Any] = dict(good)
        mutate: dict[str, dict[str, Any]] = {
            "unknown category": {"category": "all-good"},
            "unknown record key": {"\n::error::x": 1},
            "'message'": {"message": 7},
            "'duration_s' is a string": {"duration_s": "1"},
            "'case.shape'": {"case": {**good["case"], "shape": ["4", "4"]}},
            "'comparison.mismatches'": {"comparison": {**good["comparison"], "mismatches": "0"}},
            "'fields'": {"fields": ["@everyone"]},
            "'toolchain'": {"toolchain": {"helion": ["x"]}},
            "'duration_s' is nan": {"duration_s": float("nan")},
            "over the": {"message": "x" * (validate.MAX_RECORD_BYTES + 10)},
        }
        bad.update(next(v for k, v in mutate.items() if reason.startswith(k) or k in reason))
        line = json.dumps(bad).encode()
    # the hostile line among records that all passed: alone they would be green
    passed = [r for r in recs if r.category is Category.PASSED]
    data = b"".join(r.to_json().encode() + b"\n" for r in passed) + line
    data += b"" if reason.startswith("truncated") else b"\n"
    reports = _forged_artifact(tmp_path, data)
    # even a policy without "corrupt" cannot make an unreadable record green in post
    assert main([*_post_argv(reports), "--no-comment", "--fail-on", "new"]) == PostExit.TESTS_FAILED
    err = capsys.readouterr().err
    assert "report-corrupt" in err and reason in err, err
    assert "Traceback" not in err
    assert _commands(err) == []
    summary = actions_env.read_text()
    assert "## kcheck: ❌ 1 unreadable result" in summary and "✅" not in summary


def test_artifact_without_records_is_a_usage_error(
    actions_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = _forged_artifact(tmp_path, recorded())
    (reports / "results.jsonl").unlink()
    assert main([*_post_argv(reports), "--no-comment"]) == PostExit.USAGE
    assert "results.jsonl: missing" in capsys.readouterr().err
    assert not actions_env.exists(), "nothing published from summary.md"


def test_only_garbage_is_a_failing_verdict(actions_env: Path, tmp_path: Path) -> None:
    reports = _forged_artifact(tmp_path, b"\x00\xff garbage\n")
    assert main([*_post_argv(reports), "--no-comment"]) == PostExit.TESTS_FAILED
    assert "❌ 1 unreadable result" in actions_env.read_text()


def test_post_compares_with_the_baseline_it_is_given(actions_env: Path, tmp_path: Path) -> None:
    """The artifact's baseline.jsonl (what `kcheck report` compared with) is used by default; a
    baseline given to post replaces it, so a forged baseline.jsonl cannot hide a new failure
    from a job that fetches the base branch's baseline itself."""
    recs = recorded()
    failing = dataclasses.replace(recs[0], category=Category.NUMERICAL_MISMATCH, signature="s", message="m")
    reports = _forged_artifact(tmp_path, [*recs[1:], failing])
    write_shard(reports / "baseline.jsonl", [*recs[1:], failing])  # "it failed on main too"
    trusted = write_shard(tmp_path / "trusted.jsonl", recs)  # it passed on main
    assert main([*_post_argv(reports), "--no-comment"]) == PostExit.PASSED
    assert "no new failures (pre-existing" in actions_env.read_text()
    actions_env.unlink()
    assert main([*_post_argv(reports), "--no-comment", "--baseline", str(trusted)]) == PostExit.TESTS_FAILED
    text = actions_env.read_text()
    assert "❌ 1 new failure" in text and "was `passed` on the base" in text


def test_report_writes_the_baseline_it_compared_with(tmp_path: Path) -> None:
    recs = recorded()
    base = write_shard(tmp_path / "base.jsonl", recs)
    out = tmp_path / "out"
    assert main(["report", str(base), "--baseline", str(base), "--out", str(out), "--quiet"]) == 0
    assert (out / "baseline.jsonl").read_bytes() == base.read_bytes()
    assert main(["report", str(base), "--out", str(out), "--quiet"]) == 0
    assert not (out / "baseline.jsonl").exists(), "a stale baseline would be used by post"


def test_commit_and_run_link_come_from_the_workflow_run_event(
    gh_server: FakeGitHub,
    waits: list[float],
    actions_env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "tok-bot")
    monkeypatch.setenv("GITHUB_SHA", "f" * 40)  # the comment workflow's own commit: not shown
    event = tmp_path / "event.json"
    run_url = f"https://github.com/{REPO}/actions/runs/4242"
    event.write_text(
        json.dumps(
            {"workflow_run": {"pull_requests": [{"number": PR}], "head_sha": "a" * 40, "html_url": run_url}}
        )
    )
    reports = _forged_artifact(tmp_path, recorded())
    argv = ["post", "--reports-dir", str(reports), "--repo", REPO, "--event", str(event)]
    assert main([*argv, "--api-url", gh_server.url("/")]) == PostExit.PASSED
    body = gh_server.comments[0]["body"]
    assert "`aaaaaaaaaaaa`" in body and f"[**run**]({run_url})" in body and "ffffffff" not in body


def test_escape_reaches_every_record_string_in_the_comment(actions_env: Path, tmp_path: Path) -> None:
    recs = recorded()
    many = [_hostile(recs[0]), dataclasses.replace(_hostile(recs[1]), nodeid="kernels/evil.py::second")]
    reports = _forged_artifact(tmp_path, many)
    main([*_post_argv(reports), "--no-comment", "--artifact", "x`@everyone"])
    text = actions_env.read_text()
    live = _outside_code(text)
    for bad in ("@everyone", "https://evil", "<b>", "::error", "::add-mask"):
        assert bad not in live, bad
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert len({len(re.split(r"(?<!\\)\|", line)) for line in table}) == 1, "the table kept its columns"


# --- 13: workflow commands in the log -----------------------------------------------------------


def test_log_text_disarms_every_line_and_keeps_the_rest() -> None:
    text = log_text(HOSTILE + "\nplain line\n\u200b::notice::zero width\n x::y not a command")
    assert _commands(text) == []
    assert "plain line\n" in text and " x::y not a command" in text
    assert "| ::error::pwned" in text and "##\\[error]legacy" in text
    assert log_text(text) == text, "escaping twice changes nothing"
    assert log_text("\ud800") == "\ufffd"


def test_format_failure_in_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = _hostile(recorded()[0])
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    assert "\n::error::pwned" in format_failure(rec), "outside Actions the text is shown as it is"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    text = format_failure(rec)
    assert _commands(text) == []
    assert "pwned" in text and "secret" in text, "disarmed, not dropped"


def test_kcheck_run_failure_text_has_no_workflow_command(
    kernel_dir: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The original attack: a kernel's reference raises with workflow commands in its message;
    the real plugin prints its failure text and summary under GITHUB_ACTIONS=true."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    raise_it = (
        "def bad_reference(x, y):\n"
        "    raise ValueError('ok\\n::error::pwned\\n::add-mask::secret ##[error]x')\n"
    )
    (kernel_dir.path / "kernels" / "add.py").write_text(kernel_source("bad_reference", raise_it))
    result = kernel_dir.runpytest("--configs", "0", "--shapes", "small", "-p", "no:xdist", "-k", "fp32")
    output = result.stdout.str() + result.stderr.str()
    assert "pwned" in output, "the failure text was printed"
    assert _commands(output) == []


def test_report_in_actions_prints_no_workflow_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The original attack: a record key ``\\n::error::x`` reached stderr at column 0, and
    messages reached the terminal view."""
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    recs = recorded()
    bad_key = json.loads(recs[0].to_json()) | {"\n::error::x": 1}
    shard = tmp_path / "results.jsonl"
    shard.write_text(
        "".join(r.to_json() + "\n" for r in [*recs[2:], _hostile(recs[1])]) + json.dumps(bad_key) + "\n"
    )
    assert main(["report", str(shard), "--out", str(tmp_path / "out")]) == 1
    out = capsys.readouterr()
    shown = [line for line in out.out.splitlines() if "::error::k" in line]
    assert shown and all(line.startswith(("| ", "│")) for line in shown), "shown, disarmed"
    assert any(line.startswith("| ") for line in shown), "a line that began with :: got the mark"
    assert "unknown record key" in out.err
    assert _commands(out.out) == [] and _commands(out.err) == []


def test_terminal_summary_table_in_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    rec = recorded()[0]
    evil = dataclasses.replace(rec, case=dataclasses.replace(rec.case, kernel="##[error]k [bold]x[/]"))
    text = render([evil])
    assert _commands(text) == [] and "[bold]x[/]" in text, "no rich markup parsed from a name"


# --- 14: the API is unreachable -----------------------------------------------------------------


@pytest.mark.parametrize("failing", [False, True])
def test_unreachable_api_is_a_posting_failure(
    failing: bool,
    waits: list[float],
    actions_env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "tok-bot")
    recs = recorded()
    reports = _forged_artifact(tmp_path, [*recs[1:], _hostile(recs[0])] if failing else recs)
    code = main(_post_argv(reports))  # http://127.0.0.1:9: nothing listens there
    assert code == (PostExit.POST_FAILED_TESTS_FAILED if failing else PostExit.POST_FAILED)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    [line] = [line for line in err.splitlines() if "posting failed" in line]
    assert line.startswith("kcheck post: posting failed: GET /user failed: no answer from GitHub")


def test_unreachable_api_while_looking_up_a_fork_pr(
    waits: list[float],
    actions_env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "tok-bot")
    event = tmp_path / "event.json"
    run = {
        "pull_requests": [],
        "head_branch": "fix",
        "head_sha": "c" * 40,
        "head_repository": {"owner": {"login": "f"}},
    }
    event.write_text(json.dumps({"workflow_run": run}))
    reports = _forged_artifact(tmp_path, recorded())
    argv = [
        "post",
        "--reports-dir",
        str(reports),
        "--repo",
        REPO,
        "--event",
        str(event),
        "--api-url",
        "http://127.0.0.1:9",
    ]
    assert main(argv) == PostExit.POST_FAILED
    err = capsys.readouterr().err
    assert "Traceback" not in err and "listing pull requests failed: no answer from GitHub" in err


def test_server_errors_on_create_keep_the_tests_status_apart(
    gh_server: FakeGitHub,
    waits: list[float],
    actions_env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before, `tests_code or 3` made a failed post with failing tests exit 1, which the comment
    workflow accepts: nobody noticed the missing comment."""
    from werkzeug import Response

    monkeypatch.setenv("GITHUB_TOKEN", "tok-bot")
    for _ in range(2):  # the create, then the create after the look-up for it
        gh_server.faults.append(("POST", lambda req, resp: _drop(gh_server, Response("{}", status=502))))
    recs = recorded()
    reports = _forged_artifact(tmp_path, [*recs[1:], _hostile(recs[0])])
    assert main(_post_argv(reports, gh_server)) == PostExit.POST_FAILED_TESTS_FAILED
    assert gh_server.comments == []


def _drop(fake: FakeGitHub, response: Any) -> Any:
    fake.comments.pop()  # the server failed before storing the comment
    return response


def test_parse_shard_never_raises_on_bytes() -> None:
    for data in (b"\xff\n", b"{}\n", b"null\n", b'{"schema": 1}\n', b"1e999999\n", b"9" * 5000 + b"\n"):
        shard = parse_shard("s", data)
        assert not shard.records and shard.corrupt


def test_unreadable_event_is_a_usage_error_only_where_it_is_needed(
    actions_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "tok-bot")
    reports = _forged_artifact(tmp_path, recorded())
    argv = ["post", "--reports-dir", str(reports), "--repo", REPO, "--event", str(tmp_path / "none.json")]
    assert main([*argv, "--no-comment"]) == PostExit.PASSED
    assert main([*argv, "--api-url", "http://127.0.0.1:9"]) == PostExit.USAGE
    assert "cannot read the event" in capsys.readouterr().err
