"""`baryon logs DEPLOYMENT_ID [--follow]` as a real process, reading what another process stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from baryon.domain.deployments import SUCCEEDED
from baryon.runtime import Runtime
from baryon.store import deployments as deployment_store
from baryon.store import run_logs
from tests.conftest import SECRET_KEY
from tests.support.databases import sqlite_only
from tests.support.deployments import make_deployment
from tests.support.processes import Process, baryon_env, run
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e


def env_for(runtime: Runtime, database_url: str) -> dict[str, str]:
    return baryon_env(runtime.settings.data_dir, database_url, SECRET_KEY)


def append(runtime: Runtime, deployment_id: str, text: str) -> None:
    with runtime.database.write() as connection:
        run_logs.append(connection, deployment_id, text, now=runtime.clock.now())


@sqlite_only
def test_logs_prints_the_stored_output(runtime: Runtime, database_url: str) -> None:
    deployment_id = make_deployment(runtime)
    other = make_deployment(runtime)
    append(runtime, deployment_id, "[baryon] Running command: make\n")
    append(runtime, deployment_id, "built ✓\n")
    append(runtime, other, "not this one\n")
    result = run(["logs", deployment_id], env_for(runtime, database_url))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[baryon] Running command: make\nbuilt ✓\n"


@sqlite_only
def test_logs_of_a_deployment_without_output_prints_nothing(runtime: Runtime, database_url: str) -> None:
    deployment_id = make_deployment(runtime)
    result = run(["logs", deployment_id], env_for(runtime, database_url))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


@sqlite_only
def test_logs_of_an_unknown_deployment_fails(runtime: Runtime, database_url: str) -> None:
    result = run(["logs", "no-such-deployment", "--follow"], env_for(runtime, database_url))
    assert result.returncode != 0
    assert "Deployment no-such-deployment not found." in result.stderr
    assert result.stdout == ""


def test_follow_prints_new_output_until_the_deployment_ends(
    runtime: Runtime, tmp_path: Path, database_url: str
) -> None:
    deployment_id = make_deployment(runtime)
    append(runtime, deployment_id, "first\n")
    follower = Process(
        ["logs", deployment_id, "--follow", "--interval", "0.05"],
        env_for(runtime, database_url),
        tmp_path / "follow.out",
    )
    try:
        wait_for(lambda: "first\n" in follower.output())
        append(runtime, deployment_id, "second\n")
        wait_for(lambda: "second\n" in follower.output())
        assert follower.popen.poll() is None
        # The last output and the final status land together; the follower prints it, then stops.
        with runtime.database.write() as connection:
            run_logs.append(connection, deployment_id, "last\n", now=runtime.clock.now())
            deployment_store.set_status(connection, deployment_id, SUCCEEDED, runtime.clock.now())
        assert follower.popen.wait(timeout=60) == 0
    finally:
        follower.stop()
    assert follower.output() == "first\nsecond\nlast\n"
