"""GetAccountSettings and UpdateAccountSettings (reference §1.13).

Invariants: one settings row per account and region, created on first update; an empty string clears a
role; `deletePipelineProvisioningRepository` clears the repository and cannot be combined with a new one;
a pipeline repository must name a repository link of the account and region (else ValidationException:
the operation's model lists no ResourceNotFoundException).
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from baryon.api.common import clean
from baryon.api.registry import Context, Params, operation
from baryon.api.repositories import repository_branch
from baryon.protocol.errors import ValidationException
from baryon.store.schema import account_settings

A = account_settings.c


def _row(ctx: Context, connection: Connection) -> Any:
    return connection.execute(
        sa.select(account_settings).where(A.account_id == ctx.account_id, A.region == ctx.region)
    ).first()


def _shape(row: Any) -> dict[str, Any]:
    if row is None:
        return {}
    return clean(
        {
            "pipelineServiceRoleArn": row.pipeline_service_role_arn,
            "pipelineCodebuildRoleArn": row.pipeline_codebuild_role_arn,
            "pipelineProvisioningRepository": orjson.loads(row.pipeline_provisioning_repository)
            if row.pipeline_provisioning_repository
            else None,
        }
    )


@operation("GetAccountSettings", write=False)
def get_account_settings(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    return {"accountSettings": _shape(_row(ctx, connection))}


@operation("UpdateAccountSettings", write=True)
def update_account_settings(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for member, column in (
        ("pipelineServiceRoleArn", "pipeline_service_role_arn"),
        ("pipelineCodebuildRoleArn", "pipeline_codebuild_role_arn"),
    ):
        if member in params:
            changes[column] = params[member] or None
    repository = params.get("pipelineProvisioningRepository")
    if params.get("deletePipelineProvisioningRepository"):
        if repository is not None:
            raise ValidationException(
                "Give either pipelineProvisioningRepository or deletePipelineProvisioningRepository, "
                "not both."
            )
        changes["pipeline_provisioning_repository"] = None
    elif repository is not None:
        stored = repository_branch(ctx, connection, repository, missing=ValidationException)
        changes["pipeline_provisioning_repository"] = orjson.dumps(stored).decode()
    row = _row(ctx, connection)
    if row is None:
        connection.execute(
            sa.insert(account_settings).values(account_id=ctx.account_id, region=ctx.region, **changes)
        )
    elif changes:
        connection.execute(
            sa.update(account_settings)
            .where(A.account_id == ctx.account_id, A.region == ctx.region)
            .values(**changes)
        )
    return {"accountSettings": _shape(_row(ctx, connection))}
