"""A service that syncs from git, set up the way a platform team would against running Baryon processes:
templates pushed to a repository and published, an environment and a service deployed through
CloudFormation in the local cloud, and the ops repository where spec changes are pushed.

Used by the end-to-end service sync tests and by `benchmarks/sync_latency.py`. `Stage` wraps a Proton
client of a running server and two bare repositories behind one `file://` connection: `org/templates`
(followed by template sync) and `org/ops` (followed by service sync). With `secret` set, every push is
followed by a GitHub push event signed with it, posted to `POST /webhooks/git/<connection id>` as GitHub
would; without it, the push is left to the worker's polling.

Invariant: every wait goes through `tests.support.waiting.poll` (no sleeps) and names what it waits for.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support import bundles
from tests.support.git_repos import bare, branches, git
from tests.support.template_sync import env_files, push, versions
from tests.support.waiting import poll

REGION = "us-east-1"
TEMPLATES = "org/templates"
OPS = "org/ops"
OPS_FILE = "proton-ops.yaml"
SPEC_FILE = "specs/api.yaml"
ENV_SPEC = "proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.1.0.0/16\n"


def service_folder(folder: str, compatible: str) -> dict[str, str]:
    """A CloudFormation service template major folder without a pipeline, compatible with `compatible`
    (an "env:1" string)."""
    files = {
        f"{folder}/{path}": str(data)
        for path, data in bundles.cfn_service_files(
            bundles.SERVICE_SCHEMA_NO_PIPELINE, bundles.CFN_INSTANCE, None
        ).items()
    }
    files[f"{folder}/.template-registration.yaml"] = f"compatible_environments:\n  - {compatible}\n"
    return files


def ops_file(service: str, instances: list[str], branches: dict[str, str] | None = None) -> str:
    """An ops file listing `instances` of `service`, each described by `SPEC_FILE` on `main` or on the
    branch `branches` names for it."""
    text = f"sync:\n  services:\n    {service}:\n"
    for name in instances:
        on = (branches or {}).get(name, "main")
        text += f"      {name}:\n        branch: {on}\n        spec: {SPEC_FILE}\n"
    return text


def service_spec(ports: dict[str, int]) -> str:
    """A ServiceSpec without a pipeline: each instance in environment `dev` with its port."""
    text = "proton: ServiceSpec\ninstances:\n"
    for name, port in ports.items():
        text += f"  - name: {name}\n    environment: dev\n    spec:\n      port: {port}\n"
    return text


@dataclass
class Stage:
    proton: Any
    endpoint: str
    connection_arn: str
    git_root: Path
    secret: str | None = None
    timeout: float = 60.0

    def __post_init__(self) -> None:
        self.templates = bare(self.git_root, TEMPLATES, {"README.md": "templates\n"})
        self.ops = bare(self.git_root, OPS, {"README.md": "ops\n"})

    # --- git ------------------------------------------------------------------------------------------

    def push(self, repository: str, files: dict[str, str | None], message: str, branch: str = "main") -> str:
        """Commit and push `files` to `branch` of `repository` (a new branch starts at `main`); with a
        secret, post the push webhook."""
        repo = self.templates if repository == TEMPLATES else self.ops
        if branch not in branches(repo):
            git("--git-dir", str(repo), "branch", branch, "main")
        sha = push(repo, files, message, branch)
        if self.secret is not None:
            self.webhook(repository, sha, branch)
        return sha

    def webhook(self, repository: str, sha: str, branch: str = "main") -> None:
        assert self.secret is not None
        body = json.dumps(
            {"ref": f"refs/heads/{branch}", "after": sha, "repository": {"full_name": repository}}
        ).encode()
        signature = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        request = urllib.request.Request(
            f"{self.endpoint}/webhooks/git/{self.connection_arn.rsplit('/', 1)[1]}",
            data=body,
            method="POST",
            headers={
                "X-GitHub-Event": "push",
                "X-Hub-Signature-256": signature,
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
        # 202 when a followed branch is queued for a look; 200 when no sync follows the branch (yet).
        assert (response.status, answer["message"]) in {
            (202, "The push is queued for sync."),
            (200, "No sync follows the pushed branch."),
        }, (response.status, answer)

    # --- set-up ---------------------------------------------------------------------------------------

    def link(self) -> None:
        for name in (TEMPLATES, OPS):
            self.proton.create_repository(name=name, provider="GITHUB", connectionArn=self.connection_arn)

    def templates_synced(self) -> str:
        """Templates `env` and `svc` follow `org/templates`; one push adds `env/v1` and `svc/v1`; returns
        its sha once both are DRAFT 1.0."""
        self.proton.create_environment_template(name="env")
        self.proton.create_service_template(name="svc", pipelineProvisioning="CUSTOMER_MANAGED")
        for name, kind in (("env", "ENVIRONMENT"), ("svc", "SERVICE")):
            self.proton.create_template_sync_config(
                templateName=name,
                templateType=kind,
                repositoryName=TEMPLATES,
                repositoryProvider="GITHUB",
                branch="main",
            )
        sha = self.push(TEMPLATES, {**env_files("env/v1"), **service_folder("svc/v1", "env:1")}, "templates")
        for name, kind in (("env", "ENVIRONMENT"), ("svc", "SERVICE")):
            poll(
                lambda: versions(self.proton, kind, name),  # noqa: B023 - called within the iteration
                lambda found: found == [("1", "0", "DRAFT")],
                timeout=self.timeout,
                interval=0.1,
                what=f"version 1.0 of {name} synced from git",
            )
        return sha

    def environment(self, role_arn: str) -> None:
        self.proton.create_environment(
            name="dev",
            templateName="env",
            templateMajorVersion="1",
            spec=ENV_SPEC,
            protonServiceRoleArn=role_arn,
        )
        self.wait(
            lambda: self.proton.get_environment(name="dev")["environment"]["deploymentStatus"],
            "environment dev deployed",
        )

    def service(self, name: str, ports: dict[str, int]) -> None:
        self.proton.create_service(
            name=name, templateName="svc", templateMajorVersion="1", spec=service_spec(ports)
        )
        self.wait(lambda: self.proton.get_service(name=name)["service"]["status"], f"service {name} ACTIVE")

    def wait(self, status: Any, what: str) -> None:
        """Wait until `status()` is a final status; fail unless it is a successful one."""
        final = poll(
            status,
            lambda s: (
                s not in {"IN_PROGRESS", "CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS"}
            ),
            timeout=self.timeout,
            interval=0.1,
            what=what,
        )
        assert final in {"SUCCEEDED", "ACTIVE"}, (what, final)

    # --- looking --------------------------------------------------------------------------------------

    def instance(self, name: str, service: str = "api") -> dict[str, Any]:
        found: dict[str, Any] = self.proton.get_service_instance(serviceName=service, name=name)[
            "serviceInstance"
        ]
        return found

    def sync_status(self, name: str, service: str = "api") -> dict[str, Any]:
        answer = self.proton.get_service_instance_sync_status(serviceName=service, serviceInstanceName=name)
        return {k: v for k, v in answer.items() if k != "ResponseMetadata"}

    def synced(self, name: str, sha: str, status: str = "SUCCEEDED") -> dict[str, Any]:
        """The sync status of instance `name` once its latest sync is of commit `sha` and has `status`."""

        def latest() -> tuple[str | None, str | None]:
            try:
                found = self.sync_status(name).get("latestSync") or {}
            except self.proton.exceptions.ResourceNotFoundException:
                return None, None  # the sync has not created the instance yet
            return found.get("targetRevision", {}).get("sha"), found.get("status")

        poll(
            latest,
            lambda seen: seen == (sha, status),
            timeout=self.timeout,
            interval=0.1,
            what=f"instance {name}'s latest sync: commit {sha[:8]} {status}",
        )
        return self.sync_status(name)

    def deployed_after(self, name: str, before: str | None, service: str = "api") -> dict[str, Any]:
        """Instance `name` once a deployment other than `before` has succeeded and none is in flight."""

        def done(found: dict[str, Any]) -> bool:
            last = found.get("lastSucceededDeploymentId")
            if found["deploymentStatus"] == "FAILED" and found.get("lastAttemptedDeploymentId") != before:
                raise AssertionError(f"instance {name}: {found.get('deploymentStatusMessage')}")
            return (
                found["deploymentStatus"] == "SUCCEEDED"
                and last != before
                and last == found.get("lastAttemptedDeploymentId")
            )

        return poll(
            lambda: self.instance(name, service),
            done,
            timeout=self.timeout,
            interval=0.05,
            what=f"a new deployment of instance {name} SUCCEEDED",
        )
