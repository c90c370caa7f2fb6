"""The HTTP/1.1 protocol Baryon's server speaks: uvicorn's httptools protocol with a request read deadline
and a bound on the size of a request's head.

Invariants: from a connection's first byte of a request (or from the connection's opening) a client has
`read_timeout` seconds to send the whole request, headers and body; past it the server answers
`408 Request Timeout` when no response has started and closes the connection. So half-sent requests
cannot hold connections open (uvicorn's keep-alive timeout covers only the idle time between requests).
The time the application takes to answer is not limited here. A request whose line and headers are
still incomplete after MAX_HEAD_BYTES is answered `431 Request Header Fields Too Large` and the
connection closed, so the parser never buffers more than that plus one read.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_TIMEOUT_BODY = b"The request was not received in time.\n"
_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_TIMEOUT_BODY), _TIMEOUT_BODY)
)

#: The most bytes a request's line and headers may take before they are refused.
MAX_HEAD_BYTES = 64 * 1024
_TOO_LARGE_BODY = b"The request's headers are larger than %d bytes.\n" % MAX_HEAD_BYTES
_TOO_LARGE_RESPONSE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(_TOO_LARGE_BODY), _TOO_LARGE_BODY)
)


class ReadDeadlineProtocol(HttpToolsProtocol):
    """HttpToolsProtocol that closes connections whose request does not arrive in time."""

    def __init__(self, *args: Any, read_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_timeout = read_timeout
        self._read_deadline: asyncio.TimerHandle | None = None
        self._head_bytes: int | None = 0  # bytes received of the current request's head; None: head done

    def _arm(self) -> None:
        if self._read_deadline is None:
            self._read_deadline = self.loop.call_later(self.read_timeout, self._read_timed_out)

    def _disarm(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _read_timed_out(self) -> None:
        self._read_deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(_TIMEOUT_RESPONSE)
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        if self._head_bytes is not None:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._head_bytes is not None and self._head_bytes > MAX_HEAD_BYTES:
            self._disarm()
            if not self.transport.is_closing():
                self.transport.write(_TOO_LARGE_RESPONSE)
                self.transport.close()

    def on_headers_complete(self) -> None:
        self._head_bytes = None
        super().on_headers_complete()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_message_complete(self) -> None:
        self._disarm()
        self._head_bytes = 0
        super().on_message_complete()


def protocol_with_read_timeout(read_timeout: float) -> Callable[..., ReadDeadlineProtocol]:
    """The protocol factory to give uvicorn as `http=`."""
    return functools.partial(ReadDeadlineProtocol, read_timeout=read_timeout)
