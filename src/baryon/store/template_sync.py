"""Template sync configs (CreateTemplateSyncConfig and the rest): rows, lookups and wire shape.

Invariants: one config per template (kind, name) in an account and region; a config names a repository
link of the same account and region by (provider, name); configs are read here by the API (per template)
and by the follower (per followed branch).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from baryon.store.schema import template_sync_configs

TS = template_sync_configs.c


def find(connection: Connection, account_id: str, region: str, kind: str, name: str) -> Row[Any] | None:
    return connection.execute(
        sa.select(template_sync_configs).where(
            TS.account_id == account_id,
            TS.region == region,
            TS.template_type == kind,
            TS.template_name == name,
        )
    ).first()


def shape(row: Row[Any]) -> dict[str, Any]:
    result = {
        "templateName": row.template_name,
        "templateType": row.template_type,
        "repositoryName": row.repository_name,
        "repositoryProvider": row.repository_provider,
        "branch": row.branch,
    }
    if row.subdirectory is not None:
        result["subdirectory"] = row.subdirectory
    return result


def for_repository(
    connection: Connection, account_id: str, region: str, provider: str, name: str
) -> list[Row[Any]]:
    return list(
        connection.execute(
            sa.select(template_sync_configs)
            .where(
                TS.account_id == account_id,
                TS.region == region,
                TS.repository_provider == provider,
                TS.repository_name == name,
            )
            .order_by(TS.branch, TS.template_type, TS.template_name)
        ).all()
    )


def for_branch(
    connection: Connection, account_id: str, region: str, provider: str, repository: str, branch: str
) -> list[Row[Any]]:
    """The configs following one branch: environment templates first (a service template of the same
    commit may name them as compatible), then by name."""
    rows = [
        row
        for row in for_repository(connection, account_id, region, provider, repository)
        if row.branch == branch
    ]
    return sorted(rows, key=lambda row: (row.template_type != "ENVIRONMENT", row.template_name))


def followed_branches(connection: Connection) -> list[tuple[str, str, str, str, str]]:
    """Every (account, region, provider, repository, branch) some template sync config follows."""
    rows = connection.execute(
        sa.select(TS.account_id, TS.region, TS.repository_provider, TS.repository_name, TS.branch).distinct()
    ).all()
    return sorted((r.account_id, r.region, r.repository_provider, r.repository_name, r.branch) for r in rows)
