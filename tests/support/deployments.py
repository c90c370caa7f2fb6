"""Deployment rows for tests that need one to hang records on (run logs, statuses)."""

from __future__ import annotations

import uuid

from baryon.runtime import Runtime
from baryon.store import deployments as deployment_store

ACCOUNT = "111111111111"


def make_deployment(runtime: Runtime, account_id: str = ACCOUNT) -> str:
    """An IN_PROGRESS environment deployment (with its job), as CreateEnvironment would write it."""
    deployment_id = str(uuid.uuid4())
    with runtime.database.write() as connection:
        deployment_store.start(
            connection,
            deployment_id=deployment_id,
            job_id=str(uuid.uuid4()),
            account_id=account_id,
            region="us-east-1",
            target_type="ENVIRONMENT",
            target_arn=f"arn:aws:proton:us-east-1:{account_id}:environment/dev",
            target_created_at=1.0,
            operation="CREATE",
            environment_name="dev",
            target_state={"environment": {"templateName": "t", "templateMajorVersion": "1"}},
            initial_state=None,
            last_attempted=None,
            last_succeeded=None,
            now=1.0,
        )
    return deployment_id
