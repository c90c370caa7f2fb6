"""Shared fixtures: a real moto server as the AWS side, databases on SQLite and PostgreSQL, an in-process
runtime with a worker, and boto3 clients."""

from __future__ import annotations

import base64
import os
import random
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from baryon.api.dispatch import Dispatcher
from baryon.config import Settings
from baryon.engine.worker import Worker
from baryon.protocol.sigv4 import Credential
from baryon.runtime import Runtime, open_runtime
from tests.support.clients import in_process_client
from tests.support.databases import MigratedTemplates, fresh_postgres, postgres_available

ACCOUNT = "111111111111"
OTHER_ACCOUNT = "222222222222"
SECRET_KEY = base64.urlsafe_b64encode(b"k" * 32).decode()


#: Ports handed out by `free_port` in this process (each at most once while others remain).
_HANDED_OUT: set[int] = set()
#: Each test process draws from its own range, below the kernel's ephemeral ports (32768 and up), so that a
#: port handed to a server that is still starting cannot be handed to another process's server meanwhile.
_RANGE_START, _RANGE_SIZE = 20000, 1500


def free_port() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    low = _RANGE_START + (int(worker) % 8 if worker.isdigit() else 0) * _RANGE_SIZE
    if len(_HANDED_OUT) > _RANGE_SIZE // 2:
        _HANDED_OUT.clear()
    for _ in range(1000):
        port = random.randrange(low, low + _RANGE_SIZE)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError(f"no free port in {low}-{low + _RANGE_SIZE - 1}")


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A real moto server on loopback; this process's AWS calls go to it."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    names = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    saved = {k: os.environ.get(k) for k in names}
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    os.environ["AWS_ENDPOINT_URL_S3"] = endpoint
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    yield endpoint
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    server.stop()


@pytest.fixture(scope="session")
def s3(moto_endpoint: str) -> Any:
    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket="bundles")
    return client


DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedTemplates]:
    templates = MigratedTemplates(tmp_path_factory.mktemp("templates"))
    yield templates
    templates.close()


@pytest.fixture(params=DATABASES)
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_templates: MigratedTemplates
) -> Iterator[str]:
    """A database of this test's own, already migrated to the newest revision (a copy of the session's
    template), or empty for a test marked `empty_database`."""
    migrated = request.node.get_closest_marker("empty_database") is None
    if request.param == "sqlite":
        path = tmp_path / "baryon.db"
        if migrated:
            migrated_templates.sqlite_copy(path)
        yield f"sqlite:///{path}"
        return
    if not postgres_available():
        pytest.skip("PostgreSQL is not reachable")
    with fresh_postgres(migrated_templates.postgres_template() if migrated else None) as url:
        yield url


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, secret_key=SECRET_KEY)
    rt = open_runtime(settings)
    yield rt
    rt.close()


@pytest.fixture
def worker(runtime: Runtime, moto_endpoint: str) -> Iterator[Worker]:
    engine = Worker(runtime, concurrency=2, poll_interval=0.05)
    engine.start()
    yield engine
    engine.stop()


@pytest.fixture
def dispatcher(runtime: Runtime) -> Dispatcher:
    return Dispatcher(runtime)


@pytest.fixture
def credential(runtime: Runtime) -> Credential:
    return runtime.credentials.create(ACCOUNT, "tester", runtime.clock.now())


@pytest.fixture
def proton(dispatcher: Dispatcher, credential: Credential) -> Any:
    return in_process_client(dispatcher, credential)


@pytest.fixture
def other_account_proton(dispatcher: Dispatcher, runtime: Runtime) -> Any:
    other = runtime.credentials.create(OTHER_ACCOUNT, "other", runtime.clock.now())
    return in_process_client(dispatcher, other)


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    """Bytes parameters (archives carry timestamps) get an id from their length, so every process
    collects the same test ids."""
    if isinstance(val, bytes):
        return f"{argname}-{len(val)}b"
    return None


#: Test files that run real processes for many seconds each; they start first, so that the run does not
#: end with a few of them holding the workers while the others are idle.
LONG_FIRST = (
    "tests/e2e/test_durability.py",
    "tests/e2e/",
    "tests/console/",
    "tests/cli/test_template_publish.py",
    "tests/localcloud/",
    "tests/engine/localcloud/",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid
        return next((i for i, prefix in enumerate(LONG_FIRST) if path.startswith(prefix)), len(LONG_FIRST))

    items.sort(key=rank)
