"""Template sync (reference §6.1): turn a commit of a followed branch into template versions.

For each template sync config following the branch (environment templates first, so that a service
template of the same commit can name them as compatible), the template's folder is found — `<subdirectory>/
<template name>/` (or `<subdirectory>` itself when it is named as the template) when the config has a
subdirectory, else the shallowest folder named as the template (first in path order) — and every `v<N>`
folder in it is one major version:

- major N has no version yet → version N.0 (N.<next> when only deleted versions of N remain);
- the folder's content (modes, object ids and paths of its files) differs from what the last successful
  sync of major N registered, or that version was deleted → the next minor of N;
- otherwise nothing; a content that failed before is not tried again until it changes.

A version is made DRAFT-or-REGISTRATION_FAILED by the same registration as CreateTemplateVersion
(`baryon.engine.registration.register`), from a `.tar.gz` built here from the folder's regular files; the
content is hostile: symbolic links, submodules, oversized files, too many files, or a service template
without usable `.template-registration.yaml` / `.compatible-envs`, or the account's quota of versions per
template reached, fail the sync of that major (a FAILED
ResourceSyncAttempt naming the reason and the commit) without creating a version, and leave every earlier
version as it is. Each sync of a major is a ResourceSyncAttempt of target `<TEMPLATE_TYPE>/<name>/<major>`
(see `baryon.store.sync_status`); its desiredState is the folder at the newest commit seen.

Invariants: `apply` is idempotent for one commit (the state of a major records the digest that was
registered or failed); versions created by hand are never written back to git and never changed here.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import re
import tarfile
from collections.abc import Callable, Container
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from baryon.bundles.errors import BundleError
from baryon.bundles.limits import Limits, describe_size
from baryon.bundles.yamldoc import load_mapping
from baryon.domain import jobs as job_kinds
from baryon.domain.versions import DRAFT, PUBLISHED, REGISTRATION_IN_PROGRESS
from baryon.engine import registration
from baryon.events import outbox
from baryon.store import jobs, sync_status
from baryon.store import quotas as quota_store
from baryon.store import template_sync as configs
from baryon.store import templates as template_store
from baryon.store.schema import template_versions
from baryon.store.sync_status import Event, Revision, SyncTarget
from baryon.sync.base import TEMPLATE_SYNC, Branch, Heads, Tree
from baryon.sync.gitrepo import REGULAR_MODES, SUBMODULE_MODE, SYMLINK_MODE, Entry, GitTree

if TYPE_CHECKING:
    from baryon.runtime import Runtime

log = logging.getLogger("baryon.sync.template")
_MAJOR = re.compile(r"^v([1-9][0-9]{0,5})$")
_ENV_NAME = re.compile(r"^[0-9A-Za-z]+[0-9A-Za-z_\-]*$")
REGISTRATION_FILE = ".template-registration.yaml"
LEGACY_FILE = ".compatible-envs"
#: Largest `.template-registration.yaml` / `.compatible-envs` read.
SMALL_FILE = 50 * 1024
#: ResourceSyncEvent types template sync records.
SYNC_STARTED = "SYNC_STARTED"
VERSION_CREATED = "VERSION_CREATED"
SYNC_SUCCEEDED = "SYNC_SUCCEEDED"
SYNC_FAILED = "SYNC_FAILED"
#: Seconds before the registration job of a synced version runs, should the sync not register it itself.
FALLBACK_REGISTRATION_DELAY = 60.0


def target_key(kind: str, name: str, major: int) -> str:
    return f"{kind}/{name}/{major}"


class SyncProblem(Exception):
    """What makes a template folder unusable at a commit (the message is shown in the sync's events)."""


class TemplateSyncer:
    """The Syncer of TEMPLATE_SYNC."""

    @property
    def sync_type(self) -> str:
        return TEMPLATE_SYNC

    def branches(self, connection: Connection) -> list[Branch]:
        return [Branch(*key) for key in configs.followed_branches(connection)]

    def apply(self, runtime: Runtime, branch: Branch, tree: Tree, heads: Heads) -> None:
        if not isinstance(tree, GitTree):
            raise TypeError("template sync reads trees of the follower's git mirror")
        with runtime.database.read() as connection:
            followers = configs.for_branch(
                connection,
                branch.account_id,
                branch.region,
                branch.provider,
                branch.repository,
                branch.branch,
            )
        entries = tree.entries()
        for config in followers:
            folder = locate(entries, config.template_name, config.subdirectory)
            if folder is None:
                continue
            for major, directory in majors(entries, folder):
                _sync_major(runtime, branch, tree, config, major, directory)


def _clean_subdirectory(subdirectory: str) -> str | None:
    parts = [part for part in subdirectory.replace("\\", "/").split("/") if part not in ("", ".")]
    if any(part == ".." for part in parts):
        return None
    return "/".join(parts)


def locate(entries: dict[str, Entry], name: str, subdirectory: str | None) -> str | None:
    """The folder of template `name` in a commit, or None."""

    def is_tree(path: str) -> bool:
        entry = entries.get(path)
        return entry is not None and entry.kind == "tree"

    if subdirectory is not None:
        base = _clean_subdirectory(subdirectory)
        if base is None:
            return None
        if not base:
            return name if is_tree(name) else None
        if is_tree(f"{base}/{name}"):
            return f"{base}/{name}"
        if is_tree(base) and base.rsplit("/", 1)[-1] == name:
            return base
        return None
    found = [
        entry.path
        for entry in entries.values()
        if entry.kind == "tree" and entry.path.rsplit("/", 1)[-1] == name
    ]
    if not found:
        return None
    return min(found, key=lambda path: (path.count("/"), path))


def majors(entries: dict[str, Entry], folder: str) -> list[tuple[int, str]]:
    """The `v<N>` folders directly in `folder`, by major."""
    found: list[tuple[int, str]] = []
    prefix = f"{folder}/"
    for entry in entries.values():
        if entry.kind != "tree" or not entry.path.startswith(prefix):
            continue
        rest = entry.path[len(prefix) :]
        match = _MAJOR.match(rest) if "/" not in rest else None
        if match:
            found.append((int(match.group(1)), entry.path))
    return sorted(found)


def _files(entries: dict[str, Entry], directory: str) -> list[Entry]:
    prefix = f"{directory}/"
    return sorted(
        (entry for entry in entries.values() if entry.path.startswith(prefix) and entry.kind != "tree"),
        key=lambda entry: entry.path,
    )


def digest(files: list[Entry], directory: str) -> str:
    """What identifies a folder's content: every file's mode, object id and path in it."""
    text = "".join(f"{e.mode} {e.oid} {e.path[len(directory) + 1 :]}\n" for e in files)
    return hashlib.sha256(text.encode()).hexdigest()


def build_bundle(tree: GitTree, files: list[Entry], directory: str, limits: Limits) -> bytes:
    """A `.tar.gz` of the folder's files, relative to it; SyncProblem for content a bundle cannot hold."""
    if len(files) > limits.members:
        raise SyncProblem(
            f"The folder {directory} holds {len(files)} files; a bundle can hold at most {limits.members}."
        )
    total = 0
    members: list[tuple[Entry, str]] = []
    for entry in files:
        relative = entry.path[len(directory) + 1 :]
        if entry.mode == SYMLINK_MODE:
            raise SyncProblem(f"{entry.path} is a symbolic link; template sync accepts only regular files.")
        if entry.mode == SUBMODULE_MODE or entry.kind == "commit":
            raise SyncProblem(f"{entry.path} is a git submodule; template sync accepts only regular files.")
        if entry.kind != "blob" or entry.mode not in REGULAR_MODES:
            raise SyncProblem(
                f"{entry.path} is not a regular file; template sync accepts only regular files."
            )
        size = entry.size or 0
        if size > limits.largest_file_bytes:
            raise SyncProblem(
                f"{entry.path} is {size} bytes; a file of a template bundle can be at most "
                f"{describe_size(limits.largest_file_bytes)}."
            )
        total += size
        if total > limits.bundle_bytes:
            raise SyncProblem(
                f"The folder {directory} holds more than {describe_size(limits.bundle_bytes)}; "
                "a template bundle can be at most that large."
            )
        members.append((entry, relative))
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for entry, relative in members:
            data = tree.blob(entry, limits.largest_file_bytes)
            info = tarfile.TarInfo(relative)
            info.size = len(data)
            info.mode = 0o755 if entry.mode == "100755" else 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def compatibility(
    connection: Connection, tree: GitTree, branch: Branch, directory: str
) -> tuple[list[dict[str, str]], list[str] | None]:
    """compatibleEnvironmentTemplates and supportedComponentSources of a service template major folder,
    from `.template-registration.yaml`, else the legacy `.compatible-envs`; SyncProblem when neither
    is usable or an environment template major it names does not exist."""
    return compatibility_in(
        connection, branch.account_id, branch.region, directory, tree.entries(), tree.read
    )


def compatibility_in(
    connection: Connection,
    account_id: str,
    region: str,
    directory: str,
    entries: Container[str],
    read: Callable[[str, int], bytes | None],
) -> tuple[list[dict[str, str]], list[str] | None]:
    """`compatibility` of a folder whose files are `entries` (paths) read by `read(path, limit)` (None:
    not a regular file of at most `limit` bytes)."""
    registration_path = f"{directory}/{REGISTRATION_FILE}"
    legacy_path = f"{directory}/{LEGACY_FILE}"
    sources: list[str] | None = None
    if registration_path in entries:
        data = read(registration_path, SMALL_FILE)
        if data is None:
            raise SyncProblem(
                f"{registration_path} must be a regular file of at most {describe_size(SMALL_FILE)}."
            )
        try:
            document = load_mapping(registration_path, data)
        except BundleError as error:
            raise SyncProblem(str(error)) from None
        listed = document.get("compatible_environments", document.get("compatible_environment"))
        if not isinstance(listed, list) or not listed or not all(isinstance(item, str) for item in listed):
            raise SyncProblem(
                f'{registration_path} must list compatible_environments as "<environment template>:<major>" '
                "strings (at least one)."
            )
        raw_sources = document.get("supported_component_sources")
        if raw_sources is not None:
            if not isinstance(raw_sources, list) or any(item != "DIRECTLY_DEFINED" for item in raw_sources):
                raise SyncProblem(
                    f"{registration_path}: supported_component_sources may only list DIRECTLY_DEFINED."
                )
            sources = [str(item) for item in raw_sources]
        where = registration_path
    elif legacy_path in entries:
        data = read(legacy_path, SMALL_FILE)
        if data is None:
            raise SyncProblem(f"{legacy_path} must be a regular file of at most {describe_size(SMALL_FILE)}.")
        text = data.decode("utf-8", "replace")
        listed = [
            line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")
        ]
        if not listed:
            raise SyncProblem(f"{legacy_path} lists no compatible environment template.")
        where = legacy_path
    else:
        raise SyncProblem(
            f"The service template folder {directory} has neither {REGISTRATION_FILE} nor {LEGACY_FILE}; "
            "one of them must name the compatible environment templates."
        )
    found: list[dict[str, str]] = []
    for item in listed:
        name, _, major = item.strip().partition(":")
        name, major = name.strip(), major.strip()
        if not _ENV_NAME.match(name) or not major.isdigit() or int(major) < 1 or len(name) > 100:
            raise SyncProblem(f'{where}: {item!r} is not "<environment template>:<major>".')
        template = template_store.find_template(connection, account_id, region, "ENVIRONMENT", name)
        if template is None or not template_store.major_exists(connection, template.id, int(major)):
            raise SyncProblem(
                f"Compatible environment template {name} major version {int(major)} does not exist."
            )
        entry = {"templateName": name, "majorVersion": str(int(major))}
        if entry not in found:
            found.append(entry)
    return found, sources


def _sync_major(
    runtime: Runtime, branch: Branch, tree: GitTree, config: Any, major: int, directory: str
) -> None:
    kind, name = config.template_type, config.template_name
    target = SyncTarget(branch.account_id, branch.region, TEMPLATE_SYNC, target_key(kind, name, major))
    revision = Revision(branch.repository, branch.provider, branch.branch, directory, tree.sha)
    files = _files(tree.entries(), directory)
    content = digest(files, directory)
    clock = runtime.clock
    pending: Any = None
    with runtime.database.write() as connection:
        template = template_store.find_template(connection, branch.account_id, branch.region, kind, name)
        if template is None:
            return
        sync_status.set_desired(connection, target, revision, clock.now())
        known = sync_status.state(connection, target)
        if known.get("failed_digest") == content:
            return
        if known.get("digest") == content and known.get("minor") is not None:
            version = template_store.find_version(connection, template.id, major, int(known["minor"]))
            if version is not None:
                return
        if known.get("pending_digest") == content and known.get("pending_minor") is not None:
            # A version of this content was created by a sync that did not finish (the process ended).
            pending = template_store.find_version(connection, template.id, major, int(known["pending_minor"]))
        attempt = sync_status.start_attempt(
            connection,
            target,
            name,
            None,
            revision,
            clock.now(),
            [
                Event(
                    SYNC_STARTED, f"Starting sync of {directory} at commit {tree.sha}", clock.now(), tree.sha
                )
            ],
        )
    if pending is not None:
        version_id, label = int(pending.id), f"{major}.{pending.minor}"
    else:
        try:
            version_id, label = _create_version(
                runtime,
                branch,
                tree,
                kind,
                name,
                template.id,
                major,
                files,
                directory,
                revision,
                target,
                content,
                attempt,
            )
        except SyncProblem as problem:
            _failed(runtime, target, attempt, content, str(problem), tree.sha)
            return
    reason = registration.register(runtime, version_id)
    with runtime.database.read() as connection:
        registered = connection.execute(
            sa.select(template_versions.c.status, template_versions.c.status_message).where(
                template_versions.c.id == version_id
            )
        ).first()
    if registered is None or registered.status not in (DRAFT, PUBLISHED):
        why = reason or (registered.status_message if registered is not None else "the version was deleted")
        _failed(runtime, target, attempt, content, f"Registration of version {label} failed: {why}", tree.sha)
        return
    with runtime.database.write() as connection:
        sync_status.finish_attempt(
            connection,
            attempt,
            sync_status.SUCCEEDED,
            Event(SYNC_SUCCEEDED, f"Version {label} registered", clock.now(), tree.sha),
        )
        sync_status.set_state(
            connection, target, {"digest": content, "minor": int(label.split(".")[1])}, clock.now()
        )


def _create_version(
    runtime: Runtime,
    branch: Branch,
    tree: GitTree,
    kind: str,
    name: str,
    template_id: int,
    major: int,
    files: list[Entry],
    directory: str,
    revision: Revision,
    target: SyncTarget,
    content: str,
    attempt: int,
) -> tuple[int, str]:
    """Build the bundle and insert the version (REGISTRATION_IN_PROGRESS, with a fallback registration job
    and the content noted as pending, in one transaction); SyncProblem when the folder cannot be one."""
    clock = runtime.clock
    bundle = build_bundle(tree, files, directory, Limits())
    with runtime.database.write() as connection:
        quota = quota_store.effective(connection, runtime.quotas, branch.account_id, "versions_per_template")
        if quota is not None and template_store.count_live_versions(connection, template_id) >= quota:
            label = "environment template" if kind == "ENVIRONMENT" else "service template"
            raise SyncProblem(f"You have reached the quota of {quota} versions of {label} {name}.")
        compatible, sources = (
            compatibility(connection, tree, branch, directory) if kind == "SERVICE" else ([], None)
        )
        version_id, label = _insert_version(
            runtime, connection, template_id, kind, major, bundle, compatible, sources, revision
        )
        # Registered below, in this step; the job registers it should this process end before that.
        jobs.enqueue(
            connection,
            job_id=runtime.ids.uuid(),
            kind=job_kinds.REGISTER_TEMPLATE_VERSION,
            payload={"version_id": version_id},
            now=clock.now() + FALLBACK_REGISTRATION_DELAY,
            policy=job_kinds.REGISTRATION_POLICY,
        )
        known = sync_status.state(connection, target)
        sync_status.set_state(
            connection,
            target,
            {**known, "pending_digest": content, "pending_minor": int(label.split(".")[1])},
            clock.now(),
        )
        sync_status.add_event(
            connection,
            attempt,
            Event(VERSION_CREATED, f"Created version {label}", clock.now(), tree.sha),
            sync_status.IN_PROGRESS,
        )
    return version_id, label


def _failed(runtime: Runtime, target: SyncTarget, attempt: int, content: str, reason: str, sha: str) -> None:
    with runtime.database.write() as connection:
        sync_status.finish_attempt(
            connection, attempt, sync_status.FAILED, Event(SYNC_FAILED, reason, runtime.clock.now(), sha)
        )
        known = sync_status.state(connection, target)
        sync_status.set_state(connection, target, {**known, "failed_digest": content}, runtime.clock.now())


def _insert_version(
    runtime: Runtime,
    connection: Connection,
    template_id: int,
    kind: str,
    major: int,
    bundle: bytes,
    compatible: list[dict[str, str]],
    sources: list[str] | None,
    revision: Revision,
) -> tuple[int, str]:
    V = template_versions.c
    any_of_major = connection.execute(
        sa.select(V.id).where(V.template_id == template_id, V.major == major).limit(1)
    ).first()
    minor = 0 if any_of_major is None else template_store.next_number(connection, template_id, major)[1]
    now = runtime.clock.now()
    result = connection.execute(
        sa.insert(template_versions).values(
            template_id=template_id,
            major=major,
            minor=minor,
            status=REGISTRATION_IN_PROGRESS,
            description=None,
            compatible_environment_templates=orjson.dumps(compatible).decode() if kind == "SERVICE" else None,
            supported_component_sources=orjson.dumps(sources).decode() if sources is not None else None,
            source_bucket="",
            source_key=f"git:{revision.repository_provider.lower()}:{revision.repository_name}@{revision.sha}:"
            f"{revision.directory}"[:1024],
            bundle=bundle,
            created_at=now,
            last_modified_at=now,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    outbox.template_version_changed(
        connection, int(key[0]), previous=None, status=REGISTRATION_IN_PROGRESS, now=now
    )
    return int(key[0]), f"{major}.{minor}"
