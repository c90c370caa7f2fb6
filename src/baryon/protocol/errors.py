"""Errors answered on the wire, each class named exactly after its AWS error code.

Invariants: a `ServiceError` carries its code, HTTP status and message; the message is the complete
text the client sees. Client errors are HTTP 400; `InternalServerException` is HTTP 500.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every error Baryon answers with an AWS error body."""

    code: str = "ServiceError"
    status: int = 400
    #: True for errors that belong to the AWS Proton model (body `__type` is namespaced).
    modelled: bool = True

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationException(ServiceError):
    code = "ValidationException"


class AccessDeniedException(ServiceError):
    code = "AccessDeniedException"


class ConflictException(ServiceError):
    code = "ConflictException"


class ResourceNotFoundException(ServiceError):
    code = "ResourceNotFoundException"


class ServiceQuotaExceededException(ServiceError):
    code = "ServiceQuotaExceededException"


class ThrottlingException(ServiceError):
    code = "ThrottlingException"


class InternalServerException(ServiceError):
    code = "InternalServerException"
    status = 500


# Errors of the AWS front door (authentication, routing), common to every AWS JSON service.


class UnrecognizedClientException(ServiceError):
    code = "UnrecognizedClientException"
    modelled = False


class InvalidSignatureException(ServiceError):
    code = "InvalidSignatureException"
    modelled = False


class IncompleteSignatureException(ServiceError):
    code = "IncompleteSignatureException"
    modelled = False


class MissingAuthenticationTokenException(ServiceError):
    code = "MissingAuthenticationTokenException"
    modelled = False


class ExpiredTokenException(ServiceError):
    code = "ExpiredTokenException"
    modelled = False


class UnknownOperationException(ServiceError):
    code = "UnknownOperationException"
    modelled = False


FRONT_DOOR_ERRORS = frozenset(
    cls.code
    for cls in (
        UnrecognizedClientException,
        InvalidSignatureException,
        IncompleteSignatureException,
        MissingAuthenticationTokenException,
        ExpiredTokenException,
        UnknownOperationException,
    )
)
