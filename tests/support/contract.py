"""The wire contract as code: every raw response body a test client receives, checked against the model.

`check_response` validates one raw HTTP response of a Proton operation against botocore's `proton` model,
before botocore parses it (botocore's parser is lenient: it drops unknown members, accepts ISO strings as
timestamps and never checks constraints, so a test that only looks at parsed values would miss all of
these):

- a 2xx body is a JSON object matching the operation's output shape: no member the model lacks, every
  required member present and not null, each value of its shape's type (string, integer/long, boolean,
  list, map, structure, timestamp as epoch seconds — a JSON number, never a string), enums, patterns,
  min/max lengths and list sizes, integer ranges, exactly one member of a tagged union;
- an error body is an AWS JSON 1.0 error: an object of exactly `__type` and `message` (a string), whose
  `__type` names, in the Proton namespace, an error the operation's model lists (with that error's HTTP
  status), or, in the front door's namespace, one of the errors every AWS JSON service answers.

`install` registers the check on a boto3 client's `before-parse` event, so that a violation fails the
call — and the test — with the operation and the path of the offending member. Every Proton client the
tests build goes through `tests.support.clients`, which installs it.

Invariant: the check reads only the model and the raw bytes; it never changes what botocore parses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import orjson

from baryon.contract.model import ERROR_NAMESPACE, operation_model
from baryon.protocol.errors import FRONT_DOOR_ERRORS, InternalServerException

#: The namespace of errors that no service model lists (authentication, routing).
FRONT_DOOR_NAMESPACE = "com.amazon.coral.service#"
#: Errors any operation may answer although its model does not list them.
ANY_OPERATION_ERRORS = frozenset({InternalServerException.code})


class ContractViolation(AssertionError):
    """A response that the model does not allow; the message names the operation and the member path."""


def check_response(operation: str, status: int, body: bytes) -> None:
    """Raise `ContractViolation` unless `body` (the raw HTTP body with `status`) is a valid answer of
    `operation` under the model."""
    problems = list(response_problems(operation, status, body))
    if problems:
        raise ContractViolation(
            f"{operation} answered (HTTP {status}) outside the model:\n  " + "\n  ".join(problems)
        )


def response_problems(operation: str, status: int, body: bytes) -> Iterator[str]:
    """Each way in which the raw response breaks the model, as `path: what is wrong`."""
    try:
        document = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError:
        yield f"$: the body is not JSON: {body[:200]!r}"
        return
    if not isinstance(document, dict):
        yield f"$: the body is {_kind(document)}, not a JSON object"
        return
    if 200 <= status < 300:
        shape = operation_model(operation).output_shape
        if shape is None:
            if document:
                yield f"$: the operation has no output, but the body has members {sorted(document)}"
            return
        yield from _problems(shape, document, "$")
        return
    yield from _error_problems(operation, status, document)


def install(client: Any) -> Any:
    """Check every response of a boto3 Proton client against the model before botocore parses it."""

    def before_parse(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        check_response(operation_model.name, int(response_dict["status_code"]), bytes(response_dict["body"]))

    client.meta.events.register("before-parse.proton", before_parse)
    return client


# --- errors -----------------------------------------------------------------------------------------


def _error_problems(operation: str, status: int, document: dict[str, Any]) -> Iterator[str]:
    extra = sorted(set(document) - {"__type", "message"})
    if extra:
        yield f"$: an error body has members outside __type and message: {extra}"
    message = document.get("message")
    if not isinstance(message, str):
        yield f"$.message: an error body needs a string message, not {_kind(message)}"
    kind = document.get("__type")
    if not isinstance(kind, str):
        yield f"$.__type: an error body needs a string __type, not {_kind(kind)}"
        return
    namespace, _, code = kind.rpartition("#")
    listed = _listed_errors(operation)
    if namespace + "#" == ERROR_NAMESPACE:
        if code not in listed and code not in ANY_OPERATION_ERRORS:
            yield f"$.__type: {code} is not an error {operation} lists ({', '.join(sorted(listed))})"
            return
        expected = listed.get(code) or InternalServerException.status
        if status != expected:
            yield f"$.__type: {code} is answered with HTTP {status}, the model says {expected}"
    elif namespace + "#" == FRONT_DOOR_NAMESPACE:
        if code not in FRONT_DOOR_ERRORS:
            yield f"$.__type: {code} is no front-door error ({', '.join(sorted(FRONT_DOOR_ERRORS))})"
    else:
        yield f"$.__type: {kind!r} is in neither {ERROR_NAMESPACE!r} nor {FRONT_DOOR_NAMESPACE!r}"


@cache
def _listed_errors(operation: str) -> dict[str, int]:
    """The error codes the model lists for `operation`, with their HTTP status (400 unless it says)."""
    return {
        shape.name: int(shape.metadata.get("error", {}).get("httpStatusCode", 400))
        if shape.name != InternalServerException.code
        else InternalServerException.status
        for shape in operation_model(operation).error_shapes
    }


# --- shapes -----------------------------------------------------------------------------------------


def _problems(shape: Any, value: Any, path: str) -> Iterator[str]:
    kind = shape.type_name
    if value is None:
        yield f"{path}: null is not a {kind} ({shape.name}); leave the member out instead"
        return
    if kind == "structure":
        yield from _structure(shape, value, path)
    elif kind == "list":
        yield from _list(shape, value, path)
    elif kind == "map":
        yield from _map(shape, value, path)
    elif kind == "string":
        yield from _string(shape, value, path)
    elif kind in ("integer", "long"):
        yield from _integer(shape, value, path)
    elif kind in ("float", "double"):
        if not _is_number(value):
            yield f"{path}: expected a number ({shape.name}), got {_kind(value)}"
    elif kind == "boolean":
        if not isinstance(value, bool):
            yield f"{path}: expected a boolean ({shape.name}), got {_kind(value)}"
    elif kind == "timestamp":
        if not _is_number(value):
            yield f"{path}: expected epoch seconds, a number ({shape.name}), got {_kind(value)}"
    elif kind == "blob":
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", value):
            yield f"{path}: expected a base64 string ({shape.name}), got {_kind(value)}"
    else:
        yield f"{path}: the model's shape type {kind} ({shape.name}) is not known to the contract check"


def _structure(shape: Any, value: Any, path: str) -> Iterator[str]:
    if not isinstance(value, dict):
        yield f"{path}: expected an object ({shape.name}), got {_kind(value)}"
        return
    members = shape.members
    for name in sorted(set(value) - set(members)):
        yield f"{path}.{name}: {shape.name} has no member {name!r}"
    for name in shape.required_members:
        if name not in value:
            yield f"{path}.{name}: required by {shape.name}, missing"
    for name, member in members.items():
        if name in value:
            yield from _problems(member, value[name], f"{path}.{name}")
    if shape.is_tagged_union:
        present = [name for name in members if name in value]
        if len(present) != 1:
            yield f"{path}: {shape.name} is a union and needs exactly one member, has {present}"


def _list(shape: Any, value: Any, path: str) -> Iterator[str]:
    if not isinstance(value, list):
        yield f"{path}: expected a list ({shape.name}), got {_kind(value)}"
        return
    yield from _size(shape, len(value), path, "items")
    for index, item in enumerate(value):
        yield from _problems(shape.member, item, f"{path}[{index}]")


def _map(shape: Any, value: Any, path: str) -> Iterator[str]:
    if not isinstance(value, dict):
        yield f"{path}: expected a map ({shape.name}), got {_kind(value)}"
        return
    yield from _size(shape, len(value), path, "entries")
    for key, item in value.items():
        yield from _problems(shape.key, key, f"{path}<key {key!r}>")
        yield from _problems(shape.value, item, f"{path}[{key!r}]")


def _string(shape: Any, value: Any, path: str) -> Iterator[str]:
    if not isinstance(value, str):
        yield f"{path}: expected a string ({shape.name}), got {_kind(value)}"
        return
    if shape.enum and value not in shape.enum:
        yield f"{path}: {value!r} is not one of {shape.name}'s values {list(shape.enum)}"
    yield from _size(shape, len(value), path, "characters")
    pattern = shape.metadata.get("pattern")
    if pattern is not None and not _compiled(pattern).search(value):
        yield f"{path}: {_short(value)} does not match {shape.name}'s pattern {pattern}"


def _integer(shape: Any, value: Any, path: str) -> Iterator[str]:
    if isinstance(value, bool) or not isinstance(value, int):
        yield f"{path}: expected an integer ({shape.name}), got {_kind(value)}"
        return
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and value < low:
        yield f"{path}: {value} is below {shape.name}'s minimum {low}"
    if high is not None and value > high:
        yield f"{path}: {value} is above {shape.name}'s maximum {high}"


def _size(shape: Any, size: int, path: str, unit: str) -> Iterator[str]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and size < low:
        yield f"{path}: {size} {unit}, {shape.name} needs at least {low}"
    if high is not None and size > high:
        yield f"{path}: {size} {unit}, {shape.name} allows at most {high}"


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {value!r}"
    if isinstance(value, str):
        return f"the string {_short(value)}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _short(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:77] + "...")
