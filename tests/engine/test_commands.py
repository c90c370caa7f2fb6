"""Command-runner (CodeBuild) provisioning end to end: environments and service instances whose bundle part
is `codebuild`, deployed by a real worker through the local runner (real /bin/sh processes), driven through
a real boto3 client, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from botocore.exceptions import ClientError

from baryon.domain.outcomes import Done
from baryon.engine import deploy
from baryon.engine.worker import Worker
from baryon.render.codebuild import proton_inputs
from baryon.render.context import environment_context, service_instance_context
from baryon.runtime import Runtime
from baryon.store import deployments as deployment_store
from baryon.store import jobs, run_logs
from baryon.store.schema import credentials, environments
from tests.api.test_environments import ROLE, _published_env_template
from tests.api.test_environments import SPEC as CFN_SPEC
from tests.conftest import ACCOUNT, SECRET_KEY
from tests.support import publishing
from tests.support.api_server import ApiServer
from tests.support.bundles import SERVICE_SCHEMA, SERVICE_SCHEMA_NO_PIPELINE, TF_ENV_SCHEMA, tar_gz
from tests.support.databases import sqlite_only
from tests.support.processes import baryon_env, run
from tests.support.publishing import publish_environment_template
from tests.support.waiters import within
from tests.support.waiting import wait_for

FAST = within(120)
CODEBUILD_ROLE = f"arn:aws:iam::{ACCOUNT}:role/proton-codebuild"
SPEC = "proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.1.0.0/16\n  subnets: [a, b]\n"
ENV_ARN = f"arn:aws:proton:us-east-1:{ACCOUNT}:environment/dev"

OUTPUTS_FROM_INPUTS = [
    "echo hello from $STAGE",
    "test -f run.sh && test -f manifest.yaml",
    'sum=$(sha256sum proton-inputs.json | cut -d" " -f1)',
    'printf \'{"InputsSha": "%s", "Arn": "%s", "Stage": "%s"}\' "$sum" "$RESOURCE_ARN" '
    '"$STAGE" > proton-outputs.json',
]


@pytest.fixture(autouse=True)
def runs_watched_to_the_end(runtime: Runtime) -> Iterator[None]:
    """Each test ends only after the threads that watch its runs have finished with the database."""
    yield
    wait_for(lambda: not any(t.name.startswith("baryon-run-") for t in threading.enumerate()), timeout=90)


@pytest.fixture
def api_server(runtime: Runtime) -> Iterator[ApiServer]:
    """Baryon's API over HTTP, for the `aws` CLI that the commands run."""
    server = ApiServer(runtime).start()
    runtime.settings.advertise_url = server.url
    yield server
    server.stop()


def manifest(provision: list[str], deprovision: list[str] | None = None, extra: str = "") -> str:
    lines = [
        "infrastructure:",
        "  templates:",
        "    - rendering_engine: codebuild",
        "      settings:",
        "        image: aws/codebuild/standard:6.0",
        "        runtimes:",
        '          python: "3.11"',
        "        env:",
        "          variables:",
        "            STAGE: dev",
        "            VERBOSE: true",
        "        provision:",
        *[f"          - {orjson.dumps(command).decode()}" for command in provision],
    ]
    if deprovision is not None:
        lines += ["        deprovision:", *[f"          - {orjson.dumps(c).decode()}" for c in deprovision]]
    return "\n".join(lines) + "\n" + extra


def env_bundle(provision: list[str], deprovision: list[str] | None = None, extra: str = "") -> bytes:
    return tar_gz(
        {
            "schema/schema.yaml": TF_ENV_SCHEMA,
            "infrastructure/manifest.yaml": manifest(provision, deprovision, extra),
            "infrastructure/run.sh": "#!/bin/sh\necho run\n",
        },
        "environment/",
    )


def publish_env_template(proton: Any, s3: Any, bundle: bytes, name: str = "cb-env") -> None:
    publish_environment_template(proton, s3, name, bundle)


def create_env(proton: Any, s3: Any, bundle: bytes, name: str = "dev") -> dict[str, Any]:
    publish_env_template(proton, s3, bundle)
    environment: dict[str, Any] = proton.create_environment(
        name=name, templateName="cb-env", templateMajorVersion="1", spec=SPEC, codebuildRoleArn=CODEBUILD_ROLE
    )["environment"]
    return environment


def publish_service_template(proton: Any, s3: Any, *, compatible: str, pipeline: bool) -> None:
    files = {
        "schema/schema.yaml": SERVICE_SCHEMA if pipeline else SERVICE_SCHEMA_NO_PIPELINE,
        "instance_infrastructure/manifest.yaml": manifest(OUTPUTS_FROM_INPUTS),
        "instance_infrastructure/run.sh": "#!/bin/sh\necho run\n",
    }
    if pipeline:
        commands = ["grep -q front proton-inputs.json", *OUTPUTS_FROM_INPUTS[1:]]
        files["pipeline_infrastructure/manifest.yaml"] = manifest(commands)
        files["pipeline_infrastructure/run.sh"] = "#!/bin/sh\necho run\n"
    publishing.publish_service_template(
        proton, s3, "cb-svc", tar_gz(files, "service/"), compatible=compatible, pipeline=pipeline
    )


def settled(proton: Any, name: str = "dev") -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        env: dict[str, Any] = proton.get_environment(name=name)["environment"]
        return (
            env
            if env["deploymentStatus"] not in ("IN_PROGRESS", "CANCELLING", "DELETE_IN_PROGRESS")
            else None
        )

    return wait_for(probe, timeout=60, interval=0.1)


def log_of(runtime: Runtime, deployment_id: str) -> str:
    with runtime.database.read() as connection:
        return "".join(chunk.text for chunk in run_logs.read(connection, deployment_id, limit=10_000))


def outputs(proton: Any, name: str = "dev") -> dict[str, str]:
    listed = proton.list_environment_outputs(environmentName=name)["outputs"]
    return {item["key"]: item["valueString"] for item in listed}


def runs_dir(runtime: Runtime) -> Path:
    return runtime.settings.data_dir / "runs"


def scoped_credentials(runtime: Runtime) -> list[Any]:
    with runtime.database.read() as connection:
        return connection.execute(sa.select(credentials).where(credentials.c.scope.is_not(None))).all()


def expected_env_inputs(runtime: Runtime) -> bytes:
    with runtime.database.read() as connection:
        stored = connection.execute(sa.select(environments.c.inputs)).scalar_one()
    inputs = orjson.loads(stored)
    assert inputs == {"vpc_cidr": "10.1.0.0/16", "subnets": ["a", "b"], "az_count": 2, "nat": False}
    context = environment_context(name="dev", account_id=ACCOUNT, inputs=inputs)
    return proton_inputs("ENVIRONMENT", context)


# --- success, inputs, outputs, logs --------------------------------------------------------------


def test_environment_commands_run_with_the_bundle_and_inputs_and_report_outputs(
    proton: Any, s3: Any, worker: Worker, runtime: Runtime, database_url: str
) -> None:
    created = create_env(proton, s3, env_bundle(OUTPUTS_FROM_INPUTS))
    assert created["deploymentStatus"] == "IN_PROGRESS"
    assert created["codebuildRoleArn"] == CODEBUILD_ROLE
    env = settled(proton)
    assert env["deploymentStatus"] == "SUCCEEDED", env.get("deploymentStatusMessage")
    assert outputs(proton) == {
        "InputsSha": hashlib.sha256(expected_env_inputs(runtime)).hexdigest(),
        "Arn": ENV_ARN,
        "Stage": "dev",
    }
    deployment = proton.get_deployment(id=env["lastSucceededDeploymentId"])["deployment"]
    assert deployment["deploymentStatus"] == "SUCCEEDED"
    text = log_of(runtime, deployment["id"])
    # The story: Baryon's first step, the commands' output, the settling.
    first, rest = text.split("\n", 1)
    assert re.fullmatch(
        rf"\[baryon\] \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z CREATE of {re.escape(ENV_ARN)} "
        r"\(template version 1\.0\) through command_runner",
        first,
    ), first
    assert rest.startswith(
        "[baryon] The manifest asks for build image aws/codebuild/standard:6.0 and runtimes python 3.11 "
        "(not used by the local runner: the commands run with the host's tools).\n"
        "[baryon] Running command: echo hello from $STAGE\nhello from dev\n"
    )
    assert re.search(r"\n\[baryon\] \S+ SUCCEEDED \(\d+\.\d s after the deployment began\)\n$", text), text
    assert text.count("[baryon] Running command:") == len(OUTPUTS_FROM_INPUTS)
    # The run is cleaned up and its credential is gone once the deployment settled.
    assert not (runs_dir(runtime) / deployment["id"]).exists()
    assert scoped_credentials(runtime) == []
    # `baryon logs` prints the stored output from another process.
    printed = run(["logs", deployment["id"]], baryon_env(runtime.settings.data_dir, database_url, SECRET_KEY))
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == text


@sqlite_only
def test_hcl_input_type_writes_the_tfvars_file(
    proton: Any, s3: Any, worker: Worker, runtime: Runtime
) -> None:
    commands = [
        "test ! -e proton-inputs.json",
        "grep -q 'vpc_cidr' proton-inputs.tfvars",
        'printf \'{"first": "%s"}\' "$(head -n 1 proton-inputs.tfvars | tr -d \'"\')" > proton-outputs.json',
    ]
    create_env(proton, s3, env_bundle(commands, extra="        input_type: HCL\n"))
    env = settled(proton)
    assert env["deploymentStatus"] == "SUCCEEDED", env.get("deploymentStatusMessage")
    assert outputs(proton) == {"first": "environment = {"}


def test_service_instance_and_pipeline_commands(
    proton: Any, s3: Any, worker: Worker, runtime: Runtime
) -> None:
    create_env(proton, s3, env_bundle(OUTPUTS_FROM_INPUTS))
    env = settled(proton)
    assert env["deploymentStatus"] == "SUCCEEDED"
    publish_service_template(proton, s3, compatible="cb-env", pipeline=True)
    spec = "proton: ServiceSpec\npipeline:\n  dockerfile: Dockerfile\ninstances:\n  - name: front\n"
    spec += "    environment: dev\n    spec:\n      port: 8080\n"
    # A pipeline provisioned by commands needs the account's pipelineCodebuildRoleArn.
    proton.update_account_settings(pipelineServiceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/pipeline")
    with pytest.raises(ClientError) as caught:
        proton.create_service(name="api", templateName="cb-svc", templateMajorVersion="1", spec=spec)
    assert caught.value.response["Error"]["Message"] == (
        "The account has no pipelineCodebuildRoleArn (UpdateAccountSettings) to provision the pipeline "
        "with CodeBuild."
    )
    proton.update_account_settings(pipelineCodebuildRoleArn=f"arn:aws:iam::{ACCOUNT}:role/pipeline-cb")
    proton.create_service(name="api", templateName="cb-svc", templateMajorVersion="1", spec=spec)

    def service() -> dict[str, Any] | None:
        found: dict[str, Any] = proton.get_service(name="api")["service"]
        return found if found["pipeline"]["deploymentStatus"] != "IN_PROGRESS" else None

    pipeline = wait_for(service, timeout=60, interval=0.1)["pipeline"]
    assert pipeline["deploymentStatus"] == "SUCCEEDED", pipeline.get("deploymentStatusMessage")
    front = proton.get_service_instance(serviceName="api", name="front")["serviceInstance"]
    assert front["deploymentStatus"] == "SUCCEEDED", front.get("deploymentStatusMessage")
    context = service_instance_context(
        environment={"name": "dev", "account_id": ACCOUNT, "outputs": outputs(proton)},
        service={"name": "api"},
        instance={"name": "front", "inputs": {"port": 8080}},
    )
    expected = hashlib.sha256(proton_inputs("SERVICE_INSTANCE", context)).hexdigest()
    listed = proton.list_service_instance_outputs(serviceName="api", serviceInstanceName="front")["outputs"]
    assert {o["key"]: o["valueString"] for o in listed} == {
        "InputsSha": expected,
        "Arn": f"arn:aws:proton:us-east-1:{ACCOUNT}:service/api/service-instance/front",
        "Stage": "dev",
    }
    listed = proton.list_service_pipeline_outputs(serviceName="api")["outputs"]
    pipeline_outputs = {o["key"]: o["valueString"] for o in listed}
    assert pipeline_outputs["Arn"] == f"arn:aws:proton:us-east-1:{ACCOUNT}:service/api/pipeline"
    assert re.fullmatch(r"[0-9a-f]{64}", pipeline_outputs["InputsSha"])


@sqlite_only
def test_service_instances_need_the_environment_codebuild_role(proton: Any, s3: Any, worker: Worker) -> None:
    _published_env_template(proton, s3)
    proton.create_environment(
        name="cfn", templateName="vpc-env", templateMajorVersion="1", spec=CFN_SPEC, protonServiceRoleArn=ROLE
    )
    proton.get_waiter("environment_deployed").wait(name="cfn", WaiterConfig=FAST)
    publish_service_template(proton, s3, compatible="vpc-env", pipeline=False)
    spec = "proton: ServiceSpec\ninstances:\n  - name: front\n    environment: cfn\n"
    with pytest.raises(ClientError) as caught:
        proton.create_service(name="api", templateName="cb-svc", templateMajorVersion="1", spec=spec)
    assert caught.value.response["Error"]["Message"] == (
        "Environment cfn has no codebuildRoleArn to provision service instances with CodeBuild."
    )
    proton.update_environment(name="cfn", deploymentType="NONE", codebuildRoleArn=CODEBUILD_ROLE)
    proton.create_service(name="api", templateName="cb-svc", templateMajorVersion="1", spec=spec)
    proton.get_waiter("service_instance_deployed").wait(serviceName="api", name="front", WaiterConfig=FAST)


# --- what the commands get -----------------------------------------------------------------------


@sqlite_only
def test_only_the_run_variables_reach_the_commands(
    proton: Any, s3: Any, worker: Worker, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BARYON_CANARY", "leaked")
    monkeypatch.setenv("PGPASSWORD", "leaked")
    commands = [
        "env | cut -d= -f1 | sort | sed 's/^/name:/'",
        'echo "key:$AWS_ACCESS_KEY_ID region:$AWS_DEFAULT_REGION endpoint:$AWS_ENDPOINT_URL_PROTON"',
        'echo "home:$HOME pwd:$(pwd)"',
    ]
    create_env(proton, s3, env_bundle(commands))
    env = settled(proton)
    assert env["deploymentStatus"] == "SUCCEEDED", env.get("deploymentStatusMessage")
    text = log_of(runtime, env["lastAttemptedDeploymentId"])
    names = set(re.findall(r"^name:(\w+)$", text, re.M))
    run_variables = {
        "STAGE",
        "VERBOSE",
        "RESOURCE_ARN",
        "AWS_ENDPOINT_URL_PROTON",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    }
    assert run_variables <= names
    # Beyond them, only PATH, HOME, LANG and what the shell itself sets.
    assert names - run_variables <= {"PATH", "HOME", "LANG", "PWD", "OLDPWD", "SHLVL", "_"}
    key = re.search(r"^key:(\S+) region:(\S+) endpoint:(\S+)$", text, re.M)
    assert key is not None
    assert key.group(1).startswith("AKIA") and key.group(1) != "testing"
    assert key.group(2) == "us-east-1"
    assert key.group(3) == runtime.settings.api_url
    home = re.search(r"^home:(\S+) pwd:(\S+)$", text, re.M)
    assert home is not None and home.group(1) == home.group(2)
    assert home.group(1).endswith(f"/runs/{env['lastAttemptedDeploymentId']}/workspace")


@sqlite_only
def test_the_commands_credential_is_refused_for_anything_but_notify(
    proton: Any, s3: Any, worker: Worker, runtime: Runtime, api_server: ApiServer
) -> None:
    commands = [
        "aws proton list-environments > denied.txt 2>&1 && exit 1 || true",
        "cat denied.txt",
        "grep -q AccessDeniedException denied.txt",
    ]
    create_env(proton, s3, env_bundle(commands))
    env = settled(proton)
    assert env["deploymentStatus"] == "SUCCEEDED", env.get("deploymentStatusMessage")
    text = log_of(runtime, env["lastAttemptedDeploymentId"])
    assert (
        "is not authorized to perform: proton:ListEnvironments because no identity-based policy allows "
        "the proton:ListEnvironments action" in text
    )


# --- failures ------------------------------------------------------------------------------------


@sqlite_only
def test_a_failing_command_fails_the_deployment_and_stops_the_rest(
    proton: Any, s3: Any, worker: Worker, runtime: Runtime
) -> None:
    create_env(
        proton, s3, env_bundle(["echo one", "exit 3", "echo never", "echo '{}' > proton-outputs.json"])
    )
    env = settled(proton)
    assert env["deploymentStatus"] == "FAILED"
    assert env["deploymentStatusMessage"] == "Command 2 of provision (exit 3) exited with status 3."
    text = log_of(runtime, env["lastAttemptedDeploymentId"])
    assert "[baryon] Command 2 exited with status 3" in text
    assert "never" not in text
    assert scoped_credentials(runtime) == []
    assert not (runs_dir(runtime) / env["lastAttemptedDeploymentId"]).exists()


@sqlite_only
def test_a_bad_outputs_file_fails_the_deployment(proton: Any, s3: Any, worker: Worker) -> None:
    create_env(proton, s3, env_bundle(['echo \'{"a": {"b": 1}}\' > proton-outputs.json']))
    env = settled(proton)
    assert env["deploymentStatus"] == "FAILED"
    assert env["deploymentStatusMessage"].startswith(
        "proton-outputs.json: the value of output 'a' is an object"
    )


@sqlite_only
def test_commands_past_the_timeout_are_stopped(
    proton: Any, s3: Any, worker: Worker, runtime: Runtime
) -> None:
    runtime.settings.run_timeout = 1.0
    create_env(proton, s3, env_bundle(["echo started", "sleep 60"]))
    env = settled(proton)
    assert env["deploymentStatus"] == "FAILED"
    assert env["deploymentStatusMessage"] == "The commands timed out after 1 s."
    assert "started" in log_of(runtime, env["lastAttemptedDeploymentId"])


@sqlite_only
def test_cancel_kills_the_whole_process_group(proton: Any, s3: Any, worker: Worker, runtime: Runtime) -> None:
    commands = ["sh -c 'echo child:$$; exec sleep 300' &", "echo shell:$$", "sleep 300"]
    env = create_env(proton, s3, env_bundle(commands))
    deployment_id = env["lastAttemptedDeploymentId"]

    def started() -> str | None:
        text = log_of(runtime, deployment_id)
        return text if "child:" in text and "shell:" in text else None

    text = wait_for(started)
    pids = [int(pid) for pid in re.findall(r"(?:child|shell):(\d+)", text)]
    cancelling = proton.cancel_environment_deployment(environmentName="dev")["environment"]
    assert cancelling["deploymentStatus"] == "CANCELLING"
    env = settled(proton)
    assert env["deploymentStatus"] == "CANCELLED"
    assert env["deploymentStatusMessage"] == "User initiated cancellation."
    assert proton.get_deployment(id=deployment_id)["deployment"]["deploymentStatus"] == "CANCELLED"
    for pid in pids:
        assert process_gone(pid)
    assert scoped_credentials(runtime) == []


def process_gone(pid: int) -> bool:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return text[text.rfind(")") + 2 :].split()[0] in ("Z", "X")


# --- deletion ------------------------------------------------------------------------------------


@sqlite_only
def test_deletion_runs_deprovision(proton: Any, s3: Any, worker: Worker, runtime: Runtime) -> None:
    create_env(proton, s3, env_bundle(["echo up"], ["echo tearing down $RESOURCE_ARN"]))
    assert settled(proton)["deploymentStatus"] == "SUCCEEDED"
    deleting = proton.delete_environment(name="dev")["environment"]
    assert deleting["deploymentStatus"] == "DELETE_IN_PROGRESS"
    deployment_id = deleting["lastAttemptedDeploymentId"]

    def gone() -> bool:
        try:
            proton.get_environment(name="dev")
        except ClientError as error:
            return error.response["Error"]["Code"] == "ResourceNotFoundException"
        return False

    wait_for(gone, timeout=60, interval=0.1)
    with runtime.database.read() as connection:
        record = deployment_store.find(connection, deployment_id)
    assert record.deployment_status == "DELETE_COMPLETE"
    assert f"tearing down {ENV_ARN}" in log_of(runtime, deployment_id)


@sqlite_only
def test_a_failing_deprovision_leaves_the_resource_delete_failed(
    proton: Any, s3: Any, worker: Worker, runtime: Runtime
) -> None:
    create_env(proton, s3, env_bundle(["echo up"], ["echo no", "false"]))
    assert settled(proton)["deploymentStatus"] == "SUCCEEDED"
    proton.delete_environment(name="dev")
    env = settled(proton)
    assert env["deploymentStatus"] == "DELETE_FAILED"
    assert env["deploymentStatusMessage"] == "Command 2 of deprovision (false) exited with status 1."


@sqlite_only
def test_deletion_without_deprovision_commands_completes(proton: Any, s3: Any, worker: Worker) -> None:
    create_env(proton, s3, env_bundle(["echo up"]))
    assert settled(proton)["deploymentStatus"] == "SUCCEEDED"
    proton.delete_environment(name="dev")

    def gone() -> bool:
        try:
            proton.get_environment(name="dev")
        except ClientError as error:
            return error.response["Error"]["Code"] == "ResourceNotFoundException"
        return False

    wait_for(gone, timeout=60, interval=0.1)


# --- API checks ----------------------------------------------------------------------------------


@sqlite_only
def test_codebuild_environments_need_a_codebuild_role(proton: Any, s3: Any, worker: Worker) -> None:
    publish_env_template(proton, s3, env_bundle(["echo up"]))
    with pytest.raises(ClientError) as caught:
        proton.create_environment(
            name="dev",
            templateName="cb-env",
            templateMajorVersion="1",
            spec=SPEC,
            protonServiceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/proton",
        )
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert (
        caught.value.response["Error"]["Message"]
        == "codebuildRoleArn is required to provision an environment with CodeBuild."
    )
    assert proton.list_environments()["environments"] == []


@sqlite_only
def test_secrets_manager_variables_are_refused_at_deployment(proton: Any, s3: Any, worker: Worker) -> None:
    extra = "        env:\n          secrets_manager:\n            TOKEN: my-secret\n"
    text = manifest(["echo up"]).replace(
        "        env:\n          variables:\n", extra + "          variables:\n"
    )
    bundle = tar_gz(
        {"schema/schema.yaml": TF_ENV_SCHEMA, "infrastructure/manifest.yaml": text}, "environment/"
    )
    create_env(proton, s3, bundle)
    env = settled(proton)
    assert env["deploymentStatus"] == "FAILED"
    assert env["deploymentStatusMessage"].startswith("settings.env.secrets_manager is not supported")


# --- crash safety --------------------------------------------------------------------------------


def test_a_repeated_step_never_runs_the_commands_twice(
    proton: Any, s3: Any, runtime: Runtime, worker: Worker
) -> None:
    """Once the template is registered the worker stops and the test plays the worker, repeating steps as a
    worker that crashed would."""
    publish_env_template(proton, s3, env_bundle(["echo once-$RESOURCE_ARN", "sleep 1"]))
    worker.stop()
    env = proton.create_environment(
        name="dev",
        templateName="cb-env",
        templateMajorVersion="1",
        spec=SPEC,
        codebuildRoleArn=CODEBUILD_ROLE,
    )["environment"]
    deployment_id = env["lastAttemptedDeploymentId"]
    owner = "test-worker"

    def claim() -> jobs.Job:
        job = jobs.claim(runtime.database, owner, runtime.clock.now() + 3600, 30)
        assert job is not None and job.payload["deployment_id"] == deployment_id
        return job

    def progress() -> dict[str, Any]:
        with runtime.database.read() as connection:
            loaded: dict[str, Any] = orjson.loads(deployment_store.find(connection, deployment_id).progress)
        return loaded

    def put_progress(value: dict[str, Any]) -> None:
        with runtime.database.write() as connection:
            deployment_store.save_progress(connection, deployment_id, value, runtime.clock.now())

    job = claim()
    deploy.step(runtime, job)  # prepares, starts, saves the handle
    started = progress()
    assert set(started) >= {"method", "credential", "input", "run"}
    # A crash after the start but before the handle was saved: the step runs again from the prepared state.
    put_progress({k: v for k, v in started.items() if k != "run"})
    deploy.step(runtime, job)
    again = progress()
    assert again["run"]["key"] == started["run"]["key"]
    assert again["credential"] == started["credential"]
    # Polls repeated any number of times until the end.
    wait_for(lambda: isinstance(deploy.step(runtime, job), Done), timeout=30, interval=0.1)
    deploy.step(runtime, job)
    jobs.settle(runtime.database, job, owner, Done(), runtime.clock.now())
    assert proton.get_environment(name="dev")["environment"]["deploymentStatus"] == "SUCCEEDED"
    text = log_of(runtime, deployment_id)
    assert text.count(f"once-{ENV_ARN}\n") == 1
    assert text.count("[baryon] Running command: echo once") == 1


# --- outputs and status through notify, with the real `aws` CLI ----------------------------------

NOTIFY = 'aws proton notify-resource-deployment-status-change --resource-arn "$RESOURCE_ARN"'


@sqlite_only
def test_outputs_reported_through_notify_merge_with_the_outputs_file(
    proton: Any, s3: Any, worker: Worker, runtime: Runtime, api_server: ApiServer
) -> None:
    commands = [
        f"{NOTIFY} --status IN_PROGRESS --outputs key=A,valueString=from-notify key=B,valueString=notify-b",
        'echo \'{"B": "from-file", "C": "c"}\' > proton-outputs.json',
    ]
    create_env(proton, s3, env_bundle(commands))
    env = settled(proton)
    assert env["deploymentStatus"] == "SUCCEEDED", env.get("deploymentStatusMessage")
    assert outputs(proton) == {"A": "from-notify", "B": "from-file", "C": "c"}


@sqlite_only
def test_notify_succeeded_with_outputs_settles_when_the_commands_end(
    proton: Any, s3: Any, worker: Worker, runtime: Runtime, api_server: ApiServer
) -> None:
    commands = [f"{NOTIFY} --status SUCCEEDED --outputs key=Url,valueString=http://x key=Port,valueString=80"]
    create_env(proton, s3, env_bundle(commands))
    env = settled(proton)
    assert env["deploymentStatus"] == "SUCCEEDED", env.get("deploymentStatusMessage")
    assert outputs(proton) == {"Url": "http://x", "Port": "80"}
    assert scoped_credentials(runtime) == []


@sqlite_only
def test_commands_that_report_failed_fail_the_deployment(
    proton: Any, s3: Any, worker: Worker, runtime: Runtime, api_server: ApiServer
) -> None:
    commands = [f"{NOTIFY} --status FAILED --status-message 'the quota is reached'", "echo '{}' > x"]
    create_env(proton, s3, env_bundle(commands))
    env = settled(proton)
    assert env["deploymentStatus"] == "FAILED"
    assert env["deploymentStatusMessage"] == "the quota is reached"
