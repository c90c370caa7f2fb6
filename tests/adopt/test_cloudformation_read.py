"""Reading the stacks Proton left into an adoption plan: grouping by tags, template versions, specs,
what is skipped and why, pagination, and no more than two CloudFormation read calls per stack."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from baryon.adopt.cloudformation import AdoptError, Reading, parse_template_choices, read_stacks
from baryon.adopt.plan import Plan, Resource
from baryon.engine.provisioners import targets
from baryon.runtime import Runtime
from tests.conftest import ACCOUNT, OTHER_ACCOUNT
from tests.support import bundles
from tests.support.proton_stacks import OTHER_READER, READER, REGION, proton_arn, proton_stack
from tests.support.publishing import publish_environment_version

ENV_TEMPLATE = proton_arn("environment-template/vpc")
SERVICE_TEMPLATE = proton_arn("service-template/fargate")
INSTANCES = [f"i{number:02d}" for number in range(25)]


def _environment(cf: Any, name: str) -> dict[str, Any]:
    return proton_stack(
        cf,
        name,
        {
            "proton:account": ACCOUNT,
            "proton:template": ENV_TEMPLATE,
            "proton:environment": proton_arn(f"environment/{name}"),
        },
    )


def _instance(cf: Any, service: str, name: str, environment: str, template: str = SERVICE_TEMPLATE) -> None:
    proton_stack(
        cf,
        f"{service}-{name}",
        {
            "proton:account": ACCOUNT,
            "proton:template": template,
            "proton:environment": proton_arn(f"environment/{environment}"),
            "proton:service": proton_arn(f"service/{service}"),
            "proton:service-instance": proton_arn(f"service/{service}/service-instance/{name}"),
        },
    )


def _proton_left(cf: Any) -> None:
    """Two environments, service `api` with 25 instances over both and a pipeline, a component."""
    _environment(cf, "dev")
    _environment(cf, "prod")
    for number, name in enumerate(INSTANCES):
        _instance(cf, "api", name, "dev" if number % 2 == 0 else "prod")
    proton_stack(
        cf,
        "api-pipeline",
        {
            "proton:account": ACCOUNT,
            "proton:template": SERVICE_TEMPLATE,
            "proton:service": proton_arn("service/api"),
        },
    )
    proton_stack(
        cf,
        "cache",
        {
            "proton:account": ACCOUNT,
            "proton:environment": proton_arn("environment/dev"),
            "proton:service": proton_arn("service/api"),
            "proton:service-instance": proton_arn("service/api/service-instance/i00"),
            "proton:component": proton_arn("component/cache"),
        },
    )


def _read(runtime: Runtime, role: str = READER, **options: Any) -> Plan:
    return read_stacks(runtime, Reading(account_id=ACCOUNT, region=REGION, role_arn=role, **options))


def _by(plan: Plan, kind: str) -> dict[str, Resource]:
    return {r.name: r for r in plan.resources if r.kind == kind}


def _version(resource: Resource) -> tuple[str | None, str | None, str | None]:
    return resource.template_name, resource.template_major, resource.template_minor


def test_groups_the_stacks_by_their_tags(runtime: Runtime, cfn: Any, templates: None) -> None:
    _proton_left(cfn)
    plan = _read(runtime)

    assert plan.skipped == []
    assert [r.kind for r in plan.resources] == (
        ["environment"] * 2 + ["service"] + ["service-instance"] * 25 + ["service-pipeline", "component"]
    )
    environments = _by(plan, "environment")
    assert sorted(environments) == ["dev", "prod"]
    dev = environments["dev"]
    assert _version(dev) == ("vpc", "1", "0")
    assert dev.proton_arn == proton_arn("environment/dev")
    assert dev.spec is None
    assert dev.environment_account_connection_id is None
    assert dev.role_arn == READER, "the role the stacks were read with deploys the environment next"
    described = cfn.describe_stacks(StackName=dev.binding.stack_name)["Stacks"][0] if dev.binding else {}
    assert dev.binding is not None
    assert dev.binding.method == "cloudformation"
    assert dev.binding.cloud_account_id == ACCOUNT
    assert dev.binding.region == REGION
    assert (dev.binding.stack_name or "").startswith("AWSProton-dev-")
    assert dev.binding.stack_id == described["StackId"]
    assert dev.binding.stack_updated_at == described["CreationTime"].timestamp()
    assert [(o.key, o.value) for o in dev.outputs] == [
        (o["OutputKey"], o["OutputValue"]) for o in described["Outputs"]
    ]
    physical = cfn.list_stack_resources(StackName=dev.binding.stack_id)["StackResourceSummaries"]
    assert [(p.name, p.identifier, p.provisioning_engine) for p in dev.provisioned_resources] == [
        ("Topic", physical[0]["PhysicalResourceId"], "CLOUDFORMATION")
    ]

    (service,) = _by(plan, "service").values()
    assert (service.name, _version(service), service.binding) == ("api", ("fargate", "1", "0"), None)
    assert service.proton_arn == proton_arn("service/api")
    instances = _by(plan, "service-instance")
    assert sorted(instances) == INSTANCES
    assert {name: (i.service, i.environment) for name, i in instances.items()} == {
        name: ("api", "dev" if n % 2 == 0 else "prod") for n, name in enumerate(INSTANCES)
    }
    assert instances["i07"].proton_arn == proton_arn("service/api/service-instance/i07")
    assert all(_version(i) == ("fargate", "1", "0") and i.spec is None for i in instances.values())
    (pipeline,) = _by(plan, "service-pipeline").values()
    assert (pipeline.name, pipeline.service, pipeline.environment) == ("api", "api", None)
    (component,) = _by(plan, "component").values()
    assert (component.name, component.environment, component.service, component.service_instance) == (
        "cache",
        "dev",
        "api",
        "i00",
    )
    assert _version(component) == (None, None, None)


def test_template_versions_the_highest_published_or_chosen(
    runtime: Runtime, proton: Any, s3: Any, cfn: Any, templates: None
) -> None:
    publish_environment_version(proton, s3, "vpc", bundles.environment_bundle(), majorVersion="1")
    _environment(cfn, "dev")

    (dev,) = _read(runtime).resources
    assert _version(dev) == ("vpc", "1", "1")
    (dev,) = _read(runtime, templates=parse_template_choices(["vpc=1.0"])).resources
    assert _version(dev) == ("vpc", "1", "0")
    plan = _read(runtime, templates={"vpc": (1, 7)})
    assert plan.resources == []
    assert [s.reason for s in plan.skipped] == [
        "version 1.7 of environment template vpc is not registered; register and publish it (template "
        "sync, or --bundles DIR) or name another with --template vpc=MAJOR.MINOR"
    ]
    with pytest.raises(ValueError, match=r"is not NAME=MAJOR\.MINOR"):
        parse_template_choices(["vpc=1"])


def test_template_versions_the_tags_name(
    runtime: Runtime, proton: Any, s3: Any, cfn: Any, templates: None
) -> None:
    publish_environment_version(proton, s3, "vpc", bundles.environment_bundle(), majorVersion="1")
    for name, template in (("pinned", "vpc:1.0"), ("major", "vpc:1"), ("later", "vpc:2")):
        proton_stack(
            cfn,
            name,
            {
                "proton:template": proton_arn(f"environment-template/{template}"),
                "proton:environment": proton_arn(f"environment/{name}"),
            },
        )
    plan = _read(runtime)
    assert {r.name: _version(r) for r in plan.resources} == {
        "pinned": ("vpc", "1", "0"),
        "major": ("vpc", "1", "1"),
    }
    assert [s.reason for s in plan.skipped] == [
        "environment template vpc has no published version in major 2 (the major its stacks' "
        "proton:template tag names); publish one (or register one with --bundles DIR) or name one with "
        "--template vpc=MAJOR.MINOR"
    ]


def test_specs_from_the_specs_folder(runtime: Runtime, cfn: Any, templates: None, tmp_path: Path) -> None:
    _proton_left(cfn)
    env_spec = "proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.1.0.0/16\n"
    service_spec = (
        "proton: ServiceSpec\npipeline:\n  image: web\ninstances:\n"
        "  - name: i00\n    environment: dev\n    spec:\n      port: 80\n"
        "  - name: i01\n    environment: prod\n"
        "  - name: i02\n    environment: dev\n    spec:\n      port: eighty\n"
    )
    (tmp_path / "dev.yaml").write_text(env_spec)
    (tmp_path / "api.yaml").write_text(service_spec)
    (tmp_path / "prod.yaml").write_text("proton: ServiceSpec\n")
    plan = _read(runtime, specs_dir=tmp_path)

    assert _by(plan, "environment")["dev"].spec == env_spec
    assert "prod" not in _by(plan, "environment")
    assert [(s.source.split("-")[-2], s.reason.split(":")[0]) for s in plan.skipped] == [
        ("prod", "its spec file cannot be used"),
        ("i02", "its spec file cannot be used"),
    ]
    assert plan.skipped[1].reason == (
        "its spec file cannot be used: Invalid spec for service instance i02: input 'port' must be of type "
        "number"
    )
    assert _by(plan, "service")["api"].spec == service_spec
    instances = _by(plan, "service-instance")
    assert instances["i00"].spec == service_spec
    assert instances["i01"].spec == service_spec
    assert "i02" not in instances  # its inputs do not fit the schema
    assert instances["i03"].spec is None  # not listed in the ServiceSpec: adopted as needing a spec
    assert _by(plan, "service-pipeline")["api"].spec == service_spec


def test_stacks_that_cannot_be_adopted_are_skipped_with_the_reason(
    runtime: Runtime, cfn: Any, templates: None
) -> None:
    _environment(cfn, "dev")
    proton_stack(
        cfn,
        "elsewhere",
        {
            "proton:template": ENV_TEMPLATE,
            "proton:environment": proton_arn("environment/x", region="eu-west-1"),
        },
    )
    proton_stack(
        cfn,
        "garbage",
        {"proton:template": ENV_TEMPLATE, "proton:environment": "arn:aws:proton:us-east-1:" + "9" * 300},
    )
    proton_stack(
        cfn,
        "lonely",
        {
            "proton:template": SERVICE_TEMPLATE,
            "proton:service": proton_arn("service/api"),
            "proton:service-instance": proton_arn("service/api/service-instance/lonely"),
        },
    )
    _instance(cfn, "web", "one", "dev", template=proton_arn("service-template/unknown"))
    _instance(cfn, "api", "good", "dev")
    _instance(cfn, "api", "stray", "dev", template=proton_arn("service-template/other"))
    proton_stack(
        cfn,
        "api-pipeline",
        {"proton:template": SERVICE_TEMPLATE, "proton:service": proton_arn("service/api")},
    )
    cfn.create_change_set(
        StackName="AWSProton-pending",
        ChangeSetName="proton",
        ChangeSetType="CREATE",
        TemplateBody='{"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}',
        Tags=[
            {"Key": "proton:template", "Value": ENV_TEMPLATE},
            {"Key": "proton:environment", "Value": proton_arn("environment/pending")},
        ],
    )
    cfn.create_stack(StackName="not-proton", TemplateBody='{"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}')
    plan = _read(runtime)

    assert [(r.kind, r.name) for r in plan.resources] == [
        ("environment", "dev"),
        ("service", "api"),
        ("service-instance", "good"),
        ("service-pipeline", "api"),
    ]
    reasons = {s.source: s.reason for s in plan.skipped}
    assert reasons == {
        "stack AWSProton-elsewhere-" + _suffix("elsewhere"): (
            "its Proton tags are inconsistent: tag proton:environment names region eu-west-1, not us-east-1"
        ),
        "stack AWSProton-garbage-" + _suffix("garbage"): (
            "its Proton tags are inconsistent: tag proton:environment is longer than 256 characters"
        ),
        "stack AWSProton-lonely-" + _suffix("lonely"): (
            "its Proton tags are inconsistent: service instance stack without a proton:environment tag"
        ),
        "stack AWSProton-web-one-" + _suffix("web-one"): (
            "service template unknown is not registered in account 111111111111; register it (template sync, "
            "or --bundles DIR) and give its version with --template unknown=MAJOR.MINOR if it is not the "
            "highest published one"
        ),
        "stack AWSProton-api-stray-" + _suffix("api-stray"): (
            "it names service template other, but service api runs service template fargate; a service's "
            "instances and pipeline share one template"
        ),
        "stack AWSProton-pending": (
            "the stack is REVIEW_IN_PROGRESS; run the adoption again once it has settled"
        ),
    }


def _suffix(name: str) -> str:
    import hashlib

    return hashlib.sha256(name.encode()).hexdigest()[:8]


def test_pages_of_stacks_and_two_calls_per_stack_at_most(runtime: Runtime, cfn: Any, templates: None) -> None:
    _proton_left(cfn)  # 29 stacks
    for number in range(30):
        _instance(cfn, "batch", f"b{number:02d}", "prod")
    calls: Counter[str] = Counter()
    clients: list[Any] = []

    def count(model: Any, **_: Any) -> None:
        calls.update([model.name])

    def connect(target: targets.Target) -> Any:
        client = targets.client(target, "cloudformation")
        client.meta.events.register("before-call.cloudformation", count)
        clients.append(client)
        return client

    try:
        plan = read_stacks(runtime, Reading(account_id=ACCOUNT, region=REGION, role_arn=READER), connect)
    finally:
        for client in clients:  # the client is cached for the thread: later tests must not count here
            client.meta.events.unregister("before-call.cloudformation", count)
    stacks = 59
    assert len([r for r in plan.resources if r.binding is not None]) == stacks
    assert calls["DescribeStacks"] == 2  # the local cloud answers 50 stacks a page
    assert calls["ListStackResources"] == stacks
    assert sum(calls.values()) <= 2 * stacks


def test_an_environment_in_another_account_needs_a_connection(
    runtime: Runtime, proton: Any, other_account_proton: Any, other_cfn: Any, templates: None
) -> None:
    _environment(other_cfn, "remote")
    plan = _read(runtime, role=OTHER_READER)
    assert plan.resources == []
    assert [s.reason for s in plan.skipped] == [
        f"environment remote runs in environment account {OTHER_ACCOUNT} (Proton ran in {ACCOUNT}), and "
        f"account {ACCOUNT} has no CONNECTED environment account connection from it for this environment; "
        "create one in that account, accept it, and run the adoption again"
    ]
    connection_id = other_account_proton.create_environment_account_connection(
        managementAccountId=ACCOUNT,
        environmentName="remote",
        roleArn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/proton-environment",
    )["environmentAccountConnection"]["id"]
    proton.accept_environment_account_connection(id=connection_id)

    (remote,) = _read(runtime, role=OTHER_READER).resources
    assert remote.environment_account_connection_id == connection_id
    assert remote.role_arn is None, "an environment in another account deploys with its connection's role"
    assert remote.binding is not None and remote.binding.cloud_account_id == OTHER_ACCOUNT


def test_a_role_that_is_not_one(runtime: Runtime) -> None:
    with pytest.raises(AdoptError, match="is not an IAM role ARN"):
        _read(runtime, role="arn:aws:iam::1:user/x")
