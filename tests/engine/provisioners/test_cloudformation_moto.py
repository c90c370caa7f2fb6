"""The CloudFormation provisioner against a real moto server: create, poll, update, no-op update,
idempotent repeats, template errors, role assumption, delete and cancel.

moto 5.2 creates, updates and deletes stacks synchronously, records only stack-level events (no
per-resource events, no failure reasons, no ClientRequestToken on events), never reports ROLLBACK_*,
UPDATE_ROLLBACK_* or DELETE_FAILED, ignores ClientRequestToken, and does not implement
CancelUpdateStack; what depends on those is covered by the pure tests in test_cloudformation_logic.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from baryon.domain.outcomes import Failed
from baryon.engine.provisioners import stacks as cfn
from baryon.engine.provisioners.errors import ProvisionError
from baryon.engine.provisioners.targets import Target, client
from tests.engine.provisioners.conftest import MOTO_ACCOUNT, REGION
from tests.support.clients import as_role

BAYRON_ACCOUNT = "111111111111"


def queue_template(visibility: int = 30, extra_output: bool = False) -> str:
    queue = {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": visibility}}
    outputs: dict[str, Any] = {
        "QueueUrl": {"Value": {"Ref": "Queue"}},
        "QueueArn": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}},
    }
    if extra_output:
        outputs["Visibility"] = {"Value": str(visibility)}
    return json.dumps({"Resources": {"Queue": queue}, "Outputs": outputs})


YAML_TEMPLATE = """\
Resources:
  Queue:
    Type: AWS::SQS::Queue
Outputs:
  QueueName:
    Value: !GetAtt Queue.QueueName
"""


def env_name(unique: str) -> str:
    return cfn.stack_name("environment", f"env-{unique}", account_id=BAYRON_ACCOUNT, region=REGION)


def stack_events(admin: Any, stack_id: str) -> list[str]:
    """Stack-level event statuses, oldest first."""
    events = admin.describe_stack_events(StackName=stack_id)["StackEvents"]
    return [e["ResourceStatus"] for e in reversed(events) if e["ResourceType"] == cfn.STACK_TYPE]


def live_stacks_named(admin: Any, name: str) -> list[dict[str, Any]]:
    summaries = admin.list_stacks()["StackSummaries"]
    return [s for s in summaries if s["StackName"] == name and s["StackStatus"] != "DELETE_COMPLETE"]


def deploy_and_poll(
    target: Target, name: str, body: str, token: str, tags: dict[str, str] | None = None
) -> Any:
    started = cfn.start_deploy(target, name, body, tags or {}, token)
    result = cfn.poll(target, started.stack_id, token)
    return started, result


def test_create_then_poll_reads_outputs_resources_and_tags(target: Target, admin: Any, unique: str) -> None:
    name = env_name(unique)
    resource_tags = {
        "aws:proton:account": BAYRON_ACCOUNT,
        "aws:proton:environment": f"arn:aws:proton:{REGION}:{BAYRON_ACCOUNT}:environment/env-{unique}",
        "team": "customer tag, not stamped on infrastructure",
    }
    tags = cfn.stack_tags(resource_tags)

    started = cfn.start_deploy(target, name, queue_template(), tags, f"deploy-{unique}")

    assert started.action == "CREATE" and started.status is None
    assert started.stack_id.startswith(f"arn:aws:cloudformation:{REGION}:{MOTO_ACCOUNT}:stack/{name}/")
    result = cfn.poll(target, started.stack_id, f"deploy-{unique}")
    assert result.status == "CREATE_COMPLETE"
    assert cfn.is_terminal(result.status) and cfn.is_success(result.status, started.action)
    assert result.failure_reason is None
    outputs = {o["key"]: o["valueString"] for o in result.outputs}
    assert set(outputs) == {"QueueUrl", "QueueArn"}
    assert outputs["QueueArn"].startswith(f"arn:aws:sqs:{REGION}:{MOTO_ACCOUNT}:")
    assert result.resources == [
        {"name": "Queue", "identifier": outputs["QueueUrl"], "provisioningEngine": "CLOUDFORMATION"}
    ]
    stack = admin.describe_stacks(StackName=started.stack_id)["Stacks"][0]
    assert {t["Key"]: t["Value"] for t in stack["Tags"]} == {
        "proton:account": BAYRON_ACCOUNT,
        "proton:environment": resource_tags["aws:proton:environment"],
    }


def test_update_with_a_change(target: Target, admin: Any, unique: str) -> None:
    name = env_name(unique)
    first, _ = deploy_and_poll(target, name, queue_template(30), f"one-{unique}")

    second = cfn.start_deploy(target, name, queue_template(60, extra_output=True), {}, f"two-{unique}")

    assert second.action == "UPDATE" and second.stack_id == first.stack_id
    assert second.status == "CREATE_COMPLETE"
    result = cfn.poll(target, second.stack_id, f"two-{unique}")
    assert result.status == "UPDATE_COMPLETE" and cfn.is_success(result.status, "UPDATE")
    assert {o["key"]: o["valueString"] for o in result.outputs}["Visibility"] == "60"
    assert stack_events(admin, first.stack_id) == [
        "CREATE_IN_PROGRESS",
        "CREATE_COMPLETE",
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE",
    ]


def test_tag_change_alone_is_an_update(target: Target, admin: Any, unique: str) -> None:
    name = env_name(unique)
    deploy_and_poll(target, name, queue_template(), f"one-{unique}", {"proton:template": "a"})

    second = cfn.start_deploy(target, name, queue_template(), {"proton:template": "b"}, f"two-{unique}")

    assert second.action == "UPDATE"
    stack = admin.describe_stacks(StackName=second.stack_id)["Stacks"][0]
    assert stack["Tags"] == [{"Key": "proton:template", "Value": "b"}]


@pytest.mark.parametrize("body", [queue_template(), YAML_TEMPLATE], ids=["json", "yaml"])
def test_update_without_change_is_no_changes_and_still_reads_outputs(
    target: Target, admin: Any, unique: str, body: str
) -> None:
    name = env_name(unique)
    tags = {"proton:environment": "e"}
    first, created = deploy_and_poll(target, name, body, f"one-{unique}", tags)

    again = cfn.start_deploy(target, name, body, tags, f"two-{unique}")

    assert again.action == "NO_CHANGES" and again.stack_id == first.stack_id
    result = cfn.poll(target, again.stack_id, f"two-{unique}")
    assert cfn.is_success(result.status, again.action)
    assert result.outputs == created.outputs and result.outputs
    assert result.resources == created.resources
    assert stack_events(admin, first.stack_id) == ["CREATE_IN_PROGRESS", "CREATE_COMPLETE"]


def test_repeated_steps_with_the_same_token_start_one_operation(
    target: Target, admin: Any, unique: str
) -> None:
    name = env_name(unique)
    token = f"deploy-{unique}"

    first = cfn.start_deploy(target, name, queue_template(), {}, token)
    repeat = cfn.start_deploy(target, name, queue_template(), {}, token)  # as after a crash

    assert repeat.stack_id == first.stack_id
    # real CloudFormation records the token on events, so the repeat answers "CREATE"; moto does not,
    # and the repeat sees a stack that already runs the template
    assert repeat.action in ("CREATE", "NO_CHANGES")
    assert cfn.is_success(cfn.poll(target, repeat.stack_id, token).status, repeat.action)
    assert len(live_stacks_named(admin, name)) == 1
    assert stack_events(admin, first.stack_id) == ["CREATE_IN_PROGRESS", "CREATE_COMPLETE"]

    update_token = f"update-{unique}"
    update = cfn.start_deploy(target, name, queue_template(90), {}, update_token)
    update_repeat = cfn.start_deploy(target, name, queue_template(90), {}, update_token)
    assert update.action == "UPDATE" and update_repeat.action in ("UPDATE", "NO_CHANGES")
    assert stack_events(admin, first.stack_id).count("UPDATE_IN_PROGRESS") == 1


def test_unusual_request_tokens_are_accepted(target: Target, unique: str) -> None:
    token = f"job:{unique}/attempt_1 " + "x" * 200  # not CloudFormation's token alphabet, too long
    started = cfn.start_deploy(target, env_name(unique), queue_template(), {}, token)
    assert started.action == "CREATE"


TEMPLATE_ERRORS = {
    "missing-parameter": (
        {"Parameters": {"Size": {"Type": "String"}}, "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}},
        "Missing parameter Size",  # real CloudFormation: "Parameters: [Size] must have values"
    ),
    "bad-attribute": (
        {
            "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
            "Outputs": {"Nope": {"Value": {"Fn::GetAtt": ["Queue", "Bogus"]}}},
        },
        "Template error: resource Queue does not support attribute type Bogus in Fn::GetAtt",
    ),
}


@pytest.mark.parametrize("case", sorted(TEMPLATE_ERRORS))
def test_template_error_is_a_permanent_failure_with_aws_message(
    target: Target, admin: Any, unique: str, case: str
) -> None:
    name = env_name(unique)
    template, expected = TEMPLATE_ERRORS[case]

    with pytest.raises(ProvisionError) as caught:
        cfn.start_deploy(target, name, json.dumps(template), {}, f"deploy-{unique}")

    error = caught.value
    assert error.transient is False and error.code == "ValidationError"
    assert error.message == f"CreateStack {name} failed: ValidationError: {expected}"
    assert isinstance(error.outcome(), Failed) and error.outcome() == Failed(error.message)
    assert live_stacks_named(admin, name) == []


def test_outputs_with_empty_values_are_dropped(target: Target, unique: str) -> None:
    body = json.dumps(
        {
            "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
            "Outputs": {"Empty": {"Value": ""}, "Name": {"Value": {"Fn::GetAtt": ["Queue", "QueueName"]}}},
        }
    )
    _, result = deploy_and_poll(target, env_name(unique), body, f"deploy-{unique}")
    assert [o["key"] for o in result.outputs] == ["Name"]


def test_template_over_the_inline_limit_fails_before_calling_aws(
    target: Target, admin: Any, unique: str
) -> None:
    name = env_name(unique)
    body = json.dumps({"Description": "x" * cfn.MAX_TEMPLATE_BYTES, "Resources": {}})

    with pytest.raises(ProvisionError) as caught:
        cfn.start_deploy(target, name, body, {}, f"deploy-{unique}")

    assert caught.value.transient is False and "51200" in caught.value.message
    assert live_stacks_named(admin, name) == []


def test_resource_error_moto_leaves_the_stack_creating(
    target: Target, admin: Any, unique: str, moto_aws: str
) -> None:
    """moto fails the CreateStack call itself (an HTML 500 page) when a resource cannot be built, and leaves
    the stack in CREATE_IN_PROGRESS for ever; real CloudFormation would roll back with a resource event.
    This still exercises the provisioner's handling of a stack busy with an operation it did not start,
    and of a stack stuck while it is being created: deleting it stops the creation."""
    name = env_name(unique)
    bad = json.dumps(
        {"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": "x"}}}}
    )

    with pytest.raises(ProvisionError) as caught:  # not an AWS reply: permanent, naming the endpoint
        cfn.start_deploy(target, name, bad, {}, f"deploy-{unique}")
    assert caught.value.transient is False and caught.value.code == "NotAnAwsReply"
    assert caught.value.message.startswith(
        f"CreateStack {name} failed: the endpoint {moto_aws} answered with something that is not an AWS "
        "reply: Unable to parse response"
    )

    again = cfn.start_deploy(target, name, queue_template(), {}, f"deploy-{unique}")
    assert again.action == "WAIT" and again.status == "CREATE_IN_PROGRESS"
    result = cfn.poll(target, again.stack_id)
    assert result == cfn.StackResult("CREATE_IN_PROGRESS", [], [], None)
    assert not cfn.is_terminal(result.status)
    assert cfn.cancel(target, again.stack_id) is False
    assert cfn.stack_status(target, again.stack_id) == "CREATE_IN_PROGRESS"
    assert cfn.start_delete(target, again.stack_id, f"delete-{unique}") == "DELETE"
    assert cfn.deleted(target, again.stack_id) == (True, None)
    assert live_stacks_named(admin, name) == []


def test_delete_then_deleted_then_absent(target: Target, admin: Any, unique: str) -> None:
    name = env_name(unique)
    first, _ = deploy_and_poll(target, name, queue_template(), f"deploy-{unique}")
    queue_url = admin.describe_stack_resources(StackName=first.stack_id)["StackResources"][0][
        "PhysicalResourceId"
    ]

    assert cfn.start_delete(target, first.stack_id, f"delete-{unique}") == "DELETE"

    gone, failure = cfn.deleted(target, first.stack_id)
    assert gone is True and failure is None
    result = cfn.poll(target, first.stack_id)
    assert result.status == "DELETE_COMPLETE" and cfn.is_success(result.status, "DELETE")
    sqs = client(target, "sqs")
    assert queue_url not in sqs.list_queues().get("QueueUrls", [])
    # repeating the step, by id or by name, finds nothing to do
    assert cfn.start_delete(target, first.stack_id, f"delete-{unique}") == "ABSENT"
    assert cfn.start_delete(target, name, f"delete-{unique}") == "ABSENT"
    assert cfn.deleted(target, name) == (True, None)

    # the name is free again: the next deployment creates a new stack
    second = cfn.start_deploy(target, name, queue_template(), {}, f"again-{unique}")
    assert second.action == "CREATE" and second.stack_id != first.stack_id


def test_delete_of_an_absent_stack(target: Target, unique: str) -> None:
    name = env_name(unique)
    assert cfn.start_delete(target, name, f"delete-{unique}") == "ABSENT"
    missing_id = (
        f"arn:aws:cloudformation:{REGION}:{MOTO_ACCOUNT}:stack/{name}/00000000-0000-0000-0000-000000000000"
    )
    assert cfn.start_delete(target, missing_id, f"delete-{unique}") == "ABSENT"
    assert cfn.deleted(target, missing_id) == (True, None)


def test_poll_of_an_unknown_stack_is_a_permanent_error(target: Target, unique: str) -> None:
    with pytest.raises(ProvisionError) as caught:
        cfn.poll(target, env_name(unique))
    assert caught.value.transient is False


def test_cancel_when_no_update_runs(target: Target, unique: str) -> None:
    name = env_name(unique)
    assert cfn.cancel(target, name) is False  # no stack at all
    first, _ = deploy_and_poll(target, name, queue_template(), f"deploy-{unique}")
    assert cfn.cancel(target, first.stack_id) is False  # CREATE_COMPLETE


def test_assumed_role_decides_the_account(moto_aws: str, admin: Any, unique: str) -> None:
    environment_account = "222222222222"
    # moto lets any principal assume any role and gives the credentials the role's account: use that to
    # act as the environment account and create the role there in moto IAM
    admin_role = f"arn:aws:iam::{environment_account}:role/OrganizationAccountAccessRole"
    iam = as_role("iam", moto_aws, REGION, admin_role, "setup")
    principal = {"AWS": f"arn:aws:iam::{MOTO_ACCOUNT}:root"}
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}],
    }
    role_name = f"proton-service-{unique}"
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    assert role["Arn"] == f"arn:aws:iam::{environment_account}:role/{role_name}"
    target = Target(region=REGION, account_id=environment_account, role_arn=role["Arn"])

    identity = client(target, "sts").get_caller_identity()
    assert identity["Account"] == environment_account
    session_arn = f"arn:aws:sts::{environment_account}:assumed-role/{role_name}/baryon-"
    assert identity["Arn"].startswith(session_arn)
    assert client(target, "sts") is client(target, "sts")  # the assumed session is reused

    name = env_name(unique)
    started, result = deploy_and_poll(target, name, queue_template(), f"deploy-{unique}")
    assert started.stack_id.startswith(f"arn:aws:cloudformation:{REGION}:{environment_account}:stack/{name}/")
    assert result.status == "CREATE_COMPLETE"
    arn = {o["key"]: o["valueString"] for o in result.outputs}["QueueArn"]
    assert arn.startswith(f"arn:aws:sqs:{REGION}:{environment_account}:")
    assert live_stacks_named(admin, name) == []  # not in the default account
    assert cfn.start_delete(target, started.stack_id, f"delete-{unique}") == "DELETE"
    assert cfn.deleted(target, started.stack_id) == (True, None)


def test_first_step_updates_a_known_stack_directly(target: Target, admin: Any, unique: str) -> None:
    name = env_name(unique)
    first, _ = deploy_and_poll(target, name, queue_template(30), f"one-{unique}")

    second = cfn.start_deploy(
        target, name, queue_template(45, extra_output=True), {}, f"two-{unique}", fresh=True,
        known_stack_id=first.stack_id,
    )  # fmt: skip

    assert (second.action, second.stack_id) == ("UPDATE", first.stack_id)
    result = cfn.poll(target, second.stack_id, f"two-{unique}")
    assert result.status == "UPDATE_COMPLETE"
    assert {o["key"]: o["valueString"] for o in result.outputs}["Visibility"] == "45"


def test_a_known_stack_that_is_gone_falls_back_on_creating(target: Target, admin: Any, unique: str) -> None:
    name = env_name(unique)
    first, _ = deploy_and_poll(target, name, queue_template(30), f"one-{unique}")
    admin.delete_stack(StackName=first.stack_id)

    again = cfn.start_deploy(
        target, name, queue_template(30), {}, f"two-{unique}", fresh=True, known_stack_id=first.stack_id
    )

    assert again.action == "CREATE" and again.stack_id != first.stack_id
    assert [s["StackId"] for s in live_stacks_named(admin, name)] == [again.stack_id]
