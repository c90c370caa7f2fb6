"""The namespace builders of proton-semantics §3.1: shapes, optional keys, aliases, copies."""

from __future__ import annotations

import copy
from typing import Any

from baryon.render import (
    component_context,
    environment_context,
    pipeline_context,
    render_template,
    service_instance_context,
)

ENV = {"name": "dev", "account_id": "123456789012", "outputs": {"VpcId": "vpc-1", "SnsTopicArn": "arn:t"}}
SERVICE = {
    "name": "front",
    "branch_name": "main",
    "repository_connection_arn": "arn:aws:codestar-connections:us-east-1:123456789012:connection/c",
    "repository_id": "org/front",
}
INSTANCE = {"name": "front-dev", "inputs": {"port": 8080, "public": True, "subnets": ["a", "b"]}}
COMPONENT = {"name": "bucket", "outputs": {"BucketArn": "arn:aws:s3:::b"}}


def test_environment_context() -> None:
    inputs = {"vpc_cidr": "10.0.0.0/16", "az_count": 2, "nat": False}
    assert environment_context(name="dev", account_id="123456789012", inputs=inputs) == {
        "environment": {"name": "dev", "account_id": "123456789012", "inputs": inputs}
    }


def test_service_instance_context_with_component() -> None:
    ctx = service_instance_context(environment=ENV, service=SERVICE, instance=INSTANCE, component=COMPONENT)
    assert ctx == {
        "environment": ENV,
        "service": SERVICE,
        "service_instance": {
            "name": "front-dev",
            "inputs": INSTANCE["inputs"],
            "environment": ENV,
            "components": {"default": COMPONENT},
        },
    }


def test_service_instance_context_without_component_or_repository() -> None:
    ctx = service_instance_context(environment=ENV, service={"name": "front"}, instance=INSTANCE)
    assert ctx["service"] == {"name": "front"}
    default = ctx["service_instance"]["components"]["default"]
    assert default == {}
    assert default["outputs"] == {}


def test_service_optional_keys_that_are_none_are_left_out() -> None:
    service = {"name": "front", "branch_name": None, "repository_connection_arn": None, "repository_id": None}
    ctx = service_instance_context(environment=ENV, service=service, instance=INSTANCE)
    assert ctx["service"] == {"name": "front"}


def test_service_instance_environment_is_an_equal_separate_copy() -> None:
    ctx = service_instance_context(environment=ENV, service=SERVICE, instance=INSTANCE)
    assert ctx["service_instance"]["environment"] == ctx["environment"]
    assert ctx["service_instance"]["environment"] is not ctx["environment"]


def test_outputs_are_strings() -> None:
    env = {"name": "dev", "account_id": "123456789012", "outputs": {"Port": 80, "Public": True}}
    ctx = service_instance_context(environment=env, service=SERVICE, instance=INSTANCE)
    assert ctx["environment"]["outputs"] == {"Port": "80", "Public": "true"}


def test_pipeline_context() -> None:
    instances = [
        {"name": "a", "inputs": {"x": 1}, "outputs": {"Url": "https://a"}, "environment": ENV},
        {"name": "b", "inputs": {}, "outputs": {}, "environment": {**ENV, "name": "prod"}},
    ]
    ctx = pipeline_context(service=SERVICE, pipeline_inputs={"dockerfile": "Dockerfile"}, instances=instances)
    assert ctx == {
        "service": SERVICE,
        "pipeline": {"inputs": {"dockerfile": "Dockerfile"}},
        "service_instances": [
            {"name": "a", "inputs": {"x": 1}, "outputs": {"Url": "https://a"}, "environment": ENV},
            {"name": "b", "inputs": {}, "outputs": {}, "environment": {**ENV, "name": "prod"}},
        ],
    }


def test_component_context_attached_and_detached() -> None:
    attached = component_context(component_name="bucket", environment=ENV, service=SERVICE, instance=INSTANCE)
    assert attached == {
        "component": {"name": "bucket"},
        "environment": ENV,
        "service": SERVICE,
        "service_instance": {"name": "front-dev", "inputs": INSTANCE["inputs"]},
    }
    detached = component_context(component_name="bucket", environment=ENV, service=None, instance=None)
    assert detached == {"component": {"name": "bucket"}, "environment": ENV}


def test_builders_copy_their_arguments() -> None:
    env: dict[str, Any] = copy.deepcopy(ENV)
    instance: dict[str, Any] = copy.deepcopy(INSTANCE)
    ctx = service_instance_context(environment=env, service=SERVICE, instance=instance)
    ctx["service_instance"]["inputs"]["subnets"].append("c")
    ctx["environment"]["outputs"]["VpcId"] = "changed"
    assert instance == INSTANCE
    assert env == ENV


def test_rendering_does_not_mutate_the_context() -> None:
    ctx = service_instance_context(environment=ENV, service=SERVICE, instance=INSTANCE)
    before = copy.deepcopy(ctx)
    render_template(
        "{{ service_instance.inputs.subnets | list }}{{ environment.outputs | proton_cfn_iam_policy_arns }}",
        ctx,
        file_name="f.yaml",
    )
    assert ctx == before


def test_namespaces_render_in_a_template() -> None:
    ctx = service_instance_context(environment=ENV, service=SERVICE, instance=INSTANCE, component=COMPONENT)
    source = (
        "{{ environment.name }} {{ environment.account_id }} {{ environment.outputs.VpcId }} "
        "{{ service_instance.environment.outputs.VpcId }} {{ service.name }} {{ service.branch_name }} "
        "{{ service.repository_id }} {{ service_instance.name }} {{ service_instance.inputs.port }} "
        "{{ service_instance.components.default.name }} "
        "{{ service_instance.components.default.outputs.BucketArn }}"
    )
    assert render_template(source, ctx, file_name="f.yaml") == (
        "dev 123456789012 vpc-1 vpc-1 front main org/front front-dev 8080 bucket arn:aws:s3:::b"
    )


def test_pipeline_namespace_renders_in_a_loop() -> None:
    instances = [
        {"name": "a", "inputs": {"n": 1}, "outputs": {"Url": "https://a"}, "environment": ENV},
        {
            "name": "b",
            "inputs": {"n": 2},
            "outputs": {"Url": "https://b"},
            "environment": {**ENV, "name": "prod"},
        },
    ]
    ctx = pipeline_context(service=SERVICE, pipeline_inputs={"dir": "src"}, instances=instances)
    source = (
        "{{ pipeline.inputs.dir }}:{% for si in service_instances %}"
        "[{{ si.name }} {{ si.inputs.n }} {{ si.outputs.Url }} {{ si.environment.name }} "
        "{{ si.environment.account_id }} {{ si.environment.outputs.VpcId }}]{% endfor %}"
    )
    assert render_template(source, ctx, file_name="f.yaml") == (
        "src:[a 1 https://a dev 123456789012 vpc-1][b 2 https://b prod 123456789012 vpc-1]"
    )
