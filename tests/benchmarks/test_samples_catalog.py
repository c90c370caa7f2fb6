"""The logic of `benchmarks/samples_local_cloud.py` on a small samples tree made here: which bundles it finds,
with which spec and compatible environments, the spec it deploys, the input it changes, how it counts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from baryon.bundles import load_bundle
from tests.support.bundles import (
    CFN_ENV,
    CFN_INSTANCE,
    CFN_MANIFEST,
    CFN_PIPELINE,
    ENV_SCHEMA,
    SERVICE_SCHEMA,
    SERVICE_SCHEMA_NO_PIPELINE,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from samples_catalog import (
    BundleResult,
    changed_inputs,
    discover,
    environment_inputs,
    is_render_error,
    pack,
    service_name,
    service_spec,
    summary_line,
    totals,
)


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def environment(folder: str) -> dict[str, str]:
    return {
        f"{folder}/schema/schema.yaml": ENV_SCHEMA,
        f"{folder}/infrastructure/manifest.yaml": CFN_MANIFEST,
        f"{folder}/infrastructure/cloudformation.yaml": CFN_ENV,
    }


def service(folder: str, pipeline: bool = True) -> dict[str, str]:
    files = {
        f"{folder}/schema/schema.yaml": SERVICE_SCHEMA if pipeline else SERVICE_SCHEMA_NO_PIPELINE,
        f"{folder}/instance_infrastructure/manifest.yaml": CFN_MANIFEST,
        f"{folder}/instance_infrastructure/cloudformation.yaml": CFN_INSTANCE,
    }
    if pipeline:
        files[f"{folder}/pipeline_infrastructure/manifest.yaml"] = CFN_MANIFEST
        files[f"{folder}/pipeline_infrastructure/cloudformation.yaml"] = CFN_PIPELINE
    return files


SVC_SPEC = """proton: ServiceSpec
pipeline:
  dockerfile: Containerfile
  packaging_commands: make
instances:
  - name: web-prod
    environment: somewhere
    spec:
      port: 8080
      colour: blue
"""


@pytest.fixture
def samples(tmp_path: Path) -> Path:
    """Two layouts of the samples: one folder per template with `spec/spec.yaml` and `.compatible-envs`
    (`environment-templates/`, `service-templates/`), and a project folder with a `specs/` folder for an
    environment and two services (`project/`). A bundle under `.git` is not one of them."""
    root = tmp_path / "samples"
    write(root, environment("environment-templates/net-env/v1"))
    env_spec = "proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.0.0.0/16\n"
    write(root, {"environment-templates/net-env/spec/spec.yaml": env_spec})
    write(root, service("service-templates/web-svc/v1"))
    write(root, {"service-templates/web-svc/v1/.compatible-envs": "net-env:1\n"})
    write(root, {"service-templates/web-svc/spec/spec.yaml": SVC_SPEC})
    write(root, environment("project/project-env/v1"))
    write(root, service("project/public-svc/v1"))
    write(root, service("project/private-svc/v1", pipeline=False))
    write(
        root,
        {
            "project/specs/env-spec.yaml": "proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.8.0.0/16\n",
            "project/specs/svc-public-spec.yaml": SVC_SPEC.replace("web-prod", "public-dev"),
            "project/specs/svc-private-spec.yaml": SVC_SPEC.replace("web-prod", "private-dev"),
        },
    )
    write(root, environment(".git/stale-env/v1"))
    return root


def test_every_bundle_is_found_with_its_spec_and_environments(samples: Path) -> None:
    found = {bundle.name: bundle for bundle in discover(samples)}

    assert [(b.kind, b.name) for b in discover(samples)] == [
        ("environment", "net-env"),
        ("environment", "project-env"),
        ("service", "private-svc"),
        ("service", "public-svc"),
        ("service", "web-svc"),
    ]
    assert found["net-env"].spec_path == samples / "environment-templates/net-env/spec/spec.yaml"
    assert found["project-env"].spec_path == samples / "project/specs/env-spec.yaml"
    assert found["public-svc"].spec_path == samples / "project/specs/svc-public-spec.yaml"
    assert found["private-svc"].spec_path == samples / "project/specs/svc-private-spec.yaml"
    assert found["web-svc"].compatible == (("net-env", "1"),)
    # without a .compatible-envs file: the environment template of the same project folder
    assert found["public-svc"].compatible == (("project-env", "1"),)
    assert (found["web-svc"].has_pipeline, found["private-svc"].has_pipeline) == (True, False)
    assert environment_inputs(found["project-env"]) == {"vpc_cidr": "10.8.0.0/16"}


def test_a_packed_bundle_is_one_baryon_loads(samples: Path) -> None:
    web = {bundle.name: bundle for bundle in discover(samples)}["web-svc"]
    (web.path / ".DS_Store").write_text("junk")

    info = load_bundle(pack(web.path), kind="SERVICE", has_pipeline=True)

    assert sorted(info.parts) == ["instance_infrastructure", "pipeline_infrastructure"]
    assert ".DS_Store" not in info.files


def test_the_sample_spec_becomes_two_instances_in_two_environments(samples: Path) -> None:
    found = {bundle.name: bundle for bundle in discover(samples)}

    plan = service_spec(found["web-svc"], ("net-env-a", "net-env-b"))
    without_pipeline = service_spec(found["private-svc"], ("project-env-a", "project-env-b"))

    assert plan.spec == {
        "proton": "ServiceSpec",
        "pipeline": {"dockerfile": "Containerfile"},
        "instances": [
            {"name": "web-prod", "environment": "net-env-a", "spec": {"port": 8080}},
            {"name": "web-prod-2", "environment": "net-env-b", "spec": {"port": 8080}},
        ],
    }
    assert plan.dropped == ["instance.colour", "pipeline.packaging_commands"]
    assert yaml.safe_load(plan.text()) == plan.spec
    assert "pipeline" not in without_pipeline.spec
    assert [i["name"] for i in without_pipeline.spec["instances"]] == ["private-dev", "private-dev-2"]


def test_service_names_are_short_and_distinct() -> None:
    names = {service_name(t) for t in ("loadbalanced-fargate-svc", "loadbalanced-public-svc", "2-svc")}

    assert len(names) == 3
    assert service_name("loadbalanced-fargate-svc").startswith("lfs-")
    # a target group named from `<service>--<instance>` cut at 29 characters stays apart for two instances
    assert all(len(f"{name}--frontend-dev-2") <= 29 for name in names)
    assert all(name[0].isalpha() for name in names)


def test_the_changed_input_is_one_the_schema_allows() -> None:
    number = {
        "count": {"type": "number", "default": 1, "maximum": 3},
        "size": {"type": "string", "enum": ["s", "m"]},
    }
    assert changed_inputs(number, {"count": 2}) == {"count": 3}
    assert changed_inputs(number, {"count": 3}) == {"count": 2}
    assert changed_inputs({"size": number["size"]}, {"size": "m"}) == {"size": "s"}
    cidrs = {
        "vpc": {"type": "string", "pattern": "x"},
        "subnet": {"type": "string", "pattern": "x", "default": "10.0.1.0/24"},
    }
    assert changed_inputs(cidrs, {"vpc": "10.0.0.0/16"}) == {"vpc": "10.1.0.0/16", "subnet": "10.1.1.0/24"}
    assert changed_inputs({"name": {"type": "string", "default": "ttl"}}, {}) == {"name": "v2-ttl"}
    assert changed_inputs({"name": {"type": "string", "pattern": "[a-z]+"}}, {"name": "ttl"}) == {}
    assert changed_inputs(None, {}) == {}


def test_results_are_counted_as_the_issue_words_them() -> None:
    env = BundleResult("a/env", "environment", "env", registered=True, rendered=True, environments=2)
    env.environments_deployed, env.second_deploy, env.deleted = 2, True, False
    good = BundleResult(
        "a/good", "service", "good", registered=True, rendered=True, instances=2, pipeline=True
    )
    good.instances_deployed, good.pipeline_deployed, good.outputs_flow, good.deleted = 2, True, True, True
    half = BundleResult(
        "a/half", "service", "half", registered=True, rendered=False, instances=2, pipeline=True
    )
    half.instances_deployed = 1
    half.fail("instance FAILED: first")
    half.fail("pipeline FAILED: second")

    counts = totals([env, good, half])

    assert half.failure == "instance FAILED: first" and half.notes == ["pipeline FAILED: second"]
    assert (counts["environments_deployed"], counts["services_deployed"]) == (1, 1)
    assert (counts["instances_deployed"], counts["instances"]) == (3, 4)
    assert (counts["pipelines_deployed"], counts["pipelines"]) == (1, 2)
    assert (counts["environments_deleted"], counts["services_deleted"]) == (0, 1)
    assert "1 of 1 environments and 1 of 2 services deploy" in summary_line(counts)
    assert "3 of 4 instances, 1 of 2 pipelines" in summary_line(counts)


def test_a_render_error_is_told_from_a_cloud_error() -> None:
    assert is_render_error("instance_infrastructure/cloudformation.yaml, line 4: 'x' is undefined")
    assert not is_render_error("CreateStack AWSProton-x-1a2b3c4d failed: ValidationError: Template error")
    assert not is_render_error("instance_infrastructure/cloudformation.yaml, line 4: E3002 Invalid property")
    assert not is_render_error(None)
