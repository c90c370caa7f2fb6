"""Service sync operations through a real boto3 client: configs, their preconditions and guards, blockers
opened by changes made by hand, resolving them, sync status, and account isolation."""

from __future__ import annotations

from typing import Any

import pytest

from baryon.runtime import Runtime
from tests.conftest import ACCOUNT
from tests.support.databases import sqlite_only
from tests.support.errors import error_of as _error
from tests.support.service_sync import REPOSITORY, deployed_service, link_repository
from tests.support.waiters import FAST

SERVICE_ARN = f"arn:aws:proton:us-east-1:{ACCOUNT}:service/api"
REPO_ARN = f"arn:aws:proton:us-east-1:{ACCOUNT}:repository/github:{REPOSITORY}"
CONFIG = {
    "serviceName": "api",
    "repositoryName": REPOSITORY,
    "repositoryProvider": "GITHUB",
    "branch": "main",
    "filePath": "proton-ops.yaml",
}


@pytest.fixture
def service(proton: Any, s3: Any, worker: Any, runtime: Runtime) -> str:
    deployed_service(proton, s3, pipeline=False)
    link_repository(proton, runtime)
    return "api"


def test_config_lifecycle_and_rules(proton: Any, service: str) -> None:
    created = proton.create_service_sync_config(**CONFIG)["serviceSyncConfig"]
    assert created == CONFIG
    assert proton.get_service_sync_config(serviceName="api")["serviceSyncConfig"] == CONFIG
    assert _error(proton.create_service_sync_config, **CONFIG) == (
        "ConflictException",
        "Service api already has a service sync config; change it with UpdateServiceSyncConfig.",
    )
    changed = {**CONFIG, "branch": "release", "filePath": "ops/proton-ops.yaml"}
    assert proton.update_service_sync_config(**changed)["serviceSyncConfig"] == changed
    assert proton.get_service_sync_config(serviceName="api")["serviceSyncConfig"] == changed
    # The model documents TEMPLATE_SYNC only; SERVICE_SYNC lists the service sync configs.
    definitions = proton.list_repository_sync_definitions(
        repositoryName=REPOSITORY, repositoryProvider="GITHUB", syncType="SERVICE_SYNC"
    )["syncDefinitions"]
    assert definitions == [
        {"branch": "release", "directory": "ops/proton-ops.yaml", "parent": REPO_ARN, "target": "api"}
    ]
    assert (
        proton.list_repository_sync_definitions(
            repositoryName=REPOSITORY, repositoryProvider="GITHUB", syncType="TEMPLATE_SYNC"
        )["syncDefinitions"]
        == []
    )
    assert _error(proton.delete_repository, name=REPOSITORY, provider="GITHUB") == (
        "ConflictException",
        f"The repository github:{REPOSITORY} holds the ops file of the service sync config of service api; "
        "it cannot be deleted while it is used.",
    )
    assert proton.delete_service_sync_config(serviceName="api")["serviceSyncConfig"] == changed
    assert _error(proton.get_service_sync_config, serviceName="api") == (
        "ResourceNotFoundException",
        f"The requested service sync config does not exist: {SERVICE_ARN}",
    )
    for call in (proton.delete_service_sync_config, proton.get_service_sync_config):
        assert _error(call, serviceName="api")[0] == "ResourceNotFoundException"
    assert _error(proton.update_service_sync_config, **CONFIG) == (
        "ResourceNotFoundException",
        f"The requested service sync config does not exist: {SERVICE_ARN}",
    )
    # Deleting the config deleted nothing else.
    assert proton.get_service(name="api")["service"]["status"] == "ACTIVE"
    assert proton.get_service_instance(serviceName="api", name="front")["serviceInstance"]
    proton.delete_repository(name=REPOSITORY, provider="GITHUB")


@sqlite_only
def test_preconditions(proton: Any, service: str) -> None:
    missing = f"arn:aws:proton:us-east-1:{ACCOUNT}:service/nope"
    assert _error(proton.create_service_sync_config, **{**CONFIG, "serviceName": "nope"}) == (
        "ValidationException",
        f"The service nope does not exist in this account and region ({missing}).",
    )
    other_repo = f"arn:aws:proton:us-east-1:{ACCOUNT}:repository/github:org/other"
    assert _error(proton.create_service_sync_config, **{**CONFIG, "repositoryName": "org/other"}) == (
        "ValidationException",
        f"The repository github:org/other is not linked to this account and region ({other_repo}); "
        "link it with CreateRepository first.",
    )
    assert _error(proton.create_service_sync_config, **{**CONFIG, "branch": "a..b"}) == (
        "ValidationException",
        "The branch name a..b is not a valid git branch name.",
    )
    for path in ("../proton-ops.yaml", "/etc/passwd", "ops//file.yaml", ".git/config", "a\\b"):
        code, message = _error(proton.create_service_sync_config, **{**CONFIG, "filePath": path})
        assert (code, message) == (
            "ValidationException",
            f"Invalid filePath: The path {path!r} is not a relative path inside the repository "
            "(no leading '/', no empty, '.' or '..' parts, nothing under .git).",
        )
    with pytest.raises(Exception, match="ResourceNotFoundException"):
        proton.get_service_sync_config(serviceName="api")
    proton.create_service_sync_config(**CONFIG)
    for call, params in (
        (proton.get_service_sync_config, {"serviceName": "nope"}),
        (proton.delete_service_sync_config, {"serviceName": "nope"}),
        (proton.update_service_sync_config, {**CONFIG, "serviceName": "nope"}),
        (proton.get_service_sync_blocker_summary, {"serviceName": "nope"}),
        (proton.get_service_instance_sync_status, {"serviceName": "nope", "serviceInstanceName": "front"}),
    ):
        assert _error(call, **params) == (
            "ResourceNotFoundException",
            f"The requested service does not exist: {missing}",
        )
    assert _error(proton.update_service_sync_config, **{**CONFIG, "repositoryName": "org/other"}) == (
        "ResourceNotFoundException",
        f"The requested repository does not exist: {other_repo}",
    )
    instance_arn = f"{SERVICE_ARN}/service-instance/ghost"
    assert _error(
        proton.get_service_instance_sync_status, serviceName="api", serviceInstanceName="ghost"
    ) == (
        "ResourceNotFoundException",
        f"The requested service instance does not exist: {instance_arn}",
    )
    assert _error(
        proton.get_service_sync_blocker_summary, serviceName="api", serviceInstanceName="ghost"
    ) == (
        "ResourceNotFoundException",
        f"The requested service instance does not exist: {instance_arn}",
    )
    # An instance the sync never touched has no sync status yet.
    status = proton.get_service_instance_sync_status(serviceName="api", serviceInstanceName="front")
    assert {k: v for k, v in status.items() if k != "ResponseMetadata"} == {}


SECOND = "proton: ServiceSpec\ninstances:\n  - name: back\n    environment: dev\n    spec:\n      port: 81\n"


def _summary(proton: Any, **params: Any) -> dict[str, Any]:
    summary: dict[str, Any] = proton.get_service_sync_blocker_summary(serviceName="api", **params)[
        "serviceSyncBlockerSummary"
    ]
    return summary


@sqlite_only
def test_changes_by_hand_open_blockers(proton: Any, other_account_proton: Any, service: str) -> None:
    # Without a sync config, changes by hand open no blocker.
    proton.update_service_instance(
        serviceName="api", name="front", deploymentType="CURRENT_VERSION", spec="port: 8081\n"
    )
    proton.get_waiter("service_instance_deployed").wait(serviceName="api", name="front", WaiterConfig=FAST)
    assert _summary(proton) == {"serviceName": "api", "latestBlockers": []}
    assert _summary(proton, serviceInstanceName="front") == {
        "serviceName": "api",
        "serviceInstanceName": "front",
        "latestBlockers": [],
    }

    proton.create_service_sync_config(**CONFIG)
    updated = proton.update_service_instance(
        serviceName="api", name="front", deploymentType="CURRENT_VERSION", spec="port: 8082\n"
    )["serviceInstance"]
    assert updated["deploymentStatus"] == "IN_PROGRESS", "the change by hand goes through"
    proton.get_waiter("service_instance_deployed").wait(serviceName="api", name="front", WaiterConfig=FAST)
    assert _summary(proton)["latestBlockers"] == [], "an instance's blocker is not the service's"
    summary = _summary(proton, serviceInstanceName="front")
    [blocker] = summary["latestBlockers"]
    assert blocker["type"] == "AUTOMATED" and blocker["status"] == "ACTIVE"
    assert blocker["createdReason"] == (
        f"Manual update of service instance front of service api (UpdateServiceInstance by "
        f"arn:aws:iam::{ACCOUNT}:user/tester); the service syncs from git, so its sync is blocked until this "
        "blocker is resolved."
    )
    contexts = {c["key"]: c["value"] for c in blocker["contexts"]}
    assert contexts["ServiceInstanceName"] == "front" and contexts["Operation"] == "UpdateServiceInstance"
    assert "resolvedAt" not in blocker and "resolvedReason" not in blocker

    # A second change keeps the one active blocker.
    proton.update_service_instance(
        serviceName="api", name="front", deploymentType="CURRENT_VERSION", spec="port: 8083\n"
    )
    assert [b["id"] for b in _summary(proton, serviceInstanceName="front")["latestBlockers"]] == [
        blocker["id"]
    ]
    proton.get_waiter("service_instance_deployed").wait(serviceName="api", name="front", WaiterConfig=FAST)

    # Another account sees none of it.
    assert _error(other_account_proton.update_service_sync_blocker, id=blocker["id"], resolvedReason="x") == (
        "ResourceNotFoundException",
        f"The requested service sync blocker does not exist: {blocker['id']}",
    )
    other_service = "arn:aws:proton:us-east-1:222222222222:service/api"
    for call, params in (
        (other_account_proton.get_service_sync_blocker_summary, {"serviceName": "api"}),
        (other_account_proton.get_service_sync_config, {"serviceName": "api"}),
        (other_account_proton.delete_service_sync_config, {"serviceName": "api"}),
        (
            other_account_proton.get_service_instance_sync_status,
            {"serviceName": "api", "serviceInstanceName": "front"},
        ),
    ):
        assert _error(call, **params) == (
            "ResourceNotFoundException",
            f"The requested service does not exist: {other_service}",
        )
    assert (
        other_account_proton.list_repository_sync_definitions(
            repositoryName=REPOSITORY, repositoryProvider="GITHUB", syncType="SERVICE_SYNC"
        )["syncDefinitions"]
        == []
    )

    # Resolving.
    assert _error(proton.update_service_sync_blocker, id=blocker["id"], resolvedReason="  ") == (
        "ValidationException",
        "resolvedReason must not be empty.",
    )
    assert _error(proton.update_service_sync_blocker, id="no-such-blocker", resolvedReason="done") == (
        "ResourceNotFoundException",
        "The requested service sync blocker does not exist: no-such-blocker",
    )
    resolved = proton.update_service_sync_blocker(id=blocker["id"], resolvedReason="kept port 8083 in git")
    assert resolved["serviceName"] == "api" and resolved["serviceInstanceName"] == "front"
    shown = resolved["serviceSyncBlocker"]
    assert shown["status"] == "RESOLVED" and shown["resolvedReason"] == "kept port 8083 in git"
    assert shown["resolvedAt"] >= shown["createdAt"]
    assert _error(proton.update_service_sync_blocker, id=blocker["id"], resolvedReason="again") == (
        "ValidationException",
        f"Sync blocker {blocker['id']} is already resolved.",
    )
    [latest] = _summary(proton, serviceInstanceName="front")["latestBlockers"]
    assert latest["id"] == blocker["id"] and latest["status"] == "RESOLVED"

    # CreateServiceInstance by hand blocks the new instance.
    proton.create_service_instance(serviceName="api", name="back", spec=SECOND)
    [created] = _summary(proton, serviceInstanceName="back")["latestBlockers"]
    assert created["createdReason"].startswith(
        "Manual creation of service instance back of service api (CreateServiceInstance by "
    )
    proton.get_waiter("service_instance_deployed").wait(serviceName="api", name="back", WaiterConfig=FAST)

    # Removing an instance by hand (UpdateService without it) blocks the whole service.
    proton.update_service(
        name="api",
        spec="proton: ServiceSpec\ninstances:\n  - name: front\n    environment: dev\n    spec:\n"
        "      port: 8083\n",
    )
    [service_blocker] = _summary(proton)["latestBlockers"]
    assert service_blocker["status"] == "ACTIVE"
    assert service_blocker["createdReason"] == (
        f"Manual deletion of service instance back of service api (UpdateService by "
        f"arn:aws:iam::{ACCOUNT}:user/tester); the service syncs from git, so the sync of all its instances "
        "is blocked until this blocker is resolved."
    )
    assert {"key": "ServiceInstanceName", "value": "back"} in service_blocker["contexts"]
    resolved = proton.update_service_sync_blocker(id=service_blocker["id"], resolvedReason="gone for good")
    assert "serviceInstanceName" not in resolved and resolved["serviceName"] == "api"
    proton.get_waiter("service_updated").wait(name="api", WaiterConfig=FAST)
    # The blockers of a deleted instance stay readable.
    assert _summary(proton, serviceInstanceName="back")["latestBlockers"][0]["id"] == created["id"]

    # Deleting the config keeps the blockers; deleting the service removes config and blockers.
    proton.delete_service_sync_config(serviceName="api")
    assert _summary(proton)["latestBlockers"][0]["id"] == service_blocker["id"]
    proton.create_service_sync_config(**CONFIG)
    proton.delete_service(name="api")
    proton.get_waiter("service_deleted").wait(name="api", WaiterConfig=FAST)
    assert _error(proton.update_service_sync_blocker, id=blocker["id"], resolvedReason="x")[0] == (
        "ResourceNotFoundException"
    )
    proton.delete_repository(name=REPOSITORY, provider="GITHUB")
