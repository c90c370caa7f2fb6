"""Accounts and regions never see each other's resources."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.clients import in_process_client


def test_other_account_sees_nothing(proton: Any, other_account_proton: Any) -> None:
    arn = proton.create_environment_template(name="mine")["environmentTemplate"]["arn"]
    assert other_account_proton.list_environment_templates()["templates"] == []
    with pytest.raises(ClientError) as caught:
        other_account_proton.get_environment_template(name="mine")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as caught:
        other_account_proton.tag_resource(resourceArn=arn, tags=[{"key": "k", "value": "v"}])
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    other_account_proton.create_environment_template(name="mine", description="theirs")
    assert proton.get_environment_template(name="mine")["environmentTemplate"].get("description") is None


def test_other_region_sees_nothing(proton: Any, dispatcher: Any, credential: Any) -> None:
    proton.create_environment_template(name="east")
    west = in_process_client(dispatcher, credential, region="us-west-2")
    assert west.list_environment_templates()["templates"] == []
    created = west.create_environment_template(name="east")["environmentTemplate"]
    assert created["arn"].startswith("arn:aws:proton:us-west-2:")
    settings = west.update_account_settings(pipelineServiceRoleArn="arn:aws:iam::111111111111:role/p")
    assert settings["accountSettings"]["pipelineServiceRoleArn"].endswith("role/p")
    assert proton.get_account_settings()["accountSettings"] == {}
