"""A bundle whose YAML is too deep, too large or holds a number no one can use fails its registration at
once and for good, naming the file, without retries or tracebacks in the log."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from botocore.exceptions import WaiterError

from baryon.runtime import Runtime
from baryon.store.schema import jobs
from tests.support import bundles

FAST = {"Delay": 1, "MaxAttempts": 60}
DEEP = "[" * 20_000 + "]" * 20_000
HUGE = "9" * 5_000
TOO_DEEP = "is nested more than 64 levels deep (or a YAML alias refers to itself)"
TOO_LARGE = (
    "is too large: it expands to more than 200000 values (YAML aliases and merge keys count as copies)"
)
MERGE_BOMB = "".join(
    f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}, *m{i - 1}, *m{i - 1}], k{i}: {i}}}\n" for i in range(1, 40)
)
SCHEMA_LINES = bundles.ENV_SCHEMA.count("\n")
MANIFEST_LINES = bundles.CFN_MANIFEST.count("\n")


def _bundle(schema: str = bundles.ENV_SCHEMA, manifest: str = bundles.CFN_MANIFEST) -> bytes:
    return bundles.tar_gz(
        {
            "schema/schema.yaml": schema,
            "infrastructure/manifest.yaml": manifest,
            "infrastructure/cloudformation.yaml": bundles.CFN_ENV,
        }
    )


CASES = [
    (_bundle(schema=bundles.ENV_SCHEMA + "x-deep: " + DEEP + "\n"), f"schema/schema.yaml {TOO_DEEP}"),
    (
        _bundle(schema=bundles.ENV_SCHEMA + "x-huge: " + HUGE + "\n"),
        f"schema/schema.yaml: line {SCHEMA_LINES + 1}, column 9: integers must fit in 64 bits; "
        "quote the value if it is text",
    ),
    (
        _bundle(schema=bundles.ENV_SCHEMA + "m0: &m0 {a: 1}\n" + MERGE_BOMB),
        f"schema/schema.yaml {TOO_LARGE}",
    ),
    (
        _bundle(manifest=bundles.CFN_MANIFEST + "x-deep: " + DEEP + "\n"),
        f"infrastructure/manifest.yaml {TOO_DEEP}",
    ),
    (
        _bundle(manifest=bundles.CFN_MANIFEST + "x-huge: -" + HUGE + "\n"),
        f"infrastructure/manifest.yaml: line {MANIFEST_LINES + 1}, column 9: integers must fit in 64 bits; "
        "quote the value if it is text",
    ),
    (
        _bundle(manifest=bundles.CFN_MANIFEST + "x-float: 1" + HUGE + ".5\n"),
        f"infrastructure/manifest.yaml: line {MANIFEST_LINES + 1}, column 10: '1{HUGE}.5' is not a finite "
        "number; quote the value if it is text",
    ),
]


@pytest.mark.parametrize(
    ("archive", "message"), CASES, ids=["deep", "huge", "merge", "m-deep", "m-huge", "m-inf"]
)
def test_a_bad_bundle_fails_registration_at_once_naming_the_file(
    proton: Any,
    s3: Any,
    worker: Any,
    runtime: Runtime,
    caplog: pytest.LogCaptureFixture,
    archive: bytes,
    message: str,
) -> None:
    caplog.set_level(logging.INFO, logger="baryon")
    proton.create_environment_template(name="env")
    key = f"{uuid.uuid4().hex}.tar.gz"
    s3.put_object(Bucket="bundles", Key=key, Body=archive)
    proton.create_environment_template_version(
        templateName="env", source={"s3": {"bucket": "bundles", "key": key}}
    )
    with pytest.raises(WaiterError, match="REGISTRATION_FAILED"):
        proton.get_waiter("environment_template_version_registered").wait(
            templateName="env", majorVersion="1", minorVersion="0", WaiterConfig=FAST
        )
    version = proton.get_environment_template_version(templateName="env", majorVersion="1", minorVersion="0")
    assert version["environmentTemplateVersion"]["status"] == "REGISTRATION_FAILED"
    assert version["environmentTemplateVersion"]["statusMessage"] == message
    with runtime.database.read() as connection:
        job = connection.execute(
            sa.select(jobs.c.state, jobs.c.attempts, jobs.c.outcome_message).where(
                jobs.c.kind == "register-template-version"
            )
        ).one()
    assert (job.state, job.attempts, job.outcome_message) == ("failed", 0, message)
    assert [record.getMessage() for record in caplog.records if record.exc_info] == []
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR] == []
