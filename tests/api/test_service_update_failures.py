"""UpdateService's failure handling (reference §1.6, §5.2): a new instance that fails rolls the update back,
a removal that fails completes the update with UPDATE_COMPLETE_CLEANUP_FAILED, a pipeline that fails
leaves UPDATE_FAILED; the `service_updated` waiter ends on these statuses as Proton's does.

Everything is deployed through CloudFormation in the moto server. A new instance fails by rendering
(its spec asks for an environment output that does not exist). An instance cannot be deleted when its
stack holds an IAM role to which a managed policy was attached out of band: moto, like AWS, refuses to
delete such a role (DeleteConflict); moto reports it as an error of DeleteStack rather than as a
DELETE_FAILED stack, and Baryon settles the deletion DELETE_FAILED with that reason either way.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import WaiterError

from baryon.config import Settings
from baryon.engine import subjects
from baryon.engine.settle import Finish, record_finish
from baryon.engine.worker import Worker
from baryon.runtime import Runtime, open_runtime
from baryon.store import deployments as deployment_store
from tests.api.test_environments import FAST, ROLE, SPEC, _published_env_template
from tests.conftest import ACCOUNT, SECRET_KEY
from tests.support import bundles
from tests.support.databases import sqlite_only
from tests.support.errors import error_of as _error
from tests.support.events import changes
from tests.support.publishing import publish_service_template
from tests.support.waiters import PATIENT
from tests.support.waiting import describe, poll

PIPELINE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/pipeline"
SERVICE_SPEC = bundles.SERVICE_SPEC
NO_PIPELINE_SPEC = """proton: ServiceSpec
instances:
  - name: front
    environment: dev
"""


def _instance(name: str, **inputs: Any) -> str:
    block = f"  - name: {name}\n    environment: dev\n"
    if inputs:
        block += "    spec:\n" + "".join(
            f"      {key}: {json.dumps(value)}\n" for key, value in inputs.items()
        )
    return block


def _waiter_failure(proton: Any, name: str) -> tuple[str, str]:
    """Run `service_updated`; return (status it ended on, botocore's reason) for a failure."""
    with pytest.raises(WaiterError) as caught:
        proton.get_waiter("service_updated").wait(name=name, WaiterConfig=PATIENT)
    return caught.value.last_response["service"]["status"], str(caught.value)


def _published_template(proton: Any, s3: Any, *, pipeline: bool = True) -> None:
    bundle = bundles.failing_service_bundle(pipeline=pipeline)
    publish_service_template(proton, s3, "api-svc", bundle, pipeline=pipeline)


@pytest.fixture
def svc() -> str:
    """A service name of this test's own (the moto server outlives the test)."""
    return f"api-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def environment(proton: Any, s3: Any, worker: Any) -> str:
    _published_env_template(proton, s3)
    proton.create_environment(
        name="dev", templateName="vpc-env", templateMajorVersion="1", spec=SPEC, protonServiceRoleArn=ROLE
    )
    proton.get_waiter("environment_deployed").wait(name="dev", WaiterConfig=FAST)
    proton.update_account_settings(pipelineServiceRoleArn=PIPELINE_ROLE)
    return "dev"


def _aws(service: str) -> Any:
    """A client of the moto account the environment's role provisions into."""
    keys = boto3.client("sts", region_name="us-east-1").assume_role(RoleArn=ROLE, RoleSessionName="tests")[
        "Credentials"
    ]
    return boto3.client(
        service,
        region_name="us-east-1",
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
    )


@pytest.fixture
def pin() -> Iterator[Callable[[str], Callable[[], None]]]:
    """Attach a managed policy to an IAM role (so that it cannot be deleted); returns the undo."""
    iam = _aws("iam")
    attached: list[tuple[str, str]] = []
    roles: set[str] = set()

    def attach(role: str) -> Callable[[], None]:
        roles.add(role)
        policy = iam.create_policy(
            PolicyName=f"keep-{uuid.uuid4().hex[:8]}",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
                }
            ),
        )["Policy"]["Arn"]
        iam.attach_role_policy(RoleName=role, PolicyArn=policy)
        attached.append((role, policy))

        def detach() -> None:
            iam.detach_role_policy(RoleName=role, PolicyArn=policy)
            attached.remove((role, policy))

        return detach

    yield attach
    for role, policy in list(attached):
        iam.detach_role_policy(RoleName=role, PolicyArn=policy)
    # moto keeps a role whose stack deletion it refused even after a later deletion of the stack
    # succeeds; remove it so that the next test can create a role of the same name.
    for role in roles:
        with contextlib.suppress(iam.exceptions.NoSuchEntityException):
            iam.delete_role(RoleName=role)


def _live_stacks(prefix: str) -> list[str]:
    summaries = _aws("cloudformation").list_stacks()["StackSummaries"]
    return [
        s["StackName"]
        for s in summaries
        if s["StackName"].startswith(prefix) and "DELETE" not in s["StackStatus"]
    ]


def _instances(proton: Any, svc: str) -> list[tuple[str, str]]:
    listed = proton.list_service_instances(serviceName=svc)["serviceInstances"]
    return [(i["name"], i["deploymentStatus"]) for i in listed]


def _deployments(proton: Any, svc: str, instance: str) -> list[dict[str, Any]]:
    """The deployments of an instance (also after it is gone), oldest first."""
    listed = proton.list_deployments(serviceName=svc, serviceInstanceName=instance)["deployments"]
    return sorted(listed, key=lambda d: d["createdAt"])


def _outputs(proton: Any, svc: str) -> dict[str, str]:
    outputs = proton.list_service_pipeline_outputs(serviceName=svc)["outputs"]
    return {o["key"]: o["valueString"] for o in outputs}


def _create(proton: Any, svc: str, spec: str) -> dict[str, Any]:
    proton.create_service(name=svc, templateName="api-svc", templateMajorVersion="1", spec=spec)
    proton.get_waiter("service_created").wait(name=svc, WaiterConfig=PATIENT)
    service: dict[str, Any] = proton.get_service(name=svc)["service"]
    assert service["status"] == "ACTIVE"
    return service


def _status(proton: Any, svc: str) -> str:
    return str(proton.get_service(name=svc)["service"]["status"])


def _drive(engine: Worker, done: Callable[[], bool], timeout: float = 180.0) -> None:
    """Run the engine's jobs one step at a time until `done()`."""

    def progress() -> bool:
        for _ in range(100):  # every due step, without pausing between them
            if done() or not engine.run_once():
                break
        return done()

    poll(progress, timeout=timeout, what=f"the deployments to reach {describe(done)}")


@sqlite_only
def test_failed_new_instance_rolls_the_update_back(
    proton: Any, s3: Any, environment: str, svc: str, runtime: Runtime
) -> None:
    _published_template(proton, s3)
    before = _create(proton, svc, SERVICE_SPEC)["pipeline"]
    assert _outputs(proton, svc)["Instances"] == "back,front"

    # Keep front, remove back, add good (deploys) and bad (fails to render).
    edited = SERVICE_SPEC.replace(
        _instance("back"), _instance("good", port=1) + _instance("bad", broken=True)
    )
    updated = proton.update_service(name=svc, spec=edited)["service"]
    assert updated["status"] == "UPDATE_IN_PROGRESS"
    assert updated["spec"] == edited
    assert updated["pipeline"]["deploymentStatus"] == "IN_PROGRESS"
    cancelled_id = updated["pipeline"]["lastAttemptedDeploymentId"]
    assert cancelled_id != before["lastAttemptedDeploymentId"]

    status, reason = _waiter_failure(proton, svc)
    assert status == "UPDATE_FAILED_CLEANUP_COMPLETE"
    assert "terminal failure state" in reason

    service = proton.get_service(name=svc)["service"]
    assert proton.get_resources_summary()["counts"]["services"]["failed"] == 1
    bad_create = _deployments(proton, svc, "bad")[0]
    assert bad_create["deploymentStatus"] == "FAILED"
    assert bad_create["targetArn"].endswith(f":service/{svc}/service-instance/bad")
    bad_reason = proton.get_deployment(id=bad_create["id"])["deployment"]["deploymentStatusMessage"]
    assert "NoSuchOutput" in bad_reason and "instance_infrastructure/cloudformation.yaml" in bad_reason
    assert service["statusMessage"] == f"service instance bad could not be created: {bad_reason}"
    # The edit is reverted; the removal of back went ahead, and the spec follows the instances.
    assert yaml.safe_load(service["spec"]) == yaml.safe_load(SERVICE_SPEC.replace(_instance("back"), ""))
    # The instances this update created are de-provisioned; the removal went ahead as asked.
    assert _instances(proton, svc) == [("front", "SUCCEEDED")]
    good = _deployments(proton, svc, "good")
    assert [d["deploymentStatus"] for d in good] == ["SUCCEEDED", "DELETE_COMPLETE"]
    assert [d["deploymentStatus"] for d in _deployments(proton, svc, "bad")] == ["FAILED", "DELETE_COMPLETE"]
    assert [d["deploymentStatus"] for d in _deployments(proton, svc, "back")][-1] == "DELETE_COMPLETE"
    assert _live_stacks(f"AWSProton-{svc}-good") == []
    assert _live_stacks(f"AWSProton-{svc}-back") == []
    assert len(_live_stacks(f"AWSProton-{svc}-front")) == 1

    # The pipeline is not re-provisioned: its pending deployment is cancelled, its state is untouched.
    pipeline = service["pipeline"]
    message = (
        "Not deployed: the service update was rolled back because service instance(s) bad could not be "
        "created."
    )
    assert pipeline["deploymentStatus"] == "CANCELLED"
    assert pipeline["deploymentStatusMessage"] == message
    assert pipeline["lastAttemptedDeploymentId"] == cancelled_id
    assert pipeline["lastSucceededDeploymentId"] == before["lastSucceededDeploymentId"]
    assert pipeline["spec"] == before["spec"]
    assert (pipeline["templateMajorVersion"], pipeline["templateMinorVersion"]) == ("1", "0")
    assert _outputs(proton, svc)["Instances"] == "back,front"
    record = proton.get_deployment(id=cancelled_id)["deployment"]
    assert (record["deploymentStatus"], record["deploymentStatusMessage"]) == ("CANCELLED", message)
    assert "completedAt" in record

    # Each status change was an event, with the status before it.
    service_arn = f"arn:aws:proton:us-east-1:{ACCOUNT}:service/{svc}"
    assert [c[:2] for c in changes(runtime, "AWS Proton Service Status Change", service_arn)] == [
        (None, "CREATE_IN_PROGRESS"),
        ("CREATE_IN_PROGRESS", "ACTIVE"),
        ("ACTIVE", "UPDATE_IN_PROGRESS"),
        ("UPDATE_IN_PROGRESS", "UPDATE_FAILED_CLEANUP_IN_PROGRESS"),
        ("UPDATE_FAILED_CLEANUP_IN_PROGRESS", "UPDATE_FAILED_CLEANUP_COMPLETE"),
    ]
    pipeline_changes = changes(
        runtime, "AWS Proton Service Pipeline Status Change", f"{service_arn}/pipeline"
    )
    assert pipeline_changes[-2:] == [
        ("SUCCEEDED", "IN_PROGRESS", cancelled_id),
        ("IN_PROGRESS", "CANCELLED", cancelled_id),
    ]
    bad_arn = f"{service_arn}/service-instance/bad"
    bad_changes = changes(runtime, "AWS Proton Service Instance Status Change", bad_arn)
    assert [c[:2] for c in bad_changes] == [
        (None, "IN_PROGRESS"),
        ("IN_PROGRESS", "FAILED"),
        ("FAILED", "DELETE_IN_PROGRESS"),
        ("DELETE_IN_PROGRESS", "DELETED"),
    ]
    assert bad_changes[0][2] == bad_changes[1][2] == bad_create["id"]

    # A description-only update leaves the status alone.
    described = proton.update_service(name=svc, description="rolled back once")["service"]
    assert (described["status"], described["statusMessage"]) == (
        "UPDATE_FAILED_CLEANUP_COMPLETE",
        service["statusMessage"],
    )

    # The service can be updated again, and this time the update completes.
    fixed = SERVICE_SPEC.replace(_instance("back"), _instance("good", port=1))
    assert proton.update_service(name=svc, spec=fixed)["service"]["status"] == "UPDATE_IN_PROGRESS"
    proton.get_waiter("service_updated").wait(name=svc, WaiterConfig=PATIENT)
    service = proton.get_service(name=svc)["service"]
    assert (service["status"], service.get("statusMessage"), service["spec"]) == ("ACTIVE", None, fixed)
    assert service["pipeline"]["deploymentStatus"] == "SUCCEEDED"
    assert _outputs(proton, svc)["Instances"] == "front,good"
    assert _instances(proton, svc) == [("front", "SUCCEEDED"), ("good", "SUCCEEDED")]


@sqlite_only
def test_failed_cleanup_deletion_without_a_pipeline(
    proton: Any,
    s3: Any,
    environment: str,
    svc: str,
    worker: Worker,
    runtime: Runtime,
    database_url: str,
    tmp_path: Path,
    pin: Callable[[str], Callable[[], None]],
) -> None:
    _published_template(proton, s3, pipeline=False)
    _create(proton, svc, NO_PIPELINE_SPEC)
    worker.stop()  # from here on the test runs the engine's jobs one step at a time
    engine = Worker(runtime)

    edited = NO_PIPELINE_SPEC + _instance("good", pinned_role=True) + _instance("bad", broken=True)
    assert proton.update_service(name=svc, spec=edited)["service"]["status"] == "UPDATE_IN_PROGRESS"
    _drive(engine, lambda: _status(proton, svc) != "UPDATE_IN_PROGRESS")

    # The creations have settled; the rollback started in the same transaction as the last of them.
    service = proton.get_service(name=svc)["service"]
    assert service["status"] == "UPDATE_FAILED_CLEANUP_IN_PROGRESS"
    assert service["statusMessage"].startswith("service instance bad could not be created: ")
    assert service["spec"] == NO_PIPELINE_SPEC
    assert "pipeline" not in service
    assert _instances(proton, svc) == [
        ("bad", "DELETE_IN_PROGRESS"),
        ("front", "SUCCEEDED"),
        ("good", "DELETE_IN_PROGRESS"),
    ]
    with pytest.raises(WaiterError) as caught:
        proton.get_waiter("service_updated").wait(name=svc, WaiterConfig={"Delay": 1, "MaxAttempts": 1})
    assert "Max attempts exceeded" in str(caught.value), "the clean-up in progress is not a final status"
    for call, kwargs in (
        (proton.update_service, {"name": svc, "spec": NO_PIPELINE_SPEC}),
        (proton.delete_service, {"name": svc}),
        (
            proton.update_service_instance,
            {"serviceName": svc, "name": "good", "deploymentType": "CURRENT_VERSION"},
        ),
    ):
        code, message = _error(call, **kwargs)
        assert code == "ConflictException", message
    assert "UPDATE_FAILED_CLEANUP_IN_PROGRESS" in _error(proton.delete_service, name=svc)[1]

    # Something outside Baryon now holds on to good's role, so deleting good's stack fails.
    unpin = pin(f"{svc}-good-role")
    # The rest is finished by another process's engine, from what the database holds.
    other = open_runtime(
        Settings(data_dir=tmp_path / "other", database_url=database_url, secret_key=SECRET_KEY)
    )
    try:
        _drive(Worker(other), lambda: not _status(proton, svc).endswith("IN_PROGRESS"))
    finally:
        other.close()
    service = proton.get_service(name=svc)["service"]
    assert service["status"] == "UPDATE_FAILED_CLEANUP_FAILED"
    good_delete = _deployments(proton, svc, "good")[-1]
    good_reason = proton.get_deployment(id=good_delete["id"])["deployment"]["deploymentStatusMessage"]
    assert "DeleteConflict: Cannot delete entity, must detach all policies first." in good_reason
    first, second = service["statusMessage"].split("; ")
    assert first.startswith("service instance bad could not be created: ") and "NoSuchOutput" in first
    assert second == f"service instance good could not be deleted during the clean-up: {good_reason}"
    assert _instances(proton, svc) == [("front", "SUCCEEDED"), ("good", "DELETE_FAILED")]
    assert service["spec"] == NO_PIPELINE_SPEC
    status, _ = _waiter_failure(proton, svc)
    assert status == "UPDATE_FAILED_CLEANUP_FAILED"

    # Once the policy is detached, updating the service again retries the deletion, and it completes.
    unpin()
    engine = Worker(runtime, concurrency=1, poll_interval=0.05)
    engine.start()
    try:
        assert (
            proton.update_service(name=svc, spec=NO_PIPELINE_SPEC)["service"]["status"]
            == "UPDATE_IN_PROGRESS"
        )
        proton.get_waiter("service_updated").wait(name=svc, WaiterConfig=PATIENT)
        assert _instances(proton, svc) == [("front", "SUCCEEDED")]
        proton.delete_service(name=svc)
        proton.get_waiter("service_deleted").wait(name=svc, WaiterConfig=PATIENT)
    finally:
        engine.stop()


@sqlite_only
def test_failed_removal_completes_the_update_with_cleanup_failed(
    proton: Any, s3: Any, environment: str, svc: str, pin: Callable[[str], Callable[[], None]]
) -> None:
    _published_template(proton, s3)
    spec = SERVICE_SPEC.replace(_instance("back"), _instance("pinned", pinned_role=True))
    before = _create(proton, svc, spec)["pipeline"]
    assert _outputs(proton, svc)["Instances"] == "front,pinned"
    unpin = pin(f"{svc}-pinned-role")

    edited = spec.replace(_instance("pinned", pinned_role=True), _instance("extra", port=2))
    updated = proton.update_service(name=svc, spec=edited)["service"]
    status, _ = _waiter_failure(proton, svc)
    assert status == "UPDATE_COMPLETE_CLEANUP_FAILED"

    service = proton.get_service(name=svc)["service"]
    removal = _deployments(proton, svc, "pinned")[-1]
    assert removal["deploymentStatus"] == "DELETE_FAILED"
    reason = proton.get_deployment(id=removal["id"])["deployment"]["deploymentStatusMessage"]
    assert "DeleteConflict: Cannot delete entity, must detach all policies first." in reason
    assert service["statusMessage"] == f"service instance pinned could not be deleted: {reason}"
    assert service["spec"] == edited, "the spec is updated anyway"
    assert _instances(proton, svc) == [
        ("extra", "SUCCEEDED"),
        ("front", "SUCCEEDED"),
        ("pinned", "DELETE_FAILED"),
    ]
    # The pipeline is re-provisioned without the instance being removed.
    pipeline = service["pipeline"]
    assert pipeline["deploymentStatus"] == "SUCCEEDED"
    assert pipeline["lastSucceededDeploymentId"] == updated["pipeline"]["lastAttemptedDeploymentId"]
    assert pipeline["lastSucceededDeploymentId"] != before["lastSucceededDeploymentId"]
    assert _outputs(proton, svc)["Instances"] == "extra,front"

    # After the policy is detached, the next update retries the removal and the service becomes ACTIVE.
    unpin()
    proton.update_service(name=svc, spec=edited)
    proton.get_waiter("service_updated").wait(name=svc, WaiterConfig=PATIENT)
    service = proton.get_service(name=svc)["service"]
    assert (service["status"], service.get("statusMessage")) == ("ACTIVE", None)
    assert _instances(proton, svc) == [("extra", "SUCCEEDED"), ("front", "SUCCEEDED")]
    assert _outputs(proton, svc)["Instances"] == "extra,front"


@sqlite_only
def test_failed_pipeline_is_update_failed_without_rollback(
    proton: Any, s3: Any, environment: str, svc: str
) -> None:
    _published_template(proton, s3)
    before = _create(proton, svc, SERVICE_SPEC)["pipeline"]

    edited = SERVICE_SPEC + _instance("odd", breaks_pipeline=True)
    updated = proton.update_service(name=svc, spec=edited)["service"]
    status, _ = _waiter_failure(proton, svc)
    assert status == "UPDATE_FAILED"

    service = proton.get_service(name=svc)["service"]
    pipeline = service["pipeline"]
    assert pipeline["deploymentStatus"] == "FAILED"
    assert pipeline["lastAttemptedDeploymentId"] == updated["pipeline"]["lastAttemptedDeploymentId"]
    assert pipeline["lastSucceededDeploymentId"] == before["lastSucceededDeploymentId"]
    assert "NoSuchOutput" in pipeline["deploymentStatusMessage"]
    assert service["statusMessage"] == (
        f"the pipeline could not be deployed: {pipeline['deploymentStatusMessage']}"
    )
    # No rollback: the new instance stays and so does the new spec.
    assert service["spec"] == edited
    assert _instances(proton, svc) == [("back", "SUCCEEDED"), ("front", "SUCCEEDED"), ("odd", "SUCCEEDED")]
    assert _outputs(proton, svc)["Instances"] == "back,front"
    # The service is not blocked: removing the instance again deploys the pipeline, and all is well.
    proton.update_service(name=svc, spec=SERVICE_SPEC)
    proton.get_waiter("service_updated").wait(name=svc, WaiterConfig=PATIENT)
    service = proton.get_service(name=svc)["service"]
    assert (service["status"], service["pipeline"]["deploymentStatus"]) == ("ACTIVE", "SUCCEEDED")
    assert _instances(proton, svc) == [("back", "SUCCEEDED"), ("front", "SUCCEEDED")]


def test_update_statuses_without_deployments(proton: Any, s3: Any, environment: str, svc: str) -> None:
    _published_template(proton, s3, pipeline=False)
    _create(proton, svc, NO_PIPELINE_SPEC)
    described = proton.update_service(name=svc, description="only words")["service"]
    assert (described["status"], described["description"]) == ("ACTIVE", "only words")
    # A spec that adds and removes nothing deploys nothing: the update is complete at once.
    same = NO_PIPELINE_SPEC + "# reformatted\n"
    updated = proton.update_service(name=svc, spec=same)["service"]
    assert (updated["status"], updated["spec"]) == ("ACTIVE", same)
    proton.get_waiter("service_updated").wait(name=svc, WaiterConfig=PATIENT)


def test_two_creations_settling_at_once_still_roll_back(
    proton: Any, s3: Any, environment: str, svc: str, worker: Worker, runtime: Runtime
) -> None:
    """The outcome is decided by whichever of the last two settlements commits second, even when both
    run at the same time (each then waits for the other's lock on the service row)."""
    _published_template(proton, s3, pipeline=False)
    _create(proton, svc, NO_PIPELINE_SPEC)
    worker.stop()
    edited = NO_PIPELINE_SPEC + _instance("x") + _instance("y")
    proton.update_service(name=svc, spec=edited)
    records = {}
    with runtime.database.read() as connection:
        for name in ("x", "y"):
            record = deployment_store.find(connection, _deployments(proton, svc, name)[0]["id"])
            records[name] = (record, subjects.load(connection, record))
    first_settled = threading.Event()
    errors: list[BaseException] = []

    def settle(name: str, finish: Finish, hold: float) -> None:
        try:
            with runtime.database.write() as connection:
                record, subject = records[name]
                assert record_finish(connection, runtime.clock.now(), record, subject, finish, {})
                first_settled.set()
                time.sleep(hold)  # keep the transaction open while the other one settles
        except BaseException as error:  # reported below
            errors.append(error)
            first_settled.set()

    failing = threading.Thread(target=settle, args=("y", Finish("FAILED", "boom"), 1.0))
    failing.start()
    first_settled.wait(10)
    succeeding = threading.Thread(target=settle, args=("x", Finish("SUCCEEDED", None, [], []), 0.0))
    succeeding.start()
    failing.join()
    succeeding.join()
    assert errors == []
    service = proton.get_service(name=svc)["service"]
    assert (service["status"], service["statusMessage"]) == (
        "UPDATE_FAILED_CLEANUP_IN_PROGRESS",
        "service instance y could not be created: boom",
    )
    assert service["spec"] == NO_PIPELINE_SPEC
    engine = Worker(runtime, concurrency=1, poll_interval=0.05)
    engine.start()
    try:
        status, _ = _waiter_failure(proton, svc)
    finally:
        engine.stop()
    assert status == "UPDATE_FAILED_CLEANUP_COMPLETE"
    assert _instances(proton, svc) == [("front", "SUCCEEDED")]
