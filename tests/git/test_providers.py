"""Pull-request providers against a local HTTP server that implements the provider endpoints they use."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from baryon.git.providers import (
    CLOSED,
    MERGED,
    OPEN,
    Bitbucket,
    GitHub,
    ProviderError,
    provider_for,
)

TOKEN = "ghp_ProviderT0ken"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str | None
    body: Any


@dataclass
class Host:
    """In-memory pull requests of one fake host, and every request it received."""

    url: str = ""
    requests: list[Request] = field(default_factory=list)
    pulls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    fail_with: tuple[int, dict[str, Any]] | None = None
    redirect_to: str | None = None


def _github(host: Host, request: Request) -> tuple[int, Any]:
    match = re.fullmatch(r"/api/v3/repos/([^/]+)/([^/]+)/pulls(?:/(\d+))?", request.path)
    if not match:
        return 404, {"message": "Not Found"}
    repo = f"{match[1]}/{match[2]}"
    pulls = host.pulls.setdefault(repo, [])
    if request.method == "POST":
        if any(p["head"] == request.body["head"] and p["state"] == "open" for p in pulls):
            return 422, {"message": "Validation Failed: A pull request already exists"}
        number = len(pulls) + 1
        pr = {
            "number": number,
            "html_url": f"https://github.example/{repo}/pull/{number}",
            "state": "open",
            "merged": False,
            "head": request.body["head"],
            "base": request.body["base"],
        }
        pulls.append(pr)
        return 201, pr
    if match[3]:
        found = [p for p in pulls if p["number"] == int(match[3])]
        return (200, found[0]) if found else (404, {"message": "Not Found"})
    owner, _, head = request.query["head"][0].partition(":")
    wanted = [
        p
        for p in pulls
        if owner == match[1]
        and p["head"] == head
        and p["base"] == request.query["base"][0]
        and p["state"] == request.query["state"][0]
    ]
    return 200, wanted


def _bitbucket(host: Host, request: Request) -> tuple[int, Any]:
    match = re.fullmatch(r"/2.0/repositories/([^/]+)/([^/]+)/pullrequests(?:/(\d+))?", request.path)
    if not match:
        return 404, {"type": "error", "error": {"message": "Not found"}}
    repo = f"{match[1]}/{match[2]}"
    pulls = host.pulls.setdefault(repo, [])
    if request.method == "POST":
        number = len(pulls) + 1
        pr = {
            "id": number,
            "state": "OPEN",
            "links": {"html": {"href": f"https://bitbucket.example/{repo}/pull-requests/{number}"}},
            "source": request.body["source"],
            "destination": request.body["destination"],
        }
        pulls.append(pr)
        return 201, pr
    if match[3]:
        found = [p for p in pulls if p["id"] == int(match[3])]
        return (200, found[0]) if found else (404, {"type": "error", "error": {"message": "Not found"}})
    terms = dict(re.findall(r'([a-z.]+) = "([^"]*)"', request.query["q"][0]))
    wanted = [
        p
        for p in pulls
        if p["source"]["branch"]["name"] == terms["source.branch.name"]
        and p["destination"]["branch"]["name"] == terms["destination.branch.name"]
        and p["state"] == terms["state"]
    ]
    return 200, {"values": wanted, "pagelen": 10}


@pytest.fixture
def host() -> Iterator[Host]:
    state = Host()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            request = Request(
                self.command,
                parts.path,
                parse_qs(parts.query),
                self.headers.get("Authorization"),
                json.loads(raw) if raw else None,
            )
            state.requests.append(request)
            if state.redirect_to:
                self.send_response(302)
                self.send_header("Location", state.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if state.fail_with:
                status, document = state.fail_with
            elif parts.path.startswith("/api/v3/"):
                status, document = _github(state, request)
            else:
                status, document = _bitbucket(state, request)
            payload = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _handle
        do_POST = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def test_github_opens_once_and_reports_states(host: Host) -> None:
    github = GitHub(f"{host.url}/api/v3", TOKEN)
    pr = github.open_pull_request("org/infra", "proton--env-1", "main", "Update environment/dev", "body text")
    assert (pr.id, pr.url) == ("1", "https://github.example/org/infra/pull/1")
    lookup, create = host.requests
    assert (lookup.method, lookup.path) == ("GET", "/api/v3/repos/org/infra/pulls")
    assert lookup.query == {"state": ["open"], "head": ["org:proton--env-1"], "base": ["main"]}
    assert (create.method, create.path) == ("POST", "/api/v3/repos/org/infra/pulls")
    assert create.authorization == f"Bearer {TOKEN}"
    assert create.body == {
        "title": "Update environment/dev",
        "head": "proton--env-1",
        "base": "main",
        "body": "body text",
    }

    again = github.open_pull_request(
        "org/infra", "proton--env-1", "main", "Update environment/dev", "body text"
    )
    assert again == pr
    assert [r.method for r in host.requests] == ["GET", "POST", "GET"]

    assert github.pull_request_state("org/infra", pr.id) == OPEN
    assert host.requests[-1].path == "/api/v3/repos/org/infra/pulls/1"
    host.pulls["org/infra"][0].update(state="closed", merged=True)
    assert github.pull_request_state("org/infra", pr.id) == MERGED
    host.pulls["org/infra"][0].update(state="closed", merged=False)
    assert github.pull_request_state("org/infra", pr.id) == CLOSED
    assert {r.authorization for r in host.requests} == {f"Bearer {TOKEN}"}


def test_bitbucket_opens_once_and_reports_states(host: Host) -> None:
    bitbucket = Bitbucket(f"{host.url}/2.0", "bb_access_token")
    pr = bitbucket.open_pull_request("ws/infra", "proton--env-1", "main", "Update environment/dev", "body")
    assert (pr.id, pr.url) == ("1", "https://bitbucket.example/ws/infra/pull-requests/1")
    lookup, create = host.requests
    assert (lookup.method, lookup.path) == ("GET", "/2.0/repositories/ws/infra/pullrequests")
    assert lookup.query["q"] == [
        'source.branch.name = "proton--env-1" AND destination.branch.name = "main" AND state = "OPEN"'
    ]
    assert (create.method, create.path, create.authorization) == (
        "POST",
        "/2.0/repositories/ws/infra/pullrequests",
        "Bearer bb_access_token",
    )
    assert create.body == {
        "title": "Update environment/dev",
        "description": "body",
        "source": {"branch": {"name": "proton--env-1"}},
        "destination": {"branch": {"name": "main"}},
    }
    assert bitbucket.open_pull_request("ws/infra", "proton--env-1", "main", "t", "b") == pr
    assert len(host.requests) == 3
    for state, expected in (("OPEN", OPEN), ("MERGED", MERGED), ("DECLINED", CLOSED), ("SUPERSEDED", CLOSED)):
        host.pulls["ws/infra"][0]["state"] = state
        assert bitbucket.pull_request_state("ws/infra", pr.id) == expected
    assert host.requests[-1].path == "/2.0/repositories/ws/infra/pullrequests/1"

    app_password = Bitbucket(f"{host.url}/2.0", "someone:app-pass")
    app_password.pull_request_state("ws/infra", "1")
    assert host.requests[-1].authorization == "Basic " + base64.b64encode(b"someone:app-pass").decode()


def test_errors_carry_status_and_no_secret(host: Host) -> None:
    github = GitHub(f"{host.url}/api/v3", TOKEN)
    host.fail_with = (401, {"message": f"Bad credentials for Bearer {TOKEN}"})
    with pytest.raises(ProviderError) as caught:
        github.pull_request_state("org/infra", "1")
    assert caught.value.status == 401 and not caught.value.retryable
    assert caught.value.message == (
        f"GET {host.url}/api/v3/repos/org/infra/pulls/1 answered 401: Bad credentials for Bearer ***"
    )
    host.fail_with = (503, {"message": "try later"})
    with pytest.raises(ProviderError) as caught:
        github.open_pull_request("org/infra", "h", "main", "t", "b")
    assert caught.value.status == 503 and caught.value.retryable
    host.fail_with = None
    host.redirect_to = "http://elsewhere.example/steal"
    with pytest.raises(ProviderError) as caught:
        github.pull_request_state("org/infra", "1")
    assert caught.value.message == "the API answered with a redirect (302) to http://elsewhere.example/steal"
    with pytest.raises(ProviderError) as caught:
        GitHub("http://127.0.0.1:9", TOKEN).pull_request_state("org/infra", "1")
    assert caught.value.status is None and caught.value.retryable and TOKEN not in caught.value.message


def test_plain_remotes_have_no_provider() -> None:
    assert provider_for("GITHUB", None, TOKEN) is None
    assert isinstance(provider_for("GITHUB_ENTERPRISE", "https://ghe.example/api/v3", TOKEN), GitHub)
    assert isinstance(provider_for("BITBUCKET", "https://api.bitbucket.org/2.0", None), Bitbucket)
