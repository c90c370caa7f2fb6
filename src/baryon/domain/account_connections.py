"""Where an environment's infrastructure goes: its own roles in the management account, or the roles of
its environment account connection in the environment account (reference §4.4, §7).

Invariants: an environment with a connection takes every role from the connection as it is *now*
(`roleArn` for CloudFormation, for the environment and the service instances in it; `codebuildRoleArn` for
commands; `componentRoleArn` for components), so a role changed by UpdateEnvironmentAccountConnection
applies to the next deployment; its account id is the environment account's. A connection that no longer
exists, or is not CONNECTED, provides no role and makes every deployment of the environment (and of what
is deployed in it) fail with `problem`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CONNECTED = "CONNECTED"


@dataclass(frozen=True)
class EnvironmentRoles:
    #: The account the environment's infrastructure is in (`environment.account_id` in templates).
    account_id: str
    cloudformation: str | None
    codebuild: str | None
    component: str | None
    #: Why the environment cannot be deployed to now (its connection was deleted), else None.
    problem: str | None = None


def environment_roles(row: Any) -> EnvironmentRoles:
    """The roles of an environment row as the deployables lookup reads it (with its `connection_*`
    columns)."""
    connection_id = row.environment_account_connection_id
    if not connection_id:
        return EnvironmentRoles(
            row.account_id, row.proton_service_role_arn, row.codebuild_role_arn, row.component_role_arn
        )
    account_id = row.environment_account_id or row.account_id
    if row.connection_status != CONNECTED:
        state = "no longer exists" if row.connection_status is None else f"is {row.connection_status}"
        problem = (
            f"The environment account connection {connection_id} of environment {row.name} {state}; "
            "Baryon cannot manage the environment's infrastructure in account "
            f"{account_id} until a new connection for that account and environment is accepted and given "
            "to UpdateEnvironment (environmentAccountConnectionId)."
        )
        return EnvironmentRoles(account_id, None, None, None, problem)
    return EnvironmentRoles(
        account_id,
        row.connection_role_arn,
        row.connection_codebuild_role_arn,
        row.connection_component_role_arn,
    )
