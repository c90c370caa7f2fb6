"""Local-cloud tests: the session's moto server is the local cloud (`Settings.local_cloud_url`), as in
`baryon up`; environments are deployed through the API with a role of the test account, and the
resources are looked at in moto with that account's credentials."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from baryon.localcloud import updates
from baryon.runtime import Runtime
from tests.api.conftest import cloudformation_of_account, empty_cloud
from tests.conftest import ACCOUNT
from tests.support.clients import as_role

__all__ = ["cloudformation_of_account", "empty_cloud"]

REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/proton-service"


@pytest.fixture
def local_cloud(runtime: Runtime, moto_endpoint: str) -> Iterator[str]:
    """Mark the session's moto server as the local cloud for this test's runtime, with the stack updates
    `baryon up` gives its local cloud (the server runs in this process)."""
    runtime.settings.local_cloud_url = moto_endpoint
    updates.install()
    yield moto_endpoint
    updates.uninstall()


@pytest.fixture(scope="session")
def account_client(moto_endpoint: str) -> Callable[[str], Any]:
    """A client of the test account in moto, by service name (made once per service)."""
    made: dict[str, Any] = {}

    def get(service: str) -> Any:
        if service not in made:
            made[service] = as_role(service, moto_endpoint, REGION, ROLE, "local-cloud-test")
        return made[service]

    return get
