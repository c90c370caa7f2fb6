"""The registration job of a template version: fetch the bundle from S3, validate it, record the result.

A version whose bundle is already held in its row when it is created (template sync builds it from a git
tree) is registered from those bytes instead of from S3, by the same checks (`register`, which template
sync also calls inline so that a commit's versions are registered in order).

Invariants: the step is idempotent — it acts only while the version is REGISTRATION_IN_PROGRESS and not
deleted, and its final write is conditional on that; every failure the author can fix ends in
REGISTRATION_FAILED with a message naming the problem; transient S3 trouble is retried by policy and,
when retries run out, fails the registration with the last reason.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
import sqlalchemy as sa
from botocore.exceptions import BotoCoreError, ClientError

from baryon.bundles.errors import BundleError
from baryon.bundles.limits import Limits
from baryon.bundles.load import check_minor_compatible, load_bundle
from baryon.domain import jobs as job_kinds
from baryon.domain.outcomes import Done, Failed, Outcome, Retry
from baryon.domain.versions import DRAFT, PUBLISHED, REGISTRATION_FAILED, REGISTRATION_IN_PROGRESS
from baryon.engine import aws
from baryon.events import outbox
from baryon.runtime import Runtime
from baryon.store.jobs import Job
from baryon.store.schema import template_versions, templates

log = logging.getLogger("baryon.engine.registration")
JOB_KIND = job_kinds.REGISTER_TEMPLATE_VERSION
V = template_versions.c
T = templates.c
_PERMANENT_S3 = {
    "NoSuchKey",
    "NoSuchBucket",
    "AccessDenied",
    "403",
    "404",
    "InvalidObjectState",
    "InvalidBucketName",
}


def _load(runtime: Runtime, version_id: int) -> Any:
    with runtime.database.read() as connection:
        return connection.execute(
            sa.select(
                V.id,
                V.template_id,
                V.major,
                V.minor,
                V.status,
                V.deleted_at,
                V.source_bucket,
                V.source_key,
                V.bundle,
                T.kind,
                T.region,
                T.provisioning,
            )
            .join(templates, T.id == V.template_id)
            .where(V.id == version_id)
        ).first()


def _previous_schema(runtime: Runtime, row: Any) -> tuple[str, dict[str, Any]] | None:
    """Schema of the highest registered earlier minor of the same major, if any."""
    with runtime.database.read() as connection:
        previous = connection.execute(
            sa.select(V.minor, V.bundle_info)
            .where(
                V.template_id == row.template_id,
                V.major == row.major,
                V.minor < row.minor,
                V.deleted_at.is_(None),
                V.status.in_([DRAFT, PUBLISHED]),
            )
            .order_by(V.minor.desc())
            .limit(1)
        ).first()
    if previous is None or not previous.bundle_info:
        return None
    info = orjson.loads(previous.bundle_info)
    return f"{row.major}.{previous.minor}", info["schema"]


def _fetch(row: Any, limits: Limits) -> bytes | str:
    """The bundle bytes, or a message saying why it cannot be fetched (raises for transient trouble)."""
    s3 = aws.client("s3", row.region)
    where = f"s3://{row.source_bucket}/{row.source_key}"
    try:
        response = s3.get_object(Bucket=row.source_bucket, Key=row.source_key)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in _PERMANENT_S3:
            message = error.response.get("Error", {}).get("Message") or code
            return f"Unable to fetch the template bundle {where}: {code}: {message}"
        raise
    size = int(response.get("ContentLength") or 0)
    if size > limits.bundle_bytes:
        response["Body"].close()
        return (
            f"The template bundle {where} is {size} bytes; "
            f"a bundle can be at most {limits.bundle_bytes} bytes."
        )
    data: bytes = response["Body"].read(limits.bundle_bytes + 1)
    return data


def _finish(runtime: Runtime, version_id: int, values: dict[str, Any]) -> None:
    """Record the registration's outcome, and its event, unless the version left REGISTRATION_IN_PROGRESS."""
    now = runtime.clock.now()
    with runtime.database.write() as connection:
        changed = connection.execute(
            sa.update(template_versions)
            .where(V.id == version_id, V.status == REGISTRATION_IN_PROGRESS, V.deleted_at.is_(None))
            .values(last_modified_at=now, **values)
        ).rowcount
        if changed:
            outbox.template_version_changed(
                connection,
                version_id,
                previous=REGISTRATION_IN_PROGRESS,
                status=values["status"],
                message=values.get("status_message"),
                now=now,
            )


def fail(runtime: Runtime, job: Job, message: str) -> None:
    """Mark the version REGISTRATION_FAILED (used when retries run out)."""
    _finish(
        runtime,
        int(job.payload["version_id"]),
        {"status": REGISTRATION_FAILED, "status_message": message, "bundle": None},
    )


def step(runtime: Runtime, job: Job) -> Outcome:
    version_id = int(job.payload["version_id"])
    row = _load(runtime, version_id)
    if row is None or row.deleted_at is not None or row.status != REGISTRATION_IN_PROGRESS:
        return Done("the version is no longer waiting for registration")
    if row.bundle is not None:
        problem = register(runtime, version_id)
        return Done() if problem is None else Failed(problem)
    limits = Limits()
    try:
        fetched = _fetch(row, limits)
    except (ClientError, BotoCoreError) as error:
        return Retry(
            f"Unable to fetch the template bundle s3://{row.source_bucket}/{row.source_key}: {error}"
        )
    problem = _validate(runtime, version_id, row, fetched, limits)
    return Done() if problem is None else Failed(problem)


def register(runtime: Runtime, version_id: int) -> str | None:
    """Register a REGISTRATION_IN_PROGRESS version from the bundle held in its row: DRAFT, or
    REGISTRATION_FAILED with the reason, which is returned (None on success; also None when the version is
    no longer waiting for registration)."""
    row = _load(runtime, version_id)
    if row is None or row.deleted_at is not None or row.status != REGISTRATION_IN_PROGRESS:
        return None
    if row.bundle is None:
        return "the version holds no bundle to register"
    limits = Limits()
    data: bytes = bytes(row.bundle)
    if len(data) > limits.bundle_bytes:
        return _validate(
            runtime,
            version_id,
            row,
            f"The template bundle is {len(data)} bytes; a bundle can be at most {limits.bundle_bytes} bytes.",
            limits,
        )
    return _validate(runtime, version_id, row, data, limits)


def _validate(
    runtime: Runtime, version_id: int, row: Any, fetched: bytes | str, limits: Limits
) -> str | None:
    """Check the bundle and record DRAFT or REGISTRATION_FAILED; the failure's message, else None."""
    try:
        if isinstance(fetched, str):
            raise BundleError(fetched)
        info = load_bundle(
            fetched,
            kind=row.kind,
            customer_managed=row.kind == "ENVIRONMENT" and row.provisioning == "CUSTOMER_MANAGED",
            has_pipeline=row.kind == "SERVICE" and row.provisioning != "CUSTOMER_MANAGED",
            limits=limits,
        )
        previous = _previous_schema(runtime, row)
        if previous is not None:
            check_minor_compatible(previous[1], info.schema, kind=row.kind, previous_version=previous[0])
    except BundleError as error:
        _finish(
            runtime, version_id, {"status": REGISTRATION_FAILED, "status_message": str(error), "bundle": None}
        )
        return str(error)
    _finish(
        runtime,
        version_id,
        {
            "status": DRAFT,
            "status_message": None,
            "schema_text": info.schema_text,
            "bundle": fetched,
            "bundle_info": orjson.dumps({"schema": info.schema, "parts": info.parts}).decode(),
        },
    )
    return None
