"""`baryon webhooks` as a real subprocess against a temporary data dir (SQLite and PostgreSQL): targets
created, listed and deleted, deliveries shown with their attempts, bad input refused with one line."""

from __future__ import annotations

import json
import re
from pathlib import Path

from baryon.config import Settings
from baryon.events import format, outbox
from baryon.runtime import open_runtime
from tests.conftest import ACCOUNT, OTHER_ACCOUNT, SECRET_KEY
from tests.support.processes import baryon_env, run
from tests.support.receiver import receiver
from tests.support.stepping import Engine

SECRET = "a-long-enough-webhook-secret"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def test_create_list_deliveries_and_delete(tmp_path: Path, database_url: str) -> None:
    data_dir = tmp_path / "data"
    env = baryon_env(data_dir, database_url, SECRET_KEY, {"HOOK_SECRET": SECRET})
    with receiver() as hook:
        created = run(
            ["webhooks", "create", "--account-id", ACCOUNT, "--url", hook.url, "--secret-env", "HOOK_SECRET"],
            env,
        )
        assert created.returncode == 0, created.stderr
        target_id = created.stdout.strip()
        assert UUID.match(target_id)
        assert SECRET not in created.stdout + created.stderr
        other = run(
            [
                "webhooks",
                "create",
                "--account-id",
                OTHER_ACCOUNT,
                "--url",
                "https://example.com/x",
                "--output",
                "json",
            ],
            env,
        )
        assert other.returncode == 0, other.stderr
        other_target = json.loads(other.stdout)
        assert other_target["accountId"] == OTHER_ACCOUNT and other_target["signed"] is False

        listed = run(["webhooks", "list", "--account-id", ACCOUNT, "--output", "json"], env)
        assert listed.returncode == 0, listed.stderr
        [shown] = json.loads(listed.stdout)
        assert shown["id"] == target_id and shown["url"] == hook.url and shown["signed"] is True
        assert shown["accountId"] == ACCOUNT and shown["allowLinkLocal"] is False
        assert SECRET not in listed.stdout
        everyone = run(["webhooks", "list"], env)
        assert target_id in everyone.stdout and other_target["id"] in everyone.stdout

        # An event of the account, delivered once after a 500.
        runtime = open_runtime(Settings(data_dir=data_dir, database_url=database_url, secret_key=SECRET_KEY))
        try:
            engine = Engine(runtime)
            with runtime.database.write() as connection:
                event_id = outbox.emit(
                    connection,
                    detail_type=format.ENVIRONMENT,
                    account_id=ACCOUNT,
                    region="us-east-1",
                    resource_arn=f"arn:aws:proton:us-east-1:{ACCOUNT}:environment/dev",
                    detail={"name": "dev", "status": "IN_PROGRESS"},
                    now=engine.clock.now(),
                )
            hook.answers[:] = [500]
            engine.run_due()
            pending = json.loads(run(["webhooks", "deliveries", "--output", "json"], env).stdout)
            assert [(d["status"], d["attempts"], d["lastStatusCode"]) for d in pending] == [
                ("pending", 1, 500)
            ]
            assert pending[0]["lastError"].startswith("HTTP 500")
            assert pending[0]["nextAttemptAt"] is not None
            engine.until(lambda: len(hook.received) == 2)
        finally:
            runtime.close()
        shown_deliveries = run(["webhooks", "deliveries", "--webhook-id", target_id, "--output", "json"], env)
        assert shown_deliveries.returncode == 0, shown_deliveries.stderr
        [delivery] = json.loads(shown_deliveries.stdout)
        assert delivery["eventId"] == event_id and delivery["webhookId"] == target_id
        assert delivery["detailType"] == "AWS Proton Environment Status Change"
        assert (delivery["status"], delivery["attempts"], delivery["lastStatusCode"]) == ("delivered", 2, 200)
        assert delivery["deliveredAt"] is not None
        by_event = run(["webhooks", "deliveries", "--event-id", event_id], env)
        assert by_event.returncode == 0 and "delivered" in by_event.stdout and event_id in by_event.stdout
        none = run(["webhooks", "deliveries", "--webhook-id", other_target["id"], "--output", "json"], env)
        assert json.loads(none.stdout) == []

    deleted = run(["webhooks", "delete", target_id], env)
    assert deleted.returncode == 0, deleted.stderr
    assert (
        json.loads(run(["webhooks", "list", "--account-id", ACCOUNT, "--output", "json"], env).stdout) == []
    )
    again = run(["webhooks", "delete", target_id], env)
    assert again.returncode == 1 and f"no webhook target {target_id}" in again.stderr
    assert "Traceback" not in again.stderr


def test_bad_input_is_refused_with_one_line(tmp_path: Path, database_url: str) -> None:
    env = baryon_env(tmp_path / "data", database_url, SECRET_KEY, {"SHORT": "short"})
    cases = [
        (["--account-id", ACCOUNT, "--url", "ftp://example.com/x"], "http:// or https://"),
        (["--account-id", ACCOUNT, "--url", "http://169.254.169.254/latest"], "--allow-link-local"),
        (["--account-id", "12", "--url", "https://example.com/x"], "12 digits"),
        (["--account-id", ACCOUNT, "--url", "https://example.com/x", "--secret-env", "UNSET_VAR"], "not set"),
        (["--account-id", ACCOUNT, "--url", "https://example.com/x", "--secret-env", "SHORT"], "at least 16"),
    ]
    for args, said in cases:
        result = run(["webhooks", "create", *args], env)
        assert result.returncode != 0, args
        assert said in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    listed = run(["webhooks", "list", "--output", "json"], env)
    assert json.loads(listed.stdout) == []
    unknown = run(["webhooks", "deliveries", "--webhook-id", "nope"], env)
    assert unknown.returncode == 1 and "no webhook target nope" in unknown.stderr
    allowed = run(
        [
            "webhooks",
            "create",
            "--account-id",
            ACCOUNT,
            "--url",
            "http://169.254.169.254/x",
            "--allow-link-local",
        ],
        env,
    )
    assert allowed.returncode == 0, allowed.stderr
