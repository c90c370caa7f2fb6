"""The engine survives `kill -9` of its workers at any point of a deployment.

Real `baryon server` and `baryon worker` processes on SQLite and PostgreSQL; AWS is moto behind a proxy
(tests/support/durability.py) that adds latency, so that kills land in the middle of calls, and that can
withhold the answer of one call so that a worker dies at a chosen point: after AWS created a stack but
before the worker learnt its id (CreateStack), or after the id was saved while the stack is being read
(ListStackResources). Each deployment must end correctly and every stack must exist exactly once: one
CreateStack that succeeded per stack name, no stack ever deleted and made again, no update.

A killed worker's jobs wait for its lease (BARYON_LEASE_SECONDS, short here) to expire before another
worker takes them up (each worker here has an identity of its own); a worker restarted under the killed
one's identity takes them back at once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from baryon.engine.provisioners.cloudformation import stack_name
from tests.conftest import ACCOUNT, SECRET_KEY, free_port
from tests.support import bundles
from tests.support.durability import AwsProxy, Cluster, cloudformation, proton_stacks, wait_until
from tests.support.processes import Process, baryon_env, create_credential, run
from tests.support.publishing import publish_environment_template, publish_service_template

pytestmark = pytest.mark.e2e

REGION = "us-east-1"
SPEC = "proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.1.0.0/16\n"
SERVICE_SPEC = bundles.SERVICE_SPEC
FINAL = {"SUCCEEDED", "FAILED", "CANCELLED", "DELETE_COMPLETE", "DELETE_FAILED"}
LEASE_SECONDS = 8.0  # the workers' lease (BARYON_LEASE_SECONDS), short so that takeovers come quickly
SETTLE = LEASE_SECONDS + 60.0  # deadline for deployments once the killing stops


@pytest.fixture
def cluster(database_url: str, tmp_path: Path, moto_endpoint: str, s3: Any) -> Iterator[Cluster]:
    seed = random.SystemRandom().randrange(2**32)
    proxy = AwsProxy(moto_endpoint, seed).start()
    aws = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    data = tmp_path / "data"
    server_env = baryon_env(data, database_url, SECRET_KEY, {**aws, "AWS_ENDPOINT_URL": moto_endpoint})
    worker_env = baryon_env(data, database_url, SECRET_KEY, {**aws, "AWS_ENDPOINT_URL": proxy.endpoint})
    worker_env["BARYON_LOG_LEVEL"] = "info"
    worker_env["BARYON_LEASE_SECONDS"] = str(LEASE_SECONDS)
    # Each of the many workers started here would load cfn-lint's rules (about a second of CPU) for its
    # first deployment; linting has its own tests, and what is tested here is what a kill leaves.
    worker_env["BARYON_CFN_LINT"] = "off"
    cluster = Cluster(database_url, server_env, worker_env, proxy, tmp_path, seed)
    try:
        assert run(["db", "upgrade"], server_env).returncode == 0
        cluster.credential = create_credential(server_env, ACCOUNT)
        cluster.start_server(free_port())
        yield cluster
    finally:
        cluster.close()


def _role_account() -> str:
    """A moto account of its own for each test, so that its stacks can be counted alone."""
    return str(random.SystemRandom().randrange(10**11, 10**12))


def _publish_environment_template(proton: Any, s3: Any, name: str = "vpc-env") -> None:
    publish_environment_template(proton, s3, name, bundles.environment_bundle())


def _publish_service_template(proton: Any, s3: Any, name: str = "api-svc") -> None:
    publish_service_template(proton, s3, name, bundles.service_bundle())


def _create_environment(proton: Any, name: str, role: str) -> None:
    proton.create_environment(
        name=name, templateName="vpc-env", templateMajorVersion="1", spec=SPEC, protonServiceRoleArn=role
    )


def _environment_statuses(proton: Any, names: list[str]) -> dict[str, str]:
    return {name: proton.get_environment(name=name)["environment"]["deploymentStatus"] for name in names}


def _kill_repeatedly(cluster: Cluster, rng: random.Random, seconds: float, most: int = 30) -> None:
    """Start a worker, let it run for a random short while, SIGKILL it; again and again for `seconds`
    (at most `most` times). Longer than a lease, the jobs stranded by the first kills are taken up again
    and interrupted again."""
    deadline = time.monotonic() + seconds
    for _ in range(most):
        if time.monotonic() > deadline:
            break
        worker = cluster.start_worker()
        time.sleep(rng.uniform(0.0, 2.5))
        cluster.kill(worker)


def _kill_when_held(cluster: Cluster, worker: Process) -> str:
    """Kill `worker` while the proxy withholds the answer of a call AWS has carried out for it; returns
    the StackName of that call."""
    held = cluster.proxy.wait_held(LEASE_SECONDS + 30)
    cluster.kill(worker)
    cluster.proxy.release()
    assert cluster.kills[-1].leases, "the killed worker held no lease"
    return held.params["StackName"]


def _assert_each_stack_once(cluster: Cluster, role: str, expected: set[str]) -> dict[str, str]:
    """Every expected stack exists once, CREATE_COMPLETE, made by one successful CreateStack, never
    updated or deleted; no other Proton stack exists in the account. Returns name -> stack id."""
    stacks = proton_stacks(cloudformation(role))
    summary = {name: [(s["StackId"], s["StackStatus"]) for s in found] for name, found in stacks.items()}
    assert set(stacks) == expected, summary
    for name, found in stacks.items():
        assert [s["StackStatus"] for s in found] == ["CREATE_COMPLETE"], (name, summary[name])
    creates = cluster.proxy.actions("CreateStack")
    assert creates == {name: 1 for name in expected}, creates
    assert not cluster.proxy.actions("UpdateStack", None), cluster.proxy.actions("UpdateStack", None)
    assert not cluster.proxy.actions("DeleteStack", None), cluster.proxy.actions("DeleteStack", None)
    return {name: found[0]["StackId"] for name, found in stacks.items()}


def _stack_outputs(role: str, stack_id: str) -> dict[str, str]:
    stack = cloudformation(role).describe_stacks(StackName=stack_id)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _assert_jobs_done(cluster: Cluster) -> None:
    states = cluster.job_states()
    assert states and set(states.values()) == {"done"}, states


def test_environments_deploy_once_through_repeated_kill_9(cluster: Cluster, s3: Any) -> None:
    rng = random.Random(cluster.seed)
    account = _role_account()
    role = f"arn:aws:iam::{account}:role/proton-service"
    proton = cluster.proton()
    worker = cluster.start_worker()
    _publish_environment_template(proton, s3)

    names = [f"env-{index:02d}" for index in range(12)]
    cluster.proxy.latency = (0.0, 0.25)
    cluster.proxy.hold("CreateStack")
    for name in names:
        _create_environment(proton, name, role)
    first = _kill_when_held(cluster, worker)
    _kill_repeatedly(cluster, rng, seconds=LEASE_SECONDS + 5)
    cluster.start_worker()

    statuses = wait_until(
        lambda: _environment_statuses(proton, names),
        lambda found: set(found.values()) <= FINAL,
        SETTLE,
        f"environments settled (seed {cluster.seed})",
    )
    assert statuses == dict.fromkeys(names, "SUCCEEDED"), (cluster.seed, cluster.logs())
    expected = {stack_name("environment", name, account_id=ACCOUNT, region=REGION): name for name in names}
    assert first in expected
    stack_ids = _assert_each_stack_once(cluster, role, set(expected))
    for stack, name in expected.items():
        environment = proton.get_environment(name=name)["environment"]
        assert environment["lastSucceededDeploymentId"] == environment["lastAttemptedDeploymentId"]
        outputs = proton.list_environment_outputs(environmentName=name)["outputs"]
        assert outputs == [{"key": "VpcId", "valueString": _stack_outputs(role, stack_ids[stack])["VpcId"]}]
    _assert_jobs_done(cluster)
    assert sum(len(kill.leases) for kill in cluster.kills) >= 1


def test_a_running_worker_takes_over_the_lease_of_a_killed_one(cluster: Cluster, s3: Any) -> None:
    account = _role_account()
    role = f"arn:aws:iam::{account}:role/proton-service"
    proton = cluster.proton()
    doomed = cluster.start_worker(concurrency=1)
    _publish_environment_template(proton, s3)

    cluster.proxy.hold("CreateStack")
    _create_environment(proton, "stuck", role)
    held = cluster.proxy.wait_held(60)
    stuck_stack = stack_name("environment", "stuck", account_id=ACCOUNT, region=REGION)
    assert held.params["StackName"] == stuck_stack

    survivor = cluster.start_worker(concurrency=2)
    for name in ("free-a", "free-b"):
        _create_environment(proton, name, role)
    wait_until(
        lambda: _environment_statuses(proton, ["free-a", "free-b", "stuck"]),
        lambda found: found == {"free-a": "SUCCEEDED", "free-b": "SUCCEEDED", "stuck": "IN_PROGRESS"},
        60,
        "the second worker deploying while the first one is stuck",
    )
    wait_until(
        lambda: {owner for owner, _ in cluster.leases().values()},
        lambda owners: owners == {cluster.identities[doomed.popen.pid]},
        10,
        "only the stuck worker holding a lease",
        interval=0.1,
    )

    kill = cluster.kill(doomed)
    cluster.proxy.release()
    assert len(kill.leases) == 1
    lease_expiry = max(kill.leases.values())
    wait_until(
        lambda: _environment_statuses(proton, ["stuck"]),
        lambda found: found["stuck"] in FINAL,
        LEASE_SECONDS + 10,
        "the survivor finishing the killed worker's deployment",
    )
    environment = proton.get_environment(name="stuck")["environment"]
    assert environment["deploymentStatus"] == "SUCCEEDED", cluster.logs()
    deployment = proton.get_deployment(id=environment["lastAttemptedDeploymentId"])["deployment"]
    assert deployment["completedAt"].timestamp() > lease_expiry - 0.01, "taken over before the lease expired"
    assert survivor.popen.poll() is None
    names = ["free-a", "free-b", "stuck"]
    expected = {stack_name("environment", name, account_id=ACCOUNT, region=REGION) for name in names}
    _assert_each_stack_once(cluster, role, expected)
    _assert_jobs_done(cluster)


def test_a_worker_restarted_under_its_identity_takes_its_job_back_at_once(cluster: Cluster, s3: Any) -> None:
    long_lease = 600.0  # no lease expires while the test runs: only taking it back can finish the job
    cluster.worker_env["BARYON_LEASE_SECONDS"] = str(long_lease)
    account = _role_account()
    role = f"arn:aws:iam::{account}:role/proton-service"
    proton = cluster.proton()
    first = cluster.start_worker(concurrency=1, identity="restarting")
    _publish_environment_template(proton, s3)
    cluster.proxy.hold("CreateStack")
    _create_environment(proton, "again", role)
    cluster.proxy.wait_held(60)
    kill = cluster.kill(first)
    cluster.proxy.release()
    assert len(kill.leases) == 1
    cluster.start_worker(concurrency=1, identity="restarting")
    wait_until(
        lambda: _environment_statuses(proton, ["again"]),
        lambda found: found["again"] in FINAL,
        60,
        "the restarted worker finishing its own deployment",
    )
    environment = proton.get_environment(name="again")["environment"]
    assert environment["deploymentStatus"] == "SUCCEEDED", cluster.logs()
    expected = {stack_name("environment", "again", account_id=ACCOUNT, region=REGION)}
    _assert_each_stack_once(cluster, role, expected)
    _assert_jobs_done(cluster)


def test_service_with_instances_and_pipeline_through_repeated_kill_9(cluster: Cluster, s3: Any) -> None:
    rng = random.Random(cluster.seed)
    account = _role_account()
    role = f"arn:aws:iam::{account}:role/proton-service"
    proton = cluster.proton()
    worker = cluster.start_worker()
    _publish_environment_template(proton, s3)
    _publish_service_template(proton, s3)
    _create_environment(proton, "dev", role)
    wait_until(
        lambda: _environment_statuses(proton, ["dev"]),
        lambda found: found["dev"] in FINAL,
        60,
        "environment dev deployed",
    )
    proton.update_account_settings(pipelineServiceRoleArn=f"arn:aws:iam::{account}:role/pipeline")

    cluster.proxy.latency = (0.0, 0.25)
    cluster.proxy.hold("CreateStack")
    proton.create_service(
        name="api",
        templateName="api-svc",
        templateMajorVersion="1",
        spec=SERVICE_SPEC,
        repositoryConnectionArn=f"arn:aws:codestar-connections:{REGION}:{ACCOUNT}:connection/x",
        repositoryId="org/api",
        branchName="main",
    )
    first = _kill_when_held(cluster, worker)
    pipeline_stack = stack_name("service-pipeline", "api", account_id=ACCOUNT, region=REGION)
    cluster.proxy.hold("ListStackResources", pipeline_stack)
    _kill_repeatedly(cluster, rng, seconds=8)
    worker = cluster.start_worker()
    assert _kill_when_held(cluster, worker).split("/")[1] == pipeline_stack
    cluster.start_worker()

    service = wait_until(
        lambda: proton.get_service(name="api")["service"],
        lambda found: not found["status"].endswith("IN_PROGRESS"),
        SETTLE,
        f"service api settled (seed {cluster.seed})",
    )
    assert service["status"] == "ACTIVE", (service, cluster.seed, cluster.logs())
    assert service["pipeline"]["deploymentStatus"] == "SUCCEEDED"
    instances = proton.list_service_instances(serviceName="api")["serviceInstances"]
    assert sorted((i["name"], i["deploymentStatus"]) for i in instances) == [
        ("back", "SUCCEEDED"),
        ("front", "SUCCEEDED"),
    ]
    expected = {
        stack_name("environment", "dev", account_id=ACCOUNT, region=REGION),
        stack_name("service-instance", "api", "front", account_id=ACCOUNT, region=REGION),
        stack_name("service-instance", "api", "back", account_id=ACCOUNT, region=REGION),
        pipeline_stack,
    }
    assert first in expected
    _assert_each_stack_once(cluster, role, expected)
    outputs = proton.list_service_pipeline_outputs(serviceName="api")["outputs"]
    assert {o["key"]: o["valueString"] for o in outputs} == {
        "Instances": "back,front",
        "FirstQueue": "api-back-80",
    }
    front = proton.list_service_instance_outputs(serviceName="api", serviceInstanceName="front")["outputs"]
    assert {o["key"]: o["valueString"] for o in front}["QueueName"] == "api-front-8080"
    _assert_jobs_done(cluster)
