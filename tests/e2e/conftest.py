"""Fixtures that start real `baryon server` and `baryon worker` processes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from baryon.protocol.sigv4 import Credential
from tests.conftest import ACCOUNT, SECRET_KEY, free_port
from tests.support.processes import Process, baryon_env, create_credential, wait_for_port


@dataclass
class Deployment:
    endpoint: str
    port: int
    env: dict[str, str]
    credential: Credential
    tmp: Path
    processes: list[Process]

    def start_server(self, port: int | None = None, *extra: str) -> tuple[Process, int]:
        port = port or free_port()
        log = self.tmp / f"server-{port}-{len(self.processes)}.log"
        process = Process(["server", "--host", "127.0.0.1", "--port", str(port), *extra], self.env, log)
        self.processes.append(process)
        wait_for_port(port, process=process.popen)
        return process, port


@pytest.fixture
def deployment(database_url: str, tmp_path: Path, moto_endpoint: str) -> Iterator[Deployment]:
    env = baryon_env(
        tmp_path / "data",
        database_url,
        SECRET_KEY,
        {
            "AWS_ENDPOINT_URL_S3": moto_endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        },
    )
    # database_url is already migrated (`baryon db upgrade` itself is driven by test_durability).
    credential = create_credential(env, ACCOUNT)
    deployment = Deployment("", 0, env, credential, tmp_path, [])
    _, port = deployment.start_server()
    deployment.port = port
    deployment.endpoint = f"http://127.0.0.1:{port}"
    worker = Process(["worker", "--concurrency", "2"], env, tmp_path / "worker.log")
    deployment.processes.append(worker)
    yield deployment
    for process in deployment.processes:
        process.stop()
