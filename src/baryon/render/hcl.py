"""HCL text written by Baryon: ``variable`` blocks with type constraints, and ``.tfvars`` values.

Layout follows ``terraform fmt``, so generated files pass ``terraform fmt -check``:
- two spaces of indentation per level;
- in a run of consecutive lines that each hold one single-line attribute (``name = value``), the
  ``=`` signs line up one space after the longest name; an attribute whose value spans several lines
  (``object({`` … ``})``, ``list(`` … ``)``, ``{`` … ``}``, ``[`` … ``]``) is written ``name = `` with a
  single space and ends the run, as ``terraform fmt`` leaves it;
- ``list(object({...}))`` is written over several lines: ``list(``, the object one level deeper, ``)``.

Types (`Type`) are a primitive written as is (``string``, ``map(string)``, ``map(any)``), an
`Obj` (ordered attributes) or a `ListOf`.

Values (`tfvars`): strings are quoted with HCL's escapes (``\\" \\\\ \\n \\r \\t``, other control
characters as ``\\uXXXX``) and with ``${`` and ``%{`` doubled to ``$${`` / ``%%{`` so Terraform reads
them literally; numbers as Python writes them; ``true`` / ``false`` / ``null``; lists of scalars on
one line (``["a", "b"]``); objects and lists holding containers over several lines. Object keys that
are not HCL identifiers (or are ``true`` / ``false`` / ``null``) are quoted.

Invariants: pure functions of their arguments; mapping order is kept; output ends with a newline.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

_INDENT = "  "
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_KEYWORDS = frozenset({"true", "false", "null"})
_NAMED = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


@dataclass(frozen=True)
class Obj:
    """``object({...})`` with attributes in the order given."""

    attributes: tuple[tuple[str, Type], ...]


@dataclass(frozen=True)
class ListOf:
    """``list(<element>)``."""

    element: Type


Type: TypeAlias = str | Obj | ListOf


# --- layout ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Attribute:
    """One attribute: a name and its value text split into lines (continuation lines already indented)."""

    name: str
    lines: tuple[str, ...]


def _attributes(items: Sequence[_Attribute], indent: str) -> list[str]:
    """Lines of consecutive attributes at ``indent``, single-line runs aligned as terraform fmt does."""
    lines: list[str] = []
    index = 0
    while index < len(items):
        if len(items[index].lines) > 1:
            item = items[index]
            lines.append(f"{indent}{item.name} = {item.lines[0]}")
            lines.extend(item.lines[1:])
            index += 1
            continue
        end = index
        while end < len(items) and len(items[end].lines) == 1:
            end += 1
        width = max(len(item.name) for item in items[index:end])
        for item in items[index:end]:
            lines.append(f"{indent}{item.name.ljust(width)} = {item.lines[0]}")
        index = end
    return lines


def _type_lines(kind: Type, level: int) -> tuple[str, ...]:
    """A type expression as lines; the first line has no indentation, later ones sit at ``level``."""
    if isinstance(kind, str):
        return (kind,)
    if isinstance(kind, ListOf):
        inner = _type_lines(kind.element, level + 1)
        if len(inner) == 1:
            return (f"list({inner[0]})",)
        indent = _INDENT * (level + 1)
        return ("list(", indent + inner[0], *inner[1:], _INDENT * level + ")")
    items = [_Attribute(name, _type_lines(value, level + 1)) for name, value in kind.attributes]
    return ("object({", *_attributes(items, _INDENT * (level + 1)), _INDENT * level + "})")


def variable_block(name: str, kind: Type, *, default_null: bool) -> str:
    """``variable "<name>" { type = ... [default = null] }`` ending with a newline."""
    items = [_Attribute("type", _type_lines(kind, 1))]
    if default_null:
        items.append(_Attribute("default", ("null",)))
    return "\n".join([f'variable "{name}" {{', *_attributes(items, _INDENT), "}"]) + "\n"


# --- values ---------------------------------------------------------------------------------------


def quote(text: str) -> str:
    """``text`` as an HCL quoted string that Terraform reads back as exactly ``text``."""
    parts = ['"']
    for index, char in enumerate(text):
        named = _NAMED.get(char)
        if named is not None:
            parts.append(named)
        elif char < " " or char == "\x7f" or "\ud800" <= char <= "\udfff":
            parts.append(f"\\u{ord(char):04X}")
        elif char in "$%" and text[index + 1 : index + 2] == "{":
            parts.append(char + char)
        else:
            parts.append(char)
    parts.append('"')
    return "".join(parts)


def _key(name: str) -> str:
    if _IDENTIFIER.fullmatch(name) and name not in _KEYWORDS:
        return name
    return quote(name)


def _scalar(value: Any) -> str | None:
    if isinstance(value, str):
        return quote(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"HCL cannot hold the number {value!r}")
        return repr(value) if isinstance(value, float) else str(value)
    return None


def _value_lines(value: Any, level: int) -> tuple[str, ...]:
    """A value as lines; the first has no indentation, later ones sit at ``level``."""
    scalar = _scalar(value)
    if scalar is not None:
        return (scalar,)
    if isinstance(value, Mapping):
        if not value:
            return ("{}",)
        items = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"HCL object keys must be strings, not {type(key).__name__}")
            items.append(_Attribute(_key(key), _value_lines(item, level + 1)))
        return ("{", *_attributes(items, _INDENT * (level + 1)), _INDENT * level + "}")
    if isinstance(value, list | tuple):
        if not value:
            return ("[]",)
        elements = [_value_lines(item, level + 1) for item in value]
        if all(len(element) == 1 for element in elements):
            return ("[" + ", ".join(element[0] for element in elements) + "]",)
        indent = _INDENT * (level + 1)
        lines = ["["]
        for element in elements:
            lines.append(indent + element[0])
            lines.extend(element[1:])
            lines[-1] += ","
        lines.append(_INDENT * level + "]")
        return tuple(lines)
    raise TypeError(f"HCL cannot hold a value of type {type(value).__name__}")


def tfvars(values: Mapping[str, Any]) -> str:
    """A ``.tfvars`` document assigning each top-level value to the variable of its name."""
    items = []
    for name, value in values.items():
        if not _IDENTIFIER.fullmatch(name):
            raise ValueError(f"{name!r} is not a Terraform variable name")
        items.append(_Attribute(name, _value_lines(value, 0)))
    return "\n".join(_attributes(items, "")) + "\n"
