"""Starlette application serving the Proton API and the console.

Invariants: `POST /` (the API) is served by a plain ASGI callable in front of Starlette, which handles every
other path (health, `GET /metrics` in the Prometheus text format unless BARYON_METRICS is off, the job table
read at scrape time; unknown paths and methods), except `POST /webhooks/git/<connection id>`, the push
webhooks of git hosts (`baryon.web.webhooks`, outside the SigV4 API, bodies up to its own limit); read
operations run inline on the event loop (they never wait on a lock: SQLite WAL readers and PostgreSQL readers
do not block); write operations run in the thread pool so a writer queued on the database lock cannot stall
other requests; every response outside /console, including those for unknown paths and methods, carries
`x-amzn-RequestId`; request bodies above `MAX_BODY` are refused without being kept (read and dropped up to
`MAX_DRAIN`, so the client gets the answer); `GET /` from a browser (Accept: text/html) is sent to the console
under /console (`baryon.console`), from any other client it stays the API's 404; and a request whose body ends
early (the client went, or the server's read deadline closed the connection) is not handled at all;
`create_app` without a runtime reads its configuration from the environment (used by `baryon server --workers
N`).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from baryon import logs, metrics
from baryon.api.dispatch import Dispatcher, error_response, operation_for
from baryon.config import Settings
from baryon.console.app import console_app
from baryon.protocol.errors import UnknownOperationException, ValidationException
from baryon.runtime import Runtime, open_runtime
from baryon.store import jobs as job_store
from baryon.web import webhooks

log = logging.getLogger("baryon.web")

#: Largest request body accepted. The largest Proton input (a spec or template file) is 51,200 characters.
MAX_BODY = 1024 * 1024
#: Beyond this, an oversized body is no longer read before answering.
MAX_DRAIN = 64 * 1024 * 1024


def _as_response(
    error: UnknownOperationException | ValidationException, status: int | None = None
) -> Response:
    result = error_response(error, str(uuid.uuid4()))
    return Response(result.body, status_code=status or result.status, headers=dict(result.headers))


class _ClientGone(Exception):
    """The client disconnected (or was disconnected) before its request body was complete."""


async def _read_body(scope: Scope, receive: Receive, limit: int = MAX_BODY) -> bytes | None:
    """The whole request body, or None when it is larger than MAX_BODY. An oversized body is read and
    dropped (up to MAX_DRAIN) so that the client, still sending, receives the answer instead of a reset.
    Raises _ClientGone when the connection ends before the body does (a part of a body is never handled)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        elif size > MAX_DRAIN:
            return None
        if not message.get("more_body", False):
            break
    return b"".join(chunks) if size <= limit else None


def _headers(scope: Scope) -> dict[str, str]:
    """Request headers by lowercase name; repeated headers are joined with commas (as SigV4 does)."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1")
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers


async def _send(send: Send, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def create_app(runtime: Runtime | None = None) -> ASGIApp:
    if runtime is None:
        settings = Settings()
        # A server process of `baryon server --workers N`: its logging is set up here.
        logs.configure(settings.log_level)
        runtime = open_runtime(settings, migrate=False)
    dispatcher = Dispatcher(runtime)
    runtime.credentials.watch_revocations()

    async def api(scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        declared = headers.get("content-length", "")
        too_long = declared.isdigit() and int(declared) > MAX_DRAIN
        try:
            body = None if too_long else await _read_body(scope, receive)
        except _ClientGone:
            return
        if body is None:
            too_large = error_response(
                ValidationException(f"The request body is larger than {MAX_BODY} bytes."), str(uuid.uuid4())
            )
            await _send(send, 413, too_large.headers, too_large.body)
            return
        op = operation_for(headers.get("x-amz-target"))
        query = scope.get("query_string", b"").decode("latin-1")
        args = ("POST", scope["path"], query, headers, body)
        if op is not None and op.write:
            result = await run_in_threadpool(dispatcher.handle, *args)
        else:
            result = dispatcher.handle(*args)
        await _send(send, result.status, result.headers, result.body)

    async def webhook(scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        declared = headers.get("content-length", "")
        json_type = [("content-type", "application/json"), ("x-amzn-RequestId", str(uuid.uuid4()))]
        if declared.isdigit() and int(declared) > MAX_DRAIN:
            body = None
        else:
            try:
                body = await _read_body(scope, receive, webhooks.MAX_WEBHOOK_BODY)
            except _ClientGone:
                return
        if body is None:
            answer = webhooks.Answer(413, f"The body is larger than {webhooks.MAX_WEBHOOK_BODY} bytes.")
        else:
            connection_id = scope["path"][len(webhooks.PREFIX) :]
            try:
                answer = await run_in_threadpool(webhooks.handle, runtime, connection_id, headers, body)
            except Exception:  # logged; the host gets a short answer and retries
                log.exception("webhook delivery to %s failed", scope["path"])
                answer = webhooks.Answer(500, "The delivery could not be handled; try again.")
        await _send(send, answer.status, json_type, answer.body())

    async def health(request: Request) -> Response:
        try:
            with runtime.database.read() as connection:
                connection.execute(sa.text("SELECT 1"))
        except Exception as error:  # the health check reports, it does not raise
            return JSONResponse({"status": "unavailable", "reason": type(error).__name__}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def root(request: Request) -> Response:
        # A browser opening the server gets the console; any other client keeps the API's answer.
        if "text/html" in request.headers.get("accept", ""):
            return RedirectResponse("/console/", status_code=302)
        return await not_served(request, HTTPException(404))

    async def not_served(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        return _as_response(
            UnknownOperationException(
                f"{request.method} {request.url.path} is not an operation of this API."
            ),
            status=status,
        )

    def job_counts() -> metrics.JobCounts:
        with runtime.database.read() as connection:
            return job_store.counts(connection, runtime.clock.now())

    job_metrics = metrics.JobsCollector(job_counts)

    async def metrics_page(request: Request) -> Response:
        body = await run_in_threadpool(metrics.exposition, job_metrics)
        return Response(body, media_type=metrics.CONTENT_TYPE)

    routes: list[BaseRoute] = [
        Route("/", root, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Mount("/console", console_app(runtime, dispatcher)),
    ]
    if metrics.enabled():
        routes.append(Route("/metrics", metrics_page, methods=["GET"]))

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # The server's graceful end (uvicorn then re-raises SIGTERM, which skips `atexit`): write waiting
        # log lines now.
        yield
        logs.flush()

    rest = Starlette(
        routes=routes,
        exception_handlers={404: not_served, 405: not_served},
        lifespan=lifespan,
    )
    rest.state.runtime = runtime

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == "/":
            await api(scope, receive, send)
        elif (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"].startswith(webhooks.PREFIX)
            and "/" not in scope["path"][len(webhooks.PREFIX) :]
        ):
            await webhook(scope, receive, send)
        else:
            await rest(scope, receive, send)

    return app
