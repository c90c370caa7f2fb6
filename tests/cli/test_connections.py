"""`baryon connections` as a real subprocess against a temporary data dir (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import sqlalchemy as sa

from baryon.config import Settings
from baryon.runtime import open_runtime
from baryon.store import connections as connection_store
from baryon.store.schema import connections
from tests.conftest import ACCOUNT, SECRET_KEY
from tests.support.clients import in_process_client
from tests.support.processes import baryon_env, run

TOKEN = "ghp_CliT0kenNeverShown"
ARN = re.compile(
    rf"^arn:aws:codestar-connections:us-east-1:{ACCOUNT}:connection/"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)


def test_create_list_use_and_delete(tmp_path: Path, database_url: str) -> None:
    from baryon.api.dispatch import Dispatcher

    data_dir = tmp_path / "data"
    env = baryon_env(data_dir, database_url, SECRET_KEY, {"GH_TOKEN": TOKEN})
    base = ["--account-id", ACCOUNT, "--region", "us-east-1"]
    created = run(
        [
            "connections",
            "create",
            *base,
            "--name",
            "github",
            "--provider",
            "GITHUB",
            "--url-template",
            "https://github.com/{repository}.git",
            "--token-env",
            "GH_TOKEN",
        ],
        env,
    )
    assert created.returncode == 0, created.stderr
    arn = created.stdout.strip()
    assert ARN.match(arn)
    assert TOKEN not in created.stdout + created.stderr

    as_json = run(
        [
            "connections",
            "create",
            *base,
            "--name",
            "local",
            "--provider",
            "BITBUCKET",
            "--url-template",
            "file:///srv/git/{repository}.git",
            "--mode",
            "direct",
            "--output",
            "json",
        ],
        env,
    )
    assert as_json.returncode == 0, as_json.stderr
    document = json.loads(as_json.stdout)
    assert ARN.match(document.pop("connectionArn"))
    created_at = document.pop("createdAt")
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", created_at)
    assert document == {
        "accountId": ACCOUNT,
        "region": "us-east-1",
        "name": "local",
        "provider": "BITBUCKET",
        "urlTemplate": "file:///srv/git/{repository}.git",
        "apiUrl": None,
        "mode": "direct",
        "hasToken": False,
    }

    listed = run(["connections", "list", "--output", "json"], env)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["hasToken"], r["apiUrl"]) for r in rows] == [
        ("github", True, "https://api.github.com"),
        ("local", False, None),
    ]
    text = run(["connections", "list"], env)
    assert arn in text.stdout and "github" in text.stdout
    for output in (listed, text):
        assert TOKEN not in output.stdout + output.stderr

    runtime = open_runtime(Settings(data_dir=data_dir, database_url=database_url, secret_key=SECRET_KEY))
    try:
        with runtime.database.read() as db:
            stored = db.execute(sa.select(connections)).all()
        assert all(TOKEN not in str(tuple(row)) for row in stored)
        assert [runtime.secrets.decrypt(r.token_ciphertext) for r in stored if r.token_ciphertext] == [TOKEN]
        if database_url.startswith("sqlite"):
            files = [p for p in data_dir.parent.rglob("*") if p.is_file()]
            assert files and all(TOKEN.encode() not in p.read_bytes() for p in files)

        proton = in_process_client(
            Dispatcher(runtime), runtime.credentials.create(ACCOUNT, "t", runtime.clock.now())
        )
        repo = proton.create_repository(name="org/infra", provider="GITHUB", connectionArn=arn)["repository"]
        assert repo["connectionArn"] == arn

        refused = run(["connections", "delete", arn], env)
        assert refused.returncode == 1
        assert refused.stderr.strip() == (
            f"Error: The connection {arn} is used by the repository link(s) github:org/infra; "
            "delete them first."
        )
        proton.delete_repository(name="org/infra", provider="GITHUB")
    finally:
        runtime.close()
    deleted = run(["connections", "delete", arn], env)
    assert (deleted.returncode, deleted.stdout.strip()) == (0, f"deleted {arn}")
    assert [r["name"] for r in json.loads(run(["connections", "list", "--output", "json"], env).stdout)] == [
        "local"
    ]


def test_refusals(tmp_path: Path) -> None:
    env = baryon_env(tmp_path / "data", f"sqlite:///{tmp_path / 'b.db'}", SECRET_KEY)
    base = ["connections", "create", "--account-id", ACCOUNT, "--region", "us-east-1", "--name", "x"]
    unset = run(
        [*base, "--provider", "GITHUB", "--url-template", "https://h/{repository}", "--token-env", "NOPE"],
        env,
    )
    assert unset.returncode == 2
    assert "Invalid value for --token-env: the environment variable NOPE is not set" in unset.stderr
    bad = run([*base, "--provider", "GITHUB", "--url-template", "https://h/repo.git"], env)
    assert (bad.returncode, bad.stderr.strip()) == (
        1,
        "Error: The URL template must contain {repository} exactly once.",
    )
    provider = run([*base, "--provider", "GITLAB", "--url-template", "https://h/{repository}"], env)
    assert provider.returncode == 2 and "GITLAB" in provider.stderr
    missing = run(["connections", "delete", "arn:aws:codestar-connections:us-east-1:1:connection/x"], env)
    assert missing.returncode == 1
    assert json.loads(run(["connections", "list", "--output", "json"], env).stdout) == []


def test_webhook_secret_set_rotate_and_remove(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    database_url = f"sqlite:///{tmp_path / 'b.db'}"
    first, second = "first-webhook-secret-value", "second-webhook-secret-value"
    env = baryon_env(data_dir, database_url, SECRET_KEY, {"HOOK": first, "NEXT": second, "SHORT": "short"})
    base = ["connections", "create", "--account-id", ACCOUNT, "--region", "us-east-1", "--provider", "GITHUB"]
    base += ["--url-template", "https://github.com/{repository}.git"]
    short = run([*base, "--name", "short", "--webhook-secret-env", "SHORT"], env)
    assert (short.returncode, short.stderr.strip()) == (
        1,
        "Error: The webhook secret must be at least 16 characters long.",
    )
    created = run([*base, "--name", "hooked", "--webhook-secret-env", "HOOK"], env)
    assert created.returncode == 0, created.stderr
    arn = created.stdout.strip()
    assert first not in created.stdout + created.stderr

    def stored() -> str | None:
        runtime = open_runtime(Settings(data_dir=data_dir, database_url=database_url, secret_key=SECRET_KEY))
        try:
            with runtime.database.read() as db:
                return connection_store.webhook_secret(db, runtime.secrets, arn)
        finally:
            runtime.close()

    assert stored() == first
    assert first.encode() not in (tmp_path / "b.db").read_bytes()
    rotated = run(["connections", "set-webhook-secret", arn, "--secret-env", "NEXT"], env)
    assert rotated.returncode == 0, rotated.stderr
    connection_id = arn.rsplit("/", 1)[1]
    assert rotated.stdout.strip() == f"webhook URL: http://127.0.0.1:7700/webhooks/git/{connection_id}"
    assert stored() == second
    both = run(["connections", "set-webhook-secret", arn, "--secret-env", "NEXT", "--remove"], env)
    assert both.returncode == 2
    assert "give exactly one of --secret-env VAR and --remove" in both.stderr
    removed = run(["connections", "set-webhook-secret", arn, "--remove"], env)
    assert (removed.returncode, removed.stdout.strip()) == (0, f"removed the webhook secret of {arn}")
    assert stored() is None
    missing = run(["connections", "set-webhook-secret", arn + "x", "--remove"], env)
    assert (missing.returncode, missing.stderr.strip()) == (1, f"Error: There is no connection {arn}x.")
