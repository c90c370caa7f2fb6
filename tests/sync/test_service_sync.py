"""The SERVICE_SYNC syncer applied to real commits of a real git repository: instances created and
redeployed through CloudFormation in the local cloud, the pipeline, idempotence, blockers, waiting for
deployments in flight, spec files on other branches, and hostile or broken files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from baryon.api.service_sync import service_syncer
from baryon.engine.worker import Worker
from baryon.runtime import Runtime
from baryon.sync.base import RetryLater
from baryon.sync.service_sync import ServiceSyncer
from tests.conftest import OTHER_ACCOUNT
from tests.support.databases import sqlite_only
from tests.support.git_repos import bare, commit_files, git
from tests.support.service_sync import (
    RepoHeads,
    branch,
    deployed_service,
    link_repository,
    ops_file,
    service_spec,
    sync_config,
    tree_at,
)
from tests.support.waiters import FAST, PATIENT

OPS = "proton-ops.yaml"
SPECS = "specs/api.yaml"


@dataclass
class Repo:
    proton: Any
    runtime: Runtime
    path: Path
    trees: Path
    syncer: ServiceSyncer

    def commit(self, files: dict[str, str], on: str = "main") -> str:
        commit_files(self.path, files, "change", branch=on)
        return git("--git-dir", str(self.path), "rev-parse", on)

    def sync(self, on: str = "main") -> None:
        self.syncer.apply(
            self.runtime, branch(on), tree_at(self.path, on, self.trees), RepoHeads(self.path, self.trees)
        )

    def deployments(self) -> int:
        return len(self.proton.list_deployments(serviceName="api")["deployments"])

    def instance(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.proton.get_service_instance(serviceName="api", name=name)[
            "serviceInstance"
        ]
        return found

    def status(self, name: str) -> dict[str, Any]:
        answer = self.proton.get_service_instance_sync_status(serviceName="api", serviceInstanceName=name)
        return {k: v for k, v in answer.items() if k != "ResponseMetadata"}

    def outputs(self, name: str) -> dict[str, str]:
        listed = self.proton.list_service_instance_outputs(serviceName="api", serviceInstanceName=name)
        return {o["key"]: o["valueString"] for o in listed["outputs"]}

    def deployed(self, name: str) -> None:
        self.proton.get_waiter("service_instance_deployed").wait(
            serviceName="api", name=name, WaiterConfig=FAST
        )


@pytest.fixture
def repo(proton: Any, s3: Any, worker: Any, runtime: Runtime, tmp_path: Path) -> Repo:
    deployed_service(proton, s3, pipeline=True)
    link_repository(proton, runtime)
    sync_config(proton)
    path = bare(tmp_path / "git", "ops")
    return Repo(proton, runtime, path, tmp_path / "trees", service_syncer())


def _entries(*names: str, on: str = "main", spec: str = SPECS) -> str:
    return ops_file("api", {name: (on, spec) for name in names})


def test_ops_file_creates_redeploys_and_applies_the_pipeline(repo: Repo) -> None:
    proton = repo.proton
    front_before = repo.instance("front")["lastAttemptedDeploymentId"]
    pipeline_before = proton.get_service(name="api")["service"]["pipeline"]["lastAttemptedDeploymentId"]
    first = repo.commit(
        {
            OPS: _entries("front", "back"),
            SPECS: service_spec({"front": 8080, "back": 81}, dockerfile="Dockerfile"),
        }
    )
    count = repo.deployments()
    repo.sync()
    assert repo.deployments() == count + 1, "only the new instance deploys"
    back = repo.instance("back")
    assert back["deploymentStatus"] == "IN_PROGRESS" and back["environmentName"] == "dev"
    assert repo.instance("front")["lastAttemptedDeploymentId"] == front_before, (
        "front's block is what it runs"
    )
    repo.sync()
    assert repo.deployments() == count + 1, "the same commit again deploys nothing"
    repo.deployed("back")
    assert repo.outputs("back")["QueueName"] == "api-back-81"
    status = repo.status("back")
    revision = {
        "repositoryName": "org/ops",
        "repositoryProvider": "GITHUB",
        "branch": "main",
        "directory": SPECS,
        "sha": first,
    }
    assert status["desiredState"] == revision
    latest = status["latestSync"]
    assert latest["status"] == "SUCCEEDED" and latest["target"] == "back"
    assert latest["targetRevision"] == revision and latest["initialRevision"] == revision
    assert [e["type"] for e in latest["events"]] == [
        "STARTING_SYNC",
        "DEPLOYMENT_STARTED",
        "DEPLOYMENT_SUCCEEDED",
    ]
    assert latest["events"][0]["externalId"] == first
    assert latest["events"][1]["externalId"] == back["lastAttemptedDeploymentId"]
    assert status["latestSuccessfulSync"] == latest
    assert (
        proton.get_service_sync_blocker_summary(serviceName="api", serviceInstanceName="back")[
            "serviceSyncBlockerSummary"
        ]["latestBlockers"]
        == []
    ), "the sync's own changes open no blocker"

    second = repo.commit({SPECS: service_spec({"front": 9090, "back": 81}, dockerfile="Other")})
    repo.sync()
    assert repo.deployments() == count + 3, "front and the pipeline redeploy; back is unchanged"
    repo.sync()
    assert repo.deployments() == count + 3
    repo.deployed("front")
    proton.get_waiter("service_pipeline_deployed").wait(name="api", WaiterConfig=PATIENT)
    # (moto keeps a queue's name on a stack update, so the inputs show in the instance's spec)
    front = repo.instance("front")
    assert "port: 9090" in front["spec"] and front["lastAttemptedDeploymentId"] != front_before
    pipeline = proton.get_service(name="api")["service"]["pipeline"]
    assert pipeline["lastSucceededDeploymentId"] != pipeline_before
    assert "dockerfile: Other" in pipeline["spec"]
    front_status = repo.status("front")
    assert front_status["latestSync"]["targetRevision"]["sha"] == second
    assert front_status["latestSync"]["status"] == "SUCCEEDED"
    assert repo.status("back")["desiredState"]["sha"] == second
    assert repo.status("back")["latestSync"]["targetRevision"]["sha"] == first
    with repo.runtime.database.read() as connection:
        assert repo.syncer.branches(connection) == [branch("main")]


@sqlite_only
def test_blockers_stop_the_sync_until_resolved(repo: Repo) -> None:
    proton = repo.proton
    repo.commit({OPS: _entries("front"), SPECS: service_spec({"front": 8080}, dockerfile="Dockerfile")})
    count = repo.deployments()
    repo.sync()
    assert repo.deployments() == count

    proton.update_service_instance(
        serviceName="api", name="front", deploymentType="CURRENT_VERSION", spec="port: 8085\n"
    )
    repo.deployed("front")
    [blocker] = proton.get_service_sync_blocker_summary(serviceName="api", serviceInstanceName="front")[
        "serviceSyncBlockerSummary"
    ]["latestBlockers"]
    manual = repo.instance("front")["lastAttemptedDeploymentId"]
    blocked = repo.commit({SPECS: service_spec({"front": 9000}, dockerfile="Dockerfile")})
    repo.sync()
    assert repo.instance("front")["lastAttemptedDeploymentId"] == manual, "the blocked instance is skipped"
    latest = repo.status("front")["latestSync"]
    assert latest["status"] == "FAILED" and latest["targetRevision"]["sha"] == blocked
    assert latest["events"][-1]["type"] == "BLOCKED"
    assert f"blocked by sync blocker {blocker['id']}" in latest["events"][-1]["event"]
    assert latest["events"][-1]["externalId"] == blocker["id"]

    proton.update_service_sync_blocker(id=blocker["id"], resolvedReason="git wins")
    assert repo.instance("front")["lastAttemptedDeploymentId"] == manual, (
        "resolving deploys nothing by itself"
    )
    repo.commit({SPECS: service_spec({"front": 9001, "back": 82}, dockerfile="Dockerfile")})
    repo.sync()
    assert repo.instance("front")["lastAttemptedDeploymentId"] != manual, "the next commit lands"
    repo.deployed("front")
    assert "port: 9001" in repo.instance("front")["spec"]

    repo.commit({OPS: _entries("front", "back")})
    repo.sync()
    repo.deployed("back")
    proton.update_service(
        name="api",
        spec="proton: ServiceSpec\npipeline:\n  dockerfile: Dockerfile\ninstances:\n  - name: front\n"
        "    environment: dev\n    spec:\n      port: 9001\n",
    )
    proton.get_waiter("service_updated").wait(name="api", WaiterConfig=PATIENT)
    [service_blocker] = proton.get_service_sync_blocker_summary(serviceName="api")[
        "serviceSyncBlockerSummary"
    ]["latestBlockers"]
    front_now = repo.instance("front")["lastAttemptedDeploymentId"]
    stopped = repo.commit({SPECS: service_spec({"front": 9002, "back": 82}, dockerfile="Dockerfile")})
    repo.sync()
    assert repo.instance("front")["lastAttemptedDeploymentId"] == front_now, "the whole service is blocked"
    assert proton.list_service_instances(serviceName="api")["serviceInstances"][0]["name"] == "front"
    assert len(proton.list_service_instances(serviceName="api")["serviceInstances"]) == 1
    latest = repo.status("front")["latestSync"]
    assert latest["status"] == "FAILED" and latest["target"] == "api"
    assert latest["targetRevision"]["sha"] == stopped and latest["targetRevision"]["directory"] == OPS
    assert f"blocked by sync blocker {service_blocker['id']}" in latest["events"][-1]["event"]

    proton.update_service_sync_blocker(id=service_blocker["id"], resolvedReason="bring it back")
    repo.commit({"README.md": "next commit\n"})
    repo.sync()
    repo.deployed("back")
    repo.deployed("front")
    assert "port: 9002" in repo.instance("front")["spec"]
    assert repo.outputs("back")["QueueName"] == "api-back-82"


@sqlite_only
def test_a_sync_waits_for_deployments_in_flight(repo: Repo, worker: Worker) -> None:
    repo.commit(
        {
            OPS: _entries("front", "back", "extra"),
            SPECS: service_spec({"front": 8080, "back": 81, "extra": 82}, dockerfile="Dockerfile"),
        }
    )
    with pytest.raises(RetryLater) as waiting:
        repo.sync()
    assert "Service api cannot get a new instance now" in waiting.value.reason
    assert repo.instance("back")["deploymentStatus"] == "IN_PROGRESS"
    extra = repo.status("extra")
    assert extra["latestSync"]["status"] == "INITIATED"
    assert extra["latestSync"]["events"][-1]["type"] == "WAITING"
    assert "latestSuccessfulSync" not in extra
    repo.deployed("back")
    back = repo.instance("back")["lastAttemptedDeploymentId"]
    repo.sync()
    assert repo.instance("back")["lastAttemptedDeploymentId"] == back
    repo.deployed("extra")
    assert repo.status("extra")["latestSync"]["status"] == "SUCCEEDED"

    # A redeploy waits while the instance still deploys (here: the sync's own deployment of a commit
    # before, held IN_PROGRESS by stopping the worker until the next commit has been applied).
    worker.stop()
    repo.commit({SPECS: service_spec({"front": 8080, "back": 81, "extra": 85}, dockerfile="Dockerfile")})
    repo.sync()
    assert repo.instance("extra")["deploymentStatus"] == "IN_PROGRESS"
    repo.commit({SPECS: service_spec({"front": 8080, "back": 83, "extra": 86}, dockerfile="Dockerfile")})
    with pytest.raises(RetryLater) as waiting:
        repo.sync()
    assert "Service instance extra has a deployment in progress (IN_PROGRESS)" in waiting.value.reason
    assert repo.instance("back")["deploymentStatus"] == "IN_PROGRESS", "the rest of the commit is applied"
    again = Worker(repo.runtime, concurrency=2, poll_interval=0.05)
    again.start()
    try:
        repo.deployed("extra")
        repo.sync()
        repo.deployed("extra")
        repo.deployed("back")
        assert "port: 86" in repo.instance("extra")["spec"]
        assert "port: 83" in repo.instance("back")["spec"]
    finally:
        again.stop()

    assert "port: 86" in repo.instance("extra")["spec"]
    repo.deployed("extra")
    repo.deployed("back")


def _new_branch(repo: Path, name: str, files: dict[str, str]) -> None:
    work = repo.parent / ".branch" / name
    git("clone", "-q", str(repo), str(work))
    git("checkout", "-q", "-b", name, cwd=work)
    for relative, text in files.items():
        (work / relative).parent.mkdir(parents=True, exist_ok=True)
        (work / relative).write_text(text)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "specs", cwd=work)
    git("push", "-q", "origin", f"HEAD:{name}", cwd=work)


@sqlite_only
def test_spec_files_on_other_branches(repo: Repo) -> None:
    with repo.runtime.database.read() as connection:
        assert repo.syncer.branches(connection) == [branch("main")]
    _new_branch(repo.path, "specs", {"front.yaml": service_spec({"front": 7000})})
    repo.commit({OPS: _entries("front", on="specs", spec="front.yaml")})
    before = repo.instance("front")["lastAttemptedDeploymentId"]
    repo.sync("main")
    with repo.runtime.database.read() as connection:
        assert repo.syncer.branches(connection) == [branch("main"), branch("specs")]
    assert repo.instance("front")["lastAttemptedDeploymentId"] != before
    repo.deployed("front")
    assert repo.status("front")["latestSync"]["targetRevision"]["branch"] == "specs"
    moved = repo.commit({"front.yaml": service_spec({"front": 7001})}, on="specs")
    repo.sync("specs")
    repo.deployed("front")
    assert "port: 7001" in repo.instance("front")["spec"]
    assert repo.status("front")["desiredState"]["sha"] == moved

    # The same repository and branch seen from another account is another account's: nothing happens.
    repo.commit({"front.yaml": service_spec({"front": 7002})}, on="specs")
    count = repo.deployments()
    other = branch("specs", account=OTHER_ACCOUNT)
    repo.syncer.apply(
        repo.runtime, other, tree_at(repo.path, "specs", repo.trees), RepoHeads(repo.path, repo.trees)
    )
    assert repo.deployments() == count

    # Pointing the config elsewhere forgets the branches the old ops file named until it is read again.
    repo.proton.update_service_sync_config(
        serviceName="api",
        repositoryName="org/ops",
        repositoryProvider="GITHUB",
        branch="main",
        filePath="x.yaml",
    )
    with repo.runtime.database.read() as connection:
        assert repo.syncer.branches(connection) == [branch("main")]


BOMB = (
    'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "sync: {services: {api: {back: {branch: main, spec: x}}}}\n"
)


def _symlink_commit(repo: Path, link: str, points_to: str) -> None:
    work = repo.parent / ".links" / os.path.basename(link)
    git("clone", "-q", str(repo), str(work))
    (work / link).parent.mkdir(parents=True, exist_ok=True)
    os.symlink(points_to, work / link)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "link", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)


@sqlite_only
def test_broken_and_hostile_commits_change_nothing(repo: Repo) -> None:
    good_spec = service_spec({"front": 8080, "back": 81}, dockerfile="Dockerfile")
    cases: list[tuple[dict[str, str], str]] = [
        (
            {"README.md": "no ops file yet\n"},
            f"The ops file {OPS} on branch main does not exist (or is not a regular file).",
        ),
        ({OPS: BOMB}, "is too large: it expands to more than 10000 values"),
        ({OPS: "sync: [unclosed\n"}, f"The ops file {OPS} on branch main is not valid YAML: line"),
        ({OPS: "- a list\n"}, "must be a mapping with sync: services: <service>: <instance>: ..."),
        (
            {OPS: "sync:\n  services:\n    api:\n      back: [1, 2]\n"},
            "sync.services.api.back must be a mapping with branch and spec, not a list.",
        ),
        (
            {OPS: "sync:\n  services:\n    api:\n      back: {branch: main, spec: 5}\n"},
            "sync.services.api.back: branch and spec must both be strings.",
        ),
        (
            {OPS: _entries("back", spec="../../etc/passwd")},
            "sync.services.api.back: The path '../../etc/passwd' is not a relative path inside the "
            "repository",
        ),
        (
            {OPS: _entries("back", spec="specs/missing.yaml")},
            "The spec file specs/missing.yaml on branch main does not exist (or is not a regular file).",
        ),
        (
            {OPS: _entries("back"), SPECS: service_spec({"front": 8080})},
            f"The spec file {SPECS} on branch main lists no instance named back.",
        ),
        ({SPECS: "x" * 300_000}, f"The spec file {SPECS} on branch main is larger than 204800 bytes."),
        (
            {SPECS: BOMB.replace("sync:", "proton: ServiceSpec\nz:")},
            "is too large: it expands to more than 10000 values",
        ),
        (
            {SPECS: "proton: ServiceSpec\ninstances: 7\n"},
            "'instances' must be a list of instances, not a number",
        ),
        (
            {
                SPECS: service_spec({"front": 8080, "back": None}).replace(
                    "back\n", "back\n    spec:\n      port: abc\n"
                )
            },
            "service instance back: ",
        ),
        (
            {
                SPECS: good_spec.replace(
                    "environment: dev\n    spec:\n      port: 81",
                    "environment: nope\n    spec:\n      port: 81",
                )
            },
            "environment nope does not exist",
        ),
        (
            {
                OPS: ops_file("api", {"front": ("main", SPECS), "back": ("main", "specs/back.yaml")}),
                SPECS: service_spec({"front": 8080}, dockerfile="Dockerfile"),
                "specs/back.yaml": service_spec({"back": 81}, dockerfile="Other"),
            },
            f"The spec files {SPECS} on branch main, specs/back.yaml on branch main give different "
            "'pipeline' sections; keep one.",
        ),
        (
            {OPS: _entries("front"), SPECS: service_spec({"front": 8080}).replace("dev", "prod")},
            "Service instance front runs in environment dev; the sync cannot move it to environment prod.",
        ),
        (
            {OPS: _entries("back", on="elsewhere")},
            "The branch elsewhere named for service instance back was not found",
        ),
    ]
    count = repo.deployments()
    for files, expected in cases:
        sha = repo.commit(files)
        repo.sync()
        repo.sync()
        assert repo.deployments() == count, expected
        names = [i["name"] for i in repo.proton.list_service_instances(serviceName="api")["serviceInstances"]]
        assert names == ["front"], expected
        latest = repo.status("front")["latestSync"]
        assert latest["status"] == "FAILED" and latest["targetRevision"]["sha"] == sha, expected
        failures = [e["event"] for e in latest["events"] if e["type"] == "FAILED"]
        assert failures and all(f.startswith(f"The commit {sha} was not applied: ") for f in failures)
        assert any(expected in f for f in failures), (expected, failures)
    # An instance the ops file lists has a sync status before it exists.
    assert repo.status("back")["latestSync"]["status"] == "FAILED"
    assert "desiredState" not in repo.status("back")
    _symlink_commit(repo.path, "specs/link.yaml", "/etc/passwd")
    repo.commit({OPS: _entries("back", spec="specs/link.yaml")})
    repo.sync()
    latest = repo.status("front")["latestSync"]
    assert (
        "The spec file specs/link.yaml on branch main does not exist (or is not a regular file)."
        in latest["events"][-1]["event"]
    )
    _symlink_commit(repo.path, "etc", "/etc")
    repo.commit({OPS: _entries("back", spec="etc/passwd")})
    repo.sync()
    assert (
        "The spec file etc/passwd on branch main does not exist (or is not a regular file)."
        in (repo.status("front")["latestSync"]["events"][-1]["event"])
    )
    assert repo.deployments() == count
    # A good commit after all that lands.
    repo.commit({OPS: _entries("front", "back"), SPECS: good_spec})
    repo.sync()
    repo.deployed("back")


@sqlite_only
def test_deleting_the_service_deletes_its_sync_status(repo: Repo) -> None:
    proton = repo.proton
    repo.commit({OPS: _entries("front"), SPECS: service_spec({"front": 9001}, dockerfile="Dockerfile")})
    repo.sync()
    repo.deployed("front")
    status = repo.status("front")
    assert status["latestSync"]["status"] == "SUCCEEDED" and "desiredState" in status
    spec = proton.get_service(name="api")["service"]["spec"]

    proton.delete_service(name="api")
    proton.get_waiter("service_deleted").wait(name="api", WaiterConfig=PATIENT)
    proton.create_service(name="api", templateName="api-svc", templateMajorVersion="1", spec=spec)
    proton.get_waiter("service_created").wait(name="api", WaiterConfig=PATIENT)
    # A new service of the same name starts with no sync status, no config and no blockers.
    assert repo.status("front") == {}
    with pytest.raises(proton.exceptions.ResourceNotFoundException):
        proton.get_service_sync_config(serviceName="api")
    summary = proton.get_service_sync_blocker_summary(serviceName="api")["serviceSyncBlockerSummary"]
    assert summary["latestBlockers"] == []
