"""The bundle tests' names for the building blocks of the one bundle kit, `tests.support.bundles`."""

from __future__ import annotations

from tests.support.bundles import (
    CFN_MANIFEST,
    CFN_TEMPLATE,
    CUSTOMER_MANAGED_SCHEMA,
    SERVICE_SCHEMA_NO_PIPELINE,
    TF_NAMED_MANIFEST,
    TF_STAR_MANIFEST,
    Entry,
    bundle,
    cfn_environment,
    encoded,
    manifest_entry,
    service,
    targz,
)
from tests.support.bundles import LOADER_CODEBUILD_MANIFEST as CODEBUILD_MANIFEST
from tests.support.bundles import LOADER_ENV_SCHEMA as ENV_SCHEMA
from tests.support.bundles import LOADER_SERVICE_SCHEMA as SERVICE_SCHEMA

__all__ = [
    "CFN_MANIFEST",
    "CFN_TEMPLATE",
    "CODEBUILD_MANIFEST",
    "CUSTOMER_MANAGED_SCHEMA",
    "ENV_SCHEMA",
    "SERVICE_SCHEMA",
    "SERVICE_SCHEMA_NO_PIPELINE",
    "TF_NAMED_MANIFEST",
    "TF_STAR_MANIFEST",
    "Entry",
    "bundle",
    "cfn_environment",
    "encoded",
    "manifest_entry",
    "service",
    "targz",
]
