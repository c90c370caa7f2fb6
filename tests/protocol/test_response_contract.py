"""The response contract check that every test client runs: it refuses each kind of body the model does not
allow, naming the member, and it fails a real client's call when the server answers such a body."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from baryon.api.registry import OPERATIONS, Operation
from tests.support.awscli_contract import config_env
from tests.support.contract import ContractViolation, check_response, response_problems

TEMPLATE = {
    "arn": "arn:aws:proton:us-east-1:111111111111:environment-template/web",
    "name": "web",
    "createdAt": 1764158400.25,
    "lastModifiedAt": 1764158400,
}


INSTANCE_STATE = {
    "spec": "s",
    "templateName": "api",
    "templateMajorVersion": "1",
    "templateMinorVersion": "0",
}


def problems(operation: str, body: Any, status: int = 200) -> list[str]:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return list(response_problems(operation, status, raw))


def template(**changes: Any) -> dict[str, Any]:
    value = {**TEMPLATE, **changes}
    return {"environmentTemplate": {k: v for k, v in value.items() if v is not ...}}


def test_a_valid_body_passes() -> None:
    assert problems("GetEnvironmentTemplate", template(description="", provisioning="CUSTOMER_MANAGED")) == []
    check_response("GetEnvironmentTemplate", 200, orjson.dumps(template()))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (template(inputs={}), "$.environmentTemplate.inputs: EnvironmentTemplate has no member 'inputs'"),
        (
            template(createdAt=...),
            "$.environmentTemplate.createdAt: required by EnvironmentTemplate, missing",
        ),
        (
            template(createdAt="2026-11-26T12:00:00Z"),
            "$.environmentTemplate.createdAt: expected epoch seconds, a number (Timestamp), "
            "got the string '2026-11-26T12:00:00Z'",
        ),
        (
            template(createdAt=True),
            "$.environmentTemplate.createdAt: expected epoch seconds, a number (Timestamp), "
            "got the boolean True",
        ),
        (
            template(name=7),
            "$.environmentTemplate.name: expected a string (ResourceName), got the number 7",
        ),
        (
            template(displayName=None),
            "$.environmentTemplate.displayName: null is not a string (DisplayName); "
            "leave the member out instead",
        ),
        (
            template(provisioning="SELF"),
            "$.environmentTemplate.provisioning: "
            "'SELF' is not one of Provisioning's values ['CUSTOMER_MANAGED']",
        ),
        (
            template(displayName=""),
            "$.environmentTemplate.displayName: 0 characters, DisplayName needs at least 1",
        ),
        (
            template(description="d" * 501),
            "$.environmentTemplate.description: 501 characters, Description allows at most 500",
        ),
        (
            template(name="-web"),
            "$.environmentTemplate.name: "
            "'-web' does not match ResourceName's pattern ^[0-9A-Za-z]+[0-9A-Za-z_\\-]*$",
        ),
        ({}, "$.environmentTemplate: required by GetEnvironmentTemplateOutput, missing"),
        (
            {"environmentTemplate": []},
            "$.environmentTemplate: expected an object (EnvironmentTemplate), got a list",
        ),
    ],
)
def test_each_violation_is_named_with_its_path(body: dict[str, Any], expected: str) -> None:
    assert problems("GetEnvironmentTemplate", body) == [expected]
    with pytest.raises(ContractViolation) as raised:
        check_response("GetEnvironmentTemplate", 200, orjson.dumps(body))
    assert str(raised.value) == f"GetEnvironmentTemplate answered (HTTP 200) outside the model:\n  {expected}"


def test_lists_integers_and_nested_items() -> None:
    tags = [{"key": f"k{i}", "value": "v"} for i in range(51)]
    assert problems("ListTagsForResource", {"tags": tags}) == ["$.tags: 51 items, TagList allows at most 50"]
    assert problems("ListTagsForResource", {"tags": {"key": "k"}}) == [
        "$.tags: expected a list (TagList), got an object"
    ]
    assert problems(
        "ListTagsForResource", {"tags": [{"key": "k", "value": "v"}, {"key": "", "value": 1}]}
    ) == [
        "$.tags[1].key: 0 characters, TagKey needs at least 1",
        "$.tags[1].value: expected a string (TagValue), got the number 1",
    ]
    counts = {"total": 1, "failed": 0, "upToDate": 1, "behindMajor": 0, "behindMinor": 0}
    assert problems("GetResourcesSummary", {"counts": {"environments": {**counts, "total": 1.5}}}) == [
        "$.counts.environments.total: expected an integer (Integer), got the number 1.5"
    ]
    assert problems("GetResourcesSummary", {"counts": {"environments": {**counts, "failed": False}}}) == [
        "$.counts.environments.failed: expected an integer (Integer), got the boolean False"
    ]


def test_a_union_needs_exactly_one_member() -> None:
    deployment = {
        "id": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "arn": "arn:aws:proton:us-east-1:111111111111:deployment/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        "targetArn": "arn:aws:proton:us-east-1:111111111111:environment/dev",
        "targetResourceType": "ENVIRONMENT",
        "targetResourceCreatedAt": 1.0,
        "environmentName": "dev",
        "deploymentStatus": "SUCCEEDED",
        "createdAt": 1.0,
        "lastModifiedAt": 2.0,
        "targetState": {},
        "initialState": {"serviceInstance": {**INSTANCE_STATE, "inputs": "{}"}},
    }
    assert problems("GetDeployment", {"deployment": deployment}) == [
        "$.deployment.initialState.serviceInstance.inputs: ServiceInstanceState has no member 'inputs'",
        "$.deployment.targetState: DeploymentState is a union and needs exactly one member, has []",
    ]


def test_an_operation_without_members_answers_an_empty_object() -> None:
    assert problems("DeleteEnvironmentAccountConnection", {}) == []
    assert problems("TagResource", {"tagged": True}) == ["$.tagged: TagResourceOutput has no member 'tagged'"]


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, b"<html>oops</html>", ["$: the body is not JSON: b'<html>oops</html>'"]),
        (200, b"[]", ["$: the body is a list, not a JSON object"]),
        (
            409,
            {"__type": "com.amazonaws.proton.v20200720#ConflictException", "message": "busy"},
            [
                "$.__type: ConflictException is not an error GetEnvironmentTemplate lists ("
                "AccessDeniedException, InternalServerException, ResourceNotFoundException, "
                "ThrottlingException, ValidationException)"
            ],
        ),
        (
            400,
            {"__type": "com.amazonaws.proton.v20200720#ValidationException", "Message": "bad"},
            [
                "$: an error body has members outside __type and message: ['Message']",
                "$.message: an error body needs a string message, not null",
            ],
        ),
        (
            500,
            {"__type": "com.amazonaws.proton.v20200720#ValidationException", "message": "bad"},
            ["$.__type: ValidationException is answered with HTTP 500, the model says 400"],
        ),
        (
            400,
            {"__type": "com.amazonaws.proton.v20200720#InternalServerException", "message": "bad"},
            ["$.__type: InternalServerException is answered with HTTP 400, the model says 500"],
        ),
        (
            400,
            {"__type": "com.amazon.coral.service#SerializationException", "message": "bad"},
            [
                "$.__type: SerializationException is no front-door error (ExpiredTokenException, "
                "IncompleteSignatureException, InvalidSignatureException, "
                "MissingAuthenticationTokenException, UnknownOperationException, UnrecognizedClientException)"
            ],
        ),
        (
            400,
            {"__type": "ValidationException", "message": "bad"},
            [
                "$.__type: 'ValidationException' is in neither 'com.amazonaws.proton.v20200720#' nor "
                "'com.amazon.coral.service#'"
            ],
        ),
        (400, {"message": "bad"}, ["$.__type: an error body needs a string __type, not null"]),
    ],
)
def test_error_bodies(status: int, body: Any, expected: list[str]) -> None:
    assert problems("GetEnvironmentTemplate", body, status) == expected


def test_valid_error_bodies_pass() -> None:
    for status, kind in (
        (400, "com.amazonaws.proton.v20200720#ResourceNotFoundException"),
        (500, "com.amazonaws.proton.v20200720#InternalServerException"),
        (403, "com.amazon.coral.service#UnrecognizedClientException"),
    ):
        assert problems("GetEnvironmentTemplate", {"__type": kind, "message": "m"}, status) == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_test_client_fails_on_a_body_outside_the_model(
    proton: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hook is on the `proton` fixture's client: a handler that answers a member the model lacks fails the
    call with the path of that member, although botocore alone would have dropped it silently."""

    def answer(*_: Any) -> dict[str, Any]:
        return {"templates": [{**TEMPLATE, "inputs": "{}"}]}

    monkeypatch.setitem(
        OPERATIONS, "ListEnvironmentTemplates", Operation("ListEnvironmentTemplates", answer, False)
    )
    with pytest.raises(ContractViolation) as raised:
        proton.list_environment_templates()
    assert str(raised.value) == (
        "ListEnvironmentTemplates answered (HTTP 200) outside the model:\n"
        "  $.templates[0].inputs: EnvironmentTemplateSummary has no member 'inputs'"
    )


class _Answer(BaseHTTPRequestHandler):
    body = b"{}"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.mark.parametrize(
    ("body", "status", "stderr"),
    [
        (orjson.dumps({"templates": [TEMPLATE]}), 0, ""),
        (
            orjson.dumps({"templates": [{**TEMPLATE, "createdAt": "2026-11-26"}]}),
            255,
            "ListEnvironmentTemplates answered (HTTP 200) outside the model:\n"
            "  $.templates[0].createdAt: expected epoch seconds, a number (Timestamp), "
            "got the string '2026-11-26'",
        ),
    ],
)
def test_the_aws_cli_of_the_end_to_end_tests_checks_responses_too(
    tmp_path: Path, body: bytes, status: int, stderr: str
) -> None:
    """`aws` processes run with `config_env` load the check as a CLI plugin: a body outside the model fails
    the command with the member's path, where the CLI alone would print the date it parsed."""
    handler = type("Answer", (_Answer,), {"body": body})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ACCESS_KEY_ID="a", AWS_SECRET_ACCESS_KEY="s", AWS_DEFAULT_REGION="us-east-1")
        env.update(config_env(tmp_path))
        result = subprocess.run(
            [
                shutil.which("aws") or "aws",
                "proton",
                "list-environment-templates",
                "--endpoint-url",
                f"http://127.0.0.1:{server.server_port}",
                "--output",
                "json",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        server.shutdown()
        thread.join(10)
    assert result.returncode == status, result.stderr
    assert result.stderr.strip() == stderr
