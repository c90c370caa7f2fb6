"""Deploy every bundle of the official CloudFormation samples on `baryon up`'s local cloud, and count.

Usage, from the repository root, PATH being a checkout of
github:aws-samples/aws-proton-cloudformation-sample-templates:

    python3 benchmarks/samples_local_cloud.py PATH
    python3 benchmarks/samples_local_cloud.py PATH --only fargate-env --only backend-fargate-svc
    python3 benchmarks/samples_local_cloud.py PATH --json > results.json
    python3 benchmarks/samples_local_cloud.py PATH --keep          # keep the data dir and logs

It starts a real `baryon up` (SQLite in a temporary data dir, free ports) and acts as a user who sourced
its `baryon.env`: boto3's `proton` client at Baryon's endpoint, `s3`, `iam`, `cloudformation` and `ec2` at
the local cloud's. As Proton's documentation asks, it first creates the service role `ProtonServiceRole`
in the local cloud's IAM and names it as the account's pipeline role, and a bucket for the bundles. Then,
per environment template (bundles and specs found by `samples_catalog.discover`), one after the other
(`--jobs N`: N at once, but then what is left in the local cloud is only counted for the whole run):

1. pack the version folder as a bundle, upload it, CreateEnvironmentTemplate,
   CreateEnvironmentTemplateVersion, wait for it to be registered (DRAFT), publish; the same for each
   service template compatible with it (with compatibleEnvironmentTemplates);
2. create two environments with the sample spec and wait for their deployments;
3. per service template: CreateService (named by `samples_catalog.service_name`, short as in the samples'
   READMEs) with the sample spec adjusted to two instances, one in each environment, and the pipeline
   (repository settings of a CodeStar connection, as the samples' READMEs give); wait for both instances
   and the pipeline; check that outputs flow: every
   `environment.outputs.X` the instance template reads is a non-empty output of its environment, every
   output of an instance's stack in the local cloud is an output of the instance in Baryon, and every
   `service_instances[…].outputs.Y` the pipeline reads is a non-empty output of the first instance;
4. a second deployment with a changed input (`samples_catalog.changed_inputs`): UpdateEnvironment for both
   environments, UpdateServiceInstance for both instances;
5. DeleteService, then DeleteEnvironment, each waited for until the resource is gone; "deleted cleanly"
   means gone on the first try with no stack of it left in the local cloud's CloudFormation, and for an
   environment bundle also nothing its group created left in the local cloud (VPCs, subnets, internet
   and NAT gateways, route tables, security groups).

Every wait is bounded by `--wait` seconds (a deployment still running then is cancelled and counted as
failed) and the whole run by `--timeout`. At the end it prints a table per bundle with the first failure
of each, the leftovers in the local cloud (stacks, VPCs, subnets, gateways, route tables), and one summary
line of totals. The exit status is 0 unless the benchmark itself broke: failures of the samples are
results.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from harness import (
    HOST,
    BenchmarkError,
    Processes,
    aws_clients,
    baryon_argv,
    free_port,
    interrupt_on_signals,
    log,
    wait_listening,
)
from samples_catalog import (
    ENVIRONMENT,
    SERVICE,
    Bundle,
    BundleResult,
    changed_inputs,
    discover,
    environment_inputs,
    environment_spec,
    is_render_error,
    pack,
    service_name,
    service_spec,
    shorten,
    summary_line,
    totals,
)
from tests.support.processes import read_exports

ROLE_NAME = "ProtonServiceRole"
TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["proton.amazonaws.com", "cloudformation.amazonaws.com"]},
            "Action": "sts:AssumeRole",
        }
    ],
}
REPOSITORY_ID = "aws-samples/aws-proton-sample-services"
BRANCH = "main"
BUSY = {"IN_PROGRESS", "CANCELLING", "DELETE_IN_PROGRESS"}


class OutOfTime(Exception):
    """The run's overall --timeout has passed."""


# ----------------------------------------------------------------------------------------- baryon up


def clients(exports: dict[str, str]) -> dict[str, Any]:
    return aws_clients(exports, ("proton", "s3", "iam", "cloudformation", "ec2", "sts"))


def error_text(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict) and "Error" in response:
        return f"{response['Error'].get('Code')}: {response['Error'].get('Message')}"
    return f"{type(error).__name__}: {error}"


def error_code(error: Exception) -> str:
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code")) if isinstance(response, dict) else ""


# ----------------------------------------------------------------------------------------- the run


class Run:
    """Shared by the worker threads: clients, the role and bucket, limits."""

    def __init__(self, aws: dict[str, Any], wait: float, deadline: float, poll: float) -> None:
        self.aws = aws
        self.proton = aws["proton"]
        self.cfn = aws["cloudformation"]
        self.wait_seconds = wait
        self.deadline = deadline
        self.poll = poll
        self.bucket = f"baryon-samples-{uuid.uuid4().hex[:8]}"
        self.role_arn = ""
        self.account = ""
        self.region = aws["proton"].meta.region_name
        self.lock = threading.Lock()

    def prepare(self) -> None:
        """What a user does before registering templates: the service role, the pipeline role setting and
        a bucket for the bundles."""
        iam, s3 = self.aws["iam"], self.aws["s3"]
        self.account = self.aws["sts"].get_caller_identity()["Account"]
        try:
            role = iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(TRUST_POLICY))
            self.role_arn = role["Role"]["Arn"]
        except Exception as error:
            if error_code(error) != "EntityAlreadyExists":
                raise
            self.role_arn = iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"]
        with contextlib.suppress(Exception):
            iam.attach_role_policy(
                RoleName=ROLE_NAME, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
            )
        self.proton.update_account_settings(pipelineServiceRoleArn=self.role_arn)
        s3.create_bucket(Bucket=self.bucket)

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise OutOfTime("the run's --timeout passed")

    def until(
        self, what: str, look: Callable[[], tuple[bool, Any]], cancel: Callable[[], None] | None = None
    ) -> Any:
        """Poll `look` (→ (done, value)) until done, for at most --wait seconds (less when the run's
        deadline is nearer). On time out: `cancel` if given, and a TimeoutError naming `what`."""
        limit = min(time.monotonic() + self.wait_seconds, self.deadline)
        value: Any = None
        while True:
            done, value = look()
            if done:
                return value
            if time.monotonic() > limit:
                if cancel is not None:
                    with contextlib.suppress(Exception):
                        cancel()
                raise TimeoutError(f"{what}: still {shorten(str(value), 60)} after {self.wait_seconds:.0f} s")
            time.sleep(self.poll)

    # --------------------------------------------------------------------------- registration

    def register(self, bundle: Bundle, result: BundleResult) -> bool:
        """Pack, upload, create template and version, wait for REGISTERED, publish."""
        self.check_time()
        key = f"{bundle.kind}/{bundle.name}-{bundle.major}.tar.gz"
        self.aws["s3"].put_object(Bucket=self.bucket, Key=key, Body=pack(bundle.path))
        kind = "environment" if bundle.kind == ENVIRONMENT else "service"
        create_template = getattr(self.proton, f"create_{kind}_template")
        create_version = getattr(self.proton, f"create_{kind}_template_version")
        get_version = getattr(self.proton, f"get_{kind}_template_version")
        update_version = getattr(self.proton, f"update_{kind}_template_version")
        version_key = f"{kind}TemplateVersion"
        try:
            create_template(
                name=bundle.name, displayName=bundle.name, description=f"sample {bundle.relative}"
            )
            extra: dict[str, Any] = {}
            if bundle.kind == SERVICE:
                extra["compatibleEnvironmentTemplates"] = [
                    {"templateName": name, "majorVersion": major} for name, major in bundle.compatible
                ]
            created = create_version(
                templateName=bundle.name,
                source={"s3": {"bucket": self.bucket, "key": key}},
                **extra,
            )[version_key]
            major, minor = created["majorVersion"], created["minorVersion"]
            if major != bundle.major:
                raise BenchmarkError(f"{bundle.name}: a new template got major version {major}")

            def registered() -> tuple[bool, Any]:
                got = get_version(templateName=bundle.name, majorVersion=major, minorVersion=minor)
                version = got[version_key]
                return version["status"] != "REGISTRATION_IN_PROGRESS", version

            version = self.until(f"registration of {bundle.name}", registered)
            if version["status"] not in ("DRAFT", "PUBLISHED"):
                result.registered = False
                result.fail(f"registration: {version['status']}: {version.get('statusMessage')}")
                return False
            update_version(
                templateName=bundle.name, majorVersion=bundle.major, minorVersion=minor, status="PUBLISHED"
            )
        except (OutOfTime, KeyboardInterrupt):
            raise
        except Exception as error:
            result.registered = False
            result.fail(f"registration: {error_text(error)}")
            return False
        result.registered = True
        return True

    # --------------------------------------------------------------------------- environments

    def environment_status(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(self.proton.get_environment(name=name)["environment"])
        except Exception as error:
            if error_code(error) == "ResourceNotFoundException":
                return None
            raise

    def wait_environment(self, name: str) -> dict[str, Any]:
        def look() -> tuple[bool, Any]:
            env = self.environment_status(name)
            status = env["deploymentStatus"] if env else "gone"
            return status not in BUSY, env if env else status

        value = self.until(
            f"environment {name}",
            look,
            cancel=lambda: self.proton.cancel_environment_deployment(environmentName=name),
        )
        return value if isinstance(value, dict) else {"deploymentStatus": value}

    # --------------------------------------------------------------------------- stacks

    def stack_name(self, kind: str, *names: str) -> str:
        from baryon.engine.provisioners.stack_names import stack_name

        return stack_name(kind, *names, account_id=self.account, region=self.region)

    def stack(self, name: str) -> dict[str, Any] | None:
        """The live stack of that name in the local cloud, None when there is none (or it is deleted)."""
        try:
            stacks = self.cfn.describe_stacks(StackName=name)["Stacks"]
        except Exception as error:
            if "does not exist" in error_text(error):
                return None
            raise
        live = [s for s in stacks if s.get("StackStatus") != "DELETE_COMPLETE"]
        return dict(live[0]) if live else None


# ----------------------------------------------------------------------------------------- one group


def outputs_of(listing: list[dict[str, Any]]) -> dict[str, str]:
    return {str(item["key"]): str(item.get("valueString") or "") for item in listing}


def run_group(run: Run, env_bundle: Bundle, services: list[Bundle], alone: bool) -> list[BundleResult]:
    """One environment template and the service templates compatible with it, start to finish. When the
    group is `alone` in the local cloud (`--jobs 1`), what it leaves there (VPCs, gateways, …) is charged to
    the environment bundle: it did not delete cleanly."""
    before = cloud_inventory(run.aws) if alone else {}
    env_result = BundleResult(env_bundle.relative, ENVIRONMENT, env_bundle.name, environments=2)
    service_results = [
        BundleResult(s.relative, SERVICE, s.name, instances=2, pipeline=s.has_pipeline) for s in services
    ]
    env_names = (f"{env_bundle.name}-a", f"{env_bundle.name}-b")
    try:
        _run_group(run, env_bundle, services, env_result, service_results, env_names)
    except OutOfTime as error:
        for result in [env_result, *service_results]:
            result.fail(str(error))
    except Exception as error:  # a bug in the benchmark or a dead server: keep what was counted
        env_result.fail(f"benchmark step failed: {error_text(error)}")
    if alone:
        after = cloud_inventory(run.aws)
        left = {key: after.get(key, 0) - before.get(key, 0) for key in after}
        left = {key: value for key, value in left.items() if value > 0}
        if left:
            env_result.deleted = False
            env_result.fail("left in the local cloud: " + ", ".join(f"{v} {k}" for k, v in left.items()))
    return [env_result, *service_results]


def _run_group(
    run: Run,
    env_bundle: Bundle,
    services: list[Bundle],
    env_result: BundleResult,
    service_results: list[BundleResult],
    env_names: tuple[str, str],
) -> None:
    log(f"[{env_bundle.name}] registering")
    env_ok = run.register(env_bundle, env_result)
    registered = [run.register(s, r) for s, r in zip(services, service_results, strict=True)]
    created_envs: list[str] = []
    if env_ok:
        created_envs = _create_environments(run, env_bundle, env_result, env_names)
    deployed_envs = env_result.environments_deployed == 2
    live: list[tuple[Bundle, BundleResult, dict[str, Any]]] = []
    for bundle, result, ok in zip(services, service_results, registered, strict=True):
        if not ok:
            continue
        if not deployed_envs:
            result.fail(f"not deployed: its environments did not deploy ({env_bundle.name})")
            continue
        plan = _create_service(run, bundle, result, env_names)
        if plan is not None:
            live.append((bundle, result, plan))
    # second deployment: environments, then the instances
    if deployed_envs:
        _update_environments(run, env_bundle, env_result, env_names)
    for bundle, result, plan in live:
        if result.instances_deployed == 2:
            _update_instances(run, bundle, result, plan)
    # deletion: services, then environments
    for bundle, result, _plan in live:
        _delete_service(run, bundle, result, _plan)
    if created_envs:
        _delete_environments(run, env_result, created_envs)


def _create_environments(run: Run, bundle: Bundle, result: BundleResult, names: tuple[str, str]) -> list[str]:
    created = []
    for name in names:
        run.check_time()
        try:
            run.proton.create_environment(
                name=name,
                templateName=bundle.name,
                templateMajorVersion=bundle.major,
                protonServiceRoleArn=run.role_arn,
                spec=environment_spec(bundle),
            )
            created.append(name)
        except Exception as error:
            result.fail(f"CreateEnvironment {name}: {error_text(error)}")
    rendered = True
    for name in created:
        try:
            env = run.wait_environment(name)
        except TimeoutError as error:
            result.fail(str(error))
            continue
        status, message = env.get("deploymentStatus"), env.get("deploymentStatusMessage")
        if status == "SUCCEEDED":
            result.environments_deployed += 1
            if not run.proton.list_environment_outputs(environmentName=name)["outputs"]:
                result.notes.append(f"{name} has no outputs")
        else:
            rendered = rendered and not is_render_error(message)
            result.fail(f"environment {status}: {message}")
    result.rendered = rendered if created else None
    log(f"[{bundle.name}] environments deployed: {result.environments_deployed}/2")
    return created


def _instance_names(plan: dict[str, Any]) -> list[str]:
    return [str(instance["name"]) for instance in plan["instances"]]


def _create_service(
    run: Run, bundle: Bundle, result: BundleResult, env_names: tuple[str, str]
) -> dict[str, Any] | None:
    run.check_time()
    plan = service_spec(bundle, env_names)
    if plan.dropped:
        result.notes.append("sample spec inputs not in the schema, left out: " + ", ".join(plan.dropped))
    repository: dict[str, str] = {}
    if bundle.has_pipeline:
        repository = {
            "repositoryConnectionArn": f"arn:aws:codestar-connections:{run.region}:{run.account}:connection/"
            + str(uuid.uuid5(uuid.NAMESPACE_URL, bundle.name)),
            "repositoryId": REPOSITORY_ID,
            "branchName": BRANCH,
        }
    try:
        run.proton.create_service(
            name=service_name(bundle.name),
            templateName=bundle.name,
            templateMajorVersion=bundle.major,
            spec=plan.text(),
            **repository,
        )
    except Exception as error:
        result.fail(f"CreateService: {error_text(error)}")
        return None
    rendered = True
    instance_outputs: dict[str, dict[str, str]] = {}
    for instance in _instance_names(plan.spec):
        try:
            got = run.until(
                f"instance {instance}",
                lambda i=instance: _instance_look(run, service_name(bundle.name), i),
                cancel=lambda i=instance: run.proton.cancel_service_instance_deployment(
                    serviceName=service_name(bundle.name), serviceInstanceName=i
                ),
            )
        except TimeoutError as error:
            result.fail(str(error))
            continue
        status, message = got.get("deploymentStatus"), got.get("deploymentStatusMessage")
        if status == "SUCCEEDED":
            result.instances_deployed += 1
            instance_outputs[instance] = outputs_of(
                run.proton.list_service_instance_outputs(
                    serviceName=service_name(bundle.name), serviceInstanceName=instance
                )["outputs"]
            )
        else:
            rendered = rendered and not is_render_error(message)
            result.fail(f"instance {status}: {message}")
    pipeline_outputs_ok = True
    if bundle.has_pipeline:
        try:
            got = run.until(
                f"pipeline of {bundle.name}",
                lambda: _pipeline_look(run, service_name(bundle.name)),
                cancel=lambda: run.proton.cancel_service_pipeline_deployment(
                    serviceName=service_name(bundle.name)
                ),
            )
            status, message = got.get("deploymentStatus"), got.get("deploymentStatusMessage")
            result.pipeline_deployed = status == "SUCCEEDED"
            if status != "SUCCEEDED":
                rendered = rendered and not is_render_error(message)
                result.fail(f"pipeline {status}: {message}")
        except TimeoutError as error:
            result.pipeline_deployed = False
            result.fail(str(error))
    result.rendered = rendered
    if result.instances_deployed == 2 and (not bundle.has_pipeline or result.pipeline_deployed):
        pipeline_outputs_ok = _outputs_flow(run, bundle, result, plan.spec, env_names, instance_outputs)
        result.outputs_flow = pipeline_outputs_ok
    log(
        f"[{bundle.name}] service {service_name(bundle.name)}: "
        f"instances {result.instances_deployed}/2, pipeline "
        f"{result.pipeline_deployed if bundle.has_pipeline else 'none'}"
    )
    return plan.spec


def _instance_look(run: Run, service: str, instance: str) -> tuple[bool, Any]:
    got = run.proton.get_service_instance(serviceName=service, name=instance)["serviceInstance"]
    return got["deploymentStatus"] not in BUSY, got


def _pipeline_look(run: Run, service: str) -> tuple[bool, Any]:
    got = run.proton.get_service(name=service)["service"]
    pipeline = got.get("pipeline")
    if pipeline is None:
        return got["status"] not in ("CREATE_IN_PROGRESS",), {
            "deploymentStatus": f"no pipeline ({got['status']})"
        }
    return pipeline["deploymentStatus"] not in BUSY, pipeline


def _outputs_flow(
    run: Run,
    bundle: Bundle,
    result: BundleResult,
    plan: dict[str, Any],
    env_names: tuple[str, str],
    instance_outputs: dict[str, dict[str, str]],
) -> bool:
    """Environment → instance → pipeline: every `environment.outputs.X` the instance template reads is a
    non-empty output of both environments; every output of an instance's stack in the local cloud is one of
    the instance's outputs in Baryon (none dropped on the way); every `service_instances[…].outputs.Y` the
    pipeline template reads is a non-empty output of the first instance (the pipeline, deployed, rendered
    with it: a missing value fails a render)."""
    import re

    reads = set(re.findall(r"environment\.outputs\.(\w+)", bundle.source("instance_infrastructure")))
    for env in env_names:
        outputs = outputs_of(run.proton.list_environment_outputs(environmentName=env)["outputs"])
        missing = sorted(key for key in reads if not outputs.get(key))
        if missing:
            result.fail(f"outputs: environment {env} has no value for {', '.join(missing)}")
            return False
    for instance, outputs in instance_outputs.items():
        stack = run.stack(run.stack_name("service-instance", service_name(bundle.name), instance)) or {}
        in_cloud = {str(o["OutputKey"]) for o in stack.get("Outputs") or []}
        dropped = sorted(in_cloud - set(outputs))
        if dropped:
            result.fail(f"outputs: instance {instance} lacks its stack's outputs {', '.join(dropped)}")
            return False
    if not bundle.has_pipeline:
        return True
    pipeline_source = bundle.source("pipeline_infrastructure")
    wanted = set(re.findall(r"service_instances\[\d+\]\.outputs\.(\w+)", pipeline_source))
    wanted |= set(re.findall(r"instance\.outputs\.(\w+)", pipeline_source))
    first = instance_outputs.get(_instance_names(plan)[0], {})
    missing = sorted(key for key in wanted if not first.get(key))
    if missing:
        result.fail(f"outputs: the pipeline reads {', '.join(missing)}, not an output of the first instance")
        return False
    return True


def _update_environments(run: Run, bundle: Bundle, result: BundleResult, names: tuple[str, str]) -> None:
    run.check_time()
    current = environment_inputs(bundle)
    changed = changed_inputs(bundle.input_properties("environment"), current)
    if not changed:
        result.second_deploy = False
        result.fail("second deployment: the schema offers no input to change")
        return
    spec = yaml.safe_dump({"proton": "EnvironmentSpec", "spec": changed}, sort_keys=False)
    ok = 0
    for name in names:
        try:
            run.proton.update_environment(name=name, spec=spec, deploymentType="CURRENT_VERSION")
            env = run.wait_environment(name)
            if env.get("deploymentStatus") == "SUCCEEDED":
                ok += 1
            else:
                result.fail(
                    f"second deployment {env.get('deploymentStatus')}: {env.get('deploymentStatusMessage')}"
                )
        except TimeoutError as error:
            result.fail(f"second deployment: {error}")
        except Exception as error:
            result.fail(f"second deployment: UpdateEnvironment {name}: {error_text(error)}")
    result.second_deploy = ok == 2
    log(f"[{bundle.name}] second deployment of the environments: {ok}/2")


def _update_instances(run: Run, bundle: Bundle, result: BundleResult, plan: dict[str, Any]) -> None:
    run.check_time()
    ok = 0
    declared = bundle.input_properties("service")
    updated = json.loads(json.dumps(plan))
    for instance in updated["instances"]:
        changed = changed_inputs(declared, instance.get("spec") or {})
        if not changed:
            result.second_deploy = False
            result.fail("second deployment: the schema offers no instance input to change")
            return
        instance["spec"] = changed
    text = yaml.safe_dump(updated, sort_keys=False)
    for name in _instance_names(updated):
        try:
            run.proton.update_service_instance(
                serviceName=service_name(bundle.name), name=name, spec=text, deploymentType="CURRENT_VERSION"
            )
            got = run.until(
                f"second deployment of {name}",
                lambda n=name: _instance_look(run, service_name(bundle.name), n),
                cancel=lambda n=name: run.proton.cancel_service_instance_deployment(
                    serviceName=service_name(bundle.name), serviceInstanceName=n
                ),
            )
            if got.get("deploymentStatus") == "SUCCEEDED":
                ok += 1
            else:
                result.fail(
                    f"second deployment {got.get('deploymentStatus')}: {got.get('deploymentStatusMessage')}"
                )
        except TimeoutError as error:
            result.fail(str(error))
        except Exception as error:
            result.fail(f"second deployment: UpdateServiceInstance {name}: {error_text(error)}")
    result.second_deploy = ok == 2
    plan["instances"] = updated["instances"]


def _delete_service(run: Run, bundle: Bundle, result: BundleResult, plan: dict[str, Any]) -> None:
    run.check_time()
    try:
        run.proton.delete_service(name=service_name(bundle.name))
    except Exception as error:
        result.deleted = False
        result.fail(f"DeleteService: {error_text(error)}")
        return

    def look() -> tuple[bool, Any]:
        try:
            got = run.proton.get_service(name=service_name(bundle.name))["service"]
        except Exception as error:
            if error_code(error) == "ResourceNotFoundException":
                return True, "gone"
            raise
        return got["status"] != "DELETE_IN_PROGRESS", got

    try:
        got = run.until(f"deletion of service {bundle.name}", look)
    except TimeoutError as error:
        result.deleted = False
        result.fail(str(error))
        return
    if got != "gone":
        result.deleted = False
        result.fail(f"delete {got.get('status')}: {got.get('statusMessage')}")
        return
    stacks = [
        run.stack_name("service-instance", service_name(bundle.name), name) for name in _instance_names(plan)
    ]
    if bundle.has_pipeline:
        stacks.append(run.stack_name("service-pipeline", service_name(bundle.name)))
    left = [name for name in stacks if run.stack(name) is not None]
    result.deleted = not left
    if not left and result.instances_deployed == 0 and not result.pipeline_deployed:
        result.deleted = None  # nothing was deployed: no deletion to count
    if left:
        result.fail(f"deleted, but stacks are left in the local cloud: {', '.join(left)}")


def _delete_environments(run: Run, result: BundleResult, names: list[str]) -> None:
    gone = 0
    for name in names:
        run.check_time()
        try:
            run.proton.delete_environment(name=name)
            env = run.wait_environment(name)
        except TimeoutError as error:
            result.fail(f"delete: {error}")
            continue
        except Exception as error:
            result.fail(f"DeleteEnvironment {name}: {error_text(error)}")
            continue
        if env.get("deploymentStatus") != "gone":
            result.fail(f"delete {env.get('deploymentStatus')}: {env.get('deploymentStatusMessage')}")
            continue
        stack = run.stack(run.stack_name("environment", name))
        if stack is not None:
            result.fail(f"{name} deleted, but its stack is {stack.get('StackStatus')} in the local cloud")
            continue
        gone += 1
    result.deleted = gone == len(names) == 2
    if result.deleted and result.environments_deployed == 0:
        result.deleted = None  # no stack was ever deployed: no deletion to count


# ----------------------------------------------------------------------------------------- leftovers


def cloud_inventory(aws: dict[str, Any]) -> dict[str, int]:
    """Counts of what deleted stacks should take with them, in the local cloud."""
    ec2, cfn = aws["ec2"], aws["cloudformation"]
    counts = {
        "stacks": sum(
            1
            for page in cfn.get_paginator("list_stacks").paginate()
            for s in page["StackSummaries"]
            if s["StackStatus"] != "DELETE_COMPLETE"
        ),
        "vpcs": len(ec2.describe_vpcs()["Vpcs"]),
        "subnets": len(ec2.describe_subnets()["Subnets"]),
        "internet_gateways": len(ec2.describe_internet_gateways()["InternetGateways"]),
        "route_tables": len(ec2.describe_route_tables()["RouteTables"]),
        "security_groups": len(ec2.describe_security_groups()["SecurityGroups"]),
    }
    with contextlib.suppress(Exception):
        nat = ec2.describe_nat_gateways()["NatGateways"]
        counts["nat_gateways"] = sum(1 for g in nat if g.get("State") != "deleted")
    return counts


# ----------------------------------------------------------------------------------------- main


def select(bundles: list[Bundle], only: list[str]) -> tuple[list[Bundle], list[Bundle]]:
    """Environment templates to run and the services with them. `--only NAME` keeps a bundle by template
    name or path; a service kept brings its environment template along."""
    environments = [b for b in bundles if b.kind == ENVIRONMENT]
    services = [b for b in bundles if b.kind == SERVICE]
    if only:
        wanted = set(only)
        services = [s for s in services if s.name in wanted or s.relative in wanted]
        needed = {name for s in services for name, _ in s.compatible}
        environments = [
            e for e in environments if e.name in wanted or e.relative in wanted or e.name in needed
        ]
    return environments, services


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path, help="a checkout of aws-proton-cloudformation-sample-templates")
    parser.add_argument("--only", action="append", default=[], help="template name or path (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the data dir and logs of baryon up")
    parser.add_argument("--wait", type=float, default=120.0, help="limit of each wait, seconds")
    parser.add_argument("--timeout", type=float, default=1800.0, help="limit of the whole run, seconds")
    parser.add_argument(
        "--jobs", type=int, default=1, help="environment templates at once (>1: no leftovers per bundle)"
    )
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between looks at a deployment")
    args = parser.parse_args()
    interrupt_on_signals()
    if not args.path.is_dir():
        raise SystemExit(f"{args.path} is not a folder")
    bundles = discover(args.path)
    environments, services = select(bundles, args.only)
    if args.only and not environments:
        raise SystemExit(f"--only {' '.join(args.only)} matches no bundle")
    started = datetime.now(UTC)
    root = Path(tempfile.mkdtemp(prefix="baryon-samples-"))
    processes = Processes()
    try:
        results, leftovers, elapsed = _measure(args, environments, services, root, processes)
    finally:
        processes.stop_all()
        if args.keep:
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    counts = totals(results)
    report = {
        "command": " ".join(shlex.quote(a) for a in ["python3", *sys.argv]),
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "elapsed_seconds": round(elapsed, 1),
        "bundles": [asdict(r) for r in results],
        "totals": counts,
        "leftovers": leftovers,
        "summary": summary_line(counts),
    }
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print_report(report, results)
    return 0


def _measure(
    args: argparse.Namespace,
    environments: list[Bundle],
    services: list[Bundle],
    root: Path,
    processes: Processes,
) -> tuple[list[BundleResult], dict[str, int], float]:
    data_dir = root / "data"
    port, cloud_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BARYON_"))}
    env["BARYON_LOG_LEVEL"] = "warning"
    argv = [
        *baryon_argv(), "up", "--host", HOST, "--port", str(port), "--cloud-port", str(cloud_port),
        "--data-dir", str(data_dir),
    ]  # fmt: skip
    log(f"baryon up on {HOST}:{port}, local cloud on {cloud_port} (data in {data_dir})")
    log_path = root / "up.log"
    child = processes.start(argv, env, log_path)
    wait_listening(child, port, log_path, timeout=120)
    wait_listening(child, cloud_port, log_path, timeout=60)
    aws = clients(read_exports(data_dir / "baryon.env"))
    run = Run(aws, args.wait, time.monotonic() + args.timeout, args.poll)
    run.prepare()
    before = cloud_inventory(aws)
    groups = [(e, [s for s in services if (e.name, e.major) in s.compatible]) for e in environments]
    orphans = [s for s in services if not any((e.name, e.major) in s.compatible for e in environments)]
    started = time.monotonic()
    results: list[BundleResult] = []
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for group in pool.map(lambda g: run_group(run, *g, alone=args.jobs <= 1), groups):
            results += group
    for bundle in orphans:
        orphan = BundleResult(
            bundle.relative, SERVICE, bundle.name, instances=2, pipeline=bundle.has_pipeline
        )
        orphan.fail("no compatible environment template found among the samples")
        results.append(orphan)
    elapsed = time.monotonic() - started
    if child.poll() is not None:
        raise BenchmarkError(f"baryon up exited during the run:\n{log_path.read_text()[-3000:]}")
    after = cloud_inventory(aws)
    leftovers = {key: after.get(key, 0) - before.get(key, 0) for key in after}
    order = {id(b): i for i, b in enumerate([*environments, *services])}
    by_name = {(b.kind, b.name): b for b in [*environments, *services]}
    results.sort(key=lambda r: order.get(id(by_name.get((r.kind, r.name))), 0))
    return results, leftovers, elapsed


def _mark(value: bool | None) -> str:
    return {True: "yes", False: "NO", None: "-"}[value]


def print_report(report: dict[str, Any], results: list[BundleResult]) -> None:
    print(f"# {report['command']}")
    print(f"# {report['date']}, {report['machine']}, {report['elapsed_seconds']} s")
    header = (
        "| bundle | kind | registered | rendered | environments | instances | pipeline | outputs flow "
        "| 2nd deploy | deleted | first failure |"
    )
    print(header)
    print("|" + "---|" * 11)
    for r in results:
        envs = f"{r.environments_deployed}/{r.environments}" if r.kind == ENVIRONMENT else "-"
        instances = f"{r.instances_deployed}/{r.instances}" if r.kind == SERVICE else "-"
        pipeline = _mark(r.pipeline_deployed) if r.pipeline else "-"
        print(
            f"| `{r.bundle}` | {r.kind} | {_mark(r.registered)} | {_mark(r.rendered)} | {envs} | {instances} "
            f"| {pipeline} | {_mark(r.outputs_flow)} | {_mark(r.second_deploy)} | {_mark(r.deleted)} "
            f"| {shorten(r.failure).replace('|', '/')} |"
        )
    print()
    left = {k: v for k, v in report["leftovers"].items() if v}
    print(
        "Left in the local cloud after the run: "
        + (", ".join(f"{v} {k}" for k, v in left.items()) or "nothing")
    )
    print(report["summary"])


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as error:
        log(f"benchmark failed: {error}")
        sys.exit(1)
    except KeyboardInterrupt:
        log("interrupted")
        sys.exit(130)
