"""Self-managed (Terraform) provisioning end to end: real boto3 client, real worker, real bare git
repositories behind file:// remotes, and the local pull-request API stand-in, on SQLite and PostgreSQL.

Deployments handed over to the repository are settled by the automation's
NotifyResourceDeploymentStatusChange (`notify`), or in `settle_deployment` the way that call settles them
(`settle.finish`). tests/e2e/test_terraform_automation.py plays the automation itself.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from baryon.domain.outcomes import Done
from baryon.engine.settle import Finish, finish
from baryon.engine.subjects import load
from baryon.runtime import Runtime
from baryon.store import connections as connection_store
from baryon.store import deployments as deployment_store
from baryon.store import run_logs
from baryon.store.schema import jobs
from tests.api.test_environments import FAST, _published_env_template
from tests.conftest import ACCOUNT
from tests.support import bundles
from tests.support.clock import ManualClock as FakeClock
from tests.support.databases import sqlite_only
from tests.support.errors import error_of
from tests.support.git_repos import author, bare, branches, commit_files, commits, files_at, merge, show
from tests.support.publishing import publish_service_template
from tests.support.pull_requests import Host, serve
from tests.support.waiting import wait_for

REGION = "us-east-1"
CONNECTION = f"arn:aws:codestar-connections:{REGION}:{ACCOUNT}:connection/abc"
ENV_ARN = f"arn:aws:proton:{REGION}:{ACCOUNT}:environment/dev"
ENV_SPEC = "proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.1.0.0/16\n  nat: true\n"
HEADER = (
    "/*\n"
    "This file is managed by AWS Proton. Any changes made directly to this file will be overwritten the next "
    "time AWS Proton performs an update.\n"
    "\n"
    "To manage this resource, see AWS Proton Resource: {arn}\n"
    "\n"
    "If the resource is no longer accessible within AWS Proton, it may have been deleted and may require "
    "manual cleanup.\n"
    "*/\n"
    "\n"
)
DELETED_HEADER = (
    "/*\n"
    "This file is no longer managed by AWS Proton. The associated resource has been deleted in Proton.\n"
    "*/\n"
    "\n"
)
ENV_VARIABLES = """variable "environment" {
  type = object({
    inputs = map(string)
    name   = string
  })
  default = null
}

variable "proton_tags" {
  type    = map(string)
  default = null
}
"""


@pytest.fixture
def host() -> Iterator[Host]:
    with serve() as state:
        yield state


@pytest.fixture
def remotes(tmp_path: Path) -> Path:
    return tmp_path / "remotes"


@pytest.fixture
def fast(runtime: Runtime) -> Runtime:
    runtime.settings.pull_request_poll_seconds = 0.1
    return runtime


def link(
    runtime: Runtime,
    proton: Any,
    remotes: Path,
    name: str = "org/infra",
    *,
    mode: str = "pull-request",
    api_url: str | None = None,
    provider: str = "GITHUB",
    branch: str = "main",
) -> dict[str, str]:
    """A connection to the file:// remotes under `remotes` and a repository link through it."""
    with runtime.database.write() as db:
        record = connection_store.create(
            db,
            runtime.secrets,
            connection_id=runtime.ids.uuid(),
            account_id=ACCOUNT,
            region=REGION,
            name=f"c-{uuid.uuid4().hex[:8]}",
            provider=provider,
            url_template=f"file://{remotes}/{{repository}}.git",
            token=None,
            mode=mode,
            api_url=api_url,
            now=runtime.clock.now(),
        )
    proton.create_repository(name=name, provider=provider, connectionArn=record.arn)
    return {"provider": provider, "name": name, "branch": branch}


def tf_env_template(proton: Any, s3: Any) -> None:
    _published_env_template(proton, s3, name="tf-env", data=bundles.terraform_environment_bundle())


def tf_service_template(proton: Any, s3: Any, name: str = "tf-svc") -> None:
    publish_service_template(proton, s3, name, bundles.terraform_service_bundle(), compatible="tf-env")


def record_of(runtime: Runtime, deployment_id: str) -> Any:
    with runtime.database.read() as db:
        return deployment_store.find(db, deployment_id)


def progress_of(runtime: Runtime, deployment_id: str) -> dict[str, Any]:
    progress: dict[str, Any] = orjson.loads(record_of(runtime, deployment_id).progress)
    return progress


def phase(runtime: Runtime, deployment_id: str, wanted: str, timeout: float = 60.0) -> dict[str, Any]:
    """Wait until the deployment's progress reaches `wanted`; return the progress."""
    return wait_for(
        lambda: (p := progress_of(runtime, deployment_id)).get("phase") == wanted and p, timeout=timeout
    )


def settle_deployment(
    runtime: Runtime, deployment_id: str, status: str, outputs: dict[str, str] | None = None
) -> None:
    """Settle a handed-over deployment as NotifyResourceDeploymentStatusChange does."""
    with runtime.database.read() as db:
        record = deployment_store.find(db, deployment_id)
        subject = load(db, record)
    listed = [{"key": k, "valueString": v} for k, v in (outputs or {}).items()]
    finish(runtime, record, subject, Finish(status, None, listed, []), orjson.loads(record.progress))


def create_env(proton: Any, repository: dict[str, str], name: str = "dev") -> dict[str, Any]:
    environment: dict[str, Any] = proton.create_environment(
        name=name,
        templateName="tf-env",
        templateMajorVersion="1",
        spec=ENV_SPEC,
        provisioningRepository=repository,
    )["environment"]
    return environment


def env_tfvars(arn: str = ENV_ARN) -> str:
    return (
        "{\n"
        '  "environment" : {\n'
        '    "name" : "dev",\n'
        '    "inputs" : {\n'
        '      "vpc_cidr" : "10.1.0.0/16",\n'
        '      "nat" : true,\n'
        '      "az_count" : 2\n'
        "    }\n"
        "  },\n"
        '  "proton_tags" : {\n'
        f'    "proton:account" : "{ACCOUNT}",\n'
        f'    "proton:template" : "arn:aws:proton:{REGION}:{ACCOUNT}:environment-template/tf-env",\n'
        f'    "proton:environment" : "{arn}"\n'
        "  },\n"
        f'  "//" : "{arn}"\n'
        "}"
    )


def env_metadata(deployment_id: str, *, deleted: bool = False) -> str:
    return (
        "{\n"
        f'  "deploymentId" : "{"<proton-resource-deleted>" if deleted else deployment_id}",\n'
        f'  "isResourceDeleted" : {"true" if deleted else "false"},\n'
        '  "resourceMetadata" : {\n'
        f'    "arn" : "{ENV_ARN}",\n'
        f'    "templateArn" : "arn:aws:proton:{REGION}:{ACCOUNT}:environment-template/tf-env",\n'
        '    "templateMajorVersion" : "1",\n'
        '    "templateMinorVersion" : "0"\n'
        "  }\n"
        "}"
    )


def assert_env_files(repo: Path, ref: str, deployment_id: str, folder: str = "dev") -> None:
    header = HEADER.format(arn=ENV_ARN)
    for name, source in bundles.TF_ENV_FILES.items():
        assert show(repo, ref, f"{folder}/{name}") == header + source
    assert show(repo, ref, f"{folder}/proton.environment.variables.tf") == header + ENV_VARIABLES
    assert show(repo, ref, f"{folder}/proton.auto.tfvars.json") == env_tfvars()
    assert show(repo, ref, f"{folder}/.proton/deployment-metadata.json") == env_metadata(deployment_id)


ENV_FILES = [
    "dev/.proton/deployment-metadata.json",
    "dev/config.tf",
    "dev/main.tf",
    "dev/outputs.tf",
    "dev/proton.auto.tfvars.json",
    "dev/proton.environment.variables.tf",
]


# --- environments through pull requests ----------------------------------------------------------


def test_environment_through_a_pull_request(
    proton: Any, s3: Any, worker: Any, fast: Runtime, host: Host, remotes: Path
) -> None:
    runtime = fast
    repo = bare(remotes, "org/infra")
    main = branches(repo)["main"]
    repository = link(runtime, proton, remotes, api_url=host.github_api)
    tf_env_template(proton, s3)
    created = create_env(proton, repository)
    assert created["deploymentStatus"] == "IN_PROGRESS"
    assert created["provisioningRepository"] == {
        "arn": f"arn:aws:proton:{REGION}:{ACCOUNT}:repository/github:org/infra",
        "branch": "main",
        "name": "org/infra",
        "provider": "GITHUB",
    }
    assert "protonServiceRoleArn" not in created
    deployment_id = created["lastAttemptedDeploymentId"]
    progress = phase(runtime, deployment_id, "review")

    branch = f"proton--proton-environment-{deployment_id}"
    assert set(branches(repo)) == {"main", branch}
    assert branches(repo)["main"] == main
    assert commits(repo, branch, since="main") == ["Update requested for Proton - environment/dev"]
    assert author(repo, branch) == "Baryon <baryon@localhost>"
    assert files_at(repo, branch) == ["README.md", *ENV_FILES]
    assert_env_files(repo, branch, deployment_id)

    (pull,) = host.pulls["org/infra"]
    assert (pull["head"], pull["base"], pull["state"]) == (branch, "main", "open")
    assert pull["title"] == "Update requested for Proton - environment/dev"
    assert f"Deployment {deployment_id} of {ENV_ARN}." in pull["body"]
    assert progress == {
        "method": "hcl",
        "repository": {"provider": "GITHUB", "name": "org/infra", "branch": "main"},
        "mode": "pull-request",
        "branch": branch,
        "commit": branches(repo)[branch],
        "pull_request": {"id": "1", "url": "https://github.example/org/infra/pull/1"},
        "phase": "review",
    }
    # The job keeps looking at the pull request while it is open.
    looked = len(host.requests)
    wait_for(lambda: len(host.requests) >= looked + 2)
    assert {r.path for r in host.requests[looked:]} == {"/api/v3/repos/org/infra/pulls/1"}
    assert proton.get_environment(name="dev")["environment"]["deploymentStatus"] == "IN_PROGRESS"

    merge(repo, branch)
    host.merge("org/infra", 1)
    handed = phase(runtime, deployment_id, "handed-off")
    assert handed["merged"] is True
    looked = len(host.requests)
    environment = proton.get_environment(name="dev")["environment"]
    assert environment["deploymentStatus"] == "IN_PROGRESS"
    assert environment["templateMinorVersion"] == "0"

    proton.notify_resource_deployment_status_change(
        resourceArn=ENV_ARN, status="IN_PROGRESS", statusMessage="terraform apply running"
    )
    proton.notify_resource_deployment_status_change(
        resourceArn=ENV_ARN, status="SUCCEEDED", outputs=[{"key": "VpcCidr", "valueString": "10.1.0.0/16"}]
    )
    environment = proton.get_environment(name="dev")["environment"]
    assert environment["deploymentStatus"] == "SUCCEEDED"
    assert environment["lastSucceededDeploymentId"] == deployment_id
    # The deployment's story: the branch, commit and pull request, the notifications, the end.
    with runtime.database.read() as connection:
        story = [chunk.text for chunk in run_logs.read(connection, deployment_id)]
    pull_url = "https://github.example/org/infra/pull/1"
    told = [re.sub(r"^\[(\w+)\] \S+Z ", r"\1: ", line).rstrip("\n") for line in story]
    assert told == [
        f"baryon: CREATE of {ENV_ARN} (template version 1.0) through terraform_git",
        f"terraform: Committed {branches(repo)[branch]} to branch {branch} of org/infra (pull-request mode)",
        f"terraform: Pull request {pull_url} (#1) opened from {branch} into main",
        f"terraform: Pull request {pull_url} was merged",
        "terraform: Handed over to the repository's automation; the deployment ends with its "
        "NotifyResourceDeploymentStatusChange",
        "notify: NotifyResourceDeploymentStatusChange: status IN_PROGRESS, message: terraform apply running",
        "notify: NotifyResourceDeploymentStatusChange: status SUCCEEDED",
        told[-1],
    ]
    assert re.fullmatch(r"baryon: SUCCEEDED \(\d+\.\d s after the deployment began\)", told[-1])
    assert proton.list_environment_outputs(environmentName="dev")["outputs"] == [
        {"key": "VpcCidr", "valueString": "10.1.0.0/16"}
    ]
    assert len(host.requests) == looked  # no more polling once handed over
    assert files_at(repo, "main") == ["README.md", *ENV_FILES]


@sqlite_only
def test_a_closed_pull_request_cancels_the_deployment(
    proton: Any, s3: Any, worker: Any, fast: Runtime, host: Host, remotes: Path
) -> None:
    runtime = fast
    bare(remotes, "org/infra")
    repository = link(runtime, proton, remotes, provider="BITBUCKET", api_url=host.bitbucket_api)
    tf_env_template(proton, s3)
    deployment_id = create_env(proton, repository)["lastAttemptedDeploymentId"]
    phase(runtime, deployment_id, "review")
    (pull,) = host.pulls["org/infra"]
    assert pull["source"]["branch"]["name"] == f"proton--proton-environment-{deployment_id}"
    host.close("org/infra", 1)
    environment = wait_for(
        lambda: (
            (e := proton.get_environment(name="dev")["environment"])["deploymentStatus"] == "CANCELLED" and e
        )
    )
    message = (
        "The pull request https://bitbucket.example/org/infra/pull-requests/1 "
        "was closed without being merged."
    )
    assert environment["deploymentStatusMessage"] == message
    deployment = proton.get_deployment(id=deployment_id)["deployment"]
    assert (deployment["deploymentStatus"], deployment["deploymentStatusMessage"]) == ("CANCELLED", message)


@sqlite_only
def test_cancel_closes_the_open_pull_request(
    proton: Any, s3: Any, worker: Any, fast: Runtime, host: Host, remotes: Path
) -> None:
    runtime = fast
    bare(remotes, "org/infra")
    repository = link(runtime, proton, remotes, api_url=host.github_api)
    tf_env_template(proton, s3)
    deployment_id = create_env(proton, repository)["lastAttemptedDeploymentId"]
    phase(runtime, deployment_id, "review")
    cancelling = proton.cancel_environment_deployment(environmentName="dev")["environment"]
    assert cancelling["deploymentStatus"] == "CANCELLING"
    environment = wait_for(
        lambda: (
            (e := proton.get_environment(name="dev")["environment"])["deploymentStatus"] == "CANCELLED" and e
        )
    )
    assert environment["deploymentStatusMessage"] == "User initiated cancellation."
    assert host.pull("org/infra", 1)["state"] == "closed"
    assert host.pull("org/infra", 1)["merged"] is False
    assert next(r for r in host.requests if r.method == "PATCH").body == {"state": "closed"}
    assert proton.get_deployment(id=deployment_id)["deployment"]["deploymentStatus"] == "CANCELLED"


@sqlite_only
def test_plain_remote_pushes_the_branch_and_waits(
    proton: Any, s3: Any, worker: Any, fast: Runtime, remotes: Path
) -> None:
    runtime = fast
    repo = bare(remotes, "org/infra", {"environments/README.md": "one folder per environment\n"})
    repository = link(runtime, proton, remotes)
    tf_env_template(proton, s3)
    deployment_id = create_env(proton, repository)["lastAttemptedDeploymentId"]
    progress = phase(runtime, deployment_id, "handed-off")
    branch = f"proton--proton-environment-{deployment_id}"
    assert progress["branch"] == branch and "pull_request" not in progress
    assert files_at(repo, branch) == [
        "environments/README.md",
        *(f"environments/{path}" for path in ENV_FILES),
    ]
    assert_env_files(repo, branch, deployment_id, folder="environments/dev")
    assert proton.get_environment(name="dev")["environment"]["deploymentStatus"] == "IN_PROGRESS"

    # Nothing is left to undo: the cancel settles the deployment at once.
    cancelled = proton.cancel_environment_deployment(environmentName="dev")["environment"]
    assert (cancelled["deploymentStatus"], cancelled["deploymentStatusMessage"]) == (
        "CANCELLED",
        "User initiated cancellation.",
    )
    assert proton.get_deployment(id=deployment_id)["deployment"]["deploymentStatus"] == "CANCELLED"
    assert set(branches(repo)) == {"main", branch}


@sqlite_only
def test_direct_mode_commits_on_the_branch_and_deletion_marks_the_files(
    proton: Any, s3: Any, worker: Any, fast: Runtime, remotes: Path
) -> None:
    runtime = fast
    repo = bare(remotes, "org/infra")
    repository = link(runtime, proton, remotes, mode="direct")
    tf_env_template(proton, s3)
    first = create_env(proton, repository)["lastAttemptedDeploymentId"]
    progress = phase(runtime, first, "handed-off")
    assert set(branches(repo)) == {"main"}
    assert progress["branch"] == "main" and progress["commit"] == branches(repo)["main"]
    assert commits(repo, "main") == ["Update requested for Proton - environment/dev", "first"]
    assert_env_files(repo, "main", first)
    settle_deployment(runtime, first, "SUCCEEDED")

    second = proton.update_environment(name="dev", deploymentType="CURRENT_VERSION")["environment"][
        "lastAttemptedDeploymentId"
    ]
    phase(runtime, second, "handed-off")
    assert commits(repo, "main")[:2] == ["Update requested for Proton - environment/dev"] * 2
    assert show(repo, "main", "dev/.proton/deployment-metadata.json") == env_metadata(second)
    settle_deployment(runtime, second, "SUCCEEDED")

    deleting = proton.delete_environment(name="dev")["environment"]
    assert deleting["deploymentStatus"] == "DELETE_IN_PROGRESS"
    deletion = deleting["lastAttemptedDeploymentId"]
    phase(runtime, deletion, "handed-off")
    assert commits(repo, "main")[:3] == ["Update requested for Proton - environment/dev"] * 3
    header = HEADER.format(arn=ENV_ARN)
    for name, source in bundles.TF_ENV_FILES.items():
        assert show(repo, "main", f"dev/{name}") == DELETED_HEADER + source
    assert show(repo, "main", "dev/proton.environment.variables.tf") == DELETED_HEADER + ENV_VARIABLES
    assert show(repo, "main", "dev/proton.auto.tfvars.json") == env_tfvars()
    assert show(repo, "main", "dev/.proton/deployment-metadata.json") == env_metadata(deletion, deleted=True)
    assert header not in show(repo, "main", "dev/main.tf")
    assert files_at(repo, "main") == ["README.md", *ENV_FILES]
    assert proton.get_environment(name="dev")["environment"]["deploymentStatus"] == "DELETE_IN_PROGRESS"

    settle_deployment(runtime, deletion, "DELETE_COMPLETE")
    assert error_of(proton.get_environment, name="dev")[0] == "ResourceNotFoundException"
    assert proton.get_deployment(id=deletion)["deployment"]["deploymentStatus"] == "DELETE_COMPLETE"


@sqlite_only
def test_deleting_what_never_reached_the_repository_completes_at_once(
    proton: Any, s3: Any, worker: Any, fast: Runtime, host: Host, remotes: Path
) -> None:
    runtime = fast
    repo = bare(remotes, "org/infra")
    repository = link(runtime, proton, remotes, api_url=host.github_api)
    tf_env_template(proton, s3)
    deployment_id = create_env(proton, repository)["lastAttemptedDeploymentId"]
    phase(runtime, deployment_id, "review")
    host.close("org/infra", 1)
    wait_for(lambda: proton.get_environment(name="dev")["environment"]["deploymentStatus"] == "CANCELLED")
    deletion = proton.delete_environment(name="dev")["environment"]["lastAttemptedDeploymentId"]
    wait_for(lambda: record_of(runtime, deletion).deployment_status == "DELETE_COMPLETE")
    assert error_of(proton.get_environment, name="dev")[0] == "ResourceNotFoundException"
    assert len(host.pulls["org/infra"]) == 1
    assert set(branches(repo)) == {"main", f"proton--proton-environment-{deployment_id}"}


# --- service instances, pipelines and deletions -----------------------------------------------------

SERVICE_SPEC = bundles.CI_SERVICE_SPEC


def test_service_instance_pipeline_and_deletion_through_pull_requests(
    proton: Any, s3: Any, worker: Any, fast: Runtime, host: Host, remotes: Path
) -> None:
    runtime = fast
    infra = bare(remotes, "org/infra")
    pipelines = bare(remotes, "org/pipelines")
    env_repository = link(runtime, proton, remotes, mode="direct")
    tf_env_template(proton, s3)
    env_deployment = create_env(proton, env_repository)["lastAttemptedDeploymentId"]
    phase(runtime, env_deployment, "handed-off")
    settle_deployment(runtime, env_deployment, "SUCCEEDED", {"VpcId": "vpc-123"})
    tf_service_template(proton, s3)

    assert error_of(
        proton.create_service, name="api", templateName="tf-svc", templateMajorVersion="1", spec=SERVICE_SPEC
    ) == (
        "ValidationException",
        "The pipeline of service template tf-svc is a Terraform template; the account has no "
        "pipelineProvisioningRepository (UpdateAccountSettings) to provision it with.",
    )
    pipeline_repository = link(runtime, proton, remotes, "org/pipelines", api_url=host.github_api)
    proton.update_account_settings(pipelineProvisioningRepository=pipeline_repository)
    service = proton.create_service(
        name="api",
        templateName="tf-svc",
        templateMajorVersion="1",
        spec=SERVICE_SPEC,
        repositoryConnectionArn=CONNECTION,
        repositoryId="org/api",
        branchName="main",
    )["service"]
    assert service["status"] == "CREATE_IN_PROGRESS"
    instance = proton.get_service_instance(serviceName="api", name="front")["serviceInstance"]
    instance_deployment = instance["lastAttemptedDeploymentId"]
    pipeline_deployment = service["pipeline"]["lastAttemptedDeploymentId"]

    # The instance goes to the environment's repository (direct mode: straight onto main).
    phase(runtime, instance_deployment, "handed-off")
    instance_arn = f"arn:aws:proton:{REGION}:{ACCOUNT}:service/api/service-instance/front"
    header = HEADER.format(arn=instance_arn)
    assert commits(infra, "main")[0] == "Update requested for Proton - service/api/service-instance/front"
    assert show(infra, "main", "dev/api-front/main.tf") == header + bundles.TF_INSTANCE_FILES["main.tf"]
    variables = show(infra, "main", "dev/api-front/proton.service_instance.variables.tf")
    assert variables.startswith(header + 'variable "environment" {\n')
    assert "    components = map(any)\n" in variables
    assert show(infra, "main", "dev/api-front/proton.auto.tfvars.json") == (
        "{\n"
        '  "environment" : {\n'
        f'    "account_id" : "{ACCOUNT}",\n'
        '    "name" : "dev",\n'
        '    "outputs" : {\n'
        '      "VpcId" : "vpc-123"\n'
        "    }\n"
        "  },\n"
        '  "service" : {\n'
        '    "name" : "api",\n'
        f'    "repository_connection_arn" : "{CONNECTION}",\n'
        '    "repository_id" : "org/api",\n'
        '    "branch_name" : "main"\n'
        "  },\n"
        '  "service_instance" : {\n'
        '    "name" : "front",\n'
        '    "inputs" : {\n'
        '      "port" : 8080\n'
        "    },\n"
        '    "components" : { }\n'
        "  },\n"
        '  "proton_tags" : {\n'
        f'    "proton:account" : "{ACCOUNT}",\n'
        f'    "proton:template" : "arn:aws:proton:{REGION}:{ACCOUNT}:service-template/tf-svc",\n'
        f'    "proton:environment" : "{ENV_ARN}",\n'
        f'    "proton:service" : "arn:aws:proton:{REGION}:{ACCOUNT}:service/api",\n'
        f'    "proton:service-instance" : "{instance_arn}"\n'
        "  },\n"
        f'  "//" : "{instance_arn}"\n'
        "}"
    )
    assert show(infra, "main", "dev/api-front/.proton/deployment-metadata.json") == (
        "{\n"
        f'  "deploymentId" : "{instance_deployment}",\n'
        '  "isResourceDeleted" : false,\n'
        '  "resourceMetadata" : {\n'
        f'    "arn" : "{instance_arn}",\n'
        f'    "templateArn" : "arn:aws:proton:{REGION}:{ACCOUNT}:service-template/tf-svc",\n'
        '    "templateMajorVersion" : "1",\n'
        '    "templateMinorVersion" : "0",\n'
        f'    "environmentArn" : "{ENV_ARN}"\n'
        "  }\n"
        "}"
    )
    # The pipeline waits for its instances before it renders.
    assert progress_of(runtime, pipeline_deployment) == {}
    assert set(branches(pipelines)) == {"main"}
    settle_deployment(runtime, instance_deployment, "SUCCEEDED", {"Port": "8080"})

    # The pipeline goes to the account's pipeline repository, through a pull request.
    progress = phase(runtime, pipeline_deployment, "review")
    branch = f"proton--proton-pipeline-{pipeline_deployment}"
    pipeline_arn = f"arn:aws:proton:{REGION}:{ACCOUNT}:service/api/pipeline"
    assert progress["repository"] == {"provider": "GITHUB", "name": "org/pipelines", "branch": "main"}
    assert commits(pipelines, branch, since="main") == ["Update requested for Proton - service/api/pipeline"]
    assert files_at(pipelines, branch) == [
        "README.md",
        "api/pipeline/.proton/deployment-metadata.json",
        "api/pipeline/main.tf",
        "api/pipeline/proton.auto.tfvars.json",
        "api/pipeline/proton.pipeline.variables.tf",
    ]
    assert show(pipelines, branch, "api/pipeline/main.tf") == (
        HEADER.format(arn=pipeline_arn) + bundles.TF_PIPELINE_FILES["main.tf"]
    )
    tfvars = show(pipelines, branch, "api/pipeline/proton.auto.tfvars.json")
    assert tfvars.startswith(
        '{\n  "pipeline" : {\n    "inputs" : {\n      "dockerfile" : "Dockerfile.ci"\n    }\n  },\n'
    )
    assert (
        '  "service_instances" : [ {\n'
        '    "name" : "front",\n'
        '    "inputs" : {\n'
        '      "port" : 8080\n'
        "    },\n"
        '    "outputs" : {\n'
        '      "Port" : "8080"\n'
        "    },\n"
        '    "environment" : {\n'
        f'      "account_id" : "{ACCOUNT}",\n'
        '      "name" : "dev",\n'
        '      "outputs" : {\n'
        '        "VpcId" : "vpc-123"\n'
        "      }\n"
        "    }\n"
        "  } ],\n"
    ) in tfvars
    assert tfvars.endswith(f'  "//" : "{pipeline_arn}"\n}}')
    (pull,) = host.pulls["org/pipelines"]
    assert (pull["head"], pull["title"]) == (branch, "Update requested for Proton - service/api/pipeline")
    merge(pipelines, branch)
    host.merge("org/pipelines", 1)
    phase(runtime, pipeline_deployment, "handed-off")
    settle_deployment(runtime, pipeline_deployment, "SUCCEEDED")
    assert proton.get_service(name="api")["service"]["status"] == "ACTIVE"

    # Deleting the service marks the instance's and the pipeline's files.
    proton.delete_service(name="api")
    instance_deletion = wait_for(
        lambda: (
            (d := proton.get_service_instance(serviceName="api", name="front")["serviceInstance"])[
                "deploymentStatus"
            ]
            == "DELETE_IN_PROGRESS"
            and d["lastAttemptedDeploymentId"]
        )
    )
    phase(runtime, instance_deletion, "handed-off")
    assert (
        show(infra, "main", "dev/api-front/main.tf") == DELETED_HEADER + bundles.TF_INSTANCE_FILES["main.tf"]
    )
    metadata = orjson.loads(show(infra, "main", "dev/api-front/.proton/deployment-metadata.json"))
    assert metadata["deploymentId"] == "<proton-resource-deleted>" and metadata["isResourceDeleted"] is True
    assert show(infra, "main", "dev/main.tf").startswith(HEADER.format(arn=ENV_ARN))
    deletion_id = wait_for(
        lambda: (
            (
                d := proton.get_service(name="api")["service"]
                .get("pipeline", {})
                .get("lastAttemptedDeploymentId")
            )
            != pipeline_deployment
            and d
        )
    )
    phase(runtime, deletion_id, "review")
    deletion_branch = f"proton--proton-pipeline-{deletion_id}"
    assert show(pipelines, deletion_branch, "api/pipeline/main.tf") == (
        DELETED_HEADER + bundles.TF_PIPELINE_FILES["main.tf"]
    )
    host.merge("org/pipelines", 2)
    phase(runtime, deletion_id, "handed-off")
    settle_deployment(runtime, instance_deletion, "DELETE_COMPLETE")
    settle_deployment(runtime, deletion_id, "DELETE_COMPLETE")
    assert error_of(proton.get_service, name="api")[0] == "ResourceNotFoundException"


@sqlite_only
def test_method_checks(proton: Any, s3: Any, worker: Any, fast: Runtime, remotes: Path) -> None:
    runtime = fast
    bare(remotes, "org/infra")
    repository = link(runtime, proton, remotes, mode="direct")
    tf_env_template(proton, s3)
    deployment_id = create_env(proton, repository)["lastAttemptedDeploymentId"]
    phase(runtime, deployment_id, "handed-off")
    settle_deployment(runtime, deployment_id, "SUCCEEDED")
    assert error_of(
        proton.update_environment,
        name="dev",
        deploymentType="NONE",
        protonServiceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/x",
    ) == (
        "ValidationException",
        "Environment dev is provisioned through a repository (self-managed provisioning); do not give a "
        "protonServiceRoleArn.",
    )
    # A CloudFormation service cannot deploy into a Terraform environment.
    proton.create_service_template(name="cfn-svc", pipelineProvisioning="CUSTOMER_MANAGED")
    key = f"{uuid.uuid4().hex}.tar.gz"
    s3.put_object(Bucket="bundles", Key=key, Body=bundles.service_bundle(pipeline=False))
    proton.create_service_template_version(
        templateName="cfn-svc",
        compatibleEnvironmentTemplates=[{"templateName": "tf-env", "majorVersion": "1"}],
        source={"s3": {"bucket": "bundles", "key": key}},
    )
    proton.get_waiter("service_template_version_registered").wait(
        templateName="cfn-svc", majorVersion="1", minorVersion="0", WaiterConfig=FAST
    )
    proton.update_service_template_version(
        templateName="cfn-svc", majorVersion="1", minorVersion="0", status="PUBLISHED"
    )
    spec = "proton: ServiceSpec\ninstances:\n  - name: front\n    environment: dev\n"
    assert error_of(
        proton.create_service, name="api", templateName="cfn-svc", templateMajorVersion="1", spec=spec
    ) == (
        "ValidationException",
        "Version 1.0 of the service template is provisioned through CloudFormation; environment dev is "
        "provisioned through a repository (self-managed provisioning), so service instance front cannot be "
        "deployed in it.",
    )
    assert proton.list_services()["services"] == []


# --- crash safety ------------------------------------------------------------------------------------


def _rerun(runtime: Runtime, deployment_id: str, progress: dict[str, Any]) -> None:
    """Put the deployment back as a crash before its last progress write left it, and its job due."""
    with runtime.database.write() as db:
        deployment_store.save_progress(db, deployment_id, progress, runtime.clock.now())
        db.execute(
            sa.update(jobs)
            .where(jobs.c.kind == deployment_store.JOB_KIND)
            .values(state="queued", run_at=0, lease_owner=None, lease_expires_at=None)
        )


@pytest.mark.parametrize("mode", ["pull-request", "direct"])
def test_repeated_steps_publish_once(
    proton: Any, s3: Any, worker: Any, fast: Runtime, host: Host, remotes: Path, mode: str
) -> None:
    from baryon.engine.worker import Worker

    runtime = fast
    repo = bare(remotes, "org/infra")
    repository = link(runtime, proton, remotes, mode=mode, api_url=host.github_api)
    tf_env_template(proton, s3)
    worker.stop()
    deployment_id = create_env(proton, repository)["lastAttemptedDeploymentId"]
    engine = Worker(runtime)
    assert engine.run_once()
    done = progress_of(runtime, deployment_id)
    expected_phase = "review" if mode == "pull-request" else "handed-off"
    assert done["phase"] == expected_phase
    before = branches(repo)
    opened = [r for r in host.requests if r.method == "POST"]

    # A crash after the push and the pull request, before their progress was saved.
    for lost in ({"method": "hcl"}, {"method": "hcl", "repository": done["repository"]}, done):
        _rerun(runtime, deployment_id, lost)
        assert engine.run_once()
        assert branches(repo) == before
        assert [r for r in host.requests if r.method == "POST"] == opened
        again = progress_of(runtime, deployment_id)
        assert again["commit"] == done["commit"] and again.get("pull_request") == done.get("pull_request")
    if mode == "pull-request":
        branch = f"proton--proton-environment-{deployment_id}"
        assert commits(repo, branch, since="main") == ["Update requested for Proton - environment/dev"]
        assert len(host.pulls["org/infra"]) == 1
    else:
        assert commits(repo, "main") == ["Update requested for Proton - environment/dev", "first"]
        assert "org/infra" not in host.pulls


@sqlite_only
def test_a_closed_deletion_pull_request_fails_the_deletion(
    proton: Any, s3: Any, worker: Any, fast: Runtime, host: Host, remotes: Path
) -> None:
    runtime = fast
    repo = bare(remotes, "org/infra")
    repository = link(runtime, proton, remotes, api_url=host.github_api)
    tf_env_template(proton, s3)
    created = create_env(proton, repository)["lastAttemptedDeploymentId"]
    phase(runtime, created, "review")
    merge(repo, f"proton--proton-environment-{created}")
    host.merge("org/infra", 1)
    phase(runtime, created, "handed-off")
    settle_deployment(runtime, created, "SUCCEEDED")

    deletion = proton.delete_environment(name="dev")["environment"]["lastAttemptedDeploymentId"]
    phase(runtime, deletion, "review")
    branch = f"proton--proton-environment-{deletion}"
    assert show(repo, branch, "dev/main.tf") == DELETED_HEADER + bundles.TF_ENV_FILES["main.tf"]
    assert show(repo, branch, "dev/.proton/deployment-metadata.json") == env_metadata(deletion, deleted=True)
    assert show(repo, "main", "dev/main.tf") == HEADER.format(arn=ENV_ARN) + bundles.TF_ENV_FILES["main.tf"]
    assert host.pull("org/infra", 2)["head"] == branch
    assert "fails the deletion (DELETE_FAILED)" in host.pull("org/infra", 2)["body"]
    host.close("org/infra", 2)
    environment = wait_for(
        lambda: (
            (e := proton.get_environment(name="dev")["environment"])["deploymentStatus"] == "DELETE_FAILED"
            and e
        )
    )
    assert environment["deploymentStatusMessage"] == (
        "The pull request https://github.example/org/infra/pull/2 was closed without being merged."
    )
    again = proton.delete_environment(name="dev")["environment"]["lastAttemptedDeploymentId"]
    phase(runtime, again, "review")
    assert host.pull("org/infra", 3)["head"] == f"proton--proton-environment-{again}"


@sqlite_only
def test_a_new_version_removes_the_files_it_no_longer_has(
    proton: Any, s3: Any, worker: Any, fast: Runtime, remotes: Path
) -> None:
    runtime = fast
    repo = bare(remotes, "org/infra")
    repository = link(runtime, proton, remotes, mode="direct")
    tf_env_template(proton, s3)
    first = create_env(proton, repository)["lastAttemptedDeploymentId"]
    phase(runtime, first, "handed-off")
    settle_deployment(runtime, first, "SUCCEEDED")
    commit_files(repo, {"dev/extra.tf": "# kept by hand\n"}, "an extra file")

    key = f"{uuid.uuid4().hex}.tar.gz"
    smaller = bundles.tar_gz(
        {
            "schema/schema.yaml": bundles.TF_ENV_SCHEMA,
            "infrastructure/manifest.yaml": bundles.TF_MANIFEST,
            "infrastructure/main.tf": bundles.TF_ENV_FILES["main.tf"],
        },
        "environment/",
    )
    s3.put_object(Bucket="bundles", Key=key, Body=smaller)
    proton.create_environment_template_version(
        templateName="tf-env", majorVersion="1", source={"s3": {"bucket": "bundles", "key": key}}
    )
    proton.get_waiter("environment_template_version_registered").wait(
        templateName="tf-env", majorVersion="1", minorVersion="1", WaiterConfig=FAST
    )
    proton.update_environment_template_version(
        templateName="tf-env", majorVersion="1", minorVersion="1", status="PUBLISHED"
    )
    second = proton.update_environment(name="dev", deploymentType="MINOR_VERSION")["environment"][
        "lastAttemptedDeploymentId"
    ]
    phase(runtime, second, "handed-off")
    assert files_at(repo, "main") == [
        "README.md",
        "dev/.proton/deployment-metadata.json",
        "dev/extra.tf",
        "dev/main.tf",
        "dev/proton.auto.tfvars.json",
        "dev/proton.environment.variables.tf",
    ]
    assert '"templateMinorVersion" : "1"' in show(repo, "main", "dev/.proton/deployment-metadata.json")


def test_a_cancel_that_lands_while_the_step_hands_over_is_kept(
    proton: Any, s3: Any, worker: Any, fast: Runtime, remotes: Path
) -> None:
    from baryon.engine.provisioners import terraform_git
    from baryon.engine.steps import StepInput
    from baryon.store import jobs as job_store

    runtime = fast
    repo = bare(remotes, "org/infra")
    repository = link(runtime, proton, remotes)
    tf_env_template(proton, s3)
    worker.stop()
    deployment_id = create_env(proton, repository)["lastAttemptedDeploymentId"]
    job = job_store.claim(runtime.database, "tester", runtime.clock.now(), 30.0)
    assert job is not None and job.payload == {"deployment_id": deployment_id}
    with runtime.database.read() as db:
        record = deployment_store.find(db, deployment_id)
        subject = load(db, record)
    # The step has read the deployment; the cancel commits before the step hands the deployment over.
    cancelling = proton.cancel_environment_deployment(environmentName="dev")["environment"]
    assert cancelling["deploymentStatus"] == "CANCELLING"
    outcome = terraform_git.PROVISIONER.deploy(StepInput(runtime, job, record, subject, {"method": "hcl"}))
    assert outcome == Done()
    assert f"proton--proton-environment-{deployment_id}" in branches(repo)
    environment = proton.get_environment(name="dev")["environment"]
    assert (environment["deploymentStatus"], environment["deploymentStatusMessage"]) == (
        "CANCELLED",
        "User initiated cancellation.",
    )
    assert progress_of(runtime, deployment_id).get("phase") is None


# --- components ----------------------------------------------------------------------------------------

COMPONENT_ARN = f"arn:aws:proton:{REGION}:{ACCOUNT}:component/cache"
COMPONENT_TF = """resource "aws_s3_bucket" "cache" {
  bucket = "${var.component.name}-${var.environment.outputs.VpcId}"
}

output "Bucket" {
  value = aws_s3_bucket.cache.bucket
}
"""
FRONT_SPEC = (
    "proton: ServiceSpec\ninstances:\n  - name: front\n    environment: dev\n    spec:\n      port: {port}\n"
)
COMPONENT_VARIABLES = """variable "component" {
  type = object({
    name = string
  })
}

variable "environment" {
  type = object({
    account_id = string
    name       = string
    outputs    = map(string)
  })
}

variable "service" {
  type = object({
    name = string
  })
  default = null
}

variable "service_instance" {
  type = object({
    name   = string
    inputs = map(string)
  })
  default = null
}

variable "proton_tags" {
  type    = map(string)
  default = null
}
"""


def notify(proton: Any, arn: str, deployment_id: str | None = None, **outputs: str) -> None:
    """Report SUCCEEDED with `outputs`, as the repository's automation does."""
    extra = {"deploymentId": deployment_id} if deployment_id else {}
    proton.notify_resource_deployment_status_change(
        resourceArn=arn,
        status="SUCCEEDED",
        outputs=[{"key": k, "valueString": v} for k, v in outputs.items()],
        **extra,
    )


def component_metadata(deployment_id: str, *, deleted: bool = False) -> str:
    return (
        "{\n"
        f'  "deploymentId" : "{"<proton-resource-deleted>" if deleted else deployment_id}",\n'
        f'  "isResourceDeleted" : {"true" if deleted else "false"},\n'
        '  "componentMetadata" : {\n'
        f'    "arn" : "{COMPONENT_ARN}",\n'
        f'    "environmentArn" : "{ENV_ARN}",\n'
        '    "componentType" : "default"\n'
        "  }\n"
        "}"
    )


@sqlite_only
def test_terraform_component_through_the_environment_repository(
    proton: Any, s3: Any, worker: Any, fast: Runtime, remotes: Path
) -> None:
    from tests.api.test_components import MANIFEST, TEMPLATE, TERRAFORM_MANIFEST

    runtime = fast
    repo = bare(remotes, "org/infra")
    repository = link(runtime, proton, remotes, mode="direct")
    tf_env_template(proton, s3)
    env_deployment = create_env(proton, repository)["lastAttemptedDeploymentId"]
    phase(runtime, env_deployment, "handed-off")
    notify(proton, ENV_ARN, env_deployment, VpcId="vpc-123")
    proton.update_environment(
        name="dev", deploymentType="NONE", componentRoleArn=f"arn:aws:iam::{ACCOUNT}:role/component"
    )

    # Methods do not mix: a CloudFormation component cannot go to a self-managed environment.
    assert error_of(
        proton.create_component, name="cfn", environmentName="dev", manifest=MANIFEST, templateFile=TEMPLATE
    ) == (
        "ValidationException",
        "The component's manifest names a CloudFormation file (rendering_engine jinja); environment dev is "
        "provisioned through a repository (self-managed provisioning), so component cfn cannot be deployed "
        "in it.",
    )
    assert proton.list_components()["components"] == []

    created = proton.create_component(
        name="cache", environmentName="dev", manifest=TERRAFORM_MANIFEST, templateFile=COMPONENT_TF
    )["component"]
    first = created["lastAttemptedDeploymentId"]
    progress = phase(runtime, first, "handed-off")
    assert progress["repository"] == {"provider": "GITHUB", "name": "org/infra", "branch": "main"}
    assert commits(repo, "main")[0] == "Update requested for Proton - component/cache"
    header = HEADER.format(arn=COMPONENT_ARN)
    assert files_at(repo, "main") == sorted(
        [
            "README.md",
            *ENV_FILES,
            "dev/cache/.proton/deployment-metadata.json",
            "dev/cache/main.tf",
            "dev/cache/proton.auto.tfvars.json",
            "dev/cache/proton.component.variables.tf",
        ]
    )
    assert show(repo, "main", "dev/cache/main.tf") == header + COMPONENT_TF
    assert show(repo, "main", "dev/cache/proton.component.variables.tf") == header + COMPONENT_VARIABLES
    assert show(repo, "main", "dev/cache/proton.auto.tfvars.json") == (
        "{\n"
        '  "component" : {\n'
        '    "name" : "cache"\n'
        "  },\n"
        '  "environment" : {\n'
        f'    "account_id" : "{ACCOUNT}",\n'
        '    "name" : "dev",\n'
        '    "outputs" : {\n'
        '      "VpcId" : "vpc-123"\n'
        "    }\n"
        "  },\n"
        '  "proton_tags" : {\n'
        f'    "proton:account" : "{ACCOUNT}",\n'
        f'    "proton:environment" : "{ENV_ARN}",\n'
        f'    "proton:component" : "{COMPONENT_ARN}"\n'
        "  },\n"
        f'  "//" : "{COMPONENT_ARN}"\n'
        "}"
    )
    assert show(repo, "main", "dev/cache/.proton/deployment-metadata.json") == component_metadata(first)
    assert proton.get_component(name="cache")["component"]["deploymentStatus"] == "IN_PROGRESS"

    notify(proton, COMPONENT_ARN, first, Bucket="cache-vpc-123")
    component = proton.get_component(name="cache")["component"]
    assert (component["deploymentStatus"], component["lastSucceededDeploymentId"]) == ("SUCCEEDED", first)
    assert proton.list_component_outputs(componentName="cache")["outputs"] == [
        {"key": "Bucket", "valueString": "cache-vpc-123"}
    ]

    # An update commits the new file; once handed over, a cancel settles it at once.
    changed = COMPONENT_TF.replace("${var.component.name}", "${var.component.name}-v2")
    second = proton.update_component(name="cache", deploymentType="CURRENT_VERSION", templateFile=changed)[
        "component"
    ]["lastAttemptedDeploymentId"]
    phase(runtime, second, "handed-off")
    assert show(repo, "main", "dev/cache/main.tf") == header + changed
    assert show(repo, "main", "dev/cache/.proton/deployment-metadata.json") == component_metadata(second)
    cancelled = proton.cancel_component_deployment(componentName="cache")["component"]
    assert (cancelled["deploymentStatus"], cancelled["deploymentStatusMessage"]) == (
        "CANCELLED",
        "User initiated cancellation.",
    )
    assert proton.get_deployment(id=second)["deployment"]["deploymentStatus"] == "CANCELLED"
    assert proton.list_component_outputs(componentName="cache")["outputs"] == [
        {"key": "Bucket", "valueString": "cache-vpc-123"}
    ]

    # Deletion marks the component's files; the automation's SUCCEEDED removes the component.
    deletion = proton.delete_component(name="cache")["component"]["lastAttemptedDeploymentId"]
    phase(runtime, deletion, "handed-off")
    assert commits(repo, "main")[0] == "Update requested for Proton - component/cache"
    assert show(repo, "main", "dev/cache/main.tf") == DELETED_HEADER + changed
    assert (
        show(repo, "main", "dev/cache/proton.component.variables.tf") == DELETED_HEADER + COMPONENT_VARIABLES
    )
    assert show(repo, "main", "dev/cache/.proton/deployment-metadata.json") == component_metadata(
        deletion, deleted=True
    )
    assert show(repo, "main", "dev/main.tf").startswith(HEADER.format(arn=ENV_ARN))
    assert proton.get_component(name="cache")["component"]["deploymentStatus"] == "DELETE_IN_PROGRESS"
    notify(proton, COMPONENT_ARN)
    assert error_of(proton.get_component, name="cache")[0] == "ResourceNotFoundException"
    assert proton.get_deployment(id=deletion)["deployment"]["deploymentStatus"] == "DELETE_COMPLETE"
    deletion_of_env = proton.delete_environment(name="dev")["environment"]["lastAttemptedDeploymentId"]
    phase(runtime, deletion_of_env, "handed-off")


@sqlite_only
def test_attached_terraform_component_and_its_instance(
    proton: Any, s3: Any, worker: Any, fast: Runtime, remotes: Path
) -> None:
    from tests.api.test_components import TERRAFORM_MANIFEST

    runtime = fast
    repo = bare(remotes, "org/infra")
    repository = link(runtime, proton, remotes, mode="direct")
    tf_env_template(proton, s3)
    env_deployment = create_env(proton, repository)["lastAttemptedDeploymentId"]
    phase(runtime, env_deployment, "handed-off")
    notify(proton, ENV_ARN, env_deployment, VpcId="vpc-123")
    bundle = bundles.terraform_service_bundle(pipeline="none")
    publish_service_template(
        proton,
        s3,
        "tf-svc",
        bundle,
        compatible="tf-env",
        pipeline=False,
        version={"supportedComponentSources": ["DIRECTLY_DEFINED"]},
    )
    spec = FRONT_SPEC.format(port=8080)
    proton.create_service(name="api", templateName="tf-svc", templateMajorVersion="1", spec=spec)
    instance_arn = f"arn:aws:proton:{REGION}:{ACCOUNT}:service/api/service-instance/front"
    instance = proton.get_service_instance(serviceName="api", name="front")["serviceInstance"]
    phase(runtime, instance["lastAttemptedDeploymentId"], "handed-off")
    notify(proton, instance_arn, instance["lastAttemptedDeploymentId"], Port="8080")

    component_spec = FRONT_SPEC.format(port=9090)
    created = proton.create_component(
        name="cache",
        serviceName="api",
        serviceInstanceName="front",
        serviceSpec=component_spec,
        manifest=TERRAFORM_MANIFEST,
        templateFile=COMPONENT_TF,
    )["component"]
    phase(runtime, created["lastAttemptedDeploymentId"], "handed-off")
    tfvars = show(repo, "main", "dev/cache/proton.auto.tfvars.json")
    assert (
        '  "service" : {\n'
        '    "name" : "api"\n'
        "  },\n"
        '  "service_instance" : {\n'
        '    "name" : "front",\n'
        '    "inputs" : {\n'
        '      "port" : 9090\n'
        "    }\n"
        "  },\n"
    ) in tfvars
    assert (
        f'    "proton:service" : "arn:aws:proton:{REGION}:{ACCOUNT}:service/api",\n'
        f'    "proton:service-instance" : "{instance_arn}",\n'
        f'    "proton:component" : "{COMPONENT_ARN}"\n'
    ) in tfvars
    notify(proton, COMPONENT_ARN, created["lastAttemptedDeploymentId"], Bucket="cache-vpc-123")

    # The instance's next deployment sees the component's outputs.
    again = proton.update_service_instance(
        serviceName="api", name="front", deploymentType="CURRENT_VERSION", spec="port: 8080\n"
    )["serviceInstance"]["lastAttemptedDeploymentId"]
    phase(runtime, again, "handed-off")
    assert (
        '    "components" : {\n'
        '      "default" : {\n'
        '        "name" : "cache",\n'
        '        "outputs" : {\n'
        '          "Bucket" : "cache-vpc-123"\n'
        "        }\n"
        "      }\n"
        "    }\n"
    ) in show(repo, "main", "dev/api-front/proton.auto.tfvars.json")


# --- a pipeline waiting for its instances ---------------------------------------------------------------


@sqlite_only
def test_a_waiting_pipeline_looks_less_often_the_longer_it_waits(
    proton: Any, s3: Any, worker: Any, fast: Runtime, remotes: Path
) -> None:
    from baryon.domain.outcomes import RetryPolicy, Wait
    from baryon.engine import deploy
    from baryon.store.jobs import Job

    runtime = fast
    bare(remotes, "org/infra")
    pipelines = bare(remotes, "org/pipelines")
    tf_env_template(proton, s3)
    env_deployment = create_env(proton, link(runtime, proton, remotes, mode="direct"))[
        "lastAttemptedDeploymentId"
    ]
    phase(runtime, env_deployment, "handed-off")
    notify(proton, ENV_ARN, env_deployment, VpcId="vpc-123")
    proton.update_account_settings(
        pipelineProvisioningRepository=link(runtime, proton, remotes, "org/pipelines")
    )
    tf_service_template(proton, s3)
    service = proton.create_service(
        name="api",
        templateName="tf-svc",
        templateMajorVersion="1",
        spec=SERVICE_SPEC,
        repositoryConnectionArn=CONNECTION,
        repositoryId="org/api",
        branchName="main",
    )["service"]
    instance = proton.get_service_instance(serviceName="api", name="front")["serviceInstance"]
    phase(runtime, instance["lastAttemptedDeploymentId"], "handed-off")
    worker.stop()

    pipeline_deployment = service["pipeline"]["lastAttemptedDeploymentId"]
    started = record_of(runtime, pipeline_deployment).created_at
    clock = FakeClock(started)
    runtime.clock = clock
    job = Job(
        id="pipeline-job",
        kind=deploy.JOB_KIND,
        payload={"deployment_id": pipeline_deployment},
        attempts=0,
        retry_policy=RetryPolicy(),
        progress={},
        cancel_requested=False,
    )
    # A tenth of the wait so far, at least every second and at most every 30 s.
    for waited, delay in ((0.0, 1.0), (8.0, 1.0), (60.0, 6.0), (200.0, 20.0), (7200.0, 30.0)):
        clock.t = started + waited
        assert deploy.step(runtime, job) == Wait(clock.t + delay)
    assert progress_of(runtime, pipeline_deployment) == {}
    assert set(branches(pipelines)) == {"main"}

    # Once the instance has settled, the pipeline's next look publishes it.
    clock.t = started + 1.0  # requests are signed with the real time
    notify(proton, instance["arn"], instance["lastAttemptedDeploymentId"], Port="8080")
    assert deploy.step(runtime, job) == Done("handed over to the repository's automation")
    assert progress_of(runtime, pipeline_deployment)["phase"] == "handed-off"
    assert f"proton--proton-pipeline-{pipeline_deployment}" in branches(pipelines)
