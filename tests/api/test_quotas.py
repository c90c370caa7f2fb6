"""Quotas are the operator's: no limit by default, `BARYON_QUOTA_*` defaults, and per-account values set
with `baryon quotas set` (a real subprocess on the same database) that the API applies to that account."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from baryon.domain.quotas import Quotas
from baryon.runtime import Runtime
from tests.api.test_services import _published_service_template, environment  # noqa: F401 - fixture
from tests.conftest import ACCOUNT, OTHER_ACCOUNT, SECRET_KEY
from tests.support.processes import baryon_env, run

TEMPLATE_QUOTA = "You have reached the quota of {} templates in this account and region."


def _error(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def _cli(runtime: Runtime, database_url: str, *args: str, **variables: str) -> Any:
    env = baryon_env(runtime.settings.data_dir, database_url, SECRET_KEY, variables)
    result = run(["quotas", *args], env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def _template_names(client: Any) -> list[str]:
    return sorted(t["name"] for t in client.list_environment_templates()["templates"])


def test_a_service_with_100_instances(
    proton: Any,
    s3: Any,
    worker: Any,
    environment: str,  # noqa: F811 - the fixture
) -> None:
    _published_service_template(proton, s3, name="wide", pipeline=False)
    worker.stop()  # the instances' deployments are not what this test is about
    names = [f"i{n:03d}" for n in range(100)]
    spec = "proton: ServiceSpec\ninstances:\n" + "".join(
        f"  - name: {name}\n    environment: {environment}\n    spec:\n      port: {8000 + n}\n"
        for n, name in enumerate(names)
    )
    proton.create_service(name="wide", templateName="wide", templateMajorVersion="1", spec=spec)
    listed = [
        item["name"]
        for page in proton.get_paginator("list_service_instances").paginate(serviceName="wide")
        for item in page["serviceInstances"]
    ]
    assert sorted(listed) == names
    assert proton.get_service_instance(serviceName="wide", name="i099")["serviceInstance"]["spec"]


def test_a_quota_set_with_the_cli_applies_to_that_account_only(
    proton: Any, other_account_proton: Any, runtime: Runtime, database_url: str
) -> None:
    for name in ("a", "b", "c"):
        proton.create_environment_template(name=name)
    set_result = _cli(runtime, database_url, "set", "--account-id", ACCOUNT, "templates=3", "services=7")
    assert set_result.stdout.splitlines() == [f"{ACCOUNT} templates = 3", f"{ACCOUNT} services = 7"]

    assert _error(proton.create_environment_template, name="d") == (
        "ServiceQuotaExceededException",
        TEMPLATE_QUOTA.format(3),
    )
    assert _error(proton.create_service_template, name="d") == (
        "ServiceQuotaExceededException",
        TEMPLATE_QUOTA.format(3),
    )
    assert _template_names(proton) == ["a", "b", "c"]
    for name in ("a", "b", "c", "d"):
        other_account_proton.create_environment_template(name=name)
    assert _template_names(other_account_proton) == ["a", "b", "c", "d"]

    _cli(runtime, database_url, "set", "--account-id", ACCOUNT, "templates=default")
    proton.create_environment_template(name="d")
    assert _template_names(proton) == ["a", "b", "c", "d"]


def test_the_environment_default_and_an_account_exception(
    proton: Any, other_account_proton: Any, runtime: Runtime, database_url: str
) -> None:
    runtime.quotas = Quotas.from_environment({"BARYON_QUOTA_TEMPLATES": "1"})
    proton.create_environment_template(name="a")
    assert _error(proton.create_environment_template, name="b") == (
        "ServiceQuotaExceededException",
        TEMPLATE_QUOTA.format(1),
    )
    _cli(runtime, database_url, "set", "--account-id", ACCOUNT, "templates=unlimited")
    proton.create_environment_template(name="b")
    other_account_proton.create_environment_template(name="a")
    assert _error(other_account_proton.create_environment_template, name="b") == (
        "ServiceQuotaExceededException",
        TEMPLATE_QUOTA.format(1),
    )


def test_quotas_list_in_json(runtime: Runtime, database_url: str) -> None:
    _cli(runtime, database_url, "set", "--account-id", OTHER_ACCOUNT, "components=0", "repositories=9")
    _cli(runtime, database_url, "set", "--account-id", ACCOUNT, "instances-per-service=unlimited")
    listing = json.loads(
        _cli(runtime, database_url, "list", "--output", "json", BARYON_QUOTA_SERVICES="5").stdout
    )
    assert listing == {
        "defaults": {
            "templates": None,
            "versions_per_template": None,
            "environments": None,
            "services": 5,
            "instances_per_service": None,
            "components": None,
            "repositories": None,
            "environment_account_connections": None,
        },
        "accounts": [
            {"accountId": ACCOUNT, "name": "instances_per_service", "value": None},
            {"accountId": OTHER_ACCOUNT, "name": "components", "value": 0},
            {"accountId": OTHER_ACCOUNT, "name": "repositories", "value": 9},
        ],
    }
    one = json.loads(
        _cli(
            runtime, database_url, "list", "--account-id", OTHER_ACCOUNT, "--output", "json",
            BARYON_QUOTA_SERVICES="5",
        ).stdout
    )  # fmt: skip
    assert one == {
        "accountId": OTHER_ACCOUNT,
        "quotas": [
            {"name": "templates", "value": None, "source": "default"},
            {"name": "versions_per_template", "value": None, "source": "default"},
            {"name": "environments", "value": None, "source": "default"},
            {"name": "services", "value": 5, "source": "default"},
            {"name": "instances_per_service", "value": None, "source": "default"},
            {"name": "components", "value": 0, "source": "account"},
            {"name": "repositories", "value": 9, "source": "account"},
            {"name": "environment_account_connections", "value": None, "source": "default"},
        ],
    }


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["templates=many"],
            "Error: Invalid value for NAME=VALUE: templates must be a whole number from 0 to 999999999 or "
            "'unlimited', not 'many'.",
        ),
        (
            ["tags_per_resource=60"],
            "Error: Invalid value for NAME=VALUE: 'tags_per_resource' is not a quota; the quotas are: "
            "templates, versions_per_template, environments, services, instances_per_service, components, "
            "repositories, environment_account_connections.",
        ),
        (["templates"], "Error: Invalid value for NAME=VALUE: 'templates' is not NAME=VALUE"),
    ],
)
def test_a_bad_quota_changes_nothing(
    runtime: Runtime, database_url: str, arguments: list[str], message: str
) -> None:
    env = baryon_env(runtime.settings.data_dir, database_url, SECRET_KEY)
    result = run(["quotas", "set", "--account-id", ACCOUNT, "services=1", *arguments], env)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == message
    assert "Traceback" not in result.stderr
    listing = json.loads(_cli(runtime, database_url, "list", "--output", "json").stdout)
    assert listing["accounts"] == []


def test_instances_per_service_for_one_account(
    proton: Any,
    s3: Any,
    worker: Any,
    environment: str,  # noqa: F811 - the fixture
    runtime: Runtime,
    database_url: str,
) -> None:
    _published_service_template(proton, s3, name="narrow", pipeline=False)
    _cli(runtime, database_url, "set", "--account-id", ACCOUNT, "instances_per_service=2")

    def spec(*names: str) -> str:
        items = "".join(f"  - name: {name}\n    environment: {environment}\n" for name in names)
        return "proton: ServiceSpec\ninstances:\n" + items

    create = {"name": "narrow", "templateName": "narrow", "templateMajorVersion": "1"}
    refusal = ("ServiceQuotaExceededException", "A service can have at most 2 instances.")
    assert _error(proton.create_service, **create, spec=spec("a", "b", "c")) == refusal
    assert proton.list_services()["services"] == []
    proton.create_service(**create, spec=spec("a", "b"))
    proton.get_waiter("service_created").wait(name="narrow", WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    assert _error(proton.update_service, name="narrow", spec=spec("a", "b", "c")) == refusal
    assert _error(
        proton.create_service_instance, serviceName="narrow", name="c", spec=spec("a", "b", "c")
    ) == (
        "ValidationException",
        "A service can have at most 2 instances.",
    )
    instances = proton.list_service_instances(serviceName="narrow")["serviceInstances"]
    assert sorted(item["name"] for item in instances) == ["a", "b"]
