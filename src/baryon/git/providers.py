"""Pull requests on git hosts with an API: GitHub, GitHub Enterprise (REST v3) and Bitbucket Cloud (2.0).

Invariants: every request carries the connection's token only in its `Authorization` header, goes to the
connection's API URL and nowhere else (redirects are refused), and fails with a `ProviderError` whose
text holds no secret; opening a pull request first looks for an open one from the same head to the same
base and returns it, so a repeated step never opens a second one; closing one that is already closed or
merged changes nothing; states map onto OPEN, MERGED and CLOSED (closed without merge: declined or
superseded on Bitbucket).
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

State = Literal["OPEN", "MERGED", "CLOSED"]
OPEN: State = "OPEN"
MERGED: State = "MERGED"
CLOSED: State = "CLOSED"
TIMEOUT = 30.0
GITHUB_API = "https://api.github.com"
BITBUCKET_API = "https://api.bitbucket.org/2.0"


class ProviderError(Exception):
    """A provider API call failed. `status` is the HTTP status (None when no answer came)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status == 429 or self.status >= 500


@dataclass(frozen=True)
class PullRequest:
    id: str
    url: str


class PullRequestProvider(Protocol):
    def open_pull_request(self, repo: str, head: str, base: str, title: str, body: str) -> PullRequest: ...

    def pull_request_state(self, repo: str, id: str) -> State: ...

    def close_pull_request(self, repo: str, id: str) -> State:
        """Close an open pull request without merging it; answers the state it ends in."""
        ...


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        raise ProviderError(f"the API answered with a redirect ({code}) to {newurl}", code)


_OPENER = urllib.request.build_opener(_NoRedirect())


@dataclass(frozen=True)
class _Client:
    api_url: str
    authorization: str | None = field(repr=False)
    secrets: tuple[str, ...] = field(repr=False)
    extra_headers: tuple[tuple[str, str], ...] = ()
    timeout: float = TIMEOUT

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "***")
        return text

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        url = self.api_url.rstrip("/") + path
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        request.add_header("User-Agent", "baryon")
        for name, value in self.extra_headers:
            request.add_header(name, value)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.authorization:
            request.add_header("Authorization", self.authorization)
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            detail = _error_detail(error.read())
            raise ProviderError(
                self.scrub(f"{method} {url} answered {error.code}: {detail}"), error.code
            ) from None
        except ProviderError:
            raise
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ProviderError(self.scrub(f"{method} {url} failed: {reason}")) from None
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            raise ProviderError(f"{method} {url} answered with something other than JSON") from None


def _error_detail(raw: bytes) -> str:
    try:
        document = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")[:200] or "(no body)"
    if isinstance(document, dict):
        message = document.get("message") or (document.get("error") or {}).get("message")
        if message:
            return str(message)[:500]
    return json.dumps(document)[:500]


def _split(repo: str) -> tuple[str, str]:
    owner, sep, name = repo.partition("/")
    if not sep or not owner or not name:
        raise ProviderError(f"a repository is named owner/name, not {repo!r}")
    return urllib.parse.quote(owner, safe=""), urllib.parse.quote(name, safe="")


class _Host:
    """What the hosts share: closing a pull request only while it is open."""

    def pull_request_state(self, repo: str, id: str) -> State:
        raise NotImplementedError

    def _close(self, repo: str, id: str) -> None:
        """Closes (declines) an open pull request on the host."""
        raise NotImplementedError

    def close_pull_request(self, repo: str, id: str) -> State:
        state = self.pull_request_state(repo, id)
        if state != OPEN:
            return state
        self._close(repo, id)
        return CLOSED


class GitHub(_Host):
    """GitHub and GitHub Enterprise Server (REST v3)."""

    def __init__(self, api_url: str, token: str | None, timeout: float = TIMEOUT) -> None:
        self._client = _Client(
            api_url,
            f"Bearer {token}" if token else None,
            (token,) if token else (),
            (("Accept", "application/vnd.github+json"), ("X-GitHub-Api-Version", "2022-11-28")),
            timeout,
        )

    def open_pull_request(self, repo: str, head: str, base: str, title: str, body: str) -> PullRequest:
        owner, name = _split(repo)
        query = urllib.parse.urlencode({"head": f"{urllib.parse.unquote(owner)}:{head}", "base": base})
        existing = self._client.call("GET", f"/repos/{owner}/{name}/pulls?state=open&{query}")
        if isinstance(existing, list) and existing:
            return _github_pr(existing[0])
        created = self._client.call(
            "POST",
            f"/repos/{owner}/{name}/pulls",
            {"title": title, "head": head, "base": base, "body": body},
        )
        return _github_pr(created)

    def pull_request_state(self, repo: str, id: str) -> State:
        owner, name = _split(repo)
        document = self._client.call("GET", f"/repos/{owner}/{name}/pulls/{urllib.parse.quote(id)}")
        if not isinstance(document, dict):
            raise ProviderError("the pull request answer is not an object")
        if document.get("merged") or document.get("merged_at"):
            return MERGED
        return OPEN if document.get("state") == "open" else CLOSED

    def _close(self, repo: str, id: str) -> None:
        owner, name = _split(repo)
        self._client.call(
            "PATCH", f"/repos/{owner}/{name}/pulls/{urllib.parse.quote(id)}", {"state": "closed"}
        )


def _github_pr(document: Any) -> PullRequest:
    if not isinstance(document, dict) or "number" not in document:
        raise ProviderError("the pull request answer has no number")
    return PullRequest(str(document["number"]), str(document.get("html_url", "")))


class Bitbucket(_Host):
    """Bitbucket Cloud (API 2.0). A token of the form `user:app-password` authenticates with Basic auth,
    any other token (repository, project or workspace access token) as a Bearer token."""

    def __init__(self, api_url: str, token: str | None, timeout: float = TIMEOUT) -> None:
        if token and ":" in token:
            basic = base64.b64encode(token.encode()).decode()
            authorization: str | None = f"Basic {basic}"
            secrets: tuple[str, ...] = (token, basic, token.split(":", 1)[1])
        else:
            authorization = f"Bearer {token}" if token else None
            secrets = (token,) if token else ()
        self._client = _Client(api_url, authorization, secrets, (), timeout)

    def open_pull_request(self, repo: str, head: str, base: str, title: str, body: str) -> PullRequest:
        workspace, slug = _split(repo)
        path = f"/repositories/{workspace}/{slug}/pullrequests"
        wanted = (
            f'source.branch.name = "{_bb_quote(head)}" AND destination.branch.name = "{_bb_quote(base)}" '
            'AND state = "OPEN"'
        )
        existing = self._client.call("GET", f"{path}?{urllib.parse.urlencode({'q': wanted})}")
        values = existing.get("values") if isinstance(existing, dict) else None
        if values:
            return _bitbucket_pr(values[0])
        created = self._client.call(
            "POST",
            path,
            {
                "title": title,
                "description": body,
                "source": {"branch": {"name": head}},
                "destination": {"branch": {"name": base}},
            },
        )
        return _bitbucket_pr(created)

    def pull_request_state(self, repo: str, id: str) -> State:
        workspace, slug = _split(repo)
        document = self._client.call(
            "GET", f"/repositories/{workspace}/{slug}/pullrequests/{urllib.parse.quote(id)}"
        )
        state = document.get("state") if isinstance(document, dict) else None
        if state == "OPEN":
            return OPEN
        if state == "MERGED":
            return MERGED
        if state in ("DECLINED", "SUPERSEDED"):
            return CLOSED
        raise ProviderError(f"unknown pull request state {state!r}")

    def _close(self, repo: str, id: str) -> None:
        workspace, slug = _split(repo)
        self._client.call(
            "POST", f"/repositories/{workspace}/{slug}/pullrequests/{urllib.parse.quote(id)}/decline"
        )


def _bb_quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _bitbucket_pr(document: Any) -> PullRequest:
    if not isinstance(document, dict) or "id" not in document:
        raise ProviderError("the pull request answer has no id")
    url = ((document.get("links") or {}).get("html") or {}).get("href", "")
    return PullRequest(str(document["id"]), str(url))


def provider_for(provider: str, api_url: str | None, token: str | None) -> PullRequestProvider | None:
    """The pull-request API of a connection, or None for a plain git remote (push only)."""
    if not api_url:
        return None
    if provider in ("GITHUB", "GITHUB_ENTERPRISE"):
        return GitHub(api_url, token)
    if provider == "BITBUCKET":
        return Bitbucket(api_url, token)
    raise ValueError(f"unknown repository provider {provider}")


def default_api_url(provider: str, url_template: str) -> str | None:
    """The API of a connection whose URL template names a well-known host; None for other remotes."""
    parts = urllib.parse.urlsplit(url_template)
    if "://" in url_template:
        host = (parts.hostname or "").lower()
    else:  # user@host:path
        host = url_template.split("@", 1)[-1].split(":", 1)[0].lower()
    if provider == "GITHUB" and host == "github.com":
        return GITHUB_API
    if provider == "BITBUCKET" and host == "bitbucket.org":
        return BITBUCKET_API
    if provider == "GITHUB_ENTERPRISE" and parts.scheme == "https" and host and host != "github.com":
        return f"https://{parts.netloc.rsplit('@', 1)[-1]}/api/v3"
    return None
