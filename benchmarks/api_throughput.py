"""Throughput and latency of the Proton API served by one `baryon server` process.

For each backend (SQLite in a fresh temporary data dir; PostgreSQL in a fresh database that is dropped
afterwards) the benchmark starts a real `baryon server`, seeds it with boto3, and replays pre-signed
`GetEnvironmentTemplate` and `ListEnvironmentTemplates` requests from a separate load-generator process:
N keep-alive connections (default 32), each sending one request and reading its whole response before
sending the next. The ceiling is a minimal Starlette app answering a constant JSON body, served by
uvicorn with the settings Baryon uses, loaded by the same harness with the same kind of request.

`--observability on` (the default) runs the server as shipped: metrics recorded and one JSON log line per
request (written to the server's log file); `off` sets BARYON_METRICS=off and BARYON_LOG_LEVEL=warning;
`both` starts both servers side by side and measures them in alternating windows (`--rounds`, off-on,
on-off, …, splitting `--duration`), so that a busy machine weighs on both alike, and reports the cost as a
ratio (goal: with metrics and logs on, at least 90 % of the throughput with them off).

Run from the repository root:

    python3 benchmarks/api_throughput.py --duration 10
    python3 benchmarks/api_throughput.py --json > results.json

Everything it starts (server processes, the load generator, temp dirs, the PostgreSQL database) is
removed on exit, including on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import functools
import hashlib
import json
import os
import platform
import resource
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

from harness import (
    BenchmarkError,
    Processes,
    baryon_argv,
    finite,
    free_port,
    fresh_postgres_database,
    interrupt_on_signals,
    load_average,
    log,
    postgres_reachable,
    postgres_version,
    process_cpu_seconds,
    wait_listening,
)

HOST = "127.0.0.1"
REGION = "us-east-1"
SERVICE = "proton"
ACCOUNT_ID = "111111111111"
TARGET_PREFIX = "AwsProton20200720."
CONTENT_TYPE = "application/x-amz-json-1.0"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
#: A fixed deployment key, so that the credential created by the CLI is readable by the server.
SECRET_KEY = base64.urlsafe_b64encode(hashlib.sha256(b"baryon-api-throughput-benchmark").digest()).decode()
GET_TEMPLATE = "bench-get"
LOADAVG_AT_START: tuple[float, float, float] | None = None
UVICORN_FALLBACK = {"http": "httptools", "loop": "uvloop", "access_log": False, "log_level": "warning"}

# The product's stated goals for one server process at concurrency 32.
GOAL_GET_RPS = 1500.0
GOAL_CEILING_RATIO = 0.5
GOAL_P99_MS = 40.0
GOAL_OBSERVED_RATIO = 0.9

# A constant body for the ceiling, shaped and sized like a GetEnvironmentTemplate answer.
CEILING_BODY = json.dumps(
    {
        "environmentTemplate": {
            "name": GET_TEMPLATE,
            "arn": f"arn:aws:proton:{REGION}:{ACCOUNT_ID}:environment-template/{GET_TEMPLATE}",
            "displayName": "Benchmark template",
            "description": "The template every GetEnvironmentTemplate request of the benchmark reads.",
            "createdAt": 1700000000.0,
            "lastModifiedAt": 1700000000.0,
        }
    },
    separators=(",", ":"),
).encode()


def uvicorn_options() -> dict[str, Any]:
    """The uvicorn settings `baryon server` uses (read from Baryon itself, so the ceiling follows them)."""
    try:
        from baryon.cli.main import _uvicorn_options
    except ImportError:
        return dict(UVICORN_FALLBACK)
    return dict(_uvicorn_options())


# --------------------------------------------------------------------------------------------------------
# Ceiling server (run as `api_throughput.py --serve-ceiling PORT`)
# --------------------------------------------------------------------------------------------------------


def serve_ceiling(port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def api(request: Request) -> Response:
        await request.body()
        return Response(
            CEILING_BODY,
            status_code=200,
            headers={"content-type": CONTENT_TYPE, "x-amzn-requestid": str(uuid.uuid4())},
        )

    app = Starlette(routes=[Route("/", api, methods=["POST"])])
    uvicorn.run(app, host=HOST, port=port, **uvicorn_options())


# --------------------------------------------------------------------------------------------------------
# Load generator (run as `api_throughput.py --load-generator`, spec as JSON on stdin, result on stdout)
# --------------------------------------------------------------------------------------------------------


@dataclass
class LoadSpec:
    port: int
    request_b64: str
    concurrency: int
    warmup: float
    duration: float
    max_requests: int
    server_pid: int | None = None


@dataclass
class LoadState:
    request: bytes
    max_requests: int
    measure_start: float = float("inf")
    measure_end: float = float("inf")
    stopping: bool = False
    sent: int = 0
    completed: int = 0
    warmup_completed: int = 0
    warmup_errors: int = 0
    in_window: int = 0
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    connection_failures: int = 0
    protocol_errors: int = 0


class ClientConnection(asyncio.Protocol):
    """One keep-alive connection: send, read the whole response (status, headers, body), send again."""

    def __init__(self, state: LoadState, done: asyncio.Future[None]) -> None:
        self.state = state
        self.done = done
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.need = -1
        self.status = 0
        self.started = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def send(self) -> None:
        state = self.state
        if state.stopping or state.sent >= state.max_requests:
            self._finish()
            return
        state.sent += 1
        self.started = time.perf_counter()
        assert self.transport is not None
        self.transport.write(state.request)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        while True:
            if self.need < 0:
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(buffer[:end]).lower()
                if not head.startswith(b"http/1.1 "):
                    self._protocol_error()
                    return
                self.status = int(head[9:12])
                marker = head.find(b"\r\ncontent-length:")
                if marker < 0:
                    self._protocol_error()
                    return
                stop = head.find(b"\r\n", marker + 2)
                length = int(head[marker + 17 : stop if stop >= 0 else len(head)].strip())
                self.need = end + 4 + length
            if len(buffer) < self.need:
                return
            del buffer[: self.need]
            self.need = -1
            self._completed(self.status)
            if not buffer:
                return

    def _completed(self, status: int) -> None:
        now = time.perf_counter()
        state = self.state
        state.completed += 1
        if self.started < state.measure_start:
            state.warmup_completed += 1
            if status != 200:
                state.warmup_errors += 1
        elif now <= state.measure_end:
            state.in_window += 1
            state.latencies.append(now - self.started)
            if status != 200:
                state.errors += 1
                key = str(status)
                state.statuses[key] = state.statuses.get(key, 0) + 1
        self.send()

    def _protocol_error(self) -> None:
        self.state.protocol_errors += 1
        self.state.errors += 1
        self._finish()

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.state.connection_failures += 1
            self.state.errors += 1
            self.done.set_result(None)


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


async def run_load(spec: LoadSpec) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    state = LoadState(request=base64.b64decode(spec.request_b64), max_requests=spec.max_requests)
    clients: list[ClientConnection] = []
    for _ in range(spec.concurrency):
        done: asyncio.Future[None] = loop.create_future()
        _, protocol = await asyncio.wait_for(
            loop.create_connection(functools.partial(ClientConnection, state, done), HOST, spec.port), 10
        )
        clients.append(protocol)
    for client in clients:
        client.send()
    await asyncio.sleep(spec.warmup)
    state.measure_start = time.perf_counter()
    state.measure_end = state.measure_start + spec.duration
    server_cpu_start = process_cpu_seconds(spec.server_pid)
    client_cpu_start = _own_cpu_seconds()
    await asyncio.sleep(spec.duration)
    state.stopping = True
    server_cpu = process_cpu_seconds(spec.server_pid)
    client_cpu = _own_cpu_seconds() - client_cpu_start
    elapsed = max(time.perf_counter() - state.measure_start, 1e-9)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(client.done for client in clients)), 10)
    for client in clients:
        if client.transport is not None:
            client.transport.close()
    ordered = sorted(state.latencies)
    window = min(elapsed, spec.duration)
    server_share = (
        (server_cpu - server_cpu_start) / elapsed
        if server_cpu is not None and server_cpu_start is not None
        else None
    )
    return {
        "requests": state.in_window,
        "duration_s": window,
        "rps": state.in_window / window,
        "p50_ms": _percentile(ordered, 0.50) * 1000,
        "p90_ms": _percentile(ordered, 0.90) * 1000,
        "p99_ms": _percentile(ordered, 0.99) * 1000,
        "max_ms": (ordered[-1] * 1000) if ordered else float("nan"),
        "errors": state.errors,
        "error_statuses": state.statuses,
        "connection_failures": state.connection_failures,
        "protocol_errors": state.protocol_errors,
        "warmup_requests": state.warmup_completed,
        "warmup_errors": state.warmup_errors,
        "hit_request_cap": state.sent >= spec.max_requests,
        "server_cpu": server_share,
        "client_cpu": client_cpu / elapsed,
    }


def load_generator_main() -> None:
    import uvloop

    spec = LoadSpec(**json.loads(sys.stdin.read()))
    if not (1 <= spec.concurrency <= 1024 and 0 < spec.duration <= 3600 and 0 <= spec.warmup <= 60):
        raise SystemExit("load generator: spec out of bounds")
    result = uvloop.run(run_load(spec))
    sys.stdout.write(json.dumps(result))


# --------------------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------------------


def signed_request(
    port: int, access_key: str, secret_key: str, operation: str, params: dict[str, Any]
) -> bytes:
    """A complete HTTP/1.1 request, signed with SigV4 exactly as botocore signs it, ready to replay."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = json.dumps(params, separators=(",", ":")).encode()
    request = AWSRequest(
        method="POST",
        url=f"http://{HOST}:{port}/",
        data=body,
        headers={"X-Amz-Target": TARGET_PREFIX + operation, "Content-Type": CONTENT_TYPE},
    )
    SigV4Auth(Credentials(access_key, secret_key), SERVICE, REGION).add_auth(request)
    lines = ["POST / HTTP/1.1", f"Host: {HOST}:{port}"]
    lines += [f"{name}: {value}" for name, value in request.headers.items() if name.lower() != "host"]
    lines += [f"Content-Length: {len(body)}", "Connection: keep-alive"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def exchange(port: int, request: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
    """Send one request on a fresh connection and return (status, body)."""
    with socket.create_connection((HOST, port), timeout=timeout) as connection:
        connection.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                raise BenchmarkError("connection closed before the response headers")
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            chunk = connection.recv(65536)
            if not chunk:
                raise BenchmarkError("connection closed before the response body")
            body += chunk
        return status, body[:length]


# --------------------------------------------------------------------------------------------------------
# Processes, databases, temp dirs
# --------------------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    backend: str
    operation: str
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    error_statuses: dict[str, int]
    connection_failures: int
    protocol_errors: int
    warmup_requests: int
    warmup_errors: int
    hit_request_cap: bool
    server_cpu: float | None
    client_cpu: float
    duration_s: float
    response_bytes: int
    ratio_to_ceiling: float | None = None


class Bench:
    def __init__(self, args: argparse.Namespace, root: Path, processes: Processes) -> None:
        self.args = args
        self.root = root
        self.processes = processes

    def load(
        self,
        port: int,
        request: bytes,
        server_pid: int,
        duration: float | None = None,
        warmup: float | None = None,
    ) -> dict[str, Any]:
        spec = LoadSpec(
            port=port,
            request_b64=base64.b64encode(request).decode(),
            concurrency=self.args.concurrency,
            warmup=self.args.warmup,
            duration=self.args.duration if duration is None else duration,
            max_requests=self.args.max_requests,
            server_pid=server_pid,
        )
        try:
            completed = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--load-generator"],
                input=json.dumps(asdict(spec)).encode(),
                capture_output=True,
                timeout=self.args.warmup + self.args.duration + 60,
                start_new_session=True,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise BenchmarkError("the load generator did not finish in time") from None
        if completed.returncode != 0:
            raise BenchmarkError(
                f"the load generator failed ({completed.returncode}):\n"
                + completed.stderr.decode(errors="replace")[-3000:]
            )
        result: dict[str, Any] = json.loads(completed.stdout)
        return result

    def scenario(
        self, name: str, backend: str, operation: str, port: int, request: bytes, server_pid: int
    ) -> Result:
        status, body = exchange(port, request)
        if status != 200:
            raise BenchmarkError(f"{name}: a single request answered {status}: {body[:500]!r}")
        log(
            f"  {name}: {self.args.warmup:g} s warm-up + {self.args.duration:g} s at concurrency "
            f"{self.args.concurrency}"
        )
        measured = self.load(port, request, server_pid)
        return Result(name=name, backend=backend, operation=operation, response_bytes=len(body), **measured)

    def ceiling(self) -> Result:
        port = free_port()
        log_path = self.root / "ceiling.log"
        argv = [sys.executable, str(Path(__file__).resolve()), "--serve-ceiling", str(port)]
        log(f"ceiling: minimal Starlette app on uvicorn {uvicorn_options()} at {HOST}:{port}")
        child = self.processes.start(argv, dict(os.environ), log_path)
        try:
            wait_listening(child, port, log_path)
            request = signed_request(
                port, "AKIABENCHMARKCEILING", "ceiling", "GetEnvironmentTemplate", {"name": GET_TEMPLATE}
            )
            return self.scenario("ceiling", "ceiling", "constant JSON", port, request, child.pid)
        finally:
            self.processes.stop(child)

    @contextlib.contextmanager
    def served(self, backend: str, database_url: str | None, observed: bool) -> Iterator[Served]:
        """A seeded `baryon server` with metrics and request logs on (`observed`) or off, stopped after."""
        import boto3
        from botocore.config import Config

        label = backend if observed else f"{backend} off"
        data_dir = self.root / f"{label.replace(' ', '-')}-data"
        data_dir.mkdir(mode=0o700)
        env = dict(os.environ)
        env.update(
            {
                "BARYON_DATA_DIR": str(data_dir),
                "BARYON_DATABASE_URL": database_url or f"sqlite:///{data_dir / 'baryon.db'}",
                "BARYON_SECRET_KEY": SECRET_KEY,
                "BARYON_LOG_LEVEL": "info" if observed else "warning",
                "BARYON_LOG_FORMAT": "json",
                "BARYON_METRICS": "on" if observed else "off",
            }
        )
        for name in list(env):
            if name.startswith("AWS_") and name != "AWS_CA_BUNDLE":
                del env[name]
        created = subprocess.run(
            [*baryon_argv(), "credentials", "create", "--account-id", ACCOUNT_ID, "--output", "json"],
            env=env,
            capture_output=True,
            timeout=180,
            check=False,
        )
        if created.returncode != 0:
            raise BenchmarkError(
                f"{backend}: `baryon credentials create` failed:\n{created.stderr.decode(errors='replace')}"
            )
        credential = json.loads(created.stdout.decode().strip().splitlines()[-1])
        access_key, secret_key = credential["accessKeyId"], credential["secretAccessKey"]

        port = free_port()
        log_path = self.root / f"{label.replace(' ', '-')}-server.log"
        argv = [*baryon_argv(), "server", "--host", HOST, "--port", str(port)]
        log(f"{label}: {shlex.join(argv)}")
        child = self.processes.start(argv, env, log_path)
        try:
            wait_listening(child, port, log_path)
            client = boto3.client(
                "proton",
                endpoint_url=f"http://{HOST}:{port}",
                region_name=REGION,
                aws_access_key_id=access_key,
                aws_secret_access_key=secret_key,
                config=Config(retries={"max_attempts": 1}),
            )
            started = time.perf_counter()
            for index in range(self.args.templates):
                client.create_environment_template(
                    name=f"bench-{index:03d}",
                    displayName=f"Benchmark template {index}",
                    description="Seeded by the API throughput benchmark.",
                )
            client.create_environment_template(
                name=GET_TEMPLATE,
                displayName="Benchmark template",
                description="The template every GetEnvironmentTemplate request of the benchmark reads.",
            )
            listed = client.list_environment_templates()["templates"]
            if len(listed) != self.args.templates + 1:
                raise BenchmarkError(
                    f"{backend}: seeded {self.args.templates + 1} templates, listed {len(listed)}"
                )
            log(f"  seeded {self.args.templates + 1} templates in {time.perf_counter() - started:.2f} s")
            yield Served(backend, observed, port, child.pid, access_key, secret_key)
            if child.poll() is not None:
                raise BenchmarkError(f"{label}: the server exited during the run")
            if observed and '"operation":"GetEnvironmentTemplate"' not in log_path.read_text():
                raise BenchmarkError(f"{backend}: the server wrote no JSON request log line")
        finally:
            self.processes.stop(child)

    def baryon(self, backend: str, database_url: str | None, observed: bool = True) -> list[Result]:
        with self.served(backend, database_url, observed) as server:
            results = []
            for operation, params in OPERATIONS:
                request = server.request(operation, params)
                results.append(
                    self.scenario(
                        server.scenario(operation), backend, operation, server.port, request, server.pid
                    )
                )
            return results

    def compared(self, backend: str, database_urls: tuple[str | None, str | None]) -> list[Result]:
        """The same scenarios on a server with metrics and logs off and one with them on, both running,
        measured in alternating windows (off-on, on-off, …) so that what else the machine does weighs on
        both alike."""
        rounds = self.args.rounds
        window = self.args.duration / rounds
        with (
            self.served(backend, database_urls[0], False) as off,
            self.served(backend, database_urls[1], True) as on,
        ):
            results = []
            for operation, params in OPERATIONS:
                windows: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
                for server in (off, on):
                    status, body = exchange(server.port, server.request(operation, params))
                    if status != 200:
                        raise BenchmarkError(
                            f"{server.scenario(operation)}: a single request answered {status}"
                        )
                log(
                    f"  {backend} {operation}: {rounds} rounds of off and on, {window:g} s each after "
                    f"{self.args.warmup:g} s warm-up"
                )
                for index in range(rounds):
                    for server in (off, on) if index % 2 == 0 else (on, off):
                        request = server.request(operation, params)
                        windows[server.observed].append(self.load(server.port, request, server.pid, window))
                for server in (off, on):
                    merged = merge_windows(windows[server.observed])
                    results.append(
                        Result(
                            name=server.scenario(operation),
                            backend=backend,
                            operation=operation,
                            response_bytes=len(body),
                            **merged,
                        )
                    )
            return results


OPERATIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("GetEnvironmentTemplate", {"name": GET_TEMPLATE}),
    ("ListEnvironmentTemplates", {}),
)


@dataclass
class Served:
    backend: str
    observed: bool
    port: int
    pid: int
    access_key: str
    secret_key: str

    def request(self, operation: str, params: dict[str, Any]) -> bytes:
        return signed_request(self.port, self.access_key, self.secret_key, operation, params)

    def scenario(self, operation: str) -> str:
        short = operation.removesuffix("EnvironmentTemplate").removesuffix("EnvironmentTemplates")
        return f"{self.backend} {short}" + ("" if self.observed else " off")


def merge_windows(windows: list[dict[str, Any]]) -> dict[str, Any]:
    """One scenario's windows as one result: counts and times added, throughput over the whole measured time,
    CPU shares weighted by time, each latency percentile the median of the windows' (max: the largest)."""
    duration = sum(w["duration_s"] for w in windows)
    requests = sum(w["requests"] for w in windows)
    statuses: dict[str, int] = {}
    for w in windows:
        for code, count in w["error_statuses"].items():
            statuses[code] = statuses.get(code, 0) + count
    server = [w["server_cpu"] for w in windows]
    return {
        "requests": requests,
        "rps": requests / duration if duration > 0 else 0.0,
        "p50_ms": statistics.median(w["p50_ms"] for w in windows),
        "p90_ms": statistics.median(w["p90_ms"] for w in windows),
        "p99_ms": statistics.median(w["p99_ms"] for w in windows),
        "max_ms": max(w["max_ms"] for w in windows),
        "errors": sum(w["errors"] for w in windows),
        "error_statuses": statuses,
        "connection_failures": sum(w["connection_failures"] for w in windows),
        "protocol_errors": sum(w["protocol_errors"] for w in windows),
        "warmup_requests": sum(w["warmup_requests"] for w in windows),
        "warmup_errors": sum(w["warmup_errors"] for w in windows),
        "hit_request_cap": any(w["hit_request_cap"] for w in windows),
        "server_cpu": None
        if any(share is None for share in server)
        else sum(w["server_cpu"] * w["duration_s"] for w in windows) / duration,
        "client_cpu": sum(w["client_cpu"] * w["duration_s"] for w in windows) / duration,
        "duration_s": duration,
    }


# --------------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    import sqlite3

    import starlette
    import uvicorn

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "loadavg_at_start": LOADAVG_AT_START,
        "cpu": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "uvicorn": uvicorn.__version__,
        "starlette": starlette.__version__,
        "sqlite": sqlite3.sqlite_version,
    }


def observability_cost(results: list[Result]) -> list[dict[str, Any]]:
    """For each scenario run both ways: the throughput with metrics and logs on relative to off."""
    off = {r.name.removesuffix(" off"): r for r in results if r.name.endswith(" off")}
    marks: list[dict[str, Any]] = []
    for result in results:
        other = off.get(result.name)
        if other is None or result is other or other.rps <= 0:
            continue
        ratio = result.rps / other.rps
        marks.append(
            {
                "goal": f"{result.name}: metrics and JSON logs on >= {GOAL_OBSERVED_RATIO:.0%} of off",
                "value": f"{ratio:.1%} ({result.rps:,.0f} vs {other.rps:,.0f} req/s)",
                "passed": ratio >= GOAL_OBSERVED_RATIO,
            }
        )
        if result.server_cpu and other.server_cpu:
            # Requests per second of server CPU: the same comparison, unaffected by what else runs.
            per_cpu = (result.rps / result.server_cpu) / (other.rps / other.server_cpu)
            marks.append(
                {
                    "goal": f"{result.name}: the same per second of server CPU",
                    "value": f"{per_cpu:.1%} ({result.rps / result.server_cpu:,.0f} vs "
                    f"{other.rps / other.server_cpu:,.0f} req/CPU-s)",
                    "passed": per_cpu >= GOAL_OBSERVED_RATIO,
                }
            )
    return marks


def goals(results: list[Result]) -> list[dict[str, Any]]:
    ceiling = next((r for r in results if r.backend == "ceiling"), None)
    marks: list[dict[str, Any]] = observability_cost(results)
    for result in results:
        if result.backend == "ceiling" or result.name.endswith(" off"):
            continue
        if result.operation == "GetEnvironmentTemplate":
            marks.append(
                {
                    "goal": f"{result.name}: >= {GOAL_GET_RPS:,.0f} req/s",
                    "value": f"{result.rps:,.0f} req/s",
                    "passed": result.rps >= GOAL_GET_RPS,
                }
            )
            if ceiling is not None and result.ratio_to_ceiling is not None:
                marks.append(
                    {
                        "goal": f"{result.name}: >= {GOAL_CEILING_RATIO:.0%} of the ceiling",
                        "value": f"{result.ratio_to_ceiling:.1%}",
                        "passed": result.ratio_to_ceiling >= GOAL_CEILING_RATIO,
                    }
                )
        marks.append(
            {
                "goal": f"{result.name}: p99 < {GOAL_P99_MS:.0f} ms",
                "value": f"{result.p99_ms:.1f} ms",
                "passed": result.p99_ms < GOAL_P99_MS,
            }
        )
    return marks


def print_table(report: dict[str, Any], results: list[Result]) -> None:
    machine = report["machine"]
    print(f"command:  {report['command']}")
    print(f"machine:  nproc={machine['nproc']}  {machine['cpu']}  ({machine['platform']})")
    load = machine["loadavg_at_start"]
    if load is not None:
        print(f"          load average before the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(
        f"software: Python {machine['python']}, uvicorn {machine['uvicorn']}, "
        f"starlette {machine['starlette']}, "
        f"SQLite {machine['sqlite']}, PostgreSQL {report.get('postgresql_version') or '-'}"
    )
    settings = report["settings"]
    print(
        f"load:     {settings['concurrency']} keep-alive connections from a separate process, "
        f"{settings['warmup']:g} s warm-up, {settings['duration']:g} s measured; uvicorn "
        f"{settings['uvicorn']}"
    )
    print()
    header = (
        f"{'scenario':<22} {'req/s':>10} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        f"{'errors':>7} {'vs ceiling':>10} {'server CPU':>10} {'client CPU':>10}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        ratio = f"{r.ratio_to_ceiling:.1%}" if r.ratio_to_ceiling is not None else "-"
        server_cpu = f"{r.server_cpu:.0%}" if r.server_cpu is not None else "-"
        flag = " !" if r.errors or r.hit_request_cap else ""
        print(
            f"{r.name:<22} {r.rps:>10,.1f} {r.p50_ms:>8.2f} {r.p90_ms:>8.2f} {r.p99_ms:>8.2f} "
            f"{r.max_ms:>8.1f} {r.errors:>7} {ratio:>10} {server_cpu:>10} {r.client_cpu:>10.0%}{flag}"
        )
    for note in report["notes"]:
        print(f"note: {note}")
    flagged = [r for r in results if r.errors or r.hit_request_cap]
    for r in flagged:
        detail = ", ".join(f"HTTP {status}: {count}" for status, count in sorted(r.error_statuses.items()))
        extra = [
            f"{r.connection_failures} connection failure(s)" if r.connection_failures else "",
            f"{r.protocol_errors} unparsable response(s)" if r.protocol_errors else "",
            "hit the request cap" if r.hit_request_cap else "",
        ]
        print(f"FLAGGED {r.name}: " + "; ".join(part for part in [detail, *extra] if part))
    print()
    print("goals (product targets, one server process, concurrency 32):")
    for mark in report["goals"]:
        print(f"  [{'PASS' if mark['passed'] else 'FAIL'}] {mark['goal']:<60} {mark['value']}")


# --------------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per scenario")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up per scenario")
    parser.add_argument("--concurrency", type=int, default=32, help="keep-alive connections")
    parser.add_argument("--templates", type=int, default=50, help="templates seeded besides the one read")
    parser.add_argument("--max-requests", type=int, default=2_000_000, help="cap on requests per scenario")
    parser.add_argument(
        "--backends", default="sqlite,postgresql", help="comma-separated subset of sqlite,postgresql"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BARYON_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="a database on the PostgreSQL server to create the benchmark database from",
    )
    parser.add_argument("--no-ceiling", action="store_true", help="skip the Starlette ceiling")
    parser.add_argument(
        "--observability",
        choices=("on", "off", "both"),
        default="on",
        help="metrics and JSON request logs on (as shipped), off, or both to compare",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=4,
        help="with --observability both: alternating off/on windows per scenario (--duration is split)",
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable results only")
    parser.add_argument("--serve-ceiling", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--load-generator", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    backends = [item.strip() for item in args.backends.split(",") if item.strip()]
    if not set(backends) <= {"sqlite", "postgresql"}:
        parser.error("--backends takes sqlite and/or postgresql")
    args.backends = backends
    if not 0 < args.duration <= 3600:
        parser.error("--duration must be in (0, 3600]")
    if not 1 <= args.rounds <= 100:
        parser.error("--rounds must be in [1, 100]")
    if not 0 <= args.warmup <= 60:
        parser.error("--warmup must be in [0, 60]")
    if not 1 <= args.concurrency <= 1024:
        parser.error("--concurrency must be in [1, 1024]")
    if not 0 <= args.templates <= 90:
        parser.error("--templates must be in [0, 90] (the default quota is 100 templates)")
    return args


def run(args: argparse.Namespace) -> int:
    global LOADAVG_AT_START
    LOADAVG_AT_START = load_average()
    interrupt_on_signals()
    processes = Processes()
    root = Path(tempfile.mkdtemp(prefix="baryon-bench-"))
    results: list[Result] = []
    notes: list[str] = []
    pg_version: str | None = None
    try:
        bench = Bench(args, root, processes)
        if not args.no_ceiling:
            results.append(bench.ceiling())
        for backend in args.backends:
            if backend == "sqlite":
                if args.observability == "both":
                    results += bench.compared("sqlite", (None, None))
                else:
                    results += bench.baryon("sqlite", None, args.observability == "on")
                continue
            reason = postgres_reachable(args.postgres_url)
            if reason is not None:
                note = f"PostgreSQL skipped: {reason}"
                notes.append(note)
                log(note)
                continue
            if args.observability == "both":
                with (
                    fresh_postgres_database(args.postgres_url) as off_url,
                    fresh_postgres_database(args.postgres_url) as on_url,
                ):
                    pg_version = postgres_version(on_url)
                    results += bench.compared("postgresql", (off_url, on_url))
            else:
                with fresh_postgres_database(args.postgres_url) as database_url:
                    pg_version = postgres_version(database_url)
                    results += bench.baryon("postgresql", database_url, args.observability == "on")
    except BenchmarkError as error:
        log(f"benchmark failed: {error}")
        return 1
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        return 130
    finally:
        processes.stop_all()
        shutil.rmtree(root, ignore_errors=True)

    ceiling = next((r for r in results if r.backend == "ceiling"), None)
    for result in results:
        if ceiling is not None and ceiling.rps > 0:
            result.ratio_to_ceiling = result.rps / ceiling.rps
    report: dict[str, Any] = {
        "command": shlex.join(sys.orig_argv),
        "machine": machine_info(),
        "postgresql_version": pg_version,
        "settings": {
            "observability": args.observability,
            "concurrency": args.concurrency,
            "warmup": args.warmup,
            "duration": args.duration,
            "templates": args.templates + 1,
            "uvicorn": uvicorn_options(),
        },
        "results": [asdict(result) for result in results],
        "notes": notes,
    }
    report["goals"] = goals(results)
    if args.json:
        print(json.dumps(finite(report), indent=2, allow_nan=False, default=repr))
    else:
        print_table(report, results)
    broken = [r.name for r in results if r.requests - r.errors <= 0]
    if broken:
        log(f"no successful request in: {', '.join(broken)}")
        return 1
    return 0


def main() -> None:
    args = parse_args()
    if args.load_generator:
        load_generator_main()
        return
    if args.serve_ceiling is not None:
        serve_ceiling(args.serve_ceiling)
        return
    sys.exit(run(args))


if __name__ == "__main__":
    main()
