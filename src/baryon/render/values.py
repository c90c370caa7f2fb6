"""Values as templates see them: path-tracking containers and the text rule for ``{{ }}`` output.

Tracking: before a render, the context is copied into `TrackedDict` / `TrackedList` containers that
remember their dotted path from the top of the namespace (``environment.outputs``,
``service_instances[1].environment``). A missing leaf can then be reported by the name the author
wrote (``environment.outputs.VpcId is not defined``) rather than Jinja's ``'dict object' has no
attribute 'VpcId'``. The path lives in a ``_``-prefixed slot, which the sandbox never exposes.
Tracked containers are still ``dict`` / ``list``, so filters, tests and ``json`` treat them as usual.

`AbsentComponent` stands for ``service_instance.components.default`` when no component is attached:
it is an empty mapping (so it renders ``{}``, has length 0 and iterates nothing) whose ``outputs``
key nevertheless yields an empty tracked mapping, while every other key (``name``) stays missing.

Text rule (`to_text`: the renderer's ``finalize`` for ``{{ }}`` output, and also what ``~`` and the
``string`` filter use; other filters such as ``join`` and ``format`` and the ``%`` operator keep
Python's ``str()``), chosen to match what Proton's Java renderer printed and to keep YAML valid:
- strings as they are; numbers as Python prints them (``80``, ``0.5``);
- booleans ``true`` / ``false`` (not Python's ``True``);
- ``None`` as the empty string;
- lists, tuples and mappings as JSON flow text (``["a", "b"]``, ``{"k": 1}``), see `yamltext`;
- anything else through ``str()``.

Invariants: tracking copies, never mutates, the caller's data; it replaces block-marker characters
in strings and string keys (`yamltext.strip_markers`); it refuses data nested deeper than the
given depth with `TemplateFault`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from baryon.render.errors import TemplateFault
from baryon.render.yamltext import strip_markers, yaml_double_quoted, yaml_flow

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

COMPONENT_PATH = "service_instance.components.default"


def child_path(parent: str, key: Any) -> str:
    """The path of ``parent[key]`` written as a template author would: ``a.b``, ``a[0]``, ``a["x-y"]``."""
    if isinstance(key, int) and not isinstance(key, bool):
        return f"{parent}[{key}]"
    if isinstance(key, str) and _IDENTIFIER.fullmatch(key):
        return f"{parent}.{key}" if parent else key
    return f"{parent}[{yaml_double_quoted(str(key))}]"


class TrackedDict(dict[Any, Any]):
    """A mapping of the rendering context that knows its path."""

    __slots__ = ("_baryon_path",)

    def __init__(self, items: Any = (), path: str = "") -> None:
        super().__init__(items)
        self._baryon_path = path


class TrackedList(list[Any]):
    """A list of the rendering context that knows its path."""

    __slots__ = ("_baryon_path",)

    def __init__(self, items: Any = (), path: str = "") -> None:
        super().__init__(items)
        self._baryon_path = path


class AbsentComponent(TrackedDict):
    """``service_instance.components.default`` when no component is attached (see module docstring)."""

    __slots__ = ()

    def __init__(self, path: str = COMPONENT_PATH) -> None:
        super().__init__((), path)

    def __missing__(self, key: Any) -> Any:
        if key == "outputs":
            return TrackedDict((), child_path(self._baryon_path, "outputs"))
        raise KeyError(key)


def path_of(value: Any) -> str | None:
    """The tracked path of a context container, or None for any other value."""
    if isinstance(value, TrackedDict | TrackedList):
        return value._baryon_path
    return None


def track(value: Any, path: str, *, max_depth: int = 64) -> Any:
    """A tracked copy of ``value`` whose containers know their path (``path`` names ``value``)."""
    if max_depth < 0:
        raise TemplateFault(f"the rendering context is nested too deeply at {path}")
    if isinstance(value, AbsentComponent):
        return AbsentComponent(path)
    if isinstance(value, str):
        return strip_markers(value)
    if isinstance(value, Mapping):
        return TrackedDict(
            (
                (
                    strip_markers(k) if isinstance(k, str) else k,
                    track(v, child_path(path, k), max_depth=max_depth - 1),
                )
                for k, v in value.items()
            ),
            path,
        )
    if isinstance(value, list | tuple):
        return TrackedList(
            (track(v, child_path(path, i), max_depth=max_depth - 1) for i, v in enumerate(value)), path
        )
    return value


def to_text(value: Any) -> str:
    """The text of a value printed by ``{{ }}`` (the rule in the module docstring)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, Mapping | list | tuple):
        return yaml_flow(value, default=to_text)
    return str(value)
