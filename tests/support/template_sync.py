"""Template sync in tests: a bare repository served by a `file://` connection, its repository link, the
folders of templates as files, and a look at the followed branches driven by the test.

`look(runtime)` asks for a poll of every followed branch now (what a push webhook does) and runs the due
jobs in this thread until none is due, so a test sees the outcome of a push without waiting for a poll
interval and without a background worker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from baryon.engine.worker import Worker
from baryon.runtime import Runtime
from baryon.store import connections as connection_store
from baryon.store import sync_jobs
from baryon.store.schema import jobs
from tests.conftest import ACCOUNT
from tests.support import bundles
from tests.support.git_repos import bare, git

REGION = "us-east-1"
REPOSITORY = "org/templates"


def file_connection(
    runtime: Runtime, root: Path, *, secret: str | None = None, provider: str = "GITHUB"
) -> str:
    """A connection whose repositories are the bare repositories `<root>/<owner>/<name>.git`."""
    with runtime.database.write() as db:
        record = connection_store.create(
            db,
            runtime.secrets,
            connection_id=runtime.ids.uuid(),
            account_id=ACCOUNT,
            region=REGION,
            name=f"local-{provider.lower()}",
            provider=provider,
            url_template=f"file://{root}/{{repository}}.git",
            token=None,
            mode="direct",
            api_url=None,
            now=runtime.clock.now(),
            webhook_secret=secret,
        )
    return record.arn


def linked_repository(
    proton: Any, runtime: Runtime, root: Path, files: dict[str, str] | None = None, **connection: Any
) -> tuple[Path, str]:
    """A bare repository `org/templates` (its `main` holding `files`) linked through a file connection;
    returns its path and the connection ARN."""
    arn = file_connection(runtime, root, **connection)
    provider = connection.get("provider", "GITHUB")
    proton.create_repository(name=REPOSITORY, provider=provider, connectionArn=arn)
    repo = bare(root, REPOSITORY, files if files is not None else {"README.md": "templates\n"})
    return repo, arn


def env_files(folder: str, cidr: str = "10.0.0.0/16") -> dict[str, str]:
    """An environment template major folder (`folder` like `env/v1`); `cidr` changes its content."""
    return {
        f"{folder}/schema/schema.yaml": bundles.ENV_SCHEMA.replace("10.0.0.0/16", cidr),
        f"{folder}/infrastructure/manifest.yaml": bundles.CFN_MANIFEST,
        f"{folder}/infrastructure/cloudformation.yaml": bundles.CFN_ENV,
    }


def service_files(
    folder: str, compatible: list[str] | None = None, *, legacy: bool = False
) -> dict[str, str]:
    """A service template major folder with a pipeline, compatible with `compatible` ("env:1" strings)."""
    files: dict[str, str] = {
        f"{folder}/{path}": str(data)
        for path, data in bundles.cfn_service_files(
            bundles.SERVICE_SCHEMA, bundles.CFN_INSTANCE, bundles.CFN_PIPELINE
        ).items()
    }
    if compatible is not None:
        if legacy:
            files[f"{folder}/.compatible-envs"] = "".join(f"{item}\n" for item in compatible)
        else:
            files[f"{folder}/.template-registration.yaml"] = "compatible_environments:\n" + "".join(
                f"  - {item}\n" for item in compatible
            )
    return files


def push(repo: Path, files: dict[str, str | None], message: str = "change", branch: str = "main") -> str:
    """Commit `files` (None removes one) on `branch` and push; returns the new head."""
    import uuid

    work = repo.parent / ".edit" / f"{repo.name}-{uuid.uuid4().hex[:8]}"
    git("clone", "-q", "-b", branch, str(repo), str(work))
    for relative, text in files.items():
        target = work / relative
        if text is None:
            git("rm", "-q", "-r", relative, cwd=work)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    git("add", "-A", cwd=work)
    git("commit", "-q", "--allow-empty", "-m", message, cwd=work)
    git("push", "-q", "origin", f"HEAD:{branch}", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


def look(runtime: Runtime) -> None:
    """Make every poll job due now and run due jobs in this thread until none is left due."""
    now = runtime.clock.now()
    with runtime.database.write() as db:
        ids = [row.id for row in db.execute(sa.select(jobs.c.id).where(jobs.c.kind == "sync-poll")).all()]
        for job_id in ids:
            sync_jobs.poll_now(db, job_id, now)
    worker = Worker(runtime)
    for _ in range(50):
        if not worker.run_once():
            return
    raise AssertionError("jobs kept being due")


def versions(proton: Any, kind: str, name: str) -> list[tuple[str, str, str]]:
    """(major, minor, status) of every version of a template, in order."""
    found: list[tuple[str, str, str]] = []
    lister = (
        proton.list_environment_template_versions
        if kind == "ENVIRONMENT"
        else proton.list_service_template_versions
    )
    majors = {v["majorVersion"] for v in lister(templateName=name)["templateVersions"]}
    for major in sorted(majors, key=int):
        for version in lister(templateName=name, majorVersion=major)["templateVersions"]:
            found.append((version["majorVersion"], version["minorVersion"], version["status"]))
    return found
