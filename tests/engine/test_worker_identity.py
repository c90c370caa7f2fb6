"""A worker that restarts under its identity takes back its unfinished jobs at once, not when their
leases expire; identities derived from the data dir are stable across restarts and never shared."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from baryon.domain.outcomes import Done, Outcome
from baryon.engine.identity import IdentityError, claim_identity
from baryon.engine.worker import HANDLERS, JobHandler, Worker
from baryon.runtime import Runtime
from baryon.store import jobs

KIND = "test-hold"
WAIT = 30.0


@dataclass
class FrozenClock:
    t: float = 2_000_000.0

    def now(self) -> float:
        return self.t


@dataclass
class Holding:
    """A job kind whose first step starts and then never settles (its worker 'crashed' mid-step)."""

    started: threading.Event
    finished: threading.Event
    release: threading.Event
    steps: list[int]


@pytest.fixture
def holding() -> Iterator[Holding]:
    state = Holding(threading.Event(), threading.Event(), threading.Event(), [])

    def step(runtime: Runtime, job: jobs.Job) -> Outcome:
        state.steps.append(job.claims)
        if job.claims == 1:
            state.started.set()
            state.release.wait(WAIT)
            return Done("the crashed run's step")
        state.finished.set()
        return Done("taken back")

    HANDLERS[KIND] = JobHandler(step, lambda runtime, job, reason: None)
    yield state
    state.release.set()
    HANDLERS.pop(KIND)


def _enqueue(runtime: Runtime) -> str:
    job_id = runtime.ids.uuid()
    with runtime.database.write() as connection:
        jobs.enqueue(connection, job_id=job_id, kind=KIND, payload={}, now=runtime.clock.now())
    return job_id


def test_a_restarted_worker_takes_back_its_lease_at_once(runtime: Runtime, holding: Holding) -> None:
    runtime.clock = FrozenClock()  # no lease ever expires in this test
    _enqueue(runtime)
    crashed = Worker(runtime, 1, lease_seconds=600, poll_interval=0.05, identity="host-a:data:0")
    crashed.start()
    assert holding.started.wait(WAIT), "the first worker never ran the job"

    stranger = Worker(runtime, 1, lease_seconds=600, identity="host-b:data:0")
    assert stranger.run_once() is False, "another worker's live lease was taken"

    restarted = Worker(runtime, 1, lease_seconds=600, poll_interval=0.05, identity="host-a:data:0")
    restarted.start()
    try:
        assert holding.finished.wait(WAIT), "the restarted worker did not take its job back"
        assert holding.steps == [1, 2]
    finally:
        restarted.stop()
        holding.release.set()
        crashed.stop()


def test_identities_from_one_data_dir_are_stable_and_distinct(tmp_path: Path) -> None:
    first = claim_identity(tmp_path)
    second = claim_identity(tmp_path)
    assert first.name != second.name
    assert first.name.endswith(":0") and second.name.endswith(":1")
    name = first.name
    first.release()
    again = claim_identity(tmp_path)
    assert again.name == name
    assert claim_identity(tmp_path / "other").name != name
    second.release()
    again.release()


def test_a_configured_identity(tmp_path: Path) -> None:
    assert claim_identity(tmp_path, "worker-7").name == "worker-7"
    with pytest.raises(IdentityError) as caught:
        claim_identity(tmp_path, "x" * 101)
    assert str(caught.value) == f"BARYON_WORKER_ID must be 1 to 100 printable characters, not {'x' * 101!r}."
