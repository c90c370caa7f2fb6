"""cfn-lint on the rendered CloudFormation template before it is sent: errors fail the deployment with the
rule, the file and the line, and nothing reaches CloudFormation; warnings are kept with the deployment."""

from __future__ import annotations

import contextlib
from typing import Any

from botocore.exceptions import WaiterError

from baryon.engine.provisioners.cloudformation import stack_name
from baryon.runtime import Runtime
from tests.conftest import ACCOUNT
from tests.support import bundles
from tests.support.publishing import publish_environment_template
from tests.support.waiters import FAST

ROLE = f"arn:aws:iam::{ACCOUNT}:role/proton-service"
SPEC = "proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.1.0.0/16\n"
REGION = "us-east-1"

#: Line 6: a property an SQS queue does not have (E3002); line 5: a retention below the minimum (E3034).
INVALID = """Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      MessageRetentionPeriod: 12
      Colour: '{{ environment.inputs.vpc_cidr }}'
"""


def _bundle(template: str) -> bytes:
    return bundles.tar_gz(
        {
            "schema/schema.yaml": bundles.ENV_SCHEMA,
            "infrastructure/manifest.yaml": bundles.CFN_MANIFEST,
            "infrastructure/cloudformation.yaml": template,
        },
        "environment/",
    )


def _deploy(proton: Any, s3: Any, template: str) -> dict[str, Any]:
    publish_environment_template(proton, s3, "queue-env", _bundle(template))
    proton.create_environment(
        name="dev", templateName="queue-env", templateMajorVersion="1", spec=SPEC, protonServiceRoleArn=ROLE
    )
    # The waiter stops with an error on FAILED; the environment then says why.
    with contextlib.suppress(WaiterError):
        proton.get_waiter("environment_deployed").wait(name="dev", WaiterConfig=FAST)
    return dict(proton.get_environment(name="dev")["environment"])


def test_a_template_with_cfn_lint_errors_fails_before_it_is_sent(
    proton: Any, s3: Any, worker: Any, cloudformation_of_account: Any
) -> None:
    env = _deploy(proton, s3, INVALID)
    assert env["deploymentStatus"] == "FAILED"
    file = "infrastructure/cloudformation.yaml"
    expected = (
        f"cfn-lint E3034 in {file} line 5: 12 is less than the minimum of 60\n"
        f"cfn-lint E3002 in {file} line 6: Additional properties are not allowed ('Colour' was unexpected)"
    )
    assert env["deploymentStatusMessage"] == expected
    deployment = proton.get_deployment(id=env["lastAttemptedDeploymentId"])["deployment"]
    assert deployment["deploymentStatus"] == "FAILED"
    assert deployment["deploymentStatusMessage"] == expected
    stacks = cloudformation_of_account.list_stacks()["StackSummaries"]
    name = stack_name("environment", "dev", account_id=ACCOUNT, region=REGION)
    assert [s for s in stacks if s["StackName"] == name and s["StackStatus"] != "DELETE_COMPLETE"] == []


def test_cfn_lint_warnings_are_kept_with_a_deployment_that_succeeds(
    proton: Any, s3: Any, worker: Any
) -> None:
    env = _deploy(proton, s3, bundles.CFN_UNTIDY_ENVIRONMENT)
    assert env["deploymentStatus"] == "SUCCEEDED"
    deployment = proton.get_deployment(id=env["lastSucceededDeploymentId"])["deployment"]
    assert deployment["deploymentStatusMessage"] == (
        "cfn-lint W2001 in infrastructure/cloudformation.yaml line 2: Parameter Unused not used."
    )


def test_warn_mode_keeps_errors_as_warnings_and_deploys(
    proton: Any, s3: Any, worker: Any, runtime: Runtime
) -> None:
    runtime.settings.cfn_lint = "warn"
    template = INVALID.replace("      MessageRetentionPeriod: 12\n", "")
    env = _deploy(proton, s3, template)
    deployment = proton.get_deployment(id=env["lastAttemptedDeploymentId"])["deployment"]
    assert deployment["deploymentStatusMessage"].startswith(
        "cfn-lint E3002 in infrastructure/cloudformation.yaml line 5: Additional properties are not allowed"
    )
    # moto takes the extra property; the deployment went on.
    assert env["deploymentStatus"] == "SUCCEEDED"


def test_off_mode_sends_the_template_unchecked(proton: Any, s3: Any, worker: Any, runtime: Runtime) -> None:
    runtime.settings.cfn_lint = "off"
    env = _deploy(proton, s3, bundles.CFN_UNTIDY_ENVIRONMENT)
    assert env["deploymentStatus"] == "SUCCEEDED"
    deployment = proton.get_deployment(id=env["lastSucceededDeploymentId"])["deployment"]
    assert "deploymentStatusMessage" not in deployment or not deployment["deploymentStatusMessage"]
