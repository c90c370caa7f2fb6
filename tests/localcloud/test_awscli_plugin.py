"""The AWS CLI v1 plugin: the services whose endpoint the CLI sets itself follow the exports."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from baryon.localcloud import awscli


def _globals(command: str, endpoint_url: str | None = None) -> SimpleNamespace:
    return SimpleNamespace(command=command, endpoint_url=endpoint_url)


def test_sqs_takes_the_service_variable_then_the_general_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:7701")
    parsed = _globals("sqs")
    awscli.fill_endpoint(parsed)
    assert parsed.endpoint_url == "http://127.0.0.1:7701"
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:9999")
    parsed = _globals("sqs")
    awscli.fill_endpoint(parsed)
    assert parsed.endpoint_url == "http://127.0.0.1:9999"


def test_it_leaves_alone_what_it_need_not_touch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:7701")
    given = _globals("sqs", "http://elsewhere:1")
    awscli.fill_endpoint(given)
    assert given.endpoint_url == "http://elsewhere:1"  # the command line wins
    other = _globals("ssm")
    awscli.fill_endpoint(other)
    assert other.endpoint_url is None  # botocore already follows the variables for it
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    unset = _globals("sqs")
    awscli.fill_endpoint(unset)
    assert unset.endpoint_url is None
