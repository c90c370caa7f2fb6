"""`baryon template publish` and `baryon render` against a real `baryon up`, as a template author uses them:
publish a folder (the endpoint and credentials from the data dir's baryon.env), see the version registered
and published through the Proton API, see a failed registration's reason; render what an environment would
deploy and its diff against what is deployed."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support import bundles, contract
from tests.support.processes import run
from tests.support.up import running_up
from tests.support.waiters import within

ROLE = "arn:aws:iam::123456789012:role/proton-service"

pytestmark = pytest.mark.e2e

SERVICE_SPEC = (
    "proton: ServiceSpec\ninstances:\n  - name: front\n    environment: dev\n    spec:\n      port: 8080\n"
)


@dataclass
class Up:
    data: Path
    env: dict[str, str]
    exports: dict[str, str]

    def proton(self) -> Any:
        return contract.install(
            boto3.client(
                "proton",
                endpoint_url=self.exports["AWS_ENDPOINT_URL_PROTON"],
                region_name=self.exports["AWS_DEFAULT_REGION"],
                aws_access_key_id=self.exports["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=self.exports["AWS_SECRET_ACCESS_KEY"],
            )
        )

    def create_role(self, name: str) -> None:
        """The role environments name, in the local cloud's IAM, as a user creates it first."""
        iam = boto3.client(
            "iam",
            endpoint_url=self.exports["AWS_ENDPOINT_URL_IAM"],
            region_name=self.exports["AWS_DEFAULT_REGION"],
            aws_access_key_id=self.exports["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.exports["AWS_SECRET_ACCESS_KEY"],
        )
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudformation.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))

    def baryon(self, *args: str) -> Any:
        return run([*args], self.env, timeout=300)


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    with running_up(tmp_path) as running:
        yield Up(running.data, {**running.env, "BARYON_DATA_DIR": str(running.data)}, running.exports)


def _folder(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return root


def _environment_folder(tmp_path: Path, template: str = bundles.CFN_ENV) -> Path:
    return _folder(
        tmp_path / "vpc-env",
        {
            "schema/schema.yaml": bundles.ENV_SCHEMA,
            "infrastructure/manifest.yaml": bundles.CFN_MANIFEST,
            "infrastructure/cloudformation.yaml": template,
        },
    )


def test_publish_render_and_diff(up: Up, tmp_path: Path) -> None:
    folder = _environment_folder(tmp_path)
    published = up.baryon(
        "template", "publish", str(folder), "--name", "vpc-env", "--kind", "environment", "--publish"
    )
    assert published.returncode == 0, published.stdout + published.stderr
    lines = published.stdout.splitlines()
    assert lines[0] == f"Using {up.exports['AWS_ENDPOINT_URL_PROTON']} from {up.data / 'baryon.env'}"
    assert "Created bucket baryon-templates" in lines
    assert "Created environment template vpc-env" in lines
    assert "Registering vpc-env 1.0" in lines
    assert "Published vpc-env 1.0" in lines
    assert lines[-1] == "vpc-env 1.0 is PUBLISHED"
    proton = up.proton()
    versions = proton.list_environment_template_versions(templateName="vpc-env")["templateVersions"]
    assert [(v["majorVersion"], v["minorVersion"], v["status"]) for v in versions] == [
        ("1", "0", "PUBLISHED")
    ]

    # A minor version of major 1, registered but not published.
    (folder / "infrastructure" / "cloudformation.yaml").write_text(
        bundles.CFN_ENV.replace(
            "Resources:\n", "Description: the VPC of {{ environment.name }}\nResources:\n"
        )
    )
    minor = up.baryon(
        "template", "publish", str(folder), "--name", "vpc-env", "--kind", "environment", "--major", "1"
    )
    assert minor.returncode == 0, minor.stdout + minor.stderr
    assert minor.stdout.splitlines()[-1] == "vpc-env 1.1 is DRAFT"
    assert "Created environment template" not in minor.stdout

    # Deploy 1.0, then render what 1.1 with another CIDR would send, and its diff.
    up.create_role("proton-service")
    proton.create_environment(
        name="dev",
        templateName="vpc-env",
        templateMajorVersion="1",
        templateMinorVersion="0",
        spec="proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.1.0.0/16\n",
        protonServiceRoleArn=ROLE,
    )
    proton.get_waiter("environment_deployed").wait(name="dev", WaiterConfig=within(120))
    deployed = up.baryon("render", "--environment", "dev")
    assert deployed.returncode == 0, deployed.stderr
    assert deployed.stdout == bundles.CFN_ENV.replace("{{ environment.inputs.vpc_cidr }}", "10.1.0.0/16")
    spec = tmp_path / "spec.yaml"
    spec.write_text("proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.2.0.0/16\n")
    changed = up.baryon("render", "--environment", "dev", "--version", "1.1", "--spec", str(spec), "--diff")
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.splitlines() == [
        "--- deployed/infrastructure/cloudformation.yaml (1.0)",
        "+++ proposed/infrastructure/cloudformation.yaml (1.1)",
        "@@ -1,8 +1,9 @@",
        "+Description: the VPC of dev",
        " Resources:",
        "   VPC:",
        "     Type: AWS::EC2::VPC",
        "     Properties:",
        "-      CidrBlock: '10.1.0.0/16'",
        "+      CidrBlock: '10.2.0.0/16'",
        " Outputs:",
        "   VpcId:",
        "     Value: !Ref VPC",
    ]
    same = up.baryon("render", "--environment", "dev", "--diff")
    assert same.stdout == "No changes: infrastructure/cloudformation.yaml renders as deployed.\n"
    missing = up.baryon("render", "--environment", "prod")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "Error: Environment prod does not exist."


def test_a_failed_registration_shows_its_reason(up: Up, tmp_path: Path) -> None:
    folder = _environment_folder(tmp_path)
    (folder / "infrastructure" / "manifest.yaml").write_text("infrastructure:\n  templates: []\n")
    result = up.baryon("template", "publish", str(folder), "--name", "broken", "--kind", "environment")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: Registration of broken 1.0 failed: infrastructure/manifest.yaml")
    versions = up.proton().list_environment_template_versions(templateName="broken")["templateVersions"]
    assert [v["status"] for v in versions] == ["REGISTRATION_FAILED"]


def test_a_service_template_needs_its_compatible_environments(up: Up, tmp_path: Path) -> None:
    env_folder = _environment_folder(tmp_path)
    assert (
        up.baryon(
            "template", "publish", str(env_folder), "--name", "vpc-env", "--kind", "environment"
        ).returncode
        == 0
    )
    files = bundles.cfn_service_files(bundles.SERVICE_SCHEMA_NO_PIPELINE, bundles.CFN_INSTANCE, None)
    folder = _folder(tmp_path / "svc", files)
    refused = up.baryon("template", "publish", str(folder), "--name", "svc", "--kind", "service")
    assert refused.returncode == 2
    assert "A service template version needs --compatible-env NAME:MAJOR." in refused.stderr
    published = up.baryon(
        "template",
        "publish",
        str(folder),
        "--name",
        "svc",
        "--kind",
        "service",
        "--compatible-env",
        "vpc-env:1",
        "--publish",
    )
    assert published.returncode == 0, published.stdout + published.stderr
    proton = up.proton()
    template = proton.get_service_template(name="svc")["serviceTemplate"]
    assert template["pipelineProvisioning"] == "CUSTOMER_MANAGED"
    version = proton.get_service_template_version(templateName="svc", majorVersion="1", minorVersion="0")
    assert version["serviceTemplateVersion"]["compatibleEnvironmentTemplates"] == [
        {"templateName": "vpc-env", "majorVersion": "1"}
    ]
    assert version["serviceTemplateVersion"]["status"] == "PUBLISHED"

    # Deployed, an instance renders with its environment's outputs; a pipeline it does not have is named.
    up.create_role("proton-service")
    proton.update_environment_template_version(
        templateName="vpc-env", majorVersion="1", minorVersion="0", status="PUBLISHED"
    )
    proton.create_environment(
        name="dev",
        templateName="vpc-env",
        templateMajorVersion="1",
        spec="proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.1.0.0/16\n",
        protonServiceRoleArn=ROLE,
    )
    proton.get_waiter("environment_deployed").wait(name="dev", WaiterConfig=within(120))
    proton.create_service(
        name="api",
        templateName="svc",
        templateMajorVersion="1",
        spec=SERVICE_SPEC,
    )
    proton.get_waiter("service_created").wait(name="api", WaiterConfig=within(120))
    vpc_id = proton.list_environment_outputs(environmentName="dev")["outputs"][0]["valueString"]
    rendered = up.baryon("render", "--service", "api", "--instance", "front")
    assert rendered.returncode == 0, rendered.stderr
    assert rendered.stdout == (
        bundles.CFN_INSTANCE.replace("{{ service.name }}-{{ service_instance.name }}", "api-front")
        .replace("{{ service_instance.inputs.port }}", "8080")
        .replace("{{ environment.outputs.VpcId }}", vpc_id)
    )
    no_pipeline = up.baryon("render", "--pipeline", "api")
    assert no_pipeline.returncode == 1
    assert no_pipeline.stderr.strip() == "Error: The pipeline of service api does not exist."


def test_without_baryon_up_it_says_where_it_looked(tmp_path: Path) -> None:
    folder = _environment_folder(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BARYON_"))}
    result = run(
        [
            "template",
            "publish",
            str(folder),
            "--name",
            "x",
            "--kind",
            "environment",
            "--data-dir",
            str(tmp_path / "none"),
        ],
        env,
    )
    assert result.returncode == 1
    env_file = tmp_path / "none" / "baryon.env"
    assert result.stderr.strip() == (
        f"Error: No Proton endpoint: AWS_ENDPOINT_URL_PROTON is not set and {env_file} does not exist "
        "(start `baryon up`, or set AWS_ENDPOINT_URL_PROTON and credentials)."
    )
