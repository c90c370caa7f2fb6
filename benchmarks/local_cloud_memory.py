"""Memory of `baryon up` with many deployed stacks, and the time from `baryon up` to a deployed environment.

Starts `baryon up` on a fresh data dir, creates a role and a small environment template (one SQS queue
and one output), and measures the seconds from starting `baryon up` to the first environment deployed
(SUCCEEDED). Then deploys `--stacks` environments in all (one stack each), and prints the resident set
size of `baryon up` and of its local cloud (the moto child), the size of the local cloud's snapshot, and
the seconds a restart takes until the API answers and the stacks are all there again.

With `--sample DIR` (a sample environment template of aws-proton-cloudformation-sample-templates, e.g.
`environment-templates/vpc-env`: its `v1/` bundle and `spec/spec.yaml`), the first environment is that
sample instead, so the first figure is the time from `baryon up` to a deployed official sample environment.

Run from the repository root:

    python3 benchmarks/local_cloud_memory.py              # 100 stacks
    python3 benchmarks/local_cloud_memory.py --stacks 20
    python3 benchmarks/local_cloud_memory.py --sample ../samples/environment-templates/vpc-env
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from harness import HOST, Processes, baryon_argv, free_port, log, wait_listening
from tests.support.bundles import CFN_MANIFEST, QUEUE_ENV, QUEUE_SCHEMA, tar_gz
from tests.support.clients import http_client
from tests.support.processes import read_exports
from tests.support.publishing import publish_environment_template
from tests.support.waiting import poll

from baryon.protocol.sigv4 import Credential

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "proton.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
SPEC = "proton: EnvironmentSpec\nspec:\n  retention: 300\n"


def _folder_bundle(folder: Path) -> bytes:
    """A tar.gz of `folder`'s files at the archive's root, as the samples' READMEs pack a version folder."""
    files = {
        str(path.relative_to(folder)): path.read_text()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.startswith(".")
    }
    return tar_gz(files, "")


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(child) for child in text)
    return found


def exports(data: Path) -> dict[str, str]:
    return read_exports(data / "baryon.env")


def clients(values: dict[str, str]) -> tuple[Any, Any, Any, Any]:
    keys = {
        "region_name": values["AWS_DEFAULT_REGION"],
        "aws_access_key_id": values["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": values["AWS_SECRET_ACCESS_KEY"],
    }
    credential = Credential(values["AWS_ACCESS_KEY_ID"], values["AWS_SECRET_ACCESS_KEY"], "", "")
    proton = http_client(values["AWS_ENDPOINT_URL_PROTON"], credential)
    cloud = values["AWS_ENDPOINT_URL"]
    return (
        proton,
        boto3.client("s3", endpoint_url=cloud, **keys),
        boto3.client("iam", endpoint_url=cloud, **keys),
        boto3.client("cloudformation", endpoint_url=cloud, **keys),
    )


def count_stacks(cloudformation: Any) -> int:
    pages = cloudformation.get_paginator("describe_stacks").paginate()
    return sum(len(page["Stacks"]) for page in pages)


def deployed(proton: Any, names: list[str], timeout: float) -> None:
    def statuses() -> list[str]:
        return [proton.get_environment(name=name)["environment"]["deploymentStatus"] for name in names]

    seen = poll(
        statuses, lambda s: all(x in ("SUCCEEDED", "FAILED") for x in s), timeout=timeout, interval=0.5
    )
    if set(seen) != {"SUCCEEDED"}:
        raise SystemExit(f"not every environment deployed: {sorted(set(seen))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", type=int, default=100)
    parser.add_argument(
        "--sample", type=Path, help="a sample environment template folder (v1/, spec/spec.yaml)"
    )
    args = parser.parse_args()
    processes = Processes()
    with tempfile.TemporaryDirectory(prefix="baryon-lc-bench-") as scratch:
        data = Path(scratch) / "data"
        port, cloud_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BARYON_"))}
        env["BARYON_LOG_LEVEL"] = "warning"
        argv = [*baryon_argv(), "up", "--host", HOST, "--port", str(port), "--cloud-port", str(cloud_port)]
        argv += ["--data-dir", str(data)]
        try:
            started = time.monotonic()
            up = processes.start(argv, env, Path(scratch) / "up.log")
            wait_listening(up, port, Path(scratch) / "up.log")
            proton, s3, iam, cloudformation = clients(exports(data))
            s3.create_bucket(Bucket="bundles")
            role = iam.create_role(RoleName="provisioning", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
            bundle = tar_gz(
                {
                    "schema/schema.yaml": QUEUE_SCHEMA,
                    "infrastructure/manifest.yaml": CFN_MANIFEST,
                    "infrastructure/cloudformation.yaml": QUEUE_ENV,
                },
                "environment/",
            )
            publish_environment_template(proton, s3, "queue-env", bundle)
            create = {"templateName": "queue-env", "templateMajorVersion": "1", "spec": SPEC}
            first_name = "env-0"
            if args.sample is not None:
                sample_bundle = _folder_bundle(args.sample / "v1")
                publish_environment_template(proton, s3, "sample-env", sample_bundle)
                first_name = "sample-0"
                sample_spec = (args.sample / "spec" / "spec.yaml").read_text()
                proton.create_environment(
                    name=first_name,
                    templateName="sample-env",
                    templateMajorVersion="1",
                    spec=sample_spec,
                    protonServiceRoleArn=role,
                )
            else:
                proton.create_environment(name=first_name, protonServiceRoleArn=role, **create)
            deployed(proton, [first_name], 180)
            first = time.monotonic() - started
            if args.sample is not None:
                proton.create_environment(name="env-0", protonServiceRoleArn=role, **create)
            names = [f"env-{i}" for i in range(1, args.stacks)]
            log(f"deploying {len(names)} more environments")
            for name in names:
                proton.create_environment(name=name, protonServiceRoleArn=role, **create)
            deployed(proton, ["env-0", *names], 60 + 5 * args.stacks)
            stacks = count_stacks(cloudformation)
            (cloud,) = children(up.pid)
            up_rss, cloud_rss = rss_mb(up.pid), rss_mb(cloud)
            processes.stop(up, timeout=60)
            state = data / "local-cloud.state"
            state_kib = state.stat().st_size / 1024 if state.exists() else float("nan")
            restart = time.monotonic()
            up = processes.start(argv, env, Path(scratch) / "up2.log")
            wait_listening(up, port, Path(scratch) / "up2.log")
            _, _, _, cloudformation = clients(exports(data))
            restored = count_stacks(cloudformation)
            restart_seconds = time.monotonic() - restart
        finally:
            processes.stop_all()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    what = f"the sample environment {args.sample.name}" if args.sample is not None else "a small environment"
    print(f"from `baryon up` to {what} deployed: {first:.1f} s")
    print(f"stacks deployed in the local cloud: {stacks}")
    print(f"RSS of baryon up: {up_rss:.0f} MB; of its local cloud (moto): {cloud_rss:.0f} MB")
    print(f"local cloud snapshot: {state_kib:.0f} KiB")
    print(f"restart until the API answers and {restored} stacks are back: {restart_seconds:.1f} s")


if __name__ == "__main__":
    main()
