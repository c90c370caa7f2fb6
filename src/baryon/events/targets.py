"""Webhook targets (per account) and the deliveries made to them, as the `baryon webhooks` commands
manage and show them.

Invariants: a target's URL is http or https with a host; a URL whose host is a link-local address
(169.254.0.0/16, such as the cloud metadata address 169.254.169.254, or fe80::/10) is refused unless the
operator allows it for that target (`allow_link_local`), and the delivery checks the addresses the host
resolves to again at each attempt; the secret is stored only encrypted with the deployment secret and
never shown; deleting a target deletes its deliveries (and so stops their retries).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from baryon.store.schema import event_deliveries, event_targets, events
from baryon.store.secrets import Secrets

T, D, E = event_targets.c, event_deliveries.c, events.c
#: Shortest secret accepted.
MIN_SECRET_LENGTH = 16


class TargetProblem(ValueError):
    """A target that cannot be created as asked (the message says why and what to do)."""


@dataclass(frozen=True)
class Target:
    id: str
    account_id: str
    url: str
    signed: bool
    allow_link_local: bool
    created_at: float

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "accountId": self.account_id,
            "url": self.url,
            "signed": self.signed,
            "allowLinkLocal": self.allow_link_local,
            "createdAt": self.created_at,
        }


def _target(row: Any) -> Target:
    return Target(
        id=row.id,
        account_id=row.account_id,
        url=row.url,
        signed=row.secret_ciphertext is not None,
        allow_link_local=bool(row.allow_link_local),
        created_at=float(row.created_at),
    )


def link_local(host: str) -> bool:
    """Whether `host` (an address literal) is link-local; False for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_link_local
    except ValueError:
        return False


def resolves_to_link_local(host: str, port: int | None) -> bool:
    """Whether `host` is, or resolves to, a link-local address (a name that does not resolve: False,
    the attempt then fails on its own)."""
    if link_local(host):
        return True
    try:
        found = socket.getaddrinfo(host, port or 80, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    return any(link_local(str(address[4][0]).split("%")[0]) for address in found)


def check_url(url: str, allow_link_local: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetProblem(f"the URL must be http:// or https:// with a host, not {url!r}")
    if link_local(parts.hostname) and not allow_link_local:
        raise TargetProblem(
            f"{parts.hostname} is a link-local address (such as the cloud metadata service); "
            "give --allow-link-local if this target really is meant"
        )


def create(
    connection: Connection,
    secrets: Secrets,
    *,
    target_id: str,
    account_id: str,
    url: str,
    secret: str | None,
    now: float,
    allow_link_local: bool = False,
) -> Target:
    if not (len(account_id) == 12 and account_id.isdigit()):
        raise TargetProblem(f"the account id must be 12 digits, not {account_id!r}")
    check_url(url, allow_link_local)
    if secret is not None and len(secret) < MIN_SECRET_LENGTH:
        raise TargetProblem(f"the secret must be at least {MIN_SECRET_LENGTH} characters long")
    values = {
        "id": target_id,
        "account_id": account_id,
        "url": url,
        "secret_ciphertext": secrets.encrypt(secret) if secret is not None else None,
        "allow_link_local": allow_link_local,
        "created_at": now,
    }
    connection.execute(sa.insert(event_targets).values(**values))
    return _target(connection.execute(sa.select(event_targets).where(T.id == target_id)).one())


def list_targets(connection: Connection, account_id: str | None = None) -> list[Target]:
    query = sa.select(event_targets).order_by(T.created_at, T.id)
    if account_id is not None:
        query = query.where(T.account_id == account_id)
    return [_target(row) for row in connection.execute(query)]


def find(connection: Connection, target_id: str) -> Any:
    """The target's row (secret ciphertext included), or None."""
    return connection.execute(sa.select(event_targets).where(T.id == target_id)).first()


def delete(connection: Connection, target_id: str) -> bool:
    """Delete the target and its deliveries; False when there is no such target."""
    if find(connection, target_id) is None:
        return False
    connection.execute(sa.delete(event_deliveries).where(D.target_id == target_id))
    connection.execute(sa.delete(event_targets).where(T.id == target_id))
    return True


def deliveries(
    connection: Connection, *, target_id: str | None = None, event_id: str | None = None
) -> list[dict[str, Any]]:
    """Deliveries (oldest event first) with their event's detail type and resource."""
    query = (
        sa.select(
            D.id,
            D.event_id,
            D.target_id,
            D.state,
            D.attempts,
            D.last_status_code,
            D.last_error,
            D.next_attempt_at,
            D.delivered_at,
            D.created_at,
            E.detail_type,
            E.resource_arn,
            E.account_id,
        )
        .join(events, E.id == D.event_id)
        .order_by(E.seq, D.created_at, D.id)
    )
    if target_id is not None:
        query = query.where(D.target_id == target_id)
    if event_id is not None:
        query = query.where(D.event_id == event_id)
    return [dict(row._mapping) for row in connection.execute(query)]
