"""Reading what `aws proton get-*` and `list-*` printed, saved as JSON files, for `baryon import`.

Job: `read_export(DIR)` reads every `*.json` file under DIR (any mix of get and list outputs), names each
document's kind by its top-level key (`environmentTemplate`, `templates`, `templateVersions`,
`environment`, `services`, `accountSettings`, …, as the botocore `proton` model's output shapes name
them), checks it loosely against that output shape (the type of every member present, recursively;
unknown members are ignored) and merges what several files say about one resource: a get-* document is
richer than a list-* summary, so its members win.

Invariants: the files are hostile: a file that is not a regular file, is larger than `MAX_FILE_BYTES`,
is not JSON, nests deeper than `MAX_DEPTH`, or has a member of the wrong type raises `ExportProblem`
naming the file, before anything is imported; more than `MAX_FILES` files or `MAX_TOTAL_BYTES` in all
is refused; symbolic links are not followed. Nothing here writes anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_FILES = 10_000
MAX_TOTAL_BYTES = 512 * 1024 * 1024
MAX_DEPTH = 32

#: Kinds of exported records.
ENVIRONMENT_TEMPLATE = "environment-template"
SERVICE_TEMPLATE = "service-template"
ENVIRONMENT_TEMPLATE_VERSION = "environment-template-version"
SERVICE_TEMPLATE_VERSION = "service-template-version"
ENVIRONMENT = "environment"
SERVICE = "service"
SERVICE_INSTANCE = "service-instance"
PIPELINE = "pipeline"
COMPONENT = "component"
ACCOUNT_SETTINGS = "account-settings"
REPOSITORY = "repository"
TEMPLATE_SYNC_CONFIG = "template-sync-config"
SERVICE_SYNC_CONFIG = "service-sync-config"

#: Top-level key → (operation whose output shape it is, kind or None when the ARN tells, is a get).
_KEYS: dict[str, tuple[str, str | None, bool]] = {
    "environmentTemplate": ("GetEnvironmentTemplate", ENVIRONMENT_TEMPLATE, True),
    "serviceTemplate": ("GetServiceTemplate", SERVICE_TEMPLATE, True),
    "templates": ("ListEnvironmentTemplates", None, False),
    "environmentTemplates": ("ListEnvironmentTemplates", ENVIRONMENT_TEMPLATE, False),
    "serviceTemplates": ("ListServiceTemplates", SERVICE_TEMPLATE, False),
    "environmentTemplateVersion": ("GetEnvironmentTemplateVersion", ENVIRONMENT_TEMPLATE_VERSION, True),
    "serviceTemplateVersion": ("GetServiceTemplateVersion", SERVICE_TEMPLATE_VERSION, True),
    "templateVersions": ("ListEnvironmentTemplateVersions", None, False),
    "environmentTemplateVersions": ("ListEnvironmentTemplateVersions", ENVIRONMENT_TEMPLATE_VERSION, False),
    "serviceTemplateVersions": ("ListServiceTemplateVersions", SERVICE_TEMPLATE_VERSION, False),
    "environment": ("GetEnvironment", ENVIRONMENT, True),
    "environments": ("ListEnvironments", ENVIRONMENT, False),
    "service": ("GetService", SERVICE, True),
    "services": ("ListServices", SERVICE, False),
    "serviceInstance": ("GetServiceInstance", SERVICE_INSTANCE, True),
    "serviceInstances": ("ListServiceInstances", SERVICE_INSTANCE, False),
    "component": ("GetComponent", COMPONENT, True),
    "components": ("ListComponents", COMPONENT, False),
    "accountSettings": ("GetAccountSettings", ACCOUNT_SETTINGS, True),
    "repository": ("GetRepository", REPOSITORY, True),
    "repositories": ("ListRepositories", REPOSITORY, False),
    "templateSyncConfig": ("GetTemplateSyncConfig", TEMPLATE_SYNC_CONFIG, True),
    "serviceSyncConfig": ("GetServiceSyncConfig", SERVICE_SYNC_CONFIG, True),
}


class ExportProblem(Exception):
    """A file of the export that cannot be read (the message names the file and says why)."""


@dataclass
class Export:
    """The merged records of an export: kind → identity → record (members as the aws CLI printed them)."""

    records: dict[str, dict[tuple[str, ...], dict[str, Any]]] = field(default_factory=dict)
    files: int = 0

    def of(self, kind: str) -> list[dict[str, Any]]:
        """The records of one kind, in a stable order (by identity)."""
        found = self.records.get(kind, {})
        return [found[key] for key in sorted(found)]

    def get(self, kind: str, *identity: str) -> dict[str, Any] | None:
        return self.records.get(kind, {}).get(tuple(identity))


@cache
def _model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("proton")


def _problem(where: str, message: str) -> ExportProblem:
    return ExportProblem(f"{where}: {message}")


def _check(value: Any, shape: Any, where: str, path: str, depth: int) -> None:
    """Loosely check `value` against a botocore shape: the types of the members present."""
    if depth > MAX_DEPTH:
        raise _problem(where, f"{path or 'the document'} nests too deeply")
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise _problem(where, f"{path or 'the document'} must be an object")
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                _check(value[name], member, where, f"{path}.{name}" if path else name, depth + 1)
    elif kind == "list":
        if not isinstance(value, list):
            raise _problem(where, f"{path} must be a list")
        for index, item in enumerate(value):
            _check(item, shape.member, where, f"{path}[{index}]", depth + 1)
    elif kind == "map":
        if not isinstance(value, dict):
            raise _problem(where, f"{path} must be an object")
        for key, item in value.items():
            _check(item, shape.value, where, f"{path}.{key}", depth + 1)
    elif kind == "string":
        if not isinstance(value, str):
            raise _problem(where, f"{path} must be a string")
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise _problem(where, f"{path} must be an integer")
    elif kind in ("float", "double"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _problem(where, f"{path} must be a number")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise _problem(where, f"{path} must be true or false")
    elif kind == "timestamp" and (not isinstance(value, str | int | float) or isinstance(value, bool)):
        raise _problem(where, f"{path} must be a timestamp")


def _depth_ok(text: str) -> bool:
    depth = 0
    for char in text:
        if char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return False
        elif char in "]}":
            depth -= 1
    return True


def _kind_by_arn(record: dict[str, Any], template: bool, where: str) -> str:
    arn = record.get("arn")
    if isinstance(arn, str):
        resource = arn.split(":", 5)[-1]
        if resource.startswith("environment-template/"):
            return ENVIRONMENT_TEMPLATE if template else ENVIRONMENT_TEMPLATE_VERSION
        if resource.startswith("service-template/"):
            return SERVICE_TEMPLATE if template else SERVICE_TEMPLATE_VERSION
    raise _problem(where, "a template without an environment-template or service-template ARN")


def _identity(kind: str, record: dict[str, Any], where: str) -> tuple[str, ...]:
    def need(*names: str) -> tuple[str, ...]:
        values = []
        for name in names:
            value = record.get(name)
            if not isinstance(value, str) or not value:
                raise _problem(where, f"a {kind} record without its {name}")
            values.append(value)
        return tuple(values)

    if kind in (ENVIRONMENT_TEMPLATE_VERSION, SERVICE_TEMPLATE_VERSION):
        return need("templateName", "majorVersion", "minorVersion")
    if kind == SERVICE_INSTANCE:
        return need("serviceName", "name")
    if kind == ACCOUNT_SETTINGS:
        return ()
    if kind == REPOSITORY:
        return need("provider", "name")
    if kind == TEMPLATE_SYNC_CONFIG:
        return need("templateType", "templateName")
    if kind == SERVICE_SYNC_CONFIG:
        return need("serviceName")
    return need("name")


def _merge(export: Export, kind: str, record: dict[str, Any], rich: bool, where: str) -> None:
    found = export.records.setdefault(kind, {})
    key = _identity(kind, record, where)
    old = found.get(key)
    if old is None:
        found[key] = dict(record)
    else:
        found[key] = {**old, **record} if rich else {**record, **old}
    if kind == SERVICE and isinstance(record.get("pipeline"), dict):
        pipeline = {**record["pipeline"], "serviceName": key[0]}
        export.records.setdefault(PIPELINE, {})[key] = pipeline


def _files(root: Path) -> list[Path]:
    found: list[Path] = []
    for path in sorted(root.rglob("*.json")):
        if path.is_symlink() or not path.is_file():
            continue
        found.append(path)
        if len(found) > MAX_FILES:
            raise ExportProblem(f"{root}: more than {MAX_FILES} JSON files")
    return found


def read_file(path: Path, export: Export) -> None:
    """Read one file into `export` (ExportProblem naming the file when it cannot be read)."""
    where = str(path)
    if path.stat().st_size > MAX_FILE_BYTES:
        raise _problem(where, f"larger than {MAX_FILE_BYTES} bytes")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise _problem(where, f"cannot be read as UTF-8 text ({error.__class__.__name__})") from None
    if not _depth_ok(text):
        raise _problem(where, "the document nests too deeply")
    try:
        document = json.loads(text)
    except ValueError as error:
        raise _problem(where, f"not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise _problem(where, "not the output of an aws proton get-* or list-* command (not an object)")
    keys = [key for key in document if key in _KEYS]
    if len(keys) != 1:
        raise _problem(
            where, "not the output of an aws proton get-* or list-* command (no single known top-level key)"
        )
    key = keys[0]
    operation, kind, rich = _KEYS[key]
    output = _model().operation_model(operation).output_shape
    member = (
        output.members.get(key)
        or output.members["templates" if key.endswith("Templates") else "templateVersions"]
    )
    _check(document[key], member, where, key, 0)
    records = [document[key]] if rich else list(document[key])
    for record in records:
        which = kind if kind is not None else _kind_by_arn(record, key == "templates", where)
        _merge(export, which, record, rich, where)


def read_export(root: Path) -> Export:
    """Every JSON file under `root`, merged (ExportProblem for the first file that cannot be read)."""
    export = Export()
    files = _files(root)
    total = sum(path.stat().st_size for path in files)
    if total > MAX_TOTAL_BYTES:
        raise ExportProblem(f"{root}: its JSON files hold more than {MAX_TOTAL_BYTES} bytes")
    for path in files:
        read_file(path, export)
        export.files += 1
    return export
