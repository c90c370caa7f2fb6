"""Repository links through a real boto3 client: create, get, list, delete, tags, guards, account settings."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from baryon.runtime import Runtime
from baryon.store import connections as connection_store
from baryon.store.schema import environments
from tests.api.test_environments import FAST, ROLE, SPEC, _published_env_template
from tests.conftest import ACCOUNT, OTHER_ACCOUNT
from tests.support import bundles
from tests.support.errors import error_of as _error

REGION = "us-east-1"
CONNECTION_ARN = re.compile(
    rf"^arn:aws:codestar-connections:{REGION}:{ACCOUNT}:connection/"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)


def connection(
    runtime: Runtime,
    *,
    name: str = "gh",
    provider: str = "GITHUB",
    account: str = ACCOUNT,
    region: str = REGION,
    template: str = "https://github.com/{repository}.git",
) -> str:
    with runtime.database.write() as db:
        record = connection_store.create(
            db,
            runtime.secrets,
            connection_id=runtime.ids.uuid(),
            account_id=account,
            region=region,
            name=name,
            provider=provider,
            url_template=template,
            token="ghp_secret",
            mode="pull-request",
            api_url=None,
            now=runtime.clock.now(),
        )
    return record.arn


def repo_arn(provider: str, name: str, region: str = REGION) -> str:
    return f"arn:aws:proton:{region}:{ACCOUNT}:repository/{provider.lower()}:{name}"


def test_create_get_list_delete_with_tags(proton: Any, runtime: Runtime) -> None:
    arn = connection(runtime)
    assert CONNECTION_ARN.match(arn)
    created = proton.create_repository(
        name="org/infra",
        provider="GITHUB",
        connectionArn=arn,
        encryptionKey=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k1",
        tags=[{"key": "team", "value": "platform"}],
    )["repository"]
    assert created == {
        "name": "org/infra",
        "provider": "GITHUB",
        "arn": repo_arn("GITHUB", "org/infra"),
        "connectionArn": arn,
        "encryptionKey": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k1",
    }
    assert proton.get_repository(name="org/infra", provider="GITHUB")["repository"] == created
    listed = proton.list_repositories()["repositories"]
    assert listed == [{k: v for k, v in created.items() if k != "encryptionKey"}]
    tags = proton.list_tags_for_resource(resourceArn=created["arn"])["tags"]
    assert tags == [{"key": "team", "value": "platform"}]
    proton.tag_resource(resourceArn=created["arn"], tags=[{"key": "cost", "value": "42"}])
    proton.untag_resource(resourceArn=created["arn"], tagKeys=["team"])
    assert proton.list_tags_for_resource(resourceArn=created["arn"])["tags"] == [
        {"key": "cost", "value": "42"}
    ]

    deleted = proton.delete_repository(name="org/infra", provider="GITHUB")["repository"]
    assert deleted == created
    code, message = _error(proton.get_repository, name="org/infra", provider="GITHUB")
    assert (code, message) == (
        "ResourceNotFoundException",
        f"The requested repository does not exist: {created['arn']}",
    )
    assert (
        _error(proton.delete_repository, name="org/infra", provider="GITHUB")[0]
        == "ResourceNotFoundException"
    )
    assert _error(proton.list_tags_for_resource, resourceArn=created["arn"]) == (
        "ResourceNotFoundException",
        f"The requested resource does not exist: {created['arn']}",
    )
    assert proton.list_repositories()["repositories"] == []
    again = proton.create_repository(name="org/infra", provider="GITHUB", connectionArn=arn)["repository"]
    assert "encryptionKey" not in again
    assert proton.list_tags_for_resource(resourceArn=again["arn"])["tags"] == []


def test_connection_must_be_a_baryon_connection_of_the_caller(proton: Any, runtime: Runtime) -> None:
    other_account = connection(runtime, account=OTHER_ACCOUNT)
    other_region = connection(runtime, region="eu-west-1")
    bitbucket = connection(
        runtime, name="bb", provider="BITBUCKET", template="git@bitbucket.org:{repository}.git"
    )
    unknown = f"arn:aws:codestar-connections:{REGION}:{ACCOUNT}:connection/{uuid.uuid4()}"
    for arn in (unknown, other_account, other_region):
        assert _error(proton.create_repository, name="org/infra", provider="GITHUB", connectionArn=arn) == (
            "ValidationException",
            f"The connection {arn} is not a Baryon connection of this account and region. "
            "Create one with 'baryon connections create'.",
        )
    assert _error(proton.create_repository, name="org/infra", provider="GITHUB", connectionArn=bitbucket) == (
        "ValidationException",
        f"The connection {bitbucket} is a BITBUCKET connection; it cannot link a GITHUB repository.",
    )
    good = connection(runtime, name="gh2")
    for name in ("org/a/b", "org/..", "./repo", "org/re po"):
        assert _error(proton.create_repository, name=name, provider="GITHUB", connectionArn=good) == (
            "ValidationException",
            f"The repository name {name} must be owner/name, each part made of letters, digits, "
            "'.', '_' and '-'.",
        )
    code, message = _error(
        proton.create_repository,
        name="org/infra",
        provider="GITHUB",
        connectionArn=good,
        tags=[{"key": "aws:reserved", "value": "x"}],
    )
    assert (code, message) == (
        "ValidationException",
        "Tag keys starting with 'aws:' are reserved: aws:reserved",
    )
    assert proton.list_repositories()["repositories"] == []


def test_repeated_create_and_conflicts(proton: Any, runtime: Runtime) -> None:
    first = connection(runtime)
    second = connection(runtime, name="gh-other")
    created = proton.create_repository(name="org/infra", provider="GITHUB", connectionArn=first)
    again = proton.create_repository(name="org/infra", provider="GITHUB", connectionArn=first)
    assert again["repository"] == created["repository"]
    for extra in ({"connectionArn": second}, {"connectionArn": first, "encryptionKey": ROLE}):
        assert _error(proton.create_repository, name="org/infra", provider="GITHUB", **extra) == (
            "ConflictException",
            "A repository link github:org/infra already exists with other parameters.",
        )
    assert proton.get_repository(name="org/infra", provider="GITHUB")["repository"] == created["repository"]
    ghe = connection(
        runtime, name="ghe", provider="GITHUB_ENTERPRISE", template="https://git.example.com/{repository}"
    )
    same_name = proton.create_repository(name="org/infra", provider="GITHUB_ENTERPRISE", connectionArn=ghe)
    assert same_name["repository"]["arn"] == repo_arn("GITHUB_ENTERPRISE", "org/infra")


def test_list_pages_and_isolation(proton: Any, other_account_proton: Any, runtime: Runtime) -> None:
    gh = connection(runtime)
    bb = connection(
        runtime, name="bb", provider="BITBUCKET", template="https://bitbucket.org/{repository}.git"
    )
    names = [("GITHUB", f"org/r{i}") for i in range(4)] + [("BITBUCKET", "ws/a"), ("BITBUCKET", "ws/b")]
    for provider, name in names:
        proton.create_repository(
            name=name, provider=provider, connectionArn=gh if provider == "GITHUB" else bb
        )
    seen: list[tuple[str, str]] = []
    page = proton.list_repositories(maxResults=4)
    assert len(page["repositories"]) == 4
    seen += [(r["provider"], r["name"]) for r in page["repositories"]]
    page = proton.list_repositories(maxResults=4, nextToken=page["nextToken"])
    assert "nextToken" not in page
    seen += [(r["provider"], r["name"]) for r in page["repositories"]]
    assert seen == sorted(names)
    paginated = [
        r["name"]
        for p in proton.get_paginator("list_repositories").paginate(PaginationConfig={"PageSize": 2})
        for r in p["repositories"]
    ]
    assert paginated == [name for _, name in sorted(names)]
    assert other_account_proton.list_repositories()["repositories"] == []
    assert _error(other_account_proton.get_repository, name="org/r0", provider="GITHUB")[0] == (
        "ResourceNotFoundException"
    )
    code, message = _error(proton.list_repositories, nextToken="bm9wZQ==")
    assert (code, message) == ("ValidationException", "The nextToken provided is invalid.")


def test_account_settings_pipeline_repository(proton: Any, runtime: Runtime) -> None:
    arn = connection(runtime)
    branch = {"provider": "GITHUB", "name": "org/pipelines", "branch": "main"}
    assert _error(proton.update_account_settings, pipelineProvisioningRepository=branch) == (
        "ValidationException",
        "The repository github:org/pipelines is not linked to this account and region "
        f"({repo_arn('GITHUB', 'org/pipelines')}); link it with CreateRepository first.",
    )
    assert proton.get_account_settings()["accountSettings"] == {}
    proton.create_repository(name="org/pipelines", provider="GITHUB", connectionArn=arn)
    bad_branch = dict(branch, branch="feature..x")
    assert _error(proton.update_account_settings, pipelineProvisioningRepository=bad_branch) == (
        "ValidationException",
        "The branch name feature..x is not a valid git branch name.",
    )
    settings = proton.update_account_settings(pipelineProvisioningRepository=branch)["accountSettings"]
    expected = dict(branch, arn=repo_arn("GITHUB", "org/pipelines"))
    assert settings == {"pipelineProvisioningRepository": expected}
    assert proton.get_account_settings()["accountSettings"] == {"pipelineProvisioningRepository": expected}
    assert _error(proton.delete_repository, name="org/pipelines", provider="GITHUB") == (
        "ConflictException",
        "The repository github:org/pipelines is the account's pipelineProvisioningRepository; "
        "it cannot be deleted while it is used.",
    )
    assert (
        proton.get_repository(name="org/pipelines", provider="GITHUB")["repository"]["name"]
        == "org/pipelines"
    )
    proton.update_account_settings(deletePipelineProvisioningRepository=True)
    assert proton.get_account_settings()["accountSettings"] == {}
    proton.delete_repository(name="org/pipelines", provider="GITHUB")


TF_MANIFEST = """infrastructure:
  templates:
    - file: "*"
      rendering_engine: hcl
      template_language: terraform
"""


def _terraform_bundle() -> bytes:
    return bundles.tar_gz(
        {
            "schema/schema.yaml": bundles.ENV_SCHEMA,
            "infrastructure/manifest.yaml": TF_MANIFEST,
            "infrastructure/main.tf": 'resource "null_resource" "x" {}\n',
        },
        "environment/",
    )


def test_environments_name_existing_repository_links(
    proton: Any, s3: Any, worker: Any, runtime: Runtime
) -> None:
    arn = connection(runtime)
    proton.create_repository(name="org/envs", provider="GITHUB", connectionArn=arn)
    proton.create_repository(name="org/envs2", provider="GITHUB", connectionArn=arn)
    _published_env_template(proton, s3)
    _published_env_template(proton, s3, name="tf-env", data=_terraform_bundle())
    missing = {"provider": "GITHUB", "name": "org/nope", "branch": "main"}
    linked = {"provider": "GITHUB", "name": "org/envs", "branch": "main"}
    create = {"templateMajorVersion": "1", "spec": SPEC}
    assert _error(
        proton.create_environment, name="tf", templateName="tf-env", provisioningRepository=missing, **create
    ) == (
        "ResourceNotFoundException",
        f"The requested repository does not exist: {repo_arn('GITHUB', 'org/nope')}",
    )
    assert _error(proton.create_environment, name="tf", templateName="tf-env", **create) == (
        "ValidationException",
        "Version 1.0 of environment template tf-env is a Terraform template; "
        "it needs a provisioningRepository (self-managed provisioning).",
    )
    assert _error(
        proton.create_environment,
        name="tf",
        templateName="tf-env",
        provisioningRepository=linked,
        protonServiceRoleArn=ROLE,
        **create,
    ) == (
        "ValidationException",
        "Version 1.0 of environment template tf-env is a Terraform template (self-managed provisioning); "
        "do not give a protonServiceRoleArn.",
    )
    assert _error(
        proton.create_environment,
        name="cfn",
        templateName="vpc-env",
        provisioningRepository=linked,
        protonServiceRoleArn=ROLE,
        **create,
    ) == (
        "ValidationException",
        "Version 1.0 of environment template vpc-env is provisioned through CloudFormation; do not give a "
        "provisioningRepository.",
    )
    assert proton.list_environments()["environments"] == []

    proton.create_environment(name="dev", templateName="vpc-env", protonServiceRoleArn=ROLE, **create)
    proton.get_waiter("environment_deployed").wait(name="dev", WaiterConfig=FAST)
    assert _error(
        proton.update_environment, name="dev", deploymentType="NONE", provisioningRepository=missing
    ) == (
        "ResourceNotFoundException",
        f"The requested repository does not exist: {repo_arn('GITHUB', 'org/nope')}",
    )
    assert _error(
        proton.update_environment, name="dev", deploymentType="NONE", provisioningRepository=linked
    ) == (
        "ValidationException",
        "Environment dev is not provisioned through a repository (self-managed provisioning); do not give a "
        "provisioningRepository.",
    )

    # An environment provisioned through a repository (the row as self-managed provisioning stores it).
    stored = dict(linked, arn=repo_arn("GITHUB", "org/envs"))
    with runtime.database.write() as db:
        db.execute(
            sa.update(environments)
            .where(environments.c.name == "dev")
            .values(provisioning_repository=orjson.dumps(stored).decode())
        )
    assert proton.get_environment(name="dev")["environment"]["provisioningRepository"] == stored
    assert _error(proton.delete_repository, name="org/envs", provider="GITHUB") == (
        "ConflictException",
        "The repository github:org/envs is the provisioningRepository of environment dev; "
        "it cannot be deleted while it is used.",
    )
    moved = dict(linked, name="org/envs2", branch="infra")
    env = proton.update_environment(name="dev", deploymentType="NONE", provisioningRepository=moved)[
        "environment"
    ]
    assert env["provisioningRepository"] == dict(moved, arn=repo_arn("GITHUB", "org/envs2"))
    proton.delete_repository(name="org/envs", provider="GITHUB")
    assert _error(proton.delete_repository, name="org/envs2", provider="GITHUB")[0] == "ConflictException"


def test_connection_in_use_cannot_be_deleted(proton: Any, runtime: Runtime) -> None:
    arn = connection(runtime)
    proton.create_repository(name="org/infra", provider="GITHUB", connectionArn=arn)
    with runtime.database.write() as db, pytest.raises(connection_store.ConnectionProblem) as caught:
        connection_store.delete(db, arn)
    assert str(caught.value) == (
        f"The connection {arn} is used by the repository link(s) github:org/infra; delete them first."
    )
    proton.delete_repository(name="org/infra", provider="GITHUB")
    with runtime.database.write() as db:
        connection_store.delete(db, arn)
    with runtime.database.read() as db:
        assert connection_store.get(db, arn) is None


def test_quota(proton: Any, runtime: Runtime) -> None:
    arn = connection(runtime)
    runtime.quotas = replace(runtime.quotas, repositories=2)
    proton.create_repository(name="org/a", provider="GITHUB", connectionArn=arn)
    proton.create_repository(name="org/b", provider="GITHUB", connectionArn=arn)
    assert _error(proton.create_repository, name="org/c", provider="GITHUB", connectionArn=arn) == (
        "ServiceQuotaExceededException",
        "You have reached the quota of 2 repository links in this account and region.",
    )
    assert proton.create_repository(name="org/a", provider="GITHUB", connectionArn=arn)["repository"][
        "name"
    ] == ("org/a")
    assert len(proton.list_repositories()["repositories"]) == 2
