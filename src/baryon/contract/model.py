"""Facade over botocore's `proton` service model.

Invariants: the model is loaded once per process; every lookup is by the exact operation name used in
`X-Amz-Target`; the error names an operation may raise are exactly those its model lists.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore.session

SERVICE_NAME = "proton"
TARGET_PREFIX = "AwsProton20200720."
ERROR_NAMESPACE = "com.amazonaws.proton.v20200720#"


@cache
def service_model() -> Any:
    """The botocore ServiceModel of Proton."""
    return botocore.session.get_session().get_service_model(SERVICE_NAME)


@cache
def operation_names() -> frozenset[str]:
    return frozenset(service_model().operation_names)


@cache
def operation_model(name: str) -> Any:
    return service_model().operation_model(name)


@cache
def operation_errors(name: str) -> frozenset[str]:
    """Error codes the model lists for an operation."""
    return frozenset(shape.name for shape in operation_model(name).error_shapes)


@cache
def waiter_config() -> dict[str, Any]:
    loader = botocore.session.get_session().get_component("data_loader")
    api_version = service_model().api_version
    data: dict[str, Any] = loader.load_service_model(SERVICE_NAME, "waiters-2", api_version)
    return data
