"""Sizes of template values in bytes, and the bounded buffer that macros and blocks render into.

A render is bounded by the memory its strings take, not by their characters: CPython stores a string
with 1, 2 or 4 bytes per character depending on its widest character, so a million emoji take four
times what a million ASCII letters take.

Invariants: `width` is 1, 2 or 4 for any text (1 for ``bytes``); `size` of text is its length times its
width and 32 for anything else (a number or a value printed later); `utf8_size` is the length of the
text once encoded as the UTF-8 that leaves Baryon. A `BoundedBuffer` never holds pieces whose sizes add
up past its check: the check runs before a piece is kept. `BufferedCodeGenerator` makes every output
buffer Jinja creates (macro bodies, ``{% set %}`` and ``{% filter %}`` blocks, ``caller()``) a
`BoundedBuffer`, so a loop inside a macro cannot pile up output before the macro returns.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

from jinja2.compiler import CodeGenerator, Frame

#: Header bytes of a non-ASCII compact string (its size is the header plus (length + 1) times the width).
_HEADER = sys.getsizeof("\x80") - 2
#: What a value that is not text counts for in estimates.
OTHER_SIZE = 32


def width(text: str | bytes) -> int:
    """Bytes per character of ``text`` in memory: 1, 2 or 4."""
    if isinstance(text, bytes) or text.isascii():
        return 1
    per_character = (sys.getsizeof(text) - _HEADER) // (len(text) + 1)
    return 4 if per_character >= 4 else 2 if per_character >= 2 else 1


def widest(*values: Any) -> int:
    """The largest `width` among the values that are text (1 when none is)."""
    return max((width(value) for value in values if isinstance(value, str | bytes)), default=1)


def size(value: Any) -> int:
    """Bytes a value takes as text: exact for strings and bytes, `OTHER_SIZE` for anything else."""
    if isinstance(value, str | bytes):
        return len(value) * width(value)
    return OTHER_SIZE


def utf8_size(text: str) -> int:
    """Bytes of ``text`` encoded as UTF-8 (lone surrogates count as three bytes each)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


class BoundedBuffer(list[str]):
    """An output buffer whose pieces may add up to what ``check`` allows, and no more."""

    __slots__ = ("_check", "_total")

    def __init__(self, check: Callable[[int], None]) -> None:
        super().__init__()
        self._check = check
        self._total = 0

    def append(self, piece: str) -> None:
        self._total += size(piece)
        self._check(self._total)
        super().append(piece)

    def extend(self, pieces: Iterable[str]) -> None:
        for piece in pieces:
            self.append(piece)


class BufferedCodeGenerator(CodeGenerator):
    """Jinja's code generator, with every output buffer created by ``environment.baryon_buffer()``."""

    def buffer(self, frame: Frame) -> None:
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = environment.baryon_buffer()")
