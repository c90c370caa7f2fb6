"""Log output: plain text lines or one JSON object a line, chosen by BARYON_LOG_FORMAT.

Invariants: `BARYON_LOG_FORMAT` is `json` or `text`; unset, the output is text when stderr is a terminal and
JSON otherwise; a JSON line carries the time, level, logger and message and every field of `FIELDS` the
record was given (`logging`'s `extra=`), never anything else of the record, so request bodies and secrets,
which no caller passes as fields, never reach the output. This module imports nothing of Baryon's.
"""

from __future__ import annotations

import logging
import os
import sys
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


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (ISO 8601, UTC), level, logger, message, the given FIELDS, and the
    exception's traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


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
    target = stream if stream is not None else sys.stderr
    handler = logging.StreamHandler(target)
    handler.setFormatter(formatter(target))
    logging.basicConfig(level=level.upper(), handlers=[handler])
