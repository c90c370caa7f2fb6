"""Classification of AWS failures into transient (retry) and permanent (fail with a message), on
botocore's own exception objects and on real connection failures to a closed port."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError

from baryon.domain.outcomes import Failed, Retry
from baryon.engine import aws
from baryon.engine.provisioners import stacks as cfn
from baryon.engine.provisioners import targets
from baryon.engine.provisioners.errors import ProvisionError, from_boto
from baryon.engine.provisioners.targets import Target
from tests.conftest import free_port


def client_error(code: str, message: str, status: int, operation: str = "CreateStack") -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)


@pytest.mark.parametrize(
    "code,status",
    [
        ("Throttling", 400),
        ("ThrottlingException", 400),
        ("RequestLimitExceeded", 400),
        ("ServiceUnavailable", 503),
        ("InternalFailure", 500),
        ("SomethingNew", 502),
        ("ExpiredToken", 400),
    ],
)
def test_transient_client_errors(code: str, status: int) -> None:
    error = from_boto(client_error(code, "try later", status), "CreateStack AWSProton-dev-1")
    assert error.transient is True and error.code == code
    assert error.outcome() == Retry(f"CreateStack AWSProton-dev-1 failed: {code}: try later")


@pytest.mark.parametrize(
    "code,message,doing",
    [
        (
            "ValidationError",
            "Template format error: Unrecognized resource types: [AWS::Foo::Bar]",
            "CreateStack s",
        ),
        ("InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_IAM]", "CreateStack s"),
        (
            "AccessDenied",
            "User: arn:aws:iam::1:user/b is not authorized to perform: sts:AssumeRole",
            "Assuming role r",
        ),
        ("LimitExceededException", "Limit on the number of stacks exceeded", "CreateStack s"),
        ("TokenAlreadyExistsException", "Token already used", "UpdateStack s"),
        ("SomethingNew", "no idea", "CreateStack s"),
    ],
)
def test_permanent_client_errors(code: str, message: str, doing: str) -> None:
    error = from_boto(client_error(code, message, 400 if code != "AccessDenied" else 403), doing)
    assert error.transient is False and error.code == code
    assert error.message == f"{doing} failed: {code}: {message}"
    assert error.outcome() == Failed(error.message)


def test_a_stack_busy_with_another_operation_is_transient() -> None:
    stack = "arn:aws:cloudformation:us-east-1:1:stack/s/1"
    message = f"Stack:{stack} is in UPDATE_IN_PROGRESS state and can not be updated."
    assert from_boto(client_error("ValidationError", message, 400), "UpdateStack s").transient is True


def test_botocore_errors() -> None:
    assert from_boto(EndpointConnectionError(endpoint_url="http://x"), "CreateStack s").transient is True
    assert from_boto(ReadTimeoutError(endpoint_url="http://x"), "CreateStack s").transient is True
    assert from_boto(ResponseParserError("<html>502</html>"), "CreateStack s").transient is False
    assert from_boto(NoCredentialsError(), "CreateStack s").transient is False
    assert from_boto(ParamValidationError(report="bad"), "CreateStack s").transient is False
    multi_line = from_boto(ResponseParserError("line one\n  line two"), "CreateStack s", "http://cfn")
    assert multi_line.message == (
        "CreateStack s failed: the endpoint http://cfn answered with something that is not an AWS reply: "
        "line one line two"
    )
    page = from_boto(ResponseParserError("<html>" + "x" * 5000 + "</html>"), "CreateStack s")
    assert page.transient is False and len(page.message) < 650 and page.message.endswith("…")
    same = ProvisionError("x", transient=False)
    assert from_boto(same, "y") is same
    with pytest.raises(TypeError):
        from_boto(ValueError("not boto"), "CreateStack s")


@pytest.fixture
def dead_endpoint(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", endpoint)
    monkeypatch.setattr(aws, "_local", threading.local())
    monkeypatch.setattr(targets, "_local", threading.local())
    return endpoint


def test_unreachable_cloudformation_is_transient(dead_endpoint: str) -> None:
    target = Target(region="us-east-1", account_id="123456789012")
    with pytest.raises(ProvisionError) as caught:
        cfn.start_deploy(target, "AWSProton-dev-1a2b3c4d", "{}", {}, "token-1")
    assert caught.value.transient is True
    assert caught.value.message.startswith("DescribeStacks AWSProton-dev-1a2b3c4d failed: ")
    assert isinstance(caught.value.outcome(), Retry)


def test_assume_role_failures_name_the_role(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's STS lets anyone assume anything, so a refused AssumeRole (AccessDenied, permanent) cannot
    be produced; a role ARN botocore itself rejects goes through the same path."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto_endpoint)
    monkeypatch.setattr(aws, "_local", threading.local())
    monkeypatch.setattr(targets, "_local", threading.local())
    target = Target(region="us-east-1", account_id="222222222222", role_arn="arn:too-short")
    with pytest.raises(ProvisionError) as caught:
        cfn.poll(target, "AWSProton-dev-1a2b3c4d")
    assert caught.value.transient is False
    assert caught.value.message.startswith("Assuming role arn:too-short failed: Parameter validation failed")
