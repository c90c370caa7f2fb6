"""What every provisioning method's step gets, and the bundle part it deploys.

Job: `StepInput` bundles the runtime, the job, the deployment record, the resource (`Subject`) and the
progress saved by earlier steps, with what every provisioner does with them (save the progress, settle,
fail with the status that fits the operation, measure the wait against a deadline); `bundle_part` gives
the manifest description and the files of the subject's part (`infrastructure/`,
`instance_infrastructure/`, `pipeline_infrastructure/`) of a template version, read and unpacked once
per process; `tell` adds a line to the deployment's story.

Invariants: the time a provisioner started waiting (`progress["waiting_since"]`) is saved the first time
it is asked for, so a deadline counts from the provisioner's first step, never from a retry's; a registered
version's bundle never changes, so the cache is keyed by the version row's id
and creation time (a later version that reuses a deleted row id is told apart); the version of a DELETE
deployment is the resource's current one, of any other deployment its target version.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from baryon.bundles.load import load_bundle
from baryon.domain.deployments import DELETE, DELETE_FAILED, FAILED
from baryon.domain.outcomes import Done, Outcome
from baryon.engine.settle import Finish, finish, save, target_of
from baryon.engine.subjects import Subject
from baryon.render.errors import RenderError
from baryon.runtime import Runtime
from baryon.store import run_logs
from baryon.store.jobs import Job
from baryon.store.schema import template_versions

V = template_versions.c


@dataclass(frozen=True)
class BundlePart:
    """A part of a template version: its manifest description and its files by path in the part folder."""

    name: str
    info: dict[str, Any]
    files: dict[str, bytes]

    @property
    def engine(self) -> str:
        return str(self.info.get("rendering_engine", "jinja"))


WAITING_SINCE = "waiting_since"


def failure_status(record: Any) -> str:
    """How a deployment that failed ends: DELETE_FAILED for a deletion, else FAILED."""
    return DELETE_FAILED if record.operation == DELETE else FAILED


@dataclass
class StepInput:
    runtime: Runtime
    job: Job
    record: Any
    subject: Subject
    progress: dict[str, Any]
    #: No worker ever ran a step of this deployment before (no call with its token can have been made).
    fresh: bool = False
    #: The bundle part, when the job has read it already for this step.
    part: BundlePart | None = None

    @property
    def deleting(self) -> bool:
        return bool(self.record.operation == DELETE)

    def save(self) -> None:
        """Persist the progress on the deployment record before the next action."""
        save(self.runtime, self.record, self.progress)

    def tell(self, message: str, source: str = run_logs.BARYON, at: float | None = None) -> None:
        """Add a line to the deployment's story (`baryon logs`), in a transaction of its own."""
        now = self.runtime.clock.now()
        with self.runtime.database.write() as connection:
            run_logs.note(connection, self.record.id, source, message, now=now, at=at)

    def finish(self, outcome: Finish) -> Outcome:
        """Settle the deployment (in a transaction of its own) and end the job."""
        finish(self.runtime, self.record, self.subject, outcome, self.progress)
        return Done()

    def fail(self, message: str) -> Outcome:
        """Settle the deployment FAILED (DELETE_FAILED for a deletion) with `message`."""
        return self.finish(Finish(failure_status(self.record), message))

    def inputs(self) -> dict[str, Any]:
        """The inputs the deployment deploys with: its target state's, else the resource's own."""
        inputs: dict[str, Any] | None = target_of(self.record).get("inputs")
        return inputs if inputs is not None else dict(orjson.loads(self.subject.row.inputs))

    def waited(self) -> float:
        """Seconds since the provisioner first asked (the first call starts the count and saves it)."""
        now = self.runtime.clock.now()
        since = self.progress.get(WAITING_SINCE)
        if since is None:
            self.progress[WAITING_SINCE] = now
            self.save()
            return 0.0
        return max(0.0, now - float(since))


_PARTS: dict[tuple[int, float, str], BundlePart] = {}
_PARTS_MAX = 128
_LOCK = threading.Lock()


def version_of(record: Any, subject: Subject) -> tuple[int, int]:
    """The template version a deployment uses: the target's, or the resource's own for a deletion."""
    if record.operation == DELETE:
        return int(subject.row.template_major), int(subject.row.template_minor)
    target = target_of(record)
    return int(target["templateMajorVersion"]), int(target["templateMinorVersion"])


def bundle_part(runtime: Runtime, subject: Subject, major: int, minor: int) -> BundlePart:
    """The subject's part of version major.minor; RenderError when the version is gone."""
    with runtime.database.read() as connection:
        identity = connection.execute(
            sa.select(V.id, V.created_at).where(
                V.template_id == subject.template_id,
                V.major == major,
                V.minor == minor,
                V.bundle.is_not(None),
            )
        ).first()
        if identity is None:
            raise RenderError(
                "the template version is no longer available",
                file_name=f"{subject.template_name} {major}.{minor}",
            )
        key = (int(identity.id), float(identity.created_at), subject.part)
        cached = _PARTS.get(key)
        if cached is not None:
            return cached
        version = connection.execute(sa.select(V.bundle, V.bundle_info).where(V.id == identity.id)).one()
    parts = orjson.loads(version.bundle_info or "{}").get("parts", {})
    bundle = load_bundle(
        version.bundle,
        kind=subject.template_kind,
        has_pipeline=subject.part == "pipeline_infrastructure" or "pipeline_infrastructure" in parts,
    )
    prefix = f"{subject.part}/"
    found = BundlePart(
        name=subject.part,
        info=bundle.parts[subject.part],
        files={path[len(prefix) :]: data for path, data in bundle.files.items() if path.startswith(prefix)},
    )
    with _LOCK:
        if len(_PARTS) >= _PARTS_MAX:
            _PARTS.pop(next(iter(_PARTS)))
        _PARTS[key] = found
    return found
