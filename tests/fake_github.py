"""A fake GitHub for the comment-posting tests: a real HTTP server on localhost
(pytest-httpserver) speaking the REST endpoints PyGithub calls, with users by token and faults
injected per request; and the ``gh_server`` and ``waits`` fixtures (registered for every test
module by conftest.py's ``pytest_plugins``)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from checker.report.github import WriteSafeRetry
from checker.report.summary import COMMENT_CHAR_LIMIT, marker

REPO = "octo/kernels"
PR = 7
MARK = marker("kcheck")
TOKENS = {"tok-bot": "kcheck-bot", "tok-other": "mallory"}
ACTIONS_TOKEN = "tok-actions"  # like GITHUB_TOKEN: GET /user is forbidden


class FakeGitHub:
    """Issue comments of one PR, users by token, pulls, and faults injected per request."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.comments: list[dict[str, Any]] = []
        self.pulls: list[dict[str, Any]] = []
        self.log: list[str] = []
        self.next_id = 100
        # (method, hook): a hook gets the request and the would-be response and returns the one
        # sent, once each, in order.
        self.faults: list[tuple[str, Callable[[Request, Response], Response]]] = []
        base = f"/repos/{REPO}"
        server.expect_request("/user", method="GET").respond_with_handler(self._wrap(self.get_user))
        comments = re.compile(rf"^{base}/issues/(\d+)/comments$")
        server.expect_request(comments, method="GET").respond_with_handler(self._wrap(self.list_comments))
        server.expect_request(comments, method="POST").respond_with_handler(self._wrap(self.create))
        one = re.compile(rf"^{base}/issues/comments/(\d+)$")
        server.expect_request(one, method="PATCH").respond_with_handler(self._wrap(self.edit))
        server.expect_request(f"{base}/pulls", method="GET").respond_with_handler(self._wrap(self.list_pulls))

    def url(self, path: str) -> str:
        return self.server.url_for(path).rstrip("/")

    def _wrap(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def serve(request: Request) -> Response:
            self.log.append(f"{request.method} {request.path}")
            login = self._login(request)
            if login is None:
                return json_response({"message": "Bad credentials"}, 401)
            response = handler(request)
            for i, (method, hook) in enumerate(self.faults):
                if method == request.method:
                    del self.faults[i]
                    return hook(request, response)
            return response

        return serve

    def _login(self, request: Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        token = auth.split(" ", 1)[1] if " " in auth else ""
        return "github-actions[bot]" if token == ACTIONS_TOKEN else TOKENS.get(token)

    def get_user(self, request: Request) -> Response:
        login = self._login(request)
        if login == "github-actions[bot]":
            return json_response({"message": "Resource not accessible by integration"}, 403)
        return json_response({"login": login, "id": 1, "type": "User"})

    def _comment_json(self, c: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": c["id"],
            "body": c["body"],
            "user": {"login": c["login"], "id": 2, "type": "Bot" if "[bot]" in c["login"] else "User"},
            "url": self.url(f"/repos/{REPO}/issues/comments/{c['id']}"),
            "html_url": f"https://github.com/{REPO}/pull/{PR}#issuecomment-{c['id']}",
            "created_at": "2026-11-21T00:00:00Z",
            "updated_at": "2026-11-21T00:00:00Z",
        }

    def list_comments(self, request: Request) -> Response:
        per_page = int(request.args.get("per_page", 30))
        page = int(request.args.get("page", 1))
        items = self.comments[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(self.comments):
            nxt = self.url(request.path) + f"?per_page={per_page}&page={page + 1}"
            headers["Link"] = f'<{nxt}>; rel="next"'
        return json_response([self._comment_json(c) for c in items], headers=headers)

    def create(self, request: Request) -> Response:
        body = request.get_json()["body"]
        if len(body) > COMMENT_CHAR_LIMIT:
            return json_response({"message": "Validation Failed", "errors": ["body is too long"]}, 422)
        comment = {"id": self.next_id, "body": body, "login": self._login(request)}
        self.next_id += 1
        self.comments.append(comment)
        return json_response(self._comment_json(comment), 201)

    def edit(self, request: Request) -> Response:
        cid = int(request.path.rsplit("/", 1)[1])
        body = request.get_json()["body"]
        if len(body) > COMMENT_CHAR_LIMIT:
            return json_response({"message": "Validation Failed"}, 422)
        for c in self.comments:
            if c["id"] == cid:
                if c["login"] != self._login(request):
                    return json_response({"message": "Forbidden"}, 403)
                c["body"] = body
                return json_response(self._comment_json(c))
        return json_response({"message": "Not Found"}, 404)

    def list_pulls(self, request: Request) -> Response:
        head = request.args.get("head")
        items = [p for p in self.pulls if head is None or p["head_label"] == head]
        return json_response(
            [
                {
                    "number": p["number"],
                    "state": "open",
                    "url": self.url(f"/repos/{REPO}/pulls/{p['number']}"),
                    "head": {"sha": p["sha"], "label": p["head_label"], "ref": p["head_label"].split(":")[1]},
                }
                for p in items
            ]
        )


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """``data`` as a JSON response with HTTP ``status`` and extra ``headers``, as GitHub answers."""
    return Response(json.dumps(data), status=status, headers=headers or {}, content_type="application/json")


@pytest.fixture
def gh_server(httpserver: HTTPServer) -> Iterator[FakeGitHub]:
    yield FakeGitHub(httpserver)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The seconds each retry would have slept; nothing actually sleeps."""
    slept: list[float] = []
    monkeypatch.setattr(WriteSafeRetry, "sleep_fn", staticmethod(slept.append))
    return slept
