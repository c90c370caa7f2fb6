"""Provisioning errors: every AWS failure a provisioner meets becomes one `ProvisionError`.

Job: turn botocore's exceptions into a value the deployment job can act on — `transient` (throttling,
connection trouble, 5xx, expired temporary credentials, a stack busy with another operation: retry by
the job's policy) or permanent (template validation, access denied, missing capabilities, limits: fail
the deployment with `message` as its `deploymentStatusMessage`).

A reply that is not the service's protocol at all (an HTML error page from a proxy or a broken endpoint:
a `ResponseParserError`, or a `ClientError` whose code is only the HTTP status botocore read off a page
that was neither XML nor JSON) is permanent: botocore's own retries (at most three, seconds apart) are
the only retry it gets, and the message names the endpoint and the HTTP status.

Invariants: `message` is one line, names what Baryon was doing and carries AWS's own code and text (cut
at `MAX_TEXT` characters), and never contains credentials; an unknown client error with a 4xx status is
permanent (retrying the same request cannot help), an unknown 5xx or non-HTTP botocore failure is
transient (the retry policy bounds the cost of being wrong).
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)
from botocore.parsers import ResponseParserError

from baryon.domain.outcomes import Failed, Retry

# Codes AWS services use for "try again later".
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalError",
        "InternalServiceError",
        "InternalServerError",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
        "IDPCommunicationError",
        "EC2ThrottledException",
        # temporary credentials ran out between the cache check and the call: a new AssumeRole fixes it
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
    }
)

# What AWS calls raise: service errors, botocore's own, and unparseable answers (a proxy's or a broken
# endpoint's HTML error page; botocore.parsers.ResponseParserError is not a BotoCoreError).
BOTO_ERRORS: tuple[type[Exception], ...] = (ClientError, BotoCoreError, ResponseParserError)

# The code of a ProvisionError for a reply botocore could not parse at all.
NOT_AN_AWS_REPLY = "NotAnAwsReply"

# Codes meaning "these credentials are stale"; callers drop cached assumed-role sessions on them.
EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})


class ProvisionError(Exception):
    """A provisioning step could not complete. `transient` says whether retrying the same step can help."""

    def __init__(self, message: str, *, transient: bool, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.code = code

    def outcome(self) -> Retry | Failed:
        """The job outcome for this error: `Retry` when transient, else `Failed` with the message."""
        return Retry(self.message) if self.transient else Failed(self.message)

    def __repr__(self) -> str:
        return f"ProvisionError({self.message!r}, transient={self.transient}, code={self.code!r})"


def not_an_aws_reply(error: ProvisionError) -> bool:
    """Whether the error is an answer that was not the service's protocol (an HTML page)."""
    return error.code is not None and (error.code == NOT_AN_AWS_REPLY or error.code.startswith("HTTP"))


def error_code(exc: BaseException) -> str | None:
    """AWS's error code of a `ClientError` (e.g. "ValidationError"), else None."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


MAX_TEXT = 500  # characters of AWS's text kept in a message (an HTML error page must not fill it)


def error_message(exc: BaseException) -> str:
    """AWS's error message of a `ClientError`, else the exception's text; on one line, at most
    `MAX_TEXT` characters."""
    text = str(exc)
    if isinstance(exc, ClientError):
        text = str(exc.response.get("Error", {}).get("Message") or text)
    text = " ".join(text.split())
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _status(exc: ClientError) -> int:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if isinstance(status, int) else 0


def _foreign_page(exc: ClientError) -> bool:
    """Whether botocore made this error up from a reply that was not the service's protocol (an HTML or
    plain-text page): the code is then only the HTTP status, and the reply was neither XML nor JSON."""
    code = str(exc.response.get("Error", {}).get("Code") or "")
    headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}) or {}
    content_type = str(headers.get("content-type", "")).lower()
    return code.isdigit() and "xml" not in content_type and "json" not in content_type


def _where(endpoint: str | None) -> str:
    return f"the endpoint {endpoint}" if endpoint else "the endpoint"


def from_boto(exc: BaseException, doing: str, endpoint: str | None = None) -> ProvisionError:
    """Classify a boto/botocore exception raised while `doing` (e.g. "CreateStack AWSProton-dev-1a2b3c4d")
    against `endpoint` (the client's URL, named in messages about replies that are not the protocol)."""
    if isinstance(exc, ProvisionError):
        return exc
    if isinstance(exc, ClientError) and _foreign_page(exc):
        status = _status(exc)
        reason = error_message(exc)
        return ProvisionError(
            f"{doing} failed: {_where(endpoint)} answered HTTP {status} ({reason}) with a page that is not "
            "an AWS reply; check the endpoint and any proxy in front of it",
            transient=False,
            code=f"HTTP{status}",
        )
    if isinstance(exc, ResponseParserError):
        return ProvisionError(
            f"{doing} failed: {_where(endpoint)} answered with something that is not an AWS reply: "
            f"{error_message(exc)}",
            transient=False,
            code=NOT_AN_AWS_REPLY,
        )
    if isinstance(exc, ClientError):
        code = error_code(exc) or "Unknown"
        message = error_message(exc)
        status = _status(exc)
        transient = code in TRANSIENT_CODES or status >= 500
        if code == "ValidationError" and "_IN_PROGRESS state" in message:
            # "Stack:… is in UPDATE_IN_PROGRESS state and can not be updated": another operation is running
            transient = True
        return ProvisionError(f"{doing} failed: {code}: {message}", transient=transient, code=code)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | NoRegionError | ParamValidationError):
        return ProvisionError(f"{doing} failed: {error_message(exc)}", transient=False)
    if isinstance(exc, CredentialRetrievalError | BotoConnectionError | HTTPClientError):
        return ProvisionError(f"{doing} failed: {error_message(exc)}", transient=True)
    if isinstance(exc, BotoCoreError):
        return ProvisionError(f"{doing} failed: {error_message(exc)}", transient=True)
    raise TypeError(f"not a boto error: {exc!r}")
