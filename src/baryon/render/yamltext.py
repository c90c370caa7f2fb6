"""YAML text produced by the renderer: safe scalars, JSON-style flow values and indented blocks.

Rendered CloudFormation templates are YAML documents, so every piece of text the renderer itself
produces (as opposed to text the template author wrote) must keep the document valid YAML and mean
exactly the value it came from.

Scalar rule (`yaml_scalar`), used for keys and values emitted by the Proton filters:
- A string is written *plain* (unquoted) only if it matches
  ``[A-Za-z0-9_/+=]([A-Za-z0-9_./@+=:-]*[A-Za-z0-9_./@+=-])?`` — letters, digits and ``_ . / @ + =
  : -``, not starting with ``. @ : -``, not ending with ``:`` — *and* a YAML 1.1 resolver (PyYAML's,
  the same family CloudFormation uses) reads it back as a string. So ``arn:aws:iam::123456789012:
  policy/p``, ``my-bucket`` and ``a/b.c`` stay plain.
- Everything else is *double-quoted* with JSON escaping: the empty string, anything with spaces,
  ``#``, ``,``, quotes, brackets or braces, a leading ``. - @``, a trailing ``:``, and every
  string YAML would read as another type (``true``, ``no``, ``null``, ``~``, ``8080``, ``1e3``,
  ``0x1F``, ``1:30``, ``2024-01-01``, ``=``).

Flow rule (`yaml_flow`), used by ``{{ }}`` for lists and mappings: JSON text (``["a", 1, true]``,
``{"k": "v"}``), which is also a YAML flow collection and stays valid inside a single-quoted YAML
scalar, unlike Python's ``['a']`` repr.

Both rules escape, beyond JSON's own escapes, the characters YAML forbids or treats as line breaks
(C1 controls, U+2028, U+2029, U+FEFF, U+FFFE, U+FFFF, lone surrogates) and the noncharacters
U+FDD0 to U+FDEF, so output written by these functions never contains a block marker.

Indented blocks: a multi-line filter result is an `IndentedBlock` whose first line is preceded by
`BLOCK_START` and every later line by `BLOCK_LINE` (both Unicode noncharacters). After the whole
template is rendered, `indent_blocks` replaces each `BLOCK_LINE` by as many spaces as the column at
which the block's `BLOCK_START` ended up in the *output*. Resolving in the output rather than at the
filter call means a block keeps working through ``{% set %}``, macros, ``{% if %}`` and loops, and
the indentation is right for the YAML that is actually produced. Marker characters that reach the
renderer from outside (template source, context values) are replaced by U+FFFD first
(`strip_markers`), so only filters can create blocks.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml
import yaml.resolver

BLOCK_START = "\ufdd0"
BLOCK_LINE = "\ufdd1"
_MARKERS = re.compile(f"[{BLOCK_START}{BLOCK_LINE}]")
_MARKER_SPLIT = re.compile(f"([{BLOCK_START}{BLOCK_LINE}])")

_PLAIN = re.compile(r"[A-Za-z0-9_/+=](?:[A-Za-z0-9_./@+=:-]*[A-Za-z0-9_./@+=-])?")
_STR_TAG = "tag:yaml.org,2002:str"
_RESOLVER = yaml.resolver.Resolver()

# Characters JSON leaves raw that YAML rejects, folds as line breaks, or that we reserve as markers.
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufdd0-\ufdef\ufeff\ufffe\uffff]")


class IndentedBlock(str):
    """Multi-line filter output carrying block markers; see the module docstring."""

    __slots__ = ()


def block(lines: list[str]) -> str:
    """Join lines into an `IndentedBlock`; no lines give the empty string (no markers)."""
    if not lines:
        return ""
    return IndentedBlock(BLOCK_START + ("\n" + BLOCK_LINE).join(lines))


def strip_markers(text: str) -> str:
    """Replace block-marker characters coming from outside the renderer by U+FFFD."""
    if BLOCK_START in text or BLOCK_LINE in text:
        return _MARKERS.sub("\ufffd", text)
    return text


def indent_blocks(text: str) -> str:
    """Resolve block markers in rendered output: each continuation line is indented to the column of
    its block's first line. Tabs count as one column (YAML forbids tabs in indentation anyway)."""
    if BLOCK_START not in text and BLOCK_LINE not in text:
        return text
    out: list[str] = []
    column = 0
    indent = 0
    for piece in _MARKER_SPLIT.split(text):
        if piece == BLOCK_START:
            indent = column
        elif piece == BLOCK_LINE:
            out.append(" " * indent)
            column += indent
        elif piece:
            out.append(piece)
            newline = piece.rfind("\n")
            column = len(piece) - newline - 1 if newline >= 0 else column + len(piece)
    return "".join(out)


def _escape_for_yaml(json_text: str) -> str:
    return _YAML_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", json_text)


def yaml_double_quoted(text: str) -> str:
    """A YAML double-quoted scalar that reads back as exactly ``text``."""
    return _escape_for_yaml(json.dumps(text, ensure_ascii=False))


def _resolved_tag(text: str) -> str:
    """The tag a YAML 1.1 loader gives ``text`` as a plain scalar (``...:str``, ``...:bool``, …)."""
    tag: str = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    return tag


def yaml_scalar(text: str) -> str:
    """``text`` as a YAML scalar: plain when that is unambiguous, double-quoted otherwise."""
    if _PLAIN.fullmatch(text) and _resolved_tag(text) == _STR_TAG:
        return text
    return yaml_double_quoted(text)


def yaml_flow(value: Any, default: Any = None) -> str:
    """A list or mapping as JSON text that is also a valid YAML flow collection.

    ``default`` converts values JSON cannot encode (as for `json.dumps`). Raises ValueError for NaN
    and infinities, which neither JSON nor CloudFormation accept.
    """
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, default=default)
    return _escape_for_yaml(text)
