"""`Dispatcher.invoke`: an operation run as an established identity takes the signed request's path after
identity (validation, handlers, transactions, idempotency, metrics, the request log line)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from prometheus_client import REGISTRY

from baryon.api.dispatch import Dispatcher
from baryon.protocol.errors import ResourceNotFoundException, ValidationException
from tests.conftest import ACCOUNT, OTHER_ACCOUNT

PRINCIPAL = f"arn:aws:iam::{ACCOUNT}:user/console"


def _count(operation: str, code: str) -> float:
    value = REGISTRY.get_sample_value("baryon_api_requests_total", {"operation": operation, "code": code})
    return value or 0.0


def test_invoke_writes_and_reads_as_the_identity(dispatcher: Dispatcher, proton: Any) -> None:
    before = _count("CreateEnvironmentTemplate", "200")
    created = dispatcher.invoke(
        ACCOUNT,
        "us-east-1",
        PRINCIPAL,
        "CreateEnvironmentTemplate",
        {"name": "from-console", "clientToken": "t1"},
    )
    assert created["environmentTemplate"]["name"] == "from-console"
    assert _count("CreateEnvironmentTemplate", "200") == before + 1
    # The same client token and input: the first answer (idempotency is the signed path's).
    again = dispatcher.invoke(
        ACCOUNT,
        "us-east-1",
        PRINCIPAL,
        "CreateEnvironmentTemplate",
        {"name": "from-console", "clientToken": "t1"},
    )
    assert again == created
    # A signed client of the same account sees it; the other account and another region do not.
    assert (
        proton.get_environment_template(name="from-console")["environmentTemplate"]["name"] == "from-console"
    )
    listed = dispatcher.invoke(ACCOUNT, "us-east-1", PRINCIPAL, "ListEnvironmentTemplates", {})
    assert [t["name"] for t in listed["templates"]] == ["from-console"]
    for account, region in ((OTHER_ACCOUNT, "us-east-1"), (ACCOUNT, "eu-west-1")):
        assert (
            dispatcher.invoke(account, region, PRINCIPAL, "ListEnvironmentTemplates", {})["templates"] == []
        )


def test_invoke_raises_the_service_error(dispatcher: Dispatcher, caplog: pytest.LogCaptureFixture) -> None:
    before = _count("GetEnvironment", "ResourceNotFoundException")
    with (
        caplog.at_level(logging.INFO, logger="baryon.api.requests"),
        pytest.raises(ResourceNotFoundException) as caught,
    ):
        dispatcher.invoke(ACCOUNT, "us-east-1", PRINCIPAL, "GetEnvironment", {"name": "nope"})
    assert caught.value.code == "ResourceNotFoundException"
    assert "nope" in caught.value.message
    assert _count("GetEnvironment", "ResourceNotFoundException") == before + 1
    (line,) = [r for r in caplog.records if r.name == "baryon.api.requests"]
    assert line.getMessage() == "GetEnvironment 400 ResourceNotFoundException"
    with pytest.raises(ValidationException) as invalid:
        dispatcher.invoke(ACCOUNT, "us-east-1", PRINCIPAL, "GetEnvironment", {"name": "bad name!"})
    assert "name" in invalid.value.message
    with pytest.raises(ValidationException):
        dispatcher.invoke(ACCOUNT, "us-east-1", PRINCIPAL, "GetEnvironment", {})
