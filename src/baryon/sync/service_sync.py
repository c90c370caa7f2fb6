"""Service sync (reference §6.2): the ops file of a service and the spec files it points at drive its
instances and its pipeline.

For every service sync config, the syncer follows the ops file's branch and every branch the ops file
names (as last read). When one of them moves, `apply` reads the ops file (`filePath` on the config's
branch), keeps the entries of the config's service, reads each entry's spec file from its branch (the
moving tree, or another followed branch through `heads`), and then, in one transaction:

- an instance listed and missing is created (CreateServiceInstance);
- an instance whose block (environment and inputs) differs from the one the sync last applied is
  redeployed (UpdateServiceInstance, deploymentType CURRENT_VERSION, the spec file as spec); when the sync
  has applied nothing to it yet (or a change made by hand cleared that), it is redeployed only if the
  block's inputs differ from those the instance was last given;
- the pipeline is redeployed the same way (UpdateServicePipeline) from the `pipeline:` section of the
  spec files (all that hold one must agree);
- nothing is ever deleted.

The creates and updates go through `ServiceActions`, which the API layer implements with its own handlers
(validation, quotas and deployments are those of the operations), acting as the sync's principal so that
they open no sync blocker. This module imports nothing from the API.

Invariants:
- Idempotent for a commit: the digest of an applied block is stored in the transaction that starts its
  deployment, so running `apply` again for the same commit deploys nothing.
- All or nothing per commit: an unreadable or invalid ops file, a missing or invalid spec file, an instance
  missing from its spec file, spec files that disagree on the pipeline, or an operation refusing the
  spec (ValidationException: schema, environment, quota) roll back everything of the commit and leave a
  FAILED attempt on the service with every reason and the commit's sha.
- A target with an ACTIVE sync blocker (or every target, when the service has one) is skipped and a FAILED
  attempt says which blocker; a target whose resource has a deployment in flight, or whose operation
  answers ConflictException (e.g. a second new instance while the first deploys), waits: an INITIATED
  attempt says why, the rest of the commit is applied, and `apply` raises `RetryLater` after committing,
  so that the follower calls it again for the same commit.
- Files are read only through `read_text`: relative paths without `..` (nothing under .git), regular
  files as `Tree.read` answers them (no symbolic links), at most a size limit, UTF-8.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from baryon.domain.deployments import BUSY
from baryon.domain.ops_file import MAX_OPS_FILE_BYTES, OpsEntry, OpsFileError, parse_ops_file, path_problem
from baryon.domain.specs import (
    MAX_SPEC_CHARS,
    ServiceSpec,
    instance_inputs_in,
    parse_pipeline_spec,
    parse_service_spec,
    resolve_current_values,
)
from baryon.protocol.errors import ConflictException, ServiceError
from baryon.store import service_sync as store
from baryon.store import sync_jobs, sync_status
from baryon.store.schema import service_instances, service_pipelines
from baryon.store.sync_status import Event, Revision, SyncTarget
from baryon.sync.base import SERVICE_SYNC, Branch, Heads, RetryLater, Tree

if TYPE_CHECKING:
    from baryon.runtime import Runtime

I = service_instances.c  # noqa: E741
P = service_pipelines.c

#: Seconds after which a sync that waits for a deployment should be applied again.
RETRY_SECONDS = 5.0
#: Largest spec file read (bytes; the spec itself may hold at most `MAX_SPEC_CHARS` characters).
MAX_SPEC_FILE_BYTES = MAX_SPEC_CHARS * 4


class ServiceActions(Protocol):
    """The operations the sync performs, in the caller's transaction, as the sync's principal. Each returns
    the id of the deployment it started and raises the operation's `ServiceError`s."""

    def create_instance(
        self,
        runtime: Runtime,
        connection: Connection,
        account_id: str,
        region: str,
        service: str,
        name: str,
        spec: str,
    ) -> str: ...

    def update_instance(
        self,
        runtime: Runtime,
        connection: Connection,
        account_id: str,
        region: str,
        service: str,
        name: str,
        spec: str,
    ) -> str: ...

    def update_pipeline(
        self, runtime: Runtime, connection: Connection, account_id: str, region: str, service: str, spec: str
    ) -> str: ...


class _Unreadable(Exception):
    """A file of the commit cannot be used; the message is complete."""


def read_text(tree: Tree, path: str, limit: int, what: str) -> str:
    """The UTF-8 text of the regular file at a relative path of `tree`, of at most `limit` bytes.

    Only `Tree.read` is used (no checkout): it answers regular files only (the follower's `GitTree` reads
    blobs and refuses symbolic links and submodules), so a path never leaves the commit."""
    problem = path_problem(path)
    if problem is not None:
        raise _Unreadable(f"{what}: {problem}")
    data = tree.read(path)
    if data is None:
        raise _Unreadable(f"{what} does not exist (or is not a regular file).")
    if len(data) > limit:
        raise _Unreadable(f"{what} is larger than {limit} bytes.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _Unreadable(f"{what} is not UTF-8 text.") from None


def digest(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(frozen=True)
class _Target:
    """What the spec files ask for one instance (or, with `name` "", the pipeline)."""

    name: str
    environment: str
    inputs: dict[str, Any]
    spec: str
    revision: Revision

    @property
    def digest(self) -> str:
        return digest({"environment": self.environment, "inputs": self.inputs})


@dataclass
class _Outcome:
    started: int = 0
    waiting: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


class _Abort(Exception):
    """Roll the commit's transaction back."""


class ServiceSyncer:
    """The SERVICE_SYNC kind of sync."""

    def __init__(self, actions: ServiceActions, retry_delay: float = RETRY_SECONDS) -> None:
        self.actions = actions
        self.retry_delay = retry_delay

    @property
    def sync_type(self) -> str:
        return SERVICE_SYNC

    def branches(self, connection: Connection) -> list[Branch]:
        found: set[Branch] = set()
        for config in store.all_configs(connection):
            names = {config.branch, *(entry["branch"] for entry in store.ops_entries(config).values())}
            for name in names:
                found.add(
                    Branch(
                        config.account_id,
                        config.region,
                        config.repository_provider,
                        config.repository_name,
                        name,
                    )
                )
        return sorted(found)

    def apply(self, runtime: Runtime, branch: Branch, tree: Tree, heads: Heads) -> None:
        with runtime.database.read() as connection:
            configs = [
                config
                for config in store.configs_of_repository(
                    connection, branch.account_id, branch.region, branch.provider, branch.repository
                )
                if config.branch == branch.branch
                or branch.branch in {entry["branch"] for entry in store.ops_entries(config).values()}
            ]
        waiting: list[str] = []
        for config in configs:
            waiting += _ConfigSync(self.actions, runtime, config, branch, tree, heads).run()
        if waiting:
            raise RetryLater("; ".join(waiting), self.retry_delay)


class _ConfigSync:
    """One service's sync for one moved branch."""

    def __init__(
        self, actions: ServiceActions, runtime: Runtime, config: Any, branch: Branch, tree: Tree, heads: Heads
    ) -> None:
        self.actions = actions
        self.runtime = runtime
        self.config = config
        self.branch = branch
        self.tree = tree
        self.heads = heads
        self.service = config.service_name
        self.service_id = config.service_id

    def _branch(self, name: str) -> Branch:
        b = self.branch
        return Branch(b.account_id, b.region, b.provider, b.repository, name)

    def _tree(self, name: str, ops_tree: Tree | None = None) -> Tree | None:
        if name == self.branch.branch:
            return self.tree
        if ops_tree is not None and name == self.config.branch:
            return ops_tree
        return self.heads(self._branch(name))

    def _revision(self, branch: str, path: str, sha: str) -> Revision:
        config = self.config
        return Revision(config.repository_name, config.repository_provider, branch, path, sha)

    def _target(self, kind: str, name: str = "") -> SyncTarget:
        return store.target(self.config.account_id, self.config.region, self.service, kind, name)

    def run(self) -> list[str]:
        config = self.config
        # Failures of the whole commit are recorded against the commit that moved (its branch and sha).
        ops_revision = self._revision(self.branch.branch, config.file_path, self.tree.sha)
        ops_tree = self._tree(config.branch)
        where = f"The ops file {config.file_path} on branch {config.branch}"
        if ops_tree is None:
            self._fail(ops_revision, [f"The branch {config.branch} holding the ops file was not found."])
            return []
        try:
            text = read_text(ops_tree, config.file_path, MAX_OPS_FILE_BYTES, where)
            entries = parse_ops_file(text, self.service, where)
        except (_Unreadable, OpsFileError) as error:
            self._fail(ops_revision, [str(error)])
            return []
        with self.runtime.database.write() as connection:
            store.set_ops_entries(
                connection,
                config.id,
                {e.instance: {"branch": e.branch, "spec": e.spec} for e in entries},
                ops_tree.sha,
            )
            for spec_branch in sorted({e.branch for e in entries} - {config.branch}):
                sync_jobs.follow(
                    connection,
                    account_id=config.account_id,
                    region=config.region,
                    provider=config.repository_provider,
                    repository=config.repository_name,
                    branch=spec_branch,
                    now=self.runtime.clock.now(),
                )
        targets, pipeline, problems = self._read_specs(entries, ops_tree)
        if problems:
            self._fail(ops_revision, problems)
            return []
        outcome = _Outcome()
        try:
            with self.runtime.database.write() as connection:
                if not store.lock_config(connection, config.id):
                    return []
                self._apply(connection, ops_revision, targets, pipeline, outcome)
                if outcome.failures:
                    raise _Abort
        except _Abort:
            self._fail(ops_revision, outcome.failures)
            return []
        if outcome.started:
            self.runtime.wake()
        return outcome.waiting

    # ------------------------------------------------------------------------------------ reading

    def _read_specs(
        self, entries: list[OpsEntry], ops_tree: Tree
    ) -> tuple[list[_Target], _Target | None, list[str]]:
        problems: list[str] = []
        specs: dict[tuple[str, str], tuple[ServiceSpec, str, Revision] | None] = {}
        targets: list[_Target] = []
        for entry in entries:
            key = (entry.branch, entry.spec)
            what = f"The spec file {entry.spec} on branch {entry.branch}"
            if key not in specs:
                specs[key] = None
                tree = self._tree(entry.branch, ops_tree)
                if tree is None:
                    problems.append(
                        f"The branch {entry.branch} named for service instance {entry.instance} was not "
                        f"found in {self.config.repository_name}."
                    )
                    continue
                try:
                    text = read_text(tree, entry.spec, MAX_SPEC_FILE_BYTES, what)
                    specs[key] = (
                        parse_service_spec(text),
                        text,
                        self._revision(entry.branch, entry.spec, tree.sha),
                    )
                except _Unreadable as error:
                    problems.append(str(error))
                except ServiceError as error:
                    problems.append(f"{what}: {error.message}")
            found = specs[key]
            if found is None:
                continue
            spec, text, revision = found
            block = next((i for i in spec.instances if i.name == entry.instance), None)
            if block is None:
                problems.append(f"{what} lists no instance named {entry.instance}.")
                continue
            targets.append(_Target(entry.instance, block.environment, block.inputs, text, revision))
        pipelines = {
            key: (found[0].pipeline, found[1], found[2])
            for key, found in sorted(specs.items())
            if found is not None and found[0].pipeline is not None
        }
        pipeline: _Target | None = None
        if len({digest(inputs) for inputs, _, _ in pipelines.values()}) > 1:
            files = ", ".join(f"{path} on branch {branch}" for branch, path in pipelines)
            problems.append(f"The spec files {files} give different 'pipeline' sections; keep one.")
        elif pipelines:
            inputs, text, revision = next(iter(pipelines.values()))
            pipeline = _Target("", "", inputs or {}, text, revision)
        return targets, pipeline, problems

    # ----------------------------------------------------------------------------------- applying

    def _apply(
        self,
        connection: Connection,
        ops_revision: Revision,
        targets: list[_Target],
        pipeline: _Target | None,
        outcome: _Outcome,
    ) -> None:
        now = self.runtime.clock.now()
        for target in targets:
            desired = self._target(store.INSTANCE, target.name)
            sync_status.set_desired(connection, desired, target.revision, now)
        blocker = store.active_blocker(connection, self.service_id, None)
        if blocker is not None:
            self._attempt(
                connection,
                store.SERVICE,
                self.service,
                ops_revision,
                sync_status.FAILED,
                [("BLOCKED", self._blocked(blocker, f"service {self.service}"), blocker.id)],
            )
            return
        rows = {
            row.name: row
            for row in connection.execute(sa.select(service_instances).where(I.service_id == self.service_id))
        }
        # New instances first: CreateServiceInstance waits while another instance of the service deploys.
        for target in sorted(targets, key=lambda t: (t.name in rows, t.name)):
            self._instance(connection, target, rows.get(target.name), outcome)
        if pipeline is not None:
            row = connection.execute(
                sa.select(service_pipelines).where(P.service_id == self.service_id)
            ).first()
            if row is not None:
                self._pipeline(connection, pipeline, row, outcome)

    def _blocked(self, blocker: Any, what: str) -> str:
        return (
            f"The sync of {what} is blocked by sync blocker {blocker.id} ({blocker.created_reason}) "
            "Resolve it with UpdateServiceSyncBlocker; the next commit is then applied."
        )

    def _instance(self, connection: Connection, target: _Target, row: Any, outcome: _Outcome) -> None:
        name = target.name
        blocker = store.active_blocker(connection, self.service_id, name)
        if blocker is not None:
            self._attempt(
                connection,
                store.INSTANCE,
                name,
                target.revision,
                sync_status.FAILED,
                [("BLOCKED", self._blocked(blocker, f"service instance {name}"), blocker.id)],
            )
            return
        account, region = self.config.account_id, self.config.region
        if row is None:
            self._act(
                connection,
                store.INSTANCE,
                target,
                outcome,
                f"Creating service instance {name}",
                lambda: self.actions.create_instance(
                    self.runtime, connection, account, region, self.service, name, target.spec
                ),
            )
            return
        if not self._changed(connection, store.INSTANCE, target, row, self._given_instance):
            return
        if target.environment != row.environment_name:
            outcome.failures.append(
                f"Service instance {name} runs in environment {row.environment_name}; the sync cannot "
                f"move it to environment {target.environment}."
            )
            return
        if row.deployment_status in BUSY:
            self._wait(
                connection,
                store.INSTANCE,
                target,
                outcome,
                f"Service instance {name} has a deployment in progress ({row.deployment_status}); the sync "
                "applies the commit once it has finished.",
            )
            return
        self._act(
            connection,
            store.INSTANCE,
            target,
            outcome,
            f"Redeploying service instance {name}",
            lambda: self.actions.update_instance(
                self.runtime, connection, account, region, self.service, name, target.spec
            ),
        )

    def _pipeline(self, connection: Connection, target: _Target, row: Any, outcome: _Outcome) -> None:
        if not self._changed(connection, store.PIPELINE, target, row, self._given_pipeline):
            return
        if row.deployment_status in BUSY:
            self._wait(
                connection,
                store.PIPELINE,
                target,
                outcome,
                f"The pipeline of service {self.service} has a deployment in progress; the sync applies the "
                "commit once it has finished.",
            )
            return
        account, region = self.config.account_id, self.config.region
        self._act(
            connection,
            store.PIPELINE,
            target,
            outcome,
            f"Redeploying the pipeline of service {self.service}",
            lambda: self.actions.update_pipeline(
                self.runtime, connection, account, region, self.service, target.spec
            ),
        )

    @staticmethod
    def _given_instance(row: Any) -> dict[str, Any]:
        return instance_inputs_in(row.spec)(row.name)

    @staticmethod
    def _given_pipeline(row: Any) -> dict[str, Any]:
        return parse_pipeline_spec(row.spec)

    def _changed(self, connection: Connection, kind: str, target: _Target, row: Any, given: Any) -> bool:
        """Whether the target's block must be applied; records it as applied when the resource already
        runs it (first sync of an existing resource, or the first after a change made by hand)."""
        applied = store.applied(connection, self._target(kind, target.name))
        if applied is not None:
            return applied != target.digest
        try:
            current = resolve_current_values(given(row), orjson.loads(row.inputs))
        except ServiceError:
            return True
        environment = getattr(row, "environment_name", "")
        if current != target.inputs or environment != target.environment:
            return True
        self._mark_applied(connection, kind, target)
        return False

    def _mark_applied(self, connection: Connection, kind: str, target: _Target) -> None:
        now = self.runtime.clock.now()
        store.set_applied(connection, self._target(kind, target.name), target.digest, now)

    def _act(
        self,
        connection: Connection,
        kind: str,
        target: _Target,
        outcome: _Outcome,
        what: str,
        action: Any,
    ) -> None:
        savepoint = connection.begin_nested()
        try:
            deployment_id = action()
        except ConflictException as error:
            savepoint.rollback()
            self._wait(connection, kind, target, outcome, f"{error.message} The sync tries again.")
            return
        except ServiceError as error:
            savepoint.rollback()
            subject = f"service instance {target.name}" if kind == store.INSTANCE else "the pipeline"
            outcome.failures.append(f"{subject}: {error.message}")
            return
        savepoint.commit()
        self._mark_applied(connection, kind, target)
        outcome.started += 1
        self._attempt(
            connection,
            kind,
            target.name,
            target.revision,
            sync_status.IN_PROGRESS,
            [("DEPLOYMENT_STARTED", f"{what}: deployment {deployment_id}.", deployment_id)],
            deployment_id=deployment_id,
        )

    def _wait(
        self, connection: Connection, kind: str, target: _Target, outcome: _Outcome, reason: str
    ) -> None:
        outcome.waiting.append(reason)
        self._attempt(
            connection, kind, target.name, target.revision, sync_status.INITIATED, [("WAITING", reason, None)]
        )

    def _attempt(
        self,
        connection: Connection,
        kind: str,
        name: str,
        revision: Revision,
        status: str,
        events: list[tuple[str, str, str | None]],
        deployment_id: str | None = None,
    ) -> None:
        now = self.runtime.clock.now()
        sha = revision.sha
        what = (
            f"service instance {name}"
            if kind == store.INSTANCE
            else f"the pipeline of service {self.service}"
            if kind == store.PIPELINE
            else f"service {self.service}"
        )
        sync_status.record_attempt(
            connection,
            self._target(kind, name),
            name,
            revision,
            status,
            [
                Event("STARTING_SYNC", f"Starting sync of {what} for commit {sha}", now, sha),
                *(Event(type_, text, now, external) for type_, text, external in events),
            ],
            now,
            deployment_id=deployment_id,
        )

    def _fail(self, revision: Revision, problems: list[str]) -> None:
        with self.runtime.database.write() as connection:
            if not store.lock_config(connection, self.config.id):
                return
            self._attempt(
                connection,
                store.SERVICE,
                self.service,
                revision,
                sync_status.FAILED,
                [
                    ("FAILED", f"The commit {revision.sha} was not applied: {problem}", None)
                    for problem in problems
                ],
            )
