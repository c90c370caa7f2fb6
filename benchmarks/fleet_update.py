"""Time to create a fleet of service instances and to move all of them to a new minor template version.

Two deployments of Baryon are measured, each from a client on 127.0.0.1:

1. `baryon up` (SQLite, API, engine worker threads and the local cloud in one process).
2. PostgreSQL (a fresh database, dropped afterwards): `baryon server` plus `baryon worker` processes
   against a separately started moto server; the update is run with one worker process, then again
   (to the next minor version) with two.

Each run publishes an environment template and a service template whose instance infrastructure is one
AWS::SQS::Queue, creates the environments, then the services (CreateService with all their instances,
quotas raised with BARYON_QUOTA_* variables when needed) and waits until every instance SUCCEEDED (the
create phase). It then publishes a new minor version, calls UpdateServiceInstance(MINOR_VERSION) for
every instance and waits until all of them SUCCEEDED on it (the update phase). A phase's time runs from
its first API call to the last instance's lastDeploymentSucceededAt.

Baryon's own time per deployment is measured inside the Baryon processes: each is started through this
script's probe (`fleet_update.py --probe STATS -- <baryon arguments>`), which wraps the worker loop, the
job handlers, the CloudFormation provisioner calls and the API dispatcher with wall-clock and thread-CPU
timers, then runs the real `baryon` command. Baryon's own time is the engine's job time (claim, step,
settle) minus the time inside CloudFormation provisioner calls (botocore, HTTP and, in `baryon up`, the
local cloud answering), plus the API handler time of the phase's create or update requests.

With FLEET_PROFILE_DIR set (and the yappi package installed), each Baryon process also writes a CPU
profile of all its threads there as a pstats file, rewritten every 5 seconds.

Run from the repository root:

    python3 benchmarks/fleet_update.py
    python3 benchmarks/fleet_update.py --quick
    python3 benchmarks/fleet_update.py --modes up --instances 1000 --services 10

Everything it starts (Baryon processes, the moto server, temp dirs, the PostgreSQL database) is removed
on exit, including on Ctrl-C.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import functools
import hashlib
import io
import json
import os
import platform
import resource
import shlex
import shutil
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import (
    BenchmarkError,
    Processes,
    finite,
    free_port,
    fresh_postgres_database,
    interrupt_on_signals,
    load_average,
    log,
    poll,
    postgres_reachable,
    postgres_version,
    process_cpu_seconds,
    run_baryon,
    wait_listening,
)
from tests.support import bundles
from tests.support.processes import read_exports

HOST = "127.0.0.1"
REGION = "us-east-1"
ACCOUNT_ID = "111111111111"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SECRET_KEY = base64.urlsafe_b64encode(hashlib.sha256(b"baryon-fleet-update-benchmark").digest()).decode()
BUCKET = "fleet-bundles"
ENV_TEMPLATE = "fleet-env"
SERVICE_TEMPLATE = "fleet-queue"
LOADAVG_AT_START: tuple[float, float, float] | None = None

# The product's goals.
GOAL_OWN_MS = 5.0
GOAL_FLEET_SECONDS = 60.0
#: Two workers must beat one by more than run-to-run noise (a few percent on a quiet machine).
GOAL_SPEEDUP = 1.1

ENV_SCHEMA = bundles.environment_schema("        label:\n          type: string\n          default: fleet\n")
ENV_TEMPLATE_BODY = """Resources:
  Topic:
    Type: AWS::SNS::Topic
Outputs:
  TopicArn:
    Value: !Ref Topic
"""
SERVICE_SCHEMA = bundles.service_schema(
    bundles.properties("        label:\n          type: string\n          default: fleet\n")
)
# One cheap resource; each minor version changes the queue's visibility timeout (an in-place update).
INSTANCE_TEMPLATE_BODY = """Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: '{{ service.name }}-{{ service_instance.name }}'
      VisibilityTimeout: %d
Outputs:
  QueueUrl:
    Value: !Ref Queue
"""
MANIFEST = """infrastructure:
  templates:
    - file: "cloudformation.yaml"
      rendering_engine: jinja
      template_language: cloudformation
"""


# --------------------------------------------------------------------------------------------------------
# The probe (run as `fleet_update.py --probe STATS -- <baryon arguments>` inside each Baryon process)
# --------------------------------------------------------------------------------------------------------


class ProbeStats:
    """Per name: [calls, wall seconds, thread CPU seconds], shared by every thread of the process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: dict[str, list[float]] = {}
        self.installed: list[str] = []

    def add(self, name: str, wall: float, cpu: float) -> None:
        with self.lock:
            entry = self.values.setdefault(name, [0, 0.0, 0.0])
            entry[0] += 1
            entry[1] += wall
            entry[2] += cpu

    def snapshot(self) -> dict[str, list[float]]:
        with self.lock:
            return {name: list(entry) for name, entry in self.values.items()}


def _timed(stats: ProbeStats, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            stats.add(name, time.perf_counter() - wall, time.thread_time() - cpu)

    return wrapper


def install_probes(stats: ProbeStats) -> None:
    """Wrap the engine and API entry points with timers (only those that exist in this Baryon)."""
    from baryon.api import dispatch
    from baryon.engine import steps, worker
    from baryon.engine.provisioners import cloudformation, stacks
    from baryon.store import jobs

    def patch(owner: Any, attribute: str, name: str) -> None:
        if hasattr(owner, attribute):
            setattr(owner, attribute, _timed(stats, name, getattr(owner, attribute)))
            stats.installed.append(name)

    for function in ("start_deploy", "poll", "start_delete", "deleted", "cancel"):
        patch(stacks, function, f"cfn.{function}")
    if hasattr(jobs, "claim"):
        claim = jobs.claim

        def timed_claim(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.thread_time()
            job = None
            try:
                job = claim(*args, **kwargs)
                return job
            finally:
                name = "engine.claim" if job is not None else "engine.idle_claim"
                stats.add(name, time.perf_counter() - wall, time.thread_time() - cpu)

        jobs.claim = timed_claim
        stats.installed.append("engine.claim")
    patch(jobs, "settle", "engine.settle")
    patch(cloudformation, "render", "engine.render")
    patch(steps, "save", "engine.save")
    if hasattr(steps, "finish"):
        finish = _timed(stats, "engine.finish", steps.finish)

        def counted_finish(*args: Any, **kwargs: Any) -> Any:
            outcome = args[3] if len(args) > 3 else kwargs.get("finish")
            stats.add(f"finished.{getattr(outcome, 'status', '?')}", 0.0, 0.0)
            return finish(*args, **kwargs)

        steps.finish = counted_finish
        stats.installed.append("engine.finish")
    for kind, handler in list(worker.HANDLERS.items()):
        worker.HANDLERS[kind] = dataclasses.replace(
            handler, step=_timed(stats, f"engine.step.{kind}", handler.step)
        )
        stats.installed.append(f"engine.step.{kind}")
    run_once = worker.Worker.run_once

    def timed_run_once(self: Any) -> bool:
        wall, cpu = time.perf_counter(), time.thread_time()
        worked = True
        try:
            worked = run_once(self)
            return worked
        finally:
            name = "engine.job" if worked else "engine.idle"
            stats.add(name, time.perf_counter() - wall, time.thread_time() - cpu)

    worker.Worker.run_once = timed_run_once  # type: ignore[method-assign]
    stats.installed.append("engine.job")
    handle = dispatch.Dispatcher.handle

    def timed_handle(self: Any, method: str, path: str, query: str, headers: Any, body: bytes) -> Any:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return handle(self, method, path, query, headers, body)
        finally:
            operation = str(headers.get("x-amz-target", "")).rpartition(".")[2] or "unknown"
            stats.add(f"api.{operation}", time.perf_counter() - wall, time.thread_time() - cpu)

    dispatch.Dispatcher.handle = timed_handle  # type: ignore[method-assign]
    stats.installed.append("api.*")


def probe_main(stats_path: str, baryon_args: list[str]) -> None:
    import atexit

    stats = ProbeStats()
    install_probes(stats)
    path = Path(stats_path)
    sequence = [0]

    def dump() -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        sequence[0] += 1
        document = {
            "seq": sequence[0],
            "pid": os.getpid(),
            "time": time.time(),
            "process_cpu": usage.ru_utime + usage.ru_stime,
            "installed": stats.installed,
            "stats": stats.snapshot(),
        }
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(document))
        os.replace(temporary, path)

    def dumper() -> None:
        while True:
            with contextlib.suppress(Exception):
                dump()
            time.sleep(0.2)

    threading.Thread(target=dumper, name="fleet-probe", daemon=True).start()
    atexit.register(dump)
    profile_dir = os.environ.get("FLEET_PROFILE_DIR")
    if profile_dir:
        # Optional CPU profile of every thread (needs the yappi package), rewritten as pstats every 5 s.
        import yappi  # type: ignore[import-not-found]

        yappi.set_clock_type("cpu")
        yappi.start()
        target = Path(profile_dir) / f"{Path(stats_path).stem}-{os.getpid()}.pstat"

        def save_profile() -> None:
            while True:
                time.sleep(5.0)
                with contextlib.suppress(Exception):
                    yappi.get_func_stats().save(str(target) + ".tmp", type="pstat")
                    os.replace(str(target) + ".tmp", target)

        threading.Thread(target=save_profile, name="fleet-profile", daemon=True).start()
    from baryon.cli.main import main

    sys.argv = ["baryon", *baryon_args]
    main()


# --------------------------------------------------------------------------------------------------------
# Processes, databases, temp dirs
# --------------------------------------------------------------------------------------------------------


def probed_argv(stats_path: Path, baryon_args: list[str]) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--probe", str(stats_path), "--", *baryon_args]


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat (zeros when unreadable)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return 0.0, 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values) - idle) / ticks, sum(values) / ticks


def postgres_cpu_seconds() -> float:
    """CPU seconds of the processes named postgres on this machine (the server under test, if local)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = stat.read_text()
            if text[text.index("(") + 1 : text.rindex(")")] == "postgres":
                fields = text.rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


# --------------------------------------------------------------------------------------------------------
# Bundles and specs
# --------------------------------------------------------------------------------------------------------


def tar_gz(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def environment_bundle() -> bytes:
    return tar_gz(
        {
            "environment/schema/schema.yaml": ENV_SCHEMA,
            "environment/infrastructure/manifest.yaml": MANIFEST,
            "environment/infrastructure/cloudformation.yaml": ENV_TEMPLATE_BODY,
        }
    )


def service_bundle(minor: int) -> bytes:
    return tar_gz(
        {
            "service/schema/schema.yaml": SERVICE_SCHEMA,
            "service/instance_infrastructure/manifest.yaml": MANIFEST,
            "service/instance_infrastructure/cloudformation.yaml": INSTANCE_TEMPLATE_BODY % (30 + minor),
        }
    )


def service_spec(instances: list[tuple[str, str]]) -> str:
    lines = ["proton: ServiceSpec", "instances:"]
    for name, environment in instances:
        lines += [f"  - name: {name}", f"    environment: {environment}"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------------
# A Baryon deployment under test, and the phases run against it
# --------------------------------------------------------------------------------------------------------


#: Who may assume the benchmark's role: Proton and CloudFormation.
TRUST_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ["proton.amazonaws.com", "cloudformation.amazonaws.com"]},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


@dataclass
class Target:
    """Where the client talks to, and which probed processes serve it."""

    label: str
    proton_endpoint: str
    s3_endpoint: str
    access_key: str
    secret_key: str
    account_id: str
    stats_files: dict[str, Path]  # role -> probe file
    pids: dict[str, int]  # role -> pid (probed processes and the moto server)


@dataclass
class Phase:
    name: str
    target: str
    workers: str
    deployments: int
    issue_seconds: float
    total_seconds: float
    api_p50_ms: float
    api_p99_ms: float
    failed: int
    failures: list[str]
    per_deployment: dict[str, dict[str, float]] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    cpu_split: dict[str, float] = field(default_factory=dict)
    machine_busy: float | None = None  # share of all the machine's CPUs busy during the phase

    @property
    def short(self) -> str:
        where = "up" if self.target == "baryon up" else "pg"
        what = self.name.split(" (")[0].replace("update to ", "update ")
        workers = f" {self.workers.split(' x')[0]}w" if " x " in self.workers else ""
        return f"{where} {what}{workers}"

    @property
    def rate(self) -> float:
        return self.deployments / self.total_seconds if self.total_seconds > 0 else float("nan")


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def read_stats(path: Path, attempts: int = 50) -> dict[str, Any]:
    for _ in range(attempts):
        with contextlib.suppress(OSError, ValueError):
            document: dict[str, Any] = json.loads(path.read_text())
            return document
        time.sleep(0.05)
    return {"stats": {}, "process_cpu": 0.0}


def snapshot(target: Target) -> dict[str, dict[str, Any]]:
    time.sleep(0.5)  # let the probes write what the last steps added
    taken = {role: read_stats(path) for role, path in target.stats_files.items()}
    for role, pid in target.pids.items():
        if role not in taken:
            taken[role] = {"stats": {}, "process_cpu": process_cpu_seconds(pid) or 0.0}
    if target.label == "postgresql":
        taken["postgres"] = {"stats": {}, "process_cpu": postgres_cpu_seconds()}
    busy, total = machine_cpu_seconds()
    taken["machine"] = {"stats": {}, "process_cpu": busy, "total": total}
    return taken


def difference(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Stats and process CPU added between two snapshots, summed over processes (CPU also per role)."""
    totals: dict[str, list[float]] = {}
    cpu: dict[str, float] = {}
    for role, document in after.items():
        earlier = before.get(role, {"stats": {}, "process_cpu": 0.0})
        for name, (calls, wall, thread_cpu) in document.get("stats", {}).items():
            base = earlier.get("stats", {}).get(name, [0, 0.0, 0.0])
            entry = totals.setdefault(name, [0, 0.0, 0.0])
            entry[0] += calls - base[0]
            entry[1] += wall - base[1]
            entry[2] += thread_cpu - base[2]
        cpu[role] = float(document.get("process_cpu", 0.0)) - float(earlier.get("process_cpu", 0.0))
    machine = after.get("machine", {}), before.get("machine", {})
    elapsed = float(machine[0].get("total", 0.0)) - float(machine[1].get("total", 0.0))
    return {"stats": totals, "cpu": cpu, "machine_capacity": elapsed}


def per_deployment(
    delta: dict[str, Any], deployments: int, api_operation: str
) -> dict[str, dict[str, float]]:
    """Milliseconds (wall and CPU) and calls per deployment for each part of Baryon's work."""
    stats: dict[str, list[float]] = delta["stats"]

    def total(*prefixes: str) -> list[float]:
        summed = [0.0, 0.0, 0.0]
        for name, entry in stats.items():
            if any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes):
                summed = [a + b for a, b in zip(summed, entry, strict=True)]
        return summed

    def row(entry: list[float]) -> dict[str, float]:
        n = max(deployments, 1)
        return {"calls": entry[0] / n, "wall_ms": entry[1] * 1000 / n, "cpu_ms": entry[2] * 1000 / n}

    job = total("engine.job")
    cfn = total("cfn")
    claim, settle = total("engine.claim"), total("engine.settle")
    steps = total("engine.step")
    api = total(f"api.{api_operation}")
    step_own = [steps[0], steps[1] - cfn[1], steps[2] - cfn[2]]
    own = [job[0], job[1] - cfn[1] + api[1], job[2] - cfn[2] + api[2]]
    rows = {
        f"API {api_operation} handler": row(api),
        "engine: claim a job": row(claim),
        "engine: step, Baryon code": row(step_own),
        "  render the template": row(total("engine.render")),
        "  save progress": row(total("engine.save")),
        "  record the outcome": row(total("engine.finish")),
        "engine: settle the job": row(settle),
        "Baryon's own time": row(own),
        "CloudFormation calls": row(cfn),
    }
    for name in sorted(stats):
        if name.startswith("cfn."):
            rows[f"  {name.removeprefix('cfn.')}"] = row(stats[name])
    rows["engine: whole jobs"] = row(job)
    return rows


def cpu_split(delta: dict[str, Any], probed: list[str]) -> dict[str, float]:
    """Seconds of CPU of the probed Baryon processes: Baryon's code, CloudFormation client calls, the rest."""
    stats: dict[str, list[float]] = delta["stats"]
    cfn = sum(entry[2] for name, entry in stats.items() if name.startswith("cfn."))
    baryon = sum(
        entry[2]
        for name, entry in stats.items()
        if name in ("engine.job", "engine.idle") or name.startswith("api.")
    )
    process = sum(cpu for role, cpu in delta["cpu"].items() if role in probed)
    return {
        "Baryon code (engine jobs, idle polls, API handlers)": baryon - cfn,
        "CloudFormation client calls (botocore, in the worker threads)": cfn,
        "rest of these processes (HTTP servers, threads not probed; in `baryon up` the local cloud)": (
            process - baryon
        ),
    }


class Fleet:
    """Drives one target: templates, environments, services, updates; the client side of the benchmark."""

    def __init__(self, args: argparse.Namespace, target: Target) -> None:
        import boto3
        from botocore.config import Config

        self.args = args
        self.target = target
        config = Config(
            retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=args.clients + 4
        )
        keys = {
            "region_name": REGION,
            "aws_access_key_id": target.access_key,
            "aws_secret_access_key": target.secret_key,
            "config": config,
        }
        self.proton = boto3.client("proton", endpoint_url=target.proton_endpoint, **keys)
        self.s3 = boto3.client("s3", endpoint_url=target.s3_endpoint, **keys)
        # The role lives in the same cloud as the bucket (moto, or `baryon up`'s local cloud).
        self.iam = boto3.client("iam", endpoint_url=target.s3_endpoint, **keys)
        self.role = f"arn:aws:iam::{target.account_id}:role/baryon-fleet"
        self.environments = [f"env-{index:02d}" for index in range(args.environments)]
        self.instances: list[tuple[str, str]] = []

    # -- set-up ------------------------------------------------------------------------------------------

    def wait(self, what: str, check: Callable[[], bool], timeout: float = 120.0) -> None:
        poll(check, timeout=timeout, interval=0.2, what=f"{self.target.label}: {what}", error=BenchmarkError)

    def _version_ready(self, kind: str, minor: int) -> bool:
        if kind == "environment":
            version = self.proton.get_environment_template_version(
                templateName=ENV_TEMPLATE, majorVersion="1", minorVersion=str(minor)
            )["environmentTemplateVersion"]
        else:
            version = self.proton.get_service_template_version(
                templateName=SERVICE_TEMPLATE, majorVersion="1", minorVersion=str(minor)
            )["serviceTemplateVersion"]
        if version["status"] == "REGISTRATION_FAILED":
            raise BenchmarkError(f"{kind} template version 1.{minor}: {version.get('statusMessage')}")
        return bool(version["status"] == "DRAFT")

    def publish_service_version(self, minor: int) -> None:
        key = f"service-1.{minor}.tar.gz"
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=service_bundle(minor))
        extra = {"majorVersion": "1"} if minor > 0 else {}
        self.proton.create_service_template_version(
            templateName=SERVICE_TEMPLATE,
            compatibleEnvironmentTemplates=[{"templateName": ENV_TEMPLATE, "majorVersion": "1"}],
            source={"s3": {"bucket": BUCKET, "key": key}},
            **extra,
        )
        self.wait(f"registration of 1.{minor}", lambda: self._version_ready("service", minor))
        self.proton.update_service_template_version(
            templateName=SERVICE_TEMPLATE, majorVersion="1", minorVersion=str(minor), status="PUBLISHED"
        )

    def prepare(self) -> None:
        started = time.perf_counter()
        # The local cloud, like AWS, fails a deployment whose role does not exist.
        self.iam.create_role(RoleName=self.role.rsplit("/", 1)[1], AssumeRolePolicyDocument=TRUST_POLICY)
        self.s3.create_bucket(Bucket=BUCKET)
        self.s3.put_object(Bucket=BUCKET, Key="environment.tar.gz", Body=environment_bundle())
        self.proton.create_environment_template(name=ENV_TEMPLATE)
        self.proton.create_environment_template_version(
            templateName=ENV_TEMPLATE, source={"s3": {"bucket": BUCKET, "key": "environment.tar.gz"}}
        )
        self.wait("environment template registration", lambda: self._version_ready("environment", 0))
        self.proton.update_environment_template_version(
            templateName=ENV_TEMPLATE, majorVersion="1", minorVersion="0", status="PUBLISHED"
        )
        self.proton.create_service_template(name=SERVICE_TEMPLATE, pipelineProvisioning="CUSTOMER_MANAGED")
        self.publish_service_version(0)
        for name in self.environments:
            self.proton.create_environment(
                name=name,
                templateName=ENV_TEMPLATE,
                templateMajorVersion="1",
                spec="proton: EnvironmentSpec\nspec:\n  label: fleet\n",
                protonServiceRoleArn=self.role,
            )

        def deployed() -> bool:
            statuses = [
                self.proton.get_environment(name=name)["environment"]["deploymentStatus"]
                for name in self.environments
            ]
            failed = [s for s in statuses if s not in ("IN_PROGRESS", "SUCCEEDED")]
            if failed:
                raise BenchmarkError(f"{self.target.label}: an environment ended {failed[0]}")
            return all(s == "SUCCEEDED" for s in statuses)

        self.wait("environment deployments", deployed, timeout=self.args.phase_timeout)
        log(
            f"  {len(self.environments)} environments and templates ready in "
            f"{time.perf_counter() - started:.1f} s"
        )

    # -- phases ------------------------------------------------------------------------------------------

    def _issue(self, calls: list[Callable[[], Any]]) -> tuple[float, list[float]]:
        """Run the API calls on --clients threads; (seconds to issue all, latency of each)."""
        latencies: list[float] = []
        lock = threading.Lock()

        def timed(call: Callable[[], Any]) -> None:
            started = time.perf_counter()
            call()
            with lock:
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        executor = ThreadPoolExecutor(max_workers=self.args.clients)
        try:
            for future in [executor.submit(timed, call) for call in calls]:
                future.result()
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
        return time.perf_counter() - started, latencies

    def _list_all(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = self.proton.list_service_instances(
                maxResults=100, **({"nextToken": token} if token else {})
            )
            items += page["serviceInstances"]
            token = page.get("nextToken")
            if not token:
                return items

    def _settle(
        self, started_wall: float, minor: int, before: dict[str, dict[str, Any]]
    ) -> tuple[float, int, list[str]]:
        """Wait until no instance is IN_PROGRESS; (seconds to the last success, failed count, reasons)."""
        next_report = time.monotonic() + 5
        in_progress = [{"key": "deploymentStatus", "value": "IN_PROGRESS"}]

        def busy() -> list[Any]:
            nonlocal next_report
            if time.monotonic() >= next_report:
                finished = self._finished_since(before)
                log(f"    {time.time() - started_wall:5.1f} s: {finished} deployments finished")
                next_report += 5
            found: list[Any] = self.proton.list_service_instances(filters=in_progress, maxResults=1)[
                "serviceInstances"
            ]
            return found

        poll(
            busy,
            lambda found: not found,
            timeout=self.args.phase_timeout,
            interval=self.args.poll,
            what=f"{self.target.label}: no instance IN_PROGRESS",
            error=BenchmarkError,
        )
        detected = time.time()
        items = self._list_all()
        expected = {(service, name) for service, name in self.instances}
        listed = {(i["serviceName"], i["name"]) for i in items}
        failures = [
            f"{i['serviceName']}/{i['name']}: {i['deploymentStatus']} {i.get('deploymentStatusMessage', '')}"
            for i in items
            if i["deploymentStatus"] != "SUCCEEDED" or i["templateMinorVersion"] != str(minor)
        ]
        if listed != expected:
            failures.append(f"listed {len(listed)} instances, expected {len(expected)}")
        succeeded = [
            i["lastDeploymentSucceededAt"].timestamp() for i in items if i["deploymentStatus"] == "SUCCEEDED"
        ]
        end = max(succeeded) if succeeded else detected
        return end - started_wall, len(failures), failures[:5]

    def _finished_since(self, before: dict[str, dict[str, Any]]) -> int:
        now = {role: read_stats(path) for role, path in self.target.stats_files.items()}
        total = 0
        for role, document in now.items():
            for name, entry in document.get("stats", {}).items():
                if name.startswith("finished."):
                    total += int(entry[0]) - int(before.get(role, {}).get("stats", {}).get(name, [0])[0])
        return total

    def _phase(
        self, name: str, workers: str, calls: list[Callable[[], Any]], minor: int, operation: str
    ) -> Phase:
        before = snapshot(self.target)
        started_wall = time.time()
        issue_seconds, latencies = self._issue(calls)
        log(f"    {len(calls)} {operation} calls issued in {issue_seconds:.1f} s")
        total_seconds, failed, failures = self._settle(started_wall, minor, before)
        after = snapshot(self.target)
        delta = difference(before, after)
        phase = Phase(
            name=name,
            target=self.target.label,
            workers=workers,
            deployments=len(self.instances),
            issue_seconds=issue_seconds,
            total_seconds=total_seconds,
            api_p50_ms=percentile(latencies, 0.5) * 1000,
            api_p99_ms=percentile(latencies, 0.99) * 1000,
            failed=failed,
            failures=failures,
            per_deployment=per_deployment(delta, len(self.instances), operation),
            cpu_seconds=delta["cpu"],
            cpu_split=cpu_split(delta, list(self.target.stats_files)),
            machine_busy=(
                delta["cpu"]["machine"] / delta["machine_capacity"] if delta["machine_capacity"] > 0 else None
            ),
        )
        log(
            f"  {name}: {phase.deployments} deployments in {phase.total_seconds:.1f} s "
            f"({phase.rate:.1f}/s), {failed} not SUCCEEDED"
        )
        return phase

    def create(self, workers: str) -> Phase:
        per_service = self.args.instances // self.args.services
        calls: list[Callable[[], Any]] = []
        self.instances = []
        for index in range(self.args.services):
            service = f"fleet-{index:03d}"
            members = [
                (f"i{k:03d}", self.environments[(index + k) % len(self.environments)])
                for k in range(per_service)
            ]
            self.instances += [(service, member) for member, _ in members]
            calls.append(
                functools.partial(
                    self.proton.create_service,
                    name=service,
                    templateName=SERVICE_TEMPLATE,
                    templateMajorVersion="1",
                    spec=service_spec(members),
                )
            )
        log(f"  create: {self.args.services} CreateService calls with {per_service} instances each")
        return self._phase(f"create ({self.args.services} services)", workers, calls, 0, "CreateService")

    def update(self, minor: int, workers: str) -> Phase:
        self.publish_service_version(minor)
        calls: list[Callable[[], Any]] = [
            functools.partial(
                self.proton.update_service_instance,
                serviceName=service,
                name=name,
                deploymentType="MINOR_VERSION",
            )
            for service, name in self.instances
        ]
        log(f"  update to 1.{minor}: {len(calls)} UpdateServiceInstance(MINOR_VERSION) calls")
        return self._phase(f"update to 1.{minor}", workers, calls, minor, "UpdateServiceInstance")


# --------------------------------------------------------------------------------------------------------
# The two deployments
# --------------------------------------------------------------------------------------------------------


def _quota_env(args: argparse.Namespace) -> dict[str, str]:
    per_service = args.instances // args.services
    return {
        "BARYON_QUOTA_INSTANCES_PER_SERVICE": str(max(20, per_service)),
        "BARYON_QUOTA_SERVICES": str(max(1000, args.services + 10)),
        "BARYON_QUOTA_ENVIRONMENTS": str(max(100, args.environments + 10)),
    }


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BARYON_"))}


def run_up(args: argparse.Namespace, root: Path, processes: Processes) -> list[Phase]:
    data_dir = root / "up-data"
    port, cloud_port = free_port(), free_port()
    stats = root / "up.stats.json"
    env = _clean_env() | _quota_env(args) | {"BARYON_LOG_LEVEL": "warning"}
    baryon_args = [
        "up", "--host", HOST, "--port", str(port), "--cloud-port", str(cloud_port),
        "--data-dir", str(data_dir), "--concurrency", str(args.up_concurrency),
    ]  # fmt: skip
    quotas = ", ".join(f"{key}={value}" for key, value in _quota_env(args).items())
    log(f"up: baryon {shlex.join(baryon_args)}  ({quotas})")
    log_path = root / "up.log"
    child = processes.start(probed_argv(stats, baryon_args), env, log_path)
    try:
        wait_listening(child, port, log_path, timeout=120)
        wait_listening(child, cloud_port, log_path, timeout=60)
        exports = read_exports(data_dir / "baryon.env")
        from baryon.localcloud import LOCAL_ACCOUNT_ID

        target = Target(
            label="baryon up",
            proton_endpoint=exports["AWS_ENDPOINT_URL_PROTON"],
            s3_endpoint=exports["AWS_ENDPOINT_URL_S3"],
            access_key=exports["AWS_ACCESS_KEY_ID"],
            secret_key=exports["AWS_SECRET_ACCESS_KEY"],
            account_id=LOCAL_ACCOUNT_ID,
            stats_files={"baryon up": stats},
            pids={"baryon up": child.pid},
        )
        fleet = Fleet(args, target)
        fleet.prepare()
        workers = f"{args.up_concurrency} threads"
        phases = [fleet.create(workers), fleet.update(1, workers)]
        if child.poll() is not None:
            raise BenchmarkError("baryon up exited during the run")
        return phases
    finally:
        processes.stop(child, timeout=20.0)


def run_postgres(
    args: argparse.Namespace, root: Path, processes: Processes, database_url: str
) -> list[Phase]:
    moto_port, port = free_port(), free_port()
    moto_log = root / "moto.log"
    moto = processes.start(
        [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(moto_port)], _clean_env(), moto_log
    )
    children = [moto]
    try:
        wait_listening(moto, moto_port, moto_log)
        moto_endpoint = f"http://{HOST}:{moto_port}"
        env = _clean_env() | _quota_env(args)
        env |= {
            "BARYON_DATA_DIR": str(root / "pg-data"),
            "BARYON_DATABASE_URL": database_url,
            "BARYON_SECRET_KEY": SECRET_KEY,
            "BARYON_LOG_LEVEL": "warning",
            "AWS_ENDPOINT_URL": moto_endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }
        run_baryon(["db", "upgrade"], env, "db upgrade")
        created = run_baryon(
            ["credentials", "create", "--account-id", ACCOUNT_ID, "--output", "json"],
            env,
            "credentials create",
        )
        credential = json.loads(created.strip().splitlines()[-1])
        server_stats = root / "server.stats.json"
        server_log = root / "server.log"
        server_args = ["server", "--host", HOST, "--port", str(port)]
        log(f"postgresql: baryon {shlex.join(server_args)} + baryon worker, moto server on {moto_endpoint}")
        server = processes.start(probed_argv(server_stats, server_args), env, server_log)
        children.append(server)
        wait_listening(server, port, server_log)
        worker_args = ["worker", "--concurrency", str(args.worker_concurrency)]
        first = processes.start(
            probed_argv(root / "worker-1.stats.json", worker_args), env, root / "worker-1.log"
        )
        children.append(first)
        target = Target(
            label="postgresql",
            proton_endpoint=f"http://{HOST}:{port}",
            s3_endpoint=moto_endpoint,
            access_key=credential["accessKeyId"],
            secret_key=credential["secretAccessKey"],
            account_id=ACCOUNT_ID,
            stats_files={"server": server_stats, "worker 1": root / "worker-1.stats.json"},
            pids={"server": server.pid, "worker 1": first.pid, "moto": moto.pid},
        )
        fleet = Fleet(args, target)
        fleet.prepare()
        one = f"1 x {args.worker_concurrency} threads"
        phases = [fleet.create(one), fleet.update(1, one)]
        second = processes.start(
            probed_argv(root / "worker-2.stats.json", worker_args), env, root / "worker-2.log"
        )
        children.append(second)
        target.stats_files["worker 2"] = root / "worker-2.stats.json"
        target.pids["worker 2"] = second.pid
        read_stats(target.stats_files["worker 2"], attempts=600)  # started and probing before measuring
        phases.append(fleet.update(2, f"2 x {args.worker_concurrency} threads"))
        for child in children:
            if child.poll() is not None:
                raise BenchmarkError(f"a PostgreSQL-run process (pid {child.pid}) exited during the run")
        return phases
    finally:
        for child in reversed(children):
            processes.stop(child, timeout=20.0)


# --------------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    import sqlite3

    import moto

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
        "moto": moto.__version__,
        "sqlite": sqlite3.sqlite_version,
    }


def goals(phases: list[Phase]) -> list[dict[str, Any]]:
    marks: list[dict[str, Any]] = []
    for phase in phases:
        if not phase.name.startswith("update"):
            continue
        own = phase.per_deployment["Baryon's own time"]
        marks.append(
            {
                "goal": f"{phase.target} {phase.name} ({phase.workers}): Baryon's own CPU < "
                f"{GOAL_OWN_MS:g} ms per deployment",
                "value": f"{own['cpu_ms']:.2f} ms CPU ({own['wall_ms']:.2f} ms wall)",
                "passed": own["cpu_ms"] < GOAL_OWN_MS,
            }
        )
    for phase in phases:
        if phase.target == "baryon up" and phase.name.startswith("update"):
            marks.append(
                {
                    "goal": f"baryon up: the whole fleet ({phase.deployments:,}) updated in < "
                    f"{GOAL_FLEET_SECONDS:g} s",
                    "value": f"{phase.total_seconds:.1f} s",
                    "passed": phase.total_seconds < GOAL_FLEET_SECONDS and phase.failed == 0,
                }
            )
    updates = [p for p in phases if p.target == "postgresql" and p.name.startswith("update")]
    if len(updates) == 2:
        one, two = updates
        speedup = one.total_seconds / two.total_seconds
        marks.append(
            {
                "goal": f"postgresql: two workers update the fleet faster than one (>= {GOAL_SPEEDUP:g}x, "
                "beyond noise)",
                "value": f"{one.total_seconds:.1f} s -> {two.total_seconds:.1f} s ({speedup:.2f}x)",
                "passed": speedup >= GOAL_SPEEDUP and two.failed == 0,
            }
        )
    marks += [
        {
            "goal": f"{p.target} {p.name}: every instance SUCCEEDED",
            "value": f"{p.failed} did not",
            "passed": False,
        }
        for p in phases
        if p.failed
    ]
    return marks


def print_report(report: dict[str, Any], phases: list[Phase]) -> None:
    machine = report["machine"]
    settings = report["settings"]
    print(f"command:  {report['command']}")
    print(f"machine:  nproc={machine['nproc']}  {machine['cpu']}  ({machine['platform']})")
    load = machine["loadavg_at_start"]
    if load is not None:
        print(f"          load average before the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(
        f"software: Python {machine['python']}, moto {machine['moto']}, SQLite {machine['sqlite']}, "
        f"PostgreSQL {report.get('postgresql_version') or '-'}"
    )
    print(
        f"fleet:    {settings['instances']:,} service instances = {settings['services']} services x "
        f"{settings['per_service']}, over {settings['environments']} environments; instance template: one "
        "AWS::SQS::Queue (no pipeline)"
    )
    print(
        f"client:   {settings['clients']} threads issuing the API calls; completion polled every "
        f"{settings['poll']:g} s; a phase ends at the last lastDeploymentSucceededAt"
    )
    print()
    header = (
        f"{'deployment':<12} {'phase':<24} {'workers':<16} {'deploys':>7} {'issued s':>8} {'total s':>8} "
        f"{'deploy/s':>8} {'API p50':>8} {'API p99':>8} {'failed':>6}"
    )
    print(header)
    print("-" * len(header))
    for p in phases:
        print(
            f"{p.target:<12} {p.name:<24} {p.workers:<16} {p.deployments:>7,} {p.issue_seconds:>8.1f} "
            f"{p.total_seconds:>8.1f} {p.rate:>8.1f} {p.api_p50_ms:>8.1f} {p.api_p99_ms:>8.1f} {p.failed:>6}"
        )
        for failure in p.failures:
            print(f"{'':<12} FAILED {failure}")
    print("API p50/p99: client-side latency (ms) of the phase's CreateService or UpdateServiceInstance calls")
    print()
    print("Per deployment, measured inside the Baryon processes (ms wall / ms thread CPU, calls):")
    labels = list(dict.fromkeys(label for p in phases for label in p.per_deployment))
    width = 19
    print(f"  {'':<34}" + "".join(f"{p.short:>{width}}" for p in phases))
    print(f"  {'':<34}" + "".join(f"{'wall/CPU  calls':>{width}}" for _ in phases))
    for label in labels:
        cells = []
        for p in phases:
            entry = p.per_deployment.get(label)
            cell = (
                "-"
                if entry is None
                else f"{entry['wall_ms']:.1f}/{entry['cpu_ms']:.2f} x{entry['calls']:.1f}"
            )
            cells.append(f"{cell:>{width}}")
        print(f"  {label:<34}" + "".join(cells))
    print()
    print("CPU during each phase (seconds, and cores on average over the phase):")
    for p in phases:
        seconds = max(p.total_seconds, 1e-9)
        parts = ", ".join(
            f"{role} {cpu:.1f} s ({cpu / seconds:.2f})"
            for role, cpu in p.cpu_seconds.items()
            if role != "machine"
        )
        print(f"  {p.short:<17} by process: {parts}")
        if p.machine_busy is not None:
            cores = os.cpu_count() or 1
            print(
                f"  {'':<17} whole machine: {p.machine_busy:.0%} of {cores} CPUs busy "
                f"({p.machine_busy * cores:.2f} cores; everything running, this benchmark's client included)"
            )
        total = sum(p.cpu_split.values())
        for what, cpu in p.cpu_split.items():
            share = cpu / total if total > 0 else float("nan")
            print(f"  {'':<17}   {cpu:6.1f} s {share:4.0%}  {what}")
    print()
    print(f"method:   {report['method']}")
    for note in report["notes"]:
        print(f"note: {note}")
    print()
    print("goals:")
    for mark in report["goals"]:
        print(f"  [{'PASS' if mark['passed'] else 'FAIL'}] {mark['goal']:<78} {mark['value']}")


METHOD = (
    "each Baryon process runs under this script's probe, which wraps Worker.run_once (claim, step, settle), "
    "the job handlers, the CloudFormation stack functions (start_deploy, poll, ...), "
    "cloudformation.render, steps.save/finish and Dispatcher.handle with wall-clock and thread-CPU "
    "timers. Baryon's own time = engine "
    "job time - time inside CloudFormation provisioner calls + the API handler time of the phase's "
    "requests; divided by the deployments of the phase. Wall time includes waiting for the GIL and for "
    "database locks (in `baryon up` the local cloud shares the process and its GIL); CPU time is the "
    "thread's own CPU. The goal is judged on CPU time."
)


# --------------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=1000, help="service instances in the fleet")
    parser.add_argument("--services", type=int, default=50, help="services the instances are split into")
    parser.add_argument("--environments", type=int, default=10, help="environments the instances spread over")
    parser.add_argument("--modes", default="up,postgresql", help="comma-separated subset of up,postgresql")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BARYON_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="a database on the PostgreSQL server to create the benchmark database from",
    )
    parser.add_argument("--up-concurrency", type=int, default=4, help="worker threads of `baryon up`")
    parser.add_argument("--worker-concurrency", type=int, default=4, help="threads per `baryon worker`")
    parser.add_argument("--clients", type=int, default=8, help="client threads issuing API calls")
    parser.add_argument("--poll", type=float, default=0.5, help="seconds between completion checks")
    parser.add_argument("--phase-timeout", type=float, default=600.0, help="seconds a phase may take")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 100 instances, 5 services, 5 environments"
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable results only")
    args = parser.parse_args(argv)
    if args.quick:
        args.instances, args.services, args.environments = 100, 5, 5
    modes = [item.strip() for item in args.modes.split(",") if item.strip()]
    if not modes or not set(modes) <= {"up", "postgresql"}:
        parser.error("--modes takes up and/or postgresql")
    args.modes = modes
    if not 1 <= args.instances <= 10_000:
        parser.error("--instances must be in [1, 10000]")
    if not 1 <= args.services <= args.instances or args.instances % args.services:
        parser.error("--services must divide --instances")
    if not 1 <= args.environments <= 100:
        parser.error("--environments must be in [1, 100]")
    for name in ("up_concurrency", "worker_concurrency"):
        if not 1 <= getattr(args, name) <= 64:
            parser.error(f"--{name.replace('_', '-')} must be in [1, 64]")
    if not 1 <= args.clients <= 64:
        parser.error("--clients must be in [1, 64]")
    if not 0.05 <= args.poll <= 10:
        parser.error("--poll must be in [0.05, 10]")
    if not 10 <= args.phase_timeout <= 3600:
        parser.error("--phase-timeout must be in [10, 3600]")
    return args


def run(args: argparse.Namespace) -> int:
    global LOADAVG_AT_START
    LOADAVG_AT_START = load_average()
    interrupt_on_signals()
    processes = Processes()
    root = Path(tempfile.mkdtemp(prefix="baryon-fleet-"))
    phases: list[Phase] = []
    notes: list[str] = []
    pg_version: str | None = None
    started = time.monotonic()
    try:
        for mode in args.modes:
            if mode == "up":
                phases += run_up(args, root, processes)
                continue
            reason = postgres_reachable(args.postgres_url)
            if reason is not None:
                note = f"PostgreSQL skipped: {reason}"
                notes.append(note)
                log(note)
                continue
            with fresh_postgres_database(args.postgres_url) as database_url:
                pg_version = postgres_version(database_url)
                phases += run_postgres(args, root, processes, database_url)
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
    report: dict[str, Any] = {
        "command": shlex.join(sys.orig_argv),
        "machine": machine_info(),
        "postgresql_version": pg_version,
        "settings": {
            "instances": args.instances,
            "services": args.services,
            "per_service": args.instances // args.services,
            "environments": args.environments,
            "clients": args.clients,
            "poll": args.poll,
            "up_concurrency": args.up_concurrency,
            "worker_concurrency": args.worker_concurrency,
        },
        "phases": [dataclasses.asdict(phase) | {"deployments_per_second": phase.rate} for phase in phases],
        "method": METHOD,
        "notes": notes,
    }
    report["goals"] = goals(phases)
    if args.json:
        print(json.dumps(finite(report), indent=2, allow_nan=False))
    else:
        print_report(report, phases)
    return 0


def main() -> None:
    if len(sys.argv) > 3 and sys.argv[1] == "--probe" and sys.argv[3] == "--":
        probe_main(sys.argv[2], sys.argv[4:])
        return
    sys.exit(run(parse_args()))


if __name__ == "__main__":
    main()
