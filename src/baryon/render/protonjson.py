"""JSON text in the style Proton wrote its files in (``proton.auto.tfvars.json``,
``.proton/deployment-metadata.json``): the default pretty printer of Jackson, Java's JSON library.

The style, byte for byte:
- an object opens with ``{``, each entry sits on its own line, indented by two spaces per object
  level, written ``"key" : value`` (a space on both sides of the colon), entries separated by ``,``,
  and the closing ``}`` on its own line at the object's own indentation;
- an array stays on the line where it opens: ``[ a, b ]``; it adds no indentation level, so objects
  inside it read ``[ {`` … ``}, {`` … ``} ]`` with their entries one level deeper than the object that
  holds the array;
- empty containers are ``{ }`` and ``[ ]``;
- strings escape ``"``, ``\\``, and control characters below U+0020 (``\\b \\t \\n \\f \\r`` by name,
  the others as ``\\u00XX`` with upper-case hex digits); everything else, ``/`` and non-ASCII text
  included, is written as is; a lone surrogate is written as ``\\uXXXX`` so the text stays valid UTF-8;
- numbers as written by Python (``80``, ``0.5``), booleans ``true`` / ``false``, ``null``;
- no newline at the end.

Invariants: `dumps` is pure and deterministic (mapping order is kept); its output is valid JSON that
reads back (``json.loads``) as the value given; it refuses values JSON cannot hold (non-string keys,
non-finite numbers, other types) with `TypeError` / `ValueError`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

_INDENT = "  "
_NAMED = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def quote(text: str) -> str:
    """``text`` as a JSON string literal in Jackson's escaping."""
    parts = ['"']
    for char in text:
        named = _NAMED.get(char)
        if named is not None:
            parts.append(named)
        elif char < " " or "\ud800" <= char <= "\udfff":
            parts.append(f"\\u{ord(char):04X}")
        else:
            parts.append(char)
    parts.append('"')
    return "".join(parts)


def _number(value: int | float) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"JSON cannot hold the number {value!r}")
    return repr(value) if isinstance(value, float) else str(value)


def _write(value: Any, nesting: int, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(quote(value))
    elif value is None:
        out.append("null")
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, int | float):
        out.append(_number(value))
    elif isinstance(value, Mapping):
        if not value:
            out.append("{ }")
            return
        inner = _INDENT * (nesting + 1)
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be strings, not {type(key).__name__}")
            out.append(("," if index else "") + "\n" + inner + quote(key) + " : ")
            _write(item, nesting + 1, out)
        out.append("\n" + _INDENT * nesting + "}")
    elif isinstance(value, list | tuple):
        if not value:
            out.append("[ ]")
            return
        out.append("[ ")
        for index, item in enumerate(value):
            if index:
                out.append(", ")
            _write(item, nesting, out)
        out.append(" ]")
    else:
        raise TypeError(f"JSON cannot hold a value of type {type(value).__name__}")


def dumps(value: Any) -> str:
    """``value`` as JSON text in Jackson's default pretty-printed style (see the module docstring)."""
    out: list[str] = []
    _write(value, 0, out)
    return "".join(out)
