"""The files of a Terraform deployment (proton-semantics §3.3, §4.2): exact bytes of every file, the
folder layout, commit message and branch, deletion marking, and the bundles they come from."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from baryon.bundles import load_bundle
from baryon.bundles.manifest import parse_manifest
from baryon.render import RenderError, TerraformChange, terraform_deletion, terraform_files
from baryon.render import terraform as tf
from baryon.render.context import (
    component_context,
    environment_context,
    pipeline_context,
    service_instance_context,
)
from tests.support import bundles

ACCOUNT = "123456789012"
ENV_ARN = f"arn:aws:proton:us-east-1:{ACCOUNT}:environment/dev"
ENV_TEMPLATE_ARN = f"arn:aws:proton:us-east-1:{ACCOUNT}:environment-template/tf-env"
SVC_TEMPLATE_ARN = f"arn:aws:proton:us-east-1:{ACCOUNT}:service-template/tf-svc"
INSTANCE_ARN = f"arn:aws:proton:us-east-1:{ACCOUNT}:service/api/service-instance/api-dev"
PIPELINE_ARN = f"arn:aws:proton:us-east-1:{ACCOUNT}:service/api/pipeline"
COMPONENT_ARN = f"arn:aws:proton:us-east-1:{ACCOUNT}:component/bucket"
DEPLOYMENT = "0f6a4e1c-3a8d-4d2e-9b8f-1c2d3e4f5a6b"

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
DELETED = (
    "/*\n"
    "This file is no longer managed by AWS Proton. The associated resource has been deleted in Proton.\n"
    "*/\n"
    "\n"
)
TAGS_BLOCK = 'variable "proton_tags" {\n  type    = map(string)\n  default = null\n}\n'
ENVIRONMENT_WITH_ACCOUNT = (
    "  type = object({\n"
    "    account_id = string\n"
    "    name       = string\n"
    "    outputs    = map(string)\n"
    "  })\n"
)
ENV = {"name": "dev", "account_id": ACCOUNT, "outputs": {"VpcId": "vpc-1"}}
REPO_SERVICE = {
    "name": "api",
    "branch_name": "main",
    "repository_connection_arn": f"arn:aws:codestar-connections:us-east-1:{ACCOUNT}:connection/c1",
    "repository_id": "org/api",
}


def header(arn: str) -> bytes:
    return HEADER.format(arn=arn).encode()


def env_sources() -> dict[str, bytes]:
    info = load_bundle(bundles.terraform_environment_bundle(), kind="ENVIRONMENT")
    return tf.bundle_sources(info, "infrastructure")


def service_sources(part: str) -> dict[str, bytes]:
    info = load_bundle(bundles.terraform_service_bundle(), kind="SERVICE", has_pipeline=True)
    return tf.bundle_sources(info, part)


def env_change(existing: list[str] | None = None, **inputs: Any) -> TerraformChange:
    values = {"vpc_cidr": "10.0.0.0/16", "az_count": 2, "nat": False, **inputs}
    context = environment_context(name="dev", account_id=ACCOUNT, inputs=values)
    return terraform_files(
        "environment", ENV_ARN, ENV_TEMPLATE_ARN, 1, 0, DEPLOYMENT, env_sources(), context, existing or []
    )


def instance_change(
    service: dict[str, Any] | None = None,
    component: dict[str, Any] | None = None,
    existing: list[str] | None = None,
) -> TerraformChange:
    context = service_instance_context(
        environment=ENV,
        service=service or {"name": "api"},
        instance={"name": "api-dev", "inputs": {"port": 8080, "image": "nginx"}},
        component=component,
    )
    return terraform_files(
        "service_instance",
        INSTANCE_ARN,
        SVC_TEMPLATE_ARN,
        2,
        3,
        DEPLOYMENT,
        service_sources("instance_infrastructure"),
        context,
        existing or [],
        environment_arn=ENV_ARN,
    )


# --- environment ----------------------------------------------------------------------------------


def test_environment_files_byte_for_byte() -> None:
    change = env_change(subnets=["10.0.1.0/24", "10.0.2.0/24"])
    assert change.folder == "dev"
    assert change.commit_message == "Update requested for Proton - environment/dev"
    assert change.branch == f"proton--proton-environment-{DEPLOYMENT}"
    assert sorted(change.files) == [
        "dev/.proton/deployment-metadata.json",
        "dev/config.tf",
        "dev/main.tf",
        "dev/outputs.tf",
        "dev/proton.auto.tfvars.json",
        "dev/proton.environment.variables.tf",
    ]
    for name, source in bundles.TF_ENV_FILES.items():
        assert change.files[f"dev/{name}"] == header(ENV_ARN) + source.encode()
    assert (
        change.files["dev/proton.environment.variables.tf"]
        == header(ENV_ARN)
        + (
            'variable "environment" {\n'
            "  type = object({\n"
            "    inputs = map(string)\n"
            "    name   = string\n"
            "  })\n"
            "  default = null\n"
            "}\n"
            "\n" + TAGS_BLOCK
        ).encode()
    )
    assert (
        change.files["dev/proton.auto.tfvars.json"]
        == (
            "{\n"
            '  "environment" : {\n'
            '    "name" : "dev",\n'
            '    "inputs" : {\n'
            '      "vpc_cidr" : "10.0.0.0/16",\n'
            '      "az_count" : 2,\n'
            '      "nat" : false,\n'
            '      "subnets" : "[\\"10.0.1.0/24\\",\\"10.0.2.0/24\\"]"\n'
            "    }\n"
            "  },\n"
            '  "proton_tags" : {\n'
            f'    "proton:account" : "{ACCOUNT}",\n'
            f'    "proton:template" : "{ENV_TEMPLATE_ARN}",\n'
            f'    "proton:environment" : "{ENV_ARN}"\n'
            "  },\n"
            f'  "//" : "{ENV_ARN}"\n'
            "}"
        ).encode()
    )
    assert (
        change.files["dev/.proton/deployment-metadata.json"]
        == (
            "{\n"
            f'  "deploymentId" : "{DEPLOYMENT}",\n'
            '  "isResourceDeleted" : false,\n'
            '  "resourceMetadata" : {\n'
            f'    "arn" : "{ENV_ARN}",\n'
            f'    "templateArn" : "{ENV_TEMPLATE_ARN}",\n'
            '    "templateMajorVersion" : "1",\n'
            '    "templateMinorVersion" : "0"\n'
            "  }\n"
            "}"
        ).encode()
    )
    assert change.stale == ()


def test_list_inputs_are_json_text_that_decodes_to_the_value() -> None:
    change = env_change(subnets=["a", "b"], tags={"team": "x"})
    inputs = json.loads(change.files["dev/proton.auto.tfvars.json"])["environment"]["inputs"]
    assert json.loads(inputs["subnets"]) == ["a", "b"]
    assert json.loads(inputs["tags"]) == {"team": "x"}
    assert inputs["az_count"] == 2 and inputs["nat"] is False


def test_only_tf_files_directly_in_the_part_folder_are_copied() -> None:
    archive = bundles.terraform_environment_bundle(
        **{
            "infrastructure/README.md": "docs",
            "infrastructure/lambda.zip": b"PK\x03\x04\x00\xff",
            "infrastructure/modules/net.tf": "# nested\n",
        }
    )
    info = load_bundle(archive, kind="ENVIRONMENT")
    assert info.parts["infrastructure"] == {
        "rendering_engine": "hcl",
        "template_language": "terraform",
        "files": ["config.tf", "main.tf", "outputs.tf"],
    }
    assert sorted(tf.bundle_sources(info, "infrastructure")) == ["config.tf", "main.tf", "outputs.tf"]


def test_a_byte_order_mark_is_dropped_after_the_header() -> None:
    context = environment_context(name="dev", account_id=ACCOUNT, inputs={})
    change = terraform_files(
        "ENVIRONMENT",
        ENV_ARN,
        ENV_TEMPLATE_ARN,
        1,
        0,
        DEPLOYMENT,
        {"a.tf": b"\xef\xbb\xbfx = 1\n"},
        context,
        [],
    )
    assert change.files["dev/a.tf"] == header(ENV_ARN) + b"x = 1\n"
    tfvars = change.files["dev/proton.auto.tfvars.json"].decode()
    assert '"inputs" : { }' in tfvars


# --- service instance -----------------------------------------------------------------------------


def test_service_instance_without_repository_or_component() -> None:
    change = instance_change()
    folder = "dev/api-api-dev"
    assert change.folder == folder
    assert change.commit_message == "Update requested for Proton - service/api/service-instance/api-dev"
    assert change.branch == f"proton--proton-service_instance-{DEPLOYMENT}"
    assert (
        change.files[f"{folder}/main.tf"]
        == header(INSTANCE_ARN) + bundles.TF_INSTANCE_FILES["main.tf"].encode()
    )
    assert (
        change.files[f"{folder}/proton.service_instance.variables.tf"]
        == header(INSTANCE_ARN)
        + (
            'variable "environment" {\n' + ENVIRONMENT_WITH_ACCOUNT + "  default = null\n"
            "}\n"
            "\n"
            'variable "service" {\n'
            "  type = object({\n"
            "    name = string\n"
            "  })\n"
            "}\n"
            "\n"
            'variable "service_instance" {\n'
            "  type = object({\n"
            "    name       = string\n"
            "    inputs     = map(string)\n"
            "    components = map(any)\n"
            "  })\n"
            "  default = null\n"
            "}\n"
            "\n" + TAGS_BLOCK
        ).encode()
    )
    assert (
        change.files[f"{folder}/proton.auto.tfvars.json"]
        == (
            "{\n"
            '  "environment" : {\n'
            f'    "account_id" : "{ACCOUNT}",\n'
            '    "name" : "dev",\n'
            '    "outputs" : {\n'
            '      "VpcId" : "vpc-1"\n'
            "    }\n"
            "  },\n"
            '  "service" : {\n'
            '    "name" : "api"\n'
            "  },\n"
            '  "service_instance" : {\n'
            '    "name" : "api-dev",\n'
            '    "inputs" : {\n'
            '      "port" : 8080,\n'
            '      "image" : "nginx"\n'
            "    },\n"
            '    "components" : { }\n'
            "  },\n"
            '  "proton_tags" : {\n'
            f'    "proton:account" : "{ACCOUNT}",\n'
            f'    "proton:template" : "{SVC_TEMPLATE_ARN}",\n'
            f'    "proton:environment" : "{ENV_ARN}",\n'
            f'    "proton:service" : "arn:aws:proton:us-east-1:{ACCOUNT}:service/api",\n'
            f'    "proton:service-instance" : "{INSTANCE_ARN}"\n'
            "  },\n"
            f'  "//" : "{INSTANCE_ARN}"\n'
            "}"
        ).encode()
    )
    assert (
        change.files[f"{folder}/.proton/deployment-metadata.json"]
        == (
            "{\n"
            f'  "deploymentId" : "{DEPLOYMENT}",\n'
            '  "isResourceDeleted" : false,\n'
            '  "resourceMetadata" : {\n'
            f'    "arn" : "{INSTANCE_ARN}",\n'
            f'    "templateArn" : "{SVC_TEMPLATE_ARN}",\n'
            '    "templateMajorVersion" : "2",\n'
            '    "templateMinorVersion" : "3",\n'
            f'    "environmentArn" : "{ENV_ARN}"\n'
            "  }\n"
            "}"
        ).encode()
    )


def test_service_instance_with_repository_and_component() -> None:
    change = instance_change(
        service=REPO_SERVICE, component={"name": "bucket", "outputs": {"BucketArn": "arn:aws:s3:::b"}}
    )
    variables = change.files["dev/api-api-dev/proton.service_instance.variables.tf"].decode()
    assert (
        'variable "service" {\n'
        "  type = object({\n"
        "    name                      = string\n"
        "    branch_name               = string\n"
        "    repository_connection_arn = string\n"
        "    repository_id             = string\n"
        "  })\n"
        "}\n"
    ) in variables
    tfvars = change.files["dev/api-api-dev/proton.auto.tfvars.json"].decode()
    assert (
        '  "service" : {\n'
        '    "name" : "api",\n'
        f'    "repository_connection_arn" : "{REPO_SERVICE["repository_connection_arn"]}",\n'
        '    "repository_id" : "org/api",\n'
        '    "branch_name" : "main"\n'
        "  },\n"
    ) in tfvars
    assert (
        '    "components" : {\n'
        '      "default" : {\n'
        '        "name" : "bucket",\n'
        '        "outputs" : {\n'
        '          "BucketArn" : "arn:aws:s3:::b"\n'
        "        }\n"
        "      }\n"
        "    }\n"
    ) in tfvars


# --- pipeline -------------------------------------------------------------------------------------


def pipeline_change(instances: list[dict[str, Any]], existing: list[str] | None = None) -> TerraformChange:
    context = pipeline_context(
        service=REPO_SERVICE, pipeline_inputs={"dockerfile": "Dockerfile"}, instances=instances
    )
    return terraform_files(
        "service_pipeline",
        PIPELINE_ARN,
        SVC_TEMPLATE_ARN,
        1,
        2,
        DEPLOYMENT,
        service_sources("pipeline_infrastructure"),
        context,
        existing or [],
    )


def test_service_pipeline_files() -> None:
    instance = {"name": "api-dev", "inputs": {"port": 80}, "outputs": {"Port": "80"}, "environment": ENV}
    second = {"name": "api-prod", "inputs": {}, "outputs": {}, "environment": {**ENV, "name": "prod"}}
    change = pipeline_change([instance, second], existing=["environments/dev/main.tf"])
    folder = "api/pipeline"
    assert change.folder == folder
    assert change.commit_message == "Update requested for Proton - service/api/pipeline"
    assert change.branch == f"proton--proton-pipeline-{DEPLOYMENT}"
    assert (
        change.files[f"{folder}/proton.pipeline.variables.tf"]
        == header(PIPELINE_ARN)
        + (
            'variable "service_instances" {\n'
            "  type = list(\n"
            "    object({\n"
            "      name    = string\n"
            "      inputs  = map(string)\n"
            "      outputs = map(string)\n"
            "      environment = object({\n"
            "        account_id = string\n"
            "        name       = string\n"
            "        outputs    = map(string)\n"
            "      })\n"
            "    })\n"
            "  )\n"
            "}\n"
            "\n"
            'variable "service" {\n'
            "  type = object({\n"
            "    name                      = string\n"
            "    branch_name               = string\n"
            "    repository_connection_arn = string\n"
            "    repository_id             = string\n"
            "  })\n"
            "  default = null\n"
            "}\n"
            "\n"
            'variable "pipeline" {\n'
            "  type = object({\n"
            "    inputs = map(string)\n"
            "  })\n"
            "  default = null\n"
            "}\n"
            "\n" + TAGS_BLOCK
        ).encode()
    )
    assert (
        change.files[f"{folder}/proton.auto.tfvars.json"]
        == (
            "{\n"
            '  "pipeline" : {\n'
            '    "inputs" : {\n'
            '      "dockerfile" : "Dockerfile"\n'
            "    }\n"
            "  },\n"
            '  "service" : {\n'
            '    "name" : "api",\n'
            f'    "repository_connection_arn" : "{REPO_SERVICE["repository_connection_arn"]}",\n'
            '    "repository_id" : "org/api",\n'
            '    "branch_name" : "main"\n'
            "  },\n"
            '  "service_instances" : [ {\n'
            '    "name" : "api-dev",\n'
            '    "inputs" : {\n'
            '      "port" : 80\n'
            "    },\n"
            '    "outputs" : {\n'
            '      "Port" : "80"\n'
            "    },\n"
            '    "environment" : {\n'
            f'      "account_id" : "{ACCOUNT}",\n'
            '      "name" : "dev",\n'
            '      "outputs" : {\n'
            '        "VpcId" : "vpc-1"\n'
            "      }\n"
            "    }\n"
            "  }, {\n"
            '    "name" : "api-prod",\n'
            '    "inputs" : { },\n'
            '    "outputs" : { },\n'
            '    "environment" : {\n'
            f'      "account_id" : "{ACCOUNT}",\n'
            '      "name" : "prod",\n'
            '      "outputs" : {\n'
            '        "VpcId" : "vpc-1"\n'
            "      }\n"
            "    }\n"
            "  } ],\n"
            '  "proton_tags" : {\n'
            f'    "proton:account" : "{ACCOUNT}",\n'
            f'    "proton:template" : "{SVC_TEMPLATE_ARN}",\n'
            f'    "proton:service" : "arn:aws:proton:us-east-1:{ACCOUNT}:service/api"\n'
            "  },\n"
            f'  "//" : "{PIPELINE_ARN}"\n'
            "}"
        ).encode()
    )
    metadata = json.loads(change.files[f"{folder}/.proton/deployment-metadata.json"])
    assert metadata["resourceMetadata"] == {
        "arn": PIPELINE_ARN,
        "templateArn": SVC_TEMPLATE_ARN,
        "templateMajorVersion": "1",
        "templateMinorVersion": "2",
    }


def test_pipeline_without_instances_writes_an_empty_list() -> None:
    change = pipeline_change([])
    assert '  "service_instances" : [ ],\n' in change.files["api/pipeline/proton.auto.tfvars.json"].decode()


# --- component ------------------------------------------------------------------------------------


def component_change(attached: bool, existing: list[str] | None = None) -> TerraformChange:
    context = component_context(
        component_name="bucket",
        environment=ENV,
        service={"name": "api"} if attached else None,
        instance={"name": "api-dev", "inputs": {"port": 80}} if attached else None,
    )
    return terraform_files(
        "component",
        COMPONENT_ARN,
        None,
        None,
        None,
        DEPLOYMENT,
        {"component.tf": b'resource "aws_s3_bucket" "b" {}\n'},
        context,
        existing or [],
        environment_arn=ENV_ARN,
    )


def test_detached_component_files() -> None:
    change = component_change(attached=False)
    folder = "dev/bucket"
    assert change.folder == folder
    assert change.commit_message == "Update requested for Proton - component/bucket"
    assert change.branch == f"proton--proton-component-{DEPLOYMENT}"
    assert (
        change.files[f"{folder}/component.tf"] == header(COMPONENT_ARN) + b'resource "aws_s3_bucket" "b" {}\n'
    )
    assert (
        change.files[f"{folder}/proton.component.variables.tf"]
        == header(COMPONENT_ARN)
        + (
            'variable "component" {\n'
            "  type = object({\n"
            "    name = string\n"
            "  })\n"
            "}\n"
            "\n"
            'variable "environment" {\n' + ENVIRONMENT_WITH_ACCOUNT + "}\n"
            "\n"
            'variable "service" {\n'
            "  type = object({\n"
            "    name = string\n"
            "  })\n"
            "  default = null\n"
            "}\n"
            "\n"
            'variable "service_instance" {\n'
            "  type = object({\n"
            "    name   = string\n"
            "    inputs = map(string)\n"
            "  })\n"
            "  default = null\n"
            "}\n"
            "\n" + TAGS_BLOCK
        ).encode()
    )
    assert (
        change.files[f"{folder}/proton.auto.tfvars.json"]
        == (
            "{\n"
            '  "component" : {\n'
            '    "name" : "bucket"\n'
            "  },\n"
            '  "environment" : {\n'
            f'    "account_id" : "{ACCOUNT}",\n'
            '    "name" : "dev",\n'
            '    "outputs" : {\n'
            '      "VpcId" : "vpc-1"\n'
            "    }\n"
            "  },\n"
            '  "proton_tags" : {\n'
            f'    "proton:account" : "{ACCOUNT}",\n'
            f'    "proton:environment" : "{ENV_ARN}",\n'
            f'    "proton:component" : "{COMPONENT_ARN}"\n'
            "  },\n"
            f'  "//" : "{COMPONENT_ARN}"\n'
            "}"
        ).encode()
    )
    assert (
        change.files[f"{folder}/.proton/deployment-metadata.json"]
        == (
            "{\n"
            f'  "deploymentId" : "{DEPLOYMENT}",\n'
            '  "isResourceDeleted" : false,\n'
            '  "componentMetadata" : {\n'
            f'    "arn" : "{COMPONENT_ARN}",\n'
            f'    "environmentArn" : "{ENV_ARN}",\n'
            '    "componentType" : "default"\n'
            "  }\n"
            "}"
        ).encode()
    )


def test_attached_component_sees_its_service_and_instance() -> None:
    change = component_change(attached=True)
    values = json.loads(change.files["dev/bucket/proton.auto.tfvars.json"])
    assert list(values) == ["component", "environment", "service", "service_instance", "proton_tags", "//"]
    assert values["service"] == {"name": "api"}
    assert values["service_instance"] == {"name": "api-dev", "inputs": {"port": 80}}
    assert values["proton_tags"] == {
        "proton:account": ACCOUNT,
        "proton:environment": ENV_ARN,
        "proton:service": f"arn:aws:proton:us-east-1:{ACCOUNT}:service/api",
        "proton:service-instance": INSTANCE_ARN,
        "proton:component": COMPONENT_ARN,
    }


def test_component_manifest_names_one_terraform_file() -> None:
    manifest = (
        "infrastructure:\n  templates:\n    - file: component.tf\n"
        "      rendering_engine: hcl\n      template_language: terraform\n"
    )
    part = parse_manifest(
        "component", {"component/manifest.yaml": manifest.encode(), "component/component.tf": b"#\n"}
    )
    assert part == {"rendering_engine": "hcl", "template_language": "terraform", "files": ["component.tf"]}


# --- folder layout --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("existing", "folder"),
    [
        ([], "dev"),
        (["README.md", "other/main.tf"], "dev"),
        (["environments/README.md"], "environments/dev"),
        (["environments/"], "environments/dev"),
        (["environments"], "environments/dev"),
        (["environments-old/x.tf"], "dev"),
        (["environments/prod/.proton/deployment-metadata.json"], "environments/dev"),
        # An environment already committed at the root stays where it is.
        (["environments/README.md", "dev/.proton/deployment-metadata.json"], "dev"),
        (
            [
                "environments/dev/.proton/deployment-metadata.json",
                "dev/.proton/deployment-metadata.json",
            ],
            "environments/dev",
        ),
    ],
)
def test_environment_folder(existing: list[str], folder: str) -> None:
    change = env_change(existing)
    assert change.folder == folder
    assert all(path.startswith(folder + "/") for path in change.files)


def test_instances_and_components_follow_the_environment_folder() -> None:
    existing = ["environments/dev/main.tf", "environments/dev/.proton/deployment-metadata.json"]
    assert instance_change(existing=existing).folder == "environments/dev/api-api-dev"
    assert component_change(attached=False, existing=existing).folder == "environments/dev/bucket"
    assert instance_change().folder == "dev/api-api-dev"


def test_pipelines_ignore_the_environments_folder() -> None:
    assert pipeline_change([], existing=["environments/x"]).folder == "api/pipeline"


def test_stale_tf_files_of_the_folder_are_listed() -> None:
    existing = [
        "dev/old.tf",
        "dev/main.tf",
        "dev/notes.md",
        "dev/api-api-dev/main.tf",
        "devx/old.tf",
        "dev/proton.environment.variables.tf",
    ]
    assert env_change(existing).stale == ("dev/old.tf",)


# --- deletion -------------------------------------------------------------------------------------


def test_deletion_rewrites_headers_and_marks_the_metadata() -> None:
    deployed = env_change().files
    other_arn = f"arn:aws:proton:us-east-1:{ACCOUNT}:environment/other"
    existing = {
        **deployed,
        "dev/handmade.tf": b"# not managed\n",
        "dev/foreign.tf": header(other_arn) + b"# other\n",
        "dev/api-api-dev/main.tf": header(INSTANCE_ARN) + b"# instance\n",
        "README.md": b"readme",
    }
    context = environment_context(name="dev", account_id=ACCOUNT, inputs={})
    deletion_id = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
    change = terraform_deletion(
        "environment", ENV_ARN, ENV_TEMPLATE_ARN, 1, 0, deletion_id, context, existing
    )
    assert change.folder == "dev"
    assert change.commit_message == "Update requested for Proton - environment/dev"
    assert change.branch == f"proton--proton-environment-{deletion_id}"
    assert sorted(change.files) == [
        "dev/.proton/deployment-metadata.json",
        "dev/config.tf",
        "dev/main.tf",
        "dev/outputs.tf",
        "dev/proton.environment.variables.tf",
    ]
    for name, source in bundles.TF_ENV_FILES.items():
        assert change.files[f"dev/{name}"] == DELETED.encode() + source.encode()
    assert change.files["dev/proton.environment.variables.tf"].startswith(
        DELETED.encode() + b'variable "environment" {\n'
    )
    assert (
        change.files["dev/.proton/deployment-metadata.json"]
        == (
            "{\n"
            '  "deploymentId" : "<proton-resource-deleted>",\n'
            '  "isResourceDeleted" : true,\n'
            '  "resourceMetadata" : {\n'
            f'    "arn" : "{ENV_ARN}",\n'
            f'    "templateArn" : "{ENV_TEMPLATE_ARN}",\n'
            '    "templateMajorVersion" : "1",\n'
            '    "templateMinorVersion" : "0"\n'
            "  }\n"
            "}"
        ).encode()
    )
    # Marking again gives the same files: a retried deletion commits nothing new.
    again = terraform_deletion(
        "environment", ENV_ARN, ENV_TEMPLATE_ARN, 1, 0, deletion_id, context, {**existing, **change.files}
    )
    assert again.files == change.files


def test_component_deletion_marks_component_metadata() -> None:
    deployed = component_change(attached=False).files
    context = component_context(component_name="bucket", environment=ENV, service=None, instance=None)
    change = terraform_deletion(
        "component", COMPONENT_ARN, None, None, None, DEPLOYMENT, context, deployed, environment_arn=ENV_ARN
    )
    assert change.files["dev/bucket/component.tf"] == DELETED.encode() + b'resource "aws_s3_bucket" "b" {}\n'
    assert json.loads(change.files["dev/bucket/.proton/deployment-metadata.json"]) == {
        "deploymentId": "<proton-resource-deleted>",
        "isResourceDeleted": True,
        "componentMetadata": {"arn": COMPONENT_ARN, "environmentArn": ENV_ARN, "componentType": "default"},
    }


def test_deletion_finds_an_instance_under_environments() -> None:
    existing_paths = ["environments/dev/.proton/deployment-metadata.json"]
    deployed = instance_change(existing=existing_paths).files
    context = service_instance_context(
        environment=ENV, service={"name": "api"}, instance={"name": "api-dev", "inputs": {}}
    )
    change = terraform_deletion(
        "SERVICE_INSTANCE",
        INSTANCE_ARN,
        SVC_TEMPLATE_ARN,
        2,
        3,
        DEPLOYMENT,
        context,
        {**deployed, existing_paths[0]: b"{}"},
        environment_arn=ENV_ARN,
    )
    assert change.folder == "environments/dev/api-api-dev"
    assert change.files["environments/dev/api-api-dev/main.tf"].startswith(DELETED.encode())
    metadata = json.loads(change.files["environments/dev/api-api-dev/.proton/deployment-metadata.json"])
    assert metadata["isResourceDeleted"] is True
    assert metadata["resourceMetadata"]["environmentArn"] == ENV_ARN


# --- problems -------------------------------------------------------------------------------------


def test_a_template_file_named_like_a_generated_file_fails_the_render() -> None:
    context = environment_context(name="dev", account_id=ACCOUNT, inputs={})
    with pytest.raises(RenderError) as caught:
        terraform_files(
            "environment",
            ENV_ARN,
            ENV_TEMPLATE_ARN,
            1,
            0,
            DEPLOYMENT,
            {"proton.environment.variables.tf": b""},
            context,
            [],
        )
    assert str(caught.value) == (
        "proton.environment.variables.tf: proton.environment.variables.tf is the name of the file Baryon "
        "generates with the Proton variables; rename the template file"
    )


def test_malformed_calls_are_value_errors() -> None:
    context = service_instance_context(environment=ENV, service={"name": "api"}, instance={"name": "i"})
    with pytest.raises(ValueError, match="environment_arn is required for a service_instance"):
        terraform_files("service_instance", INSTANCE_ARN, SVC_TEMPLATE_ARN, 1, 0, DEPLOYMENT, {}, context, [])
    with pytest.raises(ValueError, match="kind must be one of"):
        terraform_files("stack", ENV_ARN, ENV_TEMPLATE_ARN, 1, 0, DEPLOYMENT, {}, context, [])
    with pytest.raises(ValueError, match="the environment rendering namespace has no environment"):
        terraform_files("environment", ENV_ARN, ENV_TEMPLATE_ARN, 1, 0, DEPLOYMENT, {}, {}, [])
    with pytest.raises(ValueError, match="not a Proton ARN"):
        tf.commit_message("dev")


# --- Terraform itself reads the files (when the terraform CLI is installed) -----------------------

TERRAFORM = shutil.which("terraform")


def terraform_console(folder: Path, expression: str) -> Any:
    """Evaluate ``jsonencode(<expression>)`` in ``folder`` with terraform console."""
    result = subprocess.run(
        [str(TERRAFORM), "console"],
        input=f"jsonencode({expression})\n",
        capture_output=True,
        text=True,
        cwd=folder,
        env={**os.environ, "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1"},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(json.loads(result.stdout))


def write_generated(tmp_path: Path, change: TerraformChange) -> Path:
    """Write the generated Proton files (not the template's own, which need providers) to a folder."""
    folder = tmp_path / change.folder
    for path, content in change.files.items():
        if Path(path).name.startswith("proton."):
            target = tmp_path / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
    return folder


@pytest.mark.skipif(TERRAFORM is None, reason="the terraform CLI is not installed")
def test_terraform_reads_generated_files(tmp_path: Path) -> None:
    env = write_generated(tmp_path, env_change(subnets=["a", "b"]))
    assert terraform_console(env, "var.environment") == {
        "name": "dev",
        "inputs": {"vpc_cidr": "10.0.0.0/16", "az_count": "2", "nat": "false", "subnets": '["a","b"]'},
    }
    assert terraform_console(env, "jsondecode(var.environment.inputs.subnets)") == ["a", "b"]
    assert terraform_console(env, 'var.proton_tags["proton:environment"]') == ENV_ARN

    plain = write_generated(tmp_path / "plain", instance_change())
    assert terraform_console(plain, "can(var.service_instance.components.default)") is False
    assert terraform_console(plain, "var.service") == {"name": "api"}
    with_component = write_generated(
        tmp_path / "component",
        instance_change(service=REPO_SERVICE, component={"name": "c", "outputs": {"Arn": "arn:x"}}),
    )
    assert terraform_console(
        with_component,
        "[for k, v in var.service_instance.components.default.outputs : { name : k, value : v }]",
    ) == [{"name": "Arn", "value": "arn:x"}]
    assert terraform_console(with_component, "var.service.repository_id") == "org/api"

    instance = {"name": "api-dev", "inputs": {"port": 80}, "outputs": {"Port": "80"}, "environment": ENV}
    pipeline = write_generated(tmp_path / "pipeline", pipeline_change([instance]))
    assert terraform_console(pipeline, "[for i in var.service_instances : i.inputs.port]") == ["80"]
    detached = write_generated(tmp_path / "detached", component_change(attached=False))
    assert terraform_console(detached, 'var.service == null ? "detached" : var.service.name') == "detached"

    formatted = subprocess.run(
        [str(TERRAFORM), "fmt", "-check", "-recursive", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CLI_CONFIG_FILE": os.devnull},
        check=False,
    )
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
