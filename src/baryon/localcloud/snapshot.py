"""The local cloud's saved state: every moto backend in use, pickled into one file in the data dir.

File format: one line of JSON (the header: format, moto and Python versions, when it was saved, and
counts of what it holds: stacks, buckets, roles, parameters, queues, topics, functions), then the pickle.
The header can be read without unpickling (`read_header`), so `baryon up` can say what a reset forgets
and whether a snapshot fits the installed moto without importing moto's models.

Pickling: all backends go into one pickle, so objects shared between services (a stack's resources are
the SQS, S3, IAM … model objects themselves) stay shared after a restore. The module-level `BackendDict`s
are not pickled but named (persistent ids), so a model that refers to one refers to the live one after a
restore. What plain pickle refuses is reduced here: locks (a fresh lock), weak-value dictionaries (their
values), private keys of `cryptography` (DER), dict subclasses (their raw items, bypassing overridden
`__setitem__`/`items`, and their attributes); lambdas and local functions go by value (cloudpickle).

Invariants: `save` writes a temporary file beside the target, fsyncs it and renames it over the target
(then fsyncs the folder), so the file is always a whole snapshot, old or new; files are created 0600
(they hold whatever the local cloud holds); `load` refuses a snapshot whose header does not match the
format, moto version and Python version in use (`Incompatible`) or that cannot be unpickled
(`Unreadable`) before changing any backend; the caller sets such a file aside (`set_aside`). The
snapshot is only as trusted as the data dir: unpickling runs code named in the file.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import pickle
import sys
import threading
import time
import weakref
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

FORMAT = 1
#: What the header counts, in the order messages name them (singular, plural).
KINDS: dict[str, tuple[str, str]] = {
    "stacks": ("stack", "stacks"),
    "buckets": ("bucket", "buckets"),
    "roles": ("role", "roles"),
    "parameters": ("parameter", "parameters"),
    "queues": ("queue", "queues"),
    "topics": ("topic", "topics"),
    "functions": ("function", "functions"),
}


class SnapshotProblem(Exception):
    """A snapshot that cannot be restored; the message says why."""


class Incompatible(SnapshotProblem):
    """Written by another format, moto or Python version."""


class Unreadable(SnapshotProblem):
    """Damaged: no header, or a pickle that does not load."""


@dataclass(frozen=True)
class Header:
    format: int
    moto: str
    python: str
    saved_at: float
    counts: dict[str, int]

    def to_json(self) -> bytes:
        fields = {
            "format": self.format,
            "moto": self.moto,
            "python": self.python,
            "savedAt": self.saved_at,
            "counts": self.counts,
        }
        return json.dumps(fields, sort_keys=True).encode()


def moto_version() -> str:
    return version("moto")


def python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def describe_counts(counts: dict[str, int]) -> str:
    """ "3 stacks, 2 buckets, 1 role" (kinds with none are left out; "nothing" when all are)."""
    parts = []
    for key, (one, many) in KINDS.items():
        number = counts.get(key, 0)
        if number:
            parts.append(f"{number} {one if number == 1 else many}")
    return ", ".join(parts) or "nothing"


def read_header(path: Path) -> Header:
    """The header of the snapshot at `path` (Unreadable when it has none)."""
    with open(path, "rb") as handle:
        line = handle.readline(64 * 1024)
    try:
        fields = json.loads(line)
        return Header(
            format=int(fields["format"]),
            moto=str(fields["moto"]),
            python=str(fields["python"]),
            saved_at=float(fields["savedAt"]),
            counts={str(k): int(v) for k, v in dict(fields["counts"]).items()},
        )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise Unreadable(f"{path} does not start with a local cloud snapshot header") from error


def check_compatible(header: Header) -> None:
    """Incompatible when the snapshot was written by another format, moto or Python version."""
    wanted = (FORMAT, moto_version(), python_version())
    if (header.format, header.moto, header.python) != wanted:
        raise Incompatible(
            f"it was saved by moto {header.moto} on Python {header.python} (format {header.format}); "
            f"this local cloud runs moto {wanted[1]} on Python {wanted[2]} (format {FORMAT})"
        )


def set_aside(path: Path, why: str, now: float | None = None) -> Path:
    """Rename the snapshot out of the way (`<name>.<why>-<time>`) and return where it went."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now if now is not None else time.time()))
    target = path.with_name(f"{path.name}.{why}-{stamp}")
    os.replace(path, target)
    return target


# ------------------------------------------------------------------------------------- moto's state


def _backend_dicts() -> dict[int, tuple[str, str, Any]]:
    """Every module-level BackendDict of the moto modules imported so far, by id: (module, name, it)."""
    from moto.core.base_backend import BackendDict

    found: dict[int, tuple[str, str, Any]] = {}
    for module_name, module in list(sys.modules.items()):
        if module is None or not module_name.startswith("moto."):
            continue
        for attribute, value in list(vars(module).items()):
            if isinstance(value, BackendDict):
                found.setdefault(id(value), (module_name, attribute, value))
    return found


def _instances(backend_dict_class: Any) -> list[Any]:
    """moto's own list of the BackendDicts that hold state."""
    instances: list[Any] = backend_dict_class._instances
    return instances


def _in_use() -> list[Any]:
    """The BackendDicts that hold state (moto's own list, without repeats)."""
    from moto.core.base_backend import BackendDict

    unique: list[Any] = []
    for backend in _instances(BackendDict):
        if not any(backend is seen for seen in unique):
            unique.append(backend)
    return unique


def _regions(backend_dict: Any) -> Iterable[Any]:
    for per_account in dict(backend_dict).values():
        yield from dict(per_account).values()


def count(in_use: list[Any] | None = None) -> dict[str, int]:
    """What the local cloud holds now, by the header's kinds."""
    counts = dict.fromkeys(KINDS, 0)
    for backend_dict in _in_use() if in_use is None else in_use:
        name = getattr(backend_dict, "service_name", "")
        for backend in _regions(backend_dict):
            if name == "cloudformation":
                stacks = getattr(backend, "stacks", {}).values()
                counts["stacks"] += sum(1 for s in stacks if getattr(s, "status", "") != "DELETE_COMPLETE")
            elif name == "s3":
                counts["buckets"] += len(getattr(backend, "buckets", {}))
            elif name == "iam":
                counts["roles"] += len(getattr(backend, "roles", {}))
            elif name == "ssm":
                counts["parameters"] += sum(
                    1 for key in dict.keys(getattr(backend, "_parameters", {})) if not key.startswith("/aws/")
                )
            elif name == "sqs":
                counts["queues"] += len(getattr(backend, "queues", {}))
            elif name == "sns":
                counts["topics"] += len(getattr(backend, "topics", {}))
            elif name == "lambda":
                counts["functions"] += len(list(getattr(backend, "list_functions", list)()))
    return counts


_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


def _new_mapping(cls: Any, factory: Callable[[], Any] | None) -> Any:
    made = cls.__new__(cls)
    if factory is not None:
        made.default_factory = factory
    return made


def _fill_mapping(made: Any, state: tuple[dict[Any, Any], dict[str, Any] | None]) -> None:
    items, attributes = state
    dict.update(made, items)
    if attributes:
        made.__dict__.update(attributes)


def _private_key(der: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    return load_der_private_key(der, None)


def _public_key(der: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    return load_der_public_key(der)


def _pickler_class() -> Any:
    import cloudpickle
    from cryptography.hazmat.primitives import serialization
    from moto.core.base_backend import BackendDict

    class Pickler(cloudpickle.Pickler):  # type: ignore[misc]
        def __init__(self, file: io.BytesIO, names: dict[int, tuple[str, str, Any]]) -> None:
            super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
            self.names = names

        def persistent_id(self, obj: Any) -> tuple[str, str, str] | None:
            if isinstance(obj, BackendDict):
                named = self.names.get(id(obj))
                if named is not None:
                    return ("backend", named[0], named[1])
            return None

        def reducer_override(self, obj: Any) -> Any:
            kind = type(obj)
            if kind in _LOCK_TYPES:
                return (threading.RLock if kind is _LOCK_TYPES[1] else threading.Lock, ())
            if kind is weakref.WeakValueDictionary:
                return (weakref.WeakValueDictionary, (dict(obj.items()),))
            if isinstance(obj, dict) and kind is not dict and not isinstance(obj, OrderedDict | BackendDict):
                factory = obj.default_factory if isinstance(obj, defaultdict) else None
                state = (dict(dict.items(obj)), getattr(obj, "__dict__", None))
                return (_new_mapping, (kind, factory), state, None, None, _fill_mapping)
            if (getattr(kind, "__module__", None) or "").startswith("cryptography"):
                if hasattr(obj, "private_bytes"):
                    der = obj.private_bytes(
                        serialization.Encoding.DER,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption(),
                    )
                    return (_private_key, (der,))
                if hasattr(obj, "public_bytes") and hasattr(obj, "verify"):
                    der = obj.public_bytes(
                        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                    )
                    return (_public_key, (der,))
            return super().reducer_override(obj)

    return Pickler


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> Any:
        kind, module, attribute = pid
        if kind != "backend":
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        return getattr(importlib.import_module(module), attribute)


def dump() -> tuple[Header, bytes]:
    """The header and pickle of the state now; the caller keeps requests out while this runs."""
    names = _backend_dicts()
    in_use = _in_use()
    payload = [(names[id(b)][0], names[id(b)][1], dict(b)) for b in in_use if id(b) in names]
    buffer = io.BytesIO()
    _pickler_class()(buffer, names).dump(payload)
    header = Header(FORMAT, moto_version(), python_version(), time.time(), count(in_use))
    return header, buffer.getvalue()


def write(path: Path, header: Header, body: bytes) -> None:
    """Write the snapshot atomically: a temporary file, fsync, rename, fsync of the folder."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(header.to_json() + b"\n")
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def save(path: Path) -> Header:
    """Snapshot the state now into `path` (see `write`); the caller keeps requests out meanwhile."""
    header, body = dump()
    write(path, header, body)
    return header


def load(path: Path) -> Header:
    """Restore the backends from the snapshot at `path`. Raises Incompatible or Unreadable (leaving the
    backends as they were) when it cannot."""
    from moto.core.base_backend import BackendDict

    header = read_header(path)
    check_compatible(header)
    with open(path, "rb") as handle:
        handle.readline(64 * 1024)
        try:
            payload = _Unpickler(handle).load()
            restored = [
                (getattr(importlib.import_module(module), name), dict(accounts))
                for module, name, accounts in payload
            ]
        except Exception as error:  # a damaged or foreign pickle fails in many ways
            raise Unreadable(f"it could not be read ({type(error).__name__}: {error})") from error
    for backend_dict, accounts in restored:
        backend_dict.clear()
        backend_dict.update(accounts)
        instances = _instances(BackendDict)
        if not any(backend_dict is known for known in instances):
            instances.append(backend_dict)
    return header
