"""Baryon's own time per command-runner (CodeBuild) deployment, beyond the time its commands run.

`baryon up` (SQLite, API, engine threads and the local cloud in one process) on 127.0.0.1 is given an
environment template whose `provision` is one command that reports SUCCEEDED with two outputs:

    aws proton notify-resource-deployment-status-change --resource-arn "$RESOURCE_ARN" --status SUCCEEDED
        --outputs key=Url,valueString=… key=Port,valueString=8080

(`--report file` writes the two outputs to `proton-outputs.json` instead, with no API call.) The client
creates `--deployments` environments from it, `--concurrency` at a time, and waits for each to succeed.

Per deployment, from the deployment record in the database once all are done:

- total: `completedAt - createdAt` (from CreateEnvironment's transaction to the outcome's);
- commands: the run's wall time as the local runner recorded it (from just before the commands' shell is
  started to when their exit status was written), which includes the `aws` CLI's start-up (~0.5 s);
- Baryon's time = total - commands, split into *before* (job claimed, input file rendered, credential
  issued, workspace written, process started) and *after* (the end noticed, output copied, outcome and
  credential settled).

The goal (issue 4 §6) is Baryon's time under 50 ms per deployment on average; it is printed with a
PASS/FAIL mark, not asserted.

Run from the repository root:

    python3 benchmarks/runner_overhead.py                 # 200 deployments, one at a time
    python3 benchmarks/runner_overhead.py --quick         # 20 deployments
    python3 benchmarks/runner_overhead.py --concurrency 4 --json > results.json

Everything it starts (the Baryon process, its temp data dir) is removed on exit, including on Ctrl-C.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shlex
import shutil
import statistics
import sys
import tarfile
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import BenchmarkError, Processes, aws_clients, finite, free_port, log, poll, wait_listening
from tests.support import bundles
from tests.support.processes import read_exports

HOST = "127.0.0.1"
TEMPLATE = "runner-bench"
BUCKET = "runner-bench-bundles"
GOAL_MS = 50.0

SCHEMA = bundles.environment_schema("        label:\n          type: string\n          default: bench\n")
NOTIFY = (
    'aws proton notify-resource-deployment-status-change --resource-arn "$RESOURCE_ARN" --status SUCCEEDED '
    '--outputs "key=Url,valueString=https://$RESOURCE_NAME.example.com" key=Port,valueString=8080'
)
TO_FILE = (
    'printf \'{"Url": "https://%s.example.com", "Port": "8080"}\' "$RESOURCE_NAME" > proton-outputs.json'
)


def manifest(command: str) -> str:
    return (
        "infrastructure:\n"
        "  templates:\n"
        "    - rendering_engine: codebuild\n"
        "      settings:\n"
        "        image: aws/codebuild/amazonlinux2-x86_64-standard:4.0\n"
        "        provision:\n"
        '          - "RESOURCE_NAME=${RESOURCE_ARN##*/}"\n'
        f"          - {json.dumps(command)}\n"
    )


def bundle(command: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, text in {
            "environment/schema/schema.yaml": SCHEMA,
            "environment/infrastructure/manifest.yaml": manifest(command),
        }.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@dataclass(frozen=True)
class Sample:
    deployment_id: str
    status: str
    total: float
    commands: float
    before: float
    after: float

    @property
    def own(self) -> float:
        return self.total - self.commands


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def publish(proton: Any, s3: Any, command: str) -> None:
    s3.create_bucket(Bucket=BUCKET)
    key = f"{uuid.uuid4().hex}.tar.gz"
    s3.put_object(Bucket=BUCKET, Key=key, Body=bundle(command))
    proton.create_environment_template(name=TEMPLATE)
    proton.create_environment_template_version(
        templateName=TEMPLATE, source={"s3": {"bucket": BUCKET, "key": key}}
    )
    proton.get_waiter("environment_template_version_registered").wait(
        templateName=TEMPLATE,
        majorVersion="1",
        minorVersion="0",
        WaiterConfig={"Delay": 1, "MaxAttempts": 120},
    )
    proton.update_environment_template_version(
        templateName=TEMPLATE, majorVersion="1", minorVersion="0", status="PUBLISHED"
    )


def deploy_one(proton: Any, name: str, account_id: str, interval: float, timeout: float) -> str:
    proton.create_environment(
        name=name,
        templateName=TEMPLATE,
        templateMajorVersion="1",
        spec="proton: EnvironmentSpec\nspec:\n  label: bench\n",
        codebuildRoleArn=f"arn:aws:iam::{account_id}:role/codebuild",
    )
    environment = poll(
        lambda: proton.get_environment(name=name)["environment"],
        lambda env: env["deploymentStatus"] not in ("IN_PROGRESS", "CANCELLING"),
        timeout=timeout,
        interval=interval,
        what=f"the deployment of environment {name} to end",
        error=BenchmarkError,
    )
    status = str(environment["deploymentStatus"])
    if status != "SUCCEEDED":
        raise BenchmarkError(
            f"environment {name} ended {status}: {environment.get('deploymentStatusMessage')}"
        )
    return str(environment["lastAttemptedDeploymentId"])


def samples_from(database_url: str, ids: list[str]) -> list[Sample]:
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    found: list[Sample] = []
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT id, deployment_status, created_at, completed_at, progress FROM deployments "
                    "WHERE target_type = 'ENVIRONMENT'"
                )
            ).all()
    finally:
        engine.dispose()
    wanted = set(ids)
    for row in rows:
        if row.id not in wanted:
            continue
        progress = json.loads(row.progress)
        started, ended = progress["run"]["started_at"], progress.get("run_ended_at")
        if ended is None or row.completed_at is None:
            raise BenchmarkError(f"deployment {row.id} has no recorded run end")
        found.append(
            Sample(
                deployment_id=row.id,
                status=row.deployment_status,
                total=row.completed_at - row.created_at,
                commands=ended - started,
                before=started - row.created_at,
                after=row.completed_at - ended,
            )
        )
    return found


def summary(values: list[float]) -> dict[str, float]:
    return {
        "mean": statistics.fmean(values) if values else float("nan"),
        "p50": percentile(values, 0.5),
        "p90": percentile(values, 0.9),
        "p99": percentile(values, 0.99),
        "max": max(values) if values else float("nan"),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.report == "notify" and shutil.which("aws") is None:
        raise BenchmarkError("the aws CLI is not on PATH (use --report file to measure without it)")
    root = Path(tempfile.mkdtemp(prefix="baryon-runner-bench-"))
    processes = Processes()
    try:
        data_dir = root / "data"
        port, cloud_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BARYON_"))}
        env |= {
            "BARYON_LOG_LEVEL": "warning",
            "BARYON_QUOTA_ENVIRONMENTS": str(args.deployments + 10),
        }
        argv = [
            sys.executable, "-c", "from baryon.cli.main import main; main()", "up",
            "--host", HOST, "--port", str(port), "--cloud-port", str(cloud_port),
            "--data-dir", str(data_dir), "--concurrency", str(args.up_concurrency),
        ]  # fmt: skip
        log(f"baryon up on {HOST}:{port} (data in {data_dir})")
        log_path = root / "up.log"
        child = processes.start(argv, env, log_path)
        wait_listening(child, port, log_path, timeout=120)
        wait_listening(child, cloud_port, log_path, timeout=60)
        made = aws_clients(read_exports(data_dir / "baryon.env"), ("proton", "s3"), pool=64)
        proton, s3 = made["proton"], made["s3"]
        from baryon.localcloud import LOCAL_ACCOUNT_ID

        publish(proton, s3, NOTIFY if args.report == "notify" else TO_FILE)
        log(f"{args.deployments} deployments, {args.concurrency} at a time, commands report by {args.report}")
        names = [f"bench-{index:04d}" for index in range(args.deployments)]
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            ids = list(
                pool.map(
                    lambda name: deploy_one(proton, name, LOCAL_ACCOUNT_ID, args.poll, args.timeout), names
                )
            )
        elapsed = time.monotonic() - started
        listed = proton.list_environment_outputs(environmentName=names[0])["outputs"]
        got = {item["key"]: item["valueString"] for item in listed}
        if got != {"Url": f"https://{names[0]}.example.com", "Port": "8080"}:
            raise BenchmarkError(f"environment {names[0]} has the outputs {got}, not the two reported")
        if child.poll() is not None:
            raise BenchmarkError("baryon up exited during the run")
        samples = samples_from(f"sqlite:///{data_dir / 'baryon.db'}", ids)
        if len(samples) != len(ids):
            raise BenchmarkError(f"found {len(samples)} of {len(ids)} deployments in the database")
        processes.stop(child, timeout=20.0)
        return {
            "deployments": len(samples),
            "concurrency": args.concurrency,
            "report": args.report,
            "elapsed_seconds": elapsed,
            "ms": {
                "own": summary([s.own * 1000 for s in samples]),
                "before": summary([s.before * 1000 for s in samples]),
                "after": summary([s.after * 1000 for s in samples]),
                "commands": summary([s.commands * 1000 for s in samples]),
                "total": summary([s.total * 1000 for s in samples]),
            },
        }
    finally:
        processes.stop_all()
        shutil.rmtree(root, ignore_errors=True)


def print_report(result: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"# runner_overhead: {platform.node()}, {platform.platform()}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.2f} at the end")  # fmt: skip
    print(f"# {shlex.join([sys.executable, *sys.argv])}")
    print(
        f"{result['deployments']} deployments, {result['concurrency']} at a time, commands report by "
        f"{result['report']}; {result['elapsed_seconds']:.1f} s in all"
    )
    print()
    print(f"{'ms per deployment':<36} {'mean':>8} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8}")
    labels = {
        "own": "Baryon (total - commands)",
        "before": "  before the commands",
        "after": "  after the commands",
        "commands": "commands (run wall time)",
        "total": "total (completedAt - createdAt)",
    }
    for key, label in labels.items():
        row = result["ms"][key]
        print(
            f"{label:<36} {row['mean']:>8.1f} {row['p50']:>8.1f} {row['p90']:>8.1f} {row['p99']:>8.1f} "
            f"{row['max']:>8.1f}"
        )
    own = result["ms"]["own"]["mean"]
    mark = "PASS" if own < GOAL_MS else "FAIL"
    print()
    print(f"goal: Baryon's time under {GOAL_MS:.0f} ms per deployment (mean): {own:.1f} ms  {mark}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=1, help="Deployments in flight at once.")
    parser.add_argument("--up-concurrency", type=int, default=4, help="Engine threads of `baryon up`.")
    parser.add_argument("--report", choices=["notify", "file"], default="notify")
    parser.add_argument("--poll", type=float, default=0.05, help="Seconds between the client's checks.")
    parser.add_argument("--timeout", type=float, default=120.0, help="Seconds one deployment may take.")
    parser.add_argument("--quick", action="store_true", help="20 deployments.")
    parser.add_argument("--json", action="store_true", help="Print the result as JSON.")
    args = parser.parse_args()
    if args.quick:
        args.deployments = min(args.deployments, 20)
    try:
        result = run(args)
    except BenchmarkError as error:
        log(f"benchmark failed: {error}")
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    if args.json:
        print(json.dumps(finite(result), indent=2))
    else:
        print_report(result, args)


if __name__ == "__main__":
    main()
