"""The command runner's input file (proton-semantics §3.4) in JSON and HCL, the outputs file it reads
back, and the CodeBuild manifests they go with."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from baryon.bundles import load_bundle
from baryon.render import OutputsError, parse_outputs, proton_inputs
from baryon.render import codebuild as cb
from baryon.render.context import (
    component_context,
    environment_context,
    pipeline_context,
    service_instance_context,
)
from baryon.render.protonjson import dumps
from tests.support import bundles

ACCOUNT = "123456789012"
ENV = {"name": "dev", "account_id": ACCOUNT, "outputs": {"VpcId": "vpc-1"}}
REPO_SERVICE = {
    "name": "api",
    "branch_name": "main",
    "repository_connection_arn": "arn:aws:codestar-connections:us-east-1:123456789012:connection/c1",
    "repository_id": "org/api",
}


# --- proton-inputs.json ---------------------------------------------------------------------------


def test_environment_inputs_json() -> None:
    context = environment_context(
        name="dev", account_id=ACCOUNT, inputs={"cidr": "10.0.0.0/16", "azs": 2, "subnets": ["a", "b"]}
    )
    assert cb.input_file_name() == "proton-inputs.json"
    assert proton_inputs("environment", context) == (
        b"{\n"
        b'  "environment" : {\n'
        b'    "name" : "dev",\n'
        b'    "inputs" : {\n'
        b'      "cidr" : "10.0.0.0/16",\n'
        b'      "azs" : 2,\n'
        b'      "subnets" : [ "a", "b" ]\n'
        b"    }\n"
        b"  }\n"
        b"}"
    )


def test_service_instance_inputs_without_repository_have_empty_strings() -> None:
    context = service_instance_context(
        environment=ENV, service={"name": "api"}, instance={"name": "api-dev", "inputs": {"port": 80}}
    )
    assert (
        proton_inputs("SERVICE_INSTANCE", context)
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
            '    "name" : "api",\n'
            '    "repository_connection_arn" : "",\n'
            '    "repository_id" : "",\n'
            '    "branch_name" : ""\n'
            "  },\n"
            '  "service_instance" : {\n'
            '    "name" : "api-dev",\n'
            '    "inputs" : {\n'
            '      "port" : 80\n'
            "    }\n"
            "  }\n"
            "}"
        ).encode()
    )


def test_service_instance_inputs_with_repository_and_component() -> None:
    context = service_instance_context(
        environment=ENV,
        service=REPO_SERVICE,
        instance={"name": "api-dev", "inputs": {}},
        component={"name": "bucket", "outputs": {"BucketArn": "arn:aws:s3:::b"}},
    )
    values = json.loads(proton_inputs("service_instance", context))
    assert values["service"] == {
        "name": "api",
        "repository_connection_arn": REPO_SERVICE["repository_connection_arn"],
        "repository_id": "org/api",
        "branch_name": "main",
    }
    assert values["service_instance"] == {
        "name": "api-dev",
        "inputs": {},
        "components": {"default": {"name": "bucket", "outputs": {"BucketArn": "arn:aws:s3:::b"}}},
    }


def test_pipeline_inputs_json() -> None:
    instance = {"name": "api-dev", "inputs": {"port": 80}, "outputs": {"Url": "http://x"}, "environment": ENV}
    context = pipeline_context(
        service=REPO_SERVICE, pipeline_inputs={"dockerfile": "Dockerfile"}, instances=[instance]
    )
    assert (
        proton_inputs("service_pipeline", context)
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
            '      "Url" : "http://x"\n'
            "    },\n"
            '    "environment" : {\n'
            f'      "account_id" : "{ACCOUNT}",\n'
            '      "name" : "dev",\n'
            '      "outputs" : {\n'
            '        "VpcId" : "vpc-1"\n'
            "      }\n"
            "    }\n"
            "  } ]\n"
            "}"
        ).encode()
    )


def test_components_have_no_command_runner() -> None:
    context = component_context(component_name="c", environment=ENV, service=None, instance=None)
    with pytest.raises(ValueError, match="components cannot be provisioned by commands"):
        proton_inputs("component", context)
    with pytest.raises(ValueError, match="input_type must be JSON or HCL"):
        proton_inputs("environment", environment_context(name="d", account_id=ACCOUNT, inputs={}), "YAML")


# --- HCL input ------------------------------------------------------------------------------------


def test_environment_inputs_hcl() -> None:
    context = environment_context(
        name="dev",
        account_id=ACCOUNT,
        inputs={
            "cidr": "10.0.0.0/16",
            "azs": 2,
            "nat": False,
            "subnets": ["a", "b"],
            "template": "${var.x} %{if} $${y}",
            "proton:key": 'a\nb\t"c"\\',
            "empty": {},
        },
    )
    assert cb.input_file_name("HCL") == "proton-inputs.tfvars"
    assert proton_inputs("environment", context, "HCL").decode() == (
        "environment = {\n"
        '  name = "dev"\n'
        "  inputs = {\n"
        '    cidr         = "10.0.0.0/16"\n'
        "    azs          = 2\n"
        "    nat          = false\n"
        '    subnets      = ["a", "b"]\n'
        '    template     = "$${var.x} %%{if} $$${y}"\n'
        '    "proton:key" = "a\\nb\\t\\"c\\"\\\\"\n'
        "    empty        = {}\n"
        "  }\n"
        "}\n"
    )


def test_pipeline_inputs_hcl() -> None:
    instance = {"name": "api-dev", "inputs": {"port": 80}, "outputs": {}, "environment": ENV}
    context = pipeline_context(service={"name": "api"}, pipeline_inputs={}, instances=[instance, instance])
    assert proton_inputs("service_pipeline", context, "HCL").decode() == (
        "pipeline = {\n"
        "  inputs = {}\n"
        "}\n"
        "service = {\n"
        '  name                      = "api"\n'
        '  repository_connection_arn = ""\n'
        '  repository_id             = ""\n'
        '  branch_name               = ""\n'
        "}\n"
        "service_instances = [\n"
        "  {\n"
        '    name = "api-dev"\n'
        "    inputs = {\n"
        "      port = 80\n"
        "    }\n"
        "    outputs = {}\n"
        "    environment = {\n"
        f'      account_id = "{ACCOUNT}"\n'
        '      name       = "dev"\n'
        "      outputs = {\n"
        '        VpcId = "vpc-1"\n'
        "      }\n"
        "    }\n"
        "  },\n"
        "  {\n"
        '    name = "api-dev"\n'
        "    inputs = {\n"
        "      port = 80\n"
        "    }\n"
        "    outputs = {}\n"
        "    environment = {\n"
        f'      account_id = "{ACCOUNT}"\n'
        '      name       = "dev"\n'
        "      outputs = {\n"
        '        VpcId = "vpc-1"\n'
        "      }\n"
        "    }\n"
        "  },\n"
        "]\n"
    )


TERRAFORM = shutil.which("terraform")


@pytest.mark.skipif(TERRAFORM is None, reason="the terraform CLI is not installed")
def test_terraform_reads_the_hcl_input_file_back(tmp_path: Path) -> None:
    inputs = {
        "text": '${var.x} %{if} $${y} "q" \\ \n\t',
        "n": 2.5,
        "flag": True,
        "nothing": None,
        "list": [1, "two", {"three": 3}],
        "nested": {"a-b": {"true": "t"}},
        "proton:key": "v",
    }
    context = environment_context(name="dev", account_id=ACCOUNT, inputs=inputs)
    (tmp_path / "proton-inputs.tfvars").write_bytes(proton_inputs("environment", context, "HCL"))
    (tmp_path / "variables.tf").write_text('variable "environment" {\n  type = any\n}\n')
    result = subprocess.run(
        [str(TERRAFORM), "console", "-var-file=proton-inputs.tfvars"],
        input="jsonencode(var.environment)\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1"},
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(json.loads(result.stdout)) == {"name": "dev", "inputs": inputs}
    formatted = subprocess.run(
        [str(TERRAFORM), "fmt", "-check", str(tmp_path / "proton-inputs.tfvars")],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CLI_CONFIG_FILE": os.devnull},
        check=False,
    )
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


# --- the JSON style -------------------------------------------------------------------------------


def test_json_style_escapes_and_round_trips() -> None:
    value: dict[str, Any] = {
        "text": 'quote " backslash \\ slash / tab \t nl \n cr \r bs \b ff \f bell \x07 unit \x1f é ✓',
        "numbers": [0, -1, 2.5, 1e-07],
        "nested": [[], [{}], [[1, 2]]],
        "null": None,
        "bools": [True, False],
    }
    text = dumps(value)
    assert json.loads(text) == value
    assert (
        '"text" : "quote \\" backslash \\\\ slash / tab \\t nl \\n cr \\r bs \\b ff \\f '
        'bell \\u0007 unit \\u001F é ✓"' in text
    )
    assert '"nested" : [ [ ], [ { } ], [ [ 1, 2 ] ] ]' in text
    assert not text.endswith("\n")
    assert dumps({}) == "{ }"
    assert dumps([]) == "[ ]"
    with pytest.raises(TypeError):
        dumps({1: "x"})
    with pytest.raises(ValueError):
        dumps(float("nan"))


# --- proton-outputs.json --------------------------------------------------------------------------


def test_flat_outputs_keep_file_order() -> None:
    data = b'{"VpcId": "vpc-1", "Port": 80, "Public": true, "Ratio": 0.5}'
    assert parse_outputs(data) == [
        {"key": "VpcId", "valueString": "vpc-1"},
        {"key": "Port", "valueString": "80"},
        {"key": "Public", "valueString": "true"},
        {"key": "Ratio", "valueString": "0.5"},
    ]


def test_list_outputs_as_notify_takes_them() -> None:
    data = b'\xef\xbb\xbf[{"key": "A", "valueString": "1"}, {"valueString": "2", "key": "B"}]'
    assert parse_outputs(data) == [{"key": "A", "valueString": "1"}, {"key": "B", "valueString": "2"}]
    assert parse_outputs(b"{}") == []
    assert parse_outputs(b"[]") == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "proton-outputs.json: the file is empty; write a JSON object of output names to values"),
        (b"  \n", "proton-outputs.json: the file is empty; write a JSON object of output names to values"),
        (
            b"{nope",
            "proton-outputs.json: not valid JSON: Expecting property name enclosed in double quotes "
            "at line 1, column 2",
        ),
        (b"\xff\xfe{}", "proton-outputs.json: not UTF-8 text (byte 0)"),
        (
            b'"text"',
            'proton-outputs.json: the file must hold a JSON object {"name": "value"} or a list '
            '[{"key": ..., "valueString": ...}]',
        ),
        (
            b'{"Stack": {"Url": "http://x"}}',
            "proton-outputs.json: the value of output 'Stack' is an object; each "
            "output must be a string (flatten nested output files, such as CDK's {stack: {name: value}}, "
            "into {name: value})",
        ),
        (
            b'{"A": null}',
            "proton-outputs.json: the value of output 'A' is null; every output needs a string value",
        ),
        (
            b'{"A": ["x"]}',
            "proton-outputs.json: the value of output 'A' is a list; each output must be a string",
        ),
        (b'{"A": "1", "A": "2"}', "proton-outputs.json: the key 'A' appears more than once"),
        (
            b'[{"key": "A", "valueString": "1"}, {"key": "A", "valueString": "2"}]',
            "proton-outputs.json: the key 'A' appears more than once",
        ),
        (
            b'[{"key": "A"}]',
            'proton-outputs.json: entry 1 must be an object with exactly "key" and "valueString"',
        ),
        (
            b'[{"key": "A", "valueString": "1", "extra": 1}]',
            'proton-outputs.json: entry 1 must be an object with exactly "key" and "valueString"',
        ),
        (b'[{"key": 1, "valueString": "1"}]', 'proton-outputs.json: entry 1: "key" must be a string'),
        (b'["A"]', 'proton-outputs.json: entry 1 must be an object with exactly "key" and "valueString"'),
        (b'{"A": ""}', "proton-outputs.json: output 'A': an output value must be 1 to 1024 characters long"),
        (b'{"": "x"}', "proton-outputs.json: output '': an output key must be 1 to 1024 characters long"),
        (
            json.dumps({"A": "v" * 1025}).encode(),
            "proton-outputs.json: output 'A': an output value must be 1 to 1024 characters long",
        ),
        (
            json.dumps({f"k{i}": "v" for i in range(51)}).encode(),
            "proton-outputs.json: 51 outputs; a deployment reports at most 50",
        ),
        (
            b" " * (1024 * 1024 + 1),
            f"proton-outputs.json: the file is {1024 * 1024 + 1} bytes; at most 1048576 are read",
        ),
    ],
)
def test_unusable_outputs_files(data: bytes, message: str) -> None:
    with pytest.raises(OutputsError) as caught:
        parse_outputs(data)
    assert str(caught.value) == message


# --- manifests ------------------------------------------------------------------------------------


def test_codebuild_environment_manifest_settings() -> None:
    info = load_bundle(bundles.codebuild_environment_bundle(), kind="ENVIRONMENT")
    assert info.parts["infrastructure"] == {
        "rendering_engine": "codebuild",
        "template_language": None,
        "files": [],
        "settings": {
            "image": "aws/codebuild/amazonlinux2-x86_64-standard:4.0",
            "runtimes": {"python": "3.11"},
            "provision": ["cat proton-inputs.json"],
            "deprovision": ["echo bye"],
            "env": {"variables": {"STAGE": "dev"}},
            "input_type": "JSON",
        },
    }
    assert info.files["infrastructure/run.sh"] == b"#!/bin/sh\necho run\n"


def test_codebuild_manifest_with_hcl_input_type() -> None:
    manifest = bundles.CODEBUILD_MANIFEST + "        input_type: HCL\n"
    info = load_bundle(bundles.codebuild_environment_bundle(manifest), kind="ENVIRONMENT")
    settings = info.parts["infrastructure"]["settings"]
    assert settings["input_type"] == "HCL"
    assert cb.input_file_name(settings["input_type"]) == "proton-inputs.tfvars"


def test_service_bundles_mixing_terraform_and_codebuild() -> None:
    mixed = load_bundle(
        bundles.terraform_service_bundle(pipeline="codebuild"), kind="SERVICE", has_pipeline=True
    )
    assert mixed.parts["instance_infrastructure"]["rendering_engine"] == "hcl"
    assert mixed.parts["instance_infrastructure"]["files"] == ["main.tf"]
    assert mixed.parts["pipeline_infrastructure"]["rendering_engine"] == "codebuild"
    terraform = load_bundle(bundles.terraform_service_bundle(), kind="SERVICE", has_pipeline=True)
    assert terraform.parts["pipeline_infrastructure"] == {
        "rendering_engine": "hcl",
        "template_language": "terraform",
        "files": ["main.tf"],
    }
    alone = load_bundle(bundles.terraform_service_bundle(pipeline="none"), kind="SERVICE", has_pipeline=False)
    assert list(alone.parts) == ["instance_infrastructure"]
