"""Time of each console page with 1,000 service instances, on SQLite and PostgreSQL; and the API's throughput
with metrics and JSON request logs on versus off.

Pages: for each backend (SQLite in a fresh temporary data dir; PostgreSQL in a fresh database dropped
afterwards) the benchmark migrates the database with `baryon db upgrade`, seeds templates, versions,
environments, services, 1,000 service instances and one deployment record per instance and environment
directly with SQLAlchemy Core (the same seeding as `list_scale.py`), creates a credential with
`baryon credentials create`, starts a real `baryon server`, signs in through the console's sign-in form and
requests every console page --requests times, one at a time over one keep-alive connection, with the
session cookie, as a browser would after signing in. Each page's p50, p99 and max are printed against the
goal (p99 under 150 ms).

Throughput: `api_throughput.py --observability both` (the server as shipped beside one with BARYON_METRICS=off
and BARYON_LOG_LEVEL=warning, measured in alternating windows), for the goal that metrics and JSON logs cost
at most 10 % of throughput.

Run from the repository root:

    python3 benchmarks/console_pages.py
    python3 benchmarks/console_pages.py --backends sqlite --requests 50 --throughput-duration 5

Everything it starts (server processes, temp dirs, the PostgreSQL database) is removed on exit, including
on Ctrl-C.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness import (
    HOST,
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
from list_scale import ACCOUNT_ID, DEFAULT_POSTGRES_URL, REGION, SECRET_KEY, percentile, seed

GOAL_P99_MS = 150.0
PER_SERVICE = 20
ENVIRONMENTS = 10


@dataclass
class PageResult:
    backend: str
    page: str
    path: str
    requests: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    bytes: int


def seed_deployments(database_url: str) -> dict[str, str]:
    """One deployment record for each seeded instance and environment (their last attempted deployment), as
    the API would have left them; returns the names of a sample environment, service, instance and
    deployment for the detail pages."""
    import sqlalchemy as sa

    from baryon.store import schema

    engine = sa.create_engine(database_url)
    arn = f"arn:aws:proton:{REGION}:{ACCOUNT_ID}"
    rows: list[dict[str, Any]] = []
    try:
        with engine.begin() as connection:
            for env in connection.execute(sa.select(schema.environments)):
                state = {
                    "environment": {
                        "spec": env.spec,
                        "templateName": "vpc-env",
                        "templateMajorVersion": "1",
                        "templateMinorVersion": "0",
                    }
                }
                rows.append(_deployment(env, "ENVIRONMENT", f"{arn}:environment/{env.name}", state, env.name))
            sample: dict[str, str] = {}
            instances = connection.execute(
                sa.select(schema.service_instances).order_by(schema.service_instances.c.id)
            )
            for instance in instances:
                state = {
                    "serviceInstance": {
                        "spec": instance.spec,
                        "templateName": instance.template_name,
                        "templateMajorVersion": str(instance.template_major),
                        "templateMinorVersion": str(instance.template_minor),
                    }
                }
                target = f"{arn}:service/{instance.service_name}/service-instance/{instance.name}"
                rows.append(
                    _deployment(
                        instance,
                        "SERVICE_INSTANCE",
                        target,
                        state,
                        instance.environment_name,
                        service_name=instance.service_name,
                        service_instance_name=instance.name,
                    )
                )
                if not sample:
                    sample = {
                        "environment": instance.environment_name,
                        "service": instance.service_name,
                        "instance": instance.name,
                        "deployment": instance.last_attempted_deployment_id,
                        "template": instance.template_name,
                    }
            for start in range(0, len(rows), 2000):
                connection.execute(sa.insert(schema.deployments), rows[start : start + 2000])
    finally:
        engine.dispose()
    return sample


def _deployment(
    row: Any,
    target_type: str,
    target_arn: str,
    state: dict[str, Any],
    environment: str,
    **names: str,
) -> dict[str, Any]:
    return {
        "id": row.last_attempted_deployment_id,
        "account_id": ACCOUNT_ID,
        "region": REGION,
        "target_type": target_type,
        "target_arn": target_arn,
        "target_created_at": row.created_at,
        "operation": "UPDATE",
        "environment_name": environment,
        "service_name": names.get("service_name"),
        "service_instance_name": names.get("service_instance_name"),
        "component_name": None,
        "deployment_status": row.deployment_status,
        "deployment_status_message": row.deployment_status_message,
        "initial_state": None,
        "target_state": json.dumps(state),
        "last_attempted_deployment_id": None,
        "last_succeeded_deployment_id": None,
        "outputs": row.outputs,
        "resources": row.resources,
        "progress": "{}",
        "created_at": row.last_deployment_attempted_at,
        "last_modified_at": row.last_deployment_attempted_at,
        "completed_at": None if row.deployment_status == "IN_PROGRESS" else row.last_deployment_attempted_at,
    }


class Browser:
    """One keep-alive connection with the console's session cookie, as a signed-in browser has."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection(HOST, port, timeout=60)
        self.cookie = ""

    def sign_in(self, access_key: str, secret_key: str) -> None:
        form = urllib.parse.urlencode(
            {
                "access_key_id": access_key,
                "secret_access_key": secret_key,
                "region": REGION,
                "next": "/console/",
            }
        )
        self.connection.request(
            "POST",
            "/console/sign-in",
            body=form,
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "origin": f"http://{HOST}:{self.port}",
            },
        )
        response = self.connection.getresponse()
        response.read()
        cookie = response.getheader("set-cookie") or ""
        if response.status not in (302, 303) or not cookie:
            raise BenchmarkError(f"signing in answered {response.status} without a session cookie")
        self.cookie = cookie.split(";", 1)[0]

    def get(self, path: str) -> tuple[int, bytes]:
        self.connection.request("GET", path, headers={"cookie": self.cookie, "accept": "text/html"})
        response = self.connection.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.connection.close()


def pages(sample: dict[str, str]) -> list[tuple[str, str]]:
    quote = urllib.parse.quote
    service = quote(sample["service"])
    return [
        ("dashboard", "/console/"),
        ("templates", "/console/templates"),
        ("service template", f"/console/templates/service/{quote(sample['template'])}"),
        ("environments", "/console/environments"),
        ("environment", f"/console/environments/{quote(sample['environment'])}"),
        ("services", "/console/services"),
        ("service", f"/console/services/{service}"),
        ("instance", f"/console/services/{service}/instances/{quote(sample['instance'])}"),
        ("deployment", f"/console/deployments/{quote(sample['deployment'])}"),
    ]


class Bench:
    def __init__(self, args: argparse.Namespace, root: Path, processes: Processes) -> None:
        self.args = args
        self.root = root
        self.processes = processes

    def run(self, backend: str, database_url: str | None) -> list[PageResult]:
        data_dir = self.root / backend
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
        log(f"{backend}: baryon db upgrade")
        run_baryon(["db", "upgrade"], env, "db upgrade")
        seeded = seed(url, self.args.instances, PER_SERVICE, ENVIRONMENTS, 7)
        sample = seed_deployments(url)
        log(
            f"  seeded {seeded.instances:,} instances of {seeded.services:,} services in "
            f"{len(seeded.environments)} environments, with their deployments, in {seeded.seconds:.1f} s"
        )
        created = run_baryon(
            ["credentials", "create", "--account-id", ACCOUNT_ID, "--output", "json"], env, "credentials"
        )
        credential = json.loads(created.strip().splitlines()[-1])
        port = free_port()
        log_path = self.root / f"{backend}-server.log"
        argv = [*baryon_argv(), "server", "--host", HOST, "--port", str(port)]
        log(f"  {shlex.join(argv)}")
        child = self.processes.start(argv, env, log_path)
        browser: Browser | None = None
        results: list[PageResult] = []
        try:
            wait_listening(child, port, log_path)
            browser = Browser(port)
            browser.sign_in(credential["accessKeyId"], credential["secretAccessKey"])
            for name, path in pages(sample):
                results.append(self.page(browser, backend, name, path))
                last = results[-1]
                log(f"  {name}: p50 {last.p50_ms:.1f} ms, p99 {last.p99_ms:.1f} ms ({last.bytes:,} bytes)")
            if child.poll() is not None:
                raise BenchmarkError(f"{backend}: the server exited during the run")
        finally:
            if browser is not None:
                browser.close()
            self.processes.stop(child)
        return results

    def page(self, browser: Browser, backend: str, name: str, path: str) -> PageResult:
        status, body = browser.get(path)
        if status != 200:
            raise BenchmarkError(f"{backend} {name}: GET {path} answered {status}: {body[:300]!r}")
        if b"Sign in" in body and b"Sign out" not in body:
            raise BenchmarkError(f"{backend} {name}: GET {path} showed the sign-in page")
        for _ in range(3):
            browser.get(path)
        timings: list[float] = []
        for _ in range(self.args.requests):
            started = time.perf_counter()
            status, body = browser.get(path)
            timings.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise BenchmarkError(f"{backend} {name}: GET {path} answered {status}")
        return PageResult(
            backend=backend,
            page=name,
            path=path,
            requests=len(timings),
            p50_ms=percentile(timings, 0.5),
            p99_ms=percentile(timings, 0.99),
            max_ms=max(timings),
            bytes=len(body),
        )


def throughput(args: argparse.Namespace) -> dict[str, Any]:
    """`api_throughput.py --observability both` on the chosen backends, as JSON."""
    argv = [
        sys.executable,
        str(Path(__file__).with_name("api_throughput.py")),
        "--observability",
        "both",
        "--no-ceiling",
        "--json",
        "--duration",
        str(args.throughput_duration),
        "--backends",
        ",".join(args.backends),
        "--postgres-url",
        args.postgres_url,
    ]
    log(f"throughput: {shlex.join(argv[1:])}")
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=3600, check=False)
    if completed.returncode != 0:
        raise BenchmarkError(
            f"api_throughput.py failed ({completed.returncode}):\n{completed.stderr[-3000:]}"
        )
    report: dict[str, Any] = json.loads(completed.stdout)
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=1000, help="service instances seeded")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page")
    parser.add_argument(
        "--backends", default="sqlite,postgresql", help="comma-separated subset of sqlite,postgresql"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BARYON_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="a database on the PostgreSQL server to create the benchmark database from",
    )
    parser.add_argument("--throughput-duration", type=float, default=10.0, help="seconds per scenario")
    parser.add_argument("--no-throughput", action="store_true", help="only the pages")
    parser.add_argument("--json", action="store_true", help="print machine-readable results only")
    args = parser.parse_args(argv)
    args.backends = [item.strip() for item in args.backends.split(",") if item.strip()]
    if not set(args.backends) <= {"sqlite", "postgresql"}:
        parser.error("--backends takes sqlite and/or postgresql")
    if not 1 <= args.instances <= 200_000:
        parser.error("--instances must be in [1, 200000]")
    if not 1 <= args.requests <= 100_000:
        parser.error("--requests must be in [1, 100000]")
    return args


def run(args: argparse.Namespace) -> int:
    load = load_average()
    interrupt_on_signals()
    processes = Processes()
    root = Path(tempfile.mkdtemp(prefix="baryon-console-bench-"))
    results: list[PageResult] = []
    notes: list[str] = []
    pg_version: str | None = None
    observed: dict[str, Any] | None = None
    try:
        bench = Bench(args, root, processes)
        for backend in args.backends:
            if backend == "sqlite":
                results += bench.run("sqlite", None)
                continue
            reason = postgres_reachable(args.postgres_url)
            if reason is not None:
                notes.append(f"PostgreSQL skipped: {reason}")
                log(notes[-1])
                continue
            with fresh_postgres_database(args.postgres_url) as database_url:
                pg_version = postgres_version(database_url)
                results += bench.run("postgresql", database_url)
        if not args.no_throughput:
            observed = throughput(args)
    except BenchmarkError as error:
        log(f"benchmark failed: {error}")
        return 1
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        return 130
    finally:
        processes.stop_all()
        shutil.rmtree(root, ignore_errors=True)

    goals = [
        {
            "goal": f"{r.backend} {r.page}: p99 < {GOAL_P99_MS:.0f} ms",
            "value": f"{r.p99_ms:.1f} ms",
            "passed": r.p99_ms < GOAL_P99_MS,
        }
        for r in results
    ]
    if observed is not None:
        goals += [mark for mark in observed["goals"] if "metrics and JSON logs" in mark["goal"]]
        goals += [mark for mark in observed["goals"] if "per second of server CPU" in mark["goal"]]
    report = {
        "command": shlex.join(sys.orig_argv),
        "loadavg_at_start": load,
        "postgresql_version": pg_version,
        "instances": args.instances,
        "requests_per_page": args.requests,
        "pages": [asdict(r) for r in results],
        "throughput": observed["results"] if observed is not None else None,
        "goals": goals,
        "notes": notes,
    }
    if args.json:
        print(json.dumps(finite(report), indent=2, allow_nan=False, default=repr))
        return 0
    print(f"command: {report['command']}")
    if load is not None:
        print(f"load average before the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{args.instances:,} service instances; {args.requests} timed requests per page, one at a time")
    print()
    header = f"{'backend':<11} {'page':<17} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'bytes':>9}  path"
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.backend:<11} {r.page:<17} {r.p50_ms:>8.1f} {r.p99_ms:>8.1f} {r.max_ms:>8.1f} "
            f"{r.bytes:>9,}  {r.path}"
        )
    if observed is not None:
        print()
        print(f"{'throughput scenario':<24} {'req/s':>10} {'p99 ms':>8} {'server CPU':>10}")
        for item in observed["results"]:
            cpu = f"{item['server_cpu']:.0%}" if item["server_cpu"] is not None else "-"
            print(f"{item['name']:<24} {item['rps']:>10,.0f} {item['p99_ms']:>8.1f} {cpu:>10}")
    for note in notes:
        print(f"note: {note}")
    print()
    print("goals:")
    for mark in goals:
        print(f"  [{'PASS' if mark['passed'] else 'FAIL'}] {mark['goal']:<62} {mark['value']}")
    return 0


def main() -> None:
    sys.exit(run(parse_args()))


if __name__ == "__main__":
    main()
