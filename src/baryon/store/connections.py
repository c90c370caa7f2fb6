"""Baryon's connections to git hosts (standing in for CodeStar connections) and what repositories resolve to.

Invariants: a connection belongs to one account and region and is named uniquely there; its ARN has the
CodeStar form `arn:aws:codestar-connections:{region}:{account}:connection/{uuid}`; its URL template holds
`{repository}` exactly once and never a password; its token is stored only encrypted with the deployment
key and is decrypted only when a caller asks for it; a connection used by a repository link cannot be
deleted; a repository `owner/name` resolves to the template with `{repository}` replaced by that name.
A connection may hold a webhook secret (what a git host signs push webhooks with), stored encrypted like
the token and decrypted only to check a signature; it is set, replaced or removed with `set_webhook_secret`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from baryon.domain import arns
from baryon.git.command import Remote
from baryon.git.providers import PullRequestProvider, default_api_url, provider_for
from baryon.store.schema import connection_webhook_secrets, connections, repositories
from baryon.store.secrets import Secrets

C = connections.c
R = repositories.c
W = connection_webhook_secrets.c
#: Shortest webhook secret accepted (GitHub suggests a long random string).
WEBHOOK_SECRET_MIN = 16
_CONNECTION_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
PROVIDERS = arns.REPOSITORY_PROVIDERS
PULL_REQUEST = "pull-request"
DIRECT = "direct"
MODES = (PULL_REQUEST, DIRECT)
PLACEHOLDER = "{repository}"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_SCHEMES = ("https", "http", "ssh", "git", "file")
_SCP = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:")
#: Basic-auth user that git hosts accept with an access token that has no user of its own.
TOKEN_USERS = {"GITHUB": "x-access-token", "GITHUB_ENTERPRISE": "x-access-token", "BITBUCKET": "x-token-auth"}


class ConnectionProblem(ValueError):
    """Bad input for a connection, or an operation its state does not allow; the message says which."""


@dataclass(frozen=True)
class ConnectionRecord:
    arn: str
    account_id: str
    region: str
    name: str
    provider: str
    url_template: str
    api_url: str | None
    mode: str
    has_token: bool
    created_at: float

    def public(self) -> dict[str, Any]:
        """The non-secret fields, as the CLI shows them."""
        return {
            "connectionArn": self.arn,
            "accountId": self.account_id,
            "region": self.region,
            "name": self.name,
            "provider": self.provider,
            "urlTemplate": self.url_template,
            "apiUrl": self.api_url,
            "mode": self.mode,
            "hasToken": self.has_token,
            "createdAt": self.created_at,
        }


@dataclass(frozen=True)
class ResolvedRepository:
    """Where a repository link points: its clone URL (no credentials), API and mode; the token on demand."""

    provider: str
    name: str
    connection_arn: str
    clone_url: str
    api_url: str | None
    mode: str
    _ciphertext: str | None = field(repr=False)
    _secrets: Secrets = field(repr=False)

    def token(self) -> str | None:
        return self._secrets.decrypt(self._ciphertext) if self._ciphertext else None

    def remote(self) -> Remote:
        """The git remote, with the token for http(s) URLs."""
        return Remote(self.clone_url, self.token(), TOKEN_USERS[self.provider])

    def pull_requests(self) -> PullRequestProvider | None:
        """The provider's pull-request API, or None for a plain git remote (push only)."""
        return provider_for(self.provider, self.api_url, self.token())


def _record(row: Any) -> ConnectionRecord:
    return ConnectionRecord(
        row.arn,
        row.account_id,
        row.region,
        row.name,
        row.provider,
        row.url_template,
        row.api_url,
        row.mode,
        row.token_ciphertext is not None,
        row.created_at,
    )


def check_url_template(template: str) -> None:
    if template.count(PLACEHOLDER) != 1:
        raise ConnectionProblem(f"The URL template must contain {PLACEHOLDER} exactly once.")
    if any(ch.isspace() for ch in template):
        raise ConnectionProblem("The URL template must not contain white space.")
    if "://" in template:
        parts = urlsplit(template.replace(PLACEHOLDER, "owner/name"))
        if parts.scheme not in _SCHEMES:
            raise ConnectionProblem(
                f"The URL template's scheme must be one of {', '.join(_SCHEMES)} (or user@host:path)."
            )
        if parts.password is not None:
            raise ConnectionProblem(
                "The URL template must not carry a password or token; give the token with --token-env."
            )
        if PLACEHOLDER in template.split("://", 1)[1].split("/", 1)[0]:
            raise ConnectionProblem(f"{PLACEHOLDER} must be in the path of the URL template.")
    elif not _SCP.match(template):
        raise ConnectionProblem(
            f"The URL template must be a URL ({', '.join(s + '://' for s in _SCHEMES)}) or user@host:path."
        )


def check_api_url(api_url: str) -> None:
    parts = urlsplit(api_url)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.password or parts.username:
        raise ConnectionProblem("The API URL must be an http(s) URL without credentials.")


def create(
    connection: Connection,
    secrets: Secrets,
    *,
    connection_id: str,
    account_id: str,
    region: str,
    name: str,
    provider: str,
    url_template: str,
    token: str | None,
    mode: str,
    api_url: str | None,
    now: float,
    webhook_secret: str | None = None,
) -> ConnectionRecord:
    if not (len(account_id) == 12 and account_id.isdigit()):
        raise ConnectionProblem("The account id must be 12 digits.")
    if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
        raise ConnectionProblem(f"{region!r} is not a region name (like us-east-1).")
    if not _NAME.match(name):
        raise ConnectionProblem(
            "A connection name is 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit."
        )
    if provider not in PROVIDERS:
        raise ConnectionProblem(f"The provider must be one of {', '.join(PROVIDERS)}.")
    if mode not in MODES:
        raise ConnectionProblem(f"The mode must be one of {', '.join(MODES)}.")
    check_url_template(url_template)
    if api_url is not None:
        check_api_url(api_url)
    if token is not None and not token:
        raise ConnectionProblem("The token is empty.")
    if webhook_secret is not None:
        _check_webhook_secret(webhook_secret)
    taken = connection.execute(
        sa.select(C.arn).where(C.account_id == account_id, C.region == region, C.name == name)
    ).first()
    if taken is not None:
        raise ConnectionProblem(
            f"A connection named {name} already exists in account {account_id}, region {region}: {taken.arn}"
        )
    arn = arns.connection_arn(region, account_id, connection_id)
    connection.execute(
        sa.insert(connections).values(
            arn=arn,
            account_id=account_id,
            region=region,
            name=name,
            provider=provider,
            url_template=url_template,
            api_url=api_url if api_url is not None else default_api_url(provider, url_template),
            token_ciphertext=secrets.encrypt(token) if token else None,
            mode=mode,
            created_at=now,
        )
    )
    if webhook_secret is not None:
        set_webhook_secret(connection, secrets, arn, webhook_secret, now)
    record = get(connection, arn)
    assert record is not None
    return record


def get(connection: Connection, arn: str) -> ConnectionRecord | None:
    row = connection.execute(sa.select(connections).where(C.arn == arn)).first()
    return _record(row) if row is not None else None


def list_connections(
    connection: Connection, account_id: str | None = None, region: str | None = None
) -> list[ConnectionRecord]:
    query = sa.select(connections)
    if account_id is not None:
        query = query.where(C.account_id == account_id)
    if region is not None:
        query = query.where(C.region == region)
    rows = connection.execute(query.order_by(C.account_id, C.region, C.name)).all()
    return [_record(row) for row in rows]


def delete(connection: Connection, arn: str) -> ConnectionRecord:
    """Remove a connection that no repository link uses."""
    record = get(connection, arn)
    if record is None:
        raise ConnectionProblem(f"There is no connection {arn}.")
    users = connection.execute(
        sa.select(R.provider, R.name).where(R.connection_arn == arn).order_by(R.provider, R.name)
    ).all()
    if users:
        names = ", ".join(f"{row.provider.lower()}:{row.name}" for row in users[:5])
        more = f" and {len(users) - 5} more" if len(users) > 5 else ""
        raise ConnectionProblem(
            f"The connection {arn} is used by the repository link(s) {names}{more}; delete them first."
        )
    connection.execute(sa.delete(connection_webhook_secrets).where(W.connection_arn == arn))
    connection.execute(sa.delete(connections).where(C.arn == arn))
    return record


def clone_url(url_template: str, repository_name: str) -> str:
    return url_template.replace(PLACEHOLDER, repository_name)


def resolve(
    connection: Connection, secrets: Secrets, account_id: str, region: str, provider: str, name: str
) -> ResolvedRepository | None:
    """What the repository link (account, region, provider, name) points at, or None without such a link."""
    row = connection.execute(
        sa.select(R.provider, R.name, C.arn, C.url_template, C.api_url, C.mode, C.token_ciphertext)
        .join(connections, C.arn == R.connection_arn)
        .where(R.account_id == account_id, R.region == region, R.provider == provider, R.name == name)
    ).first()
    if row is None:
        return None
    return ResolvedRepository(
        provider=row.provider,
        name=row.name,
        connection_arn=row.arn,
        clone_url=clone_url(row.url_template, row.name),
        api_url=row.api_url,
        mode=row.mode,
        _ciphertext=row.token_ciphertext,
        _secrets=secrets,
    )


def _check_webhook_secret(secret: str) -> None:
    if len(secret) < WEBHOOK_SECRET_MIN:
        raise ConnectionProblem(f"The webhook secret must be at least {WEBHOOK_SECRET_MIN} characters long.")


def connection_id(arn: str) -> str:
    """The id of a connection (the last part of its ARN): what its webhook URL names."""
    return arn.rsplit("/", 1)[-1]


def set_webhook_secret(
    connection: Connection, secrets: Secrets, arn: str, secret: str | None, now: float
) -> None:
    """Set or replace (None: remove) the webhook secret of connection `arn`."""
    if get(connection, arn) is None:
        raise ConnectionProblem(f"There is no connection {arn}.")
    connection.execute(sa.delete(connection_webhook_secrets).where(W.connection_arn == arn))
    if secret is None:
        return
    _check_webhook_secret(secret)
    connection.execute(
        sa.insert(connection_webhook_secrets).values(
            connection_arn=arn, secret_ciphertext=secrets.encrypt(secret), updated_at=now
        )
    )


def by_id(connection: Connection, connection_id_: str) -> ConnectionRecord | None:
    """The connection whose ARN ends with `connection_id_` (a UUID), or None."""
    if not _CONNECTION_ID.match(connection_id_):
        return None
    row = connection.execute(
        sa.select(connections).where(
            C.arn.like(f"arn:aws:codestar-connections:%:connection/{connection_id_}")
        )
    ).first()
    return _record(row) if row is not None else None


def webhook_secret(connection: Connection, secrets: Secrets, arn: str) -> str | None:
    """The decrypted webhook secret of connection `arn`, or None when it has none."""
    row = connection.execute(sa.select(W.secret_ciphertext).where(W.connection_arn == arn)).first()
    return None if row is None else secrets.decrypt(row.secret_ciphertext)


def has_webhook_secret(connection: Connection, arn: str) -> bool:
    return connection.execute(sa.select(W.connection_arn).where(W.connection_arn == arn)).first() is not None
