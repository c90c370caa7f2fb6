"""Status-change events written by real API calls and real deployments (CloudFormation in the local cloud):
the exact detail types, resources, statuses with their previous statuses and deployment ids, in order;
and the event commits or rolls back with the change it tells."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from botocore.exceptions import ClientError

from baryon.runtime import Runtime
from baryon.store.schema import events, services
from tests.api.test_environments import FAST, ROLE, SPEC, _published_env_template
from tests.api.test_services import _published_service_template
from tests.conftest import ACCOUNT
from tests.support.events import changes, outbox
from tests.support.waiting import poll

REGION = "us-east-1"
ENV_ARN = f"arn:aws:proton:{REGION}:{ACCOUNT}:environment/dev"
SERVICE_ARN = f"arn:aws:proton:{REGION}:{ACCOUNT}:service/api"
INSTANCE_ARN = f"{SERVICE_ARN}/service-instance/one"
ONE_INSTANCE = "proton: ServiceSpec\ninstances:\n  - name: one\n    environment: dev\n"


def _gone(call: Any, **kwargs: Any) -> bool:
    try:
        call(**kwargs)
    except ClientError as error:
        return error.response["Error"]["Code"] == "ResourceNotFoundException"
    return False


def test_template_version_events(proton: Any, s3: Any, worker: Any, runtime: Runtime) -> None:
    _published_env_template(proton, s3)
    arn = f"arn:aws:proton:{REGION}:{ACCOUNT}:environment-template/vpc-env:1.0"
    detail_type = "AWS Proton Environment Template Version Status Change"
    assert changes(runtime, detail_type, arn) == [
        (None, "REGISTRATION_IN_PROGRESS", None),
        ("REGISTRATION_IN_PROGRESS", "DRAFT", None),
        ("DRAFT", "PUBLISHED", None),
    ]
    published = outbox(runtime)[-1]
    assert published["detail"] == {
        "name": "vpc-env",
        "majorVersion": "1",
        "minorVersion": "0",
        "status": "PUBLISHED",
        "previousStatus": "DRAFT",
    }
    # Publishing again changes nothing, so it tells nothing.
    proton.update_environment_template_version(
        templateName="vpc-env", majorVersion="1", minorVersion="0", status="PUBLISHED"
    )
    assert len(changes(runtime, detail_type, arn)) == 3


def test_environment_events_from_create_to_delete(
    proton: Any, s3: Any, worker: Any, runtime: Runtime
) -> None:
    _published_env_template(proton, s3)
    proton.create_environment(
        name="dev", templateName="vpc-env", templateMajorVersion="1", spec=SPEC, protonServiceRoleArn=ROLE
    )
    proton.get_waiter("environment_deployed").wait(name="dev", WaiterConfig=FAST)
    first = proton.get_environment(name="dev")["environment"]["lastAttemptedDeploymentId"]
    proton.update_environment(name="dev", deploymentType="CURRENT_VERSION", spec=SPEC)
    proton.get_waiter("environment_deployed").wait(name="dev", WaiterConfig=FAST)
    second = proton.get_environment(name="dev")["environment"]["lastAttemptedDeploymentId"]
    proton.delete_environment(name="dev")
    poll(lambda: _gone(proton.get_environment, name="dev"), timeout=60, what="the environment to go")

    found = changes(runtime, "AWS Proton Environment Status Change", ENV_ARN)
    deleting = found[4][2]
    assert deleting not in (first, second)
    assert found == [
        (None, "IN_PROGRESS", first),
        ("IN_PROGRESS", "SUCCEEDED", first),
        ("SUCCEEDED", "IN_PROGRESS", second),
        ("IN_PROGRESS", "SUCCEEDED", second),
        ("SUCCEEDED", "DELETE_IN_PROGRESS", deleting),
        ("DELETE_IN_PROGRESS", "DELETED", deleting),
    ]
    created = next(e for e in outbox(runtime) if e["resources"] == [ENV_ARN])
    assert set(created) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert created["version"] == "0" and created["source"] == "aws.proton"
    assert created["account"] == ACCOUNT and created["region"] == REGION
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", created["time"])
    assert re.fullmatch(r"[0-9a-f-]{36}", created["id"])
    assert created["detail"] == {"name": "dev", "status": "IN_PROGRESS", "deploymentId": first}


def test_service_and_instance_events(proton: Any, s3: Any, worker: Any, runtime: Runtime) -> None:
    _published_env_template(proton, s3)
    proton.create_environment(
        name="dev", templateName="vpc-env", templateMajorVersion="1", spec=SPEC, protonServiceRoleArn=ROLE
    )
    proton.get_waiter("environment_deployed").wait(name="dev", WaiterConfig=FAST)
    _published_service_template(proton, s3, pipeline=False)
    proton.create_service(name="api", templateName="api-svc", templateMajorVersion="1", spec=ONE_INSTANCE)
    proton.get_waiter("service_created").wait(name="api", WaiterConfig=FAST)
    created = proton.get_service_instance(serviceName="api", name="one")["serviceInstance"]
    deployed = created["lastAttemptedDeploymentId"]
    proton.delete_service(name="api")
    poll(lambda: _gone(proton.get_service, name="api"), timeout=60, what="the service to go")

    service = changes(runtime, "AWS Proton Service Status Change", SERVICE_ARN)
    assert service == [
        (None, "CREATE_IN_PROGRESS", None),
        ("CREATE_IN_PROGRESS", "ACTIVE", None),
        ("ACTIVE", "DELETE_IN_PROGRESS", None),
        ("DELETE_IN_PROGRESS", "DELETED", None),
    ]
    instance = changes(runtime, "AWS Proton Service Instance Status Change", INSTANCE_ARN)
    deleting = instance[2][2]
    assert instance == [
        (None, "IN_PROGRESS", deployed),
        ("IN_PROGRESS", "SUCCEEDED", deployed),
        ("SUCCEEDED", "DELETE_IN_PROGRESS", deleting),
        ("DELETE_IN_PROGRESS", "DELETED", deleting),
    ]
    # The order across resources follows the transactions: the service is ACTIVE in the one that settles
    # its instance, after it; it is deleted in the one that deletes its last instance, after it.
    order = [
        (e["detail-type"].split("AWS Proton ")[1], e["detail"]["status"])
        for e in outbox(runtime)
        if e["resources"][0].startswith(SERVICE_ARN)
    ]
    assert order == [
        ("Service Status Change", "CREATE_IN_PROGRESS"),
        ("Service Instance Status Change", "IN_PROGRESS"),
        ("Service Instance Status Change", "SUCCEEDED"),
        ("Service Status Change", "ACTIVE"),
        ("Service Instance Status Change", "DELETE_IN_PROGRESS"),
        ("Service Status Change", "DELETE_IN_PROGRESS"),
        ("Service Instance Status Change", "DELETED"),
        ("Service Status Change", "DELETED"),
    ]
    detail = next(e for e in outbox(runtime) if e["resources"] == [INSTANCE_ARN])["detail"]
    assert detail == {"name": "one", "serviceName": "api", "status": "IN_PROGRESS", "deploymentId": deployed}


def test_a_failed_request_writes_neither_the_change_nor_its_event(
    proton: Any, s3: Any, worker: Any, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    _published_env_template(proton, s3)
    proton.create_environment(
        name="dev", templateName="vpc-env", templateMajorVersion="1", spec=SPEC, protonServiceRoleArn=ROLE
    )
    proton.get_waiter("environment_deployed").wait(name="dev", WaiterConfig=FAST)
    _published_service_template(proton, s3, pipeline=False)
    before = len(outbox(runtime))

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the tags could not be written")

    # CreateService writes the service and its event, then its tags, which fail.
    monkeypatch.setattr("baryon.api.services.put_tags", broken)
    with pytest.raises(ClientError) as caught:
        proton.create_service(name="api", templateName="api-svc", templateMajorVersion="1", spec=ONE_INSTANCE)
    assert caught.value.response["Error"]["Code"] == "InternalServerException"
    with runtime.database.read() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(services)).scalar() == 0
        assert connection.execute(sa.select(sa.func.count()).select_from(events)).scalar() == before

    # And the other way round: an event that cannot be written takes its change with it.
    monkeypatch.undo()

    def no_outbox(*args: Any, **kwargs: Any) -> str:
        raise RuntimeError("the outbox is unavailable")

    monkeypatch.setattr("baryon.events.outbox.emit", no_outbox)
    with pytest.raises(ClientError):
        proton.create_service(name="api", templateName="api-svc", templateMajorVersion="1", spec=ONE_INSTANCE)
    assert _gone(proton.get_service, name="api")
    assert len(outbox(runtime)) == before


def test_each_account_receives_only_its_own_events(
    proton: Any, other_account_proton: Any, s3: Any, worker: Any, runtime: Runtime
) -> None:
    from baryon.events import targets
    from tests.conftest import OTHER_ACCOUNT
    from tests.support.receiver import receiver

    with receiver() as mine, receiver() as theirs:
        with runtime.database.write() as connection:
            for account, hook in ((ACCOUNT, mine), (OTHER_ACCOUNT, theirs)):
                targets.create(
                    connection,
                    runtime.secrets,
                    target_id=runtime.ids.uuid(),
                    account_id=account,
                    url=hook.url,
                    secret=None,
                    now=runtime.clock.now(),
                )
        _published_env_template(proton, s3, name="mine")
        _published_env_template(other_account_proton, s3, name="theirs")
        poll(lambda: len(mine.received) >= 3 and len(theirs.received) >= 3, what="three events each")
        for hook, account, name in ((mine, ACCOUNT, "mine"), (theirs, OTHER_ACCOUNT, "theirs")):
            got = hook.events()
            assert {e["account"] for e in got} == {account}
            assert {e["detail"]["name"] for e in got} == {name}
            assert sorted(e["detail"]["status"] for e in got) == [
                "DRAFT",
                "PUBLISHED",
                "REGISTRATION_IN_PROGRESS",
            ]


def test_environment_account_connection_events_go_to_the_environment_account(
    proton: Any, other_account_proton: Any, runtime: Runtime
) -> None:
    from tests.conftest import OTHER_ACCOUNT

    created = other_account_proton.create_environment_account_connection(
        managementAccountId=ACCOUNT, environmentName="prod", roleArn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/p"
    )["environmentAccountConnection"]
    proton.accept_environment_account_connection(id=created["id"])
    proton.accept_environment_account_connection(id=created["id"])  # no change, no event
    other_account_proton.delete_environment_account_connection(id=created["id"])
    told = [e for e in outbox(runtime) if e["detail-type"].endswith("Account Connection Status Change")]
    assert {e["account"] for e in told} == {OTHER_ACCOUNT}
    assert {tuple(e["resources"]) for e in told} == {(created["arn"],)}
    assert [(e["detail"]["id"], e["detail"].get("previousStatus"), e["detail"]["status"]) for e in told] == [
        (created["id"], None, "PENDING"),
        (created["id"], "PENDING", "CONNECTED"),
        (created["id"], "CONNECTED", "DELETED"),
    ]


def test_a_cancelled_deployment_tells_cancelling_then_cancelled(
    proton: Any, s3: Any, runtime: Runtime
) -> None:
    from tests.support import bundles
    from tests.support.publishing import upload
    from tests.support.stepping import Engine

    engine = Engine(runtime)
    proton.create_environment_template(name="vpc-env")
    proton.create_environment_template_version(
        templateName="vpc-env", source=upload(s3, bundles.environment_bundle())
    )
    engine.run_due()
    proton.update_environment_template_version(
        templateName="vpc-env", majorVersion="1", minorVersion="0", status="PUBLISHED"
    )
    proton.create_environment(
        name="dev", templateName="vpc-env", templateMajorVersion="1", spec=SPEC, protonServiceRoleArn=ROLE
    )
    # No worker ran the deployment yet: the cancel takes effect before any provisioner acts.
    cancelled = proton.cancel_environment_deployment(environmentName="dev")["environment"]
    deployment_id = cancelled["lastAttemptedDeploymentId"]
    engine.run_due()
    assert proton.get_environment(name="dev")["environment"]["deploymentStatus"] == "CANCELLED"
    assert changes(runtime, "AWS Proton Environment Status Change", ENV_ARN) == [
        (None, "IN_PROGRESS", deployment_id),
        ("IN_PROGRESS", "CANCELLING", deployment_id),
        ("CANCELLING", "CANCELLED", deployment_id),
    ]
    last = outbox(runtime)[-1]["detail"]
    assert last["statusMessage"] == "User initiated cancellation."


def test_pipeline_and_component_events(proton: Any, s3: Any, worker: Any, runtime: Runtime) -> None:
    from tests.api.test_components import COMPONENT_ROLE, MANIFEST, TEMPLATE
    from tests.api.test_services import SERVICE_SPEC

    _published_env_template(proton, s3)
    proton.create_environment(
        name="dev",
        templateName="vpc-env",
        templateMajorVersion="1",
        spec=SPEC,
        protonServiceRoleArn=ROLE,
        componentRoleArn=COMPONENT_ROLE,
    )
    proton.get_waiter("environment_deployed").wait(name="dev", WaiterConfig=FAST)
    # The environment's metadata update deploys nothing and tells nothing.
    proton.update_environment(name="dev", deploymentType="NONE", description="the dev environment")
    _published_service_template(proton, s3)
    proton.update_account_settings(pipelineServiceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/pipeline")
    proton.create_service(name="api", templateName="api-svc", templateMajorVersion="1", spec=SERVICE_SPEC)
    proton.get_waiter("service_created").wait(name="api", WaiterConfig=FAST)
    pipeline = proton.get_service(name="api")["service"]["pipeline"]["lastAttemptedDeploymentId"]
    # The pipeline's ARN is its deployments' target ARN.
    assert changes(runtime, "AWS Proton Service Pipeline Status Change", f"{SERVICE_ARN}/pipeline") == [
        (None, "IN_PROGRESS", pipeline),
        ("IN_PROGRESS", "SUCCEEDED", pipeline),
    ]
    told = next(e for e in outbox(runtime) if e["detail-type"] == "AWS Proton Service Pipeline Status Change")
    assert told["detail"] == {"serviceName": "api", "status": "IN_PROGRESS", "deploymentId": pipeline}

    proton.create_component(name="cache", environmentName="dev", manifest=MANIFEST, templateFile=TEMPLATE)
    proton.get_waiter("component_deployed").wait(name="cache", WaiterConfig=FAST)
    component = proton.get_component(name="cache")["component"]["lastAttemptedDeploymentId"]
    arn = f"arn:aws:proton:{REGION}:{ACCOUNT}:component/cache"
    assert changes(runtime, "AWS Proton Component Status Change", arn) == [
        (None, "IN_PROGRESS", component),
        ("IN_PROGRESS", "SUCCEEDED", component),
    ]
    environment = changes(runtime, "AWS Proton Environment Status Change", ENV_ARN)
    assert [(previous, status) for previous, status, _ in environment] == [
        (None, "IN_PROGRESS"),
        ("IN_PROGRESS", "SUCCEEDED"),
    ]
