"""Account settings and the tag operations."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from baryon.api.registry import OPERATIONS

ROLE = "arn:aws:iam::111111111111:role/pipeline"


def test_account_settings_set_and_clear(proton: Any) -> None:
    assert proton.get_account_settings()["accountSettings"] == {}
    updated = proton.update_account_settings(pipelineServiceRoleArn=ROLE, pipelineCodebuildRoleArn=ROLE)
    assert updated["accountSettings"] == {"pipelineServiceRoleArn": ROLE, "pipelineCodebuildRoleArn": ROLE}
    cleared = proton.update_account_settings(pipelineServiceRoleArn="")
    assert cleared["accountSettings"] == {"pipelineCodebuildRoleArn": ROLE}
    assert proton.get_account_settings()["accountSettings"] == {"pipelineCodebuildRoleArn": ROLE}


def test_account_settings_repository_rules(proton: Any) -> None:
    repo = {"provider": "GITHUB", "name": "org/infra", "branch": "main"}
    with pytest.raises(ClientError) as caught:
        proton.update_account_settings(
            pipelineProvisioningRepository=repo, deletePipelineProvisioningRepository=True
        )
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as caught:
        proton.update_account_settings(pipelineProvisioningRepository=repo)
    assert caught.value.response["Error"]["Message"] == (
        "The repository github:org/infra is not linked to this account and region "
        "(arn:aws:proton:us-east-1:111111111111:repository/github:org/infra); "
        "link it with CreateRepository first."
    )
    assert proton.get_account_settings()["accountSettings"] == {}


def test_tag_untag_list(proton: Any) -> None:
    arn = proton.create_service_template(name="svc")["serviceTemplate"]["arn"]
    proton.tag_resource(resourceArn=arn, tags=[{"key": f"k{i:02d}", "value": str(i)} for i in range(5)])
    proton.tag_resource(resourceArn=arn, tags=[{"key": "k00", "value": "changed"}])
    page = proton.list_tags_for_resource(resourceArn=arn, maxResults=2)
    keys = [t["key"] for t in page["tags"]]
    while "nextToken" in page:
        page = proton.list_tags_for_resource(resourceArn=arn, maxResults=2, nextToken=page["nextToken"])
        keys += [t["key"] for t in page["tags"]]
    assert keys == [f"k{i:02d}" for i in range(5)]
    proton.untag_resource(resourceArn=arn, tagKeys=["k01", "k02", "absent"])
    tags = proton.list_tags_for_resource(resourceArn=arn)["tags"]
    assert tags == [
        {"key": "k00", "value": "changed"},
        {"key": "k03", "value": "3"},
        {"key": "k04", "value": "4"},
    ]


def test_tag_limits_and_unknown_resources(proton: Any) -> None:
    arn = proton.create_environment_template(name="env")["environmentTemplate"]["arn"]
    proton.tag_resource(resourceArn=arn, tags=[{"key": f"k{i}", "value": "v"} for i in range(50)])
    with pytest.raises(ClientError) as caught:
        proton.tag_resource(resourceArn=arn, tags=[{"key": "one-more", "value": "v"}])
    assert caught.value.response["Error"]["Message"] == "A resource can have at most 50 tags."
    missing = arn.replace("/env", "/nope")
    for call in (
        lambda: proton.tag_resource(resourceArn=missing, tags=[{"key": "a", "value": "b"}]),
        lambda: proton.list_tags_for_resource(resourceArn=missing),
        lambda: proton.untag_resource(resourceArn=missing, tagKeys=["a"]),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        assert caught.value.response["Error"] == {
            "Code": "ResourceNotFoundException",
            "Message": f"The requested resource does not exist: {missing}",
        }


def test_an_operation_of_a_newer_model_answers_clearly(proton: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """An operation a newer botocore model has and this server does not serve (here: one taken out of the
    registry) passes validation and is answered with a clear ValidationException, never a 500."""
    monkeypatch.delitem(OPERATIONS, "GetServiceSyncBlockerSummary")
    with pytest.raises(ClientError) as caught:
        proton.get_service_sync_blocker_summary(serviceName="api")
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert caught.value.response["Error"]["Message"] == (
        "The operation GetServiceSyncBlockerSummary is not available on this Baryon server yet."
    )
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
