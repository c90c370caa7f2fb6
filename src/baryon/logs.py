"""Log output: plain text lines or one JSON object a line, chosen by BARYON_LOG_FORMAT.

Invariants: `BARYON_LOG_FORMAT` is `json` or `text`; unset, the output is text when stderr is a terminal and
JSON otherwise; a JSON line carries the time, level, logger and message and every field of `FIELDS` the
record was given (`logging`'s `extra=`), never anything else of the record, so request bodies and secrets,
which no caller passes as fields, never reach the output. `emit` writes such a line without building a
`logging.LogRecord` when the only handler on the logger's way is the JSON handler `configure` installed
(the line is the same; a record costs more than the request it describes); with any other handler, filter
or format it goes through `logging`. JSON lines are written in batches (`BatchedStreamHandler`): a line of
INFO or below reaches the stream at most `FLUSH_SECONDS` after it was logged, a WARNING or above at once
with every line before it, in order, and all of them when the process exits normally; a process killed
outright (SIGKILL) loses at most the last `FLUSH_SECONDS` of INFO lines. This module imports nothing of
Baryon's.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any

import orjson

FORMATS = ("json", "text")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: The structured fields a log call may pass with `extra=`.
FIELDS = (
    "request_id",
    "account",
    "region",
    "operation",
    "status",
    "code",
    "duration_ms",
    "job",
    "kind",
    "deployment",
    "resource",
    "outcome",
)


_FIELD_NAMES = frozenset(FIELDS)
#: A line not yet formatted: the function that formats it (line and newline) and its arguments.
_Later = tuple[Callable[..., str], tuple[Any, ...]]


#: The last second formatted by `iso_time` and its text, replaced together (one tuple) so threads agree.
_last_second: tuple[int, str] = (-1, "")


def iso_time(created: float) -> str:
    """`created` (seconds since the epoch) in ISO 8601, UTC, to the millisecond."""
    global _last_second
    second = int(created)
    known, prefix = _last_second
    if known != second:
        prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _last_second = (second, prefix)
    return f"{prefix}.{int((created - second) * 1000):03d}+00:00"


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (ISO 8601, UTC), level, logger, message, the given FIELDS, and the
    exception's traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        given = record.__dict__
        fields = {name: given.get(name) for name in FIELDS}
        exception = self.formatException(record.exc_info) if record.exc_info else None
        return json_line(record.created, record.levelno, record.name, record.getMessage(), fields, exception)


#: Seconds an INFO line may wait before a batch is written.
FLUSH_SECONDS = 0.05
#: Lines that make a batch be written at once, whatever its age.
MAX_PENDING = 512


class BatchedStreamHandler(logging.StreamHandler[IO[str]]):
    """A stream handler that writes lines in batches, from a thread that wakes when the first line of a batch
    arrives and writes the batch `FLUSH_SECONDS` later; WARNING and above, and a full batch, are written at
    once with what waits before them. `flush` (called by `logging.shutdown` at exit) writes what waits."""

    def __init__(self, stream: IO[str], interval: float = FLUSH_SECONDS) -> None:
        super().__init__(stream)
        self.interval = interval
        #: Lines, and the parts of lines `write_fields` left to format when the batch is written.
        self._pending: list[str | _Later] = []
        #: When the first line of the waiting batch came (time.monotonic()).
        self._since = 0.0
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        _BATCHED.add(self)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record) + self.terminator
        except Exception:  # logging's contract: a bad record is reported, never raised
            self.handleError(record)
            return
        self.write_line(text, urgent=record.levelno >= logging.WARNING)

    def write_later(self, format_line: Callable[..., str], *args: Any) -> None:
        """Queue the line `format_line(*args)` returns (with its newline), called when its batch is written:
        formatting a batch at once costs a fraction of formatting each line in the request that logs it. The
        arguments must not change afterwards."""
        self.write_line((format_line, args))

    def write_line(self, text: str | _Later, urgent: bool = False) -> None:
        """Queue `text` (one line, with its newline); the batch is written now when `urgent`, full, or as old
        as the interval (so that a busy process writes its batches itself, and the writer thread, which
        would have to take the interpreter from it, only writes what a quiet spell leaves)."""
        now = time.monotonic()
        with self.lock or _NO_LOCK:
            first = not self._pending
            if first:
                self._since = now
            self._pending.append(text)
            if urgent or len(self._pending) >= MAX_PENDING or now - self._since >= self.interval:
                self._write_pending()
                return
        if first:
            if self._thread is None:
                self._start()
            self._wake.set()

    def flush(self) -> None:
        with self.lock or _NO_LOCK:
            self._write_pending()

    def _write_pending(self) -> None:
        """Write what waits (the handler's lock is held). Logging never fails its caller: a line that cannot
        be formatted is replaced by one that says so, and a stream that cannot be written to loses the batch
        (reported on stderr, as `logging` reports a handler's error)."""
        if self._pending:
            text = "".join(line if isinstance(line, str) else _formatted(line) for line in self._pending)
            self._pending.clear()
            try:
                self.stream.write(text)
                if hasattr(self.stream, "flush"):
                    self.stream.flush()
            except Exception:
                if logging.raiseExceptions and sys.stderr is not None and sys.stderr is not self.stream:
                    sys.stderr.write("--- Baryon could not write a batch of log lines ---\n")
                    traceback.print_exc(file=sys.stderr)
        elif hasattr(self.stream, "flush"):
            with contextlib.suppress(Exception):
                self.stream.flush()

    def _start(self) -> None:
        with _START_LOCK:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="baryon-log-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            wait = self.interval
            while wait > 0:
                time.sleep(wait)
                with self.lock or _NO_LOCK:
                    if not self._pending:
                        break
                    wait = self._since + self.interval - time.monotonic()
                    if wait <= 0:
                        self._write_pending()

    def _forget_thread(self) -> None:
        """In a forked child the parent's writer thread does not exist; the next line starts one."""
        self._thread = None
        self._wake = threading.Event()


_BATCHED: weakref.WeakSet[BatchedStreamHandler] = weakref.WeakSet()
_START_LOCK = threading.Lock()


def _after_fork() -> None:
    for handler in list(_BATCHED):
        handler._forget_thread()


os.register_at_fork(after_in_child=_after_fork)


def flush() -> None:
    """Write the lines waiting in the root logger's batched handlers."""
    for handler in logging.root.handlers:
        if isinstance(handler, BatchedStreamHandler):
            handler.flush()


def log_format(stream: IO[str] | None = None) -> str:
    """The format BARYON_LOG_FORMAT names, else text on a terminal and JSON otherwise. Raises ValueError
    for any other value."""
    chosen = os.environ.get("BARYON_LOG_FORMAT", "").strip().lower()
    if chosen:
        if chosen not in FORMATS:
            raise ValueError(f"BARYON_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {chosen!r}.")
        return chosen
    target = stream if stream is not None else sys.stderr
    return "text" if target.isatty() else "json"


def formatter(stream: IO[str] | None = None) -> logging.Formatter:
    return JsonFormatter() if log_format(stream) == "json" else logging.Formatter(TEXT_FORMAT)


def configure(level: str, stream: IO[str] | None = None) -> None:
    """Send log records of `level` and above to `stream` (stderr) in the chosen format, unless the root
    logger has a handler already. Raises ValueError for a bad BARYON_LOG_FORMAT."""
    global _direct
    target = stream if stream is not None else sys.stderr
    chosen = formatter(target)
    handler: logging.StreamHandler[IO[str]]
    handler = (
        BatchedStreamHandler(target) if isinstance(chosen, JsonFormatter) else logging.StreamHandler(target)
    )
    handler.setFormatter(chosen)
    logging.basicConfig(level=level.upper(), handlers=[handler])
    if logging.root.handlers == [handler] and isinstance(handler, BatchedStreamHandler):
        _direct = handler


#: The JSON handler `configure` installed on the root logger, which `emit` may write to directly.
_direct: BatchedStreamHandler | None = None


def _direct_handler(logger: logging.Logger) -> BatchedStreamHandler | None:
    """The handler `emit` may write to directly: `_direct`, when it is the only handler `logger`'s records
    reach and nothing on the way filters them."""
    handler = _direct
    if handler is None or handler.filters:
        return None
    current: logging.Logger | None = logger
    while current is not None:
        if current is logging.root:
            return handler if current.handlers == [handler] and not current.filters else None
        if current.handlers or current.filters or not current.propagate:
            return None
        current = current.parent
    return None


def emit(logger: logging.Logger, level: int, message: str, fields: dict[str, Any]) -> None:
    """Log `message` with the structured `fields` (names of FIELDS) at `level`, as
    `logger.log(level, message, extra=fields)` would."""
    handler = direct_handler(logger, level)
    if handler is not None:
        line = json_line(time.time(), level, logger.name, message, fields) + "\n"
        handler.write_line(line, urgent=level >= logging.WARNING)
    elif logger.isEnabledFor(level):
        logger.log(level, "%s", message, extra=fields)


def _formatted(later: _Later) -> str:
    try:
        return later[0](*later[1])
    except Exception as error:
        message = f"a log line could not be formatted: {error!r}"
        return json_line(time.time(), logging.ERROR, __name__, message, {}) + "\n"


def direct_handler(logger: logging.Logger, level: int) -> BatchedStreamHandler | None:
    """The handler `emit` would write `logger`'s line of `level` to without `logging`, or None when that line
    is not logged or must go through `logging`."""
    if not logger.isEnabledFor(level):
        return None
    handler = _direct_handler(logger)
    return handler if handler is not None and level >= handler.level else None


def json_line(
    created: float,
    level: int,
    logger: str,
    message: str,
    fields: dict[str, Any],
    exception: str | None = None,
) -> str:
    """One JSON object, without its newline: time (ISO 8601, UTC), level, logger, message, the given
    `fields` of FIELDS that are not None, and `exception` (a traceback's text) when there is one."""
    line: dict[str, Any] = {
        "time": iso_time(created),
        "level": logging.getLevelName(level),
        "logger": logger,
        "message": message,
    }
    for name, value in fields.items():
        if value is not None and name in _FIELD_NAMES:
            line[name] = value
    if exception:
        line["exception"] = exception
    return orjson.dumps(line, default=str).decode()


_NO_LOCK = threading.Lock()
