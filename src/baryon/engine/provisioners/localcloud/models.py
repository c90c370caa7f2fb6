"""What moto's CloudFormation models: the resource types it creates and the attributes it can read.

Read from moto itself (`moto.cloudformation.parsing.get_model_map`), so that a newer moto that models more
needs no change here — but in a child process, once per Baryon process: importing moto's models loads
every moto backend (seconds, and some 180 MB that a Baryon process would otherwise keep for good).

For each modelled type the child reports whether its model answers `Fn::GetAtt` at all and, where its
`has_cfn_attr` is moto's own list rather than "anything" (the base class's, or an override that accepts
any name), the attributes in that list (found among the string literals of `has_cfn_attr`'s source and
confirmed by calling it).

The answer depends only on the installed moto, so it is also kept on disk (`cache_file`: in
BARYON_CACHE_DIR, else `$XDG_CACHE_HOME/baryon`, else `~/.cache/baryon`), named after moto's version, the
time its CloudFormation parser was installed and Python's version; a later process reads it instead of
starting the child.

Invariants: the answer is cached for the life of the process; a child that fails raises `RuntimeError`
with its error output, never a partial answer; a cache file that cannot be read, or does not have the
answer's shape, is ignored (and replaced); a cache directory that cannot be written is not an error.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

_SCRIPT = r"""
import inspect, json, re
from moto.cloudformation.parsing import get_model_map
from moto.core.common_models import CloudFormationModel
base = CloudFormationModel.has_cfn_attr.__func__
found = {}
for kind, model in get_model_map().items():
    if not re.fullmatch(r"AWS::\w+::\w+", kind) or kind == "AWS::SERVICE::RESOURCE":
        continue
    attributes = None
    if model.has_cfn_attr.__func__ is not base and not model.has_cfn_attr("-probe-"):
        try:
            source = inspect.getsource(model.has_cfn_attr)
        except (OSError, TypeError):
            source = ""
        attributes = sorted({a for a in re.findall(r"[\"']([\w.]+)[\"']", source) if model.has_cfn_attr(a)})
    found[kind] = {"getatt": hasattr(model, "get_cfn_attribute"), "attributes": attributes}
print(json.dumps(found))
"""


@dataclass(frozen=True)
class Model:
    """What moto's model of one type can do: answer GetAtt at all, and for which attributes (None: any)."""

    getatt: bool
    attributes: frozenset[str] | None

    def readable(self, attribute: str) -> bool:
        return self.getatt and (self.attributes is None or attribute in self.attributes)


@cache
def models() -> dict[str, Model]:
    """moto's CloudFormation models by resource type."""
    path = cache_file()
    answer = _read_cached(path) if path is not None else None
    if answer is None:
        answer = _ask_moto()
        if path is not None:
            _write_cached(path, answer)
    return {
        kind: Model(
            bool(found["getatt"]),
            None if found["attributes"] is None else frozenset(found["attributes"]),
        )
        for kind, found in answer.items()
    }


def _ask_moto() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"cannot read moto's CloudFormation models: {done.stderr.strip()[-500:]}")
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def cache_dir() -> Path:
    chosen = os.environ.get("BARYON_CACHE_DIR")
    if chosen:
        return Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base).expanduser() if base else Path.home() / ".cache") / "baryon"


def cache_file() -> Path | None:
    """The file this moto's answer is kept in; None when moto is not installed."""
    spec = importlib.util.find_spec("moto")
    if spec is None or spec.origin is None:
        return None
    try:
        version = importlib.metadata.version("moto")
        installed = Path(spec.origin).parent.joinpath("cloudformation", "parsing.py").stat().st_mtime_ns
    except (importlib.metadata.PackageNotFoundError, OSError):
        return None
    python = "{}.{}".format(*sys.version_info[:2])
    return cache_dir() / f"moto-models-{version}-{installed}-py{python}.json"


def _read_cached(path: Path) -> dict[str, Any] | None:
    try:
        answer = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(answer, dict) or not answer:
        return None
    for kind, found in answer.items():
        if not (isinstance(kind, str) and isinstance(found, dict) and isinstance(found.get("getatt"), bool)):
            return None
        attributes = found.get("attributes")
        if attributes is not None and not (
            isinstance(attributes, list) and all(isinstance(a, str) for a in attributes)
        ):
            return None
    return answer


def _write_cached(path: Path, answer: dict[str, Any]) -> None:
    """Write atomically (a reader sees the old file or the whole new one); failing is not an error."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".moto-models-")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(answer, handle)
            os.replace(temporary, path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
