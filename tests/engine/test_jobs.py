"""Leases, retries as data, give-up, and takeover of a dead worker's job, with an injected clock."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from baryon.domain.outcomes import Done, Failed, Retry, RetryPolicy, Wait
from baryon.engine.worker import HANDLERS, JobHandler, Worker
from baryon.runtime import Runtime
from baryon.store import jobs
from baryon.store.schema import jobs as jobs_table
from tests.support.clock import ManualClock as FakeClock


@pytest.fixture
def clocked(runtime: Runtime) -> tuple[Runtime, FakeClock]:
    clock = FakeClock()
    runtime.clock = clock
    return runtime, clock


def _enqueue(runtime: Runtime, kind: str, policy: RetryPolicy | None = None) -> str:
    job_id = runtime.ids.uuid()
    with runtime.database.write() as connection:
        jobs.enqueue(
            connection, job_id=job_id, kind=kind, payload={"n": 1}, now=runtime.clock.now(), policy=policy
        )
    return job_id


def _row(runtime: Runtime, job_id: str) -> Any:
    with runtime.database.read() as connection:
        return connection.execute(sa.select(jobs_table).where(jobs_table.c.id == job_id)).one()


@pytest.fixture
def script() -> Any:
    """A job kind whose step returns the outcomes queued in `outcomes`."""
    outcomes: list[Any] = []
    given_up: list[str] = []

    def step(runtime: Runtime, job: jobs.Job) -> Any:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    HANDLERS["test-script"] = JobHandler(step, lambda runtime, job, reason: given_up.append(reason))
    yield outcomes, given_up
    HANDLERS.pop("test-script")


def test_claim_leases_one_worker_at_a_time(clocked: tuple[Runtime, FakeClock]) -> None:
    runtime, clock = clocked
    job_id = _enqueue(runtime, "test-script")
    first = jobs.claim(runtime.database, "a", clock.now(), 30)
    assert first is not None and first.id == job_id
    assert jobs.claim(runtime.database, "b", clock.now(), 30) is None
    clock.t += 31
    taken_over = jobs.claim(runtime.database, "b", clock.now(), 30)
    assert taken_over is not None and taken_over.id == job_id
    jobs.settle(runtime.database, first, "a", Done(), clock.now())
    assert _row(runtime, job_id).state == jobs.QUEUED, "a worker that lost its lease cannot settle"
    jobs.settle(runtime.database, taken_over, "b", Done(), clock.now())
    assert _row(runtime, job_id).state == jobs.DONE
    assert (first.claims, taken_over.claims, _row(runtime, job_id).claims) == (1, 2, 2)


def test_every_claim_is_counted(clocked: tuple[Runtime, FakeClock]) -> None:
    runtime, clock = clocked
    job_id = _enqueue(runtime, "test-script")
    seen = []
    for _ in range(3):
        job = jobs.claim(runtime.database, "a", clock.now(), 30)
        assert job is not None and job.id == job_id
        seen.append(job.claims)
        jobs.settle(runtime.database, job, "a", Wait(clock.now()), clock.now())
    assert seen == [1, 2, 3]


def test_retry_policy_backoff_and_give_up(clocked: tuple[Runtime, FakeClock], script: Any) -> None:
    runtime, clock = clocked
    outcomes, given_up = script
    policy = RetryPolicy(max_attempts=3, initial_delay=2.0, multiplier=3.0, max_delay=100.0)
    job_id = _enqueue(runtime, "test-script", policy)
    worker = Worker(runtime)
    outcomes.extend([Retry("flaky"), RuntimeError("boom"), Retry("still flaky")])
    assert worker.run_once()
    row = _row(runtime, job_id)
    assert (row.state, row.attempts, row.run_at) == (jobs.QUEUED, 1, clock.t + 2.0)
    assert not worker.run_once(), "not due before its retry time"
    clock.t += 2.0
    assert worker.run_once()
    row = _row(runtime, job_id)
    assert (row.attempts, row.run_at, row.outcome_message) == (2, clock.t + 6.0, "RuntimeError: boom")
    clock.t += 6.0
    assert worker.run_once()
    row = _row(runtime, job_id)
    assert (row.state, row.outcome_message) == (jobs.FAILED, "still flaky")
    assert given_up == ["still flaky"]
    assert orjson.loads(row.retry_policy)["max_attempts"] == 3


def test_wait_does_not_count_as_attempt_and_failed_is_final(
    clocked: tuple[Runtime, FakeClock], script: Any
) -> None:
    runtime, clock = clocked
    outcomes, given_up = script
    job_id = _enqueue(runtime, "test-script")
    worker = Worker(runtime)
    outcomes.extend([Wait(clock.t + 10), Failed("bad input")])
    worker.run_once()
    row = _row(runtime, job_id)
    assert (row.state, row.attempts, row.run_at) == (jobs.QUEUED, 0, clock.t + 10)
    clock.t += 10
    worker.run_once()
    row = _row(runtime, job_id)
    assert (row.state, row.outcome_message) == (jobs.FAILED, "bad input")
    assert given_up == []


def test_unknown_job_kind_fails(clocked: tuple[Runtime, FakeClock]) -> None:
    runtime, _ = clocked
    job_id = _enqueue(runtime, "no-such-kind")
    Worker(runtime).run_once()
    assert _row(runtime, job_id).outcome_message == "no handler for job kind no-such-kind"


def test_hasten_makes_a_waiting_job_due_but_never_under_a_running_step(
    clocked: tuple[Runtime, FakeClock],
) -> None:
    runtime, clock = clocked
    job_id = _enqueue(runtime, "hasten-kind")
    job = jobs.claim(runtime.database, "w1", clock.now(), 30)
    assert job is not None and job.id == job_id
    # While the step runs, its outcome would overwrite the new time: the caller is told to ask again.
    assert jobs.hasten(runtime.database, job_id, clock.now()) == "busy"
    jobs.settle(runtime.database, job, "w1", Wait(clock.now() + 60), clock.now())
    assert _row(runtime, job_id).run_at == clock.now() + 60
    clock.t += 1
    assert jobs.hasten(runtime.database, job_id, clock.now()) == jobs.DONE
    assert _row(runtime, job_id).run_at == clock.now()
    again = jobs.claim(runtime.database, "w2", clock.now(), 30)
    assert again is not None and again.id == job_id
    jobs.settle(runtime.database, again, "w2", Done(), clock.now())
    assert jobs.hasten(runtime.database, job_id, clock.now()) == jobs.DONE
    assert _row(runtime, job_id).state == jobs.DONE


def test_a_run_requested_during_a_step_overrides_the_steps_wait(clocked: tuple[Runtime, FakeClock]) -> None:
    """`request_run` while a worker holds the job: the step's `Wait` until later is settled as due now;
    without a request during the step, the `Wait` stands, and an idle job is made due at once."""
    runtime, clock = clocked
    job_id = _enqueue(runtime, "test-script")
    claimed = jobs.claim(runtime.database, "a", clock.now(), 30)
    assert claimed is not None and claimed.id == job_id
    clock.advance(1)
    with runtime.database.write() as connection:
        assert jobs.request_run(connection, job_id, clock.now())
    assert _row(runtime, job_id).run_at < clock.now(), "a held job's time is not moved by the request"
    clock.advance(1)
    jobs.settle(runtime.database, claimed, "a", Wait(clock.now() + 3600), clock.now())
    assert _row(runtime, job_id).run_at == clock.now()

    again = jobs.claim(runtime.database, "a", clock.now(), 30)
    assert again is not None
    jobs.settle(runtime.database, again, "a", Wait(clock.now() + 3600), clock.now())
    assert _row(runtime, job_id).run_at == clock.now() + 3600

    with runtime.database.write() as connection:
        assert jobs.request_run(connection, job_id, clock.now())
        assert not jobs.request_run(connection, "no-such-job", clock.now())
    assert _row(runtime, job_id).run_at == clock.now()
