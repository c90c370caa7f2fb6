"""`baryon adopt repository` as a real subprocess: the plan of a Terraform deployment repository as a table
and as JSON with `--dry-run` (which changes nothing), one-line errors, and adopting for real."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from baryon.runtime import Runtime
from baryon.store import connections as connection_store
from tests.conftest import ACCOUNT, SECRET_KEY
from tests.engine.test_selfmanaged import env_metadata, env_tfvars
from tests.support import bundles
from tests.support.git_repos import bare, branches
from tests.support.processes import baryon_env, run
from tests.support.publishing import publish_environment_template

REGION = "us-east-1"
ARGS = ["adopt", "repository", "--account-id", ACCOUNT, "--region", REGION, "--provider", "GITHUB"]


def _linked(runtime: Runtime, proton: Any, remotes: Path) -> None:
    with runtime.database.write() as db:
        record = connection_store.create(
            db,
            runtime.secrets,
            connection_id=runtime.ids.uuid(),
            account_id=ACCOUNT,
            region=REGION,
            name=f"c-{uuid.uuid4().hex[:8]}",
            provider="GITHUB",
            url_template=f"file://{remotes}/{{repository}}.git",
            token=None,
            mode="direct",
            api_url=None,
            now=runtime.clock.now(),
        )
    proton.create_repository(name="org/infra", provider="GITHUB", connectionArn=record.arn)


def test_adopt_repository_prints_the_plan_and_adopts(
    proton: Any, s3: Any, worker: Any, runtime: Runtime, database_url: str, tmp_path: Path
) -> None:
    remotes = tmp_path / "remotes"
    repo = bare(
        remotes,
        "org/infra",
        {
            "dev/.proton/deployment-metadata.json": env_metadata("d-1"),
            "dev/proton.auto.tfvars.json": env_tfvars(),
        },
    )
    head = branches(repo)["main"]
    _linked(runtime, proton, remotes)
    publish_environment_template(proton, s3, "tf-env", bundles.terraform_environment_bundle())
    env = baryon_env(tmp_path / "data", database_url, SECRET_KEY)

    missing = run([*ARGS, "--name", "org/else", "--dry-run"], env)
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        f"Error: The repository github:org/else is not linked in account {ACCOUNT} region {REGION} "
        "(CreateRepository)."
    )

    dry = run([*ARGS, "--name", "org/infra", "--dry-run"], env)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        f"Adopting into account {ACCOUNT}, region {REGION}:",
        "KIND         NAME  ENVIRONMENT  TEMPLATE    SPEC        FOLDER",
        "environment  dev   -            tf-env:1.0  spec given  dev/",
        "1 to adopt, 0 of them without a spec.",
    ]
    assert proton.list_environments()["environments"] == []

    adopted = run([*ARGS, "--name", "org/infra", "--branch", "main", "--output", "json"], env)
    assert adopted.returncode == 0, adopted.stderr
    shown = json.loads(adopted.stdout)
    assert [(e["kind"], e["name"], e["outcome"]) for e in shown["report"]["created"]] == [
        ("environment", "dev", "created")
    ]
    assert shown["plan"]["resources"][0]["binding"]["folder"] == "dev"
    assert shown["report"]["created"][0]["stack_name"] == "folder dev/"
    environment = proton.get_environment(name="dev")["environment"]
    assert environment["deploymentStatus"] == "SUCCEEDED"
    assert environment["provisioningRepository"]["name"] == "org/infra"
    assert branches(repo)["main"] == head

    again = run([*ARGS, "--name", "org/infra"], env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-2:] == ["  environment dev: already adopted", "1 already adopted."]
