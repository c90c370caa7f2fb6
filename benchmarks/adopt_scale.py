"""Time to adopt the CloudFormation stacks Proton left running, and the CloudFormation read calls it makes.

In one process: a moto server (the local cloud) on 127.0.0.1 holds `--stacks` stacks named and tagged as
Proton left them (10 environments; services of `--instances-per-service` instances over those
environments, each with a pipeline), a fresh SQLite data dir holds Baryon's records, with an environment
template and a service template registered and published from bundles (`baryon.adopt.bundles`, as
`--bundles` does). It then times, as `baryon adopt cloudformation` runs them:

1. **Read**: `read_stacks` (assume the role, DescribeStacks pages, ListStackResources per stack), counting
   every CloudFormation call with a botocore event hook;
2. **Apply**: `apply_plan` (Baryon's records, no AWS call);
3. **Again**: reading and applying a second time (nothing changes; the records are already there).

The goals of the issue are printed with PASS/FAIL marks, not asserted: adopting 2,000 stacks in under two
minutes against the local cloud, and no more than two CloudFormation read calls per stack. Seeding the
stacks is timed separately and is not part of the adoption.

Run from the repository root:

    python3 benchmarks/adopt_scale.py                 # 2,000 stacks
    python3 benchmarks/adopt_scale.py --stacks 200    # a smoke run
    python3 benchmarks/adopt_scale.py --json > results.json

Everything it starts (the moto server, the temp dir) is removed on exit, including on Ctrl-C.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from harness import free_port, load_average, log
from moto.server import ThreadedMotoServer
from tests.support import bundles

REGION = "us-east-1"
ACCOUNT = "123456789012"  # the local cloud's default account, where the seeding keys act
ROLE = f"arn:aws:iam::{ACCOUNT}:role/baryon-adopt"
ENVIRONMENTS = 10
BODY = json.dumps(
    {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"TopicName": {"Value": {"Fn::GetAtt": ["Topic", "TopicName"]}}},
    }
)
GOAL_SECONDS = 120.0
GOAL_CALLS_PER_STACK = 2.0


def arn(resource: str) -> str:
    return f"arn:aws:proton:{REGION}:{ACCOUNT}:{resource}"


def stack_tags(total: int, per_service: int) -> list[tuple[str, dict[str, str]]]:
    """(stack name, tags) of `total` stacks: the environments, then services with a pipeline each."""
    env_template = arn("environment-template/vpc")
    service_template = arn("service-template/fargate")
    stacks: list[tuple[str, dict[str, str]]] = []
    for number in range(ENVIRONMENTS):
        name = f"env{number}"
        stacks.append(
            (
                f"AWSProton-{name}",
                {"proton:template": env_template, "proton:environment": arn(f"environment/{name}")},
            )
        )
    service = 0
    while len(stacks) < total:
        name = f"svc{service:04d}"
        stacks.append(
            (
                f"AWSProton-{name}-pipeline",
                {"proton:template": service_template, "proton:service": arn(f"service/{name}")},
            )
        )
        for number in range(per_service):
            if len(stacks) >= total:
                break
            instance = f"i{number:03d}"
            stacks.append(
                (
                    f"AWSProton-{name}-{instance}",
                    {
                        "proton:template": service_template,
                        "proton:environment": arn(f"environment/env{number % ENVIRONMENTS}"),
                        "proton:service": arn(f"service/{name}"),
                        "proton:service-instance": arn(f"service/{name}/service-instance/{instance}"),
                    },
                )
            )
        service += 1
    return stacks[:total]


def seed(endpoint: str, stacks: list[tuple[str, dict[str, str]]]) -> float:
    keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

    def create(chunk: list[tuple[str, dict[str, str]]]) -> None:
        client = boto3.client("cloudformation", endpoint_url=endpoint, region_name=REGION, **keys)
        for name, tags in chunk:
            client.create_stack(
                StackName=name,
                TemplateBody=BODY,
                Tags=[{"Key": key, "Value": value} for key, value in tags.items()],
            )

    started = time.perf_counter()
    chunks = [stacks[i::4] for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(create, chunks))
    return time.perf_counter() - started


def write_bundles(root: Path) -> None:
    folders = {
        root / "vpc" / "v1": bundles.cfn_environment(),
        root / "fargate" / "v1": {
            **bundles.service(),
            ".template-registration.yaml": "compatible_environments:\n  - vpc:1\n",
        },
    }
    for folder, files in folders.items():
        for relative, content in files.items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content.encode() if isinstance(content, str) else content)


def adopt_once(runtime: Any, calls: Counter[str]) -> dict[str, Any]:
    from baryon.adopt.apply import apply_plan
    from baryon.adopt.cloudformation import Reading, read_stacks
    from baryon.engine.provisioners import targets

    clients: list[Any] = []

    def count(model: Any, **_: Any) -> None:
        calls.update([model.name])

    def connect(target: targets.Target) -> Any:
        client = targets.client(target, "cloudformation")
        client.meta.events.register("before-call.cloudformation", count)
        clients.append(client)
        return client

    started = time.perf_counter()
    try:
        plan = read_stacks(runtime, Reading(account_id=ACCOUNT, region=REGION, role_arn=ROLE), connect)
    finally:
        for client in clients:
            client.meta.events.unregister("before-call.cloudformation", count)
    read = time.perf_counter() - started
    result: dict[str, Any] = {
        "read_seconds": read,
        "resources": len(plan.resources),
        "skipped": len(plan.skipped),
    }
    started = time.perf_counter()
    report = apply_plan(runtime, plan)
    result["apply_seconds"] = time.perf_counter() - started
    result["outcomes"] = dict(Counter(entry.outcome for entry in report.entries))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stacks", type=int, default=2000)
    parser.add_argument("--instances-per-service", type=int, default=40)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
    )
    from baryon.adopt.bundles import find_bundles, register_bundles
    from baryon.config import Settings
    from baryon.runtime import open_runtime

    try:
        with tempfile.TemporaryDirectory(prefix="baryon-adopt-bench-") as temp:
            root = Path(temp)
            stacks = stack_tags(args.stacks, args.instances_per_service)
            log(f"seeding {len(stacks)} stacks in the local cloud")
            seed_seconds = seed(endpoint, stacks)
            settings = Settings(
                data_dir=root / "data",
                secret_key=base64.urlsafe_b64encode(b"b" * 32).decode(),
            )
            runtime = open_runtime(settings)
            try:
                write_bundles(root / "bundles")
                register_bundles(runtime, ACCOUNT, REGION, find_bundles(root / "bundles"))
                calls: Counter[str] = Counter()
                log("adopting")
                first = adopt_once(runtime, calls)
                first_calls = dict(calls)
                calls.clear()
                log("adopting again")
                again = adopt_once(runtime, calls)
            finally:
                runtime.close()
    finally:
        server.stop()

    total = first["read_seconds"] + (first["apply_seconds"] or 0.0)
    per_stack = sum(first_calls.values()) / max(1, len(stacks))
    result = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load": load_average()},
        "stacks": len(stacks),
        "seed_seconds": seed_seconds,
        "first": first,
        "calls": first_calls,
        "calls_per_stack": per_stack,
        "again": again,
        "total_seconds": total,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    mark = "PASS" if total < GOAL_SECONDS else "FAIL"
    print(f"machine: {result['machine']}")
    print(f"stacks: {len(stacks)} (seeded in {seed_seconds:.1f} s, not counted)")
    print(
        f"read: {first['read_seconds']:.1f} s; apply: {first['apply_seconds']:.1f} s; "
        f"outcomes: {first['outcomes']}"
    )
    print(f"adopting {len(stacks)} stacks: {total:.1f} s (goal < {GOAL_SECONDS:.0f} s) {mark}")
    calls_mark = "PASS" if per_stack <= GOAL_CALLS_PER_STACK else "FAIL"
    print(f"CloudFormation calls: {first_calls}; {per_stack:.2f} per stack (goal <= 2) {calls_mark}")
    print(
        f"again: read {again['read_seconds']:.1f} s, apply {again['apply_seconds']:.1f} s; "
        f"outcomes: {again['outcomes']}"
    )


if __name__ == "__main__":
    main()
