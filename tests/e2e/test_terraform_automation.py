"""A Terraform provisioning repository's automation, played against real `baryon server` and `baryon
worker` processes with the real `aws` CLI.

The automation does what the workflow of aws-samples/aws-proton-terraform-github-actions-sample does:
it takes the branch Baryon pushed, finds the one `.proton/deployment-metadata.json` the branch changes,
merges the branch into `main` (the pull request's merge), reads `deploymentId`, `isResourceDeleted` and
`resourceMetadata.arn` (`componentMetadata.arn` for components), works out the working directory from the
ARN the way the workflow does, applies (or destroys) there, and reports with
`aws proton notify-resource-deployment-status-change`. Terraform itself is not run: `Terraform` below
evaluates the `output` blocks of the committed files against the committed `proton.auto.tfvars.json`, so
every output the test asserts was computed from what Baryon wrote. The repositories are plain `file://`
bare repositories behind a connection made with `baryon connections create`, so no host API is involved.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ACCOUNT
from tests.e2e.conftest import Deployment
from tests.support import bundles
from tests.support.awscli_contract import config_env
from tests.support.clients import http_client
from tests.support.databases import sqlite_only
from tests.support.git_repos import bare, git
from tests.support.processes import run
from tests.support.publishing import publish_environment_template, publish_service_template
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e
REGION = "us-east-1"
METADATA = ".proton/deployment-metadata.json"
TF_MANIFEST = bundles.TF_MANIFEST

ENV_SCHEMA = bundles.environment_schema(
    bundles.VPC_CIDR_INPUT
    + """        stage:
          type: string
          default: test
"""
)
ENV_TF = """locals {
  vpc_id = "vpc-${var.environment.name}-${var.environment.inputs.stage}"
}

output "VpcCidr" {
  value = var.environment.inputs.vpc_cidr
}

output "VpcId" {
  value = local.vpc_id
}
"""
SERVICE_SCHEMA = bundles.SERVICE_SCHEMA
INSTANCE_TF = """output "Endpoint" {
  value = "http://${var.service_instance.name}.${var.environment.outputs.VpcId}:${var.service_instance.inputs.port}"
}

output "Repository" {
  value = var.service.repository_id
}
"""
PIPELINE_TF = """output "Dockerfile" {
  value = var.pipeline.inputs.dockerfile
}

output "FirstEndpoint" {
  value = var.service_instances[0].outputs.Endpoint
}
"""
COMPONENT_MANIFEST = """infrastructure:
  templates:
    - file: "bucket.tf"
      rendering_engine: hcl
      template_language: terraform
"""
COMPONENT_TF = """output "Bucket" {
  value = "${var.component.name}-${var.environment.outputs.VpcId}"
}
"""
ENV_SPEC = "proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.7.0.0/16\n  stage: qa\n"
SERVICE_SPEC = bundles.CI_SERVICE_SPEC


# --- a stand-in for `terraform apply` / `terraform destroy` -------------------------------------------

_COMMENTS = re.compile(r"/\*.*?\*/|^\s*(#|//).*?$", re.S | re.M)
_VARIABLE = re.compile(r'^variable\s+"(\w+)"', re.M)
_LOCALS = re.compile(r"^locals\s*\{\n(.*?)^\}", re.S | re.M)
_OUTPUT = re.compile(r'^output\s+"(\w+)"\s*\{\s*value\s*=\s*(.+?)\s*\n\}', re.S | re.M)
_REFERENCE = re.compile(r"(var|local)\.(\w+)((?:\.\w+|\[\d+\])*)")
_STEP = re.compile(r"\.(\w+)|\[(\d+)\]")


def _text(value: Any) -> str:
    """A value as Terraform turns it into a string (`map(string)` members, interpolation)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Terraform:
    """Evaluates the `locals` and `output` blocks of a working directory against its tfvars; keeps each
    working directory's outputs as its state."""

    def __init__(self) -> None:
        self.state: dict[str, dict[str, str]] = {}

    def apply(self, directory: Path, key: str) -> dict[str, str]:
        variables = json.loads((directory / "proton.auto.tfvars.json").read_text())
        source = "\n".join(_COMMENTS.sub("", path.read_text()) for path in sorted(directory.glob("*.tf")))
        # Every value is declared ("//" is a comment in Terraform's JSON syntax).
        declared = set(_VARIABLE.findall(source))
        assert set(variables) - {"//"} <= declared, (sorted(variables), sorted(declared))
        scope: dict[str, Any] = {"var": variables, "local": {}}
        for block in _LOCALS.findall(source):
            for line in block.splitlines():
                if "=" in line:
                    name, _, expression = line.partition("=")
                    scope["local"][name.strip()] = self._evaluate(expression.strip(), scope)
        outputs = {name: self._evaluate(expression, scope) for name, expression in _OUTPUT.findall(source)}
        assert outputs, f"no outputs in {directory}"
        self.state[key] = outputs
        return outputs

    def destroy(self, key: str) -> None:
        del self.state[key]

    def _evaluate(self, expression: str, scope: dict[str, Any]) -> str:
        if expression.startswith('"') and expression.endswith('"'):
            return re.sub(r"\$\{(.+?)\}", lambda m: self._evaluate(m.group(1), scope), expression[1:-1])
        match = _REFERENCE.fullmatch(expression)
        assert match is not None, f"unsupported expression {expression!r}"
        value = scope[match.group(1)][match.group(2)]
        for name, index in _STEP.findall(match.group(3)):
            value = value[name] if name else value[int(index)]
        return _text(value)


# --- the automation ---------------------------------------------------------------------------------


@dataclass
class Run:
    """What one run of the automation did."""

    branch: str
    resource_arn: str
    deployment_id: str
    deleted: bool
    working_directory: str
    outputs: dict[str, str] = field(default_factory=dict)


def working_directory(arn: str, metadata: dict[str, Any]) -> str:
    """The directory the sample workflow runs Terraform in, worked out from the resource ARN."""
    resource = arn.split(":", 5)[5]
    parts = resource.split("/")
    if resource.startswith("environment/"):
        return f"{parts[1]}/"
    if "/service-instance/" in resource:
        environment = metadata["resourceMetadata"]["environmentArn"].rsplit("/", 1)[1]
        return f"{environment}/{parts[1]}-{parts[3]}/"
    if resource.endswith("/pipeline"):
        return f"{parts[1]}/pipeline"
    if resource.startswith("component/"):
        environment = metadata["componentMetadata"]["environmentArn"].rsplit("/", 1)[1]
        return f"{environment}/{parts[1]}/"
    raise AssertionError(f"unexpected resource {arn}")


class Automation:
    """The repository's CI: one clone of the repository, the Terraform state of its directories."""

    def __init__(self, remote: Path, work: Path, aws: Any) -> None:
        self.work = work
        self.aws = aws
        self.terraform = Terraform()
        self.handled: set[str] = set()
        git("clone", "-q", str(remote), str(work))

    def _pending(self) -> list[str]:
        heads = git("ls-remote", "--heads", "origin", "proton--proton-*", cwd=self.work)
        names = [line.split("refs/heads/", 1)[1] for line in heads.splitlines()]
        return [name for name in names if name not in self.handled]

    def run(self, *, shorthand: bool = False) -> Run:
        """Wait for the next branch Baryon pushes, merge it, apply or destroy, report back."""
        (branch,) = wait_for(self._pending, timeout=60.0)
        self.handled.add(branch)
        git("fetch", "-q", "origin", cwd=self.work)
        changed = git("diff", "--name-only", f"origin/main...origin/{branch}", cwd=self.work).splitlines()
        (metadata_path,) = [path for path in changed if path.endswith(METADATA)]
        # The pull request is merged; the workflow runs on the push to main.
        git("checkout", "-q", "main", cwd=self.work)
        git("merge", "-q", "--ff-only", "origin/main", cwd=self.work)
        git("merge", "-q", "--no-ff", "-m", f"Merge {branch}", f"origin/{branch}", cwd=self.work)
        git("push", "-q", "origin", "main", cwd=self.work)

        metadata = json.loads((self.work / metadata_path).read_text())
        arn = (metadata.get("resourceMetadata") or metadata.get("componentMetadata"))["arn"]
        deployment_id = metadata["deploymentId"]
        deleted = metadata["isResourceDeleted"]
        directory = working_directory(arn, metadata)
        # Baryon's folder is the one the sample workflow runs Terraform in.
        assert metadata_path == directory.rstrip("/") + "/" + METADATA
        done = Run(branch, arn, deployment_id, deleted, directory)
        if deleted:
            assert deployment_id == "<proton-resource-deleted>"
            self.terraform.destroy(directory)
            # The metadata holds no deployment id to echo: report without one.
            self.aws(
                "notify-resource-deployment-status-change", "--resource-arn", arn, "--status", "SUCCEEDED"
            )
            return done
        done.outputs = self.terraform.apply(self.work / directory, directory)
        if shorthand:
            outputs = [f"key={key},valueString={value}" for key, value in done.outputs.items()]
        else:
            outputs = [json.dumps([{"key": k, "valueString": v} for k, v in done.outputs.items()])]
        self.aws(
            "notify-resource-deployment-status-change",
            "--resource-arn",
            arn,
            "--status",
            "SUCCEEDED",
            "--deployment-id",
            deployment_id,
            "--outputs",
            *outputs,
        )
        return done


# --- the test ---------------------------------------------------------------------------------------


class AwsCli:
    """`aws proton …` against the server, with the deployment's credential."""

    def __init__(self, deployment: Deployment, tmp: Path) -> None:
        self.endpoint = deployment.endpoint
        self.tmp = tmp
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BARYON_"))}
        self.env.update(
            AWS_ACCESS_KEY_ID=deployment.credential.access_key_id,
            AWS_SECRET_ACCESS_KEY=deployment.credential.secret_access_key,
            AWS_DEFAULT_REGION=REGION,
            **config_env(tmp),
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        )

    def call(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                shutil.which("aws") or "aws",
                "proton",
                *args,
                "--endpoint-url",
                self.endpoint,
                "--output",
                "json",
            ],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def __call__(self, *args: str) -> dict[str, Any]:
        result = self.call(*args)
        assert result.returncode == 0, (args, result.stderr)
        answer: dict[str, Any] = json.loads(result.stdout) if result.stdout.strip() else {}
        return answer

    def error(self, *args: str) -> str:
        result = self.call(*args)
        assert result.returncode != 0, (args, result.stdout)
        return result.stderr

    def file(self, name: str, text: str) -> str:
        path = self.tmp / name
        path.write_text(text)
        return f"file://{path}"

    def outputs(self, *args: str) -> dict[str, str]:
        return {o["key"]: o["valueString"] for o in self(*args)["outputs"]}


def _register(deployment: Deployment, s3: Any) -> None:
    proton = http_client(deployment.endpoint, deployment.credential)
    env_bundle = bundles.tar_gz(
        {
            "schema/schema.yaml": ENV_SCHEMA,
            "infrastructure/manifest.yaml": TF_MANIFEST,
            "infrastructure/main.tf": ENV_TF,
        },
        "environment/",
    )
    service_bundle = bundles.tar_gz(
        {
            "schema/schema.yaml": SERVICE_SCHEMA,
            "instance_infrastructure/manifest.yaml": TF_MANIFEST,
            "instance_infrastructure/main.tf": INSTANCE_TF,
            "pipeline_infrastructure/manifest.yaml": TF_MANIFEST,
            "pipeline_infrastructure/main.tf": PIPELINE_TF,
        },
        "service/",
    )
    publish_environment_template(proton, s3, "tf-env", env_bundle)
    publish_service_template(proton, s3, "tf-svc", service_bundle, compatible="tf-env")


@sqlite_only
def test_the_repository_automation_reports_back_with_the_aws_cli(
    deployment: Deployment, s3: Any, tmp_path: Path
) -> None:
    remotes = tmp_path / "remotes"
    infra_remote = bare(remotes, "org/infra")
    pipelines_remote = bare(remotes, "org/pipelines")
    created = run(
        [
            "connections",
            "create",
            "--account-id",
            ACCOUNT,
            "--region",
            REGION,
            "--name",
            "local-git",
            "--provider",
            "GITHUB",
            "--url-template",
            f"file://{remotes}/{{repository}}.git",
            "--output",
            "json",
        ],
        deployment.env,
    )
    assert created.returncode == 0, created.stderr
    connection_arn = json.loads(created.stdout)["connectionArn"]
    aws = AwsCli(deployment, tmp_path)
    for name in ("org/infra", "org/pipelines"):
        aws("create-repository", "--provider", "GITHUB", "--name", name, "--connection-arn", connection_arn)
    _register(deployment, s3)
    infra = Automation(infra_remote, tmp_path / "ci-infra", aws)
    pipelines = Automation(pipelines_remote, tmp_path / "ci-pipelines", aws)
    env_arn = f"arn:aws:proton:{REGION}:{ACCOUNT}:environment/dev"

    # An environment.
    environment = aws(
        "create-environment",
        "--name",
        "dev",
        "--template-name",
        "tf-env",
        "--template-major-version",
        "1",
        "--spec",
        aws.file("env.yaml", ENV_SPEC),
        "--provisioning-repository",
        "provider=GITHUB,name=org/infra,branch=main",
    )["environment"]
    done = infra.run(shorthand=True)
    assert (done.resource_arn, done.deployment_id, done.deleted, done.working_directory) == (
        env_arn,
        environment["lastAttemptedDeploymentId"],
        False,
        "dev/",
    )
    assert done.branch == f"proton--proton-environment-{done.deployment_id}"
    environment = aws("get-environment", "--name", "dev")["environment"]
    assert (environment["deploymentStatus"], environment["lastSucceededDeploymentId"]) == (
        "SUCCEEDED",
        done.deployment_id,
    )
    env_outputs = {"VpcCidr": "10.7.0.0/16", "VpcId": "vpc-dev-qa"}
    assert aws.outputs("list-environment-outputs", "--environment-name", "dev") == env_outputs

    # A service instance, which reads the environment's outputs, and the pipeline, in the account's
    # pipeline repository, which reads the instance's.
    aws(
        "update-account-settings",
        "--pipeline-provisioning-repository",
        "provider=GITHUB,name=org/pipelines,branch=main",
    )
    aws(
        "create-service",
        "--name",
        "api",
        "--template-name",
        "tf-svc",
        "--template-major-version",
        "1",
        "--spec",
        aws.file("service.yaml", SERVICE_SPEC),
        "--repository-connection-arn",
        connection_arn,
        "--repository-id",
        "org/api",
        "--branch-name",
        "main",
    )
    done = infra.run()
    instance_arn = f"arn:aws:proton:{REGION}:{ACCOUNT}:service/api/service-instance/front"
    assert (done.resource_arn, done.working_directory) == (instance_arn, "dev/api-front/")
    instance = aws("get-service-instance", "--service-name", "api", "--name", "front")["serviceInstance"]
    assert (instance["deploymentStatus"], instance["lastSucceededDeploymentId"]) == (
        "SUCCEEDED",
        done.deployment_id,
    )
    instance_outputs = {"Endpoint": "http://front.vpc-dev-qa:8080", "Repository": "org/api"}
    assert (
        aws.outputs(
            "list-service-instance-outputs", "--service-name", "api", "--service-instance-name", "front"
        )
        == instance_outputs
    )

    done = pipelines.run()
    pipeline_arn = f"arn:aws:proton:{REGION}:{ACCOUNT}:service/api/pipeline"
    assert (done.resource_arn, done.working_directory) == (pipeline_arn, "api/pipeline")
    service = aws("get-service", "--name", "api")["service"]
    assert service["status"] == "ACTIVE"
    assert (service["pipeline"]["deploymentStatus"], service["pipeline"]["lastSucceededDeploymentId"]) == (
        "SUCCEEDED",
        done.deployment_id,
    )
    assert aws.outputs("list-service-pipeline-outputs", "--service-name", "api") == {
        "Dockerfile": "Dockerfile.ci",
        "FirstEndpoint": "http://front.vpc-dev-qa:8080",
    }

    # A component, in the environment's repository.
    aws(
        "create-component",
        "--name",
        "cache",
        "--environment-name",
        "dev",
        "--manifest",
        aws.file("manifest.yaml", COMPONENT_MANIFEST),
        "--template-file",
        aws.file("bucket.tf", COMPONENT_TF),
    )
    done = infra.run()
    component_arn = f"arn:aws:proton:{REGION}:{ACCOUNT}:component/cache"
    assert (done.resource_arn, done.working_directory) == (component_arn, "dev/cache/")
    assert aws("get-component", "--name", "cache")["component"]["deploymentStatus"] == "SUCCEEDED"
    assert aws.outputs("list-component-outputs", "--component-name", "cache") == {
        "Bucket": "cache-vpc-dev-qa"
    }

    # Deletions: the automation destroys and reports SUCCEEDED; the resource is gone.
    aws("delete-component", "--name", "cache")
    done = infra.run()
    assert (done.resource_arn, done.deleted, done.working_directory) == (component_arn, True, "dev/cache/")
    assert "ResourceNotFoundException" in aws.error("get-component", "--name", "cache")

    aws("delete-service", "--name", "api")
    done = infra.run()
    assert (done.resource_arn, done.deleted) == (instance_arn, True)
    done = pipelines.run()
    assert (done.resource_arn, done.deleted) == (pipeline_arn, True)
    wait_for(lambda: "ResourceNotFoundException" in aws.error("get-service", "--name", "api"), timeout=60.0)

    aws("delete-environment", "--name", "dev")
    done = infra.run()
    assert (done.resource_arn, done.deleted, done.working_directory) == (env_arn, True, "dev/")
    assert "ResourceNotFoundException" in aws.error("get-environment", "--name", "dev")
    assert infra.terraform.state == {} and pipelines.terraform.state == {}
    deployments = aws("list-deployments")["deployments"]
    assert sorted(d["deploymentStatus"] for d in deployments) == ["DELETE_COMPLETE"] * 4 + ["SUCCEEDED"] * 4
