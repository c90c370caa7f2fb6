"""The deadline of Terraform through git: a pull request still open past BARYON_DEADLINE_TERRAFORM_GIT_SECONDS
is closed and its deployment fails saying so (real worker, real git remotes, the local pull-request API)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from baryon.runtime import Runtime
from tests.engine.test_selfmanaged import create_env, link, progress_of, record_of, tf_env_template
from tests.support.git_repos import bare
from tests.support.pull_requests import Host, serve
from tests.support.waiting import wait_for

LATER = 7200.0


@pytest.fixture
def host() -> Iterator[Host]:
    with serve() as state:
        yield state


@pytest.fixture
def remotes(tmp_path: Path) -> Path:
    return tmp_path / "remotes"


class LaterClock:
    """The system clock, moved on by LATER seconds: the pull request has now been open for two hours."""

    def now(self) -> float:
        return time.time() + LATER


def test_a_pull_request_open_past_the_deadline_is_closed(
    proton: Any, s3: Any, worker: Any, runtime: Runtime, host: Host, remotes: Path
) -> None:
    runtime.settings.pull_request_poll_seconds = 0.1
    runtime.settings.deadlines["terraform_git"] = 3600.0
    bare(remotes, "org/infra")
    repository = link(runtime, proton, remotes, api_url=host.github_api)
    tf_env_template(proton, s3)
    deployment_id = create_env(proton, repository)["lastAttemptedDeploymentId"]
    # the job has seen the pull request open once (and started counting)
    wait_for(lambda: "waiting_since" in progress_of(runtime, deployment_id))
    assert host.pull("org/infra", 1)["state"] == "open"

    runtime.clock = LaterClock()  # from here on the test reads the store: its requests would be two hours off
    record = wait_for(lambda: (r := record_of(runtime, deployment_id)).deployment_status == "FAILED" and r)
    assert record.deployment_status_message == (
        "The pull request https://github.example/org/infra/pull/1 stayed open for 2 h, past the deadline "
        "(BARYON_DEADLINE_TERRAFORM_GIT_SECONDS); it was closed."
    )
    assert host.pull("org/infra", 1)["state"] == "closed"
    assert host.pull("org/infra", 1)["merged"] is False
