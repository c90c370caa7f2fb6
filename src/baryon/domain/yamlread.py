"""The one reader of YAML text Baryon accepts from users: spec documents and every YAML file of a bundle.

Job: turn YAML text into plain JSON data without letting the text cost more than its size suggests, and
describe every failure with a position, so that callers only add what the text is (``Spec``, a file).

Invariants:
- Parsing uses a restriction of PyYAML's pure-Python safe loader, so every value is plain JSON data:
  mappings with string keys, lists, strings, integers of at most 64 bits, finite floats, booleans and
  null. Dates and times stay strings; ``!!binary``, ``!!set``, ``!!omap``, ``!!pairs`` and
  ``!!timestamp`` are refused, as are non-string mapping keys, ``.inf``/``.nan`` and integers outside
  the signed 64-bit range (checked on the digits before Python converts them, so a 5,000-digit number
  costs nothing) and strings holding a NUL character (written as the escape ``"\0"``; the text itself
  cannot hold one), each with its line and column. With ``unique_keys`` a key repeated in one mapping is
  refused too.
- Limits hold while parsing, before anything recurses over the result: nesting deeper than
  `ReadLimits.max_depth` is refused as the composer reaches it (so PyYAML never recurses further), and a
  document that expands, with aliases and merge keys counted as copies, to more than
  `ReadLimits.max_values` values is refused as soon as the count passes it ("billion laughs" and merge-key
  bombs end in milliseconds). A self-referencing alias or merge is refused.
- The result is a tree: no object is shared between two places of the document.
- Every failure is a `YamlError` whose ``detail`` is a complete phrase to put after the subject
  (``<subject>: line L, column C: <problem>`` or ``<subject> is nested more than …``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import yaml

_YAML_TAG = "tag:yaml.org,2002:"
_TIMESTAMP = _YAML_TAG + "timestamp"
_MERGE = _YAML_TAG + "merge"
_UNSUPPORTED_TAGS = ("binary", "set", "omap", "pairs", "timestamp")
_INT64 = 2**63
#: Characters (underscores aside) of the longest text that can spell a 64-bit integer: sign, ``0b``, 64 bits.
_INT_TEXT_MAX = 67


@dataclass(frozen=True)
class ReadLimits:
    """How much one document may hold, and how strict its mappings are."""

    max_depth: int = 64
    max_values: int = 10_000
    unique_keys: bool = True


class YamlError(Exception):
    """The text is not acceptable YAML; ``describe(subject)`` is the complete message."""

    def __init__(self, detail: str, *, positioned: bool) -> None:
        super().__init__(detail)
        self.detail = detail
        self.positioned = positioned

    def describe(self, subject: str) -> str:
        """``<subject>: line L, column C: …`` or ``<subject> is nested …``."""
        return f"{subject}: {self.detail}" if self.positioned else f"{subject} {self.detail}"


class _LimitError(yaml.YAMLError):
    """A size limit was hit while parsing; the text is the phrase after the subject."""


def describe_key(value: Any) -> str:
    """How a non-string mapping key is named in messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value) if isinstance(value, int | float) else f"of type {type(value).__name__}"


def _refused(problem: str, mark: Any) -> yaml.constructor.ConstructorError:
    """The error for a node the reader refuses: `problem`, at the node's position."""
    return yaml.constructor.ConstructorError(None, None, problem, mark)


class _Loader(yaml.SafeLoader):
    """SafeLoader that yields bounded, JSON-compatible data only."""

    yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag != _TIMESTAMP]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, stream: str, limits: ReadLimits) -> None:
        super().__init__(stream)
        self.limits = limits
        self._depth = 0
        self._merging: list[int] = []
        self._merged = 0

    def too_deep(self) -> _LimitError:
        return _LimitError(too_deep(self.limits.max_depth))

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > self.limits.max_depth:
                raise self.too_deep()
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_mapping_node(self, anchor: Any) -> yaml.MappingNode:
        node = super().compose_mapping_node(anchor)
        if not self.limits.unique_keys:
            return node
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _MERGE:
                continue
            identity = (key_node.tag, key_node.value)
            if identity in seen:
                raise _refused(f"duplicate key '{key_node.value}'", key_node.start_mark)
            seen.add(identity)
        return node

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        if id(node) in self._merging:
            raise _refused("a merge key (<<) refers to the mapping that contains it", node.start_mark)
        if len(self._merging) >= self.limits.max_depth:
            raise self.too_deep()
        self._merging.append(id(node))
        try:
            super().flatten_mapping(node)
        finally:
            self._merging.pop()
        self._merged += len(node.value)
        if self._merged > self.limits.max_values:
            raise _LimitError(too_large(self.limits.max_values))

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                raise _refused(
                    f"mapping key {describe_key(key)} is not a string; quote it", key_node.start_mark
                )
        return mapping

    def construct_text(self, node: yaml.ScalarNode) -> str:
        value = self.construct_yaml_str(node)
        if "\x00" in value:
            raise _refused("the NUL character (\\0) is not allowed", node.start_mark)
        return value

    def construct_bounded_int(self, node: yaml.ScalarNode) -> int:
        text = str(node.value).replace("_", "")
        value = self.construct_yaml_int(node) if len(text) <= _INT_TEXT_MAX else _INT64
        if not -_INT64 <= value < _INT64:
            raise _refused("integers must fit in 64 bits; quote the value if it is text", node.start_mark)
        return value

    def construct_finite_float(self, node: yaml.ScalarNode) -> float:
        value = self.construct_yaml_float(node)
        if not math.isfinite(value):
            raise _refused(
                f"'{node.value}' is not a finite number; quote the value if it is text", node.start_mark
            )
        return value

    def construct_unsupported(self, node: yaml.Node) -> Any:
        tag = node.tag.replace(_YAML_TAG, "!!")
        raise _refused(f"the YAML tag {tag} is not supported", node.start_mark)


_Loader.add_constructor(_YAML_TAG + "str", _Loader.construct_text)
_Loader.add_constructor(_YAML_TAG + "int", _Loader.construct_bounded_int)
_Loader.add_constructor(_YAML_TAG + "float", _Loader.construct_finite_float)
for _name in _UNSUPPORTED_TAGS:
    _Loader.add_constructor(_YAML_TAG + _name, _Loader.construct_unsupported)


def too_deep(max_depth: int) -> str:
    """The phrase, after the subject, for a document nested past its depth limit."""
    return f"is nested more than {max_depth} levels deep (or a YAML alias refers to itself)"


def too_large(max_values: int) -> str:
    """The phrase, after the subject, for a document past its value budget."""
    return (
        f"is too large: it expands to more than {max_values} values "
        "(YAML aliases and merge keys count as copies)"
    )


def _line_column(text: str, position: int) -> tuple[int, int]:
    before = text[:position]
    return before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1


def _syntax_detail(text: str, exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        detail = f"line {mark.line + 1}, column {mark.column + 1}: {exc.problem}"
        context = exc.context_mark
        if exc.context and context is not None and (context.line, context.column) != (mark.line, mark.column):
            detail += f" ({exc.context} at line {context.line + 1}, column {context.column + 1})"
        return detail
    if isinstance(exc, yaml.reader.ReaderError):
        line, column = _line_column(text, exc.position)
        return f"line {line}, column {column}: unacceptable character #x{exc.character:04x} ({exc.reason})"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _tree(value: Any, depth: int, budget: list[int], limits: ReadLimits) -> Any:
    """Copy the parsed value into a tree, within the value and depth limits."""
    budget[0] += 1
    if budget[0] > limits.max_values:
        raise YamlError(too_large(limits.max_values), positioned=False)
    if depth > limits.max_depth:
        raise YamlError(too_deep(limits.max_depth), positioned=False)
    if isinstance(value, dict):
        return {key: _tree(item, depth + 1, budget, limits) for key, item in value.items()}
    if isinstance(value, list):
        return [_tree(item, depth + 1, budget, limits) for item in value]
    return value


def read_yaml(text: str, limits: ReadLimits) -> Any:
    """Parse one YAML document into plain JSON data (see the module invariants), or raise YamlError."""
    try:
        loader = _Loader(text, limits)
        try:
            document = loader.get_single_data()
        finally:
            loader.dispose()
    except _LimitError as exc:
        raise YamlError(str(exc), positioned=False) from None
    except yaml.YAMLError as exc:
        raise YamlError(_syntax_detail(text, exc), positioned=True) from None
    return _tree(document, 0, [0], limits)


def kind_of(value: Any) -> str:
    """A short phrase naming the kind of a value read from YAML, for messages ("a mapping", "null")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return "a number"
