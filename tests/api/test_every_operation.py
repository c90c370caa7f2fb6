"""Every operation of botocore's Proton model is served.

For each of the model's operations, its valid request (built from the model, in a world where resources
of every kind exist) is signed like a real client and sent through the dispatcher: the answer is either a
success or an error the operation's model lists, checked against the model by `tests.support.contract`,
and never the dispatcher's refusal of an operation it does not serve."""

from __future__ import annotations

import json
from typing import Any

from baryon.api.dispatch import Dispatcher
from baryon.api.registry import load_all
from baryon.engine.worker import Worker
from baryon.protocol.sigv4 import Credential
from tests.api.test_fuzz import _jsonable, world
from tests.support.contract import response_problems
from tests.support.shapes import MODEL, example
from tests.support.signed import sign


def test_the_registry_serves_every_operation_of_the_model() -> None:
    assert sorted(load_all()) == sorted(MODEL.operation_names)


def test_every_operation_answers_its_valid_request(
    proton: Any, s3: Any, worker: Worker, dispatcher: Dispatcher, credential: Credential
) -> None:
    replacements = world(proton, s3)
    worker.stop()
    answered: dict[str, str] = {}
    problems: list[str] = []
    last = ("Delete", "Cancel", "Reject")  # after the others, which find the world's resources
    for operation in sorted(MODEL.operation_names, key=lambda name: (name.startswith(last), name)):
        shape = MODEL.operation_model(operation).input_shape
        params = _jsonable(example(shape), replacements) if shape is not None else {}
        body = json.dumps(params).encode()
        response = dispatcher.handle("POST", "/", "", sign(credential, operation, body), body)
        answer = json.loads(response.body)
        problems.extend(
            f"{operation}: {p}" for p in response_problems(operation, response.status, response.body)
        )
        if "not available" in str(answer.get("message", "")):
            problems.append(f"{operation}: {answer['message']}")
        answered[operation] = str(answer.get("__type", "ok")).split("#")[-1]
    assert problems == []
    assert set(answered) == set(MODEL.operation_names)
    # Requests that need no particular resource succeed outright.
    for read in (
        "GetAccountSettings",
        "GetResourcesSummary",
        "CreateEnvironmentTemplate",
        "GetEnvironmentTemplate",
    ):
        assert answered[read] == "ok", (read, answered[read])
