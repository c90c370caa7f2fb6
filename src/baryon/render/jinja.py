"""Rendering one Proton Jinja template (a CloudFormation file, a component, a CodeBuild string).

`render_template(source, context, file_name=...)` compiles ``source`` in a fresh `ProtonSandbox`,
renders it against ``context`` (the namespaces built by `baryon.render.context`) and returns the
text, with the multi-line Proton filter blocks indented to the column where they landed.

Message formats (``str(RenderError)``):
- ``<file>, line <n>: template syntax error: <Jinja's message>`` — the template does not parse
  (also unknown filters and tests, which Jinja checks at compile time).
- ``<file>, line <n>: {% include %} is not supported: a Proton template is a single file and
  cannot load others`` (likewise ``{% import %}``, ``{% from ... import %}``, ``{% extends %}``).
- ``<file>, line <n>: <path> is not defined`` — a missing name, e.g.
  ``environment.outputs.VpcId is not defined``.
- ``<file>, line <n>: access to attribute '__class__' of 'str' object is unsafe.`` — sandbox.
- ``<file>, line <n>: Illegal character(s) detected in "<value>". Must match regex
  ^[a-zA-Z0-9_-]*$ or be a valid ARN`` — and the other filter and limit messages.
- ``<file>, line <n>: <ExceptionType>: <message>`` — any other error raised by template code,
  e.g. ``ZeroDivisionError: division by zero``.
- ``<file>, line <n>: recursion too deep: macros and recursive loops nest more than 32 calls deep (does a
  macro call itself without end?)`` (or, should Python's own recursion limit come first, ``recursion too
  deep (does a macro call itself without end?)``).
- ``<file>, line <n>: rendered output exceeds the limit of 1000000 bytes`` (UTF-8, as it leaves Baryon).
- ``<file>, line <n>: a string of 4000000 bytes exceeds the limit of 1000000 bytes`` (strings are
  measured in bytes of memory, see `sandbox`).
The line is that of the innermost template frame in the traceback (inside a macro, the macro's
line); it is left out (``<file>: <detail>``) only when no template frame is involved.

Compiled templates are kept per thread (a sandbox carries the budget of the render it runs, so one is
never shared between threads), keyed by source, file name and limits; a cached sandbox is reset by
`start()` before each render.

Invariants: nothing but `RenderError` escapes; the caller's context is not mutated (it is copied
into tracked containers first); a render never touches the filesystem or the network; the same
source and context always give the same text or the same error (limits are deterministic except
the wall-clock backstop).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from types import TracebackType
from typing import Any

from jinja2 import Template, TemplateSyntaxError
from jinja2.exceptions import TemplateError

from baryon.render.errors import RenderError, TemplateFault
from baryon.render.sandbox import ProtonSandbox, RenderLimits
from baryon.render.sizes import utf8_size
from baryon.render.values import track
from baryon.render.yamltext import indent_blocks, strip_markers

_COMPILED_PER_THREAD = 64
_compiled = threading.local()


def _compiled_template(
    source: str, file_name: str, limits: RenderLimits | None
) -> tuple[ProtonSandbox, Template]:
    cache: OrderedDict[tuple[str, str, RenderLimits | None], tuple[ProtonSandbox, Template]] | None
    cache = getattr(_compiled, "cache", None)
    if cache is None:
        cache = _compiled.cache = OrderedDict()
    key = (source, file_name, limits)
    found = cache.get(key)
    if found is not None:
        cache.move_to_end(key)
        return found
    sandbox = ProtonSandbox(limits)
    template = sandbox.compile_template(strip_markers(source), file_name)
    cache[key] = (sandbox, template)
    if len(cache) > _COMPILED_PER_THREAD:
        cache.popitem(last=False)
    return sandbox, template


def render_template(
    source: str, context: dict[str, Any], *, file_name: str, limits: RenderLimits | None = None
) -> str:
    """Render a Proton Jinja template; raises RenderError (never anything else) on any failure."""
    try:
        sandbox, template = _compiled_template(source, file_name, limits)
    except TemplateSyntaxError as error:
        raise RenderError(
            f"template syntax error: {error.message}", file_name=file_name, line=error.lineno
        ) from None
    except TemplateFault as fault:
        raise RenderError(fault.detail, file_name=file_name, line=fault.line) from None
    except RecursionError:
        raise RenderError(
            "template syntax error: expressions are nested too deeply", file_name=file_name
        ) from None
    limits = sandbox.limits

    try:
        variables = {
            str(key): track(value, str(key), max_depth=limits.max_depth) for key, value in context.items()
        }
    except TemplateFault as fault:
        raise RenderError(fault.detail, file_name=file_name) from None

    sandbox.start()
    chunks: list[str] = []
    size = 0
    stream: Any = None
    try:
        stream = template.root_render_func(template.new_context(variables))
        for chunk in stream:
            size += utf8_size(chunk)
            if size > limits.max_output_bytes:
                frame = getattr(stream, "gi_frame", None)
                line = template.get_corresponding_lineno(frame.f_lineno) if frame is not None else None
                raise RenderError(_output_too_large(limits), file_name=file_name, line=line)
            chunks.append(chunk)
    except RenderError:
        raise
    except Exception as error:  # includes RecursionError and MemoryError
        raise RenderError(
            _detail(error), file_name=file_name, line=_template_line(template, error.__traceback__)
        ) from None
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()

    text = indent_blocks("".join(chunks))
    if utf8_size(text) > limits.max_output_bytes:
        raise RenderError(_output_too_large(limits), file_name=file_name)
    return text


def _output_too_large(limits: RenderLimits) -> str:
    return f"rendered output exceeds the limit of {limits.max_output_bytes} bytes"


def _detail(error: BaseException) -> str:
    if isinstance(error, TemplateFault):
        return error.detail
    if isinstance(error, RecursionError):
        return "recursion too deep (does a macro call itself without end?)"
    if isinstance(error, MemoryError):
        return "out of memory while rendering"
    if isinstance(error, TemplateError):
        return error.message or type(error).__name__
    return f"{type(error).__name__}: {error}"


def _template_line(template: Template, traceback: TracebackType | None) -> int | None:
    """The template line of the innermost frame of compiled template code in ``traceback``."""
    line = None
    while traceback is not None:
        if traceback.tb_frame.f_globals.get("__jinja_template__") is template:
            line = template.get_corresponding_lineno(traceback.tb_lineno)
        traceback = traceback.tb_next
    return line
