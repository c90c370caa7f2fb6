"""A plugin for AWS CLI v1 that makes every command honour the endpoint variables of `baryon.env`.

AWS CLI v1 sets its own endpoint for a few services in some regions (SQS, RDS, DocumentDB, Neptune and
Health in us-east-1: `aws sqs list-queues` goes to https://queue.amazonaws.com) before botocore looks at
`AWS_ENDPOINT_URL_<SERVICE>` or `AWS_ENDPOINT_URL`, so those variables do not reach them. With this plugin
loaded (AWS CLI v1 installed in a Python that can import Baryon):

    aws configure set plugins.baryon_local_cloud baryon.localcloud.awscli

a command of those services without `--endpoint-url` takes the service's variable, else
`AWS_ENDPOINT_URL`, as botocore would for the others. AWS CLI v2 needs no plugin.

Invariants: acts only on the services whose endpoint the CLI overrides (the others already follow the
variables through botocore); only fills an endpoint the command line did not give; does nothing when
neither variable is set; imports nothing from Baryon (the CLI loads it at every start).
"""

from __future__ import annotations

import os
from typing import Any

_KNOWN = frozenset({"sqs", "emr", "rds", "docdb", "neptune", "health"})


def _variable(service: str) -> str:
    return "AWS_ENDPOINT_URL_" + service.upper().replace("-", "_").replace(" ", "_")


def endpoint_for(service: str, environ: dict[str, str] | os._Environ[str] = os.environ) -> str | None:
    """The endpoint the variables name for `service` (the CLI's command name), or None."""
    return environ.get(_variable(service)) or environ.get("AWS_ENDPOINT_URL") or None


def _overridden() -> frozenset[str]:
    """The services whose endpoint AWS CLI v1 sets itself."""
    try:
        from awscli.customizations.overridesslcommonname import SSL_COMMON_NAMES
    except ImportError:
        return _KNOWN
    return frozenset(SSL_COMMON_NAMES)


def fill_endpoint(parsed_globals: Any, **_: Any) -> None:
    service = str(getattr(parsed_globals, "command", "") or "")
    if service in _overridden() and getattr(parsed_globals, "endpoint_url", None) is None:
        endpoint = endpoint_for(service)
        if endpoint:
            parsed_globals.endpoint_url = endpoint


def awscli_initialize(cli: Any) -> None:
    """The AWS CLI's entry point: run before the CLI's own endpoint overrides."""
    cli.register_first("before-building-argument-table-parser", fill_endpoint)
