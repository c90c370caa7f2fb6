"""What every provisioning method's step gets, and the bundle part it deploys.

Job: `StepInput` bundles the runtime, the job, the deployment record, the resource (`Subject`) and the
progress saved by earlier steps; `bundle_part` gives the manifest description and the files of the
subject's part (`infrastructure/`, `instance_infrastructure/`, `pipeline_infrastructure/`) of a
template version, read and unpacked once per process.

Invariants: a registered version's bundle never changes, so the cache is keyed by the version row's id
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
from baryon.domain.deployments import DELETE
from baryon.engine.jobs import Job
from baryon.engine.settle import target_of
from baryon.engine.subjects import Subject
from baryon.render.errors import RenderError
from baryon.runtime import Runtime
from baryon.store.schema import template_versions

V = template_versions.c


@dataclass
class StepInput:
    runtime: Runtime
    job: Job
    record: Any
    subject: Subject
    progress: dict[str, Any]


@dataclass(frozen=True)
class BundlePart:
    """A part of a template version: its manifest description and its files by path in the part folder."""

    name: str
    info: dict[str, Any]
    files: dict[str, bytes]

    @property
    def engine(self) -> str:
        return str(self.info.get("rendering_engine", "jinja"))


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


def part_engine(runtime: Runtime, subject: Subject, major: int, minor: int) -> str:
    """The rendering engine of the subject's part ("jinja", "hcl" or "codebuild")."""
    return bundle_part(runtime, subject, major, minor).engine
