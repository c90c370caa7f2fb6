"""The ops file of service sync (reference §6.2) and the paths it and its spec files are read from.

Format::

    sync:
      services:
        <service-name>:
          <instance-name>:
            branch: <branch holding the spec file>
            spec: <path of a ServiceSpec file on that branch>

Invariants:
- Pure: no I/O. Every failure is an `OpsFileError` whose message is complete for the user.
- YAML is read by `baryon.domain.yamlread` within `OPS_LIMITS` (aliases and merge keys counted as copies,
  duplicate keys refused), after the text was refused past `MAX_OPS_FILE_BYTES`.
- Only the entries of one service are checked and returned; other services' entries are ignored (their
  own sync configs read them). Instance names follow the Proton name pattern, branches are names git
  accepts, spec paths are `safe_path`s.
- `safe_path` accepts a relative POSIX path inside a repository: no empty, `.` or `..` part, no leading
  `/`, no backslash or control character, nothing under `.git`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from baryon.domain.repositories import branch_name_problem
from baryon.domain.yamlread import ReadLimits, YamlError, kind_of, read_yaml

#: Largest ops file read (bytes).
MAX_OPS_FILE_BYTES = 262_144
OPS_LIMITS = ReadLimits(max_depth=16, max_values=10_000, unique_keys=True)
_NAME = re.compile(r"[0-9A-Za-z]+[0-9A-Za-z_\-]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")


class OpsFileError(Exception):
    """The ops file (or a path) cannot be used; the message is complete."""


@dataclass(frozen=True, order=True)
class OpsEntry:
    """Where the spec of one instance lives."""

    instance: str
    branch: str
    spec: str


def path_problem(path: str) -> str | None:
    """Why `path` is not a relative path inside a repository, or None."""
    parts = path.split("/")
    if (
        not path
        or len(path) > 4096
        or _CONTROL.search(path)
        or path.startswith("/")
        or any(part in ("", ".", "..") for part in parts)
        or parts[0] == ".git"
    ):
        return (
            f"The path {path!r} is not a relative path inside the repository "
            "(no leading '/', no empty, '.' or '..' parts, nothing under .git)."
        )
    return None


def parse_ops_file(text: str, service: str, where: str) -> list[OpsEntry]:
    """The entries of `service` in the ops file `text` (`where` names the file in messages), by instance."""
    if len(text.encode()) > MAX_OPS_FILE_BYTES:
        raise OpsFileError(f"{where} is larger than {MAX_OPS_FILE_BYTES} bytes.")
    try:
        document = read_yaml(text, OPS_LIMITS)
    except YamlError as error:
        raise OpsFileError(
            error.describe(f"{where} is not valid YAML" if error.positioned else where)
        ) from None
    sync = document.get("sync") if isinstance(document, dict) else None
    services = sync.get("services") if isinstance(sync, dict) else None
    if not isinstance(services, dict):
        raise OpsFileError(f"{where} must be a mapping with sync: services: <service>: <instance>: ...")
    block = services.get(service)
    if block is None:
        return []
    if not isinstance(block, dict):
        raise OpsFileError(
            f"{where}: sync.services.{service} must be a mapping of instances, not {kind_of(block)}."
        )
    entries: list[OpsEntry] = []
    problems: list[str] = []
    for instance, value in block.items():
        subject = f"sync.services.{service}.{instance}"
        if not 1 <= len(instance) <= 100 or _NAME.fullmatch(instance) is None:
            problems.append(
                f"{subject}: the instance name must be 1 to 100 characters matching "
                r"^[0-9A-Za-z]+[0-9A-Za-z_\-]*$"
            )
            continue
        if not isinstance(value, dict):
            problems.append(f"{subject} must be a mapping with branch and spec, not {kind_of(value)}")
            continue
        unknown = sorted(key for key in value if key not in ("branch", "spec"))
        if unknown:
            problems.append(
                f"{subject}: unknown key(s) {', '.join(unknown)} (an entry has only branch and spec)"
            )
        branch, spec = value.get("branch"), value.get("spec")
        if not isinstance(branch, str) or not isinstance(spec, str):
            problems.append(f"{subject}: branch and spec must both be strings")
            continue
        problem = branch_name_problem(branch) if 1 <= len(branch) <= 200 else "The branch name is too long."
        if problem is not None:
            problems.append(f"{subject}: {problem}")
            continue
        problem = path_problem(spec)
        if problem is not None:
            problems.append(f"{subject}: {problem}")
            continue
        entries.append(OpsEntry(instance, branch, spec))
    if problems:
        raise OpsFileError(f"{where}: " + "; ".join(problem.rstrip(".") for problem in problems) + ".")
    return sorted(entries)
