"""boto3 clients for Baryon's outgoing AWS calls.

Invariants: clients use boto3's standard credential chain and honour the per-service endpoint variables
(`AWS_ENDPOINT_URL_S3`, …); one session per thread (boto3 sessions are not thread-safe); calls have
bounded connect/read timeouts so a dead endpoint cannot hold a job forever.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

_local = threading.local()
_CONFIG = Config(connect_timeout=10, read_timeout=60, retries={"mode": "standard", "max_attempts": 3})


def client(service: str, region: str) -> Any:
    cache: dict[tuple[str, str], Any] | None = getattr(_local, "clients", None)
    if cache is None:
        # The session first: if it cannot be made (say, a bad AWS_PROFILE), the next call tries again.
        _local.session = boto3.session.Session()
        cache = {}
        _local.clients = cache
    key = (service, region)
    if key not in cache:
        cache[key] = _local.session.client(service, region_name=region, config=_CONFIG)
    return cache[key]
