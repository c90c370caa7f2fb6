"""Environment account connections through real boto3 clients of three Baryon accounts: the management
account (`proton`, 111111111111), the environment account (`other_account_proton`, 222222222222) and a
stranger (333333333333). Who may call what, the status transitions, the errors with their messages,
pagination, filters, tags, the quota and the client token."""

from __future__ import annotations

import re
from typing import Any

import pytest

from baryon.domain.quotas import Quotas
from baryon.runtime import Runtime
from tests.api.test_environments import SPEC, _published_env_template
from tests.conftest import ACCOUNT, OTHER_ACCOUNT
from tests.support import bundles
from tests.support.clients import in_process_client
from tests.support.errors import error_of
from tests.support.publishing import publish_environment_template
from tests.support.waiters import FAST

MANAGEMENT = ACCOUNT
ENVIRONMENT = OTHER_ACCOUNT
STRANGER = "333333333333"
ROLE = f"arn:aws:iam::{ENVIRONMENT}:role/proton-environment"
CODEBUILD_ROLE = f"arn:aws:iam::{ENVIRONMENT}:role/proton-codebuild"
COMPONENT_ROLE = f"arn:aws:iam::{ENVIRONMENT}:role/proton-component"
ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def stranger(dispatcher: Any, runtime: Runtime) -> Any:
    credential = runtime.credentials.create(STRANGER, "stranger", runtime.clock.now())
    return in_process_client(dispatcher, credential)


def _request(env_proton: Any, name: str = "prod", **members: Any) -> dict[str, Any]:
    members.setdefault("roleArn", ROLE)
    answer = env_proton.create_environment_account_connection(
        managementAccountId=MANAGEMENT, environmentName=name, **members
    )
    return dict(answer["environmentAccountConnection"])


def _not_found(connection_id: str) -> tuple[str, str]:
    return (
        "ResourceNotFoundException",
        f"The requested environment account connection does not exist: {connection_id}",
    )


def test_request_accept_and_both_sides_read(proton: Any, other_account_proton: Any, stranger: Any) -> None:
    created = _request(
        other_account_proton,
        codebuildRoleArn=CODEBUILD_ROLE,
        componentRoleArn=COMPONENT_ROLE,
    )
    connection_id = created["id"]
    assert ID.match(connection_id)
    assert created["arn"] == (
        f"arn:aws:proton:us-east-1:{ENVIRONMENT}:environment-account-connection/{connection_id}"
    )
    assert {k: v for k, v in created.items() if k not in ("id", "arn", "requestedAt", "lastModifiedAt")} == {
        "environmentAccountId": ENVIRONMENT,
        "managementAccountId": MANAGEMENT,
        "environmentName": "prod",
        "roleArn": ROLE,
        "codebuildRoleArn": CODEBUILD_ROLE,
        "componentRoleArn": COMPONENT_ROLE,
        "status": "PENDING",
    }
    assert created["requestedAt"] == created["lastModifiedAt"]
    for side in (proton, other_account_proton):
        assert side.get_environment_account_connection(id=connection_id)["environmentAccountConnection"] == (
            created
        )
    assert error_of(stranger.get_environment_account_connection, id=connection_id) == _not_found(
        connection_id
    )
    assert error_of(proton.get_environment_account_connection, id=MISSING) == _not_found(MISSING)

    # Only the management account accepts; the environment account is denied, a stranger finds nothing.
    assert error_of(other_account_proton.accept_environment_account_connection, id=connection_id) == (
        "AccessDeniedException",
        f"Only the management account ({MANAGEMENT}) can accept environment account connection "
        f"{connection_id}.",
    )
    assert error_of(stranger.accept_environment_account_connection, id=connection_id) == _not_found(
        connection_id
    )
    accepted = proton.accept_environment_account_connection(id=connection_id)["environmentAccountConnection"]
    assert accepted["status"] == "CONNECTED"
    assert accepted["lastModifiedAt"] >= created["lastModifiedAt"]
    # Accepting again changes nothing.
    again = proton.accept_environment_account_connection(id=connection_id)["environmentAccountConnection"]
    assert again == accepted

    # Lists show it on the side the caller asks for.
    def ids(client: Any, requested_by: str, **filters: Any) -> list[str]:
        listed = client.list_environment_account_connections(requestedBy=requested_by, **filters)
        return [c["id"] for c in listed["environmentAccountConnections"]]

    assert ids(proton, "MANAGEMENT_ACCOUNT") == [connection_id]
    assert ids(proton, "ENVIRONMENT_ACCOUNT") == []
    assert ids(other_account_proton, "ENVIRONMENT_ACCOUNT") == [connection_id]
    assert ids(other_account_proton, "MANAGEMENT_ACCOUNT") == []
    assert ids(stranger, "MANAGEMENT_ACCOUNT") == ids(stranger, "ENVIRONMENT_ACCOUNT") == []
    summary = proton.list_environment_account_connections(requestedBy="MANAGEMENT_ACCOUNT")
    expected = {k: v for k, v in accepted.items() if k != "codebuildRoleArn"}
    assert summary["environmentAccountConnections"] == [expected]


def test_request_refusals(proton: Any, other_account_proton: Any) -> None:
    assert error_of(
        other_account_proton.create_environment_account_connection,
        managementAccountId=ENVIRONMENT,
        environmentName="prod",
        roleArn=ROLE,
    ) == (
        "ValidationException",
        f"managementAccountId {ENVIRONMENT} is the account making the request; an environment account "
        "connection is requested from the environment account towards another (management) account.",
    )
    assert error_of(
        other_account_proton.create_environment_account_connection,
        managementAccountId=MANAGEMENT,
        environmentName="prod",
        codebuildRoleArn=CODEBUILD_ROLE,
    ) == (
        "ValidationException",
        "roleArn is required: the IAM role in the environment account that provisions the environment's "
        "infrastructure.",
    )
    assert error_of(
        other_account_proton.create_environment_account_connection,
        managementAccountId=MANAGEMENT,
        environmentName="prod",
        roleArn=ROLE,
        tags=[{"key": "aws:owner", "value": "x"}],
    ) == ("ValidationException", "Tag keys starting with 'aws:' are reserved: aws:owner")
    listed = other_account_proton.list_environment_account_connections(requestedBy="ENVIRONMENT_ACCOUNT")
    assert listed["environmentAccountConnections"] == []

    first = _request(other_account_proton)
    assert error_of(
        other_account_proton.create_environment_account_connection,
        managementAccountId=MANAGEMENT,
        environmentName="prod",
        roleArn=ROLE,
    ) == (
        "ConflictException",
        f"Environment account connection {first['id']} (PENDING) already connects this account to "
        f"management account {MANAGEMENT} for environment prod.",
    )
    # Another environment name, or another management account, is another connection.
    _request(other_account_proton, "staging")
    other_management = other_account_proton.create_environment_account_connection(
        managementAccountId=STRANGER, environmentName="prod", roleArn=ROLE
    )["environmentAccountConnection"]
    assert other_management["managementAccountId"] == STRANGER
    # Once the first is rejected, the environment account may ask again.
    proton.reject_environment_account_connection(id=first["id"])
    second = _request(other_account_proton)
    assert second["id"] != first["id"]
    assert second["status"] == "PENDING"


def test_reject_update_and_delete_rules(proton: Any, other_account_proton: Any, stranger: Any) -> None:
    connection_id = _request(other_account_proton)["id"]
    assert error_of(other_account_proton.reject_environment_account_connection, id=connection_id) == (
        "AccessDeniedException",
        f"Only the management account ({MANAGEMENT}) can reject environment account connection "
        f"{connection_id}.",
    )
    assert error_of(stranger.reject_environment_account_connection, id=connection_id) == _not_found(
        connection_id
    )
    rejected = proton.reject_environment_account_connection(id=connection_id)["environmentAccountConnection"]
    assert rejected["status"] == "REJECTED"
    assert proton.reject_environment_account_connection(id=connection_id)["environmentAccountConnection"] == (
        rejected
    )
    assert error_of(proton.accept_environment_account_connection, id=connection_id) == (
        "ValidationException",
        f"Environment account connection {connection_id} was rejected; a rejected connection cannot be "
        "accepted.",
    )
    assert proton.get_environment_account_connection(id=connection_id)["environmentAccountConnection"] == (
        rejected
    )

    # Updates and deletions are the environment account's.
    live = _request(other_account_proton, "staging")["id"]
    assert error_of(
        proton.update_environment_account_connection, id=live, roleArn=ROLE.replace("environment", "x")
    ) == (
        "AccessDeniedException",
        f"Only the environment account ({ENVIRONMENT}) can update environment account connection {live}.",
    )
    assert error_of(stranger.update_environment_account_connection, id=live) == _not_found(live)
    updated = other_account_proton.update_environment_account_connection(
        id=live, roleArn=f"arn:aws:iam::{ENVIRONMENT}:role/new", componentRoleArn=COMPONENT_ROLE
    )["environmentAccountConnection"]
    assert updated["roleArn"] == f"arn:aws:iam::{ENVIRONMENT}:role/new"
    assert updated["componentRoleArn"] == COMPONENT_ROLE
    assert "codebuildRoleArn" not in updated
    assert updated["status"] == "PENDING"
    assert proton.get_environment_account_connection(id=live)["environmentAccountConnection"] == updated

    assert error_of(proton.delete_environment_account_connection, id=live) == (
        "AccessDeniedException",
        f"Only the environment account ({ENVIRONMENT}) can delete environment account connection {live}.",
    )
    assert error_of(stranger.delete_environment_account_connection, id=live) == _not_found(live)
    deleted = other_account_proton.delete_environment_account_connection(id=live)
    assert deleted["environmentAccountConnection"] == updated
    for side in (proton, other_account_proton):
        assert error_of(side.get_environment_account_connection, id=live) == _not_found(live)
    assert error_of(other_account_proton.delete_environment_account_connection, id=live) == _not_found(live)
    # A rejected connection can be deleted too.
    other_account_proton.delete_environment_account_connection(id=connection_id)
    listed = proton.list_environment_account_connections(requestedBy="MANAGEMENT_ACCOUNT")
    assert listed["environmentAccountConnections"] == []


def test_connections_stay_in_their_region(
    proton: Any, other_account_proton: Any, dispatcher: Any, credential: Any
) -> None:
    connection_id = _request(other_account_proton)["id"]
    west = in_process_client(dispatcher, credential, region="us-west-2")
    assert error_of(west.accept_environment_account_connection, id=connection_id) == _not_found(connection_id)
    assert (
        west.list_environment_account_connections(requestedBy="MANAGEMENT_ACCOUNT")[
            "environmentAccountConnections"
        ]
        == []
    )


def test_list_pages_and_filters(proton: Any, other_account_proton: Any) -> None:
    made = [_request(other_account_proton, f"env{index}")["id"] for index in range(5)]
    proton.accept_environment_account_connection(id=made[1])
    proton.accept_environment_account_connection(id=made[3])
    proton.reject_environment_account_connection(id=made[4])

    def pages(client: Any, **filters: Any) -> list[list[str]]:
        result, token = [], None
        while True:
            extra = {"nextToken": token} if token else {}
            page = client.list_environment_account_connections(maxResults=2, **filters, **extra)
            result.append([c["id"] for c in page["environmentAccountConnections"]])
            token = page.get("nextToken")
            if not token:
                return result

    assert pages(proton, requestedBy="MANAGEMENT_ACCOUNT") == [made[0:2], made[2:4], made[4:]]
    assert pages(other_account_proton, requestedBy="ENVIRONMENT_ACCOUNT") == [made[0:2], made[2:4], made[4:]]
    assert pages(proton, requestedBy="MANAGEMENT_ACCOUNT", statuses=["CONNECTED"]) == [[made[1], made[3]]]
    assert pages(proton, requestedBy="MANAGEMENT_ACCOUNT", statuses=["PENDING", "REJECTED"]) == [
        [made[0], made[2]],
        [made[4]],
    ]
    assert pages(proton, requestedBy="MANAGEMENT_ACCOUNT", environmentName="env2") == [[made[2]]]
    assert pages(
        proton, requestedBy="MANAGEMENT_ACCOUNT", environmentName="env2", statuses=["CONNECTED"]
    ) == [[]]
    assert pages(proton, requestedBy="MANAGEMENT_ACCOUNT", statuses=[]) == [made[0:2], made[2:4], made[4:]]
    # A token answers only the list it came from.
    token = proton.list_environment_account_connections(requestedBy="MANAGEMENT_ACCOUNT", maxResults=2)[
        "nextToken"
    ]
    code, _ = error_of(
        proton.list_environment_account_connections,
        requestedBy="MANAGEMENT_ACCOUNT",
        statuses=["CONNECTED"],
        nextToken=token,
    )
    assert code == "ValidationException"


def test_tags_are_the_environment_accounts(proton: Any, other_account_proton: Any) -> None:
    created = _request(other_account_proton, tags=[{"key": "team", "value": "core"}])
    arn = created["arn"]
    assert other_account_proton.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"key": "team", "value": "core"}
    ]
    other_account_proton.tag_resource(resourceArn=arn, tags=[{"key": "cost", "value": "42"}])
    other_account_proton.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert other_account_proton.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"key": "cost", "value": "42"}
    ]
    missing = ("ResourceNotFoundException", f"The requested resource does not exist: {arn}")
    assert error_of(proton.list_tags_for_resource, resourceArn=arn) == missing
    assert error_of(proton.tag_resource, resourceArn=arn, tags=[{"key": "k", "value": "v"}]) == missing
    other_account_proton.delete_environment_account_connection(id=created["id"])
    gone = ("ResourceNotFoundException", f"The requested resource does not exist: {arn}")
    assert error_of(other_account_proton.list_tags_for_resource, resourceArn=arn) == gone


def test_quota_and_client_token(runtime: Runtime, other_account_proton: Any) -> None:
    token = "request-1"
    first = _request(other_account_proton, clientToken=token)
    assert _request(other_account_proton, clientToken=token) == first
    assert error_of(
        other_account_proton.create_environment_account_connection,
        managementAccountId=MANAGEMENT,
        environmentName="other",
        roleArn=ROLE,
        clientToken=token,
    ) == (
        "ValidationException",
        "Idempotent parameter mismatch: the client token was already used with other parameters.",
    )
    # No limit by default; the operator's quota counts the environment account's connections.
    _request(other_account_proton, "second")
    runtime.quotas = Quotas(environment_account_connections=2)
    assert error_of(
        other_account_proton.create_environment_account_connection,
        managementAccountId=MANAGEMENT,
        environmentName="third",
        roleArn=ROLE,
    ) == (
        "ServiceQuotaExceededException",
        "You have reached the quota of 2 environment account connections in this account and region.",
    )
    listed = other_account_proton.list_environment_account_connections(requestedBy="ENVIRONMENT_ACCOUNT")
    assert [c["environmentName"] for c in listed["environmentAccountConnections"]] == ["prod", "second"]


def test_environment_with_a_connection_needs_a_usable_one(
    proton: Any, other_account_proton: Any, stranger: Any, s3: Any, worker: Any
) -> None:
    _published_env_template(proton, s3)

    def create(connection_id: str, name: str = "prod", **extra: Any) -> tuple[str, str]:
        return error_of(
            proton.create_environment,
            name=name,
            templateName="vpc-env",
            templateMajorVersion="1",
            spec=SPEC,
            environmentAccountConnectionId=connection_id,
            **extra,
        )

    pending = _request(other_account_proton)["id"]
    assert create(pending) == (
        "ValidationException",
        f"Environment account connection {pending} is PENDING; it can be used once the management account "
        "accepts it (AcceptEnvironmentAccountConnection).",
    )
    assert create(MISSING) == (
        "ValidationException",
        f"Environment account connection {MISSING} does not exist in this management account and region.",
    )
    # A connection towards another management account does not exist for this one.
    elsewhere = other_account_proton.create_environment_account_connection(
        managementAccountId=STRANGER, environmentName="prod", roleArn=ROLE
    )["environmentAccountConnection"]["id"]
    stranger.accept_environment_account_connection(id=elsewhere)
    assert create(elsewhere) == (
        "ValidationException",
        f"Environment account connection {elsewhere} does not exist in this management account and region.",
    )
    proton.accept_environment_account_connection(id=pending)
    assert create(pending, name="staging") == (
        "ValidationException",
        f"Environment account connection {pending} is for environment prod, not staging.",
    )
    assert create(pending, protonServiceRoleArn=f"arn:aws:iam::{MANAGEMENT}:role/p") == (
        "ValidationException",
        "Do not give protonServiceRoleArn with environmentAccountConnectionId: the environment's "
        "infrastructure is provisioned in the environment account with the roles of its environment "
        "account connection.",
    )
    rejected = _request(other_account_proton, "qa")["id"]
    proton.reject_environment_account_connection(id=rejected)
    assert create(rejected, name="qa") == (
        "ValidationException",
        f"Environment account connection {rejected} was rejected; a rejected connection cannot be used.",
    )
    assert proton.list_environments()["environments"] == []

    environment = proton.create_environment(
        name="prod",
        templateName="vpc-env",
        templateMajorVersion="1",
        spec=SPEC,
        environmentAccountConnectionId=pending,
    )["environment"]
    assert environment["environmentAccountConnectionId"] == pending
    assert environment["environmentAccountId"] == ENVIRONMENT
    assert "protonServiceRoleArn" not in environment
    # A connection an environment uses cannot be rejected.
    assert error_of(proton.reject_environment_account_connection, id=pending) == (
        "ConflictException",
        f"Environment account connection {pending} is used by environment prod; a connection that an "
        "environment uses cannot be rejected (delete the environment first).",
    )
    assert proton.get_environment_account_connection(id=pending)["environmentAccountConnection"][
        "status"
    ] == ("CONNECTED")


def test_provisioning_methods_with_a_connection(
    proton: Any, other_account_proton: Any, s3: Any, worker: Any
) -> None:
    publish_environment_template(proton, s3, "tf-env", bundles.terraform_environment_bundle())
    publish_environment_template(proton, s3, "cb-env", bundles.codebuild_environment_bundle())
    without_codebuild = _request(other_account_proton)["id"]
    proton.accept_environment_account_connection(id=without_codebuild)

    def create(template: str, connection_id: str) -> Any:
        return proton.create_environment(
            name="prod",
            templateName=template,
            templateMajorVersion="1",
            spec=SPEC,
            environmentAccountConnectionId=connection_id,
        )

    assert error_of(create, template="tf-env", connection_id=without_codebuild) == (
        "ValidationException",
        "Version 1.0 of environment template tf-env is a Terraform template (self-managed provisioning); "
        "an environment account connection cannot be used with it.",
    )
    assert error_of(create, template="cb-env", connection_id=without_codebuild) == (
        "ValidationException",
        f"Environment account connection {without_codebuild} has no codebuildRoleArn to provision an "
        "environment with CodeBuild.",
    )
    assert proton.list_environments()["environments"] == []
    other_account_proton.update_environment_account_connection(
        id=without_codebuild, codebuildRoleArn=CODEBUILD_ROLE
    )
    created = create("cb-env", without_codebuild)["environment"]
    assert created["environmentAccountConnectionId"] == without_codebuild
    assert created["environmentAccountId"] == ENVIRONMENT
    assert "codebuildRoleArn" not in created
    proton.get_waiter("environment_deployed").wait(name="prod", WaiterConfig=FAST)
    deployed = proton.get_environment(name="prod")["environment"]
    assert (deployed["deploymentStatus"], deployed["environmentAccountId"]) == ("SUCCEEDED", ENVIRONMENT)
