"""Connections: validation, encrypted tokens, API defaults, and what a repository link resolves to."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import sqlalchemy as sa

from baryon.runtime import Runtime
from baryon.store import connections as store
from baryon.store.schema import connections, repositories
from tests.conftest import ACCOUNT

TOKEN = "ghp_0123456789abcdefTOKEN"


def _create(runtime: Runtime, **overrides: Any) -> store.ConnectionRecord:
    values: dict[str, Any] = {
        "connection_id": runtime.ids.uuid(),
        "account_id": ACCOUNT,
        "region": "us-east-1",
        "name": "gh",
        "provider": "GITHUB",
        "url_template": "https://github.com/{repository}.git",
        "token": TOKEN,
        "mode": "pull-request",
        "api_url": None,
        "now": 1700000000.0,
    }
    values.update(overrides)
    with runtime.database.write() as db:
        return store.create(db, runtime.secrets, **values)


def _link(runtime: Runtime, record: store.ConnectionRecord, name: str) -> None:
    with runtime.database.write() as db:
        db.execute(
            sa.insert(repositories).values(
                account_id=record.account_id,
                region=record.region,
                provider=record.provider,
                name=name,
                connection_arn=record.arn,
                created_at=1.0,
            )
        )


def test_token_is_stored_encrypted_and_resolved_on_demand(runtime: Runtime) -> None:
    record = _create(runtime)
    assert record.has_token
    assert record.api_url == "https://api.github.com"
    with runtime.database.read() as db:
        row = db.execute(sa.select(connections)).one()
    assert TOKEN not in str(tuple(row))
    assert runtime.secrets.decrypt(row.token_ciphertext) == TOKEN
    assert TOKEN not in repr(record) and TOKEN not in str(record.public())
    _link(runtime, record, "org/infra")
    with runtime.database.read() as db:
        resolved = store.resolve(db, runtime.secrets, ACCOUNT, "us-east-1", "GITHUB", "org/infra")
        assert store.resolve(db, runtime.secrets, ACCOUNT, "us-east-1", "GITHUB", "org/other") is None
        assert store.resolve(db, runtime.secrets, ACCOUNT, "eu-west-1", "GITHUB", "org/infra") is None
    assert resolved is not None
    assert resolved.clone_url == "https://github.com/org/infra.git"
    assert resolved.mode == "pull-request"
    assert TOKEN not in repr(resolved)
    assert resolved.token() == TOKEN
    remote = resolved.remote()
    assert remote.url == "https://github.com/org/infra.git"
    basic = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    assert remote.config() == [("http.https://github.com/.extraHeader", f"Authorization: Basic {basic}")]
    assert resolved.pull_requests() is not None


def test_api_url_defaults(runtime: Runtime) -> None:
    cases = [
        ("GITHUB", "file:///srv/git/{repository}.git", None, None),
        ("GITHUB", "git@github.com:{repository}.git", None, "https://api.github.com"),
        ("GITHUB", "https://gitea.local/{repository}.git", None, None),
        (
            "GITHUB_ENTERPRISE",
            "https://ghe.corp.example/{repository}.git",
            None,
            "https://ghe.corp.example/api/v3",
        ),
        ("GITHUB_ENTERPRISE", "ssh://git@ghe.corp.example/{repository}.git", None, None),
        ("BITBUCKET", "https://bitbucket.org/{repository}.git", None, "https://api.bitbucket.org/2.0"),
        (
            "BITBUCKET",
            "ssh://git@bb.local/{repository}.git",
            "http://bb.local/api/2.0",
            "http://bb.local/api/2.0",
        ),
    ]
    for index, (provider, template, given, expected) in enumerate(cases):
        record = _create(runtime, name=f"c{index}", provider=provider, url_template=template, api_url=given)
        assert record.api_url == expected, template
    with runtime.database.read() as db:
        plain = store.list_connections(db)[0]
    assert plain.name == "c0" and plain.api_url is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"url_template": "https://github.com/org.git"},
            "The URL template must contain {repository} exactly once.",
        ),
        (
            {"url_template": "https://{repository}.example/x.git"},
            "{repository} must be in the path of the URL template.",
        ),
        (
            {"url_template": "https://user:pass@github.com/{repository}.git"},
            "The URL template must not carry a password or token; give the token with --token-env.",
        ),
        (
            {"url_template": "ftp://host/{repository}"},
            "The URL template's scheme must be one of https, http, ssh, git, file (or user@host:path).",
        ),
        (
            {"url_template": "/srv/{repository}"},
            "The URL template must be a URL (https://, http://, ssh://, git://, file://) or user@host:path.",
        ),
        ({"api_url": "https://u:p@api.example"}, "The API URL must be an http(s) URL without credentials."),
        ({"account_id": "123"}, "The account id must be 12 digits."),
        ({"region": "moon"}, "'moon' is not a region name (like us-east-1)."),
        (
            {"name": "-x"},
            "A connection name is 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit.",
        ),
        ({"provider": "GITLAB"}, "The provider must be one of GITHUB, GITHUB_ENTERPRISE, BITBUCKET."),
        ({"mode": "merge"}, "The mode must be one of pull-request, direct."),
        ({"token": ""}, "The token is empty."),
    ],
)
def test_bad_input_is_refused(runtime: Runtime, overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(store.ConnectionProblem) as caught:
        _create(runtime, **overrides)
    assert str(caught.value) == message
    with runtime.database.read() as db:
        assert store.list_connections(db) == []


def test_names_are_unique_per_account_and_region(runtime: Runtime) -> None:
    first = _create(runtime)
    with pytest.raises(store.ConnectionProblem) as caught:
        _create(runtime)
    assert (
        str(caught.value)
        == f"A connection named gh already exists in account {ACCOUNT}, region us-east-1: {first.arn}"
    )
    other = _create(runtime, region="eu-west-1", token=None)
    assert not other.has_token
    with runtime.database.read() as db:
        assert [r.arn for r in store.list_connections(db, ACCOUNT, "eu-west-1")] == [other.arn]


def test_delete_refuses_a_connection_in_use(runtime: Runtime) -> None:
    record = _create(runtime)
    _link(runtime, record, "org/infra")
    with runtime.database.write() as db, pytest.raises(store.ConnectionProblem) as caught:
        store.delete(db, record.arn)
    assert "used by the repository link(s) github:org/infra" in str(caught.value)
    with runtime.database.write() as db:
        db.execute(sa.delete(repositories))
        assert store.delete(db, record.arn) == record
        with pytest.raises(store.ConnectionProblem) as caught:
            store.delete(db, record.arn)
    assert str(caught.value) == f"There is no connection {record.arn}."
