"""The sync status store every kind of sync records through: attempts written whole (the repeats not
written, a waiting attempt replaced), the initial revision, the latest attempt of several targets, the
state document, and forgetting the targets of a deleted resource by key prefix."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from baryon.runtime import Runtime
from baryon.store import sync_status
from baryon.store.schema import resource_sync_attempts
from baryon.store.sync_status import SERVICE_SYNC, Event, Revision, SyncTarget

ACCOUNT, REGION = "111111111111", "us-east-1"


def _target(key: str) -> SyncTarget:
    return SyncTarget(ACCOUNT, REGION, SERVICE_SYNC, key)


def _revision(sha: str) -> Revision:
    return Revision("org/ops", "GITHUB", "main", "specs/api.yaml", sha)


def _count(connection: Connection, target: SyncTarget) -> int:
    A = resource_sync_attempts.c
    query = sa.select(sa.func.count()).where(A.sync_type == target.sync_type, A.target_key == target.key)
    return int(connection.execute(query).scalar_one())


def _events(latest: sync_status.ResourceSyncAttempt | None) -> list[tuple[str, str]]:
    assert latest is not None
    return [(event.type, event.event) for event in latest.events]


def test_whole_attempts_repeats_and_waiting_attempts(runtime: Runtime) -> None:
    front, whole = _target("api/INSTANCE/front"), _target("api/SERVICE")
    with runtime.database.write() as connection:
        wait = [Event("WAITING", "a deployment is in progress", 1.0)]
        sync_status.record_attempt(connection, front, "front", _revision("a"), "INITIATED", wait, 1.0)
        first = sync_status.latest(connection, front)
        # The same attempt again is not written (times aside).
        again = [Event("WAITING", "a deployment is in progress", 2.0)]
        sync_status.record_attempt(connection, front, "front", _revision("a"), "INITIATED", again, 2.0)
        assert sync_status.latest(connection, front) == first
        # The next attempt of the same commit replaces the waiting one.
        done = [Event("SYNCED", "done", 3.0, "a")]
        sync_status.record_attempt(connection, front, "front", _revision("a"), "SUCCEEDED", done, 3.0)
        latest = sync_status.latest(connection, front)
        assert latest is not None and latest.status == "SUCCEEDED" and latest.started_at == 3.0
        assert _count(connection, front) == 1
        assert latest.initial_revision == _revision("a"), "without an earlier success, its own revision"
        # The initial revision of the next commit is the last one that succeeded.
        sync_status.record_attempt(connection, front, "front", _revision("b"), "FAILED", [], 4.0)
        failed = sync_status.latest(connection, front)
        assert failed is not None and failed.initial_revision == _revision("a")
        assert sync_status.latest(connection, front, succeeded=True) == latest
        # The latest of several targets is the newest of any of them.
        sync_status.record_attempt(connection, whole, "api", _revision("c"), "FAILED", done, 5.0)
        both = sync_status.latest(connection, front, whole)
        assert both is not None and both.target == "api" and _events(both) == [("SYNCED", "done")]
        assert sync_status.latest(connection, front) == failed


def test_state_documents_and_desired_revisions(runtime: Runtime) -> None:
    front = _target("api/INSTANCE/front")
    with runtime.database.write() as connection:
        assert sync_status.state(connection, front) == {} and sync_status.desired(connection, front) is None
        sync_status.set_state(connection, front, {"applied": "d1"}, 1.0)
        sync_status.set_desired(connection, front, _revision("a"), 2.0)
        assert sync_status.state(connection, front) == {"applied": "d1"}
        assert sync_status.desired(connection, front) == _revision("a")


def test_forgetting_targets_by_prefix_keeps_other_names(runtime: Runtime) -> None:
    keys = ["a_i/INSTANCE/front", "a_i/SERVICE", "abi/INSTANCE/front", "a_i2/PIPELINE", "a_/SERVICE"]
    with runtime.database.write() as connection:
        for key in keys:
            target = _target(key)
            sync_status.record_attempt(connection, target, key, _revision("a"), "SUCCEEDED", [], 1.0)
            sync_status.set_desired(connection, target, _revision("a"), 1.0)
        other_region = SyncTarget(ACCOUNT, "eu-west-1", SERVICE_SYNC, "a_i/SERVICE")
        sync_status.record_attempt(connection, other_region, "a_i", _revision("a"), "SUCCEEDED", [], 1.0)
        sync_status.forget_targets(connection, ACCOUNT, REGION, SERVICE_SYNC, "a_i/")
        remaining = {key for key in keys if sync_status.latest(connection, _target(key)) is not None} | {
            key for key in keys if sync_status.desired(connection, _target(key)) is not None
        }
        assert remaining == {"abi/INSTANCE/front", "a_i2/PIPELINE", "a_/SERVICE"}
        assert sync_status.latest(connection, other_region) is not None
