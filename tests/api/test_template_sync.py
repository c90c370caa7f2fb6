"""Template sync configs and sync status through a real boto3 client: the operations, their rules and
messages (reference §1.9, §6.1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from baryon.runtime import Runtime
from tests.conftest import ACCOUNT
from tests.support.errors import error_of as _error
from tests.support.template_sync import REPOSITORY, env_files, linked_repository, look

REGION = "us-east-1"
CONFIG = {
    "templateName": "env",
    "templateType": "ENVIRONMENT",
    "repositoryName": REPOSITORY,
    "repositoryProvider": "GITHUB",
    "branch": "main",
}


def test_create_get_update_delete(proton: Any, runtime: Runtime, tmp_path: Path) -> None:
    linked_repository(proton, runtime, tmp_path)
    proton.create_environment_template(name="env")
    created = proton.create_template_sync_config(**CONFIG)["templateSyncConfig"]
    assert created == CONFIG
    assert (
        proton.get_template_sync_config(templateName="env", templateType="ENVIRONMENT")["templateSyncConfig"]
        == CONFIG
    )
    updated = proton.update_template_sync_config(
        **{**CONFIG, "branch": "release", "subdirectory": "templates"}
    )["templateSyncConfig"]
    assert updated == {**CONFIG, "branch": "release", "subdirectory": "templates"}
    assert (
        proton.get_template_sync_config(templateName="env", templateType="ENVIRONMENT")["templateSyncConfig"]
        == updated
    )
    deleted = proton.delete_template_sync_config(templateName="env", templateType="ENVIRONMENT")
    assert deleted["templateSyncConfig"] == updated
    assert _error(proton.get_template_sync_config, templateName="env", templateType="ENVIRONMENT") == (
        "ResourceNotFoundException",
        "The requested template sync config does not exist: environment template env",
    )


def test_create_preconditions(proton: Any, runtime: Runtime, tmp_path: Path) -> None:
    assert _error(proton.create_template_sync_config, **CONFIG) == (
        "ValidationException",
        "The environment template env does not exist; create it before syncing it from git.",
    )
    proton.create_environment_template(name="env")
    assert _error(proton.create_template_sync_config, **CONFIG) == (
        "ValidationException",
        f"The repository github:{REPOSITORY} is not linked to this account and region "
        f"(arn:aws:proton:{REGION}:{ACCOUNT}:repository/github:{REPOSITORY}); "
        "link it with CreateRepository first.",
    )
    linked_repository(proton, runtime, tmp_path)
    assert _error(proton.create_template_sync_config, **{**CONFIG, "branch": "bad..branch"}) == (
        "ValidationException",
        "The branch name bad..branch is not a valid git branch name.",
    )
    assert _error(proton.create_template_sync_config, **{**CONFIG, "subdirectory": "../outside"}) == (
        "ValidationException",
        "The subdirectory ../outside must be a path inside the repository (no '..' components).",
    )
    # A service template of the same name is another template.
    assert _error(proton.create_template_sync_config, **{**CONFIG, "templateType": "SERVICE"}) == (
        "ValidationException",
        "The service template env does not exist; create it before syncing it from git.",
    )
    proton.create_template_sync_config(**CONFIG)
    assert _error(proton.create_template_sync_config, **CONFIG) == (
        "ConflictException",
        "The environment template env already has a template sync config; update or delete it instead.",
    )


def test_update_and_delete_need_a_config(proton: Any, runtime: Runtime, tmp_path: Path) -> None:
    proton.create_environment_template(name="env")
    missing = (
        "ResourceNotFoundException",
        "The requested template sync config does not exist: environment template env",
    )
    assert _error(proton.update_template_sync_config, **CONFIG) == missing
    assert (
        _error(proton.delete_template_sync_config, templateName="env", templateType="ENVIRONMENT") == missing
    )
    linked_repository(proton, runtime, tmp_path)
    proton.create_template_sync_config(**CONFIG)
    assert _error(proton.update_template_sync_config, **{**CONFIG, "repositoryName": "org/other"}) == (
        "ValidationException",
        "The repository github:org/other is not linked to this account and region "
        f"(arn:aws:proton:{REGION}:{ACCOUNT}:repository/github:org/other); "
        "link it with CreateRepository first.",
    )
    assert (
        proton.get_template_sync_config(templateName="env", templateType="ENVIRONMENT")["templateSyncConfig"]
        == CONFIG
    )


def test_a_followed_repository_link_cannot_be_deleted(proton: Any, runtime: Runtime, tmp_path: Path) -> None:
    linked_repository(proton, runtime, tmp_path)
    proton.create_environment_template(name="env")
    proton.create_template_sync_config(**CONFIG)
    assert _error(proton.delete_repository, name=REPOSITORY, provider="GITHUB") == (
        "ConflictException",
        f"The repository github:{REPOSITORY} is used by the template sync config of environment template "
        "env; it cannot be deleted while it is used.",
    )
    proton.delete_template_sync_config(templateName="env", templateType="ENVIRONMENT")
    proton.delete_repository(name=REPOSITORY, provider="GITHUB")


def test_sync_status_operations(proton: Any, runtime: Runtime, tmp_path: Path) -> None:
    assert _error(
        proton.get_template_sync_status, templateName="env", templateType="ENVIRONMENT", templateVersion="1"
    ) == (
        "ResourceNotFoundException",
        "The requested environment template does not exist: "
        f"arn:aws:proton:{REGION}:{ACCOUNT}:environment-template/env",
    )
    assert _error(
        proton.get_repository_sync_status,
        repositoryName=REPOSITORY,
        repositoryProvider="GITHUB",
        branch="main",
        syncType="TEMPLATE_SYNC",
    ) == (
        "ResourceNotFoundException",
        "The requested repository does not exist: "
        f"arn:aws:proton:{REGION}:{ACCOUNT}:repository/github:{REPOSITORY}",
    )
    linked_repository(proton, runtime, tmp_path, env_files("env/v1"))
    proton.create_environment_template(name="env")
    assert _error(
        proton.get_template_sync_status, templateName="env", templateType="ENVIRONMENT", templateVersion="0"
    ) == ("ValidationException", "The templateVersion 0 must be a major version number, such as 1.")
    assert _error(
        proton.get_template_sync_status, templateName="env", templateType="ENVIRONMENT", templateVersion="1.0"
    ) == (
        "ValidationException",
        "1 validation error detected: Value at 'templateVersion' failed to satisfy constraint: Member must "
        "satisfy regular expression pattern: ^(0|([1-9]{1}\\d*))$",
    )
    # Nothing synced yet: nothing to show.
    status = proton.get_template_sync_status(
        templateName="env", templateType="ENVIRONMENT", templateVersion="1"
    )
    assert {k: v for k, v in status.items() if k != "ResponseMetadata"} == {}
    repository = proton.get_repository_sync_status(
        repositoryName=REPOSITORY, repositoryProvider="GITHUB", branch="main", syncType="TEMPLATE_SYNC"
    )
    assert "latestSync" not in repository
    proton.create_template_sync_config(**CONFIG)
    look(runtime)
    status = proton.get_template_sync_status(
        templateName="env", templateType="ENVIRONMENT", templateVersion="1"
    )
    assert status["latestSync"]["status"] == "SUCCEEDED"
    assert status["desiredState"]["directory"] == "env/v1"
    repository = proton.get_repository_sync_status(
        repositoryName=REPOSITORY, repositoryProvider="GITHUB", branch="main", syncType="TEMPLATE_SYNC"
    )
    assert repository["latestSync"]["status"] == "SUCCEEDED"
    # Other sync types and branches have their own records.
    other = proton.get_repository_sync_status(
        repositoryName=REPOSITORY, repositoryProvider="GITHUB", branch="main", syncType="SERVICE_SYNC"
    )
    assert "latestSync" not in other


def test_list_repository_sync_definitions(proton: Any, runtime: Runtime, tmp_path: Path) -> None:
    linked_repository(proton, runtime, tmp_path)
    proton.create_environment_template(name="env")
    proton.create_service_template(name="svc")
    proton.create_template_sync_config(**CONFIG)
    proton.create_template_sync_config(
        **{**CONFIG, "templateName": "svc", "templateType": "SERVICE", "subdirectory": "services"}
    )
    listed = proton.list_repository_sync_definitions(
        repositoryName=REPOSITORY, repositoryProvider="GITHUB", syncType="TEMPLATE_SYNC"
    )
    parent = f"arn:aws:proton:{REGION}:{ACCOUNT}:repository/github:{REPOSITORY}"
    assert listed["syncDefinitions"] == [
        {"branch": "main", "directory": "/", "parent": parent, "target": "env"},
        {"branch": "main", "directory": "services", "parent": parent, "target": "svc"},
    ]
    assert "nextToken" not in listed
    assert (
        proton.list_repository_sync_definitions(
            repositoryName="org/unlinked", repositoryProvider="GITHUB", syncType="TEMPLATE_SYNC"
        )["syncDefinitions"]
        == []
    )


def test_other_accounts_see_nothing(
    proton: Any, other_account_proton: Any, runtime: Runtime, tmp_path: Path
) -> None:
    linked_repository(proton, runtime, tmp_path)
    proton.create_environment_template(name="env")
    proton.create_template_sync_config(**CONFIG)
    assert _error(
        other_account_proton.get_template_sync_config, templateName="env", templateType="ENVIRONMENT"
    ) == (
        "ResourceNotFoundException",
        "The requested template sync config does not exist: environment template env",
    )
    assert (
        other_account_proton.list_repository_sync_definitions(
            repositoryName=REPOSITORY, repositoryProvider="GITHUB", syncType="TEMPLATE_SYNC"
        )["syncDefinitions"]
        == []
    )
