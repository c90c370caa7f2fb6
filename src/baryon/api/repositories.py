"""Repository links (reference §1.8): CreateRepository, GetRepository, DeleteRepository, ListRepositories.

Invariants: a link is identified by (account, region, provider, name) and points at one of Baryon's own
connections of the same account and region with the same provider; repeating a create with the same
connection and encryption key returns the existing link, anything else is a ConflictException; a link used
as an environment's `provisioningRepository` or as the account's `pipelineProvisioningRepository` cannot be
deleted, nor can one a template sync config or a service sync config follows; deleting a link changes
nothing in git. `repository_branch` is the one check that a RepositoryBranchInput names an existing link,
for the operations that take one.
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from baryon.api.common import check_account_quota, clean, next_token, not_found, page_position, page_size
from baryon.api.registry import Context, Params, operation
from baryon.api.resources import resolver
from baryon.api.tags import delete_tags_under, put_tags
from baryon.domain import arns
from baryon.domain.repositories import branch_name_problem, repository_name_problem
from baryon.protocol.errors import (
    ConflictException,
    ServiceError,
    ValidationException,
)
from baryon.store import connections as connection_store
from baryon.store import service_sync as service_sync_store
from baryon.store import template_sync as template_sync_store
from baryon.store.schema import account_settings, environments, repositories

R = repositories.c


def repository_arn(ctx: Context, provider: str, name: str) -> str:
    return arns.arn(ctx.region, ctx.account_id, arns.repository_resource(provider, name))


def _key(provider: str, name: str) -> str:
    return f"{provider.lower()}:{name}"


def find_repository(connection: Connection, ctx: Context, provider: str, name: str) -> Row[Any] | None:
    return connection.execute(
        sa.select(repositories).where(
            R.account_id == ctx.account_id, R.region == ctx.region, R.provider == provider, R.name == name
        )
    ).first()


def require_repository(connection: Connection, ctx: Context, provider: str, name: str) -> Row[Any]:
    row = find_repository(connection, ctx, provider, name)
    if row is None:
        raise not_found("repository", repository_arn(ctx, provider, name))
    return row


def repository_shape(ctx: Context, row: Row[Any], *, summary: bool = False) -> dict[str, Any]:
    return clean(
        {
            "name": row.name,
            "provider": row.provider,
            "arn": repository_arn(ctx, row.provider, row.name),
            "connectionArn": row.connection_arn,
            "encryptionKey": None if summary else row.encryption_key,
        }
    )


def repository_branch(
    ctx: Context, connection: Connection, value: dict[str, Any], *, missing: type[ServiceError]
) -> dict[str, str]:
    """The stored form `{arn, name, provider, branch}` of a RepositoryBranchInput naming an existing link.

    A link that does not exist raises `missing`: ResourceNotFoundException where the operation's model
    lists it, else ValidationException."""
    provider, name, branch = value["provider"], value["name"], value["branch"]
    problem = branch_name_problem(branch)
    if problem:
        raise ValidationException(problem)
    if find_repository(connection, ctx, provider, name) is None:
        arn = repository_arn(ctx, provider, name)
        if issubclass(missing, ValidationException):
            raise ValidationException(
                f"The repository {_key(provider, name)} is not linked to this account and region "
                f"({arn}); link it with CreateRepository first."
            )
        raise not_found("repository", arn)
    return {"arn": repository_arn(ctx, provider, name), "name": name, "provider": provider, "branch": branch}


def _names(stored: str | None) -> tuple[str, str] | None:
    if not stored:
        return None
    document = orjson.loads(stored)
    return document["provider"], document["name"]


def _refuse_if_used(connection: Connection, ctx: Context, row: Row[Any]) -> None:
    wanted = (row.provider, row.name)
    key = _key(row.provider, row.name)
    synced = template_sync_store.for_repository(
        connection, ctx.account_id, ctx.region, row.provider, row.name
    )
    if synced:
        first = synced[0]
        label = "environment template" if first.template_type == "ENVIRONMENT" else "service template"
        raise ConflictException(
            f"The repository {key} is used by the template sync config of {label} {first.template_name}; "
            "it cannot be deleted while it is used."
        )
    users = connection.execute(
        sa.select(environments.c.name, environments.c.provisioning_repository)
        .where(
            environments.c.account_id == ctx.account_id,
            environments.c.region == ctx.region,
            environments.c.provisioning_repository.is_not(None),
        )
        .order_by(environments.c.name)
    ).all()
    for env in users:
        if _names(env.provisioning_repository) == wanted:
            raise ConflictException(
                f"The repository {key} is the provisioningRepository of environment {env.name}; "
                "it cannot be deleted while it is used."
            )
    for service in service_sync_store.services_using_repository(
        connection, ctx.account_id, ctx.region, row.provider, row.name
    ):
        raise ConflictException(
            f"The repository {key} holds the ops file of the service sync config of service {service}; "
            "it cannot be deleted while it is used."
        )
    settings = connection.execute(
        sa.select(account_settings.c.pipeline_provisioning_repository).where(
            account_settings.c.account_id == ctx.account_id, account_settings.c.region == ctx.region
        )
    ).first()
    if settings is not None and _names(settings.pipeline_provisioning_repository) == wanted:
        raise ConflictException(
            f"The repository {key} is the account's pipelineProvisioningRepository; "
            "it cannot be deleted while it is used."
        )


@operation("CreateRepository", write=True)
def create_repository(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    provider, name = params["provider"], params["name"]
    problem = repository_name_problem(name)
    if problem:
        raise ValidationException(problem)
    connection_arn = params["connectionArn"]
    linked = connection_store.get(connection, connection_arn)
    if linked is None or linked.account_id != ctx.account_id or linked.region != ctx.region:
        raise ValidationException(
            f"The connection {connection_arn} is not a Baryon connection of this account and region. "
            "Create one with 'baryon connections create'."
        )
    if linked.provider != provider:
        raise ValidationException(
            f"The connection {connection_arn} is a {linked.provider} connection; "
            f"it cannot link a {provider} repository."
        )
    encryption_key = params.get("encryptionKey")
    existing = find_repository(connection, ctx, provider, name)
    if existing is not None:
        if existing.connection_arn == connection_arn and existing.encryption_key == encryption_key:
            return {"repository": repository_shape(ctx, existing)}
        raise ConflictException(
            f"A repository link {_key(provider, name)} already exists with other parameters."
        )
    check_account_quota(ctx, connection, repositories, "repositories", "repository links")
    connection.execute(
        sa.insert(repositories).values(
            account_id=ctx.account_id,
            region=ctx.region,
            provider=provider,
            name=name,
            connection_arn=connection_arn,
            encryption_key=encryption_key,
            created_at=ctx.now,
        )
    )
    put_tags(ctx, connection, repository_arn(ctx, provider, name), params.get("tags") or [])
    return {"repository": repository_shape(ctx, require_repository(connection, ctx, provider, name))}


@operation("GetRepository", write=False)
def get_repository(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    row = require_repository(connection, ctx, params["provider"], params["name"])
    return {"repository": repository_shape(ctx, row)}


@operation("DeleteRepository", write=True)
def delete_repository(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    row = require_repository(connection, ctx, params["provider"], params["name"])
    _refuse_if_used(connection, ctx, row)
    shape = repository_shape(ctx, row)
    connection.execute(sa.delete(repositories).where(R.id == row.id))
    delete_tags_under(connection, shape["arn"])
    return {"repository": shape}


@operation("ListRepositories", write=False)
def list_repositories(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    after = page_position(ctx, params, "repositories")
    size = page_size(params)
    query = sa.select(repositories).where(R.account_id == ctx.account_id, R.region == ctx.region)
    if after is not None:
        provider, name = after
        query = query.where(sa.or_(R.provider > provider, sa.and_(R.provider == provider, R.name > name)))
    rows = connection.execute(query.order_by(R.provider, R.name).limit(size + 1)).all()
    result: dict[str, Any] = {
        "repositories": [repository_shape(ctx, row, summary=True) for row in rows[:size]]
    }
    if len(rows) > size:
        last = rows[size - 1]
        result["nextToken"] = next_token(ctx, [last.provider, last.name], "repositories")
    return result


@resolver("repository")
def _resolve(connection: Connection, ctx: Context, parsed: arns.ParsedArn) -> bool:
    identity = arns.parse_repository_resource(parsed.resource)
    return identity is not None and find_repository(connection, ctx, *identity) is not None
