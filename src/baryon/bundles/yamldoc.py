"""Decoding and parsing the YAML files of a template bundle (schema and manifests).

Invariants:
- Bundle text files are UTF-8; a leading byte-order mark is dropped. Anything else is a
  `BundleError` naming the file and the offset of the first bad byte.
- Every YAML file of a bundle is read here, through `baryon.domain.yamlread` (the reader specs use
  too): plain JSON data only, integers of at most 64 bits and finite floats, non-string keys and
  ``!!binary``-like tags refused, at most `MAX_DEPTH` levels deep (checked as PyYAML composes the
  document, so a file nested 20,000 deep costs nothing) and `MAX_NODES` values with aliases and merge
  keys counted as copies. A key repeated in one mapping is accepted (the last one counts), as Proton's
  reader did.
- Every failure is a `BundleError` naming the file: ``<file>: line L, column C: <problem>`` with 1-based
  line and column, or ``<file> is nested more than …`` / ``<file> is too large: …`` for the limits. It is
  a fault of the bundle, never of the server: registration fails at once and for good.
"""

from __future__ import annotations

from typing import Any

from baryon.bundles.errors import BundleError
from baryon.domain.yamlread import ReadLimits, YamlError, read_yaml

MAX_NODES = 200_000
MAX_DEPTH = 64
_BUNDLE_LIMITS = ReadLimits(max_depth=MAX_DEPTH, max_values=MAX_NODES, unique_keys=False)


def decode_text(path: str, data: bytes) -> str:
    """Return the file's text, or raise BundleError when it is not UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = data[exc.start]
        raise BundleError(
            f"{path} is not UTF-8 text: invalid byte 0x{bad:02x} at offset {exc.start}"
        ) from None
    return text.removeprefix("\ufeff")


def load_yaml(path: str, text: str) -> Any:
    """Parse one YAML document; raise BundleError naming the file (and the line and column) on failure."""
    try:
        return read_yaml(text, _BUNDLE_LIMITS)
    except YamlError as error:
        raise BundleError(error.describe(path)) from None


def describe_value(value: Any) -> str:
    """A short phrase naming a parsed YAML value's kind, for messages."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, int | float):
        return f"the number {value}"
    return f"a {type(value).__name__}"


def load_mapping(path: str, data: bytes) -> dict[Any, Any]:
    """Decode, parse and require a mapping at the top level of a bundle YAML file."""
    document = load_yaml(path, decode_text(path, data))
    if document is None:
        raise BundleError(f"{path} is empty; it must be a YAML mapping")
    if not isinstance(document, dict):
        raise BundleError(f"{path} must be a YAML mapping at the top level, not {describe_value(document)}")
    return document
