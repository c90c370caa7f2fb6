"""Worker loop: claim due jobs, run their step under a renewed lease, settle the outcome.

Invariants: a step that raises is treated as a transient failure (Retry) and logged; when a job's retries
run out its handler's `give_up` records the failure on the resource; the lease is renewed while a step
runs, so only a dead worker's jobs are taken over; a worker started with an `identity` (the same one across
restarts, see `engine.identity`) first gives back the leases that identity still holds, since a process
of that identity that held them has ended; `stop()` lets running steps finish; every settled step is one
line of `baryon.engine.steps` (job, kind, deployment and resource when its payload names them, outcome)
and, with tracing on, one span (`tracing.step_span`, a child of the request that created the job).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

from baryon import tracing
from baryon.domain import jobs as job_kinds
from baryon.domain.outcomes import Failed, Outcome, Retry
from baryon.engine import deploy, registration
from baryon.events import delivery
from baryon.runtime import Runtime
from baryon.store import jobs
from baryon.store.jobs import Job
from baryon.sync import follow

log = logging.getLogger("baryon.engine")
#: One line per job step, with its fields (`baryon.logs.FIELDS`).
step_log = logging.getLogger("baryon.engine.steps")


def _log_step(job: Job, outcome: Outcome, state: str) -> None:
    """One line for a step: the job, its kind, its deployment and resource when its payload names them, and
    the outcome (done, wait, retry or failed) with the job's state after it. Only identifiers are logged."""
    deployment = job.payload.get("deployment_id")
    resource = job.payload.get("resource_arn") or job.payload.get("target_arn")
    kind_of_outcome = type(outcome).__name__.lower()
    step_log.info(
        "job %s (%s): %s, %s",
        job.id,
        job.kind,
        kind_of_outcome,
        state,
        extra={
            "job": job.id,
            "kind": job.kind,
            "deployment": str(deployment) if deployment else None,
            "resource": str(resource) if resource else None,
            "outcome": kind_of_outcome,
            "status": state,
        },
    )


@dataclass(frozen=True)
class JobHandler:
    step: Callable[[Runtime, Job], Outcome]
    give_up: Callable[[Runtime, Job, str], None]


HANDLERS: dict[str, JobHandler] = {
    registration.JOB_KIND: JobHandler(registration.step, registration.fail),
    deploy.JOB_KIND: JobHandler(deploy.step, deploy.give_up),
    follow.JOB_KIND: JobHandler(follow.step, follow.give_up),
    job_kinds.DELIVER_EVENT: JobHandler(delivery.step, delivery.give_up),
}


class Worker:
    def __init__(
        self,
        runtime: Runtime,
        concurrency: int = 1,
        *,
        lease_seconds: float = 30.0,
        poll_interval: float = 0.5,
        identity: str | None = None,
    ) -> None:
        self.runtime = runtime
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self.identity = identity
        self.owner = identity or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        if self.identity is not None:
            released = jobs.release_leases(self.runtime.database, self.owner, self.runtime.clock.now())
            if released:
                log.info("worker %s took back %d unfinished job(s) of its previous run", self.owner, released)
        for index in range(self.concurrency):
            thread = threading.Thread(target=self._loop, name=f"baryon-worker-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self.runtime.wake()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self.run_once()
            except Exception:
                log.exception("worker loop error")
                worked = False
            if not worked:
                self.runtime.work_available.wait(self.poll_interval)
                self.runtime.work_available.clear()

    def run_once(self) -> bool:
        """Claim and run one due job; False when none was due."""
        clock = self.runtime.clock
        job = jobs.claim(self.runtime.database, self.owner, clock.now(), self.lease_seconds)
        if job is None:
            return False
        handler = HANDLERS.get(job.kind)
        with tracing.step_span(job.id, job.kind, job.claims, job.payload) as span:
            if handler is None:
                outcome: Outcome = Failed(f"no handler for job kind {job.kind}")
            else:
                outcome = self._run_step(handler, job)
            state = jobs.settle(self.runtime.database, job, self.owner, outcome, clock.now())
            kind_of_outcome = type(outcome).__name__.lower()
            tracing.set_attributes(span, **{tracing.OUTCOME: kind_of_outcome, tracing.JOB_STATE: state})
        _log_step(job, outcome, state)
        if state == jobs.FAILED and isinstance(outcome, Retry) and handler is not None:
            handler.give_up(self.runtime, job, outcome.reason)
        return True

    def _run_step(self, handler: JobHandler, job: Job) -> Outcome:
        done = threading.Event()

        def keep_lease() -> None:
            while not done.wait(self.lease_seconds / 3):
                jobs.renew(
                    self.runtime.database, job.id, self.owner, self.runtime.clock.now(), self.lease_seconds
                )

        renewer = threading.Thread(target=keep_lease, daemon=True)
        renewer.start()
        try:
            return handler.step(self.runtime, job)
        except Exception as error:
            log.exception("job %s (%s) step raised", job.id, job.kind)
            return Retry(f"{type(error).__name__}: {error}")
        finally:
            done.set()
            renewer.join()
