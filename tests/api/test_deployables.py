"""What every deployable kind shares, seen through a real boto3 client: how far instances are behind their
template's recommended version (one definition for ListServiceInstances and GetResourcesSummary, per
account), a service's spec following its instances, inputs the schema does not define, and the wire
shape of deployment states."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError

from tests.api.test_environments import FAST, ROLE, SPEC, _published_env_template
from tests.api.test_services import SERVICE_SPEC, _published_service_template
from tests.conftest import ACCOUNT, OTHER_ACCOUNT
from tests.support import bundles


def _error(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def _deployed_environment(client: Any, s3: Any, role: str) -> None:
    _published_env_template(client, s3)
    client.create_environment(
        name="dev", templateName="vpc-env", templateMajorVersion="1", spec=SPEC, protonServiceRoleArn=role
    )
    client.get_waiter("environment_deployed").wait(name="dev", WaiterConfig=FAST)


def _publish_service_version(client: Any, s3: Any, major: str | None) -> str:
    """Register and publish the next version of service template api-svc in major `major` (None: a new
    major); its number."""
    key = f"{uuid.uuid4().hex}.tar.gz"
    s3.put_object(Bucket="bundles", Key=key, Body=bundles.service_bundle(pipeline=False))
    version = client.create_service_template_version(
        templateName="api-svc",
        **({"majorVersion": major} if major else {}),
        compatibleEnvironmentTemplates=[{"templateName": "vpc-env", "majorVersion": "1"}],
        source={"s3": {"bucket": "bundles", "key": key}},
    )["serviceTemplateVersion"]
    major, minor = version["majorVersion"], version["minorVersion"]
    client.get_waiter("service_template_version_registered").wait(
        templateName="api-svc", majorVersion=major, minorVersion=minor, WaiterConfig=FAST
    )
    client.update_service_template_version(
        templateName="api-svc", majorVersion=major, minorVersion=minor, status="PUBLISHED"
    )
    return f"{major}.{minor}"


def _service_on(client: Any, name: str, major: str, minor: str) -> None:
    spec = f"proton: ServiceSpec\ninstances:\n  - name: {name}1\n    environment: dev\n"
    client.create_service(
        name=name, templateName="api-svc", templateMajorVersion=major, templateMinorVersion=minor, spec=spec
    )
    client.get_waiter("service_created").wait(name=name, WaiterConfig=FAST)


def _by_status(client: Any, status: str) -> list[tuple[str, str]]:
    filters = [{"key": "deployedTemplateVersionStatus", "value": status}]
    listed = client.list_service_instances(filters=filters)["serviceInstances"]
    return [(item["serviceName"], item["name"]) for item in listed]


def test_version_status_is_one_definition_per_account(
    proton: Any, other_account_proton: Any, s3: Any, worker: Any
) -> None:
    # This account: api-svc 1.0, 2.0 and 2.1 (recommended); one instance on each.
    _deployed_environment(proton, s3, ROLE)
    _published_service_template(proton, s3, pipeline=False)
    assert _publish_service_version(proton, s3, None) == "2.0"
    _service_on(proton, "a", "1", "0")
    _service_on(proton, "b", "2", "0")
    assert _publish_service_version(proton, s3, "2") == "2.1"
    _service_on(proton, "c", "2", "1")
    # The other account: its own api-svc with 1.0 only (recommended there), one instance on it.
    _deployed_environment(other_account_proton, s3, f"arn:aws:iam::{OTHER_ACCOUNT}:role/proton-service")
    _published_service_template(other_account_proton, s3, pipeline=False)
    _service_on(other_account_proton, "a", "1", "0")

    assert _by_status(proton, "UP_TO_DATE") == [("c", "c1")]
    assert _by_status(proton, "BEHIND_MINOR") == [("b", "b1")]
    assert _by_status(proton, "BEHIND_MAJOR") == [("a", "a1")]
    assert _by_status(other_account_proton, "UP_TO_DATE") == [("a", "a1")]
    assert _by_status(other_account_proton, "BEHIND_MINOR") == []
    assert _by_status(other_account_proton, "BEHIND_MAJOR") == []
    counts = proton.get_resources_summary()["counts"]["serviceInstances"]
    assert counts == {"total": 3, "upToDate": 1, "behindMinor": 1, "behindMajor": 1, "failed": 0}
    other = other_account_proton.get_resources_summary()["counts"]["serviceInstances"]
    assert other == {"total": 1, "upToDate": 1, "behindMinor": 0, "behindMajor": 0, "failed": 0}
    code, message = _error(
        proton.list_service_instances, filters=[{"key": "deployedTemplateVersionStatus", "value": "LATEST"}]
    )
    assert (code, message) == (
        "ValidationException",
        "deployedTemplateVersionStatus must be UP_TO_DATE, BEHIND_MINOR or BEHIND_MAJOR.",
    )


@pytest.fixture
def environment(proton: Any, s3: Any, worker: Any) -> str:
    _deployed_environment(proton, s3, ROLE)
    return "dev"


def test_service_spec_follows_its_instances(proton: Any, s3: Any, worker: Any, environment: str) -> None:
    _published_service_template(proton, s3)
    proton.update_account_settings(pipelineServiceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/pipeline")
    proton.create_service(name="api", templateName="api-svc", templateMajorVersion="1", spec=SERVICE_SPEC)
    proton.get_waiter("service_created").wait(name="api", WaiterConfig=FAST)
    assert proton.get_service(name="api")["service"]["spec"] == SERVICE_SPEC, "unchanged text stays as given"

    proton.update_service_instance(
        serviceName="api",
        name="front",
        deploymentType="CURRENT_VERSION",
        spec=SERVICE_SPEC.replace("port: 8080", "port: 9090"),
    )
    proton.get_waiter("service_instance_deployed").wait(serviceName="api", name="front", WaiterConfig=FAST)
    spec = proton.get_service(name="api")["service"]["spec"]
    assert yaml.safe_load(spec) == {
        "proton": "ServiceSpec",
        "pipeline": {"dockerfile": "Dockerfile"},
        "instances": [
            {"name": "front", "environment": "dev", "spec": {"port": 9090}},
            {"name": "back", "environment": "dev"},
        ],
    }

    # The ordinary workflow: take the spec from GetService, add an instance, UpdateService.
    edited = spec + "- name: extra\n  environment: dev\n  spec:\n    port: 7\n"
    assert proton.update_service(name="api", spec=edited)["service"]["status"] == "UPDATE_IN_PROGRESS"
    proton.get_waiter("service_updated").wait(name="api", WaiterConfig=FAST)
    listed = proton.list_service_instances(serviceName="api")["serviceInstances"]
    assert [(i["name"], i["deploymentStatus"]) for i in listed] == [
        ("back", "SUCCEEDED"),
        ("extra", "SUCCEEDED"),
        ("front", "SUCCEEDED"),
    ]
    assert proton.get_service(name="api")["service"]["spec"] == edited

    # An instance added by CreateServiceInstance shows in the service's spec too.
    proton.create_service_instance(
        serviceName="api", name="more", spec=SERVICE_SPEC + "  - name: more\n    environment: dev\n"
    )
    proton.get_waiter("service_instance_deployed").wait(serviceName="api", name="more", WaiterConfig=FAST)
    names = [
        i["name"] for i in yaml.safe_load(proton.get_service(name="api")["service"]["spec"])["instances"]
    ]
    assert names == ["front", "back", "extra", "more"]

    # The pipeline section follows the pipeline's inputs (UpdateServicePipeline).
    proton.update_service_pipeline(
        serviceName="api", deploymentType="CURRENT_VERSION", spec="dockerfile: Dockerfile-prod\n"
    )
    proton.get_waiter("service_pipeline_deployed").wait(name="api", WaiterConfig=FAST)
    assert yaml.safe_load(proton.get_service(name="api")["service"]["spec"])["pipeline"] == {
        "dockerfile": "Dockerfile-prod"
    }

    # Changing an instance's inputs through UpdateService is still refused.
    changed = edited.replace("port: 7", "port: 8")
    assert _error(proton.update_service, name="api", spec=changed) == (
        "ValidationException",
        "UpdateService cannot change the inputs of service instance extra; use UpdateServiceInstance.",
    )


UNDEFINED_SPEC = """proton: ServiceSpec
pipeline:
  dockerfile: Dockerfile
  packaging_commands: zip -r function.zip .
instances:
  - name: front
    environment: dev
    spec:
      port: 8080
      packaging_commands: zip -r function.zip .
"""


def test_inputs_the_schema_does_not_define_are_kept_with_a_warning(
    proton: Any, s3: Any, worker: Any, environment: str
) -> None:
    _published_service_template(proton, s3)
    proton.update_account_settings(pipelineServiceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/pipeline")
    created = proton.create_service(
        name="api", templateName="api-svc", templateMajorVersion="1", spec=UNDEFINED_SPEC
    )["service"]
    proton.get_waiter("service_created").wait(name="api", WaiterConfig=FAST)
    service = proton.get_service(name="api")["service"]
    assert service["status"] == "ACTIVE" and service["spec"] == UNDEFINED_SPEC
    instance = proton.get_service_instance(serviceName="api", name="front")["serviceInstance"]
    deployment = proton.get_deployment(id=instance["lastSucceededDeploymentId"])["deployment"]
    assert deployment["deploymentStatus"] == "SUCCEEDED"
    assert deployment["deploymentStatusMessage"] == (
        "Warning: input 'packaging_commands' of service instance front is not defined in the schema; "
        "kept as given."
    )
    pipeline = proton.get_deployment(id=created["pipeline"]["lastAttemptedDeploymentId"])["deployment"]
    assert pipeline["deploymentStatusMessage"] == (
        "Warning: input 'packaging_commands' of pipeline of service api is not defined in the schema; "
        "kept as given."
    )
    environment = proton.get_environment(name="dev")["environment"]
    quiet = proton.get_deployment(id=environment["lastSucceededDeploymentId"])["deployment"]
    assert "deploymentStatusMessage" not in quiet, "a deployment without undefined inputs has no message"


def test_undefined_environment_input_reaches_the_template(proton: Any, s3: Any, worker: Any) -> None:
    template = bundles.CFN_ENV.replace(
        "Outputs:\n", "Outputs:\n  Owner:\n    Value: '{{ environment.inputs.owner }}'\n"
    )
    data = bundles.tar_gz(
        {
            "schema/schema.yaml": bundles.ENV_SCHEMA,
            "infrastructure/manifest.yaml": bundles.CFN_MANIFEST,
            "infrastructure/cloudformation.yaml": template,
        },
        "environment/",
    )
    _published_env_template(proton, s3, data=data)
    spec = SPEC + "  owner: team-a\n"
    proton.create_environment(
        name="dev", templateName="vpc-env", templateMajorVersion="1", spec=spec, protonServiceRoleArn=ROLE
    )
    proton.get_waiter("environment_deployed").wait(name="dev", WaiterConfig=FAST)
    outputs = {
        o["key"]: o["valueString"] for o in proton.list_environment_outputs(environmentName="dev")["outputs"]
    }
    assert outputs["Owner"] == "team-a"
    environment = proton.get_environment(name="dev")["environment"]
    assert environment["spec"] == spec
    deployment = proton.get_deployment(id=environment["lastSucceededDeploymentId"])["deployment"]
    assert deployment["deploymentStatusMessage"] == (
        "Warning: input 'owner' of environment dev is not defined in the schema; kept as given."
    )
    assert deployment["targetState"] == {
        "environment": {
            "templateName": "vpc-env",
            "templateMajorVersion": "1",
            "templateMinorVersion": "0",
            "spec": spec,
        }
    }


def test_a_schema_that_forbids_additional_properties_refuses_them(proton: Any, s3: Any, worker: Any) -> None:
    schema = bundles.ENV_SCHEMA.replace(
        '      description: "Inputs of the environment"\n',
        '      description: "Inputs of the environment"\n      additionalProperties: false\n',
    )
    _published_env_template(proton, s3, data=bundles.environment_bundle(schema=schema))
    code, message = _error(
        proton.create_environment,
        name="dev",
        templateName="vpc-env",
        templateMajorVersion="1",
        spec=SPEC + "  nope: x\n",
        protonServiceRoleArn=ROLE,
    )
    assert (code, message) == (
        "ValidationException",
        "Invalid spec for environment dev: input 'nope' is not defined in the schema",
    )
    assert proton.list_environments()["environments"] == []
    assert proton.list_deployments()["deployments"] == []


def test_deployment_states_have_only_the_model_members(
    proton: Any, s3: Any, worker: Any, environment: str
) -> None:
    _published_service_template(proton, s3, pipeline=False)
    spec = "proton: ServiceSpec\ninstances:\n  - name: front\n    environment: dev\n"
    proton.create_service(name="api", templateName="api-svc", templateMajorVersion="1", spec=spec)
    proton.get_waiter("service_created").wait(name="api", WaiterConfig=FAST)
    updated = proton.update_service_instance(
        serviceName="api", name="front", deploymentType="CURRENT_VERSION", spec="port: 81\n"
    )["serviceInstance"]
    proton.get_waiter("service_instance_deployed").wait(serviceName="api", name="front", WaiterConfig=FAST)
    deployment = proton.get_deployment(id=updated["lastAttemptedDeploymentId"])["deployment"]
    version = {"templateName": "api-svc", "templateMajorVersion": "1", "templateMinorVersion": "0"}
    assert deployment["initialState"] == {"serviceInstance": {**version, "spec": spec}}
    assert deployment["targetState"] == {"serviceInstance": {**version, "spec": "port: 81\n"}}
    assert "deploymentStatusMessage" not in deployment
