"""Where the bundle sits inside an archive, which folders it must have, and per-file size limits.

Invariants:
- The bundle root is the archive root when it holds ``schema/schema.yaml``, otherwise the one
  top-level folder that holds ``<folder>/schema/schema.yaml``, otherwise the one folder two levels
  down (``<template>/<vN>/schema/schema.yaml``). Entries outside that folder are not part of the
  bundle and are ignored.
- Paths in `Layout` and in every message are relative to the bundle root, so an archive built
  with or without a wrapping folder reads and fails the same way.
- `Layout.parts` lists, in a fixed order, the infrastructure folders the bundle has and whose
  ``manifest.yaml`` exists: ``infrastructure`` (environment), ``instance_infrastructure`` then
  ``pipeline_infrastructure`` (service). Customer-managed environments have none.
- Size limits are applied by role: ``schema/schema.yaml`` against the schema limit, the manifest
  of each part against the manifest limit, every other file against the file limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from baryon.bundles.errors import BundleError
from baryon.bundles.extract import Archive
from baryon.bundles.limits import Limits, describe_size

SCHEMA_PATH = "schema/schema.yaml"
ENVIRONMENT_PART = "infrastructure"
INSTANCE_PART = "instance_infrastructure"
PIPELINE_PART = "pipeline_infrastructure"
KINDS = ("ENVIRONMENT", "SERVICE")
_MAX_LISTED = 10


@dataclass(frozen=True)
class Layout:
    """A bundle located inside its archive, with paths relative to the bundle root."""

    root: str  # "" or the name of the wrapping folder
    files: dict[str, bytes]
    dirs: frozenset[str]
    oversize: frozenset[str]
    parts: tuple[str, ...]

    def has(self, path: str) -> bool:
        """True when `path` is a regular file of the bundle (of any size)."""
        return path in self.files or path in self.oversize

    def top_level(self) -> list[str]:
        """Names at the bundle root, folders with a trailing slash, sorted."""
        names = {path.split("/", 1)[0] + ("/" if "/" in path else "") for path in self.files}
        names |= {path.split("/", 1)[0] + ("/" if "/" in path else "") for path in self.oversize}
        names |= {path.split("/", 1)[0] + "/" for path in self.dirs}
        return sorted(names)


def manifest_path(part: str) -> str:
    return f"{part}/manifest.yaml"


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:_MAX_LISTED])
    if len(names) > _MAX_LISTED:
        shown += f", and {len(names) - _MAX_LISTED} more"
    return shown


def _find_root(archive: Archive) -> str:
    every = set(archive.files) | archive.oversize
    if SCHEMA_PATH in every:
        return ""
    candidates = sorted(
        path.split("/", 1)[0] for path in every if path.count("/") == 2 and path.endswith("/" + SCHEMA_PATH)
    )
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        # Sample READMEs also pack a template folder that holds one version folder
        # (`tar -czf env.tar.gz my-env/`, my-env/v1/schema/...): accept one bundle two levels down.
        nested = sorted(
            path[: -len("/" + SCHEMA_PATH)]
            for path in every
            if path.count("/") == 3 and path.endswith("/" + SCHEMA_PATH)
        )
        if len(nested) == 1:
            return nested[0]
    if len(candidates) > 1:
        folders = ", ".join(name + "/" for name in candidates)
        raise BundleError(
            f"schema/schema.yaml found in more than one top-level folder ({folders}); "
            "a template bundle archive holds exactly one bundle"
        )
    top = Layout("", archive.files, frozenset(archive.dirs), frozenset(archive.oversize), ()).top_level()
    where = f"top level of the archive: {_listing(top)}" if top else "the archive is empty"
    message = (
        "schema/schema.yaml not found: the archive must hold schema/schema.yaml at its root "
        f"or inside a single top-level folder ({where})"
    )
    misnamed = sorted(path for path in every if path.endswith("schema/schema.yml"))
    if misnamed:
        message += f"; found {misnamed[0]}, which must be named schema.yaml"
    raise BundleError(message)


def _relative(archive: Archive, root: str) -> tuple[dict[str, bytes], frozenset[str], frozenset[str]]:
    if not root:
        return dict(archive.files), frozenset(archive.dirs), frozenset(archive.oversize)
    prefix = root + "/"
    n = len(prefix)
    files = {path[n:]: data for path, data in archive.files.items() if path.startswith(prefix)}
    dirs = frozenset(path[n:] for path in archive.dirs if path.startswith(prefix))
    oversize = frozenset(path[n:] for path in archive.oversize if path.startswith(prefix))
    return files, dirs, oversize


def _environment_parts(layout: Layout, customer_managed: bool) -> tuple[str, ...]:
    if customer_managed:
        for name in layout.top_level():
            if name != "schema/":
                raise BundleError(
                    f"{name} is not allowed in a customer-managed environment template bundle; "
                    "such a bundle holds only schema/schema.yaml"
                )
        return ()
    manifest = manifest_path(ENVIRONMENT_PART)
    if not layout.has(manifest):
        message = (
            f"{manifest} not found: an environment template bundle needs {manifest} beside schema/schema.yaml"
        )
        if INSTANCE_PART in layout.dirs or PIPELINE_PART in layout.dirs:
            message += f"; {INSTANCE_PART}/ and {PIPELINE_PART}/ belong to service template bundles"
        raise BundleError(message)
    return (ENVIRONMENT_PART,)


def _service_parts(layout: Layout, has_pipeline: bool) -> tuple[str, ...]:
    if "pipeline" in layout.dirs:
        if has_pipeline:
            raise BundleError(
                f"pipeline/ is the legacy folder name for a service pipeline; use {PIPELINE_PART}/ "
                f"(and {INSTANCE_PART}/ for service instances)"
            )
        raise BundleError(
            "pipeline/ is the legacy folder name for a service pipeline, and this service template has "
            "no pipeline (pipelineProvisioning is CUSTOMER_MANAGED); remove the folder"
        )
    if ENVIRONMENT_PART in layout.dirs:
        raise BundleError(
            f"{ENVIRONMENT_PART}/ is not used in a service template bundle (it is the legacy folder "
            f"name for service instances); use {INSTANCE_PART}/ for service instances"
            + (f" and {PIPELINE_PART}/ for the pipeline" if has_pipeline else "")
        )
    instance_manifest = manifest_path(INSTANCE_PART)
    if not layout.has(instance_manifest):
        raise BundleError(
            f"{instance_manifest} not found: a service template bundle needs "
            f"{instance_manifest} beside schema/schema.yaml"
        )
    pipeline_manifest = manifest_path(PIPELINE_PART)
    if not has_pipeline:
        if PIPELINE_PART in layout.dirs or layout.has(PIPELINE_PART):
            raise BundleError(
                f"{PIPELINE_PART}/ is not allowed: this service template has no pipeline "
                "(pipelineProvisioning is CUSTOMER_MANAGED)"
            )
        return (INSTANCE_PART,)
    if not layout.has(pipeline_manifest):
        raise BundleError(
            f"{pipeline_manifest} not found: this service template has a pipeline, so its bundle needs "
            f"{pipeline_manifest} (a template without a pipeline is created with "
            "pipelineProvisioning CUSTOMER_MANAGED)"
        )
    return (INSTANCE_PART, PIPELINE_PART)


def lay_out(archive: Archive, *, kind: str, customer_managed: bool, has_pipeline: bool) -> Layout:
    """Locate the bundle root and check the folders the bundle's kind requires and forbids."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    root = _find_root(archive)
    files, dirs, oversize = _relative(archive, root)
    layout = Layout(root, files, dirs, oversize, ())
    if kind == "ENVIRONMENT":
        parts = _environment_parts(layout, customer_managed)
    else:
        parts = _service_parts(layout, has_pipeline)
    return Layout(root, files, dirs, oversize, parts)


def check_sizes(layout: Layout, limits: Limits) -> None:
    """Apply the per-file size limit of each file's role; schema first, then manifests, then the rest."""
    manifests = [manifest_path(part) for part in layout.parts]
    ordered = [SCHEMA_PATH, *manifests]
    ordered += sorted((set(layout.files) | layout.oversize) - set(ordered))
    for path in ordered:
        if path == SCHEMA_PATH:
            limit, what = limits.schema_bytes, "the schema file"
        elif path in manifests:
            limit, what = limits.manifest_bytes, "a manifest file"
        else:
            limit, what = limits.file_bytes, "a file in a template bundle"
        too_big = path in layout.oversize or len(layout.files.get(path, b"")) > limit
        if too_big:
            raise BundleError(f"{path} is larger than {describe_size(limit)}, the limit for {what}")
