"""The error a boto3 call answers, as the pair a user sees: the AWS error code and its exact message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError


def error_of(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str]:
    """Call `call(**kwargs)`, which must fail with an AWS error; return its (code, message)."""
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]
