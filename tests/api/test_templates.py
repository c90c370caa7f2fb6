"""Environment and service templates through a real boto3 client (in-process), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from tests.conftest import ACCOUNT
from tests.support.errors import error_of as _error


def test_create_get_update_list_delete_environment_template(proton: Any) -> None:
    created = proton.create_environment_template(
        name="vpc", displayName="VPC", description="A VPC", tags=[{"key": "team", "value": "core"}]
    )["environmentTemplate"]
    assert created["arn"] == f"arn:aws:proton:us-east-1:{ACCOUNT}:environment-template/vpc"
    assert created["displayName"] == "VPC"
    assert "recommendedVersion" not in created
    got = proton.get_environment_template(name="vpc")["environmentTemplate"]
    assert got == created
    updated = proton.update_environment_template(name="vpc", description="Changed")["environmentTemplate"]
    assert updated["description"] == "Changed" and updated["displayName"] == "VPC"
    assert updated["lastModifiedAt"] >= created["lastModifiedAt"]
    listed = proton.list_environment_templates()["templates"]
    assert [t["name"] for t in listed] == ["vpc"]
    assert "encryptionKey" not in listed[0]
    tags = proton.list_tags_for_resource(resourceArn=created["arn"])["tags"]
    assert tags == [{"key": "team", "value": "core"}]
    deleted = proton.delete_environment_template(name="vpc")["environmentTemplate"]
    assert deleted["name"] == "vpc"
    code, message = _error(proton.get_environment_template, name="vpc")
    assert code == "ResourceNotFoundException"
    assert message == f"The requested environment template does not exist: {created['arn']}"


def test_service_template_pipeline_provisioning(proton: Any) -> None:
    template = proton.create_service_template(name="api", pipelineProvisioning="CUSTOMER_MANAGED")[
        "serviceTemplate"
    ]
    assert template["pipelineProvisioning"] == "CUSTOMER_MANAGED"
    assert template["arn"].endswith(":service-template/api")
    assert proton.list_service_templates()["templates"][0]["pipelineProvisioning"] == "CUSTOMER_MANAGED"
    assert proton.list_environment_templates()["templates"] == []


def test_repeated_create_is_idempotent_but_other_parameters_conflict(proton: Any) -> None:
    first = proton.create_environment_template(name="env", description="d")["environmentTemplate"]
    again = proton.create_environment_template(name="env", description="d")["environmentTemplate"]
    assert again == first
    code, message = _error(proton.create_environment_template, name="env", description="other")
    assert code == "ConflictException"
    assert message == "A environment template named env already exists with other parameters."
    assert proton.get_environment_template(name="env")["environmentTemplate"]["description"] == "d"


def test_same_name_for_environment_and_service_templates(proton: Any) -> None:
    proton.create_environment_template(name="shared")
    proton.create_service_template(name="shared")
    assert proton.get_service_template(name="shared")["serviceTemplate"]["name"] == "shared"


def test_template_quota(proton: Any, runtime: Any) -> None:
    from dataclasses import replace

    runtime.quotas = replace(runtime.quotas, templates=2)
    proton.create_environment_template(name="a")
    proton.create_service_template(name="b")
    code, message = _error(proton.create_environment_template, name="c")
    assert code == "ServiceQuotaExceededException"
    assert message == "You have reached the quota of 2 templates in this account and region."
    assert len(proton.list_environment_templates()["templates"]) == 1


def test_pagination_with_signed_tokens(proton: Any) -> None:
    names = [f"t{i:02d}" for i in range(7)]
    for name in names:
        proton.create_environment_template(name=name)
    page = proton.list_environment_templates(maxResults=3)
    assert [t["name"] for t in page["templates"]] == names[:3]
    seen = [t["name"] for t in page["templates"]]
    while "nextToken" in page:
        page = proton.list_environment_templates(maxResults=3, nextToken=page["nextToken"])
        seen += [t["name"] for t in page["templates"]]
    assert seen == names
    paginator = proton.get_paginator("list_environment_templates")
    assert [
        t["name"] for p in paginator.paginate(PaginationConfig={"PageSize": 2}) for t in p["templates"]
    ] == names
    token = proton.list_environment_templates(maxResults=3)["nextToken"]
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    code, message = _error(proton.list_environment_templates, nextToken=forged)
    assert (code, message) == ("ValidationException", "The nextToken provided is invalid.")
    code, _ = _error(proton.list_service_templates, nextToken=token)
    assert code == "ValidationException"


def test_validation_errors_change_nothing(proton: Any) -> None:
    code, message = _error(proton.create_environment_template, name="-bad")
    assert code == "ValidationException"
    assert message.startswith("1 validation error detected: Value at 'name' failed to satisfy constraint: ")
    code, message = _error(
        proton.create_environment_template, name="ok", tags=[{"key": "aws:reserved", "value": "x"}]
    )
    assert (code, message) == (
        "ValidationException",
        "Tag keys starting with 'aws:' are reserved: aws:reserved",
    )
    assert proton.list_environment_templates()["templates"] == []


def test_concurrent_creates_of_one_name_never_fail(proton: Any, dispatcher: Any, credential: Any) -> None:
    import threading

    from tests.support.clients import in_process_client

    results: list[Any] = []

    def create() -> None:
        client = in_process_client(dispatcher, credential)
        try:
            results.append(client.create_environment_template(name="race")["environmentTemplate"]["arn"])
        except Exception as error:  # collected and asserted below
            results.append(error)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6
    assert all(isinstance(result, str) and result.endswith("environment-template/race") for result in results)
    assert [t["name"] for t in proton.list_environment_templates()["templates"]] == ["race"]
