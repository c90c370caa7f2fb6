"""The Terraform-through-git provisioner ("hcl" bundle parts and components whose manifest names a
Terraform file): self-managed provisioning, completed by the repository's automation.

A deployment commits its resource's Terraform files (`baryon.render.terraform`) to the provisioning
repository (an environment's `provisioningRepository`, also used by its service instances and
components; the account's `pipelineProvisioningRepository` for pipelines), through the repository link's
connection:

- pull-request mode on a host with an API: push branch ``proton--proton-<kind>-<deployment id>``, open a
  pull request to the link's branch, then look at it every `pull_request_poll_seconds`: closed without
  merge ends the deployment CANCELLED (a deletion DELETE_FAILED), merged hands the deployment over;
- pull-request mode on a plain git remote: push the branch and hand the deployment over;
- direct mode: commit on the link's branch itself and hand the deployment over.

A deployment handed over waits for NotifyResourceDeploymentStatusChange from the repository's automation
(`notify`: SUCCEEDED settles it SUCCEEDED — DELETE_COMPLETE for a deletion — with the outputs, FAILED
settles it FAILED — DELETE_FAILED — with the message, any other report records outputs and message only);
Cancel*Deployment settles it CANCELLED at once (`cancel_at_once`), since nothing is left to undo. While
a pull request is open, a cancel closes it and ends the deployment CANCELLED.

Deadline (`BARYON_DEADLINE_TERRAFORM_GIT_SECONDS`): none by default, as Proton left a pull request open
for as long as its reviewers took; when set, a pull request still open that long after the deployment's
first step is closed and the deployment fails saying so. The automation's report after the hand-over has
no deadline (Baryon cannot know how long an apply takes; a cancel ends the wait).

Phases kept in ``progress["phase"]``: none (publishing), ``review`` (a pull request is open and the job
polls it), ``handed-off`` (the job has finished).

Invariants: every action can be repeated after a crash without being done twice — the branch is named
after the deployment, publishing files a branch already holds commits nothing, opening a pull request
first finds the open one; the repository, branch, commit and pull request are saved in the progress
before the next action; the hand-over is written only while the deployment is in flight, so a cancel
racing with it is either seen by the step or finds the deployment handed over; the step settles the
deployment through `baryon.engine.settle` and never raises for an expected result.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from baryon.domain import arns
from baryon.domain.deployments import (
    CANCEL_MESSAGE,
    CANCELLED,
    CANCELLING,
    DELETE,
    DELETE_COMPLETE,
    DELETE_FAILED,
    DELETE_IN_PROGRESS,
    FAILED,
    IN_PROGRESS,
    SUCCEEDED,
)
from baryon.domain.outcomes import Done, Outcome, Retry, Wait
from baryon.engine.provisioners.base import InFlight, Report, Traits, duration, overdue
from baryon.engine.settle import Finish, record_report, target_of
from baryon.engine.steps import StepInput, bundle_part, failure_status, version_of
from baryon.engine.subjects import COMPONENT, ENVIRONMENT, SERVICE_INSTANCE
from baryon.git.command import GitError
from baryon.git.providers import CLOSED, OPEN, ProviderError
from baryon.git.publish import publish
from baryon.git.workspace import Workspace
from baryon.render import terraform
from baryon.render.errors import RenderError
from baryon.store import connections, run_logs
from baryon.store import deployments as deployment_store
from baryon.store.schema import account_settings, deployments, environments

D = deployments.c
METHOD = "hcl"
PHASE = "phase"
REVIEW = "review"
HANDED_OFF = "handed-off"


class TerraformGit:
    traits = Traits(
        METHOD, "Terraform through git", "the repository's automation", "terraform_git", notified=True
    )

    def deploy(self, given: StepInput) -> Outcome:
        try:
            if given.record.deployment_status == CANCELLING:
                return _cancel(given)
            phase = given.progress.get(PHASE)
            if phase == HANDED_OFF:
                return Done("handed over to the repository's automation")
            if phase == REVIEW:
                return _review(given)
            return _publish(given)
        except GitError as error:
            return Retry(error.message)
        except ProviderError as error:
            if error.retryable:
                return Retry(error.message)
            return given.fail(f"The git host's pull-request API refused a request: {error.message}")

    delete = deploy

    def cancel_at_once(self, flight: InFlight) -> bool:
        """Settle CANCELLED, in the caller's transaction, a deployment whose job has handed it over to the
        repository's automation; False (nothing done) for one whose job still runs."""
        if flight.progress.get(PHASE) != HANDED_OFF:
            return False
        return flight.settle(Finish(CANCELLED, CANCEL_MESSAGE))

    def notify(self, flight: InFlight, report: Report) -> None:
        record = flight.record
        if report.status == SUCCEEDED:
            deleting = record.operation == DELETE
            flight.settle(Finish(DELETE_COMPLETE if deleting else SUCCEEDED, None, report.outputs, []))
        elif report.status == FAILED:
            text = report.message or "The self-managed deployment reported a failure."
            flight.settle(Finish(failure_status(record), text, report.outputs, None))
        else:
            record_report(flight.connection, flight.now, record, report.outputs, report.message)


PROVISIONER = TerraformGit()


# --- the phases -----------------------------------------------------------------------------------


def _publish(given: StepInput) -> Outcome:
    runtime, record, progress = given.runtime, given.record, given.progress
    repository = progress.get("repository")
    if repository is None:
        found = _configured_repository(given)
        if isinstance(found, str):
            return given.fail(found)
        repository = found
        progress["repository"] = repository
        given.save()
    resolved = _resolve(given, repository)
    if resolved is None:
        return given.fail(_unlinked(repository))
    base = str(repository["branch"])
    direct = resolved.mode == connections.DIRECT
    remote = resolved.remote()
    scratch_root = runtime.settings.data_dir / "scratch"
    scratch_root.mkdir(parents=True, exist_ok=True, mode=0o700)
    with tempfile.TemporaryDirectory(prefix="terraform-", dir=scratch_root) as scratch:
        workspace = Workspace(remote, Path(scratch))
        fetched = workspace.fetch(base)
        if base not in fetched and not direct:
            return given.fail(
                f"The branch {base} does not exist in repository {resolved.name}; the pull request needs it "
                "as its base.",
            )
        ref = f"refs/remotes/origin/{base}"
        existing = workspace.list_files(ref) if base in fetched else []
        try:
            change = _change(given, workspace, ref, existing)
        except (RenderError, ValueError) as error:
            return given.fail(str(error))
        if change is None:
            given.finish(Finish(DELETE_COMPLETE))
            return Done("nothing of the resource was in the repository")
        head, files = change
        published = publish(
            remote,
            Path(scratch),
            base=base,
            files=files,
            message=terraform.commit_message(record.target_arn),
            head=None if direct else head,
        )
    progress.update(mode=resolved.mode, branch=published.branch, commit=published.commit)
    given.save()
    given.tell(
        f"Committed {published.commit} to branch {published.branch} of {resolved.name} "
        f"({resolved.mode} mode)",
        run_logs.TERRAFORM,
    )
    provider = None if direct else resolved.pull_requests()
    if provider is None:
        return _hand_off(given)
    pull_request = provider.open_pull_request(
        resolved.name, head, base, terraform.commit_message(record.target_arn), _description(record)
    )
    progress.update(pull_request={"id": pull_request.id, "url": pull_request.url}, phase=REVIEW)
    given.save()
    given.tell(
        f"Pull request {_label(progress['pull_request'])} (#{pull_request.id}) opened from {head} "
        f"into {base}",
        run_logs.TERRAFORM,
    )
    return Wait(runtime.clock.now() + runtime.settings.pull_request_poll_seconds)


def _review(given: StepInput) -> Outcome:
    runtime, progress = given.runtime, given.progress
    resolved = _resolve(given, progress["repository"])
    if resolved is None:
        return given.fail(_unlinked(progress["repository"]))
    provider = resolved.pull_requests()
    if provider is None:
        return _hand_off(given)
    pull_request = progress["pull_request"]
    state = provider.pull_request_state(resolved.name, pull_request["id"])
    if state == OPEN:
        waited = overdue(given, PROVISIONER)
        if waited is not None:
            provider.close_pull_request(resolved.name, pull_request["id"])
            return given.fail(
                f"The pull request {_label(pull_request)} stayed open for {duration(waited)}, past the "
                "deadline (BARYON_DEADLINE_TERRAFORM_GIT_SECONDS); it was closed."
            )
        return Wait(runtime.clock.now() + runtime.settings.pull_request_poll_seconds)
    if state == CLOSED:
        status = DELETE_FAILED if given.deleting else CANCELLED
        message = f"The pull request {_label(pull_request)} was closed without being merged."
        return given.finish(Finish(status, message))
    progress["merged"] = True
    given.tell(f"Pull request {_label(pull_request)} was merged", run_logs.TERRAFORM)
    return _hand_off(given)


def _hand_off(given: StepInput) -> Outcome:
    """Finish the job, leaving the deployment to the repository's automation (written only while the
    deployment is still in flight)."""
    runtime, record = given.runtime, given.record
    handed = {**given.progress, PHASE: HANDED_OFF}
    with runtime.database.write() as connection:
        count = connection.execute(
            sa.update(deployments)
            .where(D.id == record.id, D.deployment_status.in_((IN_PROGRESS, DELETE_IN_PROGRESS)))
            .values(progress=orjson.dumps(handed).decode(), last_modified_at=runtime.clock.now())
        ).rowcount
    if count:
        given.tell(
            "Handed over to the repository's automation; the deployment ends with its "
            "NotifyResourceDeploymentStatusChange",
            run_logs.TERRAFORM,
        )
        return Done("handed over to the repository's automation")
    with runtime.database.read() as connection:
        current = deployment_store.find(connection, record.id)
    if current is not None and current.deployment_status == CANCELLING:
        return _cancel(dataclasses.replace(given, record=current))
    return Done("the deployment was settled meanwhile")


def _cancel(given: StepInput) -> Outcome:
    progress = given.progress
    message = CANCEL_MESSAGE
    pull_request = progress.get("pull_request")
    if pull_request is not None:
        resolved = _resolve(given, progress["repository"])
        provider = resolved.pull_requests() if resolved is not None else None
        if provider is not None and resolved is not None:
            try:
                provider.close_pull_request(resolved.name, pull_request["id"])
            except ProviderError as error:
                if error.retryable:
                    return Retry(error.message)
                message = (
                    f"{CANCEL_MESSAGE} The pull request {_label(pull_request)} could not be closed: "
                    f"{error.message}"
                )
    return given.finish(Finish(CANCELLED, message))


# --- the repository -------------------------------------------------------------------------------


def _configured_repository(given: StepInput) -> dict[str, str] | str:
    """The stored `{arn, name, provider, branch}` the resource deploys to, or why there is none."""
    record, subject = given.record, given.subject
    with given.runtime.database.read() as connection:
        if record.target_type == ENVIRONMENT:
            stored = subject.row.provisioning_repository
            missing = (
                f"Environment {subject.row.name} has no provisioningRepository to commit its Terraform "
                "files to."
            )
        elif record.target_type in (SERVICE_INSTANCE, COMPONENT):
            stored = connection.execute(
                sa.select(environments.c.provisioning_repository).where(
                    environments.c.id == subject.row.environment_id
                )
            ).scalar()
            what = "service instance" if record.target_type == SERVICE_INSTANCE else "component"
            missing = (
                f"Environment {record.environment_name} has no provisioningRepository to commit the "
                f"Terraform files of {what} {subject.row.name} to."
            )
        else:
            stored = connection.execute(
                sa.select(account_settings.c.pipeline_provisioning_repository).where(
                    account_settings.c.account_id == record.account_id,
                    account_settings.c.region == record.region,
                )
            ).scalar()
            missing = (
                "The account has no pipelineProvisioningRepository (UpdateAccountSettings) to commit the "
                "pipeline's Terraform files to."
            )
    if not stored:
        return missing
    document = orjson.loads(stored)
    return {key: str(document[key]) for key in ("provider", "name", "branch")}


def _resolve(given: StepInput, repository: dict[str, str]) -> connections.ResolvedRepository | None:
    with given.runtime.database.read() as connection:
        return connections.resolve(
            connection,
            given.runtime.secrets,
            given.record.account_id,
            given.record.region,
            repository["provider"],
            repository["name"],
        )


def _unlinked(repository: dict[str, str]) -> str:
    return (
        f"The repository {repository['provider'].lower()}:{repository['name']} is no longer linked to this "
        "account and region (CreateRepository)."
    )


# --- the files ------------------------------------------------------------------------------------


def _change(
    given: StepInput, workspace: Workspace, ref: str, existing: list[str]
) -> tuple[str, dict[str, bytes | None]] | None:
    """The branch name and the files to write (None: remove) for the deployment; None for a deletion
    that finds nothing of the resource in the repository."""
    record, subject = given.record, given.subject
    kind = record.target_type
    target = target_of(record)
    major: int | None = None
    minor: int | None = None
    template_arn: str | None = None
    if kind == COMPONENT:
        # A component has no template version: its file and the instance inputs it sees are in its
        # deployment's target state (a deletion's target state is the component's current one).
        inputs = target.get("inputs") or {}
    else:
        major, minor = version_of(record, subject)
        template_arn = arns.arn(
            record.region,
            record.account_id,
            arns.template_resource(subject.template_kind, subject.template_name),
        )
        inputs = None if record.operation == DELETE else target.get("inputs")
        if inputs is None:
            inputs = orjson.loads(subject.row.inputs)
    namespace = subject.context(inputs)
    environment_arn = (
        arns.arn(record.region, record.account_id, f"environment/{record.environment_name}")
        if kind in (SERVICE_INSTANCE, COMPONENT)
        else None
    )
    arn = record.target_arn
    if record.operation == DELETE:
        folder = terraform.resource_folder(kind, namespace, existing)
        metadata = f"{folder}/{terraform.METADATA_FILE}"
        current = _read(workspace, ref, [*_folder_tf(folder, existing), metadata], existing)
        if metadata not in current and not any(terraform.is_managed(c, arn) for c in current.values()):
            return None
        deletion = terraform.terraform_deletion(
            kind, arn, template_arn, major, minor, record.id, namespace, current, environment_arn
        )
        return deletion.branch, dict(deletion.files)
    sources = _sources(given, major, minor, target)
    change = terraform.terraform_files(
        kind, arn, template_arn, major, minor, record.id, sources, namespace, existing, environment_arn
    )
    files: dict[str, bytes | None] = dict(change.files)
    for path, content in _read(workspace, ref, list(change.stale), existing).items():
        if terraform.is_managed(content, arn):
            files[path] = None
    return change.branch, files


def _sources(
    given: StepInput, major: int | None, minor: int | None, target: dict[str, Any]
) -> dict[str, bytes]:
    """The `.tf` files to copy, by name: a component's one submitted file, else those its manifest
    selects in the subject's part of the template version."""
    subject = given.subject
    if subject.source is not None:
        name, text = subject.source(target)
        return {name: text.encode()}
    if major is None or minor is None:
        raise ValueError("a template version is needed to read the bundle's Terraform files")
    part = bundle_part(given.runtime, subject, major, minor)
    return {str(name): part.files[str(name)] for name in part.info["files"]}


def _folder_tf(folder: str, paths: list[str]) -> list[str]:
    prefix = folder + "/"
    return [
        path
        for path in paths
        if path.startswith(prefix) and "/" not in path[len(prefix) :] and path.endswith(".tf")
    ]


def _read(workspace: Workspace, ref: str, wanted: list[str], existing: list[str]) -> dict[str, bytes]:
    present = set(existing)
    found: dict[str, bytes] = {}
    for path in wanted:
        if path in present:
            text = workspace.read(ref, path)
            if text is not None:
                found[path] = text.encode()
    return found


def _description(record: Any) -> str:
    if record.operation == DELETE:
        outcome = "closing it without merging fails the deletion (DELETE_FAILED) and keeps the resource."
    else:
        outcome = "closing it without merging cancels the deployment."
    return (
        f"Deployment {record.id} of {record.target_arn}.\n\n"
        f"Merge this pull request to let the repository's automation apply it; {outcome}\n"
    )


def _label(pull_request: dict[str, str]) -> str:
    return pull_request.get("url") or f"#{pull_request['id']}"
