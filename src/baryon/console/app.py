"""The console's ASGI app, mounted at /console: sign-in, sign-out, region, static files and the pages.

Invariants: the session cookie is HttpOnly, SameSite=Strict, Path=/console, has a Max-Age, and is Secure
when the request came over https; a failed sign-in answers 401 with one message whatever was wrong; every
response carries `SECURITY_HEADERS`, and every response that is not a static file `Cache-Control: no-store`.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from baryon.api.dispatch import Dispatcher
from baryon.console import actions, forms, pages
from baryon.console.sessions import SignInError
from baryon.console.web import (
    COOKIE,
    PREFIX,
    ROUTES,
    SECURITY_HEADERS,
    Console,
    FormTooLarge,
    View,
    _same_origin,
    action,
    endpoint,
    error_page,
    read_form,
    render,
    safe_next,
)
from baryon.runtime import Runtime

assert pages and forms and actions  # the pages register themselves on import


@action("/sign-out")
def sign_out(view: View) -> Response:
    view.console.sessions.end(view.session.token_hash)
    response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX, httponly=True, samesite="strict")
    return response


@action("/region")
def change_region(view: View) -> Response:
    try:
        view.console.sessions.set_region(view.session, view.form.get("region", ""))
    except SignInError as error:
        return error_page(view.request, view.session, 400, "ValidationException", str(error))
    return RedirectResponse(safe_next(view.form.get("next")), status_code=303)


def console_app(runtime: Runtime, dispatcher: Dispatcher) -> ASGIApp:
    console = Console(runtime, dispatcher)
    default_region = runtime.settings.console_region

    async def sign_in_form(request: Request) -> Response:
        return render(
            request, "sign_in.html", next=safe_next(request.query_params.get("next")), region=default_region
        )

    async def sign_in(request: Request) -> Response:
        try:
            form = await read_form(request)
        except FormTooLarge as error:
            return error_page(request, None, 413, "ValidationException", str(error))
        target = safe_next(form.get("next"))
        region = form.get("region", "").strip() or default_region
        if not _same_origin(request):
            return error_page(request, None, 403, "Forbidden", "Cross-site requests are refused.")
        access_key_id = form.get("access_key_id", "").strip()
        attempt = console.throttle.keys(request.client.host if request.client else None, access_key_id)
        wait = console.throttle.wait(attempt, runtime.clock.now())
        if wait:
            message = f"Too many failed sign-ins; try again in {wait} seconds."
            refused = render(
                request,
                "sign_in.html",
                429,
                next=target,
                region=region,
                error=message,
                access_key_id=access_key_id,
            )
            refused.headers["Retry-After"] = str(wait)
            return refused
        try:
            token, session = await run_in_threadpool(
                console.sessions.sign_in,
                access_key_id,
                form.get("secret_access_key", ""),
                region,
                runtime.clock.now(),
            )
        except SignInError as error:
            console.throttle.failed(attempt, runtime.clock.now())
            return render(
                request,
                "sign_in.html",
                401,
                next=target,
                region=region,
                error=str(error),
                access_key_id=access_key_id,
            )
        console.throttle.succeeded(access_key_id)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            token,
            max_age=max(1, int(session.expires_at - runtime.clock.now())),
            path=PREFIX,
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return response

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        message = "This page does not exist." if status == 404 else "This method is not allowed here."
        session = await run_in_threadpool(
            console.sessions.find, request.cookies.get(COOKIE), runtime.clock.now()
        )
        return error_page(
            request, session, status, "NotFound" if status == 404 else "MethodNotAllowed", message
        )

    routes: list[Route | Mount] = [
        Route("/sign-in", sign_in_form, methods=["GET"]),
        Route("/sign-in", sign_in, methods=["POST"]),
        Mount("/static", StaticFiles(packages=[("baryon.console", "static")])),
    ]
    # Fixed paths (/environments/new) before the parameterised ones (/environments/{name}) that match them.
    for method, path, handler in sorted(ROUTES, key=lambda route: route[1].count("{")):
        routes.append(Route(path, endpoint(console, method, handler), methods=[method]))
    inner = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        static = scope.get("path", "").startswith(f"{PREFIX}/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
                for name, value in SECURITY_HEADERS.items():
                    headers.append((name.encode(), value.encode()))
                headers.append((b"cache-control", b"max-age=300" if static else b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await inner(scope, receive, send_with_headers)

    return app
