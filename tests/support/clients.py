"""boto3 Proton clients for tests: in-process through a `before-send` hook, or against a real server.

Invariant: every Proton client a test uses is made here, and every one checks each raw response body against
the model (`tests.support.contract`) before botocore parses it. `as_role` makes the other AWS clients a
test needs: ones acting as a role of the local cloud, in that role's account.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from baryon.api.dispatch import Dispatcher
from baryon.protocol.sigv4 import Credential
from tests.support import contract

#: One attempt per call: botocore's `max_attempts` counts retries, `total_max_attempts` counts every attempt.
NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def in_process_client(
    dispatcher: Dispatcher, credential: Credential, region: str = "us-east-1", config: Config = NO_RETRY
) -> Any:
    """A real boto3 Proton client whose requests are answered by the dispatcher without a socket."""
    client = boto3.client(
        "proton",
        region_name=region,
        endpoint_url="http://baryon.test",
        aws_access_key_id=credential.access_key_id,
        aws_secret_access_key=credential.secret_access_key,
        config=config,
    )

    def send(request: Any, **_: Any) -> AWSResponse:
        url = urlsplit(request.url)
        headers = {
            key.lower(): (v.decode() if isinstance(v, bytes) else v) for key, v in request.headers.items()
        }
        headers.setdefault("host", url.netloc)
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        elif not isinstance(body, bytes):
            body = body.read()
        response = dispatcher.handle(request.method, url.path or "/", url.query, headers, body)
        return AWSResponse(request.url, response.status, dict(response.headers), _Raw(response.body))

    client.meta.events.register("before-send.proton", send)
    return contract.install(client)


def http_client(
    endpoint: str, credential: Credential, region: str = "us-east-1", config: Config = NO_RETRY
) -> Any:
    """A real boto3 Proton client of a server listening at `endpoint`."""
    client = boto3.client(
        "proton",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=credential.access_key_id,
        aws_secret_access_key=credential.secret_access_key,
        config=config,
    )
    return contract.install(client)


def as_role(service: str, endpoint: str, region: str, role_arn: str, session_name: str) -> Any:
    """A boto3 client of `service` at `endpoint`, with the credentials of assuming `role_arn` (the local
    cloud gives them the role's account)."""
    keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    sts = boto3.client("sts", endpoint_url=endpoint, region_name=region, **keys)
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
