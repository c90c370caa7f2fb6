"""A local stand-in for the pull-request APIs of GitHub (REST v3, under `/api/v3`) and Bitbucket Cloud
(2.0, under `/2.0`): a real HTTP server on 127.0.0.1 keeping pull requests in memory.

It implements the endpoints `baryon.git.providers` uses (look up open pull requests from a head to a base,
open, read and close one) and records every request. Tests act for the people on the host with `merge`
and `close`; `fail_with` and `redirect_to` make every answer an error or a redirect.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


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
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def github_api(self) -> str:
        return f"{self.url}/api/v3"

    @property
    def bitbucket_api(self) -> str:
        return f"{self.url}/2.0"

    def pull(self, repo: str, number: int | str) -> dict[str, Any]:
        for pr in self.pulls.get(repo, []):
            if str(pr.get("number", pr.get("id"))) == str(number):
                return pr
        raise KeyError(f"{repo} has no pull request {number}")

    def merge(self, repo: str, number: int | str) -> None:
        pr = self.pull(repo, number)
        if "number" in pr:
            pr.update(state="closed", merged=True)
        else:
            pr["state"] = "MERGED"

    def close(self, repo: str, number: int | str) -> None:
        pr = self.pull(repo, number)
        if "number" in pr:
            pr.update(state="closed", merged=False)
        else:
            pr["state"] = "DECLINED"


def _github(host: Host, request: Request) -> tuple[int, Any]:
    match = re.fullmatch(r"/api/v3/repos/([^/]+)/([^/]+)/pulls(?:/(\d+))?", request.path)
    if not match:
        return 404, {"message": "Not Found"}
    repo = f"{match[1]}/{match[2]}"
    pulls = host.pulls.setdefault(repo, [])
    if request.method == "POST" and not match[3]:
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
            "title": request.body["title"],
            "body": request.body["body"],
        }
        pulls.append(pr)
        return 201, pr
    if match[3]:
        found = [p for p in pulls if p["number"] == int(match[3])]
        if not found:
            return 404, {"message": "Not Found"}
        if request.method == "PATCH":
            if found[0]["merged"]:
                return 422, {"message": "Validation Failed: the pull request is merged"}
            found[0]["state"] = request.body["state"]
        return 200, found[0]
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
    match = re.fullmatch(
        r"/2.0/repositories/([^/]+)/([^/]+)/pullrequests(?:/(\d+)(/decline)?)?", request.path
    )
    if not match:
        return 404, {"type": "error", "error": {"message": "Not found"}}
    repo = f"{match[1]}/{match[2]}"
    pulls = host.pulls.setdefault(repo, [])
    if request.method == "POST" and not match[3]:
        number = len(pulls) + 1
        pr = {
            "id": number,
            "state": "OPEN",
            "title": request.body["title"],
            "description": request.body["description"],
            "links": {"html": {"href": f"https://bitbucket.example/{repo}/pull-requests/{number}"}},
            "source": request.body["source"],
            "destination": request.body["destination"],
        }
        pulls.append(pr)
        return 201, pr
    if match[3]:
        found = [p for p in pulls if p["id"] == int(match[3])]
        if not found:
            return 404, {"type": "error", "error": {"message": "Not found"}}
        if match[4]:
            if request.method != "POST" or found[0]["state"] != "OPEN":
                return 400, {"type": "error", "error": {"message": "The pull request is not open"}}
            found[0]["state"] = "DECLINED"
        return 200, found[0]
    terms = dict(re.findall(r'([a-z.]+) = "([^"]*)"', request.query["q"][0]))
    wanted = [
        p
        for p in pulls
        if p["source"]["branch"]["name"] == terms["source.branch.name"]
        and p["destination"]["branch"]["name"] == terms["destination.branch.name"]
        and p["state"] == terms["state"]
    ]
    return 200, {"values": wanted, "pagelen": 10}


@contextmanager
def serve() -> Iterator[Host]:
    """Run a host on a free port of 127.0.0.1 until the block ends."""
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
            with state.lock:
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
        do_PATCH = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
