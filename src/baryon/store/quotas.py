"""Per-account quota values, kept in the database so that every server process applies the same ones.

Invariants: a row holds one account's own value of one quota (NULL: no limit for that account) and wins
over the process's default (`BARYON_QUOTA_<NAME>`); an account without a row gets the default; names are
those of `baryon.domain.quotas.NAMES` (the callers check them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from baryon.domain.quotas import Quotas
from baryon.store.schema import account_quotas

Q = account_quotas.c


@dataclass(frozen=True)
class AccountQuota:
    account_id: str
    name: str
    value: int | None


def effective(connection: Connection, defaults: Quotas, account_id: str, name: str) -> int | None:
    """The quota `name` that applies to `account_id`: its own value, else the default."""
    row = connection.execute(sa.select(Q.value).where(Q.account_id == account_id, Q.name == name)).first()
    return defaults.value(name) if row is None else row.value


def set_values(connection: Connection, account_id: str, values: Mapping[str, int | None], now: float) -> None:
    """Give `account_id` its own value of each named quota."""
    for name, value in values.items():
        updated = connection.execute(
            sa.update(account_quotas)
            .where(Q.account_id == account_id, Q.name == name)
            .values(value=value, updated_at=now)
        ).rowcount
        if not updated:
            row = {"account_id": account_id, "name": name, "value": value, "updated_at": now}
            connection.execute(sa.insert(account_quotas).values(**row))


def clear(connection: Connection, account_id: str, names: list[str]) -> None:
    """Drop the account's own values of `names`, so that the defaults apply to it again."""
    connection.execute(sa.delete(account_quotas).where(Q.account_id == account_id, Q.name.in_(names)))


def list_values(connection: Connection, account_id: str | None = None) -> list[AccountQuota]:
    """Accounts' own values, by account then name; of one account when `account_id` is given."""
    query = sa.select(Q.account_id, Q.name, Q.value).order_by(Q.account_id, Q.name)
    if account_id is not None:
        query = query.where(Q.account_id == account_id)
    return [AccountQuota(row.account_id, row.name, row.value) for row in connection.execute(query)]
