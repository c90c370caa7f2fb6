"""The codec against botocore's own serializer and parser, for every operation of the model."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from baryon.api.dispatch import Dispatcher, error_response
from baryon.protocol.errors import ConflictException, UnrecognizedClientException
from tests.support.shapes import MODEL, example

OPERATIONS = sorted(MODEL.operation_names)


def _to_wire(value: Any) -> Any:
    """What a Baryon handler returns for a Python value (timestamps are epoch seconds)."""
    if isinstance(value, dict):
        return {k: _to_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_wire(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return value


def test_model_has_all_87_operations() -> None:
    assert len(OPERATIONS) == 87


@pytest.mark.parametrize("name", OPERATIONS)
def test_input_round_trip(name: str) -> None:
    operation = MODEL.operation_model(name)
    params = example(operation.input_shape) if operation.input_shape else {}
    request = create_serializer("json").serialize_to_request(params, operation)
    assert request["headers"]["X-Amz-Target"] == f"AwsProton20200720.{name}"
    assert request["headers"]["Content-Type"] == "application/x-amz-json-1.0"
    decoded = Dispatcher._decode(request["body"])
    assert decoded == _to_wire(params)


@pytest.mark.parametrize("name", OPERATIONS)
def test_output_round_trip(name: str) -> None:
    operation = MODEL.operation_model(name)
    if operation.output_shape is None:
        return
    value = example(operation.output_shape)
    body = orjson.dumps(_to_wire(value))
    parsed = create_parser("json").parse(
        {"status_code": 200, "headers": {"x-amzn-requestid": "r"}, "body": body}, operation.output_shape
    )
    parsed.pop("ResponseMetadata")
    assert parsed == value


@pytest.mark.parametrize("error", [ConflictException("busy"), UnrecognizedClientException("bad key")])
def test_error_bodies_parse_as_botocore_errors(error: Any) -> None:
    response = error_response(error, "req-1")
    operation = MODEL.operation_model("CreateEnvironmentTemplate")
    parsed = create_parser("json").parse(
        {"status_code": response.status, "headers": dict(response.headers), "body": response.body},
        operation.output_shape,
    )
    assert parsed["Error"] == {"Code": error.code, "Message": error.message}
    assert parsed["ResponseMetadata"]["RequestId"] == "req-1"
    assert response.status == 400
