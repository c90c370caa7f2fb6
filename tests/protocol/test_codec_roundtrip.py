"""Baryon's request decoder and response encoder against botocore's own serializer and parser, for every
operation of the model.

Each case sends generated parameters (every member type: strings with non-ASCII, quotes and control
characters, integers at their bounds, booleans both ways, nested lists and structures, each member of a
union, timestamps with fractions of a second) through a real boto3 client into Baryon's dispatcher: SigV4,
JSON decoding, model validation, the write transaction and idempotency record, JSON encoding and the error
body are Baryon's own code. Only the handler is replaced — by one that records the parameters it was given
and answers a generated output — so that every operation, implemented or not, is driven with every member
its model has. botocore then parses Baryon's body, and the test client checks it against the model before.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore import xform_name
from botocore.exceptions import ClientError

from baryon.api.dispatch import Dispatcher
from baryon.api.registry import OPERATIONS, Context, Operation
from baryon.config import Settings
from baryon.contract.model import operation_errors
from baryon.protocol import errors as wire_errors
from baryon.protocol.sigv4 import Credential
from baryon.runtime import Runtime, open_runtime
from tests.conftest import ACCOUNT, SECRET_KEY
from tests.support.clients import in_process_client
from tests.support.shapes import MODEL, VARIANTS, example, wire

OPERATIONS_OF_MODEL = sorted(MODEL.operation_names)


class Recorder:
    """Stands in for every handler: keeps what it was given, answers what it is told."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.answer: dict[str, Any] = {}
        self.error: Exception | None = None

    def handler(self, ctx: Context, params: dict[str, Any], _: Any) -> dict[str, Any]:
        self.calls.append((ctx.operation, params))
        if self.error is not None:
            raise self.error
        return self.answer


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """One SQLite runtime for the module: the codec does not depend on the database."""
    tmp: Path = tmp_path_factory.mktemp("codec")
    settings = Settings(
        data_dir=tmp / "data", database_url=f"sqlite:///{tmp / 'baryon.db'}", secret_key=SECRET_KEY
    )
    rt = open_runtime(settings)
    yield rt
    rt.close()


@pytest.fixture(scope="module")
def credential(runtime: Runtime) -> Credential:
    return runtime.credentials.create(ACCOUNT, "codec", runtime.clock.now())


@pytest.fixture(scope="module")
def handlers(runtime: Runtime) -> Iterator[Recorder]:
    """The recorder in place of every handler for the module; the real ones are back afterwards."""
    recorder = Recorder()
    Dispatcher(runtime)  # registers the real handlers, which the recorder then replaces
    with pytest.MonkeyPatch.context() as patch:
        for name in OPERATIONS_OF_MODEL:
            write = OPERATIONS[name].write if name in OPERATIONS else True
            patch.setitem(OPERATIONS, name, Operation(name, recorder.handler, write))
        yield recorder


@pytest.fixture
def recorder(handlers: Recorder) -> Recorder:
    handlers.reset()
    return handlers


@pytest.fixture(scope="module")
def proton(runtime: Runtime, credential: Credential) -> Any:
    return in_process_client(Dispatcher(runtime), credential)


def test_model_has_all_87_operations() -> None:
    assert len(OPERATIONS_OF_MODEL) == 87


def _token_member(name: str) -> str | None:
    shape = MODEL.operation_model(name).input_shape
    return next((m for m, s in shape.members.items() if s.metadata.get("idempotencyToken")), None)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", OPERATIONS_OF_MODEL)
def test_round_trip(name: str, variant: int, proton: Any, recorder: Recorder) -> None:
    operation = MODEL.operation_model(name)
    params = example(operation.input_shape, variant)
    token = _token_member(name)
    if token is not None and token in params:
        params[token] = f"{name}-{variant}-!~"  # one token per case: the runtime is shared by the module
    recorder.answer = wire(example(operation.output_shape, variant))
    expected = example(operation.output_shape, variant)
    call = getattr(proton, xform_name(name))

    parsed = call(**params)

    [(handled, received)] = recorder.calls
    assert handled == name
    if token is not None and token not in params:
        assert isinstance(received.pop(token), str)  # boto3 fills an idempotency token in
    assert received == wire(params)
    metadata = parsed.pop("ResponseMetadata")
    assert parsed == expected
    assert metadata["HTTPStatusCode"] == 200
    assert metadata["HTTPHeaders"]["content-type"] == "application/x-amz-json-1.0"
    if token is not None and token in params:
        again = call(**params)
        again.pop("ResponseMetadata")
        assert again == expected, "a repeated client token answers the first answer, through the stored copy"
        assert len(recorder.calls) == 1


@pytest.mark.parametrize("name", OPERATIONS_OF_MODEL)
def test_every_listed_error_parses_as_botocore_raises_it(name: str, proton: Any, recorder: Recorder) -> None:
    params = example(MODEL.operation_model(name).input_shape, 1)
    call = getattr(proton, xform_name(name))
    for code in sorted(operation_errors(name)):
        message = f'{code}: "{name}" ✓ failed\nsecond line'
        recorder.error = getattr(wire_errors, code)(message)
        with pytest.raises(ClientError) as raised:
            call(**params)
        assert type(raised.value) is getattr(proton.exceptions, code)
        assert raised.value.response["Error"] == {"Code": code, "Message": message}
        status = 500 if code == "InternalServerException" else 400
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_front_door_errors_parse_as_botocore_errors(proton: Any, recorder: Recorder) -> None:
    for code in sorted(wire_errors.FRONT_DOOR_ERRORS):
        recorder.error = getattr(wire_errors, code)(f"{code} happened")
        with pytest.raises(ClientError) as raised:
            proton.list_environments()
        assert raised.value.response["Error"] == {"Code": code, "Message": f"{code} happened"}
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
