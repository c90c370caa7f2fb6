"""Outgoing boto3 clients: a thread whose first session could not be made can make one later."""

from __future__ import annotations

import threading

import pytest
from botocore.exceptions import ProfileNotFound

from baryon.engine import aws


def test_a_failed_session_is_retried(monkeypatch: pytest.MonkeyPatch, moto_endpoint: str) -> None:
    outcome: dict[str, object] = {}

    def run() -> None:
        monkeypatch.setenv("AWS_PROFILE", "no-such-profile-anywhere")
        try:
            aws.client("sts", "us-east-1")
        except ProfileNotFound as error:
            outcome["first"] = type(error).__name__
        monkeypatch.delenv("AWS_PROFILE")
        outcome["identity"] = aws.client("sts", "us-east-1").get_caller_identity()["Account"]

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert outcome["first"] == "ProfileNotFound"
    assert isinstance(outcome["identity"], str) and len(outcome["identity"]) == 12
