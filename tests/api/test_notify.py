"""NotifyResourceDeploymentStatusChange through a real boto3 client.

The deployments here are held in flight (the worker is stopped once the template is published) and
marked with the method their step would have recorded, so each notification meets a deployment in the
state a self-managed or command-runner step leaves it in.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from baryon.engine.settle import Finish, finish
from baryon.engine.subjects import load
from baryon.runtime import Runtime
from baryon.store import deployments as deployment_store
from baryon.store.schema import deployments
from tests.api.test_environments import ROLE, SPEC, _published_env_template
from tests.conftest import ACCOUNT
from tests.support.errors import error_of as _error

ENV_ARN = f"arn:aws:proton:us-east-1:{ACCOUNT}:environment/dev"


@pytest.fixture
def held(proton: Any, s3: Any, worker: Any) -> Any:
    """An environment whose first deployment stays IN_PROGRESS (no worker runs it)."""
    _published_env_template(proton, s3)
    worker.stop()
    proton.create_environment(
        name="dev", templateName="vpc-env", templateMajorVersion="1", spec=SPEC, protonServiceRoleArn=ROLE
    )
    return proton.get_environment(name="dev")["environment"]


def _mark(runtime: Runtime, deployment_id: str, method: str, **progress: str) -> None:
    with runtime.database.write() as connection:
        connection.execute(
            sa.update(deployments)
            .where(deployments.c.id == deployment_id)
            .values(progress=orjson.dumps({"method": method, "branch": "b", **progress}).decode())
        )


def _deployment(proton: Any, deployment_id: str) -> dict[str, Any]:
    result: dict[str, Any] = proton.get_deployment(id=deployment_id)["deployment"]
    return result


def test_self_managed_success_settles_with_merged_outputs(proton: Any, runtime: Runtime, held: Any) -> None:
    deployment_id = held["lastAttemptedDeploymentId"]
    _mark(runtime, deployment_id, "hcl")
    proton.notify_resource_deployment_status_change(
        resourceArn=ENV_ARN,
        status="IN_PROGRESS",
        outputs=[{"key": "VpcId", "valueString": "vpc-1"}, {"key": "Stage", "valueString": "plan"}],
        statusMessage="terraform plan done",
    )
    environment = proton.get_environment(name="dev")["environment"]
    assert environment["deploymentStatus"] == "IN_PROGRESS"
    assert _deployment(proton, deployment_id)["deploymentStatus"] == "IN_PROGRESS"
    assert proton.list_environment_outputs(environmentName="dev")["outputs"] == []
    proton.notify_resource_deployment_status_change(
        resourceArn=ENV_ARN,
        deploymentId=deployment_id,
        status="SUCCEEDED",
        outputs=[{"key": "Stage", "valueString": "applied"}],
    )
    environment = proton.get_environment(name="dev")["environment"]
    assert environment["deploymentStatus"] == "SUCCEEDED"
    assert environment["lastSucceededDeploymentId"] == deployment_id
    outputs = proton.list_environment_outputs(environmentName="dev")["outputs"]
    assert {o["key"]: o["valueString"] for o in outputs} == {"VpcId": "vpc-1", "Stage": "applied"}
    record = _deployment(proton, deployment_id)
    assert record["deploymentStatus"] == "SUCCEEDED" and "completedAt" in record
    code, message = _error(
        proton.notify_resource_deployment_status_change, resourceArn=ENV_ARN, status="SUCCEEDED"
    )
    assert (code, message) == (
        "ValidationException",
        f"{ENV_ARN} has no deployment in progress to report on.",
    )


def test_self_managed_failure_keeps_the_message(proton: Any, runtime: Runtime, held: Any) -> None:
    deployment_id = held["lastAttemptedDeploymentId"]
    _mark(runtime, deployment_id, "hcl")
    proton.notify_resource_deployment_status_change(
        resourceArn=ENV_ARN, status="FAILED", statusMessage="terraform apply: quota exceeded"
    )
    environment = proton.get_environment(name="dev")["environment"]
    assert environment["deploymentStatus"] == "FAILED"
    assert environment["deploymentStatusMessage"] == "terraform apply: quota exceeded"
    assert _deployment(proton, deployment_id)["deploymentStatus"] == "FAILED"


def test_command_runner_notifications_only_record(proton: Any, runtime: Runtime, held: Any) -> None:
    deployment_id = held["lastAttemptedDeploymentId"]
    _mark(runtime, deployment_id, "codebuild")
    proton.notify_resource_deployment_status_change(
        resourceArn=ENV_ARN, status="SUCCEEDED", outputs=[{"key": "Url", "valueString": "https://x"}]
    )
    assert proton.get_environment(name="dev")["environment"]["deploymentStatus"] == "IN_PROGRESS"
    with runtime.database.read() as connection:
        row = connection.execute(sa.select(deployments).where(deployments.c.id == deployment_id)).one()
    assert row.reported_status == "SUCCEEDED"
    assert orjson.loads(row.outputs) == [{"key": "Url", "valueString": "https://x"}]


def test_refusals_change_nothing(proton: Any, runtime: Runtime, held: Any) -> None:
    deployment_id = held["lastAttemptedDeploymentId"]
    code, message = _error(
        proton.notify_resource_deployment_status_change, resourceArn=ENV_ARN, status="SUCCEEDED"
    )
    assert code == "ValidationException"
    assert message == (
        f"{ENV_ARN} is provisioned through CloudFormation; its deployment status comes from its stack, "
        "not from notifications."
    )
    _mark(runtime, deployment_id, "hcl")
    other = "0" * 8 + "-0000-0000-0000-" + "0" * 12
    code, message = _error(
        proton.notify_resource_deployment_status_change,
        resourceArn=ENV_ARN,
        deploymentId=other,
        status="SUCCEEDED",
    )
    assert (code, message) == (
        "ConflictException",
        f"Deployment {other} is not the current deployment of {ENV_ARN}.",
    )
    missing = f"arn:aws:proton:us-east-1:{ACCOUNT}:environment/nope"
    code, message = _error(
        proton.notify_resource_deployment_status_change, resourceArn=missing, status="SUCCEEDED"
    )
    assert (code, message) == (
        "ResourceNotFoundException",
        f"The requested resource does not exist: {missing}",
    )
    template = f"arn:aws:proton:us-east-1:{ACCOUNT}:environment-template/vpc-env"
    code, message = _error(
        proton.notify_resource_deployment_status_change, resourceArn=template, status="SUCCEEDED"
    )
    assert code == "ValidationException" and template in message
    too_many = [{"key": f"k{n}", "valueString": "v"} for n in range(30)]
    proton.notify_resource_deployment_status_change(resourceArn=ENV_ARN, outputs=too_many)
    more = [{"key": f"m{n}", "valueString": "v"} for n in range(30)]
    code, message = _error(proton.notify_resource_deployment_status_change, resourceArn=ENV_ARN, outputs=more)
    assert code == "ServiceQuotaExceededException"
    assert message == "A deployment can record at most 50 outputs; this notification would make 60."
    assert proton.get_environment(name="dev")["environment"]["deploymentStatus"] == "IN_PROGRESS"
    assert len(orjson.loads(_raw_outputs(runtime, deployment_id))) == 30


def _raw_outputs(runtime: Runtime, deployment_id: str) -> str:
    with runtime.database.read() as connection:
        value: str = connection.execute(
            sa.select(deployments.c.outputs).where(deployments.c.id == deployment_id)
        ).scalar_one()
    return value


def test_outputs_reported_in_progress_survive_a_cancel_and_a_failure(
    proton: Any, runtime: Runtime, held: Any
) -> None:
    deployment_id = held["lastAttemptedDeploymentId"]
    _mark(runtime, deployment_id, "hcl", phase="handed-off")
    reported = [{"key": "PlanId", "valueString": "plan-7"}]
    proton.notify_resource_deployment_status_change(
        resourceArn=ENV_ARN, status="IN_PROGRESS", outputs=reported
    )
    cancelled = proton.cancel_environment_deployment(environmentName="dev")["environment"]
    assert cancelled["deploymentStatus"] == "CANCELLED"
    assert _deployment(proton, deployment_id)["deploymentStatus"] == "CANCELLED"
    outputs = proton.list_environment_outputs(environmentName="dev", deploymentId=deployment_id)["outputs"]
    assert outputs == reported
    assert proton.list_environment_outputs(environmentName="dev")["outputs"] == []

    # A deployment the engine ends FAILED without outputs keeps the reported ones too.
    second = proton.update_environment(name="dev", deploymentType="CURRENT_VERSION", spec=SPEC)[
        "environment"
    ]["lastAttemptedDeploymentId"]
    _mark(runtime, second, "hcl")
    proton.notify_resource_deployment_status_change(
        resourceArn=ENV_ARN, deploymentId=second, outputs=[{"key": "Step", "valueString": "apply"}]
    )
    with runtime.database.read() as connection:
        record = deployment_store.find(connection, second)
        subject = load(connection, record)
    finish(runtime, record, subject, Finish("FAILED", "git kept failing"), orjson.loads(record.progress))
    environment = proton.get_environment(name="dev")["environment"]
    assert (environment["deploymentStatus"], environment["deploymentStatusMessage"]) == (
        "FAILED",
        "git kept failing",
    )
    assert proton.list_environment_outputs(environmentName="dev", deploymentId=second)["outputs"] == [
        {"key": "Step", "valueString": "apply"}
    ]
