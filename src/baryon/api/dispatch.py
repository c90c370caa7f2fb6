"""One request in, one response out: identity, operation, validation, handler, encoding.

Invariants: every response carries `x-amzn-RequestId`; every `ServiceError` becomes the AWS error body
here and nowhere else; a credential with a resource scope (issued to a command run) reaches only
NotifyResourceDeploymentStatusChange for that very resource ARN, anything else is AccessDeniedException
before the request is validated; an operation answers only errors its model lists (anything else is logged and
answered as InternalServerException, without a traceback on the wire); a write handler's changes, its
idempotency record and its jobs commit together or not at all; every request is counted in
`baryon_api_requests_total{operation,code}` (code "200" or the AWS error code), timed, and logged as one line
of `baryon.api.requests` with its id, account, region, operation, status, code and duration (never its body);
`invoke` (an operation run as an identity established elsewhere, the console's session) takes the same path
after identity (validation, handler, transaction, idempotency, metrics, log line) and raises the ServiceError.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from baryon import logs, metrics, tracing
from baryon.api.registry import OPERATIONS, Context, Operation, load_all
from baryon.contract.model import (
    ERROR_NAMESPACE,
    TARGET_PREFIX,
    operation_errors,
    operation_model,
    operation_names,
)
from baryon.protocol import sigv4
from baryon.protocol.errors import (
    AccessDeniedException,
    InternalServerException,
    ServiceError,
    UnknownOperationException,
    ValidationException,
)
from baryon.protocol.validation import validate_input
from baryon.runtime import Runtime
from baryon.store.schema import idempotency_tokens

log = logging.getLogger("baryon.api")
#: One line per API request, with its fields (`baryon.logs.FIELDS`).
request_log = logging.getLogger("baryon.api.requests")
CONTENT_TYPE = "application/x-amz-json-1.0"
_T = TypeVar("_T")
#: The one operation a credential with a resource scope may call.
SCOPED_OPERATION = "NotifyResourceDeploymentStatusChange"


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def error_response(error: ServiceError, request_id: str) -> Response:
    namespace = ERROR_NAMESPACE if error.modelled else "com.amazon.coral.service#"
    body = orjson.dumps({"__type": namespace + error.code, "message": error.message})
    return Response(
        error.status,
        [
            ("content-type", CONTENT_TYPE),
            ("x-amzn-requestid", request_id),
            ("x-amzn-errortype", error.code),
        ],
        body,
    )


def operation_for(target: str | None) -> Operation | None:
    """The registered operation named by an `X-Amz-Target` value, if any."""
    if target and target.startswith(TARGET_PREFIX):
        return OPERATIONS.get(target[len(TARGET_PREFIX) :])
    return None


class Dispatcher:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        load_all()

    def handle(self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes) -> Response:
        request_id = str(uuid.uuid4())
        target = headers.get("x-amz-target", "")
        name = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
        started = time.perf_counter()
        caller: dict[str, str] = {}
        with tracing.request_span(name) as span:
            response = self._handle(method, path, query, headers, body, request_id, name, caller)
            code = "200" if response.status == 200 else _error_code(response.body)
            if span is not None:
                _trace_request(span, request_id, caller, response, code)
        _record(request_id, name, caller, response.status, code, time.perf_counter() - started)
        return response

    def invoke(
        self, account_id: str, region: str, principal: str, operation: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        """Run `operation` as an identity already established (the console's signed-in credential) on the
        same path as a signed request after its identity: validation against the model, a read handler on a
        read connection, a write handler in one transaction with idempotency, metrics and the request log
        line. A `ServiceError` propagates (one the model does not list becomes InternalServerException)."""
        with tracing.request_span(operation):
            return self._invoke(account_id, region, principal, operation, params)

    def _invoke(
        self, account_id: str, region: str, principal: str, operation: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        request_id = str(uuid.uuid4())
        started = time.perf_counter()
        caller = {"account": account_id, "region": region}
        status, code = 200, "200"
        try:
            return self._on_connection(
                operation,
                lambda connection: self._execute(
                    account_id, region, principal, operation, params, request_id, connection
                ),
            )
        except ServiceError as error:
            error = _listed(error, operation, request_id)
            status, code = error.status, error.code
            raise error from None
        except Exception:
            log.exception("request %s: %s failed", request_id, operation)
            status, code = 500, InternalServerException.code
            raise InternalServerException("An internal error occurred.") from None
        finally:
            _record(request_id, operation, caller, status, code, time.perf_counter() - started)
            traced: dict[str, str | int | None] = {
                tracing.REQUEST_ID: request_id,
                tracing.ACCOUNT: account_id,
                tracing.REGION: region,
                tracing.STATUS: status,
                tracing.CODE: code,
            }
            tracing.annotate_current(**traced)

    def _on_connection(self, operation: str, run: Callable[[Connection | None], _T]) -> _T:
        """`run` on one read connection held for the whole request when `operation` is a read (the credential
        lookup and the handler share it), else with None (a write opens its own transaction)."""
        op = OPERATIONS.get(operation)
        if op is not None and not op.write:
            with self.runtime.database.read(hold=True) as connection:
                return run(connection)
        return run(None)

    def _handle(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        request_id: str,
        name: str,
        caller: dict[str, str],
    ) -> Response:
        try:
            return self._on_connection(
                name,
                lambda connection: self._process(
                    method, path, query, headers, body, request_id, name, connection, caller
                ),
            )
        except ServiceError as error:
            return error_response(_listed(error, name, request_id), request_id)
        except Exception:
            log.exception("request %s: %s failed", request_id, name or "request")
            return error_response(InternalServerException("An internal error occurred."), request_id)

    def _process(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        request_id: str,
        name: str,
        connection: Connection | None,
        caller: dict[str, str],
    ) -> Response:
        credentials = self.runtime.credentials
        identity = sigv4.verify(
            method,
            path,
            query,
            headers,
            body,
            lambda key: credentials.lookup(key, connection),
            datetime.fromtimestamp(self.runtime.clock.now(), UTC),
        )
        caller.update(account=identity.account_id, region=identity.region)
        if not _is_operation(name):
            target = headers.get("x-amz-target")
            raise UnknownOperationException(f"Unknown operation {target or '(no X-Amz-Target)'}")
        if identity.scope is not None and name != SCOPED_OPERATION:
            raise AccessDeniedException(_denied(identity.principal, name))
        params = self._decode(body)
        if identity.scope is not None:
            resource = params.get("resourceArn") if isinstance(params, dict) else None
            if resource != identity.scope:
                shown = resource if isinstance(resource, str) and resource else "*"
                raise AccessDeniedException(_denied(identity.principal, name, shown))
        result = self._execute(
            identity.account_id, identity.region, identity.principal, name, params, request_id, connection
        )
        return Response(
            200,
            [("content-type", CONTENT_TYPE), ("x-amzn-requestid", request_id)],
            orjson.dumps(result),
        )

    def _execute(
        self,
        account_id: str,
        region: str,
        principal: str,
        name: str,
        params: Any,
        request_id: str,
        connection: Connection | None,
    ) -> dict[str, Any]:
        """The part shared by signed requests and `invoke`: validate, then run the handler (a read on
        `connection`, a write in its own transaction)."""
        validate_input(name, params)
        op = OPERATIONS.get(name)
        if op is None:
            raise ValidationException(f"The operation {name} is not available on this Baryon server yet.")
        ctx = Context(self.runtime, account_id, region, principal, request_id, name)
        if connection is not None and not op.write:
            return op.handler(ctx, params, connection)
        return self._run_write(op, ctx, params)

    @staticmethod
    def _decode(body: bytes) -> Any:
        if not body.strip():
            return {}
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            raise ValidationException("The request body is not valid JSON.") from None

    def _run_write(self, op: Operation, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        """Run a write handler in one transaction. A unique-key conflict with a concurrent request (two
        creates of one name, or one client token, at the same moment) runs the handler once more, so
        that it sees the other request's row and answers as for a repeated request."""
        for attempt in range(2):
            try:
                return self._run_write_once(op, ctx, params)
            except sa.exc.IntegrityError:
                if attempt:
                    raise
                ctx.after_commit.clear()
        raise AssertionError("unreachable")

    def _run_write_once(self, op: Operation, ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        database = self.runtime.database
        token_member = _idempotency_member(op.name)
        token = params.get(token_member) if token_member else None
        with database.write() as connection:
            if token:
                digest = _digest({k: v for k, v in params.items() if k != token_member})
                replay = _replay(connection, ctx, token, digest)
                if replay is not None:
                    return replay
            result = op.handler(ctx, params, connection)
            if token:
                connection.execute(
                    sa.insert(idempotency_tokens).values(
                        account_id=ctx.account_id,
                        region=ctx.region,
                        operation=op.name,
                        token=token,
                        request_digest=digest,
                        response=orjson.dumps(result).decode(),
                        created_at=ctx.now,
                    )
                )
        for callback in ctx.after_commit:
            callback()
        return result


def _listed(error: ServiceError, name: str, request_id: str) -> ServiceError:
    """`error`, or InternalServerException when it is modelled but the operation's model does not list it."""
    if error.modelled and name and error.code not in operation_errors(name):
        log.error(
            "request %s: %s raised %s, which its model does not list: %s",
            request_id,
            name,
            error.code,
            error.message,
        )
        return InternalServerException("An internal error occurred.")
    return error


def _record(
    request_id: str, name: str, caller: Mapping[str, str], status: int, code: str, seconds: float
) -> None:
    """Count, time and log one request (`baryon_api_requests_total`, the `baryon.api.requests` line)."""
    # A name that is not an operation of the model is the client's text: it is neither a label nor logged.
    known = name if _is_operation(name) else ""
    metrics.record_request(known, code, seconds)
    parts = (request_id, known, caller.get("account"), caller.get("region"), status, code, seconds)
    handler = logs.direct_handler(request_log, logging.INFO)
    if handler is not None:
        # The line is formatted with the others of its batch, off this request's path.
        handler.write_later(_request_line, time.time(), parts)
    elif request_log.isEnabledFor(logging.INFO):
        logs.emit(request_log, logging.INFO, *_request_fields(parts))


#: A request's line before it is formatted: request id, operation ("" for none), account, region, HTTP
#: status, code, seconds.
_RequestParts = tuple[str, str, str | None, str | None, int, str, float]


def _request_fields(parts: _RequestParts) -> tuple[str, dict[str, Any]]:
    """The request line's message and fields."""
    request_id, known, account, region, status, code, seconds = parts
    fields = {
        "request_id": request_id,
        "account": account,
        "region": region,
        "operation": known or None,
        "status": status,
        "code": code,
        "duration_ms": round(seconds * 1000, 3),
    }
    return f"{known or '(no operation)'} {status} {code}", fields


def _request_line(created: float, parts: _RequestParts) -> str:
    message, fields = _request_fields(parts)
    return logs.json_line(created, logging.INFO, request_log.name, message, fields) + "\n"


def _error_code(body: bytes) -> str:
    """The AWS error code of an error response's body (its `__type`)."""
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "unknown"
    value = decoded.get("__type") if isinstance(decoded, dict) else None
    return str(value).rsplit("#", 1)[-1] if value else "unknown"


def _denied(principal: str, operation: str, resource: str = "*") -> str:
    """The message AWS gives when no policy allows an action (IAM names the resource unless it is *)."""
    action = f"proton:{operation}"
    where = "" if resource == "*" else f" on resource: {resource}"
    return (
        f"User: {principal} is not authorized to perform: {action}{where} because no identity-based "
        f"policy allows the {action} action"
    )


def _is_operation(name: str) -> bool:
    return name in operation_names()


@cache
def _idempotency_member(operation: str) -> str | None:
    shape = operation_model(operation).input_shape
    if shape is None:
        return None
    for member_name, member in shape.members.items():
        if member.metadata.get("idempotencyToken"):
            return str(member_name)
    return None


def _digest(params: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(params, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _replay(connection: Connection, ctx: Context, token: str, digest: str) -> dict[str, Any] | None:
    table = idempotency_tokens
    row = connection.execute(
        sa.select(table.c.request_digest, table.c.response).where(
            table.c.account_id == ctx.account_id,
            table.c.region == ctx.region,
            table.c.operation == ctx.operation,
            table.c.token == token,
        )
    ).first()
    if row is None:
        return None
    if row.request_digest != digest:
        raise ValidationException(
            "Idempotent parameter mismatch: the client token was already used with other parameters."
        )
    result: dict[str, Any] = orjson.loads(row.response)
    return result


def _trace_request(span: Any, request_id: str, caller: dict[str, str], response: Response, code: str) -> None:
    """The request's attributes on its span: ids, status, and the deployment it returned (when the
    operation did not create one, which `store.jobs.enqueue` names)."""
    tracing.set_attributes(
        span,
        **{
            tracing.REQUEST_ID: request_id,
            tracing.ACCOUNT: caller.get("account"),
            tracing.REGION: caller.get("region"),
            tracing.STATUS: response.status,
            tracing.CODE: code,
        },
    )
    if response.status == 200 and tracing.DEPLOYMENT not in (getattr(span, "attributes", None) or {}):
        tracing.set_attributes(span, **{tracing.DEPLOYMENT: _returned_deployment(response.body)})


def _returned_deployment(body: bytes) -> str | None:
    """The deployment an answer names: `deployment.id`, else a resource's `lastAttemptedDeploymentId`."""
    try:
        document = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None
    if not isinstance(document, dict):
        return None
    deployment = document.get("deployment")
    if isinstance(deployment, dict) and isinstance(deployment.get("id"), str):
        return str(deployment["id"])
    for value in document.values():
        if isinstance(value, dict) and isinstance(value.get("lastAttemptedDeploymentId"), str):
            return str(value["lastAttemptedDeploymentId"])
    return None
