"""Service sync in tests: trees of real git commits, heads of followed branches, and a service that syncs.

`tree_at` checks a commit of a bare repository out with `git archive` into a directory of its own and
reads files from there, as the follower hands a tree to a syncer.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path
from typing import Any

from baryon.runtime import Runtime
from baryon.sync.base import Branch, Tree
from tests.api.test_environments import FAST, ROLE, SPEC, _published_env_template
from tests.api.test_repositories import connection
from tests.conftest import ACCOUNT
from tests.support import bundles
from tests.support.git_repos import ENV, branches, git
from tests.support.publishing import publish_service_template

REGION = "us-east-1"
REPOSITORY = "org/ops"


class CheckoutTree:
    """The files of one commit, extracted into `root`; like the follower's tree, `read` answers regular
    files only (no symbolic links)."""

    def __init__(self, sha: str, root: Path) -> None:
        self._sha = sha
        self._root = root

    @property
    def sha(self) -> str:
        return self._sha

    @property
    def root(self) -> Path:
        return self._root

    def read(self, path: str) -> bytes | None:
        target = self._root / path
        if any(
            p.is_symlink() for p in (target, *target.parents) if p != self._root and self._root in p.parents
        ):
            return None
        return target.read_bytes() if target.is_file() else None


def tree_at(repo: Path, ref: str, into: Path) -> CheckoutTree:
    """The tree of `ref` (branch or sha) of bare repository `repo`, extracted under `into`."""
    sha = git("--git-dir", str(repo), "rev-parse", ref)
    root = into / sha
    if not root.exists():
        archive = subprocess.run(
            ["git", "--git-dir", str(repo), "archive", "--format=tar", sha],
            env=ENV,
            check=True,
            capture_output=True,
        ).stdout
        root.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(root, filter="tar")
    return CheckoutTree(sha, root)


def branch(name: str = "main", account: str = ACCOUNT) -> Branch:
    return Branch(account, REGION, "GITHUB", REPOSITORY, name)


class RepoHeads:
    """`Heads` over the branches of a bare repository as they are now."""

    def __init__(self, repo: Path, into: Path) -> None:
        self.repo = repo
        self.into = into

    def __call__(self, wanted: Branch) -> Tree | None:
        if wanted.repository != REPOSITORY or wanted.branch not in branches(self.repo):
            return None
        return tree_at(self.repo, wanted.branch, self.into)


def deployed_service(proton: Any, s3: Any, *, pipeline: bool = True, name: str = "api") -> None:
    """Environment `dev` and service `name` (template `api-svc`, instance `front` with port 8080, and a
    pipeline built from `Dockerfile` when `pipeline`), all deployed."""
    _published_env_template(proton, s3)
    proton.create_environment(
        name="dev", templateName="vpc-env", templateMajorVersion="1", spec=SPEC, protonServiceRoleArn=ROLE
    )
    proton.get_waiter("environment_deployed").wait(name="dev", WaiterConfig=FAST)
    publish_service_template(
        proton, s3, "api-svc", bundles.service_bundle(pipeline=pipeline), pipeline=pipeline
    )
    if pipeline:
        proton.update_account_settings(pipelineServiceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/pipeline")
    spec = "proton: ServiceSpec\n"
    if pipeline:
        spec += "pipeline:\n  dockerfile: Dockerfile\n"
    spec += "instances:\n  - name: front\n    environment: dev\n    spec:\n      port: 8080\n"
    proton.create_service(name=name, templateName="api-svc", templateMajorVersion="1", spec=spec)
    proton.get_waiter("service_created").wait(name=name, WaiterConfig=FAST)


def link_repository(proton: Any, runtime: Runtime) -> None:
    proton.create_repository(name=REPOSITORY, provider="GITHUB", connectionArn=connection(runtime))


def sync_config(proton: Any, service: str = "api", path: str = "proton-ops.yaml", on: str = "main") -> None:
    proton.create_service_sync_config(
        serviceName=service, repositoryName=REPOSITORY, repositoryProvider="GITHUB", branch=on, filePath=path
    )


def ops_file(service: str, entries: dict[str, tuple[str, str]]) -> str:
    """An ops file naming, for `service`, each instance's (branch, spec path)."""
    text = f"sync:\n  services:\n    {service}:\n"
    for instance, (on, spec) in entries.items():
        text += f"      {instance}:\n        branch: {on}\n        spec: {spec}\n"
    return text


def service_spec(instances: dict[str, int | None], dockerfile: str | None = None) -> str:
    """A ServiceSpec with a pipeline section (when `dockerfile`) and instances in `dev` with their ports."""
    text = "proton: ServiceSpec\n"
    if dockerfile is not None:
        text += f"pipeline:\n  dockerfile: {dockerfile}\n"
    text += "instances:\n"
    for name, port in instances.items():
        text += f"  - name: {name}\n    environment: dev\n"
        if port is not None:
            text += f"    spec:\n      port: {port}\n"
    return text
