"""`baryon adopt cloudformation` as a real subprocess against the local cloud: the plan as a table and as
JSON with `--dry-run` (which changes nothing), one-line errors, and adopting for real."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import ACCOUNT, SECRET_KEY
from tests.support.processes import baryon_env, run
from tests.support.proton_stacks import READER, REGION, cfn, kept_bundles, proton_arn, proton_stack, templates
from tests.support.waiters import FAST

ENV_TEMPLATE = proton_arn("environment-template/vpc")
SERVICE_TEMPLATE = proton_arn("service-template/fargate")


def _env(tmp_path: Path, database_url: str, moto_endpoint: str) -> dict[str, str]:
    return baryon_env(
        tmp_path / "data",
        database_url,
        SECRET_KEY,
        {
            "AWS_ENDPOINT_URL": moto_endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
        },
    )


def _stacks(cf: Any) -> None:
    """Environment dev, service api with instance front in dev and a pipeline, and a stack with a bad tag."""
    proton_stack(
        cf, "dev", {"proton:template": ENV_TEMPLATE, "proton:environment": proton_arn("environment/dev")}
    )
    proton_stack(
        cf,
        "api-front",
        {
            "proton:template": SERVICE_TEMPLATE,
            "proton:environment": proton_arn("environment/dev"),
            "proton:service": proton_arn("service/api"),
            "proton:service-instance": proton_arn("service/api/service-instance/front"),
        },
    )
    proton_stack(
        cf, "api-pipeline", {"proton:template": SERVICE_TEMPLATE, "proton:service": proton_arn("service/api")}
    )
    proton_stack(cf, "odd", {"proton:environment": "arn:aws:proton:us-east-1:1:environment/odd"})


__all__ = ["cfn", "templates"]  # fixtures

ARGS = ["adopt", "cloudformation", "--account-id", ACCOUNT, "--region", REGION, "--role-arn", READER]


def test_dry_run_prints_the_plan_and_changes_nothing(
    tmp_path: Path, database_url: str, moto_endpoint: str, cfn: Any, proton: Any, templates: None
) -> None:
    _stacks(cfn)
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "dev.yaml").write_text("proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.0.0.0/16\n")
    env = _env(tmp_path, database_url, moto_endpoint)

    shown = run([*ARGS, "--specs", str(specs), "--dry-run"], env)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"Adopting into account {ACCOUNT}, region {REGION}:"
    assert lines[1].split() == ["KIND", "NAME", "ENVIRONMENT", "TEMPLATE", "SPEC", "STACK"]
    rows = [line.split("  ") for line in lines[2:6]]
    cells = [[cell.strip() for cell in row if cell.strip()] for row in rows]
    assert [row[:5] for row in cells] == [
        ["environment", "dev", "dev", "vpc:1.0", "spec given"],
        ["service", "api", "-", "fargate:1.0", "needs a spec"],
        ["service-instance", "api/front", "dev", "fargate:1.0", "needs a spec"],
        ["service-pipeline", "api", "-", "fargate:1.0", "needs a spec"],
    ]
    assert cells[0][5].startswith("AWSProton-dev-") and cells[0][5].endswith(f"({ACCOUNT})")
    assert lines[6] == "4 to adopt, 3 of them without a spec."
    assert lines[7] == "1 not adopted:"
    assert lines[8].startswith("  stack AWSProton-odd-")
    assert lines[8].endswith(
        "its Proton tags are inconsistent: tag proton:environment is not a Proton ARN: "
        "'arn:aws:proton:us-east-1:1:environment/odd'"
    )
    assert proton.list_environments()["environments"] == []
    assert proton.list_services()["services"] == []

    as_json = run([*ARGS, "--dry-run", "--output", "json"], env)
    assert as_json.returncode == 0, as_json.stderr
    plan = json.loads(as_json.stdout)["plan"]
    assert (plan["account_id"], plan["region"]) == (ACCOUNT, REGION)
    assert [(r["kind"], r["name"]) for r in plan["resources"]] == [
        ("environment", "dev"),
        ("service", "api"),
        ("service-instance", "front"),
        ("service-pipeline", "api"),
    ]
    instance = plan["resources"][2]
    assert (instance["service"], instance["environment"], instance["spec"]) == ("api", "dev", None)
    assert instance["binding"]["stack_name"].startswith("AWSProton-api-front-")
    assert instance["outputs"][0]["key"] == "TopicName"
    assert [p["name"] for p in instance["provisioned_resources"]] == ["Topic"]
    assert [s["source"].split("-")[1] for s in plan["skipped"]] == ["odd"]


def test_dry_run_with_bundles_registers_nothing(
    tmp_path: Path, database_url: str, moto_endpoint: str, cfn: Any, proton: Any
) -> None:
    _stacks(cfn)
    root = kept_bundles(tmp_path / "bundles")
    env = _env(tmp_path, database_url, moto_endpoint)
    shown = run([*ARGS, "--bundles", str(root), "--dry-run"], env)
    assert shown.returncode == 0, shown.stderr
    assert f"  register environment template vpc major 1 from {root / 'vpc' / 'v1'}" in shown.stdout
    assert f"  register service template fargate major 1 from {root / 'fargate' / 'v1'}" in shown.stdout
    # Shown with the versions the bundles will be registered as.
    table = [line.split() for line in shown.stdout.splitlines()]
    assert table[4][:7] == ["environment", "dev", "dev", "vpc:1.0", "needs", "a", "spec"]
    assert table[6][:4] == ["service-instance", "api/front", "dev", "fargate:1.0"]
    assert proton.list_environment_templates()["templates"] == []


def test_user_mistakes_are_one_line(tmp_path: Path, database_url: str, moto_endpoint: str, cfn: Any) -> None:
    env = _env(tmp_path, database_url, moto_endpoint)
    bad_template = run([*ARGS, "--template", "vpc=1", "--dry-run"], env)
    assert bad_template.returncode == 2
    assert "Invalid value for --template: 'vpc=1' is not NAME=MAJOR.MINOR (e.g. fargate=1.2)" in (
        bad_template.stderr
    )
    bad_role = run([*ARGS[:-1], "arn:aws:iam::1:user/x", "--dry-run"], env)
    assert bad_role.returncode == 1
    assert bad_role.stderr.strip() == (
        "Error: 'arn:aws:iam::1:user/x' is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)."
    )
    missing = run([*ARGS, "--specs", str(tmp_path / "nowhere"), "--dry-run"], env)
    assert missing.returncode == 2
    assert f"Invalid value for --specs: {tmp_path / 'nowhere'} is not a folder" in missing.stderr


def test_adopting_records_what_runs(
    tmp_path: Path, database_url: str, moto_endpoint: str, cfn: Any, proton: Any, templates: None
) -> None:
    _stacks(cfn)
    env = _env(tmp_path, database_url, moto_endpoint)
    before = {s["StackName"]: s for s in cfn.describe_stacks()["Stacks"]}

    adopted = run([*ARGS, "--output", "json"], env)
    assert adopted.returncode == 0, adopted.stderr
    assert "report" in json.loads(adopted.stdout)
    dev = proton.get_environment(name="dev")["environment"]
    assert dev["deploymentStatus"] == "SUCCEEDED"
    assert (dev["templateName"], dev["templateMajorVersion"], dev["templateMinorVersion"]) == (
        "vpc",
        "1",
        "0",
    )
    # The role the stacks were read with is the role the environment's next deployments assume.
    assert dev["protonServiceRoleArn"] == READER
    front = proton.get_service_instance(serviceName="api", name="front")["serviceInstance"]
    assert front["environmentName"] == "dev"
    outputs = proton.list_service_instance_outputs(serviceName="api", serviceInstanceName="front")["outputs"]
    assert [o["key"] for o in outputs] == ["TopicName"]
    after = {s["StackName"]: s for s in cfn.describe_stacks()["Stacks"]}
    assert {name: (s["StackId"], s.get("LastUpdatedTime")) for name, s in after.items()} == {
        name: (s["StackId"], s.get("LastUpdatedTime")) for name, s in before.items()
    }

    again = run(ARGS, env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-6:] == [
        "Result:",
        "  environment dev: already adopted",
        "  service api: already adopted",
        "  service-instance api/front: already adopted",
        "  service-pipeline api: already adopted",
        "4 already adopted.",
    ]
    assert proton.get_environment(name="dev")["environment"] == dev

    # The next deployment updates the same stack.
    proton.update_environment(
        name="dev",
        deploymentType="CURRENT_VERSION",
        spec="proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.2.0.0/16\n",
    )
    proton.get_waiter("environment_deployed").wait(name="dev", WaiterConfig=FAST)
    updated = {s["StackName"]: s for s in cfn.describe_stacks()["Stacks"]}
    assert sorted(updated) == sorted(before)
    (name,) = [name for name in updated if name.startswith("AWSProton-dev-")]
    assert updated[name]["StackId"] == before[name]["StackId"]
    assert updated[name]["StackStatus"] == "UPDATE_COMPLETE"
