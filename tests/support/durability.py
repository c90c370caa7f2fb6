"""Crash tests of the engine: real `baryon server` and `baryon worker` processes whose workers are killed
with SIGKILL, an AWS proxy in front of moto that can slow calls down or withhold one call's answer, and
views of what moto and the job table hold afterwards.

Invariants: everything listens on and talks to 127.0.0.1 only; every wait has a deadline; a withheld
answer is released at the latest when the proxy stops, so no test thread blocks forever.
"""

from __future__ import annotations

import contextlib
import http.client
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import boto3
import sqlalchemy as sa

from baryon.protocol.sigv4 import Credential
from baryon.store.db import Database
from baryon.store.schema import jobs
from tests.support.clients import http_client
from tests.support.processes import Process, wait_for_port
from tests.support.waiting import poll

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection"}
HOLD_TIMEOUT = 45.0
T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    """One AWS query-protocol call that went through the proxy, with moto's HTTP status."""

    action: str
    params: dict[str, str]
    status: int


class AwsProxy:
    """An HTTP proxy in front of moto that records the query-protocol actions it forwards.

    `latency` adds a random delay before each call reaches moto and after its answer, so that a killed
    worker is often in the middle of a call. `hold(action, stack)` arms a trap: the next call of that
    action (on a stack whose StackName contains `stack`) is forwarded to moto, so AWS does the work, but
    its answer is withheld until `release()`; `wait_held` returns once that has happened. A caller killed
    meanwhile never learns what AWS did.
    """

    def __init__(self, upstream: str, seed: int = 0) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.latency = (0.0, 0.0)
        self.calls: list[Call] = []
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._armed: str | None = None
        self._armed_stack = ""
        self._held = threading.Event()
        self._release = threading.Event()
        self._release.set()
        self.held_call: Call | None = None
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def _forward(self) -> None:
                proxy._forward(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> AwsProxy:
        self._thread.start()
        wait_for_port(self.port, timeout=10)
        return self

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def hold(self, action: str, stack: str = "") -> None:
        """Withhold the answer of the next `action` call whose StackName contains `stack`."""
        with self._lock:
            self._armed = action
            self._armed_stack = stack
            self._held.clear()
            self._release.clear()
            self.held_call = None

    def wait_held(self, timeout: float = 60.0) -> Call:
        if not self._held.wait(timeout):
            raise AssertionError(f"no {self._armed} call reached the proxy within {timeout} s")
        assert self.held_call is not None
        return self.held_call

    def release(self) -> None:
        with self._lock:
            self._armed = None
        self._release.set()

    def actions(self, action: str, status: int | None = 200) -> Counter[str]:
        """How many calls of `action` each stack got (by StackName), counting only answers of `status`."""
        with self._lock:
            return Counter(
                c.params.get("StackName", "")
                for c in self.calls
                if c.action == action and (status is None or c.status == status)
            )

    def _pause(self) -> None:
        low, high = self.latency
        if high > 0:
            with self._lock:
                delay = self._random.uniform(low, high)
            time.sleep(delay)

    def _forward(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        action, params = "", {}
        if (handler.headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
            params = {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}
            action = params.get("Action", "")
        self._pause()
        connection = http.client.HTTPConnection(*self._upstream, timeout=60)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP_BY_HOP}
            connection.request(handler.command, handler.path, body=body, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
            answer_headers = [(k, v) for k, v in answer.getheaders() if k.lower() not in _HOP_BY_HOP]
            status, reason = answer.status, answer.reason
        finally:
            connection.close()
        call = Call(action, params, status)
        with self._lock:
            self.calls.append(call)
            trapped = (
                bool(action)
                and action == self._armed
                and self._armed_stack in params.get("StackName", "")
                and not self._held.is_set()
            )
            if trapped:
                self.held_call = call
                self._held.set()
        if trapped:
            self._release.wait(HOLD_TIMEOUT)
        self._pause()
        with contextlib.suppress(OSError):
            handler.send_response(status, reason)
            for key, value in answer_headers:
                handler.send_header(key, value)
            handler.send_header("Content-Length", str(len(data)))
            handler.send_header("Connection", "close")
            handler.end_headers()
            if handler.command != "HEAD":
                handler.wfile.write(data)


@dataclass(frozen=True)
class Kill:
    """A worker killed with SIGKILL, and the jobs whose leases it held at that moment."""

    pid: int
    leases: dict[str, float]


@dataclass
class Cluster:
    """One `baryon server` and any number of `baryon worker` processes on one database, with AWS behind
    `proxy`. Workers are started, killed with SIGKILL (the whole process group) and restarted at will."""

    database_url: str
    server_env: dict[str, str]
    worker_env: dict[str, str]
    proxy: AwsProxy
    tmp: Path
    seed: int
    credential: Credential | None = None
    endpoint: str = ""
    processes: list[Process] = field(default_factory=list)
    #: The identity (BARYON_WORKER_ID) each worker process was started with, by pid.
    identities: dict[int, str] = field(default_factory=dict)
    kills: list[Kill] = field(default_factory=list)
    _database: Database | None = None

    def start_server(self, port: int) -> None:
        server = Process(
            ["server", "--host", "127.0.0.1", "--port", str(port)], self.server_env, self.tmp / "server.log"
        )
        self.processes.append(server)
        wait_for_port(port, process=server.popen)
        self.endpoint = f"http://127.0.0.1:{port}"

    def proton(self) -> Any:
        assert self.credential is not None
        return http_client(self.endpoint, self.credential)

    def start_worker(
        self, concurrency: int = 4, *, ready: bool = True, identity: str | None = None
    ) -> Process:
        """Start a worker (its own log file); with `ready`, return once it runs its engine threads. Each
        worker gets an identity of its own unless `identity` names one (a restart under that identity)."""
        log = self.tmp / f"worker-{len(self.processes):02d}.log"
        identity = identity or f"worker-{len(self.processes):02d}"
        env = {**self.worker_env, "BARYON_WORKER_ID": identity}
        worker = Process(["worker", "--concurrency", str(concurrency)], env, log)
        self.processes.append(worker)
        self.identities[worker.popen.pid] = identity
        if ready:
            wait_until(
                lambda: worker.popen.poll() is not None or "job(s) at once" in worker.output(),
                bool,
                30,
                f"worker {worker.popen.pid} starting",
                interval=0.05,
            )
            assert worker.popen.poll() is None, f"the worker exited at start:\n{worker.output()[-4000:]}"
        return worker

    def kill(self, worker: Process) -> Kill:
        """SIGKILL the worker's process group; fails if the worker had already died on its own."""
        assert worker.popen.poll() is None, f"the worker exited by itself:\n{worker.output()[-4000:]}"
        worker.stop(signal.SIGKILL)
        pid = worker.popen.pid
        identity = self.identities[pid]
        kill = Kill(
            pid, {job: expires for job, (owner, expires) in self.leases().items() if owner == identity}
        )
        self.kills.append(kill)
        return kill

    @property
    def database(self) -> Database:
        if self._database is None:
            self._database = Database(self.database_url)
        return self._database

    def leases(self) -> dict[str, tuple[str, float]]:
        """Queued jobs whose lease is held: job id -> (owner, lease expiry, epoch seconds)."""
        with self.database.read() as connection:
            rows = connection.execute(
                sa.select(jobs.c.id, jobs.c.lease_owner, jobs.c.lease_expires_at).where(
                    jobs.c.state == "queued", jobs.c.lease_owner.is_not(None)
                )
            ).all()
        return {row.id: (row.lease_owner, float(row.lease_expires_at)) for row in rows}

    def job_states(self, kind: str | None = None) -> dict[str, str]:
        query = sa.select(jobs.c.id, jobs.c.state)
        if kind is not None:
            query = query.where(jobs.c.kind == kind)
        with self.database.read() as connection:
            return {row.id: row.state for row in connection.execute(query)}

    def close(self) -> None:
        self.proxy.release()
        for process in reversed(self.processes):
            process.stop()
        self.proxy.stop()
        if self._database is not None:
            self._database.dispose()

    def logs(self) -> str:
        seen: set[Path] = set()
        texts = []
        for process in self.processes:
            if process.log not in seen and process.log.exists():
                seen.add(process.log)
                texts.append(f"--- {process.log.name}\n{process.log.read_text(errors='replace')[-3000:]}")
        return "\n".join(texts)


def cloudformation(account_role_arn: str) -> Any:
    """A CloudFormation client in the account of `account_role_arn` (moto's AssumeRole answers with
    credentials of the role's account)."""
    keys = boto3.client("sts", region_name="us-east-1").assume_role(
        RoleArn=account_role_arn, RoleSessionName="durability-check"
    )["Credentials"]
    return boto3.client(
        "cloudformation",
        region_name="us-east-1",
        aws_access_key_id=keys["AccessKeyId"],
        aws_secret_access_key=keys["SecretAccessKey"],
        aws_session_token=keys["SessionToken"],
    )


def proton_stacks(cf: Any) -> dict[str, list[dict[str, Any]]]:
    """Every Proton stack the account ever had, deleted ones included: stack name -> its stacks."""
    found: dict[str, list[dict[str, Any]]] = {}
    for page in cf.get_paginator("list_stacks").paginate():
        for summary in page["StackSummaries"]:
            if summary["StackName"].startswith("AWSProton-"):
                found.setdefault(summary["StackName"], []).append(summary)
    return found


def wait_until(
    read: Callable[[], T], done: Callable[[T], bool], timeout: float, what: str, interval: float = 0.5
) -> T:
    """Call `read` until `done` accepts its value, which is returned; fail naming `what` and the last value
    after `timeout` seconds."""
    return poll(read, done, timeout=timeout, interval=interval, what=what)
