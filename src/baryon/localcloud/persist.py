"""Keeping the local cloud's state on disk while it serves: a gate around requests, a debounced writer.

- `Gate`: requests pass it shared (many at once); a snapshot takes it exclusive, so it never pickles a
  backend halfway through a request. A waiting snapshot holds back new requests (no starvation).
- `mutates(environ)`: whether a request may change state. Reads (GET, HEAD, OPTIONS, and actions named
  Describe…, List…, Get…, … whether sent as X-Amz-Target, in the query string or in a form body) do not;
  everything else does, so an unknown request errs on the side of saving.
- `Saver`: after a mutating request, writes a snapshot once requests have been quiet for `quiet`
  seconds, or at most `longest` seconds after the first unsaved change, so that a crash loses at most the
  last moments; `close` writes what is still unsaved (at shutdown).
- `Guarded`: the WSGI middleware that puts each request through the gate and tells the saver.

Invariants: a request's body, when read here to find its action, is put back for the application
unchanged; the saver never raises into a request (a failed write is logged and retried on the next
change); snapshots are written by one thread at a time.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs

logger = logging.getLogger("baryon.localcloud")

READS = frozenset({"GET", "HEAD", "OPTIONS"})
READ_ACTIONS = (
    "Describe",
    "List",
    "Get",
    "Head",
    "BatchGet",
    "Query",
    "Scan",
    "Lookup",
    "Search",
    "Validate",
    "Estimate",
)
_FORM = "application/x-www-form-urlencoded"
_MAX_FORM = 1024 * 1024  # bodies larger than this are not searched for their action (they count as changes)


class Gate:
    """A readers-writer lock: `shared()` for requests, `exclusive()` for snapshots (writer preferred)."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0

    @contextmanager
    def shared(self) -> Any:
        with self._condition:
            while self._writer or self._waiting_writers:
                self._condition.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._condition:
                self._readers -= 1
                if not self._readers:
                    self._condition.notify_all()

    @contextmanager
    def exclusive(self) -> Any:
        with self._condition:
            self._waiting_writers += 1
            try:
                while self._writer or self._readers:
                    self._condition.wait()
            finally:
                self._waiting_writers -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._condition:
                self._writer = False
                self._condition.notify_all()


def _action(environ: dict[str, Any]) -> str | None:
    """The request's action where the protocol names one (X-Amz-Target, query string, form body)."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return str(target).rsplit(".", 1)[-1]
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if query.get("Action"):
        return str(query["Action"][0])
    if not str(environ.get("CONTENT_TYPE", "")).startswith(_FORM) or environ.get("HTTP_CONTENT_ENCODING"):
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if not 0 < length <= _MAX_FORM:
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    form = parse_qs(body.decode("utf-8", errors="replace"))
    return form["Action"][0] if form.get("Action") else None


def mutates(environ: dict[str, Any]) -> bool:
    """Whether the request may change the local cloud's state (see the module docstring)."""
    if str(environ.get("REQUEST_METHOD", "GET")).upper() in READS:
        return False
    action = _action(environ)
    return action is None or not action.startswith(READ_ACTIONS)


class Saver:
    """Writes snapshots (through `write`, called under the gate's exclusive side) after changes."""

    def __init__(
        self, gate: Gate, write: Callable[[], None], quiet: float = 0.5, longest: float = 3.0
    ) -> None:
        self._gate = gate
        self._write = write
        self._quiet = quiet
        self._longest = longest
        self._condition = threading.Condition()
        self._first_change: float | None = None
        self._last_change = 0.0
        self._closed = False
        self._writing = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="local-cloud-saver", daemon=True)
        self._thread.start()

    def changed(self) -> None:
        now = time.monotonic()
        with self._condition:
            if self._first_change is None:
                self._first_change = now
            self._last_change = now
            self._condition.notify_all()

    def _due(self, now: float) -> float | None:
        """Seconds until the pending change is to be saved (0: now), None when nothing is pending."""
        if self._first_change is None:
            return None
        return max(0.0, min(self._last_change + self._quiet, self._first_change + self._longest) - now)

    def _run(self) -> None:
        while True:
            with self._condition:
                while True:
                    if self._closed:
                        return
                    wait = self._due(time.monotonic())
                    if wait == 0.0:
                        self._first_change = None
                        break
                    self._condition.wait(wait)
            self._save()

    def _save(self) -> None:
        with self._writing:
            try:
                with self._gate.exclusive():
                    self._write()
            except Exception:  # logged; the next change tries again
                logger.exception("the local cloud could not save its state")
                with self._condition:
                    if self._first_change is None:
                        self._first_change = self._last_change = time.monotonic()

    def close(self) -> None:
        """Stop the background writer and save what is still unsaved."""
        with self._condition:
            self._closed = True
            pending = self._first_change is not None
            self._first_change = None
            self._condition.notify_all()
        self._thread.join(timeout=60)
        if pending:
            self._save()


class Guarded:
    """WSGI middleware: each request passes the gate shared; a changing one tells the saver."""

    def __init__(self, app: Callable[..., Iterable[bytes]], gate: Gate, saver: Saver) -> None:
        self._app = app
        self._gate = gate
        self._saver = saver

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        changing = mutates(environ)
        with self._gate.shared():
            try:
                return self._app(environ, start_response)
            finally:
                if changing:
                    self._saver.changed()
