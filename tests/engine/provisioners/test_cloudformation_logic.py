"""The CloudFormation provisioner's pure parts: stack names, tags, tokens, status classes, the deploy
decision, and reading a failure out of stack events.

The event sequences are shaped like DescribeStackEvents answers of real CloudFormation (newest first,
ClientRequestToken on every event of an operation, a stack-level event opening each operation): moto
records no resource events, no failure reasons and no tokens, and never reaches the rollback, failed
or cancelled states, so these paths are checked on data here.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import botocore.session
import pytest

from baryon.engine.provisioners import stacks as cfn

STATUSES: list[str] = (
    botocore.session.get_session().get_service_model("cloudformation").shape_for("StackStatus").enum
)
NAME = re.compile(r"[A-Za-z][-A-Za-z0-9]*")
SCOPE = {"account_id": "111111111111", "region": "us-east-1"}


# ------------------------------------------------------------------------------------------ stack_name


def test_stack_name_examples() -> None:
    env = cfn.stack_name("environment", "dev", **SCOPE)
    instance = cfn.stack_name("service-instance", "api", "api-prod", **SCOPE)
    pipeline = cfn.stack_name("service-pipeline", "api", **SCOPE)
    component = cfn.stack_name("component", "cache", **SCOPE)
    assert re.fullmatch(r"AWSProton-dev-[0-9a-f]{8}", env)
    assert re.fullmatch(r"AWSProton-api-api-prod-[0-9a-f]{8}", instance)
    assert re.fullmatch(r"AWSProton-api-pipeline-[0-9a-f]{8}", pipeline)
    assert re.fullmatch(r"AWSProton-cache-component-[0-9a-f]{8}", component)


def test_stack_name_is_deterministic_and_scoped() -> None:
    name = cfn.stack_name("environment", "dev", **SCOPE)
    assert name == cfn.stack_name("environment", "dev", **SCOPE)
    others = {
        cfn.stack_name("environment", "dev", account_id="222222222222", region="us-east-1"),
        cfn.stack_name("environment", "dev", account_id="111111111111", region="eu-west-1"),
        cfn.stack_name("component", "dev", **SCOPE),
        cfn.stack_name("service-pipeline", "dev", **SCOPE),
    }
    assert name not in others and len(others) == 4
    # the split between service and instance names is part of the identity
    assert cfn.stack_name("service-instance", "a-b", "c", **SCOPE) != cfn.stack_name(
        "service-instance", "a", "b-c", **SCOPE
    )


@pytest.mark.parametrize("kind,count", [("environment", 1), ("service-instance", 2), ("service-pipeline", 1)])
def test_long_names_with_shared_prefixes_stay_valid_and_distinct(kind: str, count: int) -> None:
    prefix = "a" * 99
    names = set()
    for last in "0123456789":
        parts = [prefix + last] * count
        name = cfn.stack_name(kind, *parts, **SCOPE)
        assert len(name) <= 128 and NAME.fullmatch(name) and name.startswith("AWSProton-")
        names.add(name)
    assert len(names) == 10


def test_stack_name_sanitises_characters() -> None:
    name = cfn.stack_name("service-instance", "my_service", "_x_", **SCOPE)
    assert NAME.fullmatch(name) and name.startswith("AWSProton-my-service-x-")
    assert NAME.fullmatch(cfn.stack_name("environment", "___", **SCOPE))


def test_stack_name_rejects_unknown_kinds_and_empty_names() -> None:
    with pytest.raises(ValueError):
        cfn.stack_name("bucket", "x", **SCOPE)
    with pytest.raises(ValueError):
        cfn.stack_name("environment", "", **SCOPE)
    with pytest.raises(ValueError):
        cfn.stack_name("environment", **SCOPE)


# --------------------------------------------------------------------------------------- tags, tokens


def test_stack_tags_keep_only_managed_tags_without_the_aws_prefix() -> None:
    tags = {
        "aws:proton:account": "111111111111",
        "aws:proton:template": "arn:aws:proton:us-east-1:111111111111:environment-template/t",
        "aws:cloudformation:stack-name": "x",
        "owner": "team-a",
    }
    assert cfn.stack_tags(tags) == {
        "proton:account": "111111111111",
        "proton:template": "arn:aws:proton:us-east-1:111111111111:environment-template/t",
    }


def test_cfn_token() -> None:
    assert cfn.cfn_token("deploy-42") == "deploy-42"
    assert cfn.cfn_token("deploy-42", "recreate") == "deploy-42-recreate"
    odd = cfn.cfn_token("job:42/attempt_1")
    assert odd == cfn.cfn_token("job:42/attempt_1") and odd.startswith("baryon-")
    for token in (odd, cfn.cfn_token("x" * 128, "recreate"), cfn.cfn_token("-leading")):
        assert re.fullmatch(r"[a-zA-Z0-9][-a-zA-Z0-9]*", token) and len(token) <= 128
    assert cfn.cfn_token("x" * 128, "recreate") != cfn.cfn_token("x" * 128)


# -------------------------------------------------------------------------------------------- statuses


def test_terminal_statuses() -> None:
    running = {s for s in STATUSES if not cfn.is_terminal(s)}
    assert running == {s for s in STATUSES if s.endswith("_IN_PROGRESS")}
    assert "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS" in running and "REVIEW_IN_PROGRESS" in running
    # every status is classified for a deploy: settled, recreate, blocked, running or failed
    for status in STATUSES:
        assert (
            status in cfn.SETTLED | cfn.RECREATE | cfn.BLOCKED | cfn.FAILURES
            or not cfn.is_terminal(status)
            or status == "DELETE_COMPLETE"
        ), status


def test_success_per_operation() -> None:
    successes = {
        op: {s for s in STATUSES if cfn.is_success(s, op)}
        for op in ("CREATE", "UPDATE", "NO_CHANGES", "DELETE")
    }
    assert successes["CREATE"] == {"CREATE_COMPLETE"}
    assert successes["UPDATE"] == {"UPDATE_COMPLETE"}
    assert successes["DELETE"] == {"DELETE_COMPLETE"}
    assert successes["NO_CHANGES"] == {
        "CREATE_COMPLETE",
        "UPDATE_COMPLETE",
        "UPDATE_ROLLBACK_COMPLETE",
        "IMPORT_COMPLETE",
        "IMPORT_ROLLBACK_COMPLETE",
    }
    # a cancelled or failed update ends in UPDATE_ROLLBACK_COMPLETE: not a success of the update
    assert not cfn.is_success("UPDATE_ROLLBACK_COMPLETE", "UPDATE")
    assert not cfn.is_success("ROLLBACK_COMPLETE", "CREATE")
    with pytest.raises(ValueError):
        cfn.is_success("CREATE_COMPLETE", "WAIT")


# --------------------------------------------------------------------------------------------- planning


@pytest.mark.parametrize(
    "status,ours,unchanged,plan",
    [
        (None, None, False, "CREATE"),
        ("DELETE_COMPLETE", None, False, "CREATE"),
        # a repeated step finds the operation its token started, whatever state it reached
        ("CREATE_IN_PROGRESS", "CREATE", False, "CREATE"),
        ("ROLLBACK_COMPLETE", "CREATE", False, "CREATE"),
        ("UPDATE_ROLLBACK_COMPLETE", "UPDATE", False, "UPDATE"),
        ("UPDATE_COMPLETE", "UPDATE", True, "UPDATE"),
        # stacks that can only be deleted are deleted, then created again
        ("ROLLBACK_COMPLETE", None, False, "RECREATE"),
        ("ROLLBACK_FAILED", None, False, "RECREATE"),
        ("CREATE_FAILED", None, False, "RECREATE"),
        ("REVIEW_IN_PROGRESS", None, False, "RECREATE"),
        ("DELETE_FAILED", None, False, "BLOCKED"),
        ("UPDATE_ROLLBACK_FAILED", None, False, "BLOCKED"),
        ("CREATE_IN_PROGRESS", None, False, "WAIT"),
        ("UPDATE_ROLLBACK_IN_PROGRESS", None, False, "WAIT"),
        ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", None, False, "WAIT"),
        ("DELETE_IN_PROGRESS", None, False, "WAIT"),
        ("CREATE_COMPLETE", None, True, "NO_CHANGES"),
        ("UPDATE_ROLLBACK_COMPLETE", None, True, "NO_CHANGES"),
        ("CREATE_COMPLETE", None, False, "UPDATE"),
        ("UPDATE_ROLLBACK_COMPLETE", None, False, "UPDATE"),
        ("UPDATE_FAILED", None, True, "UPDATE"),
    ],
)
def test_plan_deploy(status: str | None, ours: Any, unchanged: bool, plan: str) -> None:
    assert cfn.plan_deploy(status, ours=ours, unchanged=unchanged) == plan


def test_plan_deploy_covers_every_status() -> None:
    actions: tuple[cfn.DeployAction | None, ...] = (None, "CREATE", "UPDATE")
    for status, ours, unchanged in itertools.product(STATUSES, actions, (False, True)):
        assert cfn.plan_deploy(status, ours=ours, unchanged=unchanged) in {
            "CREATE",
            "UPDATE",
            "NO_CHANGES",
            "WAIT",
            "RECREATE",
            "BLOCKED",
        }


# ------------------------------------------------------------------------------------- failure reasons

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/AWSProton-dev-1a2b3c4d/1"
_ids = itertools.count()


def event(
    logical: str, status: str, reason: str | None = None, token: str | None = None, kind: str | None = None
) -> dict[str, Any]:
    stack_level = logical == "AWSProton-dev-1a2b3c4d"
    result: dict[str, Any] = {
        "StackId": STACK_ID,
        "EventId": str(next(_ids)),
        "StackName": "AWSProton-dev-1a2b3c4d",
        "LogicalResourceId": logical,
        "PhysicalResourceId": STACK_ID if stack_level else f"{logical.lower()}-physical",
        "ResourceType": cfn.STACK_TYPE if stack_level else (kind or f"AWS::Test::{logical}"),
        "ResourceStatus": status,
    }
    if reason is not None:
        result["ResourceStatusReason"] = reason
    if token is not None:
        result["ClientRequestToken"] = token
    return result


S = "AWSProton-dev-1a2b3c4d"


def failed_create(token: str | None) -> list[dict[str, Any]]:
    """A create whose bucket failed, newest first."""
    return [
        event(S, "ROLLBACK_COMPLETE", token=token),
        event("Queue", "DELETE_COMPLETE", token=token),
        event(S, "ROLLBACK_IN_PROGRESS", "The following resource(s) failed to create: [Bucket].", token),
        event("Queue", "CREATE_FAILED", "Resource creation cancelled", token),
        event("Bucket", "CREATE_FAILED", "my-bucket already exists", token, "AWS::S3::Bucket"),
        event("Bucket", "CREATE_IN_PROGRESS", token=token),
        event("Queue", "CREATE_IN_PROGRESS", token=token),
        event(S, "CREATE_IN_PROGRESS", "User Initiated", token),
    ]


def test_failure_reason_is_the_first_failed_resource_not_the_cancelled_ones() -> None:
    opening, events = cfn.select_operation(failed_create(None))
    assert opening is not None and opening["ResourceStatus"] == "CREATE_IN_PROGRESS"
    assert events[0] is opening and events[-1]["ResourceStatus"] == "ROLLBACK_COMPLETE"
    stack = {"StackId": STACK_ID, "StackName": S, "StackStatus": "ROLLBACK_COMPLETE"}
    assert cfn.explain_failure(stack, events) == "Bucket (AWS::S3::Bucket): my-bucket already exists"


def test_only_the_latest_operation_explains_without_tokens() -> None:
    # an update that failed only at the stack level, after the failed create (older) above
    newer = [
        event(S, "UPDATE_ROLLBACK_COMPLETE"),
        event(S, "UPDATE_ROLLBACK_IN_PROGRESS", "Stack update cancelled"),
        event(S, "UPDATE_IN_PROGRESS", "User Initiated"),
    ]
    opening, events = cfn.select_operation(newer + failed_create(None))
    assert opening is not None and opening["ResourceStatus"] == "UPDATE_IN_PROGRESS" and len(events) == 3
    stack = {"StackId": STACK_ID, "StackName": S, "StackStatus": "UPDATE_ROLLBACK_COMPLETE"}
    assert cfn.explain_failure(stack, events) == f"Stack {S} is UPDATE_ROLLBACK_COMPLETE"
    stack["StackStatusReason"] = "User initiated cancellation."
    assert cfn.explain_failure(stack, events) == "User initiated cancellation."


def test_the_token_selects_its_operation() -> None:
    newer = [
        event(S, "UPDATE_COMPLETE", token="later"),
        event("Queue", "UPDATE_COMPLETE", token="later"),
        event(S, "UPDATE_IN_PROGRESS", "User Initiated", "later"),
    ]
    mine = failed_create("mine")
    history = newer + mine
    opening, events = cfn.select_operation(history, "mine")
    assert opening is mine[-1]
    assert events == mine[::-1]
    stack = {"StackId": STACK_ID, "StackName": S, "StackStatus": "UPDATE_COMPLETE"}
    assert cfn.explain_failure(stack, events).startswith("Bucket (AWS::S3::Bucket)")
    # without the token, or with one that matches nothing: the latest operation
    assert cfn.select_operation(history)[0] == newer[-1]
    assert cfn.select_operation(history, "unknown")[0] == newer[-1]
    assert len(cfn.select_operation(history, "unknown")[1]) == 3


BUCKET = "AWS::S3::Bucket"


def test_delete_failed_and_hook_failures() -> None:
    deleting = [
        event(S, "DELETE_FAILED", "The following resource(s) failed to delete: [Bucket]."),
        event(
            "Bucket", "DELETE_FAILED", "The bucket you tried to delete is not empty", kind="AWS::S3::Bucket"
        ),
        event("Bucket", "DELETE_IN_PROGRESS"),
        event(S, "DELETE_IN_PROGRESS", "User Initiated"),
    ]
    stack = {"StackId": STACK_ID, "StackName": S, "StackStatus": "DELETE_FAILED"}
    reason = cfn.explain_failure(stack, cfn.select_operation(deleting)[1])
    assert reason == "Bucket (AWS::S3::Bucket): The bucket you tried to delete is not empty"

    hooked = event("Queue", "CREATE_IN_PROGRESS", kind="AWS::SQS::Queue")
    hooked.update(HookStatus="HOOK_COMPLETE_FAILED", HookStatusReason="Hook denied: queues must be encrypted")
    creating = [event(S, "ROLLBACK_COMPLETE"), hooked, event(S, "CREATE_IN_PROGRESS", "User Initiated")]
    reason = cfn.explain_failure(stack, cfn.select_operation(creating)[1])
    assert reason == "Queue (AWS::SQS::Queue): Hook denied: queues must be encrypted"


def test_select_operation_without_an_opening_event() -> None:
    events = [event("Queue", "UPDATE_FAILED", "Throttled", kind="AWS::SQS::Queue")]
    opening, selected = cfn.select_operation(events)
    assert opening is None and selected == events


# ------------------------------------------------------------------------------------------ new_events


def _story_event(event_id: str, at: float, status: str, token: str | None) -> dict[str, Any]:
    from datetime import UTC, datetime

    event: dict[str, Any] = {
        "EventId": event_id,
        "StackId": "arn:stack/s/1",
        "LogicalResourceId": "Queue",
        "ResourceType": "AWS::SQS::Queue",
        "ResourceStatus": status,
        "Timestamp": datetime.fromtimestamp(at, UTC),
    }
    if token is not None:
        event["ClientRequestToken"] = token
    if status.endswith("FAILED"):
        event["ResourceStatusReason"] = "queue name taken"
    return event


def _new_events(monkeypatch: pytest.MonkeyPatch, events: list[dict[str, Any]], **kwargs: Any) -> list[str]:
    monkeypatch.setattr(cfn, "client", lambda target, service: None)
    monkeypatch.setattr(cfn, "_events", lambda target, cf, stack_id: iter(events))
    target = cfn.Target(region="us-east-1", account_id="111111111111", role_arn=None)
    found = cfn.new_events(target, "arn:stack/s/1", "dep-1", kwargs.get("since", 100.0), kwargs.get("last"))
    return [f"{event.event_id} {event.at:.0f} {event.text}" for event in found]


def test_new_events_keep_the_deployments_own_by_token_oldest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    newest_first = [
        _story_event("e5", 105, "DELETE_COMPLETE", "dep-1-cancel"),
        _story_event("e4", 104, "CREATE_FAILED", "dep-1"),
        _story_event("x3", 103, "UPDATE_COMPLETE", "someone-else"),
        _story_event("e2", 102, "CREATE_IN_PROGRESS", "dep-1"),
        _story_event("o1", 90, "CREATE_COMPLETE", "dep-0"),
        _story_event("o0", 89, "CREATE_IN_PROGRESS", "dep-0"),
    ]
    assert _new_events(monkeypatch, newest_first) == [
        "e2 102 Queue AWS::SQS::Queue CREATE_IN_PROGRESS",
        "e4 104 Queue AWS::SQS::Queue CREATE_FAILED: queue name taken",
        "e5 105 Queue AWS::SQS::Queue DELETE_COMPLETE",
    ]
    # A later step copies only what came after the last event it copied.
    assert _new_events(monkeypatch, newest_first, last="e4") == [
        "e5 105 Queue AWS::SQS::Queue DELETE_COMPLETE"
    ]
    assert _new_events(monkeypatch, newest_first, last="e5") == []


def test_new_events_without_tokens_are_those_since_the_deployment_began(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    newest_first = [
        _story_event("e2", 101, "CREATE_COMPLETE", None),
        _story_event("e1", 100, "CREATE_IN_PROGRESS", None),
        _story_event("o1", 99, "UPDATE_COMPLETE", None),
    ]
    assert _new_events(monkeypatch, newest_first) == [
        "e1 100 Queue AWS::SQS::Queue CREATE_IN_PROGRESS",
        "e2 101 Queue AWS::SQS::Queue CREATE_COMPLETE",
    ]
