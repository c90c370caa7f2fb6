"""Pull-request providers against a local HTTP server that implements the provider endpoints they use."""

from __future__ import annotations

import base64
from collections.abc import Iterator

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
from tests.support.pull_requests import Host, serve

TOKEN = "ghp_ProviderT0ken"


@pytest.fixture
def host() -> Iterator[Host]:
    with serve() as state:
        yield state


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


def test_closing_pull_requests(host: Host) -> None:
    github = GitHub(host.github_api, TOKEN)
    pr = github.open_pull_request("org/infra", "proton--env-1", "main", "t", "b")
    assert github.close_pull_request("org/infra", pr.id) == CLOSED
    patch = host.requests[-1]
    assert (patch.method, patch.path, patch.body) == (
        "PATCH",
        "/api/v3/repos/org/infra/pulls/1",
        {"state": "closed"},
    )
    assert patch.authorization == f"Bearer {TOKEN}"
    assert github.pull_request_state("org/infra", pr.id) == CLOSED
    count = len(host.requests)
    assert github.close_pull_request("org/infra", pr.id) == CLOSED
    assert [r.method for r in host.requests[count:]] == ["GET"]
    merged = github.open_pull_request("org/infra", "proton--env-2", "main", "t", "b")
    host.merge("org/infra", merged.id)
    assert github.close_pull_request("org/infra", merged.id) == MERGED
    assert host.pull("org/infra", merged.id)["merged"] is True

    bitbucket = Bitbucket(host.bitbucket_api, "bb_access_token")
    pr = bitbucket.open_pull_request("ws/infra", "proton--env-1", "main", "t", "b")
    assert bitbucket.close_pull_request("ws/infra", pr.id) == CLOSED
    decline = host.requests[-1]
    assert (decline.method, decline.path) == ("POST", "/2.0/repositories/ws/infra/pullrequests/1/decline")
    assert bitbucket.pull_request_state("ws/infra", pr.id) == CLOSED
    assert bitbucket.close_pull_request("ws/infra", pr.id) == CLOSED
    assert host.requests[-1].method == "GET"
