"""The follower: the poll job of one followed branch, which hands each new commit to the syncers.

One job per branch (`baryon.store.sync_jobs`) runs this step every `BARYON_SYNC_POLL_SECONDS` (sooner
when a push webhook asks): it asks the remote where the branch is (`ls-remote`); when the head moved
since the commit a kind of sync last acted on, it fetches the branch into the repository's local mirror
and hands the tree of every new commit, oldest first along first parents, to each syncer following the
branch, recording a RepositorySyncAttempt per sync type (CLONE_STARTED, CONFIG_UPDATED on the first look
after a config change, STARTING_SYNC per commit with its sha, and a FAILED status with the reason).

`Heads` given to a syncer answers the trees of other branches of the same repository (fetched when
they moved); for a branch of another repository it answers None.

Ordering: commits are synced one by one in order. When more than `MAX_COMMITS` arrived at once (or the
history was rewritten, or the branch was never synced before), only the newest commit is synced — the
batch Proton makes of commits that arrive during a sync.

Invariants: the last synced commit per (branch, sync type) is stored after each commit's sync, so a
restart neither repeats a synced commit nor skips one; a syncer that raises leaves its last synced commit
where it was (the commit is tried again at the next look); a syncer that raises `RetryLater` (it waits
for a deployment in flight) leaves the attempt QUEUED and the job looks again after the delay it names;
a branch no syncer follows any more ends its job; git trouble (remote unreachable, branch missing) is
recorded as a FAILED attempt and the job looks again after the poll interval; scratch checkouts are
removed after each look.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from pathlib import Path

from baryon.domain import jobs as job_kinds
from baryon.domain.outcomes import Done, Outcome, Wait
from baryon.git.command import GitError
from baryon.runtime import Runtime
from baryon.store import connections as connection_store
from baryon.store import sync_jobs, sync_status
from baryon.store.jobs import Job
from baryon.store.sync_status import BranchKey, Event
from baryon.sync.base import Branch, RetryLater, Syncer, Tree
from baryon.sync.gitrepo import GitTree, Mirror, mirror_path
from baryon.sync.registry import syncers

log = logging.getLogger("baryon.sync")
JOB_KIND = job_kinds.SYNC_POLL
#: Most commits synced one by one in one look; beyond, only the newest is synced.
MAX_COMMITS = 20
CLONE_STARTED = "CLONE_STARTED"
CONFIG_UPDATED = "CONFIG_UPDATED"
STARTING_SYNC = "STARTING_SYNC"
SYNC_FAILED = "SYNC_FAILED"
SYNC_WAITING = "SYNC_WAITING"


def branch_of(job: Job) -> Branch:
    payload = job.payload
    return Branch(
        str(payload["account_id"]),
        str(payload["region"]),
        str(payload["provider"]),
        str(payload["repository"]),
        str(payload["branch"]),
    )


def _key(branch: Branch, sync_type: str) -> BranchKey:
    return BranchKey(
        branch.account_id, branch.region, branch.provider, branch.repository, branch.branch, sync_type
    )


def _following(runtime: Runtime, branch: Branch) -> list[Syncer]:
    with runtime.database.read() as connection:
        return [syncer for syncer in syncers() if branch in set(syncer.branches(connection))]


def _record_failure(runtime: Runtime, branch: Branch, sync_types: list[str], reason: str) -> None:
    now = runtime.clock.now()
    with runtime.database.write() as connection:
        for sync_type in sync_types:
            key = _key(branch, sync_type)
            latest = sync_status.repository_attempt_latest(connection, key)
            if latest is not None and latest["status"] == sync_status.FAILED:
                last_event = latest["events"][-1] if latest["events"] else {}
                if last_event.get("event") == reason:
                    continue
            attempt = sync_status.repository_attempt_start(connection, key, now, [])
            sync_status.repository_attempt_event(
                connection, attempt, Event(SYNC_FAILED, reason, now), sync_status.FAILED
            )


def step(runtime: Runtime, job: Job) -> Outcome:
    started = runtime.clock.now()
    branch = branch_of(job)
    following = _following(runtime, branch)
    if not following:
        return Done(f"no sync follows {branch.provider.lower()}:{branch.repository} branch {branch.branch}")
    interval = runtime.settings.sync_poll_seconds
    with runtime.database.read() as connection:
        resolved = connection_store.resolve(
            connection, runtime.secrets, branch.account_id, branch.region, branch.provider, branch.repository
        )
    sync_types = [syncer.sync_type for syncer in following]
    if resolved is None:
        _record_failure(runtime, branch, sync_types, f"The repository {branch.repository} is not linked.")
        return Wait(runtime.clock.now() + interval)
    scratch = runtime.settings.data_dir / "sync" / "work" / f"{job.id}-{uuid.uuid4().hex[:8]}"
    mirror = Mirror(
        mirror_path(
            runtime.settings.data_dir, branch.account_id, branch.region, branch.provider, branch.repository
        ),
        resolved.remote(),
    )
    retry_at: float | None = None
    try:
        with mirror:
            created = mirror.ensure()
            retry_at = _look(runtime, branch, mirror, following, scratch, created)
    except GitError as error:
        log.warning("sync of %s %s: %s", branch.repository, branch.branch, error.message)
        _record_failure(runtime, branch, sync_types, error.message)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    with runtime.database.read() as connection:
        requested = sync_jobs.requested_at(connection, job.id)
    now = runtime.clock.now()
    if requested is not None and requested >= started:
        return Wait(now)
    return Wait(min(now + interval, retry_at) if retry_at is not None else now + interval)


def _look(
    runtime: Runtime, branch: Branch, mirror: Mirror, following: list[Syncer], scratch: Path, created: bool
) -> float | None:
    """Sync the new commits of the branch; returns when to look again because a syncer waits (or None)."""
    retry_at: float | None = None
    head = mirror.remote_head(branch.branch)
    if head is None:
        raise GitError(f"The branch {branch.branch} does not exist in {branch.repository}.")
    fetched = False
    trees: dict[str, Tree] = {}

    def tree_at(sha: str) -> Tree:
        if sha not in trees:
            trees[sha] = GitTree(mirror, sha, scratch)
        return trees[sha]

    def heads(other: Branch) -> Tree | None:
        if (other.account_id, other.region, other.provider, other.repository) != (
            branch.account_id,
            branch.region,
            branch.provider,
            branch.repository,
        ):
            return None
        if other.branch == branch.branch:
            return tree_at(head)
        other_head = mirror.remote_head(other.branch)
        if other_head is None:
            return None
        if not mirror.has(other_head):
            mirror.fetch(other.branch)
        return tree_at(other_head)

    for syncer in following:
        key = _key(branch, syncer.sync_type)
        with runtime.database.read() as connection:
            last = sync_status.last_synced(connection, key)
        if last == head:
            continue
        now = runtime.clock.now()
        events = [Event(CLONE_STARTED, "Clone started", now)]
        if last is None:
            events.append(Event(CONFIG_UPDATED, "Updated configuration", now))
        with runtime.database.write() as connection:
            attempt = sync_status.repository_attempt_start(connection, key, now, events)
        try:
            if not fetched and not mirror.has(head):
                mirror.fetch(branch.branch)
            fetched = True
            commits = mirror.commits(last, head)
            if not commits or len(commits) > MAX_COMMITS:
                commits = [head]
            for sha in commits:
                with runtime.database.write() as connection:
                    sync_status.repository_attempt_event(
                        connection,
                        attempt,
                        Event(STARTING_SYNC, f"Starting syncs for commit {sha}", runtime.clock.now(), sha),
                    )
                syncer.apply(runtime, branch, tree_at(sha), heads)
                with runtime.database.write() as connection:
                    sync_status.set_last_synced(connection, key, sha, runtime.clock.now())
        except RetryLater as waiting:
            # The commit stays unsynced (nor do later ones go first); the same commit is applied again soon.
            now = runtime.clock.now()
            at = now + waiting.delay
            retry_at = at if retry_at is None else min(retry_at, at)
            with runtime.database.write() as connection:
                sync_status.repository_attempt_event(
                    connection, attempt, Event(SYNC_WAITING, waiting.reason, now), sync_status.QUEUED
                )
            continue
        except Exception as error:
            reason = error.message if isinstance(error, GitError) else f"{type(error).__name__}: {error}"
            if not isinstance(error, GitError):
                log.exception("%s of %s %s failed", syncer.sync_type, branch.repository, branch.branch)
            with runtime.database.write() as connection:
                sync_status.repository_attempt_event(
                    connection, attempt, Event(SYNC_FAILED, reason, runtime.clock.now()), sync_status.FAILED
                )
            continue
        with runtime.database.write() as connection:
            sync_status.repository_attempt_event(
                connection,
                attempt,
                Event("SYNC_SUCCEEDED", f"Synced commit {head}", runtime.clock.now(), head),
                sync_status.SUCCEEDED,
            )
    return retry_at


def give_up(runtime: Runtime, job: Job, reason: str) -> None:
    """A poll job that ran out of retries: record it; the next config change or push brings it back."""
    branch = branch_of(job)
    log.error("following %s %s stopped: %s", branch.repository, branch.branch, reason)
