"""Fuzzing every operation of the model: mutated valid requests never make Baryon answer a 500.

Bounded and seeded: for each of the model's operations, on each database, one valid request (built from
the model), the same with each of its members and list items in turn removed and then made null, and
`RANDOM_MUTATIONS` random mutations of it (a member given another type, a huge or negative number, an
empty, long, NUL or non-ASCII string, a YAML bomb, deep nesting; an extra member): about 1,100
requests per database, signed like a real client and sent through the dispatcher as raw JSON, against
a world where the resources the valid requests name exist (so handlers get past their lookups). Any
500 or InternalServerException fails the test with the operation and the body that caused it."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import random
from typing import Any

from baryon.api.dispatch import Dispatcher
from baryon.engine.worker import Worker
from baryon.protocol.sigv4 import Credential
from tests.api.test_components import COMPONENT_ROLE, MANIFEST, TEMPLATE
from tests.api.test_environments import FAST, ROLE, SPEC, _published_env_template
from tests.support import bundles
from tests.support.publishing import publish_service_template
from tests.support.shapes import MODEL, example
from tests.support.signed import send, sign

#: The suite's seed and number of random mutations; `BARYON_FUZZ_SEED` / `BARYON_FUZZ_RANDOM` explore further.
SEED = int(os.environ.get("BARYON_FUZZ_SEED", "20261204"))
SAMPLE_ARN = "arn:aws:proton:us-east-1:111111111111:environment/env"
SAMPLE_DEPLOYMENT = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
RANDOM_MUTATIONS = int(os.environ.get("BARYON_FUZZ_RANDOM", "3"))
NESTED = [[[[[[[[[[["deep"]]]]]]]]]]]
STRINGS: list[Any] = [
    "a",
    "a" * 100,
    "A_b-1",
    "",
    "x" * 70_000,
    "a\x00b",
    "\u00e9\u6f22\U0001f600",
    "\u202e\ufeff",
    "../../etc/passwd",
    "${Proton::CURRENT_VAL}",
    "[" * 500 + "]" * 500,
    "a: " + "9" * 5000,
    "a: &a [*a]",
    "proton: ServiceSpec\ninstances:\n  - name: \x01\n",
    "proton: EnvironmentSpec\nspec: !!binary aGVsbG8=\n",
    "proton: ServiceSpec\ninstances: 5\npipeline: [1]\n",
    "proton: ServiceSpec\ninstances:\n  - {name: a, environment: a, spec: {port: .inf}}\n",
    "proton: EnvironmentSpec\nspec: {vpc_cidr: [1, {a: null}]}\n",
    "port: 99999999999999999999\n",
    "<<: *undefined\n",
    "infrastructure:\n  templates:\n    - {file: '*', rendering_engine: hcl, template_language: terraform}\n",
    "arn:aws:proton:us-east-1:111111111111:environment/x",
    "1.0",
    " ",
]
#: Stands for a 5,000-digit integer, which Python's json cannot write; `_body` spells it out.
HUGE = "<5000 digits>"
NUMBERS: list[Any] = [0, -1, -(2**63), 2**63, 2**64, 10**30, HUGE, 1e308, -1e308, 0.5]
DEEP: list[Any] = []
for _ in range(200):
    DEEP = [DEEP]
OTHERS: list[Any] = [None, True, False, [], {}, [None], {"k": None}, NESTED, DEEP, {"": ""}, ["a", 1]]


def _jsonable(value: Any, replacements: dict[str, str]) -> Any:
    """A model example as JSON data, with sample values replaced by those of real resources."""
    if isinstance(value, dict):
        return {key: _jsonable(item, replacements) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item, replacements) for item in value]
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, str):
        return replacements.get(value, value)
    return value


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*path, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*path, index)))
    return found


def _at(request: dict[str, Any], path: tuple[Any, ...]) -> tuple[dict[str, Any], Any, Any]:
    """A copy of the request, the container of ``path`` in it and the last step of ``path``."""
    copy: dict[str, Any] = json.loads(json.dumps(request))
    parent: Any = copy
    for step in path[:-1]:
        parent = parent[step]
    return copy, parent, path[-1]


def _systematic(request: dict[str, Any]) -> list[dict[str, Any]]:
    """Each member and list item of the request in turn removed, then made null."""
    mutated = []
    for path in _paths(request)[1:]:
        for remove in (True, False):
            copy, parent, last = _at(request, path)
            if remove:
                del parent[last]
            else:
                parent[last] = None
            mutated.append(copy)
    return mutated


def _random(request: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """One member (or the request itself) given another value, or an extra member."""
    path = rng.choice(_paths(request))
    value = rng.choice(STRINGS + NUMBERS + OTHERS)
    if not path:
        copy: dict[str, Any] = json.loads(json.dumps(request))
        copy[rng.choice(["zzExtra", "name", "spec", "filters"])] = value
        return copy
    copy, parent, last = _at(request, path)
    if isinstance(parent[last], dict) and rng.random() < 0.3:
        parent[last]["zzExtra"] = value
    else:
        parent[last] = value
    return copy


def _body(params: dict[str, Any]) -> bytes:
    return json.dumps(params).replace(json.dumps(HUGE), "9" * 5000).encode()


def requests_of(rng: random.Random, replacements: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """Every operation's valid request and its mutations; operations that delete or cancel come last, so
    that the others find the resources."""
    requests: list[tuple[str, dict[str, Any]]] = []
    last = ("Delete", "Cancel", "Reject")
    names = sorted(MODEL.operation_names, key=lambda name: (name.startswith(last), name))
    for operation in names:
        shape = MODEL.operation_model(operation).input_shape
        base: dict[str, Any] = _jsonable(example(shape), replacements) if shape is not None else {}
        requests.append((operation, base))
        requests.extend((operation, mutated) for mutated in _systematic(base))
        requests.extend((operation, _random(base, rng)) for _ in range(RANDOM_MUTATIONS))
    return requests


SERVICE_SPEC = "proton: ServiceSpec\ninstances:\n  - name: a\n    environment: a\n    spec:\n      port: 81\n"


def world(proton: Any, s3: Any) -> dict[str, str]:
    """Resources named ``a`` of every kind the valid requests name: environment template and environment,
    service template, service and instance, component. Returns what the model's sample values stand for."""
    _published_env_template(proton, s3, name="a")
    proton.create_environment(
        name="a",
        templateName="a",
        templateMajorVersion="1",
        spec=SPEC,
        protonServiceRoleArn=ROLE,
        componentRoleArn=COMPONENT_ROLE,
    )
    proton.get_waiter("environment_deployed").wait(name="a", WaiterConfig=FAST)
    bundle = bundles.tar_gz(
        {
            "schema/schema.yaml": bundles.SERVICE_SCHEMA_NO_PIPELINE,
            "instance_infrastructure/manifest.yaml": bundles.CFN_MANIFEST,
            "instance_infrastructure/cloudformation.yaml": bundles.CFN_INSTANCE,
        },
        "service/",
    )
    publish_service_template(
        proton,
        s3,
        "a",
        bundle,
        compatible="a",
        pipeline=False,
        version={"supportedComponentSources": ["DIRECTLY_DEFINED"]},
    )
    proton.create_service(name="a", templateName="a", templateMajorVersion="1", spec=SERVICE_SPEC)
    proton.get_waiter("service_created").wait(name="a", WaiterConfig=FAST)
    proton.create_component(name="a", environmentName="a", manifest=MANIFEST, templateFile=TEMPLATE)
    proton.get_waiter("component_deployed").wait(name="a", WaiterConfig=FAST)
    environment = proton.get_environment(name="a")["environment"]
    return {
        SAMPLE_ARN: environment["arn"],
        SAMPLE_DEPLOYMENT: environment["lastSucceededDeploymentId"],
    }


def test_no_mutated_request_is_a_server_error(
    proton: Any, s3: Any, worker: Worker, dispatcher: Dispatcher, credential: Credential
) -> None:
    replacements = world(proton, s3)
    worker.stop()
    requests = requests_of(random.Random(SEED), replacements)
    assert {operation for operation, _ in requests} == set(MODEL.operation_names)
    failures = []
    for operation, params in requests:
        body = _body(params)
        status, answer = send(dispatcher, sign(credential, operation, body), body)
        if status >= 500 or str(answer.get("__type", "")).endswith("InternalServerException"):
            failures.append(f"{operation} {body[:300]!r}: {status} {answer}")
    assert failures == [], f"seed {SEED}: {len(failures)} server errors:\n" + "\n".join(failures)


SIGNATURE_JUNK = [
    "",
    " ",
    ",",
    "=",
    "/",
    ";",
    "\x00",
    "\u00e9",
    "\u2028",
    "a" * 5000,
    "AWS4-HMAC-SHA256",
    "Credential=",
    "SignedHeaders=",
    "Signature=",
    "aws4_request",
    "US-EAST-1",
    "99999999T999999Z",
    "UNSIGNED-PAYLOAD",
]
SIGNATURE_HEADERS = ["authorization", "x-amz-date", "x-amz-target", "host", "x-amz-content-sha256"]


def test_no_mangled_signature_is_a_server_error(dispatcher: Dispatcher, credential: Credential) -> None:
    """The headers SigV4 reads, each cut, spliced with junk, replaced or removed, and the fields of the
    Authorization header given junk: never a 500 (a header the
    signature does not cover, such as an absent `X-Amz-Content-SHA256`, may still leave a valid request)."""
    rng = random.Random(SEED)
    failures = []
    for _ in range(400):
        body = b"{}"
        headers = sign(credential, "ListEnvironmentTemplates", body)
        name = rng.choice(SIGNATURE_HEADERS)
        value = headers.pop(name, "")
        how = rng.randrange(5)
        if how == 4 and name == "authorization":
            field = rng.choice(["Credential=", "SignedHeaders=", "Signature="])
            before, _, after = value.partition(field)
            rest = after.partition(",")[2]
            headers[name] = f"{before}{field}{rng.choice(SIGNATURE_JUNK)}{',' + rest if rest else ''}"
        elif how == 0 and value:
            at = rng.randrange(len(value))
            headers[name] = value[:at] + rng.choice(SIGNATURE_JUNK) + value[at + 1 :]
        elif how == 1 and value:
            headers[name] = value[: rng.randrange(len(value))]
        elif how == 2:
            headers[name] = rng.choice(SIGNATURE_JUNK)
        status, answer = send(dispatcher, headers, body)
        if status >= 500:
            failures.append(f"{name}={headers.get(name, '(absent)')[:200]!r}: {status} {answer}")
    assert failures == [], f"seed {SEED}: {len(failures)} server errors:\n" + "\n".join(failures)
