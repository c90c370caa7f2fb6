"""Baryon's ASGI app served over real HTTP on 127.0.0.1, in a thread of the test process, for clients that
are separate processes (the `aws` CLI run by a deployment's commands)."""

from __future__ import annotations

import socket
import threading

import uvicorn

from baryon.runtime import Runtime
from baryon.web.app import create_app
from tests.support.waiting import poll


class ApiServer:
    def __init__(self, runtime: Runtime) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(runtime), host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="baryon-test-api", daemon=True)

    def start(self) -> ApiServer:
        self._thread.start()
        poll(
            lambda: self._server.started or not self._thread.is_alive(),
            interval=0.02,
            what=f"the API server to start on port {self.port}",
        )
        assert self._server.started, "the API server's thread ended before it started"
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
