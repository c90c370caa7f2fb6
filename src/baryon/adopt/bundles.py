"""Registering the template bundles a team kept (`--bundles DIR`) before adopting what runs them.

Job: `DIR/<template>/v<major>/…` is laid out as Proton's template sync reads a repository (reference
§2.2, §2.5, §6.1). Each `v<major>` folder is one major version of `<template>`: an environment template
when it holds `infrastructure/`, a service template when it holds `instance_infrastructure/` (a service
template without `pipeline_infrastructure/` has a customer-managed pipeline); a service template folder
names its compatible environment templates in `.template-registration.yaml` or `.compatible-envs`, read by
template sync's own `compatibility_in`. The folder's regular files become a `.tar.gz` held in a new
version's row, registered by the same registration as CreateTemplateVersion and template sync
(`baryon.engine.registration.register`, which checks everything with the bundle loader), then published
through the UpdateTemplateVersion handler; a missing template is created through its Create handler.

Invariants: the folders are hostile like a repository: symbolic links, special files, oversized files
or too many files make a `BundleProblem` before anything is written; environment templates are
registered before service templates (which name them); registering the same folder again registers
nothing (a live version of that major holding the same archive is reused, and published if it is not);
a failed registration stops with the reason, leaving the versions registered before it.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import stat
import tarfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from baryon.bundles.limits import Limits, describe_size
from baryon.domain import jobs as job_kinds
from baryon.domain.versions import DRAFT, PUBLISHED, REGISTRATION_IN_PROGRESS
from baryon.engine import registration
from baryon.events import outbox
from baryon.protocol.errors import ServiceError
from baryon.store import jobs
from baryon.store import quotas as quota_store
from baryon.store import templates as template_store
from baryon.store.schema import template_versions
from baryon.sync.template_sync import FALLBACK_REGISTRATION_DELAY, SyncProblem, compatibility_in

if TYPE_CHECKING:
    from baryon.runtime import Runtime

_NAME = re.compile(r"[0-9A-Za-z][0-9A-Za-z_\-]{0,99}")
_MAJOR = re.compile(r"v([1-9][0-9]{0,5})")
ENVIRONMENT = "ENVIRONMENT"
SERVICE = "SERVICE"
#: The principal the adoption's requests carry in records.
PRINCIPAL = "baryon-adopt"


class BundleProblem(Exception):
    """A bundle folder that cannot be registered (the message says which and why)."""


@dataclass(frozen=True)
class Bundle:
    kind: str
    name: str
    major: int
    folder: Path
    #: The minor number to register it as (`baryon import` keeps the exported numbers); None: the next.
    minor: int | None = None
    #: PUBLISHED (published once registered) or DRAFT (left a draft), and the version's description.
    status: str = PUBLISHED
    description: str | None = None


def _kind(folder: Path) -> str:
    if (folder / "infrastructure").is_dir():
        return ENVIRONMENT
    if (folder / "instance_infrastructure").is_dir():
        return SERVICE
    raise BundleProblem(
        f"{folder} holds neither infrastructure/ (an environment template) nor instance_infrastructure/ "
        "(a service template)."
    )


def find_bundles(root: Path) -> list[Bundle]:
    """The `<template>/v<major>` folders of `root`, environment templates first."""
    found: list[Bundle] = []
    for template in sorted(root.iterdir()):
        if template.name.startswith(".") or not template.is_dir() or template.is_symlink():
            continue
        if not _NAME.fullmatch(template.name):
            raise BundleProblem(f"{template} is not named as a template (letters, digits, - and _).")
        for folder in sorted(template.iterdir()):
            match = _MAJOR.fullmatch(folder.name)
            if match is None or not folder.is_dir() or folder.is_symlink():
                continue
            found.append(Bundle(_kind(folder), template.name, int(match.group(1)), folder))
    if not found:
        raise BundleProblem(f"{root} holds no <template>/v<major> folder.")
    return sorted(found, key=lambda b: (b.kind != ENVIRONMENT, b.name, b.major))


def _files(folder: Path, limits: Limits) -> list[tuple[str, Path, int]]:
    found: list[tuple[str, Path, int]] = []
    for directory, subdirectories, names in os.walk(folder, followlinks=False):
        base = Path(directory)
        for name in subdirectories:
            if (base / name).is_symlink():
                raise BundleProblem(f"{base / name} is a symbolic link; a bundle holds only regular files.")
        for name in names:
            path = base / name
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                raise BundleProblem(f"{path} is a symbolic link; a bundle holds only regular files.")
            if not stat.S_ISREG(info.st_mode):
                raise BundleProblem(f"{path} is not a regular file; a bundle holds only regular files.")
            if info.st_size > limits.largest_file_bytes:
                raise BundleProblem(
                    f"{path} is {info.st_size} bytes; a file of a template bundle can be at most "
                    f"{describe_size(limits.largest_file_bytes)}."
                )
            found.append((path.relative_to(folder).as_posix(), path, info.st_size))
            if len(found) > limits.members:
                raise BundleProblem(f"{folder} holds more than {limits.members} files.")
    return sorted(found)


def archive(folder: Path, limits: Limits | None = None) -> bytes:
    """A `.tar.gz` of the folder's regular files, relative to it, the same for the same content."""
    limits = limits or Limits()
    files = _files(folder, limits)
    if sum(size for _, _, size in files) > limits.bundle_bytes:
        raise BundleProblem(f"{folder} holds more than {describe_size(limits.bundle_bytes)}.")
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for relative, path, _ in files:
            data = path.read_bytes()
            info = tarfile.TarInfo(relative)
            info.size = len(data)
            info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _reader(folder: Path) -> Any:
    def read(path: str, limit: int) -> bytes | None:
        full = folder.parent / path
        if full.is_symlink() or not full.is_file() or full.stat().st_size > limit:
            return None
        return full.read_bytes()

    return read


def _handler(name: str) -> Any:
    from baryon.api.registry import OPERATIONS, load_all

    load_all()
    return OPERATIONS[name].handler


def _context(runtime: Runtime, account_id: str, region: str, operation: str) -> Any:
    from baryon.api.registry import Context

    return Context(runtime, account_id, region, PRINCIPAL, str(uuid.uuid4()), operation)


def _call(runtime: Runtime, account_id: str, region: str, operation: str, params: dict[str, Any]) -> Any:
    ctx = _context(runtime, account_id, region, operation)
    with runtime.database.write() as connection:
        answer = _handler(operation)(ctx, params, connection)
    for callback in ctx.after_commit:
        callback()
    return answer


def _prefix(kind: str) -> str:
    return "Environment" if kind == ENVIRONMENT else "Service"


def _label(bundle: Bundle) -> str:
    what = "environment template" if bundle.kind == ENVIRONMENT else "service template"
    return f"{what} {bundle.name} major {bundle.major} ({bundle.folder})"


def _ensure_template(runtime: Runtime, account_id: str, region: str, bundle: Bundle) -> Any:
    with runtime.database.read() as connection:
        template = template_store.find_template(connection, account_id, region, bundle.kind, bundle.name)
    if template is not None:
        return template
    params: dict[str, Any] = {"name": bundle.name}
    if bundle.kind == SERVICE and not (bundle.folder / "pipeline_infrastructure").is_dir():
        params["pipelineProvisioning"] = "CUSTOMER_MANAGED"
    try:
        _call(runtime, account_id, region, f"Create{_prefix(bundle.kind)}Template", params)
    except ServiceError as error:
        raise BundleProblem(f"Creating the template of {_label(bundle)} failed: {error}") from None
    with runtime.database.read() as connection:
        return template_store.find_template(connection, account_id, region, bundle.kind, bundle.name)


def _same(connection: Connection, template_id: int, major: int, data: bytes, minor: int | None = None) -> Any:
    if minor is not None:
        row = template_store.find_version(connection, template_id, major, minor)
        return row if row is not None and row.status in (DRAFT, PUBLISHED) else None
    for row in reversed(template_store.live_versions(connection, template_id, major)):
        if row.bundle is not None and bytes(row.bundle) == data and row.status in (DRAFT, PUBLISHED):
            return row
    return None


def _insert(
    runtime: Runtime, connection: Connection, account_id: str, template: Any, bundle: Bundle, data: bytes
) -> tuple[int, int]:
    quota = quota_store.effective(connection, runtime.quotas, account_id, "versions_per_template")
    if quota is not None and template_store.count_live_versions(connection, template.id) >= quota:
        raise BundleProblem(f"{_label(bundle)}: the quota of {quota} versions per template is reached.")
    compatible: list[dict[str, str]] = []
    sources: list[str] | None = None
    if bundle.kind == SERVICE:
        directory = bundle.folder.name
        entries = {f"{directory}/{name}" for name in os.listdir(bundle.folder)}
        try:
            compatible, sources = compatibility_in(
                connection, account_id, template.region, directory, entries, _reader(bundle.folder)
            )
        except SyncProblem as problem:
            raise BundleProblem(f"{_label(bundle)}: {problem}") from None
    V = template_versions.c
    any_of_major = connection.execute(
        sa.select(V.id).where(V.template_id == template.id, V.major == bundle.major).limit(1)
    ).first()
    minor = 0
    if bundle.minor is not None:
        minor = bundle.minor
    elif any_of_major is not None:
        minor = template_store.next_number(connection, template.id, bundle.major)[1]
    now = runtime.clock.now()
    result = connection.execute(
        sa.insert(template_versions).values(
            template_id=template.id,
            major=bundle.major,
            minor=minor,
            status=REGISTRATION_IN_PROGRESS,
            description=bundle.description,
            compatible_environment_templates=_json(compatible) if bundle.kind == SERVICE else None,
            supported_component_sources=_json(sources) if sources is not None else None,
            source_bucket="",
            source_key=f"adopt:{bundle.folder}"[:1024],
            bundle=data,
            created_at=now,
            last_modified_at=now,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    version_id = int(key[0])
    outbox.template_version_changed(
        connection, version_id, previous=None, status=REGISTRATION_IN_PROGRESS, now=now
    )
    jobs.enqueue(
        connection,
        job_id=runtime.ids.uuid(),
        kind=job_kinds.REGISTER_TEMPLATE_VERSION,
        payload={"version_id": version_id},
        now=now + FALLBACK_REGISTRATION_DELAY,
        policy=job_kinds.REGISTRATION_POLICY,
    )
    return version_id, minor


def _json(value: Any) -> str:
    import orjson

    return orjson.dumps(value).decode()


def predict(
    runtime: Runtime, account_id: str, region: str, bundles: list[Bundle]
) -> dict[tuple[str, str], list[tuple[int, int]]]:
    """The versions `register_bundles` would register or reuse, without writing anything:
    (kind, template name) → [(major, minor)]."""
    found: dict[tuple[str, str], list[tuple[int, int]]] = {}
    with runtime.database.read() as connection:
        for bundle in bundles:
            data = archive(bundle.folder)
            minor = 0
            template = template_store.find_template(connection, account_id, region, bundle.kind, bundle.name)
            if bundle.minor is not None:
                minor = bundle.minor
            elif template is not None:
                row = _same(connection, template.id, bundle.major, data)
                if row is not None:
                    minor = int(row.minor)
                else:
                    minor = template_store.next_number(connection, template.id, bundle.major)[1]
            found.setdefault((bundle.kind, bundle.name), []).append((bundle.major, minor))
    return found


def register_bundles(runtime: Runtime, account_id: str, region: str, bundles: list[Bundle]) -> list[str]:
    """Register and publish each bundle (see the module invariants); the versions, as `name:M.m`."""
    done: list[str] = []
    for bundle in bundles:
        data = archive(bundle.folder)
        template = _ensure_template(runtime, account_id, region, bundle)
        with runtime.database.write() as connection:
            row = _same(connection, template.id, bundle.major, data, bundle.minor)
            if row is not None:
                version_id, minor, status = int(row.id), int(row.minor), row.status
            else:
                version_id, minor = _insert(runtime, connection, account_id, template, bundle, data)
                status = REGISTRATION_IN_PROGRESS
        if status == REGISTRATION_IN_PROGRESS:
            reason = registration.register(runtime, version_id)
            with runtime.database.read() as connection:
                registered = template_store.find_version(connection, template.id, bundle.major, minor)
            if registered is None or registered.status not in (DRAFT, PUBLISHED):
                why = reason or (registered.status_message if registered is not None else "it was deleted")
                raise BundleProblem(f"Registration of {_label(bundle)} failed: {why}")
            status = registered.status
        if status != PUBLISHED and bundle.status == PUBLISHED:
            params = {
                "templateName": bundle.name,
                "majorVersion": str(bundle.major),
                "minorVersion": str(minor),
                "status": PUBLISHED,
            }
            try:
                _call(runtime, account_id, region, f"Update{_prefix(bundle.kind)}TemplateVersion", params)
            except ServiceError as error:
                raise BundleProblem(f"Publishing {_label(bundle)} failed: {error}") from None
        done.append(f"{bundle.name}:{bundle.major}.{minor}")
    return done
