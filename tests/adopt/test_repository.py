"""Adopting a Terraform deployment repository: the files are written by a deployment in another account
(as Proton left them), read back with `read_repository`, applied with `apply_plan`; nothing is committed,
applying twice changes nothing, and the next deployment commits to the same folders."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from baryon.adopt.apply import apply_plan
from baryon.adopt.plan import Plan
from baryon.adopt.repository import AdoptError, read_repository, read_tree
from baryon.render import protonjson
from baryon.runtime import Runtime
from baryon.store import connections as connection_store
from tests.conftest import ACCOUNT, OTHER_ACCOUNT
from tests.engine.test_selfmanaged import (
    COMPONENT_ARN,
    ENV_SPEC,
    component_metadata,
    env_metadata,
    env_tfvars,
    phase,
    settle_deployment,
)
from tests.support import bundles
from tests.support.databases import sqlite_only
from tests.support.git_repos import bare, branches, commit_files, commits, show
from tests.support.publishing import publish_environment_template, publish_service_template

REGION = "us-east-1"
SERVICE_SPEC = bundles.CI_SERVICE_SPEC


def link(runtime: Runtime, proton: Any, remotes: Path, account: str) -> dict[str, str]:
    with runtime.database.write() as db:
        record = connection_store.create(
            db,
            runtime.secrets,
            connection_id=runtime.ids.uuid(),
            account_id=account,
            region=REGION,
            name=f"c-{uuid.uuid4().hex[:8]}",
            provider="GITHUB",
            url_template=f"file://{remotes}/{{repository}}.git",
            token=None,
            mode="direct",
            api_url=None,
            now=runtime.clock.now(),
        )
    proton.create_repository(name="org/infra", provider="GITHUB", connectionArn=record.arn)
    return {"provider": "GITHUB", "name": "org/infra", "branch": "main"}


def templates(proton: Any, s3: Any) -> None:
    publish_environment_template(proton, s3, "tf-env", bundles.terraform_environment_bundle())
    publish_service_template(proton, s3, "tf-svc", bundles.terraform_service_bundle(), compatible="tf-env")


def deploy_elsewhere(runtime: Runtime, other: Any, s3: Any, remotes: Path) -> Path:
    """Environment dev, service api (instance front, pipeline) deployed by another account."""
    repo = bare(remotes, "org/infra")
    repository = link(runtime, other, remotes, OTHER_ACCOUNT)
    templates(other, s3)
    other.update_account_settings(pipelineProvisioningRepository=repository)
    env = other.create_environment(
        name="dev",
        templateName="tf-env",
        templateMajorVersion="1",
        spec=ENV_SPEC,
        provisioningRepository=repository,
    )["environment"]["lastAttemptedDeploymentId"]
    phase(runtime, env, "handed-off")
    settle_deployment(runtime, env, "SUCCEEDED", {"VpcId": "vpc-123"})
    service = other.create_service(
        name="api", templateName="tf-svc", templateMajorVersion="1", spec=SERVICE_SPEC
    )
    instance = other.get_service_instance(serviceName="api", name="front")["serviceInstance"]
    for deployment in (
        instance["lastAttemptedDeploymentId"],
        service["service"]["pipeline"]["lastAttemptedDeploymentId"],
    ):
        phase(runtime, deployment, "handed-off")
        settle_deployment(runtime, deployment, "SUCCEEDED")
    return repo


@pytest.fixture
def fast(runtime: Runtime) -> Runtime:
    runtime.settings.pull_request_poll_seconds = 0.1
    return runtime


@sqlite_only
def test_adopt_a_deployment_repository(
    proton: Any, other_account_proton: Any, s3: Any, worker: Any, fast: Runtime, tmp_path: Path
) -> None:
    runtime = fast
    remotes = tmp_path / "remotes"
    repo = deploy_elsewhere(runtime, other_account_proton, s3, remotes)
    head = branches(repo)["main"]
    repository = link(runtime, proton, remotes, ACCOUNT)
    templates(proton, s3)

    plan = read_repository(runtime, ACCOUNT, REGION, "GITHUB", "org/infra", None)
    assert plan.skipped == []
    assert [(r.kind, r.name, r.binding.folder if r.binding else None) for r in plan.resources] == [
        ("environment", "dev", "dev"),
        ("service", "api", None),
        ("service-instance", "front", "dev/api-front"),
        ("service-pipeline", "api", "api/pipeline"),
    ]
    refused = apply_plan(runtime, plan)
    assert [(e.kind, e.name, e.outcome) for e in refused.entries] == [
        ("environment", "dev", "created"),
        ("service", "api", "refused"),
        ("service-instance", "api/front", "refused"),
        ("service-pipeline", "api", "refused"),
    ]
    assert refused.refused[0].reason == (
        "service pipeline api: the account's pipelineProvisioningRepository is not github:org/infra branch "
        "main; set it with UpdateAccountSettings first. Nothing of service api was adopted."
    )
    assert proton.list_services()["services"] == []
    proton.update_account_settings(pipelineProvisioningRepository=repository)
    report = apply_plan(runtime, plan)
    assert [(e.kind, e.name, e.outcome) for e in report.entries] == [
        ("service", "api", "created"),
        ("service-instance", "api/front", "created"),
        ("service-pipeline", "api", "created"),
        ("environment", "dev", "already adopted"),
    ]
    assert branches(repo)["main"] == head

    env = proton.get_environment(name="dev")["environment"]
    assert env["deploymentStatus"] == "SUCCEEDED"
    assert env["provisioningRepository"]["name"] == "org/infra"
    assert env["provisioningRepository"]["branch"] == "main"
    assert (
        env["spec"] == "proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.1.0.0/16\n  nat: true\n  az_count: 2\n"
    )
    assert (env["templateName"], env["templateMajorVersion"], env["templateMinorVersion"]) == (
        "tf-env",
        "1",
        "0",
    )
    deployment = proton.get_deployment(id=env["lastSucceededDeploymentId"])["deployment"]
    assert deployment["deploymentStatusMessage"] == (
        "Adopted from repository github:org/infra branch main folder dev/; nothing was committed."
    )
    instance = proton.get_service_instance(serviceName="api", name="front")["serviceInstance"]
    assert instance["deploymentStatus"] == "SUCCEEDED"
    assert instance["environmentName"] == "dev"
    assert "port: 8080" in instance["spec"] and "name: front" in instance["spec"]
    service = proton.get_service(name="api")["service"]
    assert service["spec"] == (
        "proton: ServiceSpec\npipeline:\n  dockerfile: Dockerfile.ci\ninstances:\n"
        "- name: front\n  environment: dev\n  spec:\n    port: 8080\n"
    )
    assert service["pipeline"]["deploymentStatus"] == "SUCCEEDED"

    again = apply_plan(runtime, read_repository(runtime, ACCOUNT, REGION, "GITHUB", "org/infra", "main"))
    assert {e.outcome for e in again.entries} == {"already adopted"}
    assert proton.get_environment(name="dev")["environment"] == env
    assert branches(repo)["main"] == head

    update = proton.update_environment(name="dev", deploymentType="CURRENT_VERSION")["environment"][
        "lastAttemptedDeploymentId"
    ]
    phase(runtime, update, "handed-off")
    assert commits(repo, "main")[0] == "Update requested for Proton - environment/dev"
    metadata = orjson.loads(show(repo, "main", "dev/.proton/deployment-metadata.json"))
    assert metadata["deploymentId"] == update
    assert metadata["resourceMetadata"]["arn"] == f"arn:aws:proton:{REGION}:{ACCOUNT}:environment/dev"
    settle_deployment(runtime, update, "SUCCEEDED")
    moved = proton.update_service_instance(serviceName="api", name="front", deploymentType="CURRENT_VERSION")
    phase(runtime, moved["serviceInstance"]["lastAttemptedDeploymentId"], "handed-off")
    metadata = orjson.loads(show(repo, "main", "dev/api-front/.proton/deployment-metadata.json"))
    assert metadata["deploymentId"] == moved["serviceInstance"]["lastAttemptedDeploymentId"]


@sqlite_only
def test_what_cannot_be_adopted_is_skipped(proton: Any, s3: Any, runtime: Runtime, tmp_path: Path) -> None:
    remotes = tmp_path / "remotes"
    repo = bare(remotes, "org/infra")
    commit_files(
        repo,
        {
            "broken/.proton/deployment-metadata.json": "{not json",
            "broken/proton.auto.tfvars.json": "{}",
            "deep/.proton/deployment-metadata.json": "[" * 100_000 + "]" * 100_000,
            "deep/proton.auto.tfvars.json": "{}",
            "alone/.proton/deployment-metadata.json": '{"deploymentId" : "x", "isResourceDeleted" : false}',
            "moved/.proton/deployment-metadata.json": (
                '{"deploymentId":"x","isResourceDeleted":false,"resourceMetadata":{"arn":'
                f'"arn:aws:proton:{REGION}:{ACCOUNT}:environment/dev","templateArn":'
                f'"arn:aws:proton:{REGION}:{ACCOUNT}:environment-template/tf-env",'
                '"templateMajorVersion":"1","templateMinorVersion":"0"}}'
            ),
            "moved/proton.auto.tfvars.json": (
                '{"environment":{"name":"dev","inputs":{}},'
                f'"//":"arn:aws:proton:{REGION}:{ACCOUNT}:environment/dev"}}'
            ),
        },
        "proton files",
    )
    link(runtime, proton, remotes, ACCOUNT)
    plan = read_repository(runtime, ACCOUNT, REGION, "GITHUB", "org/infra", None)
    assert plan.resources == []
    reasons = {s.source: s.reason for s in plan.skipped}
    assert reasons["alone/"].startswith("proton.auto.tfvars.json is missing")
    assert reasons["broken/"].startswith(".proton/deployment-metadata.json is not valid JSON")
    assert reasons["deep/"] == ".proton/deployment-metadata.json is nested too deeply"
    assert reasons["moved/"] == "Baryon would deploy this resource in folder dev/, not moved/"
    with pytest.raises(AdoptError, match=r"The branch other does not exist in org/infra\."):
        read_repository(runtime, ACCOUNT, REGION, "GITHUB", "org/infra", "other")
    with pytest.raises(AdoptError, match="is not linked"):
        read_repository(runtime, ACCOUNT, REGION, "GITHUB", "org/else", None)


@sqlite_only
def test_a_component_is_adopted_in_its_environment_folder(
    proton: Any, s3: Any, worker: Any, runtime: Runtime, tmp_path: Path
) -> None:
    remotes = tmp_path / "remotes"
    component_tfvars = protonjson.dumps(
        {
            "component": {"name": "cache"},
            "environment": {"account_id": ACCOUNT, "name": "dev", "outputs": {}},
            "proton_tags": {"proton:account": ACCOUNT, "proton:component": COMPONENT_ARN},
            "//": COMPONENT_ARN,
        }
    )
    repo = bare(
        remotes,
        "org/infra",
        {
            "dev/.proton/deployment-metadata.json": env_metadata("d-1"),
            "dev/proton.auto.tfvars.json": env_tfvars(),
            "dev/cache/.proton/deployment-metadata.json": component_metadata("d-2"),
            "dev/cache/proton.auto.tfvars.json": component_tfvars,
        },
    )
    head = branches(repo)["main"]
    link(runtime, proton, remotes, ACCOUNT)
    publish_environment_template(proton, s3, "tf-env", bundles.terraform_environment_bundle())
    plan = read_repository(runtime, ACCOUNT, REGION, "GITHUB", "org/infra", None)
    assert plan.skipped == []
    assert [(r.kind, r.name, r.environment) for r in plan.resources] == [
        ("environment", "dev", None),
        ("component", "cache", "dev"),
    ]
    report = apply_plan(runtime, plan)
    assert [(e.kind, e.name, e.outcome) for e in report.entries] == [
        ("environment", "dev", "created"),
        ("component", "cache", "created"),
    ]
    component = proton.get_component(name="cache")["component"]
    assert component["deploymentStatus"] == "SUCCEEDED"
    assert component["environmentName"] == "dev"
    assert [(e.outcome) for e in apply_plan(runtime, plan).entries] == ["already adopted"] * 2
    assert branches(repo)["main"] == head


class _Files:
    """A branch's files as `read_tree` reads them."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def entries(self) -> dict[str, Any]:
        return dict.fromkeys(self.files)

    def read(self, path: str, limit: int) -> bytes | None:
        text = self.files.get(path)
        return text.encode() if text is not None and len(text) <= limit else None


def test_list_and_mapping_inputs_are_values_again_where_the_schema_declares_them() -> None:
    tfvars = protonjson.dumps(
        {
            "environment": {
                "name": "dev",
                "inputs": {
                    "subnets": '["a","b"]',
                    "labels": '{"team":"core"}',
                    "note": '["kept"]',
                    "port": 80,
                },
            },
            "//": f"arn:aws:proton:{REGION}:{ACCOUNT}:environment/dev",
        }
    )
    plan = Plan(ACCOUNT, REGION)
    declared = {"subnets": "array", "labels": "object", "note": "string", "port": "number"}
    read_tree(
        plan,
        _Files(
            {
                "dev/.proton/deployment-metadata.json": env_metadata("d-1"),
                "dev/proton.auto.tfvars.json": tfvars,
            }
        ),
        ("GITHUB", "org/infra"),
        "main",
        lambda kind, name, major, minor, role: (
            declared if (kind, name, major, minor) == ("ENVIRONMENT", "tf-env", "1", "0") else {}
        ),
    )
    assert plan.skipped == []
    assert plan.resources[0].spec == (
        "proton: EnvironmentSpec\nspec:\n  subnets:\n  - a\n  - b\n  labels:\n    team: core\n"
        "  note: '[\"kept\"]'\n  port: 80\n"
    )


def test_the_environments_layout_and_deleted_resources() -> None:
    plan = Plan(ACCOUNT, REGION)
    read_tree(
        plan,
        _Files(
            {
                "environments/dev/.proton/deployment-metadata.json": env_metadata("d-1"),
                "environments/dev/proton.auto.tfvars.json": env_tfvars(),
                "environments/gone/.proton/deployment-metadata.json": env_metadata("d-2", deleted=True),
                "environments/gone/proton.auto.tfvars.json": env_tfvars(),
                ".proton/deployment-metadata.json": env_metadata("d-3"),
            }
        ),
        ("GITHUB", "org/infra"),
        "main",
    )
    assert [(r.kind, r.name, r.binding.folder if r.binding else None) for r in plan.resources] == [
        ("environment", "dev", "environments/dev")
    ]
    assert [(s.source, s.reason) for s in plan.skipped] == [
        ("./", "deployment files at the top of the repository name no resource folder Baryon uses"),
        ("environments/gone/", "the deployment metadata marks the resource deleted"),
    ]
