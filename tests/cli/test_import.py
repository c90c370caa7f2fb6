"""`baryon import` as a real subprocess: the plan with `--dry-run` (nothing written), importing for
real into a second account with `--role-arn` (stacks untouched), again (nothing changes), and a bad file
refused in one line naming it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from baryon.runtime import Runtime
from tests.adopt.test_import import _snapshot, export_running
from tests.cli.test_adopt import _env
from tests.conftest import OTHER_ACCOUNT
from tests.support.processes import run
from tests.support.proton_stacks import READER, REGION, cfn

__all__ = ["cfn"]  # fixtures


def test_import_dry_run_then_for_real_then_again(
    runtime: Runtime,
    proton: Any,
    other_account_proton: Any,
    cfn: Any,
    tmp_path: Path,
    database_url: str,
    moto_endpoint: str,
) -> None:
    folder, bundles = export_running(runtime, proton, cfn, tmp_path)
    before = _snapshot(cfn)
    env = _env(tmp_path, database_url, moto_endpoint)
    args = ["import", "--account-id", OTHER_ACCOUNT, "--region", REGION, "--from", str(folder)]
    args += ["--bundles", str(bundles), "--role-arn", READER]

    dry = run([*args, "--dry-run"], env)
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert lines[0] == f"Importing into account {OTHER_ACCOUNT}, region {REGION}:"
    assert "  environment-template vpc: create" in lines
    assert "  account-settings -: update" in lines
    assert "4 to adopt, 0 of them without a spec." in lines
    assert other_account_proton.list_environment_templates()["templates"] == []

    done = run([*args, "--output", "json"], env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)["report"]
    assert [(e["kind"], e["name"], e["outcome"]) for e in report["created"]] == [
        ("environment", "dev", "created"),
        ("service", "api", "created"),
        ("service-instance", "api/front", "created"),
        ("service-pipeline", "api", "created"),
    ]
    assert other_account_proton.get_environment(name="dev")["environment"]["deploymentStatus"] == "SUCCEEDED"

    again = run(args, env)
    assert again.returncode == 0, again.stderr
    assert "4 already adopted." in again.stdout
    assert _snapshot(cfn) == before

    (folder / "broken.json").write_text('{"environment": {"name": 3}}')
    broken = run([*args, "--dry-run"], env)
    assert broken.returncode == 1
    assert broken.stderr.strip() == f"Error: {folder / 'broken.json'}: environment.name must be a string"
