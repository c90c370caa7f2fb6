"""HTML ``pattern`` attributes from the patterns of a template's schema.

Job: translate a schema ``pattern`` (Python's `re` in ASCII mode, searched, as `baryon.domain.spec_schema`
checks it) into an HTML ``pattern`` attribute (ECMAScript, anchored by the browser as ``^(?:…)$`` and
compiled with the ``v`` flag) that accepts the same one-line values.

Invariants:
- Pure: no I/O.
- Never stricter than the server: a pattern is translated only when every piece of its syntax means the
  same in both languages (literals, ``\\d \\w \\b`` and their negations, ``\\n \\t \\xHH \\uHHHH``,
  classes, groups, ``(?:``, look-ahead, greedy and lazy quantifiers, ``^ $ |``); ``.`` becomes ``[^\\n]``
  (ECMAScript's ``.`` also refuses U+2028 and U+2029). Anything else (``\\s``, inline flags, named
  groups, look-behind, back references, possessive quantifiers, a repeated look-ahead, a ``]`` first in
  a class) gives None: no browser check at all. Browsers remove line breaks from one-line inputs, so
  ``$`` before a final newline, where Python and ECMAScript differ, never arises there.
- A browser that cannot compile an attribute ignores it, which again only loosens the check.
"""

from __future__ import annotations

import re
import warnings

#: Characters that ECMAScript's ``v``-mode patterns write escaped (syntax characters, and in classes the
#: reserved punctuators).
_SYNTAX = frozenset("^$\\.*+?()[]{}|/")
_CLASS_RESERVED = frozenset("&-!#%,:;<=>@`~")
_SAME_ESCAPES = frozenset("dDwWntrfv")  # the same in Python (ASCII mode) and ECMAScript
_QUANTIFIER = re.compile(r"\{(?:(\d+)|(\d*),(\d*))\}", re.ASCII)
_HEX2 = re.compile(r"x[0-9A-Fa-f]{2}")
_HEX4 = re.compile(r"u[0-9A-Fa-f]{4}")
_ANYTHING = r"[\s\S]"


class _Untranslatable(Exception):
    """The pattern uses syntax whose meaning differs between Python and ECMAScript."""


def _escape(pattern: str, index: int, *, in_class: bool) -> tuple[str, int]:
    """The ECMAScript text of the escape at ``index`` (a backslash) and the index after it."""
    if index + 1 >= len(pattern):
        raise _Untranslatable
    char = pattern[index + 1]
    if char in _SAME_ESCAPES or (char in "bB" and not in_class):
        return "\\" + char, index + 2
    for form in (_HEX2, _HEX4):
        match = form.match(pattern, index + 1)
        if match:
            return "\\" + match.group(), match.end()
    if char.isascii() and char.isalnum():
        raise _Untranslatable  # \s, \S, \A, \Z, back references, \U...: not the same, or not in both
    return _literal(char, in_class=in_class), index + 2


def _literal(char: str, *, in_class: bool) -> str:
    if char in _SYNTAX or (in_class and char in _CLASS_RESERVED):
        return "\\" + char
    if char in "\n\r\u2028\u2029":
        raise _Untranslatable
    return char


def _class_atom(pattern: str, position: int) -> tuple[str, bool, int]:
    """One member of a class: its ECMAScript text, whether it is one character, and the index after it."""
    if pattern[position] == "\\":
        text, after = _escape(pattern, position, in_class=True)
        return text, text not in ("\\d", "\\D", "\\w", "\\W"), after
    return _literal(pattern[position], in_class=True), True, position + 1


def _class(pattern: str, index: int) -> tuple[str, int]:
    """The ECMAScript text of the character class at ``index`` and the index after it, read as Python's
    `re` reads it: ``-`` between two members is a range, first or last it is itself."""
    out = ["["]
    position = index + 1
    if pattern.startswith("^", position):
        out.append("^")
        position += 1
    if pattern.startswith("]", position):
        raise _Untranslatable  # a literal ']' first: an empty class in ECMAScript
    while True:
        if position >= len(pattern):
            raise _Untranslatable
        if pattern[position] == "]":
            out.append("]")
            return "".join(out), position + 1
        start, start_single, position = _class_atom(pattern, position)
        if pattern.startswith("-", position) and position + 1 < len(pattern):
            if pattern[position + 1] == "]":
                out.append(start + "\\-")
                position += 1
                continue
            end, end_single, position = _class_atom(pattern, position + 1)
            if not (start_single and end_single):
                raise _Untranslatable
            out.append(f"{start}-{end}")
        else:
            out.append(start)


def _translate(pattern: str) -> str:
    out: list[str] = []
    position = 0
    repeatable = False
    groups: list[bool] = []  # per open group, whether it is a look-ahead
    while position < len(pattern):
        char = pattern[position]
        if char == "\\":
            text, position = _escape(pattern, position, in_class=False)
            out.append(text)
            repeatable = text not in ("\\b", "\\B")
        elif char == "[":
            text, position = _class(pattern, position)
            out.append(text)
            repeatable = True
        elif char == "(":
            if pattern.startswith(("(?:", "(?=", "(?!"), position):
                out.append(pattern[position : position + 3])
                groups.append(pattern[position + 2] != ":")
                position += 3
            elif pattern.startswith("(?", position):
                raise _Untranslatable  # flags, named groups, look-behind, conditionals
            else:
                out.append("(")
                groups.append(False)
                position += 1
            repeatable = False
        elif char == ")":
            out.append(")")
            position += 1
            repeatable = not groups.pop()  # ECMAScript's 'u' and 'v' modes repeat no look-ahead
        elif char in "*+?" or (char == "{" and _QUANTIFIER.match(pattern, position)):
            if not repeatable:
                raise _Untranslatable
            if char == "{":
                match = _QUANTIFIER.match(pattern, position)
                assert match is not None
                exact, low, high = match.groups()
                out.append(f"{{{exact}}}" if exact is not None else f"{{{low or 0},{high}}}")
                position = match.end()
            else:
                out.append(char)
                position += 1
            if pattern.startswith("?", position):
                out.append("?")
                position += 1
            elif pattern.startswith("+", position):
                raise _Untranslatable  # possessive: Python only
            repeatable = False
        elif char == ".":
            out.append("[^\\n]")  # Python's '.'; ECMAScript's also refuses \r, U+2028 and U+2029
            position += 1
            repeatable = True
        elif char in "^$|":
            out.append(char)
            position += 1
            repeatable = False
        else:
            out.append(_literal(char, in_class=False))
            position += 1
            repeatable = True
    return "".join(out)


def browser_pattern(pattern: str) -> str | None:
    """An HTML ``pattern`` attribute that accepts exactly the one-line values in which Python's `re`
    (ASCII mode) finds ``pattern``, or None when the pattern is not a valid Python pattern or uses syntax
    whose meaning differs between Python and ECMAScript (``\\s``, flags, named groups, look-behind,
    back references, possessive quantifiers, ...), so that the browser checks nothing rather than more.

    The browser anchors the attribute and compiles it with the ``v`` flag; the schema's pattern is
    searched, so the result is ``[\\s\\S]*(?:P)[\\s\\S]*`` with P translated (``.`` as ``[^\\n]``,
    literal braces and brackets escaped, class members escaped as ``v`` mode wants)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Python warns of a '[' inside a class, which is a literal
            re.compile(pattern, re.ASCII)
        translated = _translate(pattern)
    except (re.error, _Untranslatable, RecursionError, IndexError):
        return None
    return f"{_ANYTHING}*(?:{translated}){_ANYTHING}*"


def text_pattern(pattern: str | None, max_length: int | None) -> str | None:
    """The ``pattern`` attribute of a text field holding both the schema's ``pattern`` (see
    `browser_pattern`) and its ``maxLength``, counted in code points as the server counts (HTML's
    ``maxlength`` counts UTF-16 units and would refuse text the server accepts); None when neither."""
    translated = browser_pattern(pattern) if pattern is not None else None
    if max_length is None:
        return translated
    if translated is None:
        return f"{_ANYTHING}{{0,{max_length}}}"
    return f"(?={_ANYTHING}{{0,{max_length}}}$){translated}"
