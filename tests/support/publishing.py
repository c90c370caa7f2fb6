"""Publishing template versions through the API, as a platform team does: upload the bundle to S3, register a
version, wait until it is registered, publish it.

Every helper returns the registered version as `Get…TemplateVersion` shows it after publishing. A
registration that fails makes the waiter fail with botocore's `WaiterError` naming the status.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.support.waiters import FAST

BUCKET = "bundles"


def upload(s3: Any, bundle: bytes) -> dict[str, dict[str, str]]:
    """Put `bundle` under a fresh key of the bundles bucket; return the `source` member naming it."""
    key = f"{uuid.uuid4().hex}.tar.gz"
    s3.put_object(Bucket=BUCKET, Key=key, Body=bundle)
    return {"s3": {"bucket": BUCKET, "key": key}}


def _registered_and_published(proton: Any, kind: str, name: str, created: dict[str, Any]) -> dict[str, Any]:
    """Wait until the `kind` ("environment" or "service") template version that `created` answered is
    registered, publish it, and return it as publishing answers."""
    member = f"{kind}TemplateVersion"
    number = {k: created[member][k] for k in ("majorVersion", "minorVersion")}
    waiter = proton.get_waiter(f"{kind}_template_version_registered")
    waiter.wait(templateName=name, **number, WaiterConfig=FAST)
    update = getattr(proton, f"update_{kind}_template_version")
    published = update(templateName=name, **number, status="PUBLISHED")
    return dict(published[member])


def publish_environment_version(
    proton: Any, s3: Any, name: str, bundle: bytes, **version: Any
) -> dict[str, Any]:
    """Register `bundle` as a new version of environment template `name` and publish it."""
    created = proton.create_environment_template_version(
        templateName=name, source=upload(s3, bundle), **version
    )
    return _registered_and_published(proton, "environment", name, created)


def publish_service_version(
    proton: Any, s3: Any, name: str, bundle: bytes, compatible: str = "vpc-env", **version: Any
) -> dict[str, Any]:
    """Register `bundle` as a new version of service template `name`, compatible with major version 1 of
    environment template `compatible`, and publish it."""
    created = proton.create_service_template_version(
        templateName=name,
        compatibleEnvironmentTemplates=[{"templateName": compatible, "majorVersion": "1"}],
        source=upload(s3, bundle),
        **version,
    )
    return _registered_and_published(proton, "service", name, created)


def publish_environment_template(
    proton: Any, s3: Any, name: str, bundle: bytes, **template: Any
) -> dict[str, Any]:
    """Create environment template `name` (with `template`'s members) and publish `bundle` as its 1.0."""
    proton.create_environment_template(name=name, **template)
    return publish_environment_version(proton, s3, name, bundle)


def publish_service_template(
    proton: Any,
    s3: Any,
    name: str,
    bundle: bytes,
    *,
    compatible: str = "vpc-env",
    pipeline: bool = True,
    version: dict[str, Any] | None = None,
    **template: Any,
) -> dict[str, Any]:
    """Create service template `name` (with a customer-managed pipeline unless `pipeline`) and publish
    `bundle` as its 1.0 (with `version`'s members), compatible with environment template `compatible`."""
    if not pipeline:
        template.setdefault("pipelineProvisioning", "CUSTOMER_MANAGED")
    proton.create_service_template(name=name, **template)
    return publish_service_version(proton, s3, name, bundle, compatible, **(version or {}))
