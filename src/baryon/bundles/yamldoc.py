"""Decoding and parsing the YAML files of a template bundle (schema and manifests).

Invariants:
- Bundle text files are UTF-8; a leading byte-order mark is dropped. Anything else is a
  `BundleError` naming the file and the offset of the first bad byte.
- YAML is parsed with a restriction of PyYAML's pure-Python safe loader, so the result is plain
  JSON data: mappings with string keys, lists, strings, numbers, booleans and null. Timestamps are
  not resolved (``2024-01-01`` stays a string); ``!!binary``, ``!!set``, ``!!omap``, ``!!pairs``
  and ``!!timestamp`` are refused, and so is a mapping key that is not a string (``on:``,
  ``yes:``, ``1:``), with its position.
- A syntax error becomes ``<file>: line L, column C: <problem>`` with 1-based line and column.
- A parsed document is walked once with a budget: alias chains that would expand to more than
  `MAX_NODES` values, or nesting deeper than `MAX_DEPTH` (which also catches recursive aliases),
  are refused, so later consumers can traverse or serialise the result safely.
"""

from __future__ import annotations

from typing import Any

import yaml

from baryon.bundles.errors import BundleError

MAX_NODES = 200_000
MAX_DEPTH = 64

_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_UNSUPPORTED_TAGS = ("binary", "set", "omap", "pairs", "timestamp")


class _BundleLoader(yaml.SafeLoader):
    """SafeLoader that yields JSON-compatible data only."""

    yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag != _TIMESTAMP]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"mapping key {describe_value(key)} is not a string; quote it",
                    key_node.start_mark,
                )
        return mapping


def _unsupported(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    tag = node.tag.replace("tag:yaml.org,2002:", "!!")
    message = f"the YAML tag {tag} is not supported"
    raise yaml.constructor.ConstructorError(None, None, message, node.start_mark)


for _name in _UNSUPPORTED_TAGS:
    _BundleLoader.add_constructor(f"tag:yaml.org,2002:{_name}", _unsupported)


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


def _line_column(text: str, position: int) -> tuple[int, int]:
    before = text[:position]
    line = before.count("\n") + 1
    column = position - (before.rfind("\n") + 1) + 1
    return line, column


def _syntax_error(path: str, text: str, exc: yaml.YAMLError) -> BundleError:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        message = f"{path}: line {mark.line + 1}, column {mark.column + 1}: {exc.problem}"
        context_mark = exc.context_mark
        if (
            exc.context
            and context_mark is not None
            and (context_mark.line, context_mark.column)
            != (
                mark.line,
                mark.column,
            )
        ):
            message += f" ({exc.context} at line {context_mark.line + 1}, column {context_mark.column + 1})"
        return BundleError(message)
    if isinstance(exc, yaml.reader.ReaderError):
        line, column = _line_column(text, exc.position)
        return BundleError(
            f"{path}: line {line}, column {column}: unacceptable character #x{exc.character:04x} "
            f"({exc.reason})"
        )
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return BundleError(f"{path}: {first}")


def _check_size(path: str, document: Any) -> None:
    """Walk the document as if aliases were expanded, within the node and depth budgets."""
    nodes = 0
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise BundleError(f"{path}: the YAML expands to more than {MAX_NODES} values through aliases")
        if depth > MAX_DEPTH:
            raise BundleError(
                f"{path}: the YAML is nested more than {MAX_DEPTH} levels deep (or an alias refers to itself)"
            )
        if isinstance(value, dict):
            for key, item in value.items():
                stack.append((key, depth + 1))
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)


def load_yaml(path: str, text: str) -> Any:
    """Parse one YAML document; raise BundleError naming the file, line and column on failure."""
    try:
        document = yaml.load(text, Loader=_BundleLoader)
    except yaml.YAMLError as exc:
        raise _syntax_error(path, text, exc) from None
    _check_size(path, document)
    return document


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
