"""Starlette application serving the Proton API.

Invariants: read operations run inline on the event loop (they never wait on a lock: SQLite WAL readers
and PostgreSQL readers do not block); write operations run in the thread pool so a writer queued on the
database lock cannot stall other requests; every response, including those for unknown paths and
methods, carries `x-amzn-RequestId`; request bodies above `MAX_BODY` are refused before they are read
whole; `create_app` without a runtime reads its configuration from the environment (used by
`baryon server --workers N`).
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from baryon.api.dispatch import Dispatcher, error_response, operation_for
from baryon.config import Settings
from baryon.protocol.errors import UnknownOperationException, ValidationException
from baryon.runtime import Runtime, open_runtime

#: Largest request body accepted. The largest Proton input (a spec or template file) is 51,200 characters.
MAX_BODY = 1024 * 1024


def _as_response(
    error: UnknownOperationException | ValidationException, status: int | None = None
) -> Response:
    result = error_response(error, str(uuid.uuid4()))
    return Response(result.body, status_code=status or result.status, headers=dict(result.headers))


async def _read_body(request: Request) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(runtime: Runtime | None = None) -> Starlette:
    if runtime is None:
        runtime = open_runtime(Settings(), migrate=False)
    dispatcher = Dispatcher(runtime)

    async def api(request: Request) -> Response:
        body = await _read_body(request)
        if body is None:
            return _as_response(
                ValidationException(f"The request body is larger than {MAX_BODY} bytes."), status=413
            )
        headers = request.headers
        op = operation_for(headers.get("x-amz-target"))
        args = (request.method, request.url.path, request.url.query, headers, body)
        if op is not None and op.write:
            result = await run_in_threadpool(dispatcher.handle, *args)
        else:
            result = dispatcher.handle(*args)
        return Response(result.body, status_code=result.status, headers=dict(result.headers))

    async def health(request: Request) -> Response:
        try:
            with runtime.database.read() as connection:
                connection.execute(sa.text("SELECT 1"))
        except Exception as error:  # the health check reports, it does not raise
            return JSONResponse({"status": "unavailable", "reason": type(error).__name__}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def not_served(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        return _as_response(
            UnknownOperationException(
                f"{request.method} {request.url.path} is not an operation of this API."
            ),
            status=status,
        )

    app = Starlette(
        routes=[Route("/", api, methods=["POST"]), Route("/health", health, methods=["GET"])],
        exception_handlers={404: not_served, 405: not_served},
    )
    app.state.runtime = runtime
    return app
