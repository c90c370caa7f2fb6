"""Template sync through real git: commits of a bare repository become template versions (reference §6.1)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from baryon.runtime import Runtime
from baryon.store.schema import sync_heads
from tests.conftest import ACCOUNT
from tests.support.git_repos import git
from tests.support.template_sync import (
    REPOSITORY,
    env_files,
    linked_repository,
    look,
    push,
    service_files,
    versions,
)


def _env_config(proton: Any, name: str = "env", **extra: Any) -> None:
    proton.create_environment_template(name=name)
    proton.create_template_sync_config(
        templateName=name,
        templateType="ENVIRONMENT",
        repositoryName=REPOSITORY,
        repositoryProvider="GITHUB",
        branch="main",
        **extra,
    )


def _status(proton: Any, name: str, major: str, kind: str = "ENVIRONMENT") -> Any:
    return proton.get_template_sync_status(templateName=name, templateType=kind, templateVersion=major)


def _repository_status(proton: Any) -> Any:
    return proton.get_repository_sync_status(
        repositoryName=REPOSITORY, repositoryProvider="GITHUB", branch="main", syncType="TEMPLATE_SYNC"
    )["latestSync"]


def test_new_major_changed_folder_and_unchanged_folder(proton: Any, runtime: Runtime, tmp_path: Path) -> None:
    repo, _ = linked_repository(proton, runtime, tmp_path, env_files("env/v1"))
    _env_config(proton)
    look(runtime)
    assert versions(proton, "ENVIRONMENT", "env") == [("1", "0", "DRAFT")]
    head = git("--git-dir", str(repo), "rev-parse", "main")
    status = _status(proton, "env", "1")
    assert status["desiredState"] == {
        "repositoryName": REPOSITORY,
        "repositoryProvider": "GITHUB",
        "branch": "main",
        "directory": "env/v1",
        "sha": head,
    }
    assert status["latestSync"]["status"] == "SUCCEEDED"
    assert status["latestSync"]["target"] == "env"
    assert status["latestSync"]["targetRevision"]["sha"] == head
    assert status["latestSuccessfulSync"] == status["latestSync"]
    assert [e["type"] for e in status["latestSync"]["events"]] == [
        "SYNC_STARTED",
        "VERSION_CREATED",
        "SYNC_SUCCEEDED",
    ]
    assert status["latestSync"]["events"][1]["event"] == "Created version 1.0"

    repository = _repository_status(proton)
    assert repository["status"] == "SUCCEEDED"
    events = [(e["type"], e["event"], e.get("externalId")) for e in repository["events"]]
    assert events[:3] == [
        ("CLONE_STARTED", "Clone started", None),
        ("CONFIG_UPDATED", "Updated configuration", None),
        ("STARTING_SYNC", f"Starting syncs for commit {head}", head),
    ]

    # A commit that does not touch the template's folder creates nothing.
    push(repo, {"README.md": "other\n"})
    look(runtime)
    assert versions(proton, "ENVIRONMENT", "env") == [("1", "0", "DRAFT")]

    # A changed folder is a new minor; a new v<N> folder a new major.
    changed = push(repo, env_files("env/v1", cidr="10.1.0.0/16"))
    look(runtime)
    assert versions(proton, "ENVIRONMENT", "env") == [("1", "0", "DRAFT"), ("1", "1", "DRAFT")]
    status = _status(proton, "env", "1")
    assert status["latestSync"]["initialRevision"]["sha"] == head
    assert status["latestSync"]["targetRevision"]["sha"] == changed
    push(repo, env_files("env/v2"))
    look(runtime)
    assert versions(proton, "ENVIRONMENT", "env")[-1] == ("2", "0", "DRAFT")
    assert _status(proton, "env", "2")["latestSync"]["targetRevision"]["directory"] == "env/v2"


def test_commits_to_one_major_sync_in_order(proton: Any, runtime: Runtime, tmp_path: Path) -> None:
    repo, _ = linked_repository(proton, runtime, tmp_path, env_files("env/v1"))
    _env_config(proton)
    look(runtime)
    first = push(repo, env_files("env/v1", cidr="10.1.0.0/16"), "one")
    second = push(repo, env_files("env/v1", cidr="10.2.0.0/16"), "two")
    look(runtime)
    assert versions(proton, "ENVIRONMENT", "env") == [
        ("1", "0", "DRAFT"),
        ("1", "1", "DRAFT"),
        ("1", "2", "DRAFT"),
    ]
    schema_11 = proton.get_environment_template_version(
        templateName="env", majorVersion="1", minorVersion="1"
    )
    assert "10.1.0.0/16" in schema_11["environmentTemplateVersion"]["schema"]
    starting = [e for e in _repository_status(proton)["events"] if e["type"] == "STARTING_SYNC"]
    assert [e["externalId"] for e in starting] == [first, second]
    # The last synced commit is kept in the database: another look repeats nothing.
    look(runtime)
    assert len(versions(proton, "ENVIRONMENT", "env")) == 3
    with runtime.database.read() as db:
        assert db.execute(sa.select(sync_heads.c.sha)).scalar() == second


def test_environment_and_service_template_in_one_commit(
    proton: Any, runtime: Runtime, tmp_path: Path
) -> None:
    repo, _ = linked_repository(proton, runtime, tmp_path)
    _env_config(proton)
    proton.create_service_template(name="svc")
    proton.create_template_sync_config(
        templateName="svc",
        templateType="SERVICE",
        repositoryName=REPOSITORY,
        repositoryProvider="GITHUB",
        branch="main",
    )
    look(runtime)
    push(repo, {**env_files("env/v1"), **service_files("svc/v1", ["env:1"])}, "both")
    look(runtime)
    assert versions(proton, "ENVIRONMENT", "env") == [("1", "0", "DRAFT")]
    assert versions(proton, "SERVICE", "svc") == [("1", "0", "DRAFT")]
    got = proton.get_service_template_version(templateName="svc", majorVersion="1", minorVersion="0")
    assert got["serviceTemplateVersion"]["compatibleEnvironmentTemplates"] == [
        {"templateName": "env", "majorVersion": "1"}
    ]
    # The legacy file works too, and supported_component_sources is read from the registration file.
    push(repo, service_files("svc/v2", ["env:1"], legacy=True))
    look(runtime)
    assert versions(proton, "SERVICE", "svc")[-1] == ("2", "0", "DRAFT")
    components = service_files("svc/v3", ["env:1"])
    components["svc/v3/.template-registration.yaml"] += "supported_component_sources:\n  - DIRECTLY_DEFINED\n"
    push(repo, components)
    look(runtime)
    got = proton.get_service_template_version(templateName="svc", majorVersion="3", minorVersion="0")
    assert got["serviceTemplateVersion"]["supportedComponentSources"] == ["DIRECTLY_DEFINED"]


def test_broken_commits_fail_and_leave_earlier_versions(
    proton: Any, runtime: Runtime, tmp_path: Path
) -> None:
    repo, _ = linked_repository(proton, runtime, tmp_path, env_files("env/v1"))
    _env_config(proton)
    proton.create_service_template(name="svc")
    proton.create_template_sync_config(
        templateName="svc",
        templateType="SERVICE",
        repositoryName=REPOSITORY,
        repositoryProvider="GITHUB",
        branch="main",
    )
    look(runtime)
    assert versions(proton, "ENVIRONMENT", "env") == [("1", "0", "DRAFT")]

    # No compatibility file: the sync fails, with the reason and the commit; no version.
    sha = push(repo, service_files("svc/v1"))
    look(runtime)
    assert versions(proton, "SERVICE", "svc") == []
    latest = _status(proton, "svc", "1", "SERVICE")["latestSync"]
    assert latest["status"] == "FAILED"
    assert latest["events"][-1] == {
        "type": "SYNC_FAILED",
        "event": "The service template folder svc/v1 has neither .template-registration.yaml nor "
        ".compatible-envs; one of them must name the compatible environment templates.",
        "time": latest["events"][-1]["time"],
        "externalId": sha,
    }
    # An environment major that does not exist.
    push(repo, service_files("svc/v1", ["env:7"]))
    look(runtime)
    latest = _status(proton, "svc", "1", "SERVICE")["latestSync"]
    assert (
        latest["events"][-1]["event"] == "Compatible environment template env major version 7 does not exist."
    )
    # A broken registration file.
    broken = service_files("svc/v1", ["env:1"])
    broken["svc/v1/.template-registration.yaml"] = "compatible_environments: [unclosed\n"
    push(repo, broken)
    look(runtime)
    assert _status(proton, "svc", "1", "SERVICE")["latestSync"]["status"] == "FAILED"
    assert versions(proton, "SERVICE", "svc") == []

    # A bundle the loader refuses is a REGISTRATION_FAILED version, once per content.
    bad = env_files("env/v1", cidr="10.3.0.0/16")
    bad["env/v1/schema/schema.yaml"] = "schema: [\n"
    push(repo, bad)
    look(runtime)
    assert versions(proton, "ENVIRONMENT", "env") == [("1", "0", "DRAFT"), ("1", "1", "REGISTRATION_FAILED")]
    failed = proton.get_environment_template_version(templateName="env", majorVersion="1", minorVersion="1")
    message = failed["environmentTemplateVersion"]["statusMessage"]
    latest = _status(proton, "env", "1")["latestSync"]
    assert latest["status"] == "FAILED"
    assert latest["events"][-1]["event"] == f"Registration of version 1.1 failed: {message}"
    assert _status(proton, "env", "1")["latestSuccessfulSync"]["targetRevision"]["directory"] == "env/v1"
    push(repo, {"README.md": "unrelated\n"})
    look(runtime)
    assert len(versions(proton, "ENVIRONMENT", "env")) == 2
    # Fixed: the next minor is DRAFT.
    push(repo, env_files("env/v1", cidr="10.4.0.0/16"))
    look(runtime)
    assert versions(proton, "ENVIRONMENT", "env")[-1] == ("1", "2", "DRAFT")


def _push_symlink(repo: Path, link: str, target: str) -> None:
    work = repo.parent / ".edit" / f"link-{uuid.uuid4().hex[:8]}"
    git("clone", "-q", "-b", "main", str(repo), str(work))
    (work / link).parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, work / link)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "link", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)


def test_hostile_content_fails_the_sync(proton: Any, runtime: Runtime, tmp_path: Path) -> None:
    repo, _ = linked_repository(proton, runtime, tmp_path, env_files("env/v1"))
    _env_config(proton)
    look(runtime)
    _push_symlink(repo, "env/v1/infrastructure/secrets.yaml", "/etc/passwd")
    look(runtime)
    latest = _status(proton, "env", "1")["latestSync"]
    assert latest["status"] == "FAILED"
    assert latest["events"][-1]["event"] == (
        "env/v1/infrastructure/secrets.yaml is a symbolic link; template sync accepts only regular files."
    )
    push(repo, {"env/v1/infrastructure/secrets.yaml": None})
    push(repo, {"env/v2/infrastructure/huge.bin": "x" * (300 * 1024), **env_files("env/v2")})
    look(runtime)
    latest = _status(proton, "env", "2")["latestSync"]
    assert latest["events"][-1]["event"] == (
        "env/v2/infrastructure/huge.bin is 307200 bytes; a file of a template bundle can be at most "
        "200 KB (204800 bytes)."
    )
    assert versions(proton, "ENVIRONMENT", "env") == [("1", "0", "DRAFT")]


def test_subdirectory_and_deleted_synced_version(proton: Any, runtime: Runtime, tmp_path: Path) -> None:
    files = {**env_files("env/v1"), **env_files("templates/env/v1", cidr="10.9.0.0/16")}
    repo, _ = linked_repository(proton, runtime, tmp_path, files)
    _env_config(proton, subdirectory="templates")
    look(runtime)
    assert versions(proton, "ENVIRONMENT", "env") == [("1", "0", "DRAFT")]
    assert _status(proton, "env", "1")["desiredState"]["directory"] == "templates/env/v1"
    got = proton.get_environment_template_version(templateName="env", majorVersion="1", minorVersion="0")
    assert "10.9.0.0/16" in got["environmentTemplateVersion"]["schema"]
    # A second minor, then the last synced minor is deleted: the same content comes back as a new minor.
    push(repo, env_files("templates/env/v1", cidr="10.8.0.0/16"))
    look(runtime)
    proton.delete_environment_template_version(templateName="env", majorVersion="1", minorVersion="1")
    push(repo, {"README.md": "again\n"})
    look(runtime)
    assert versions(proton, "ENVIRONMENT", "env") == [("1", "0", "DRAFT"), ("1", "2", "DRAFT")]


def test_deleting_the_config_stops_syncing(proton: Any, runtime: Runtime, tmp_path: Path) -> None:
    repo, _ = linked_repository(proton, runtime, tmp_path, env_files("env/v1"))
    _env_config(proton)
    look(runtime)
    proton.delete_template_sync_config(templateName="env", templateType="ENVIRONMENT")
    push(repo, env_files("env/v2"))
    look(runtime)
    assert versions(proton, "ENVIRONMENT", "env") == [("1", "0", "DRAFT")]
    assert _status(proton, "env", "1")["latestSync"]["status"] == "SUCCEEDED"


def test_unreachable_repository_is_a_failed_repository_sync(
    proton: Any, runtime: Runtime, tmp_path: Path
) -> None:
    linked_repository(proton, runtime, tmp_path, env_files("env/v1"))
    proton.create_environment_template(name="env")
    proton.create_template_sync_config(
        templateName="env",
        templateType="ENVIRONMENT",
        repositoryName=REPOSITORY,
        repositoryProvider="GITHUB",
        branch="release",
    )
    look(runtime)
    latest = proton.get_repository_sync_status(
        repositoryName=REPOSITORY, repositoryProvider="GITHUB", branch="release", syncType="TEMPLATE_SYNC"
    )["latestSync"]
    assert latest["status"] == "FAILED"
    assert latest["events"][-1]["event"] == f"The branch release does not exist in {REPOSITORY}."


def test_version_quota_fails_the_sync(proton: Any, runtime: Runtime, tmp_path: Path) -> None:
    from baryon.store import quotas

    repo, _ = linked_repository(proton, runtime, tmp_path, env_files("env/v1"))
    _env_config(proton)
    look(runtime)
    with runtime.database.write() as db:
        quotas.set_values(db, ACCOUNT, {"versions_per_template": 1}, runtime.clock.now())
    sha = push(repo, env_files("env/v2"))
    look(runtime)
    latest = _status(proton, "env", "2")["latestSync"]
    assert latest["status"] == "FAILED"
    assert (
        latest["events"][-1]["event"]
        == "You have reached the quota of 1 versions of environment template env."
    )
    assert latest["events"][-1]["externalId"] == sha
    assert versions(proton, "ENVIRONMENT", "env") == [("1", "0", "DRAFT")]


def test_a_sync_cut_short_resumes_without_a_second_version(
    proton: Any, runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from baryon.engine import registration

    linked_repository(proton, runtime, tmp_path, env_files("env/v1"))
    real = registration.register

    def cut_short(*_: Any) -> None:
        raise RuntimeError("the process ended")

    monkeypatch.setattr(registration, "register", cut_short)
    _env_config(proton)
    look(runtime)
    assert versions(proton, "ENVIRONMENT", "env") == [("1", "0", "REGISTRATION_IN_PROGRESS")]
    latest = _repository_status(proton)
    assert latest["status"] == "FAILED"
    assert latest["events"][-1]["event"] == "RuntimeError: the process ended"

    monkeypatch.setattr(registration, "register", real)
    look(runtime)
    assert versions(proton, "ENVIRONMENT", "env") == [("1", "0", "DRAFT")]
    assert _status(proton, "env", "1")["latestSync"]["status"] == "SUCCEEDED"
    assert _repository_status(proton)["status"] == "SUCCEEDED"


def _push_submodule(repo: Path, path: str) -> None:
    work = repo.parent / ".edit" / f"sub-{uuid.uuid4().hex[:8]}"
    git("clone", "-q", "-b", "main", str(repo), str(work))
    git("update-index", "--add", "--cacheinfo", f"160000,{'a' * 40},{path}", cwd=work)
    git("commit", "-q", "-m", "submodule", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)


def test_submodules_and_odd_names(proton: Any, runtime: Runtime, tmp_path: Path) -> None:
    repo, _ = linked_repository(proton, runtime, tmp_path, env_files("env/v1"))
    _env_config(proton)
    look(runtime)
    _push_submodule(repo, "env/v1/vendored")
    look(runtime)
    assert _status(proton, "env", "1")["latestSync"]["events"][-1]["event"] == (
        "env/v1/vendored is a git submodule; template sync accepts only regular files."
    )
    push(repo, {"env/v1/vendored": None})
    # A name the bundle loader refuses (a backslash) makes a REGISTRATION_FAILED version with its reason.
    push(repo, {"env/v2/infrastructure/a\\b.yaml": "x: 1\n", **env_files("env/v2")})
    look(runtime)
    assert versions(proton, "ENVIRONMENT", "env") == [("1", "0", "DRAFT"), ("2", "0", "REGISTRATION_FAILED")]
    failed = proton.get_environment_template_version(templateName="env", majorVersion="2", minorVersion="0")
    assert failed["environmentTemplateVersion"]["statusMessage"] == (
        "Template bundle member 'infrastructure/a\\b.yaml' has a backslash in its path; "
        "use '/' to separate folders"
    )
