"""Turning a template bundle archive into a validated `BundleInfo`.

`load_bundle` runs the checks in a fixed order and stops at the first failure, so an author
fixing one message at a time converges: archive (size, format, members) → layout (bundle root,
required and forbidden folders) → per-file sizes → schema → each manifest → the number of
template files referenced.

Invariants of a returned `BundleInfo`:
- ``files`` holds every regular file of the bundle (bytes, text or not), keyed by normalised
  POSIX path relative to the bundle root (the folder holding ``schema/``); ``__MACOSX/`` and
  ``.DS_Store`` entries and entries outside a wrapping folder are not included;
- ``schema_text`` is ``schema/schema.yaml`` decoded as UTF-8 (a leading byte-order mark dropped)
  and ``schema`` is its parsed form, already validated for the template's kind;
- ``parts`` has one entry per infrastructure folder the kind requires, each as described by
  `baryon.bundles.manifest.parse_manifest`; a customer-managed environment has none;
- nothing was written to the filesystem while loading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from baryon.bundles.compat import check_minor_compatible
from baryon.bundles.errors import BundleError
from baryon.bundles.extract import read_archive
from baryon.bundles.layout import KINDS, SCHEMA_PATH, check_sizes, lay_out
from baryon.bundles.limits import Limits
from baryon.bundles.manifest import parse_manifest
from baryon.bundles.schema import validate_schema
from baryon.bundles.yamldoc import decode_text, load_mapping

__all__ = ["BundleInfo", "check_minor_compatible", "load_bundle"]


@dataclass(frozen=True)
class BundleInfo:
    """A bundle that passed every check."""

    schema_text: str  # schema/schema.yaml verbatim
    schema: dict[str, Any]  # parsed schema.yaml
    # Per infrastructure folder: rendering_engine, template_language, files (+ settings for codebuild).
    parts: dict[str, dict[str, Any]]
    files: dict[str, bytes]  # every regular file, keyed by its path relative to the bundle root


def load_bundle(
    archive: bytes,
    *,
    kind: str,
    customer_managed: bool = False,
    has_pipeline: bool = False,
    limits: Limits = Limits(),  # noqa: B008 - Limits is frozen, sharing the default is safe
) -> BundleInfo:
    """Validate a ``.tar.gz`` template bundle and describe it; raise BundleError if it is unusable.

    `kind` is ``ENVIRONMENT`` or ``SERVICE``. `customer_managed` applies to environment templates
    whose provisioning is CUSTOMER_MANAGED; `has_pipeline` applies to service templates (True
    unless pipelineProvisioning is CUSTOMER_MANAGED).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    customer_managed = customer_managed and kind == "ENVIRONMENT"
    has_pipeline = has_pipeline and kind == "SERVICE"
    layout = lay_out(
        read_archive(archive, limits), kind=kind, customer_managed=customer_managed, has_pipeline=has_pipeline
    )
    check_sizes(layout, limits)

    schema_bytes = layout.files[SCHEMA_PATH]
    schema_text = decode_text(SCHEMA_PATH, schema_bytes)
    schema = load_mapping(SCHEMA_PATH, schema_bytes)
    validate_schema(schema, kind=kind, customer_managed=customer_managed, has_pipeline=has_pipeline)

    parts = {part: parse_manifest(part, layout.files) for part in layout.parts}
    counts = {part: len(info["files"]) for part, info in parts.items() if info["files"]}
    total = sum(counts.values())
    if total > limits.template_files:
        detail = ", ".join(f"{part}/: {count}" for part, count in counts.items())
        raise BundleError(
            f"The manifests reference {total} template files ({detail}), more than {limits.template_files}, "
            "the limit for one bundle"
        )
    return BundleInfo(schema_text=schema_text, schema=schema, parts=parts, files=dict(layout.files))
