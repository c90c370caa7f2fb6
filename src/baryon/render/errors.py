"""The error type of template rendering, and the internal fault that filters and guards raise.

Invariants:
- Every failure of `render_template` surfaces as `RenderError`, never as a Jinja, Python or YAML
  exception. ``str(error)`` is the complete, self-contained message that the deployment engine
  stores as ``deploymentStatusMessage``: ``<file>, line <n>: <detail>`` when the template line is
  known, ``<file>: <detail>`` otherwise.
- `TemplateFault` is raised from inside a render (Proton filters, sandbox limits, undefined
  names). It carries only the detail; `render_template` adds the file and the line, so code deep in
  a filter never needs to know which file it is rendering.
"""

from __future__ import annotations

from typing import Any


class RenderError(Exception):
    """Rendering failed; str(e) is the full message for deploymentStatusMessage (names the file and,
    where Jinja gives one, the line)."""

    def __init__(self, detail: str, *, file_name: str, line: int | None = None) -> None:
        self.detail = detail
        self.file_name = file_name
        self.line = line
        self.message = f"{file_name}, line {line}: {detail}" if line is not None else f"{file_name}: {detail}"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, tuple[str, str, int | None]]:
        # Keyword-only arguments defeat Exception's default pickling; workers may send errors elsewhere.
        return _rebuild_render_error, (self.detail, self.file_name, self.line)


def _rebuild_render_error(detail: str, file_name: str, line: int | None) -> RenderError:
    return RenderError(detail, file_name=file_name, line=line)


class TemplateFault(Exception):
    """A template did something that fails the render; the text is the detail of the RenderError.

    ``line`` is set only where the raiser knows the template line (compile-time checks); during a
    render the line is recovered from the traceback instead.
    """

    def __init__(self, detail: str, *, line: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.line = line
