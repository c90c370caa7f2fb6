"""The sandboxed Jinja environment that renders Proton templates, and the limits it enforces.

A template author must not reach Python internals, files, the network or the server's memory and
time. `ProtonSandbox` builds on Jinja's ``ImmutableSandboxedEnvironment`` (no ``_``-prefixed or
internal attributes such as ``__class__``, ``mro``, ``__globals__``, ``func_code``; no mutation of
lists and dicts; ``str.format`` through a sandboxed formatter) and adds:

Reach
- No loader: ``{% include %}``, ``{% import %}``, ``{% from … import %}`` and ``{% extends %}`` are
  refused when the template is compiled, with their line. No extensions are enabled.
- Globals are only ``range`` (capped, below), ``dict``, ``cycler``, ``joiner`` and ``namespace``;
  ``lipsum`` is removed. Filters are Jinja's built-ins plus the four Proton filters.

Text
- ``{{ }}`` output, ``~`` operands and the ``string`` filter follow `values.to_text` (``true``,
  ``false``, empty for none, JSON for lists and mappings).

Lookup and strictness
- ``a.b`` on a mapping looks the key up first and falls back to attributes, so inputs or outputs
  named ``items``, ``keys``, ``values`` or ``get`` mean the data, not the dict method (as ``.`` on a
  map is a key lookup in Jinjava, the Java renderer Proton used).
- Undefined values are `ProtonUndefined`: printing, iterating, comparing, testing for truth or
  doing arithmetic with one fails the render with ``<path> is not defined``, the path being the one
  the author wrote (``environment.outputs.VpcId``, ``service_instances[1].outputs.Url``). Attribute
  and item access on an undefined value chain (the message still names the first missing name), so
  ``is defined``, ``is undefined`` and ``default(...)`` work on any missing path. ``tojson`` fails the
  same way when its value is, or contains, an undefined value.

Limits (`RenderLimits`; defaults in brackets)
- ``range()`` longer than ``max_items`` [100 000] is refused.
- Steps: every loop iteration, call (function, macro, method) and filter application counts one
  step; more than ``max_steps`` [500 000] fails the render. The count is deterministic. As a
  backstop, the render also fails once it has run ``max_seconds`` [30] by ``clock`` (checked every
  1024 steps).
- Strings are measured in bytes of memory (`sizes`: 1, 2 or 4 bytes per character, as CPython stores
  them), not characters. No operator (``*``, ``+``, ``%``, ``~``), filter, output buffer (macros,
  ``{% set %}`` and ``{% filter %}`` blocks, ``caller()``, checked at every append, so a loop inside a
  macro cannot pile output up) or ``str`` method may produce a string larger than
  ``max_string_bytes`` [1 000 000]. Where the result could be large relative to its inputs
  (``'a' * n``, ``center``, ``ljust``, ``rjust``, ``zfill``, ``expandtabs``, ``indent``, ``wordwrap``,
  ``replace``, ``join``, ``format`` and ``%`` widths, ``str.format`` field widths) the size is checked
  *before* the work is done. List growth by ``*`` and ``+`` is capped at ``max_items`` items and
  ``max_string_bytes`` bytes of strings; ``batch``/``slice`` with a fill value, and every list a filter
  returns (``'…' | list``), at ``max_items``. ``str.translate`` is refused.
- Calls of macros (``caller()`` included) and of recursive loops nest at most ``max_call_depth`` [32]
  deep, so the strings each level keeps alive are bounded too.
- Integers from ``*`` and ``**`` are capped at ``max_int_bits`` [65 536] bits; ``tojson`` indent at
  16.
- Python recursion overflow and memory exhaustion become render failures (see `jinja`).

Memory: a render holds at most a few maximal strings per call level (its arguments, its ``{% set %}``
values and its buffer) times ``max_call_depth`` levels, plus what the template's own source names: a
recursive macro over a maximal string of emoji peaks at tens of megabytes, not gigabytes
(tests/render/test_memory.py measures it).

Invariants: one `ProtonSandbox` renders one template once (its step count and deadline are per
render; create a new one per render); every limit breach raises `TemplateFault` with a complete
sentence as its detail.
"""

from __future__ import annotations

import functools
import re
import time
import types
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from jinja2 import StrictUndefined, Template, Undefined, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, LoopContext, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from jinja2.utils import missing
from jinja2.visitor import NodeTransformer

from baryon.render.errors import TemplateFault
from baryon.render.filters import PROTON_FILTERS
from baryon.render.sizes import BoundedBuffer, BufferedCodeGenerator, size, widest, width
from baryon.render.values import TrackedDict, TrackedList, child_path, path_of, to_text

_CLOCK_EVERY = 1024
_MAX_TOJSON_INDENT = 16
_DIGITS = re.compile(r"[0-9]+")
# A printf-style conversion: optional mapping key, flags, width and precision.
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|[0-9]+)?(?:\.(\*|[0-9]*))?[hlL]?(.)", re.DOTALL)


@dataclass(frozen=True)
class RenderLimits:
    """Bounds on one render; see the module docstring for what each one covers.

    The 1 000 000-byte (UTF-8) output default matches CloudFormation's largest template (1 MB, from S3);
    Proton's own bundle limit for a template file is 200 KB of source.
    """

    max_output_bytes: int = 1_000_000
    max_string_bytes: int = 1_000_000
    max_items: int = 100_000
    max_steps: int = 500_000
    max_seconds: float = 30.0
    max_int_bits: int = 65_536
    max_depth: int = 64
    max_call_depth: int = 32
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)


class ProtonUndefined(StrictUndefined):
    """A strict undefined that names the missing path and chains through ``.`` and ``[]``."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint:
            return self._undefined_hint
        name = self._undefined_name
        if self._undefined_obj is missing:
            return f"{name} is not defined" if name is not None else "a value is not defined"
        base = path_of(self._undefined_obj)
        if base is not None:
            return f"{child_path(base, name)} is not defined"
        message: str = super()._undefined_message
        return message

    def _child(self, name: Any) -> ProtonUndefined:
        return ProtonUndefined(hint=self._undefined_message, name=name, exc=self._undefined_exception)

    def __getattr__(self, name: str) -> Any:
        if name[:2] == "__" and name[-2:] == "__":
            raise AttributeError(name)
        return self._child(name)

    def __getitem__(self, key: Any) -> ProtonUndefined:  # type: ignore[override]
        return self._child(key)


def _json_default(value: Any) -> Any:
    """``default`` of the ``tojson`` encoder: an undefined value fails with its own message."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _finalize(value: Any) -> str:
    """What ``{{ value }}`` prints: strict on undefined values, then `values.to_text`."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    return to_text(value)


class _CountedIterable:
    """A loop's iterable that spends one step per item (and keeps ``len`` when the source has one)."""

    __slots__ = ("_sandbox", "_source")

    def __init__(self, source: Any, sandbox: ProtonSandbox) -> None:
        self._source = source
        self._sandbox = sandbox

    def __iter__(self) -> Iterator[Any]:
        step = self._sandbox.step
        for item in self._source:
            step()
            yield item

    def __len__(self) -> int:
        return len(self._source)


class _BoundedFormatter(SandboxedFormatter):
    """``str.format`` for templates: field widths and the growing result are size-checked."""

    def __init__(self, sandbox: ProtonSandbox) -> None:
        super().__init__(sandbox)
        self._sandbox = sandbox
        self._total = 0

    def format_field(self, value: Any, format_spec: str) -> Any:
        for digits in _DIGITS.findall(format_spec):
            self._sandbox.check_string(int(digits), width(format_spec))
        text = super().format_field(value, format_spec)
        self._total += size(text)
        self._sandbox.check_string(self._total)
        return text


_FILE_TAGS: dict[type[nodes.Node], str] = {
    nodes.Include: "{% include %}",
    nodes.Import: "{% import %}",
    nodes.FromImport: "{% from ... import %}",
    nodes.Extends: "{% extends %}",
}


class _Instrument(NodeTransformer):
    """Refuses file-loading tags and routes loops and ``~`` through the sandbox's guards."""

    def visit(self, node: nodes.Node, *args: Any, **kwargs: Any) -> Any:
        for kind, tag in _FILE_TAGS.items():
            if isinstance(node, kind):
                raise TemplateFault(
                    f"{tag} is not supported: a Proton template is a single file and cannot load others",
                    line=node.lineno,
                )
        return super().visit(node, *args, **kwargs)

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _guard_call("baryon_loop_guard", [node.iter], node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _guard_call("baryon_concat", node.nodes, node.lineno)


def _guard_call(method: str, arguments: Sequence[nodes.Node], lineno: int) -> nodes.Call:
    return nodes.Call(nodes.EnvironmentAttribute(method), list(arguments), [], None, None, lineno=lineno)


def _int_or_zero(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class ProtonSandbox(ImmutableSandboxedEnvironment):
    """The Jinja environment of one render (see the module docstring)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = BufferedCodeGenerator

    def __init__(self, limits: RenderLimits | None = None) -> None:
        super().__init__(
            undefined=ProtonUndefined,
            finalize=_finalize,
            autoescape=False,
            keep_trailing_newline=True,
            auto_reload=False,
            cache_size=0,
        )
        self.limits = limits if limits is not None else RenderLimits()
        self._steps = 0
        self._calls = 0
        self._deadline = self.limits.clock() + self.limits.max_seconds
        self.globals.pop("lipsum", None)
        self.globals["range"] = self._range
        self.filters.update(PROTON_FILTERS)
        self.filters["string"] = _finalize
        self.policies["json.dumps_kwargs"] = {"sort_keys": True, "default": _json_default}
        self._install_filter_guards()
        self.concat = self._concat  # type: ignore[method-assign]

    # -- compilation -------------------------------------------------------------------------------

    def compile_template(self, source: str, file_name: str) -> Template:
        """Parse, instrument and compile ``source``; raises TemplateSyntaxError or TemplateFault."""
        tree = self.parse(source, name=file_name, filename=file_name)
        _Instrument().visit(tree)
        code = self.compile(tree, name=file_name, filename=file_name)
        return self.template_class.from_code(self, code, self.make_globals(None), None)

    # -- budget ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Reset the step count and call depth and start the clock for a render."""
        self._steps = 0
        self._calls = 0
        self._deadline = self.limits.clock() + self.limits.max_seconds

    def step(self) -> None:
        """Spend one step; fail past the step limit or, checked every 1024 steps, the deadline."""
        self._steps += 1
        if self._steps > self.limits.max_steps:
            raise TemplateFault(
                f"rendering stopped after {self.limits.max_steps} steps (loop iterations, calls and "
                "filters); does a loop or a recursive macro run away?"
            )
        if self._steps % _CLOCK_EVERY == 0 and self.limits.clock() > self._deadline:
            raise TemplateFault(f"rendering took longer than {self.limits.max_seconds:g} seconds")

    def check_string(self, length: int, bytes_per_character: int = 1) -> None:
        """Fail when a string of ``length`` characters of that width would pass the byte limit."""
        total = length * bytes_per_character
        if total > self.limits.max_string_bytes:
            raise TemplateFault(
                f"a string of {total} bytes exceeds the limit of {self.limits.max_string_bytes} bytes"
            )

    def baryon_buffer(self) -> BoundedBuffer:
        """The output buffer of a macro or block (see `sizes.BufferedCodeGenerator`)."""
        return BoundedBuffer(self.check_string)

    def check_items(self, count: int) -> None:
        if count > self.limits.max_items:
            raise TemplateFault(f"a list of {count} items exceeds the limit of {self.limits.max_items} items")

    def _check_int_bits(self, bits: int) -> None:
        if bits > self.limits.max_int_bits:
            raise TemplateFault(
                f"a number of about {bits} bits exceeds the limit of {self.limits.max_int_bits} bits"
            )

    def _check_sequence(self, count: int, characters: int) -> None:
        self.check_items(count)
        self.check_string(characters)

    # -- guards called from compiled templates -----------------------------------------------------

    def baryon_loop_guard(self, iterable: Any) -> Any:
        """Wraps the iterable of every ``{% for %}``."""
        return _CountedIterable(iterable, self)

    def baryon_concat(self, *parts: Any) -> str:
        """Every ``a ~ b``: operands become text by the ``{{ }}`` rule (``true``, JSON); size-checked."""
        texts = [_finalize(part) for part in parts]
        self.check_string(sum(map(len, texts)), widest(*texts))
        return "".join(texts)

    def _concat(self, parts: Iterable[str]) -> str:
        """Joins output buffers (macros, ``{% set %}`` blocks, ``caller()``) with a size check first."""
        pieces = list(parts)
        self.check_string(sum(map(len, pieces)), widest(*pieces))
        return "".join(pieces)

    def _range(self, *args: Any) -> range:
        numbers = range(*args)
        try:
            count = len(numbers)
        except OverflowError:
            count = (numbers.stop - numbers.start) // numbers.step
        if count > self.limits.max_items:
            raise TemplateFault(
                f"range() of {count} items exceeds the limit of {self.limits.max_items} items"
            )
        return numbers

    # -- sandbox hooks -----------------------------------------------------------------------------

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        self.step()
        if not isinstance(obj, Macro | LoopContext):
            return super().call(context, obj, *args, **kwargs)
        self._calls += 1
        try:
            if self._calls > self.limits.max_call_depth:
                raise TemplateFault(
                    f"recursion too deep: macros and recursive loops nest more than "
                    f"{self.limits.max_call_depth} calls deep (does a macro call itself without end?)"
                )
            return super().call(context, obj, *args, **kwargs)
        finally:
            self._calls -= 1

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (TypeError, LookupError):
                pass
        return self._guard_method(super().getattr(obj, attribute))

    def getitem(self, obj: Any, argument: Any) -> Any:
        return self._guard_method(super().getitem(obj, argument))

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        kind = type(obj).__name__
        if isinstance(obj, TrackedDict | TrackedList):
            kind = "dict" if isinstance(obj, TrackedDict) else "list"
        return self.undefined(
            f"access to attribute {attribute!r} of {kind!r} object is unsafe.",
            name=attribute,
            obj=obj,
            exc=SecurityError,
        )

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            self._check_repeat(left, right)
        elif operator == "+":
            self._check_add(left, right)
        elif operator == "**":
            self._check_power(left, right)
        elif operator == "%" and isinstance(left, str):
            self._check_percent(left, right)
        return super().call_binop(context, operator, left, right)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        if not isinstance(value, types.MethodType | types.BuiltinMethodType) or value.__name__ not in (
            "format",
            "format_map",
        ):
            return None
        template = value.__self__
        if not isinstance(template, str):
            return None
        is_map = value.__name__ == "format_map"

        def bounded_format(*args: Any, **kwargs: Any) -> str:
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one positional argument")
                return str(_BoundedFormatter(self).vformat(template, (), args[0]))
            return str(_BoundedFormatter(self).vformat(template, args, kwargs))

        return bounded_format

    # -- operator checks ---------------------------------------------------------------------------

    def _check_repeat(self, left: Any, right: Any) -> None:
        if isinstance(left, int) and not isinstance(left, bool) and isinstance(right, int):
            if not isinstance(right, bool):
                self._check_int_bits(left.bit_length() + right.bit_length())
            return
        sequence, times = (right, left) if isinstance(left, int) else (left, right)
        if not isinstance(times, int):
            return
        times = max(times, 0)
        if isinstance(sequence, str | bytes):
            self.check_string(len(sequence) * times, width(sequence))
        elif isinstance(sequence, list | tuple):
            self._check_sequence(len(sequence) * times, self._characters(sequence) * times)

    def _check_add(self, left: Any, right: Any) -> None:
        if isinstance(left, str | bytes) and isinstance(right, str | bytes):
            self.check_string(len(left) + len(right), widest(left, right))
        elif isinstance(left, list | tuple) and isinstance(right, list | tuple):
            self._check_sequence(len(left) + len(right), self._characters(left) + self._characters(right))

    def _check_power(self, base: Any, exponent: Any) -> None:
        if (
            isinstance(base, int)
            and isinstance(exponent, int)
            and not isinstance(exponent, bool)
            and exponent > 0
            and abs(base) > 1
        ):
            self._check_int_bits(exponent * abs(base).bit_length())

    def _check_percent(self, template: str, arguments: Any) -> None:
        conversions = 0
        widths = 0
        for match in _PERCENT_SPEC.finditer(template):
            if match.group(3) == "%":
                continue
            conversions += 1
            for number in (match.group(1), match.group(2)):
                if number == "*":
                    raise TemplateFault("'*' widths in %-formatting are not supported in templates")
                if number:
                    self.check_string(int(number))
                    widths += int(number)
        if isinstance(arguments, Mapping):
            longest = max((size(v) for v in arguments.values()), default=0)
            argument_bytes = conversions * longest
        elif isinstance(arguments, tuple):
            argument_bytes = sum(size(v) for v in arguments)
        else:
            argument_bytes = size(arguments)
        self.check_string(size(template) + widths + argument_bytes)

    @staticmethod
    def _characters(sequence: list[Any] | tuple[Any, ...]) -> int:
        """Bytes of the strings in a sequence."""
        return sum(size(item) for item in sequence if isinstance(item, str | bytes))

    # -- str methods -------------------------------------------------------------------------------

    def _guard_method(self, value: Any) -> Any:
        """Wraps the growth methods of ``str`` / ``bytes`` with a size check (and refuses translate)."""
        if not isinstance(value, types.BuiltinMethodType):
            return value
        owner = value.__self__
        if not isinstance(owner, str | bytes):
            return value
        name = value.__name__
        if name == "translate":
            return _refuse("str.translate is not available in templates")
        if name in ("center", "ljust", "rjust", "zfill"):
            return self._sized(value, lambda width, *_: max(len(owner), _int_or_zero(width)))
        if name == "expandtabs":
            return self._sized(
                value,
                lambda tabsize=8, *_: len(owner) + _tab_count(owner) * max(_int_or_zero(tabsize), 0),
            )
        if name == "replace":
            return self._sized(value, lambda old, new, count=-1, *_: _replaced_length(owner, old, new, count))
        if name == "join":
            return self._bounded_join(value, owner)
        return value

    def _sized(self, method: Callable[..., Any], estimate: Callable[..., int]) -> Callable[..., Any]:
        def sized(*args: Any, **kwargs: Any) -> Any:
            characters = estimate(*args, **kwargs)
            self.check_string(characters, widest(getattr(method, "__self__", ""), *args, *kwargs.values()))
            return method(*args, **kwargs)

        return sized

    def _bounded_join(self, method: Callable[..., Any], separator: str | bytes) -> Callable[..., Any]:
        def bounded_join(iterable: Any) -> Any:
            items = list(iterable)
            self.check_string(sum(size(i) for i in items) + size(separator) * max(len(items) - 1, 0))
            return method(items)

        return bounded_join

    # -- filters -----------------------------------------------------------------------------------

    def _install_filter_guards(self) -> None:
        estimates: dict[str, Callable[..., None]] = {
            "center": self._est_center,
            "indent": self._est_indent,
            "wordwrap": self._est_wordwrap,
            "replace": self._est_replace,
            "format": self._est_format,
            "batch": self._est_batch,
            "slice": self._est_batch,
            "tojson": self._est_tojson,
        }
        for name, function in list(self.filters.items()):
            if name == "join":
                function = self._bounded_join_filter(function)
            elif name in estimates:
                function = self._prechecked(function, estimates[name])
            self.filters[name] = self._counted(function)

    def _counted(self, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.step()
            result = function(*args, **kwargs)
            if isinstance(result, str):
                self.check_string(size(result))
            elif isinstance(result, list | tuple):
                self.check_items(len(result))
            return result

        return counted

    @staticmethod
    def _prechecked(function: Callable[..., Any], check: Callable[..., None]) -> Callable[..., Any]:
        """Runs ``check`` on the filter's own arguments (value first), without Jinja's pass argument."""
        skip = 1 if hasattr(function, "jinja_pass_arg") else 0

        @functools.wraps(function)
        def prechecked(*args: Any, **kwargs: Any) -> Any:
            check(*args[skip:], **kwargs)
            return function(*args, **kwargs)

        return prechecked

    def _bounded_join_filter(self, function: Callable[..., Any]) -> Callable[..., Any]:
        skip = 1 if hasattr(function, "jinja_pass_arg") else 0

        def arguments(value: Any, d: Any = "", attribute: Any = None) -> tuple[Any, Any, Any]:
            return value, d, attribute

        @functools.wraps(function)
        def bounded_join(*args: Any, **kwargs: Any) -> Any:
            value, d, attribute = arguments(*args[skip:], **kwargs)
            items = list(value)
            separator = size(d)
            elements = sum(size(i) for i in items) if attribute is None else 0
            self.check_string(elements + separator * max(len(items) - 1, 0))
            return function(*args[:skip], items, d, attribute)

        return bounded_join

    def _est_center(self, value: Any, width: Any = 80) -> None:
        self.check_string(max(size(value), _int_or_zero(width) * widest(value)))

    def _est_indent(self, s: Any, width: Any = 4, *_: Any, **__: Any) -> None:
        lines = s.count("\n") + 1 if isinstance(s, str) else 1
        per_line = size(width) if isinstance(width, str) else _int_or_zero(width)
        self.check_string(size(s) + lines * per_line)

    def _est_wordwrap(
        self,
        s: Any,
        width: Any = 79,
        break_long_words: Any = True,
        wrapstring: Any = None,
        *_: Any,
        **__: Any,
    ) -> None:
        if isinstance(wrapstring, str) and len(wrapstring) > 2:
            self.check_string(size(s) + (size(s) + 1) * size(wrapstring))

    def _est_replace(self, s: Any, old: Any, new: Any, count: Any = None) -> None:
        # The filter itself applies str() to all three, so estimate on the same text.
        s, old, new = (v if isinstance(v, str) else str(v) for v in (s, old, new))
        self.check_string(_replaced_length(s, old, new, -1 if count is None else count), widest(s, new))

    def _est_format(self, value: Any, *args: Any, **kwargs: Any) -> None:
        self._check_percent(str(value), kwargs or args)

    def _est_batch(self, value: Any, count: Any, fill_with: Any = None) -> None:
        self.check_items(_int_or_zero(count))

    def _est_tojson(self, value: Any, indent: Any = None) -> None:
        width = len(indent) if isinstance(indent, str) else _int_or_zero(indent)
        if width > _MAX_TOJSON_INDENT:
            raise TemplateFault(f"tojson indent larger than {_MAX_TOJSON_INDENT} is not supported")


def _tab_count(text: str | bytes) -> int:
    return text.count("\t") if isinstance(text, str) else text.count(b"\t")


def _replaced_length(text: Any, old: Any, new: Any, count: Any) -> int:
    if not (isinstance(old, type(text)) and isinstance(new, type(text))):
        return len(text)
    occurrences = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        occurrences = min(occurrences, count)
    return int(len(text) + occurrences * max(len(new) - len(old), 0))


def _refuse(message: str) -> Callable[..., NoReturn]:
    def refused(*_: Any, **__: Any) -> NoReturn:
        raise TemplateFault(message)

    return refused


__all__ = ["ProtonSandbox", "ProtonUndefined", "RenderLimits"]
