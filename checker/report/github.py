"""Posting the summary as one sticky pull-request comment, with PyGithub.

The comment is found by two things together: the hidden marker on its first line
(:func:`checker.report.summary.marker`) and the author being the token's own login. A marker
copied into someone else's comment is ignored. The comment is created once, then edited in place.

Requests used (GitHub REST): ``GET /user``, ``GET /repos/{repo}/issues/{n}/comments``,
``POST /repos/{repo}/issues/{n}/comments``, ``PATCH /repos/{repo}/issues/comments/{id}``, and for
a ``workflow_run`` event from a fork ``GET /repos/{repo}/pulls``.

Retries (:class:`WriteSafeRetry`, a PyGithub ``GithubRetry``): rate limits (403 with
``Retry-After`` or a rate-limit message, 429) are retried for every method, sleeping what
``Retry-After`` says, else with exponential backoff. Server errors and timeouts are retried only
for requests that are safe to repeat (GET, PATCH). A POST that fails with a 5xx or a timeout may
still have created the comment, so :func:`post_comment` looks for it again and edits it instead of
creating a second one.

An Actions ``GITHUB_TOKEN`` cannot read ``GET /user`` (403 "Resource not accessible by
integration"); its comments are authored by ``github-actions[bot]``, the login used then.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from github import Auth, Github, GithubException, GithubRetry
from github.Issue import Issue
from github.IssueComment import IssueComment

#: Author of comments made with an Actions GITHUB_TOKEN.
ACTIONS_BOT_LOGIN = "github-actions[bot]"
#: Longest Retry-After honoured, seconds; a longer one fails the post instead of hanging the job.
MAX_RETRY_AFTER_S = 300.0


class PostError(Exception):
    """Posting failed; the message says what and where."""


class WriteSafeRetry(GithubRetry):
    """PyGithub's retry policy, except that a POST is never repeated after a server error.

    ``total`` bounds all retries, ``backoff_factor`` sets exponential backoff (seconds) where no
    ``Retry-After`` is given; a ``Retry-After`` above ``MAX_RETRY_AFTER_S`` is not waited for.
    """

    #: How a retry waits (seconds); tests replace it to stay fast and to see the waits.
    sleep_fn: Callable[[float], None] = staticmethod(time.sleep)

    def __init__(self, total: int = 5, backoff_factor: float = 1.0, **kwargs: Any) -> None:
        kwargs.setdefault("allowed_methods", frozenset({"GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"}))
        kwargs.setdefault("status_forcelist", [*range(500, 600), 429])
        kwargs.setdefault("raise_on_status", False)
        super().__init__(total=total, backoff_factor=backoff_factor, **kwargs)

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if method.upper() == "POST" and status_code >= 500:
            return False  # it may have been applied: post_comment reconciles instead
        return bool(super().is_retry(method, status_code, has_retry_after))

    def increment(  # type: ignore[override]
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> Any:
        if method and method.upper() == "POST" and error is not None and self._is_read_error(error):
            raise error  # the request reached the server and may have been applied
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def sleep_for_retry(self, response: Any) -> bool:
        seconds = self.get_retry_after(response)
        if seconds:
            self.sleep_fn(seconds)
            return True
        return False

    def _sleep_backoff(self) -> None:
        seconds = self.get_backoff_time()
        if seconds > 0:
            self.sleep_fn(seconds)

    def get_retry_after(self, response: Any) -> float | None:
        value = super().get_retry_after(response)
        if value is not None and value > MAX_RETRY_AFTER_S:
            raise PostError(f"GitHub asked to wait {value:g} s (Retry-After), over {MAX_RETRY_AFTER_S:g} s")
        return value


def client(
    token: str,
    base_url: str = "https://api.github.com",
    *,
    timeout: int = 30,
    retry: GithubRetry | None = None,
    throttle: bool = True,
) -> Github:
    """A PyGithub client for ``base_url`` (GitHub Enterprise: ``https://HOST/api/v3``).

    ``throttle=False`` drops PyGithub's pauses between requests (0.25 s) and writes (1 s),
    for tests against a local server.
    """
    pauses: dict[str, float | None] = (
        {} if throttle else {"seconds_between_requests": None, "seconds_between_writes": None}
    )
    return Github(
        auth=Auth.Token(token),
        base_url=base_url,
        timeout=timeout,
        retry=retry or WriteSafeRetry(),
        lazy=True,
        **pauses,  # type: ignore[arg-type]
    )


def own_login(gh: Github) -> str:
    """The token's login, or ``github-actions[bot]`` for an Actions token that cannot read it.

    Raises:
        PostError: any other failure (bad token: 401).
    """
    try:
        return str(gh.get_user().login)
    except GithubException as exc:
        if exc.status == 403:
            return ACTIONS_BOT_LOGIN
        raise PostError(f"GET /user failed: {exc.status} {_message(exc)}") from exc
    except requests.exceptions.RequestException as exc:
        raise PostError(f"GET /user failed: {_network(exc)}") from exc


def _network(exc: requests.exceptions.RequestException) -> str:
    """One line for a request that got no answer (urllib3 nests the reason in long reprs)."""
    kind = type(exc).__name__
    text = " ".join(str(exc).split())
    return f"no answer from GitHub ({kind}): {text[:300]}"


def _message(exc: GithubException) -> str:
    data = exc.data
    return str(data.get("message", data)) if isinstance(data, dict) else str(data)


@dataclass(frozen=True)
class PostResult:
    """What :func:`post_comment` did: ``created``, ``updated`` or ``unchanged``."""

    action: str
    comment_id: int
    url: str


def _is_ours(comment: IssueComment, login: str, mark: str) -> bool:
    user = comment.user
    body = comment.body or ""
    return user is not None and user.login == login and body.lstrip().startswith(mark)


def find_comment(issue: Issue, login: str, mark: str) -> IssueComment | None:
    """The oldest comment of ``issue`` authored by ``login`` whose first line is ``mark``."""
    for comment in issue.get_comments():
        if _is_ours(comment, login, mark):
            return comment
    return None


def post_comment(
    gh: Github, repo: str, number: int, body: str, mark: str, login: str | None = None
) -> PostResult:
    """Create or update the sticky comment on PR ``number`` of ``repo`` (``owner/name``).

    ``body`` must start with ``mark``. Never leaves two comments for one successful call: a
    create that failed with a server error or timeout is followed by a fresh look for the
    comment, which is edited if the create went through after all.

    Raises:
        PostError: naming the request that failed.
    """
    if not body.startswith(mark):
        raise ValueError("the body must start with its marker")
    me = login or own_login(gh)
    issue = gh.get_repo(repo).get_issue(number)
    try:
        existing = find_comment(issue, me, mark)
        if existing is not None:
            return _update(existing, body)
        try:
            made = issue.create_comment(body)
            return PostResult("created", made.id, made.html_url)
        except (GithubException, requests.exceptions.RequestException) as exc:
            status = exc.status if isinstance(exc, GithubException) else None
            if status is not None and status < 500:
                raise
            # The create may have been applied before the error or timeout: look again.
            again = find_comment(issue, me, mark)
            if again is not None:
                result = _update(again, body)
                return PostResult("created", result.comment_id, result.url)
            made = issue.create_comment(body)
            return PostResult("created", made.id, made.html_url)
    except GithubException as exc:
        raise PostError(f"{repo}#{number}: GitHub answered {exc.status}: {_message(exc)}") from exc
    except requests.exceptions.RequestException as exc:
        raise PostError(f"{repo}#{number}: {_network(exc)}") from exc


def _update(comment: IssueComment, body: str) -> PostResult:
    if comment.body == body:
        return PostResult("unchanged", comment.id, comment.html_url)
    comment.edit(body)
    return PostResult("updated", comment.id, comment.html_url)


def pr_number(event: Mapping[str, Any], gh: Github | None = None, repo: str | None = None) -> int:
    """The pull request a GitHub event is about.

    ``pull_request`` / ``pull_request_target`` events carry it; an ``issue_comment`` on a PR too.
    A ``workflow_run`` event lists it in ``workflow_run.pull_requests``, except for runs from
    forks, where that list is empty: then the open PR whose head is the run's head repository,
    branch and commit is looked up (needs ``gh`` and ``repo``). Never read from the artifact,
    which the PR's author controls.

    Raises:
        PostError: the event names no pull request.
    """
    if isinstance(event.get("pull_request"), Mapping):
        return int(event["pull_request"]["number"])
    issue = event.get("issue")
    if isinstance(issue, Mapping) and issue.get("pull_request"):
        return int(issue["number"])
    run = event.get("workflow_run")
    if isinstance(run, Mapping):
        prs = run.get("pull_requests") or []
        if prs:
            return int(prs[0]["number"])
        head_repo = run.get("head_repository") or {}
        owner = (head_repo.get("owner") or {}).get("login")
        branch, sha = run.get("head_branch"), run.get("head_sha")
        if gh is None or repo is None or not (owner and branch and sha):
            raise PostError("workflow_run event without pull_requests or head repository/branch/sha")
        try:
            for pull in gh.get_repo(repo).get_pulls(state="open", head=f"{owner}:{branch}"):
                if pull.head.sha == sha:
                    return int(pull.number)
        except GithubException as exc:
            raise PostError(f"{repo}: listing pull requests failed: {exc.status} {_message(exc)}") from exc
        except requests.exceptions.RequestException as exc:
            raise PostError(f"{repo}: listing pull requests failed: {_network(exc)}") from exc
        raise PostError(f"no open pull request of {owner}:{branch} at {sha}")
    raise PostError("the event is not about a pull request (no pull_request or workflow_run)")


def run_of(event: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """Head commit and page URL of the run a ``workflow_run`` event is about (the PR's test run,
    whose results are posted), from the event, never from the artifact; ``(None, None)`` for
    other events, where the current run's ``$GITHUB_*`` variables describe the right run."""
    run = event.get("workflow_run")
    if not isinstance(run, Mapping):
        return None, None
    sha, url = run.get("head_sha"), run.get("html_url")
    return (sha if isinstance(sha, str) else None), (url if isinstance(url, str) else None)


def load_event(path: Path) -> dict[str, Any]:
    """The JSON event payload at ``path`` ($GITHUB_EVENT_PATH).

    Raises:
        PostError: naming the file when it is missing or not a JSON object.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PostError(f"{path}: cannot read the event: {exc}") from exc
    if not isinstance(data, dict):
        raise PostError(f"{path}: the event is not a JSON object")
    return data
