"""Starlette application serving the Proton API.

Invariants: read operations run inline on the event loop (they never wait on a lock: SQLite WAL readers
and PostgreSQL readers do not block); write operations run in the thread pool so a writer queued on the
database lock cannot stall other requests; `create_app` without a runtime reads its configuration from
the environment (used by `baryon server --workers N`).
"""

from __future__ import annotations

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from baryon.api.dispatch import Dispatcher, operation_for
from baryon.config import Settings
from baryon.runtime import Runtime, open_runtime


def create_app(runtime: Runtime | None = None) -> Starlette:
    if runtime is None:
        runtime = open_runtime(Settings(), migrate=False)
    dispatcher = Dispatcher(runtime)

    async def api(request: Request) -> Response:
        body = await request.body()
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

    app = Starlette(routes=[Route("/", api, methods=["POST"]), Route("/health", health, methods=["GET"])])
    app.state.runtime = runtime
    return app
