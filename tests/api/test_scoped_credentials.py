"""Credentials issued to command runs: they reach NotifyResourceDeploymentStatusChange for their one resource
and nothing else, stop working when they expire or are discarded, and are not listed with user credentials."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from botocore.exceptions import ClientError

from baryon.api.dispatch import Dispatcher
from baryon.protocol.sigv4 import Credential
from baryon.runtime import Runtime
from baryon.store.schema import credentials
from tests.conftest import ACCOUNT
from tests.support.clients import in_process_client
from tests.support.errors import error_of

ARN = f"arn:aws:proton:us-east-1:{ACCOUNT}:environment/dev"
OTHER_ARN = f"arn:aws:proton:us-east-1:{ACCOUNT}:environment/prod"
PRINCIPAL = f"arn:aws:iam::{ACCOUNT}:user/run-1"


def issue(runtime: Runtime, *, lifetime: float = 600.0) -> Credential:
    now = runtime.clock.now()
    with runtime.database.write() as connection:
        return runtime.credentials.issue_scoped(connection, ACCOUNT, "run-1", ARN, now + lifetime, now)


def test_any_other_operation_is_access_denied(dispatcher: Dispatcher, runtime: Runtime, proton: Any) -> None:
    scoped = in_process_client(dispatcher, issue(runtime))
    assert error_of(scoped.list_environments) == (
        "AccessDeniedException",
        f"User: {PRINCIPAL} is not authorized to perform: proton:ListEnvironments because no "
        "identity-based policy allows the proton:ListEnvironments action",
    )
    code, message = error_of(scoped.create_environment_template, name="sneaky", displayName="x")
    assert code == "AccessDeniedException"
    assert "proton:CreateEnvironmentTemplate" in message
    # Nothing was created, and the account's own credential still works.
    assert proton.list_environment_templates()["templates"] == []


def test_notify_for_another_resource_is_access_denied(dispatcher: Dispatcher, runtime: Runtime) -> None:
    scoped = in_process_client(dispatcher, issue(runtime))
    assert error_of(
        scoped.notify_resource_deployment_status_change, resourceArn=OTHER_ARN, status="SUCCEEDED"
    ) == (
        "AccessDeniedException",
        f"User: {PRINCIPAL} is not authorized to perform: proton:NotifyResourceDeploymentStatusChange on "
        f"resource: {OTHER_ARN} because no identity-based policy allows the "
        "proton:NotifyResourceDeploymentStatusChange action",
    )


def test_notify_for_its_own_resource_passes_the_scope(dispatcher: Dispatcher, runtime: Runtime) -> None:
    scoped = in_process_client(dispatcher, issue(runtime))
    try:
        scoped.notify_resource_deployment_status_change(resourceArn=ARN, status="IN_PROGRESS")
    except ClientError as error:
        # The resource does not exist here; whatever notify answers, the credential was let through.
        assert error.response["Error"]["Code"] not in (
            "AccessDeniedException",
            "UnrecognizedClientException",
            "ExpiredTokenException",
        )


def test_an_expired_credential_is_refused(dispatcher: Dispatcher, runtime: Runtime) -> None:
    scoped = in_process_client(dispatcher, issue(runtime, lifetime=-1.0))
    assert error_of(scoped.notify_resource_deployment_status_change, resourceArn=ARN) == (
        "ExpiredTokenException",
        "The security token included in the request is expired",
    )


def test_a_discarded_credential_is_refused_and_only_run_credentials_are_discarded(
    dispatcher: Dispatcher, runtime: Runtime, credential: Credential, proton: Any
) -> None:
    issued = issue(runtime)
    with runtime.database.write() as connection:
        assert runtime.credentials.discard(connection, issued.access_key_id)
        assert not runtime.credentials.discard(connection, issued.access_key_id)
        assert not runtime.credentials.discard(connection, credential.access_key_id)
    scoped = in_process_client(dispatcher, issued)
    assert error_of(scoped.notify_resource_deployment_status_change, resourceArn=ARN) == (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )
    assert proton.list_environments()["environments"] == []


def test_run_credentials_are_not_listed_and_expired_ones_are_deleted(
    runtime: Runtime, credential: Credential
) -> None:
    expired = issue(runtime, lifetime=-1.0)
    live = issue(runtime)
    assert [record.access_key_id for record in runtime.credentials.list()] == [credential.access_key_id]
    assert runtime.credentials.lookup(expired.access_key_id) is None
    with runtime.database.read() as connection:
        keys = set(connection.execute(sa.select(credentials.c.access_key_id)).scalars())
    assert keys == {credential.access_key_id, live.access_key_id}
    found = runtime.credentials.lookup(live.access_key_id)
    assert found is not None and found.scope == ARN and found.account_id == ACCOUNT
