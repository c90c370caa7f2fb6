"""Errors answered on the wire, each class named exactly after its AWS error code.

Invariants: a `ServiceError` carries its code (its class's name), HTTP status and message; the message is
the complete text the client sees. Client errors are HTTP 400; `InternalServerException` is HTTP 500.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every error Baryon answers with an AWS error body."""

    code: str = "ServiceError"
    status: int = 400
    #: True for errors that belong to the AWS Proton model (body `__type` is namespaced).
    modelled: bool = True

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls.code = cls.__name__

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationException(ServiceError):
    """The request is malformed or breaks a constraint of the model."""


class AccessDeniedException(ServiceError):
    """The caller may not perform the operation."""


class ConflictException(ServiceError):
    """The resource's current state does not allow the operation."""


class ResourceNotFoundException(ServiceError):
    """A resource the request names does not exist."""


class ServiceQuotaExceededException(ServiceError):
    """The operation would pass a quota."""


class ThrottlingException(ServiceError):
    """Too many requests; the client may retry."""


class InternalServerException(ServiceError):
    """An unexpected failure inside Baryon."""

    status = 500


class FrontDoorError(ServiceError):
    """Errors of the AWS front door (authentication, routing), common to every AWS JSON service."""

    modelled = False


class UnrecognizedClientException(FrontDoorError):
    """The access key is not known."""


class InvalidSignatureException(FrontDoorError):
    """The request's signature does not match the one computed for it."""


class IncompleteSignatureException(FrontDoorError):
    """The Authorization header is missing a part or is malformed."""


class MissingAuthenticationTokenException(FrontDoorError):
    """The request carries no credentials."""


class ExpiredTokenException(FrontDoorError):
    """The credentials have expired."""


class UnknownOperationException(FrontDoorError):
    """The X-Amz-Target names no operation."""


#: The wire codes of the front-door errors, which any operation may answer.
FRONT_DOOR_ERRORS = frozenset(error.code for error in FrontDoorError.__subclasses__())
