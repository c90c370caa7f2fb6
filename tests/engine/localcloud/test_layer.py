"""Which CloudFormation gets the local-cloud layer: only the endpoint named as the local cloud."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from baryon.config import Settings
from baryon.engine import aws
from baryon.engine.provisioners import targets
from baryon.engine.provisioners.localcloud import layer
from baryon.engine.provisioners.targets import Target

TARGET = Target(region="eu-west-1", account_id="123456789012")


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> str:
    url = "http://127.0.0.1:4599"
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setattr(aws, "_local", threading.local())
    monkeypatch.setattr(targets, "_local", threading.local())
    return url


@pytest.mark.parametrize(
    ("local_cloud_url", "local"),
    [
        ("http://127.0.0.1:4599", True),
        ("http://127.0.0.1:4599/", True),
        ("http://127.0.0.1:4600", False),
        (None, False),
    ],
)
def test_only_the_local_clouds_endpoint_gets_the_layer(
    endpoint: str, tmp_path: Path, local_cloud_url: str | None, local: bool
) -> None:
    settings = Settings(data_dir=tmp_path, local_cloud_url=local_cloud_url)

    chosen = layer.for_target(settings, TARGET)

    assert layer.is_local(settings, TARGET) is local
    assert isinstance(chosen, layer.LocalCloud if local else layer.AWS)


def test_the_variable_names_the_local_cloud(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BARYON_LOCAL_CLOUD_URL", "http://127.0.0.1:4599")
    assert Settings(data_dir=tmp_path).local_cloud_url == "http://127.0.0.1:4599"
    monkeypatch.delenv("BARYON_LOCAL_CLOUD_URL")
    assert Settings(data_dir=tmp_path).local_cloud_url is None


def test_aws_leaves_everything_as_it_is(tmp_path: Path) -> None:
    cloud = layer.AWS()
    progress: dict[str, object] = {}
    body = "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n"
    assert cloud.template(progress, body, "stack") is body
    assert progress == {}
