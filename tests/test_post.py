"""``kcheck post`` against a real HTTP server on localhost speaking the GitHub REST endpoints
PyGithub calls (pytest-httpserver), through ``Github(base_url=...)``: no mocked client."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import pytest
from fake_github import ACTIONS_TOKEN, MARK, PR, REPO, FakeGitHub, json_response
from recorded_shards import recorded, write_shard
from werkzeug import Request, Response

from checker.categories import Category
from checker.cli import main
from checker.model import Record
from checker.report import github
from checker.report.summary import COMMENT_CHAR_LIMIT


def _client(fake: FakeGitHub, token: str = "tok-bot", timeout: int = 15) -> Any:
    return github.client(token, fake.url("/"), timeout=timeout, throttle=False)


def _post(fake: FakeGitHub, body: str, token: str = "tok-bot", **kw: Any) -> github.PostResult:
    return github.post_comment(_client(fake, token, **kw), REPO, PR, body, MARK)


def test_creates_once_then_updates_in_place(gh_server: FakeGitHub, waits: list[float]) -> None:
    first = _post(gh_server, f"{MARK}\none")
    assert first.action == "created"
    second = _post(gh_server, f"{MARK}\ntwo")
    assert (second.action, second.comment_id) == ("updated", first.comment_id)
    third = _post(gh_server, f"{MARK}\ntwo")
    assert third.action == "unchanged"
    assert [c["body"] for c in gh_server.comments] == [f"{MARK}\ntwo"]
    assert gh_server.log.count(f"PATCH /repos/{REPO}/issues/comments/{first.comment_id}") == 1
    assert waits == []


def test_finds_own_comment_on_a_later_page(gh_server: FakeGitHub, waits: list[float]) -> None:
    gh_server.comments += [{"id": i, "body": f"chatter {i}", "login": "mallory"} for i in range(1, 65)]
    made = _post(gh_server, f"{MARK}\nv1")
    assert _post(gh_server, f"{MARK}\nv2").comment_id == made.comment_id
    assert sum(1 for c in gh_server.comments if c["body"].startswith(MARK)) == 1
    assert len(gh_server.comments) == 65


def test_secondary_rate_limit_honours_retry_after(gh_server: FakeGitHub, waits: list[float]) -> None:
    def limited(request: Request, response: Response) -> Response:
        gh_server.comments.pop()  # the rate limit rejected the request: nothing was created
        return json_response(
            {"message": "You have exceeded a secondary rate limit."}, 403, headers={"Retry-After": "7"}
        )

    gh_server.faults.append(("POST", limited))
    result = _post(gh_server, f"{MARK}\nbody")
    assert result.action == "created"
    assert waits == [7.0]
    assert len(gh_server.comments) == 1
    assert gh_server.log.count(f"POST /repos/{REPO}/issues/{PR}/comments") == 2


def test_rate_limit_message_without_retry_after_backs_off(gh_server: FakeGitHub, waits: list[float]) -> None:
    def limited(request: Request, response: Response) -> Response:
        return json_response({"message": "You have exceeded a secondary rate limit. Please wait."}, 403)

    gh_server.faults.append(("GET", limited))
    _post(gh_server, f"{MARK}\nbody")
    assert len(waits) == 1 and waits[0] > 0
    assert len(gh_server.comments) == 1


def test_502_after_the_server_created_the_comment_leaves_one(
    gh_server: FakeGitHub, waits: list[float]
) -> None:
    gh_server.faults.append(("POST", lambda req, resp: json_response({"message": "Bad Gateway"}, 502)))
    result = _post(gh_server, f"{MARK}\nbody")
    assert result.action == "created"
    assert [c["body"] for c in gh_server.comments] == [f"{MARK}\nbody"]
    assert gh_server.log.count(f"POST /repos/{REPO}/issues/{PR}/comments") == 1, "the POST was not repeated"
    # and a second post edits that one comment
    _post(gh_server, f"{MARK}\nagain")
    assert [c["body"] for c in gh_server.comments] == [f"{MARK}\nagain"]


def test_timeout_after_the_server_created_the_comment_leaves_one(
    gh_server: FakeGitHub, waits: list[float]
) -> None:
    def slow(request: Request, response: Response) -> Response:
        time.sleep(1.5)  # longer than the client's 1 s timeout; the comment already exists
        return response

    gh_server.faults.append(("POST", slow))
    result = _post(gh_server, f"{MARK}\nbody", timeout=1)
    assert result.action == "created"
    assert len(gh_server.comments) == 1
    assert gh_server.log.count(f"POST /repos/{REPO}/issues/{PR}/comments") == 1


def test_502_before_anything_was_created_posts_again(gh_server: FakeGitHub, waits: list[float]) -> None:
    def failed(request: Request, response: Response) -> Response:
        gh_server.comments.pop()
        return json_response({"message": "Bad Gateway"}, 502)

    gh_server.faults.append(("POST", failed))
    assert _post(gh_server, f"{MARK}\nbody").action == "created"
    assert len(gh_server.comments) == 1


def test_forged_marker_in_another_users_comment_is_ignored(gh_server: FakeGitHub, waits: list[float]) -> None:
    forged = {"id": 1, "body": f"{MARK}\n@everyone all green, merge it", "login": "mallory"}
    gh_server.comments.append(dict(forged))
    ours = _post(gh_server, f"{MARK}\nreal")
    assert ours.comment_id != 1
    _post(gh_server, f"{MARK}\nreal v2")
    assert gh_server.comments[0] == forged, "the forged comment was not touched"
    assert [c["body"] for c in gh_server.comments if c["login"] == "kcheck-bot"] == [f"{MARK}\nreal v2"]


def test_actions_token_without_user_access_uses_the_bot_login(
    gh_server: FakeGitHub, waits: list[float]
) -> None:
    first = _post(gh_server, f"{MARK}\none", token=ACTIONS_TOKEN)
    second = _post(gh_server, f"{MARK}\ntwo", token=ACTIONS_TOKEN)
    assert first.comment_id == second.comment_id
    assert [c["login"] for c in gh_server.comments] == ["github-actions[bot]"]


def test_bad_token_is_a_clear_error(gh_server: FakeGitHub, waits: list[float]) -> None:
    with pytest.raises(github.PostError, match="401"):
        _post(gh_server, f"{MARK}\nbody", token="nope")
    assert gh_server.comments == []


def test_pr_number_of_a_fork_workflow_run_comes_from_the_event(gh_server: FakeGitHub) -> None:
    gh_server.pulls.append({"number": 42, "sha": "b" * 40, "head_label": "forker:fix"})
    gh_server.pulls.append({"number": 43, "sha": "c" * 40, "head_label": "forker:fix"})
    event = {
        "workflow_run": {
            "pull_requests": [],
            "head_branch": "fix",
            "head_sha": "c" * 40,
            "head_repository": {"owner": {"login": "forker"}},
        }
    }
    assert github.pr_number(event, _client(gh_server), REPO) == 43
    assert github.pr_number({"workflow_run": {"pull_requests": [{"number": 5}]}}) == 5
    assert github.pr_number({"pull_request": {"number": 9}}) == 9
    with pytest.raises(github.PostError, match="not about a pull request"):
        github.pr_number({"push": {}})


# --- the command ------------------------------------------------------------------------------


def _failing(rec: Record, message: str, sig: str = "0123456789ab", config: str | None = None) -> Record:
    case = dataclasses.replace(rec.case, config=config) if config else rec.case
    return dataclasses.replace(
        rec,
        case=case,
        category=Category.NUMERICAL_MISMATCH,
        signature=sig,
        message=message,
        nodeid=f"kernels/softmax.py::{case.name}",
        repro=f"pytest 'kernels/softmax.py::{case.name}'",
    )


def _reports(tmp_path: Path, exit_code: int = 1, records: list[Record] | None = None) -> Path:
    """A reports directory as `kcheck report` leaves it: results.jsonl (what post reads)."""
    reports = tmp_path / "reports"
    reports.mkdir()
    recs = recorded()
    if records is None:
        records = recs if not exit_code else [*recs[1:], _failing(recs[0], INJECTED)]
    write_shard(reports / "results.jsonl", records)
    return reports


#: A message that tries to issue a workflow command and breaks percent-escaping.
INJECTED = "::warning::injected, 100% wrong,\nsecond line"


def _argv(fake: FakeGitHub, reports: Path) -> list[str]:
    return [
        "post",
        "--reports-dir",
        str(reports),
        "--repo",
        REPO,
        "--pr",
        str(PR),
        "--api-url",
        fake.url("/"),
    ]


@pytest.fixture
def no_throttle(monkeypatch: pytest.MonkeyPatch) -> None:
    real = github.client
    monkeypatch.setattr(github, "client", lambda *a, **k: real(*a, **{**k, "throttle": False}))


def test_post_twice_leaves_one_comment(
    gh_server: FakeGitHub,
    waits: list[float],
    no_throttle: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "tok-bot")
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    reports = _reports(tmp_path)
    assert main(_argv(gh_server, reports)) == 1, "exit status is the tests'"
    assert main(_argv(gh_server, reports)) == 1
    assert len(gh_server.comments) == 1
    assert gh_server.comments[0]["body"].startswith(f"{MARK}\n## kcheck: ❌ 1 new failure\n")
    out = capsys.readouterr().out
    assert "created comment" in out and "unchanged comment" in out


def test_no_token_posts_nothing_and_keeps_the_tests_exit_status(
    gh_server: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    summary_file = tmp_path / "step_summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary_file))
    reports = _reports(tmp_path, exit_code=1)
    assert main(_argv(gh_server, reports)) == 1
    assert gh_server.log == [] and gh_server.comments == []
    assert "no token in $GITHUB_TOKEN: nothing posted" in capsys.readouterr().err
    assert "❌ 1 new failure" in summary_file.read_text()
    (tmp_path / "ok").mkdir()
    assert main(_argv(gh_server, _reports(tmp_path / "ok", exit_code=0))) == 0


def test_oversized_report_is_cut_to_githubs_limit(
    gh_server: FakeGitHub,
    waits: list[float],
    no_throttle: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "tok-bot")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    rec = recorded()[0]
    many = [_failing(rec, "x" * 1400 + f" #{i}", sig=f"{i:012x}", config=f"cfg{i}") for i in range(300)]
    reports = _reports(tmp_path, records=many)
    assert (reports / "results.jsonl").stat().st_size > COMMENT_CHAR_LIMIT
    assert main([*_argv(gh_server, reports), "--artifact", "kcheck-reports-sm90"]) == 1
    [posted] = gh_server.comments
    text = posted["body"]
    assert len(text) <= COMMENT_CHAR_LIMIT
    assert text.startswith(MARK)
    assert "artifact `kcheck-reports-sm90`" in text
    assert text.count("```") % 2 == 0, "no open code fence"
    assert text.count("<details>") == text.count("</details>")


def test_annotations_only_for_new_failures_and_escaped(
    gh_server: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    reports = _reports(tmp_path)
    main(_argv(gh_server, reports))
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("::")]
    assert len(lines) == 1
    line = lines[0]
    assert line.startswith(
        "::error file=kernels/softmax.py,title=kcheck new%3A numerical-mismatch (1 cases)::"
    )
    assert "%0A" in line and "100%25 wrong" in line
    # the injected command is data of the one annotation line, never a line of its own
    assert "::warning::injected" in line
