"""The local cloud: moto's server inside `baryon up`, standing in for S3, CloudFormation, STS, IAM, ….

Invariants: it listens only on the given host and port; while it runs, this process's outgoing AWS calls
go to it (`AWS_ENDPOINT_URL`), unless a per-service endpoint variable says otherwise.
"""

from __future__ import annotations

import os
import socket
import time

from moto.server import ThreadedMotoServer

LOCAL_ACCOUNT_ID = "123456789012"


class LocalCloud:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.endpoint = f"http://{host}:{port}"
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)

    def start(self) -> None:
        self._server.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        os.environ["AWS_ENDPOINT_URL"] = self.endpoint
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "baryon-local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "baryon-local")

    def stop(self) -> None:
        self._server.stop()
