"""What a sync config operation does with the repository branch it names (`repositoryProvider`,
`repositoryName`, `branch`, the same members in template and service sync configs): check it, store it
(`named_branch_columns`: both config tables use the same column names) and follow it from now on.

Invariant: after CreateTemplateSyncConfig, UpdateTemplateSyncConfig, CreateServiceSyncConfig or
UpdateServiceSyncConfig, the named branch has a poll job due now (in the same transaction as the config)
and its head is synced again by that kind of sync, even if it was synced before; the worker is woken
once the transaction commits.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from baryon.api.registry import Context, Params
from baryon.api.repositories import repository_branch
from baryon.protocol.errors import ServiceError
from baryon.store import sync_jobs, sync_status
from baryon.store.sync_status import BranchKey


def check_named_branch(
    ctx: Context, connection: Connection, params: Params, missing: type[ServiceError]
) -> None:
    """A valid branch name of an existing repository link; a missing link raises `missing` (as
    `repository_branch` says)."""
    value = {
        "provider": params["repositoryProvider"],
        "name": params["repositoryName"],
        "branch": params["branch"],
    }
    repository_branch(ctx, connection, value, missing=missing)


def named_branch_columns(params: Params) -> dict[str, str]:
    """The columns of a sync config that hold the named branch."""
    return {
        "repository_provider": params["repositoryProvider"],
        "repository_name": params["repositoryName"],
        "branch": params["branch"],
    }


def follow_named_branch(ctx: Context, connection: Connection, params: Params, sync_type: str) -> None:
    provider, name, branch = params["repositoryProvider"], params["repositoryName"], params["branch"]
    sync_status.forget_head(
        connection, BranchKey(ctx.account_id, ctx.region, provider, name, branch, sync_type)
    )
    sync_jobs.ensure_poll_job(
        connection,
        account_id=ctx.account_id,
        region=ctx.region,
        provider=provider,
        repository=name,
        branch=branch,
        now=ctx.now,
    )
    ctx.after_commit.append(ctx.runtime.wake)
