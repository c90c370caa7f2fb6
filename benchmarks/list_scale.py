"""Latency of ListServiceInstances pages with 1,000 and 100,000 service instances, SQLite and PostgreSQL.

For each backend (SQLite in a fresh temporary data dir; PostgreSQL in a fresh database that is dropped
afterwards) and each size, the benchmark migrates the database with `baryon db upgrade`, seeds templates,
template versions, environments, services and service instances directly with SQLAlchemy Core (through
the API, 100,000 instances would take hours), starts a real `baryon server` and measures signed
ListServiceInstances requests (maxResults=100) from the client side, one at a time over one keep-alive
connection to 127.0.0.1:

- walk: follow nextToken from the first page to the last (wrapping around to the first page until at
  least --pages pages were measured);
- deep: --deep requests with nextTokens picked at random among those the walk collected.

Scenarios: the default sort (serviceName, name), an `environmentName` filter (10% of the instances), a
`deploymentStatus` filter (4%) and an `environmentName` filter on a small environment (0.1%). For each
scenario the statement the server runs is captured in-process (same database, same
handler) and timed on its own, so that the database's share of a page is visible; with --explain, or
when a goal is missed, its plan (EXPLAIN QUERY PLAN / EXPLAIN ANALYZE) is printed.

The scale goal compares pages of equal size: a filter that matches fewer instances than a page in the
smallest fleet (the 0.1% environment lists one instance among 1,000) is measured again in every fleet with
maxResults set to that smaller count, and that series is the one held to the ratio goal.

Run from the repository root:

    python3 benchmarks/list_scale.py
    python3 benchmarks/list_scale.py --quick
    python3 benchmarks/list_scale.py --backends sqlite --sizes 1000,100000 --explain

Everything it starts (server processes, temp dirs, the PostgreSQL databases) is removed on exit,
including on Ctrl-C.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import http.client
import io
import json
import os
import platform
import random
import shlex
import shutil
import statistics
import sys
import tarfile
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

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
    run_baryon,
    wait_listening,
)
from tests.support import bundles

HOST = "127.0.0.1"
REGION = "us-east-1"
SERVICE = "proton"
ACCOUNT_ID = "111111111111"
TARGET_PREFIX = "AwsProton20200720."
CONTENT_TYPE = "application/x-amz-json-1.0"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
#: A fixed deployment key, so that the credential created by the CLI is readable by the server and the
#: pagination tokens the server issues are readable by the in-process query capture.
SECRET_KEY = base64.urlsafe_b64encode(hashlib.sha256(b"baryon-list-scale-benchmark").digest()).decode()
PAGE_SIZE = 100
LOADAVG_AT_START: tuple[float, float, float] | None = None

# The product's goals for ListServiceInstances.
GOAL_P99_MS = 30.0
GOAL_RATIO = 1.5

# Seeded data: shares of deployment statuses and the minor versions instances run.
FAILED_SHARE = 0.04
IN_PROGRESS_SHARE = 0.01
MINOR_WEIGHTS = (0.1, 0.2, 0.3, 0.4)
STAGES = ("prod", "staging", "dev", "qa", "perf")
REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "ap-northeast-1")
TEAMS = (
    "payments", "orders", "search", "identity", "billing", "catalog", "shipping", "reviews", "ads",
    "notifications", "analytics", "inventory", "checkout", "pricing", "profiles", "media",
)  # fmt: skip
PARTS = ("api", "worker", "web", "gateway", "indexer", "scheduler", "stream", "sync")
SERVICE_TEMPLATES = ("web-service", "queue-worker", "scheduled-job")
#: A small environment: the last instance of one service in CANARY_EVERY runs there (0.1% of instances
#: with 20 instances per service), so that filtering on it has few matches among many rows.
CANARY = "canary-us-east-1"
CANARY_EVERY = 50
FAILURE = (
    'Queue (AWS::SQS::Queue): Resource handler returned message: "Value 1209601 for parameter '
    'MessageRetentionPeriod is invalid. Reason: Must be an integer value between 60 and 1209600."'
)

SCHEMA = bundles.service_schema(
    bundles.properties(
        bundles.PORT_INPUT,
        """        desired_count:
          type: number
          default: 1
""",
    )
)
MANIFEST = """infrastructure:
  templates:
    - file: "cloudformation.yaml"
      rendering_engine: jinja
      template_language: cloudformation
"""
INSTANCE_TEMPLATE = """Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: '{{ service.name }}-{{ service_instance.name }}'
      VisibilityTimeout: %d
Outputs:
  QueueUrl:
    Value: !Ref Queue
  QueueArn:
    Value: !GetAtt Queue.Arn
"""


# --------------------------------------------------------------------------------------------------------
# Processes, databases, temp dirs
# --------------------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------------------
# Seeding
# --------------------------------------------------------------------------------------------------------


@dataclass
class Seeded:
    """What was written, and how many instances each scenario's filter should list."""

    instances: int
    services: int
    environments: list[str]
    counts: dict[str, int]
    seconds: float
    database_bytes: int | None = None


def _bundle(visibility: int) -> bytes:
    files = {
        "service/schema/schema.yaml": SCHEMA,
        "service/instance_infrastructure/manifest.yaml": MANIFEST,
        "service/instance_infrastructure/cloudformation.yaml": INSTANCE_TEMPLATE % visibility,
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def environment_names(count: int) -> list[str]:
    """`count` ordinary environments, then the small canary environment."""
    names = [f"{stage}-{region}" for stage in STAGES for region in REGIONS]
    if count > len(names):
        names += [f"sandbox-{index:03d}" for index in range(count - len(names))]
    return [*names[:count], CANARY]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128)))


def _template_rows(now: float) -> list[dict[str, Any]]:
    kinds = [("ENVIRONMENT", "vpc-env")] + [("SERVICE", name) for name in SERVICE_TEMPLATES]
    return [
        {
            "id": index + 1,
            "account_id": ACCOUNT_ID,
            "region": REGION,
            "kind": kind,
            "name": name,
            "display_name": name.replace("-", " ").title(),
            "description": f"The {name} template of the platform team.",
            "encryption_key": None,
            "provisioning": "CUSTOMER_MANAGED" if kind == "SERVICE" else None,
            "recommended_major": 1,
            "recommended_minor": len(MINOR_WEIGHTS) - 1 if kind == "SERVICE" else 0,
            "created_at": now - 200 * 86400,
            "last_modified_at": now - 30 * 86400,
        }
        for index, (kind, name) in enumerate(kinds)
    ]


def _version_rows(template_ids: dict[str, int], now: float) -> list[dict[str, Any]]:
    from baryon.bundles.load import load_bundle

    rows = []
    for name in SERVICE_TEMPLATES:
        for minor in range(len(MINOR_WEIGHTS)):
            data = _bundle(30 + minor)
            info = load_bundle(data, kind="SERVICE", has_pipeline=False)
            created = now - (200 - 40 * minor) * 86400
            rows.append(
                {
                    "template_id": template_ids[name],
                    "major": 1,
                    "minor": minor,
                    "status": "PUBLISHED",
                    "status_message": None,
                    "description": f"Minor version {minor}",
                    "schema_text": info.schema_text,
                    "compatible_environment_templates": json.dumps(
                        [{"templateName": "vpc-env", "majorVersion": "1"}]
                    ),
                    "supported_component_sources": None,
                    "source_bucket": "platform-templates",
                    "source_key": f"{name}/1.{minor}.tar.gz",
                    "bundle": data,
                    "bundle_info": json.dumps({"schema": info.schema, "parts": info.parts}),
                    "created_at": created,
                    "last_modified_at": created,
                    "deleted_at": None,
                }
            )
    return rows


def _environment_rows(
    names: list[str], template_id: int, now: float, rng: random.Random
) -> list[dict[str, Any]]:
    rows = []
    for index, name in enumerate(names):
        deployed = now - 150 * 86400 + index * 3600
        deployment = _uuid(rng)
        vpc = f"vpc-{index:017x}"
        rows.append(
            {
                "id": index + 1,
                "account_id": ACCOUNT_ID,
                "region": REGION,
                "name": name,
                "template_id": template_id,
                "description": f"The {name} environment",
                "proton_service_role_arn": f"arn:aws:iam::{ACCOUNT_ID}:role/proton-service",
                "environment_account_connection_id": None,
                "environment_account_id": None,
                "provisioning_repository": None,
                "codebuild_role_arn": None,
                "component_role_arn": None,
                "provisioning": None,
                "template_major": 1,
                "template_minor": 0,
                "spec": "proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.0.0.0/16\n",
                "inputs": json.dumps({"vpc_cidr": "10.0.0.0/16"}),
                "deployment_status": "SUCCEEDED",
                "deployment_status_message": None,
                "created_at": deployed,
                "last_deployment_attempted_at": deployed,
                "last_deployment_succeeded_at": deployed,
                "last_attempted_deployment_id": deployment,
                "last_succeeded_deployment_id": deployment,
                "outputs": json.dumps([{"key": "VpcId", "valueString": vpc}]),
                "resources": json.dumps(
                    [{"name": "VPC", "identifier": vpc, "provisioningEngine": "CLOUDFORMATION"}]
                ),
                "stack_id": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/AWSProton-{name}/"
                + _uuid(rng),
            }
        )
    return rows


def _service_spec(instances: list[tuple[str, str]], port: int) -> str:
    lines = ["proton: ServiceSpec", "instances:"]
    for name, environment in instances:
        lines += [f"  - name: {name}", f"    environment: {environment}", "    spec:", f"      port: {port}"]
    return "\n".join(lines) + "\n"


def _members(index: int, count: int, envs: list[str], rng: random.Random) -> list[tuple[str, str]]:
    """(instance name, environment) of one service: spread over the ordinary environments; one service in
    CANARY_EVERY has its last instance in the canary environment."""
    ordinary = envs[:-1]
    offset = rng.randrange(len(ordinary))
    members = []
    for k in range(count):
        environment = ordinary[(offset + k) % len(ordinary)]
        name = environment if count <= len(ordinary) else f"{environment}-{k // len(ordinary) + 1}"
        members.append((name, environment))
    if index % CANARY_EVERY == 0 and members:
        members[-1] = (CANARY, CANARY)
    return members


def _instance_row(
    instance_id: int, service_id: int, service: str, member: tuple[str, str], spec: str, port: int,
    created: float, now: float, environment_id: int, template: str, rng: random.Random,
) -> dict[str, Any]:  # fmt: skip
    name, environment = member
    draw = rng.random()
    status = "SUCCEEDED"
    if draw < FAILED_SHARE:
        status = "FAILED"
    elif draw < FAILED_SHARE + IN_PROGRESS_SHARE:
        status = "IN_PROGRESS"
    attempted = created + rng.uniform(0, now - created)
    attempt = _uuid(rng)
    queue = f"{service}-{name}"
    url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{queue}"
    outputs = [
        {"key": "QueueUrl", "valueString": url},
        {"key": "QueueArn", "valueString": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue}"},
    ]
    return {
        "id": instance_id,
        "service_id": service_id,
        "name": name,
        "environment_id": environment_id,
        "last_client_request_token": None,
        "account_id": ACCOUNT_ID,
        "region": REGION,
        "service_name": service,
        "environment_name": environment,
        "template_name": template,
        "template_major": 1,
        "template_minor": rng.choices(range(len(MINOR_WEIGHTS)), MINOR_WEIGHTS)[0],
        "spec": spec,
        "inputs": json.dumps({"port": port, "desired_count": 2}),
        "deployment_status": status,
        "deployment_status_message": FAILURE if status == "FAILED" else None,
        "created_at": created,
        "last_deployment_attempted_at": attempted,
        "last_deployment_succeeded_at": attempted if status == "SUCCEEDED" else created,
        "last_attempted_deployment_id": attempt,
        "last_succeeded_deployment_id": attempt if status == "SUCCEEDED" else _uuid(rng),
        "outputs": json.dumps(outputs),
        "resources": json.dumps(
            [{"name": "Queue", "identifier": url, "provisioningEngine": "CLOUDFORMATION"}]
        ),
        "stack_id": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/AWSProton-{queue}/{attempt}",
    }


def seed(database_url: str, size: int, per_service: int, environment_count: int, seed_value: int) -> Seeded:
    """Write `size` service instances (and everything they hang off) as the API would have left them.

    Services are created in an order unrelated to their names, as they would be over time; the instances
    of one service are inserted together and carry the service's whole spec, as CreateService does."""
    import sqlalchemy as sa

    from baryon.store import schema

    started = time.perf_counter()
    rng = random.Random(f"{seed_value}-{size}")
    now = time.time()
    envs = environment_names(environment_count)
    env_ids = {name: index + 1 for index, name in enumerate(envs)}
    service_count = -(-size // per_service)
    counts = {"all": 0, "FAILED": 0, "IN_PROGRESS": 0, "SUCCEEDED": 0} | {f"env:{name}": 0 for name in envs}
    engine = sa.create_engine(database_url)
    postgres = engine.dialect.name == "postgresql"
    try:
        with engine.begin() as connection:
            template_rows = _template_rows(now)
            template_ids = {row["name"]: int(row["id"]) for row in template_rows}
            connection.execute(sa.insert(schema.templates), template_rows)
            connection.execute(sa.insert(schema.template_versions), _version_rows(template_ids, now))
            connection.execute(
                sa.insert(schema.environments), _environment_rows(envs, template_ids["vpc-env"], now, rng)
            )
            names = [f"{rng.choice(TEAMS)}-{rng.choice(PARTS)}-{index:05d}" for index in range(service_count)]
            rng.shuffle(names)
            services: list[dict[str, Any]] = []
            instances: list[dict[str, Any]] = []
            remaining = size
            instance_id = 0
            for index, service in enumerate(names):
                count = min(per_service, remaining)
                remaining -= count
                created = now - rng.uniform(1, 180) * 86400
                members = _members(index, count, envs, rng)
                port = rng.choice((80, 443, 8080, 9000))
                spec = _service_spec(members, port)
                services.append(
                    {
                        "id": index + 1,
                        "account_id": ACCOUNT_ID,
                        "region": REGION,
                        "name": service,
                        "template_id": template_ids[SERVICE_TEMPLATES[index % len(SERVICE_TEMPLATES)]],
                        "description": f"The {service.split('-')[0]} team's {service} service",
                        "spec": spec,
                        "status": "ACTIVE",
                        "status_message": None,
                        "repository_connection_arn": None,
                        "repository_id": None,
                        "branch_name": None,
                        "created_at": created,
                        "last_modified_at": created,
                    }
                )
                for member in members:
                    instance_id += 1
                    row = _instance_row(
                        instance_id, index + 1, service, member, spec, port, created, now,
                        env_ids[member[1]], SERVICE_TEMPLATES[index % len(SERVICE_TEMPLATES)], rng,
                    )  # fmt: skip
                    instances.append(row)
                    counts["all"] += 1
                    counts[row["deployment_status"]] += 1
                    counts[f"env:{member[1]}"] += 1
                if len(instances) >= 5000 or remaining == 0:
                    connection.execute(sa.insert(schema.services), services)
                    connection.execute(sa.insert(schema.service_instances), instances)
                    services.clear()
                    instances.clear()
            if postgres:
                for table in (
                    "templates",
                    "template_versions",
                    "environments",
                    "services",
                    "service_instances",
                ):
                    connection.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
        with engine.connect() as connection:
            if postgres:
                # What autovacuum does shortly after a bulk load; without it the planner guesses blindly.
                connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
                size_bytes = int(
                    connection.exec_driver_sql("SELECT pg_database_size(current_database())").scalar_one()
                )
            else:
                pages = int(connection.exec_driver_sql("PRAGMA page_count").scalar_one())
                size_bytes = pages * int(connection.exec_driver_sql("PRAGMA page_size").scalar_one())
    finally:
        engine.dispose()
    return Seeded(size, service_count, envs, counts, time.perf_counter() - started, size_bytes)


# --------------------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------------------


def signed(
    port: int, access_key: str, secret_key: str, operation: str, params: dict[str, Any]
) -> tuple[bytes, dict[str, str]]:
    """Body and headers of a request signed with SigV4 exactly as botocore signs it (Host excluded)."""
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
    return body, {name: str(value) for name, value in request.headers.items() if name.lower() != "host"}


class Client:
    """One keep-alive connection; each call is signed before its clock starts."""

    def __init__(self, port: int, access_key: str, secret_key: str) -> None:
        self.port = port
        self.access_key = access_key
        self.secret_key = secret_key
        self.connection = http.client.HTTPConnection(HOST, port, timeout=60)

    def call(self, operation: str, params: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        body, headers = signed(self.port, self.access_key, self.secret_key, operation, params)
        started = time.perf_counter()
        self.connection.request("POST", "/", body, headers)
        response = self.connection.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise BenchmarkError(f"{operation} {params} answered {response.status}: {data[:500]!r}")
        document: dict[str, Any] = json.loads(data)
        return elapsed, document

    def close(self) -> None:
        self.connection.close()


# --------------------------------------------------------------------------------------------------------
# The statement behind a request, captured in-process
# --------------------------------------------------------------------------------------------------------


class StatementProbe:
    """Runs ListServiceInstances in this process against the benchmark's database and captures the SQL.

    The plan and the timing are those of the statement the server's handler really issues, whatever its
    shape; a page token issued by the server is valid here too (same deployment key)."""

    def __init__(
        self, data_dir: Path, database_url: str, port: int, access_key: str, secret_key: str
    ) -> None:
        import sqlalchemy as sa

        from baryon.api.dispatch import Dispatcher
        from baryon.config import Settings
        from baryon.runtime import open_runtime

        settings = Settings(
            data_dir=data_dir,
            database_url=database_url,
            secret_key=SECRET_KEY,
            migrate=False,
            log_level="warning",
        )
        self.runtime = open_runtime(settings, migrate=False)
        self.dispatcher = Dispatcher(self.runtime)
        self.port = port
        self.access_key = access_key
        self.secret_key = secret_key
        self.capturing = False
        self.captured: list[tuple[str, Any]] = []
        self.is_sqlite = self.runtime.database.is_sqlite
        sa.event.listen(self.runtime.database.engine, "before_cursor_execute", self._capture)

    def _capture(
        self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, _many: bool
    ) -> None:
        if self.capturing:
            self.captured.append((statement, parameters))

    def _request(self, params: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        body, headers = signed(self.port, self.access_key, self.secret_key, "ListServiceInstances", params)
        lowered = {name.lower(): value for name, value in headers.items()}
        lowered["host"] = f"{HOST}:{self.port}"
        return body, lowered

    def handle_ms(self, params: dict[str, Any], repeat: int) -> float:
        """Median time of the whole request in the handler (signature, query, shaping, encoding)."""
        samples = []
        for _ in range(repeat):
            body, headers = self._request(params)
            started = time.perf_counter()
            self.dispatcher.handle("POST", "/", "", headers, body)
            samples.append((time.perf_counter() - started) * 1000)
        return statistics.median(samples)

    def statement(self, params: dict[str, Any]) -> tuple[str, Any]:
        body, headers = self._request(params)
        self.captured = []
        self.capturing = True
        try:
            response = self.dispatcher.handle("POST", "/", "", headers, body)
        finally:
            self.capturing = False
        if response.status != 200:
            raise BenchmarkError(
                f"in-process ListServiceInstances answered {response.status}: {response.body[:300]!r}"
            )
        candidates = [
            item for item in self.captured if "service_instances" in item[0] and "LIMIT" in item[0].upper()
        ]
        if not candidates:
            raise BenchmarkError("no ListServiceInstances statement was captured")
        return max(candidates, key=lambda item: len(item[0]))

    def time_ms(self, statement: str, parameters: Any, repeat: int) -> float:
        samples = []
        with self.runtime.database.engine.connect() as connection:
            for _ in range(repeat):
                started = time.perf_counter()
                connection.exec_driver_sql(statement, parameters).fetchall()
                samples.append((time.perf_counter() - started) * 1000)
            connection.rollback()
        return statistics.median(samples)

    def plan(self, statement: str, parameters: Any) -> list[str]:
        with self.runtime.database.engine.connect() as connection:
            if self.is_sqlite:
                rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
                depth: dict[int, int] = {0: -1}
                lines = []
                for node, parent, _unused, detail in rows:
                    depth[node] = depth.get(parent, -1) + 1
                    lines.append("  " * depth[node] + str(detail))
            else:
                rows = connection.exec_driver_sql(
                    "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
                ).fetchall()
                lines = [str(row[0]) for row in rows]
            connection.rollback()
        return lines

    def close(self) -> None:
        self.runtime.close()


# --------------------------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------------------------


@dataclass
class Result:
    backend: str
    size: int
    scenario: str
    params: dict[str, Any]
    expected: int
    listed: int | None  # instances listed by the first complete walk (None: the walk did not finish)
    walk_pages: int
    deep_pages: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    walk_p50_ms: float
    walk_p99_ms: float
    deep_p50_ms: float | None
    deep_p99_ms: float | None
    deepest_page: int
    items_per_page: float
    handler_first_ms: float | None = None
    handler_deep_ms: float | None = None
    db_first_ms: float | None = None
    db_deep_ms: float | None = None
    notes: list[str] = field(default_factory=list)
    plans: dict[str, list[str]] = field(default_factory=dict)
    statement: str | None = None
    #: For a scenario measured again with pages as small as the smallest fleet's matches: the scenario whose
    #: scale ratio it stands for (pages of equal size at both fleet sizes).
    ratio_of: str | None = None


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def scenarios(seeded: Seeded) -> list[tuple[str, dict[str, Any], int]]:
    """(name, request parameters, instances that match)."""
    environment = seeded.environments[min(2, len(seeded.environments) - 2)]
    return [
        ("default sort", {}, seeded.counts["all"]),
        (
            f"environmentName={environment}",
            {"filters": [{"key": "environmentName", "value": environment}]},
            seeded.counts[f"env:{environment}"],
        ),
        (
            "deploymentStatus=FAILED",
            {"filters": [{"key": "deploymentStatus", "value": "FAILED"}]},
            seeded.counts["FAILED"],
        ),
        (
            f"environmentName={CANARY}",
            {"filters": [{"key": "environmentName", "value": CANARY}]},
            seeded.counts[f"env:{CANARY}"],
        ),
    ]


def measure(
    client: Client,
    backend: str,
    size: int,
    name: str,
    params: dict[str, Any],
    expected: int,
    args: argparse.Namespace,
    page_size: int = PAGE_SIZE,
) -> tuple[Result, list[str | None]]:
    """Walk and deep pages of one scenario; returns the result and the tokens (first walk, in order)."""
    rng = random.Random(f"{args.seed}-{backend}-{size}-{name}")
    base = {**params, "maxResults": page_size}
    for _ in range(args.warmup):
        client.call("ListServiceInstances", base)
    deadline = time.monotonic() + args.scenario_seconds
    walk: list[float] = []
    items = 0
    tokens: list[str | None] = [None]  # the token that fetched each page of the first walk (None: page 1)
    first_walk_done = False
    listed = 0
    notes: list[str] = []
    token: str | None = None
    while True:
        request = dict(base, nextToken=token) if token else base
        elapsed, document = client.call("ListServiceInstances", request)
        walk.append(elapsed)
        items += len(document.get("serviceInstances", []))
        if not first_walk_done:
            listed += len(document.get("serviceInstances", []))
        token = document.get("nextToken")
        if token is None:
            first_walk_done = True
        elif not first_walk_done:
            tokens.append(token)
        if first_walk_done and len(walk) >= args.pages:
            break
        if len(walk) >= args.max_pages:
            notes.append(f"walk stopped at the page cap ({args.max_pages})")
            break
        if time.monotonic() > deadline:
            notes.append(f"walk stopped at the time budget ({args.scenario_seconds:g} s)")
            break
    deep: list[float] = []
    deep_tokens = [t for t in tokens if t is not None]
    if deep_tokens:
        for _ in range(args.deep):
            if time.monotonic() > deadline:
                notes.append(f"deep pages stopped at the time budget ({args.scenario_seconds:g} s)")
                break
            elapsed, _document = client.call(
                "ListServiceInstances", dict(base, nextToken=rng.choice(deep_tokens))
            )
            deep.append(elapsed)
    else:
        notes.append("one page only: no deep pages")
    if first_walk_done and listed != expected:
        notes.append(f"MISMATCH: listed {listed} instances, {expected} match")
    both = [value * 1000 for value in walk + deep]
    walk_ms = [value * 1000 for value in walk]
    deep_ms = [value * 1000 for value in deep]
    result = Result(
        backend=backend,
        size=size,
        scenario=name,
        params=params,
        expected=expected,
        listed=listed if first_walk_done else None,
        walk_pages=len(walk),
        deep_pages=len(deep),
        p50_ms=percentile(both, 0.50),
        p90_ms=percentile(both, 0.90),
        p99_ms=percentile(both, 0.99),
        max_ms=max(both),
        walk_p50_ms=percentile(walk_ms, 0.50),
        walk_p99_ms=percentile(walk_ms, 0.99),
        deep_p50_ms=percentile(deep_ms, 0.50) if deep_ms else None,
        deep_p99_ms=percentile(deep_ms, 0.99) if deep_ms else None,
        deepest_page=len(tokens),
        items_per_page=items / len(walk),
        notes=notes,
    )
    return result, tokens


class Bench:
    def __init__(self, args: argparse.Namespace, root: Path, processes: Processes) -> None:
        self.args = args
        self.root = root
        self.processes = processes
        self.results: list[Result] = []
        self.seeded: dict[tuple[str, int], Seeded] = {}
        #: (backend, scenario) -> instances it matched in the smallest fleet (sizes run smallest first).
        self.smallest: dict[tuple[str, str], int] = {}

    def run(self, backend: str, size: int, database_url: str | None) -> None:
        data_dir = self.root / f"{backend}-{size}"
        data_dir.mkdir(mode=0o700)
        url = database_url or f"sqlite:///{data_dir / 'baryon.db'}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BARYON_"))}
        env.update(
            {
                "BARYON_DATA_DIR": str(data_dir),
                "BARYON_DATABASE_URL": url,
                "BARYON_SECRET_KEY": SECRET_KEY,
                "BARYON_LOG_LEVEL": "warning",
            }
        )
        log(f"{backend} {size:,}: baryon db upgrade")
        run_baryon(["db", "upgrade"], env, "db upgrade")
        seeded = seed(url, size, self.args.per_service, self.args.environments, self.args.seed)
        self.seeded[(backend, size)] = seeded
        megabytes = f", database {seeded.database_bytes / 1e6:,.0f} MB" if seeded.database_bytes else ""
        log(
            f"  seeded {seeded.instances:,} instances of {seeded.services:,} services in "
            f"{len(seeded.environments)} environments in {seeded.seconds:.1f} s{megabytes}"
        )
        created = run_baryon(
            ["credentials", "create", "--account-id", ACCOUNT_ID, "--output", "json"],
            env,
            "credentials create",
        )
        credential = json.loads(created.strip().splitlines()[-1])
        access_key, secret_key = credential["accessKeyId"], credential["secretAccessKey"]
        port = free_port()
        log_path = self.root / f"{backend}-{size}-server.log"
        argv = [*baryon_argv(), "server", "--host", HOST, "--port", str(port)]
        log(f"  {shlex.join(argv)}")
        child = self.processes.start(argv, env, log_path)
        client: Client | None = None
        probe: StatementProbe | None = None
        try:
            wait_listening(child, port, log_path)
            client = Client(port, access_key, secret_key)
            probe = StatementProbe(data_dir, url, port, access_key, secret_key)
            for name, params, expected in scenarios(seeded):
                result, tokens = measure(client, backend, size, name, params, expected, self.args)
                self.analyse(probe, result, tokens)
                self.results.append(result)
                deep = f", deep p50 {result.deep_p50_ms:.1f} ms" if result.deep_p50_ms is not None else ""
                log(
                    f"  {name}: {result.walk_pages} walk + {result.deep_pages} deep pages, "
                    f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms{deep}"
                )
                # A filter that matches fewer than a page in the smallest fleet gives smaller pages there,
                # so the scale ratio is taken on pages of that same smaller size in every fleet.
                equal = min(PAGE_SIZE, self.smallest.setdefault((backend, name), expected))
                if 0 < equal < PAGE_SIZE:
                    variant = f"{name}, {equal}/page"
                    result, _tokens = measure(
                        client, backend, size, variant, params, expected, self.args, page_size=equal
                    )
                    result.ratio_of = name
                    self.results.append(result)
                    log(f"  {variant}: p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms")
            if child.poll() is not None:
                raise BenchmarkError(f"{backend}: the server exited during the run")
        finally:
            if client is not None:
                client.close()
            if probe is not None:
                probe.close()
            self.processes.stop(child)

    def analyse(self, probe: StatementProbe, result: Result, tokens: list[str | None]) -> None:
        """Time the captured statement of the first and the deepest page; keep their plans when needed."""
        base = {**result.params, "maxResults": PAGE_SIZE}
        positions: dict[str, dict[str, Any]] = {"first page": base}
        if len(tokens) > 1 and tokens[-1] is not None:
            positions[f"page {len(tokens)}"] = dict(base, nextToken=tokens[-1])
        smaller = next(
            (r for r in self.results if r.backend == result.backend and r.scenario == result.scenario), None
        )
        missed = result.p99_ms >= GOAL_P99_MS or (
            smaller is not None
            and smaller.size < result.size
            and result.p99_ms >= GOAL_RATIO * smaller.p99_ms
        )
        try:
            captured: dict[str, tuple[str, Any, float]] = {}
            for label, params in positions.items():
                statement, parameters = probe.statement(params)
                result.statement = statement
                milliseconds = probe.time_ms(statement, parameters, self.args.db_repeat)
                handler = probe.handle_ms(params, self.args.db_repeat)
                captured[label] = (statement, parameters, milliseconds)
                if label == "first page":
                    result.db_first_ms, result.handler_first_ms = milliseconds, handler
                else:
                    result.db_deep_ms, result.handler_deep_ms = milliseconds, handler
            # Every plan with --explain; when a goal is missed, the plan of the slower position.
            chosen = list(captured) if self.args.explain else []
            if missed and not chosen:
                chosen = [max(captured, key=lambda label: captured[label][2])]
            for label in chosen:
                statement, parameters, _ = captured[label]
                result.plans[label] = probe.plan(statement, parameters)
        except Exception as error:
            result.notes.append(f"statement capture failed: {type(error).__name__}: {error}")


# --------------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    import sqlite3

    import sqlalchemy

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
        "sqlalchemy": sqlalchemy.__version__,
        "sqlite": sqlite3.sqlite_version,
    }


def ratios(results: list[Result]) -> list[dict[str, Any]]:
    rows = []
    keyed = {(r.backend, r.scenario, r.size): r for r in results}
    for backend in dict.fromkeys(r.backend for r in results):
        sizes = sorted({r.size for r in results if r.backend == backend})
        if len(sizes) < 2:
            continue
        small, large = sizes[0], sizes[-1]
        for scenario in dict.fromkeys(r.scenario for r in results if r.backend == backend):
            a, b = keyed.get((backend, scenario, small)), keyed.get((backend, scenario, large))
            if a is None or b is None:
                continue
            stands_in = any(r.ratio_of == scenario and r.backend == backend for r in results)
            rows.append(
                {
                    "backend": backend,
                    "scenario": scenario,
                    "goal": not stands_in,
                    "small": small,
                    "large": large,
                    "p50_small": a.p50_ms,
                    "p50_large": b.p50_ms,
                    "p50_ratio": b.p50_ms / a.p50_ms,
                    "p99_small": a.p99_ms,
                    "p99_large": b.p99_ms,
                    "p99_ratio": b.p99_ms / a.p99_ms,
                }
            )
    return rows


def goals(results: list[Result], ratio_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    marks = [
        {
            "goal": f"{r.backend} {r.size:,} {r.scenario}: p99 < {GOAL_P99_MS:.0f} ms",
            "value": f"{r.p99_ms:.1f} ms",
            "passed": r.p99_ms < GOAL_P99_MS,
        }
        for r in results
    ]
    marks += [
        {
            "goal": f"{row['backend']} {row['scenario']}: p99 {row['large']:,} / {row['small']:,} "
            f"< {GOAL_RATIO:g}x",
            "value": f"{row['p99_ratio']:.2f}x",
            "passed": row["p99_ratio"] < GOAL_RATIO,
        }
        for row in ratio_rows
        if row["goal"]
    ]
    marks += [
        {
            "goal": f"{r.backend} {r.size:,} {r.scenario}: lists every match",
            "value": f"{r.listed} of {r.expected}",
            "passed": r.listed == r.expected,
        }
        for r in results
        if r.listed is not None and r.listed != r.expected
    ]
    return marks


def _ms(value: float | None) -> str:
    return "-" if value is None or value != value else f"{value:.1f}"


def print_report(report: dict[str, Any], results: list[Result], ratio_rows: list[dict[str, Any]]) -> None:
    machine = report["machine"]
    print(f"command:  {report['command']}")
    print(f"machine:  nproc={machine['nproc']}  {machine['cpu']}  ({machine['platform']})")
    load = machine["loadavg_at_start"]
    if load is not None:
        print(f"          load average before the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(
        f"software: Python {machine['python']}, SQLAlchemy {machine['sqlalchemy']}, "
        f"SQLite {machine['sqlite']}, PostgreSQL {report.get('postgresql_version') or '-'}"
    )
    settings = report["settings"]
    print(
        f"requests: ListServiceInstances maxResults={PAGE_SIZE}, one at a time on one keep-alive "
        f"connection from this process; walk >= {settings['pages']} pages following nextToken, "
        f"{settings['deep']} random deep pages"
    )
    print(
        f"data:     {settings['per_service']} instances per service, "
        f"{settings['environments']} environments, {FAILED_SHARE:.0%} FAILED, "
        f"{IN_PROGRESS_SHARE:.0%} IN_PROGRESS; PostgreSQL ANALYZEd after seeding, SQLite not "
        "(Baryon never runs ANALYZE)"
    )
    for key, text in report["seeding"].items():
        print(f"seeded:   {key}: {text}")
    print()
    header = (
        f"{'backend':<10} {'instances':>9} {'scenario':<32} {'items':>5} {'pages':>9} {'p50':>6} {'p90':>6} "
        f"{'p99':>6} {'max':>6} {'deep p50':>8} {'deep p99':>8} {'handler':>11} {'db':>11}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        pages = f"{r.walk_pages}+{r.deep_pages}"
        handler = f"{_ms(r.handler_first_ms)}/{_ms(r.handler_deep_ms)}"
        db = f"{_ms(r.db_first_ms)}/{_ms(r.db_deep_ms)}"
        print(
            f"{r.backend:<10} {r.size:>9,} {r.scenario:<32} {r.items_per_page:>5.0f} {pages:>9} "
            f"{r.p50_ms:>6.1f} {r.p90_ms:>6.1f} {r.p99_ms:>6.1f} {r.max_ms:>6.1f} {_ms(r.deep_p50_ms):>8} "
            f"{_ms(r.deep_p99_ms):>8} {handler:>11} {db:>11}"
        )
        for note in r.notes:
            print(f"{'':<10} {'':>9} note: {note}")
    print(
        "milliseconds; items = instances per walk page; pages = walk+deep; p50..max over all pages, "
        "measured by the client"
    )
    print(
        "handler, db = medians in-process for page 1 / the last page of the walk: the whole request in "
        "Baryon's dispatcher\n(no HTTP), and the captured SQL statement alone"
    )
    if ratio_rows:
        print()
        header = (
            f"{'backend':<10} {'scenario':<32} {'p50 small':>9} {'p50 large':>9} {'ratio':>6} "
            f"{'p99 small':>9} {'p99 large':>9} {'ratio':>6}"
        )
        print(f"{'':<10} growth from the smallest to the largest size")
        print(header)
        print("-" * len(header))
        for row in ratio_rows:
            print(
                f"{row['backend']:<10} {row['scenario']:<32} {row['p50_small']:>9.1f} "
                f"{row['p50_large']:>9.1f} {row['p50_ratio']:>5.2f}x {row['p99_small']:>9.1f} "
                f"{row['p99_large']:>9.1f} {row['p99_ratio']:>5.2f}x"
            )
    planned = [r for r in results if r.plans]
    if planned:
        print()
        print("query plans (EXPLAIN QUERY PLAN on SQLite, EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL):")
        shown_statement: set[str] = set()
        for r in planned:
            if r.statement and r.backend not in shown_statement:
                shown_statement.add(r.backend)
                print(f"  {r.backend} statement (last captured):")
                for line in r.statement.strip().splitlines():
                    print(f"      {line.strip()}")
            for label, lines in r.plans.items():
                print(f"  {r.backend} {r.size:,} {r.scenario}, {label}:")
                for line in lines[:60]:
                    print(f"      {line}")
                if len(lines) > 60:
                    print(f"      ... ({len(lines) - 60} more lines)")
    for note in report["notes"]:
        print(f"note: {note}")
    print()
    print("goals (ListServiceInstances, maxResults=100, one client):")
    for mark in report["goals"]:
        print(f"  [{'PASS' if mark['passed'] else 'FAIL'}] {mark['goal']:<72} {mark['value']}")


# --------------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,100000", help="comma-separated service instance counts")
    parser.add_argument(
        "--backends", default="sqlite,postgresql", help="comma-separated subset of sqlite,postgresql"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BARYON_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="a database on the PostgreSQL server to create the benchmark databases from",
    )
    parser.add_argument("--pages", type=int, default=300, help="at least this many walk pages per scenario")
    parser.add_argument("--max-pages", type=int, default=1500, help="cap on walk pages per scenario")
    parser.add_argument("--deep", type=int, default=200, help="random deep pages per scenario")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured first-page requests per scenario")
    parser.add_argument("--scenario-seconds", type=float, default=90.0, help="time budget per scenario")
    parser.add_argument(
        "--per-service", type=int, default=20, help="instances per service (the default quota)"
    )
    parser.add_argument(
        "--environments",
        type=int,
        default=10,
        help="environments the instances spread over (besides the canary)",
    )
    parser.add_argument(
        "--db-repeat", type=int, default=10, help="in-process runs of each captured statement"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated data")
    parser.add_argument("--explain", action="store_true", help="print query plans of every scenario")
    parser.add_argument("--quick", action="store_true", help="smoke run: sizes 100,1000, fewer pages")
    parser.add_argument("--json", action="store_true", help="print machine-readable results only")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes = "100,1000"
        args.pages = min(args.pages, 30)
        args.deep = min(args.deep, 20)
        args.warmup = min(args.warmup, 3)
        args.scenario_seconds = min(args.scenario_seconds, 20.0)
        args.db_repeat = min(args.db_repeat, 3)
    backends = [item.strip() for item in args.backends.split(",") if item.strip()]
    if not backends or not set(backends) <= {"sqlite", "postgresql"}:
        parser.error("--backends takes sqlite and/or postgresql")
    args.backends = backends
    try:
        sizes = sorted({int(item.replace("_", "")) for item in args.sizes.split(",") if item.strip()})
    except ValueError:
        parser.error("--sizes takes comma-separated integers")
    if not sizes or not all(1 <= size <= 1_000_000 for size in sizes):
        parser.error("--sizes must be in [1, 1000000]")
    args.sizes = sizes
    if not 1 <= args.pages <= 10_000 or not args.pages <= args.max_pages <= 20_000:
        parser.error("--pages must be in [1, 10000] and --max-pages in [--pages, 20000]")
    if not 0 <= args.deep <= 10_000:
        parser.error("--deep must be in [0, 10000]")
    if not 0 <= args.warmup <= 1000:
        parser.error("--warmup must be in [0, 1000]")
    if not 1 <= args.scenario_seconds <= 3600:
        parser.error("--scenario-seconds must be in [1, 3600]")
    if not 1 <= args.per_service <= 1000:
        parser.error("--per-service must be in [1, 1000]")
    if not 1 <= args.environments <= 1000:
        parser.error("--environments must be in [1, 1000]")
    if not 1 <= args.db_repeat <= 100:
        parser.error("--db-repeat must be in [1, 100]")
    return args


def run(args: argparse.Namespace) -> int:
    global LOADAVG_AT_START
    LOADAVG_AT_START = load_average()
    interrupt_on_signals()
    processes = Processes()
    root = Path(tempfile.mkdtemp(prefix="baryon-list-scale-"))
    notes: list[str] = []
    pg_version: str | None = None
    bench = Bench(args, root, processes)
    started = time.monotonic()
    try:
        for backend in args.backends:
            if backend == "sqlite":
                for size in args.sizes:
                    bench.run("sqlite", size, None)
                continue
            reason = postgres_reachable(args.postgres_url)
            if reason is not None:
                note = f"PostgreSQL skipped: {reason}"
                notes.append(note)
                log(note)
                continue
            for size in args.sizes:
                with fresh_postgres_database(args.postgres_url) as database_url:
                    pg_version = pg_version or postgres_version(database_url)
                    bench.run("postgresql", size, database_url)
    except BenchmarkError as error:
        log(f"benchmark failed: {error}")
        return 1
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        return 130
    finally:
        processes.stop_all()
        shutil.rmtree(root, ignore_errors=True)
    log(f"done in {time.monotonic() - started:.0f} s")
    ratio_rows = ratios(bench.results)
    report: dict[str, Any] = {
        "command": shlex.join(sys.orig_argv),
        "machine": machine_info(),
        "postgresql_version": pg_version,
        "settings": {
            "sizes": args.sizes,
            "pages": args.pages,
            "deep": args.deep,
            "per_service": args.per_service,
            "environments": args.environments,
            "scenario_seconds": args.scenario_seconds,
        },
        "seeding": {
            f"{backend} {size:,}": (
                f"{s.services:,} services, {s.instances:,} instances in {s.seconds:.1f} s"
                + (f", {s.database_bytes / 1e6:,.0f} MB" if s.database_bytes else "")
            )
            for (backend, size), s in bench.seeded.items()
        },
        "results": [asdict(result) for result in bench.results],
        "ratios": ratio_rows,
        "notes": notes,
    }
    report["goals"] = goals(bench.results, ratio_rows)
    if args.json:
        print(json.dumps(finite(report), indent=2, allow_nan=False))
    else:
        print_report(report, bench.results, ratio_rows)
    return 0


def main() -> None:
    sys.exit(run(parse_args()))


if __name__ == "__main__":
    main()
