"""The console's web plumbing: page registry, session check, CSRF-checked POSTs, rendering, headers.

A page is one small handler registered with `@page(path)` (or `@action(path)` for a POST) plus one Jinja
template. A handler receives a `View`: `view.call(operation, params)` runs a Proton operation as the
signed-in credential (through `Dispatcher.invoke`), `view.render(template, **values)` answers HTML.

Invariants: no page or action runs without a live session (a browser without one is sent to the sign-in
page with a `next` that is a path under /console/); every action checks the CSRF field with
`compare_digest` and refuses a cross-site Origin before the handler runs; a ServiceError from an operation
becomes an error page with its code and message (ResourceNotFoundException: 404); every console response
carries the security headers of `SECURITY_HEADERS`, and pages `Cache-Control: no-store`. A form body larger
than `MAX_FORM` is refused with 413 and a message saying so, before any handler runs.

Flash messages: an action answers `view.done(path, message, lines)`, a 303 redirect that leaves the message
in a short-lived cookie signed with the session's CSRF secret; the next page rendered for that session shows
it once (and clears it). A cookie not signed for the session is ignored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from jinja2 import Environment, PackageLoader, Undefined, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from baryon.api.dispatch import Dispatcher
from baryon.console.sessions import Session, Sessions, csrf_ok
from baryon.console.throttle import SignInThrottle
from baryon.protocol.errors import ServiceError
from baryon.runtime import Runtime

log = logging.getLogger("baryon.console")

COOKIE = "baryon_console"
FLASH_COOKIE = "baryon_flash"
#: Lines a flash message keeps (the rest are counted: "and N more").
FLASH_LINES = 40
FLASH_LINE_CHARS = 300
#: The most characters of a flash cookie's payload (browsers keep cookies up to about 4 KB).
FLASH_BYTES = 3000
PREFIX = "/console"
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
}
REGIONS = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1", "eu-west-2",
    "eu-west-3", "eu-central-1", "eu-north-1", "ap-northeast-1", "ap-northeast-2", "ap-southeast-1",
    "ap-southeast-2", "ap-south-1", "sa-east-1",
)  # fmt: skip


#: What the create forms let the browser accept as a resource name (the API checks it again): letters,
#: digits, - and _, starting with a letter or digit, at most 100 characters; HTML `pattern` syntax.
NAME_PATTERN = r"[0-9A-Za-z][0-9A-Za-z_\-]{0,99}"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("baryon.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.globals["NAME_PATTERN"] = NAME_PATTERN
    return env


def _when(value: Any) -> str:
    """An API timestamp (epoch seconds) as UTC text."""
    from datetime import UTC, datetime

    if value is None or value == "" or isinstance(value, Undefined):
        return ""
    try:
        return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (TypeError, ValueError, OverflowError):
        return str(value)


TEMPLATES = _environment()


@dataclass
class Console:
    runtime: Runtime
    dispatcher: Dispatcher
    sessions: Sessions = field(init=False)
    throttle: SignInThrottle = field(init=False)

    def __post_init__(self) -> None:
        settings = self.runtime.settings
        self.sessions = Sessions(
            self.runtime.database, self.runtime.credentials, settings.console_session_hours
        )
        self.throttle = SignInThrottle(settings.console_sign_in_limit)


@dataclass
class View:
    """One request to a page or action, as the signed-in credential."""

    console: Console
    request: Request
    session: Session
    form: dict[str, str] = field(default_factory=dict)

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.request.path_params)

    def query(self, name: str) -> str | None:
        return self.request.query_params.get(name) or None

    def call(self, operation: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run a Proton operation as the session's credential, account and region."""
        return self.console.dispatcher.invoke(
            self.session.account_id,
            self.session.region,
            self.session.principal,
            operation,
            {k: v for k, v in (params or {}).items() if v is not None},
        )

    def render(self, name: str, /, status: int = 200, **values: Any) -> Response:
        """The template `name` rendered with `values` (and the session, for the layout), with the flash
        message an action left, which it then clears."""
        flash = read_flash(self.session, self.request.cookies.get(FLASH_COOKIE))
        response = render(self.request, name, status, session=self.session, flash=flash, **values)
        if FLASH_COOKIE in self.request.cookies:
            response.delete_cookie(FLASH_COOKIE, path=PREFIX, httponly=True, samesite="strict")
        return response

    def done(
        self, target: str, message: str, lines: list[str] | None = None, *, failed: bool = False
    ) -> Response:
        """A 303 redirect to `target` (a path under /console/) whose page shows `message` and `lines`."""
        response = RedirectResponse(safe_next(target), status_code=303)
        response.set_cookie(
            FLASH_COOKIE,
            write_flash(self.session, message, lines or [], failed),
            max_age=120,
            path=PREFIX,
            secure=self.request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return response


@dataclass(frozen=True)
class Flash:
    """A message an action left for the next page: its text, the per-resource lines, whether it failed."""

    message: str
    lines: list[str]
    failed: bool


def _flash_signature(session: Session, payload: str) -> str:
    return hmac.new(session.csrf_token.encode(), payload.encode(), hashlib.sha256).hexdigest()


def write_flash(session: Session, message: str, lines: list[str], failed: bool) -> str:
    """The cookie value carrying a flash message: at most `FLASH_LINES` lines, and short enough for a
    browser to keep (`FLASH_BYTES`); lines left out are counted ("and N more")."""
    kept = [line[:FLASH_LINE_CHARS] for line in lines[:FLASH_LINES]]
    while True:
        left = len(lines) - len(kept)
        shown = kept + ([f"and {left} more"] if left else [])
        data = json.dumps({"m": message[:FLASH_LINE_CHARS], "l": shown, "f": failed}).encode()
        payload = base64.urlsafe_b64encode(data).decode().rstrip("=")
        if len(payload) <= FLASH_BYTES or not kept:
            return f"{payload}.{_flash_signature(session, payload)}"
        kept.pop()


def read_flash(session: Session, cookie: str | None) -> Flash | None:
    """The flash message in `cookie` when it was signed for `session`, else None."""
    if not cookie or "." not in cookie or len(cookie) > 8192:
        return None
    payload, signature = cookie.rsplit(".", 1)
    if not hmac.compare_digest(signature, _flash_signature(session, payload)):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return Flash(str(data["m"]), [str(line) for line in data["l"]], bool(data["f"]))
    except (ValueError, KeyError, TypeError):
        return None


def render(request: Request, name: str, /, status: int = 200, **values: Any) -> Response:
    values.setdefault("session", None)
    body = TEMPLATES.get_template(name).render(
        request=request, path=request.url.path, regions=REGIONS, **values
    )
    return HTMLResponse(body, status_code=status)


def page_status(error: ServiceError) -> int:
    """The HTTP status of a console page showing `error`: 404 for a resource not found, 409 for a
    conflict, else the API's."""
    return {"ResourceNotFoundException": 404, "ConflictException": 409}.get(error.code, error.status)


def error_page(request: Request, session: Session | None, status: int, code: str, message: str) -> Response:
    return render(request, "error.html", status, session=session, code=code, message=message)


def safe_next(value: str | None) -> str:
    """`value` when it is a path under /console/ on this site, else the dashboard."""
    if not value or not value.startswith(PREFIX + "/") or "\\" in value or value.startswith("//"):
        return PREFIX + "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or "//" in parts.path or any(ord(c) < 0x20 for c in value):
        return PREFIX + "/"
    return value


#: The largest form body read (a larger one is refused with `FormTooLarge`).
MAX_FORM = 256 * 1024


class FormTooLarge(Exception):
    """A form body past `MAX_FORM`; the message says so."""

    def __init__(self) -> None:
        super().__init__(f"The form is larger than {MAX_FORM // 1024} KiB; nothing was changed.")


async def read_form(request: Request) -> dict[str, str]:
    """The fields of an `application/x-www-form-urlencoded` body (the only kind the console's forms send);
    the last value of a repeated field wins. Raises `FormTooLarge` past `MAX_FORM` bytes."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        return {}
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise FormTooLarge()
    return dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))


def _cookie_token(request: Request) -> str | None:
    return request.cookies.get(COOKIE)


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")


Handler = Callable[[View], Response]
ROUTES: list[tuple[str, str, Handler]] = []


def page(path: str) -> Callable[[Handler], Handler]:
    """Register a GET page at /console`path`."""

    def register(handler: Handler) -> Handler:
        ROUTES.append(("GET", path, handler))
        return handler

    return register


def action(path: str) -> Callable[[Handler], Handler]:
    """Register a POST action at /console`path`: Origin and CSRF are checked before it runs; its form
    fields are `view.form`."""

    def register(handler: Handler) -> Handler:
        ROUTES.append(("POST", path, handler))
        return handler

    return register


def endpoint(console: Console, method: str, handler: Handler) -> Callable[[Request], Any]:
    """The Starlette endpoint that checks the session (and, for POST, Origin and CSRF) around `handler`."""

    async def run(request: Request) -> Response:
        now = console.runtime.clock.now()
        session = await run_in_threadpool(console.sessions.find, _cookie_token(request), now)
        if session is None:
            if method == "POST":
                return error_page(request, None, 403, "Forbidden", "Sign in again to do this.")
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"{PREFIX}/sign-in?next={quote(target, safe='')}", status_code=303)
        form: dict[str, str] = {}
        if method == "POST":
            if not _same_origin(request):
                return error_page(request, session, 403, "Forbidden", "Cross-site requests are refused.")
            try:
                form = await read_form(request)
            except FormTooLarge as error:
                return error_page(request, session, 413, "ValidationException", str(error))
            if not csrf_ok(session, form.get("csrf_token")):
                return error_page(
                    request,
                    session,
                    403,
                    "Forbidden",
                    "The form has expired or was not sent by this console.",
                )
        view = View(console, request, session, form)
        try:
            return await run_in_threadpool(handler, view)
        except ServiceError as error:
            return error_page(request, session, page_status(error), error.code, error.message)
        except Exception:  # logged; the browser gets a page, not a traceback
            log.exception("console %s %s failed", method, request.url.path)
            return error_page(request, session, 500, "InternalServerException", "An internal error occurred.")

    return run
