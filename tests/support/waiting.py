"""Waiting for asynchronous outcomes in tests and benchmarks: poll, bounded in time, and fail loudly.

Every polling loop of the tests and benchmarks (which import this module through `harness`) goes through
`poll`: it returns the first value its
condition accepts and, when time runs out, raises `WaitTimeout` saying what it waited for (the `what`
given, or else the source of the probe) and the last value it saw — never a bare "timed out".
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """A condition a test waited for was not met in time; the message says which and what was seen."""


def poll(
    read: Callable[[], T],
    done: Callable[[T], object] = bool,
    *,
    timeout: float = 30.0,
    interval: float = 0.05,
    what: str | None = None,
    error: type[Exception] = WaitTimeout,
) -> T:
    """Call `read` until `done` accepts its value, and return that value. After `timeout` seconds raise
    `error` (`WaitTimeout` unless told) naming `what` (or `read`'s source) and the last value read."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise error(
                f"waited {timeout:g} s for {what or describe(read)}; last seen: {_short(repr(value))}"
            )
        time.sleep(interval)


def wait_for(
    probe: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.05, what: str | None = None
) -> T:
    """Call `probe` until it returns a truthy value, and return that value (see `poll`)."""
    value = poll(probe, bool, timeout=timeout, interval=interval, what=what)
    assert value is not None
    return value


def describe(function: Callable[..., object]) -> str:
    """A readable name of what a probe checks: a lambda's source, or a function's qualified name."""
    name = getattr(function, "__qualname__", None) or repr(function)
    if "<lambda>" not in name:
        return name
    try:
        source = inspect.getsource(function).strip()
    except (OSError, TypeError):
        return name
    start = source.find("lambda")
    return _short(" ".join(source[start:].split()) if start >= 0 else source)


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
