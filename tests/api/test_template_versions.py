"""Template versions: registration through the engine from a real (moto) S3, numbering, publishing,
recommended versions, deletion rules and idempotency."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError, WaiterError

from tests.conftest import ACCOUNT
from tests.support import bundles
from tests.support.errors import error_of as _error
from tests.support.waiters import FAST


def _upload(s3: Any, data: bytes) -> dict[str, Any]:
    key = f"{uuid.uuid4().hex}.tar.gz"
    s3.put_object(Bucket="bundles", Key=key, Body=data)
    return {"s3": {"bucket": "bundles", "key": key}}


def _env_version(
    proton: Any, s3: Any, name: str = "env", major: str | None = None, data: bytes | None = None
) -> Any:
    kwargs: dict[str, Any] = {
        "templateName": name,
        "source": _upload(s3, data or bundles.environment_bundle()),
    }
    if major is not None:
        kwargs["majorVersion"] = major
    version = proton.create_environment_template_version(**kwargs)["environmentTemplateVersion"]
    proton.get_waiter("environment_template_version_registered").wait(
        templateName=name,
        majorVersion=version["majorVersion"],
        minorVersion=version["minorVersion"],
        WaiterConfig=FAST,
    )
    return version


def _publish(proton: Any, name: str, major: str, minor: str) -> Any:
    return proton.update_environment_template_version(
        templateName=name, majorVersion=major, minorVersion=minor, status="PUBLISHED"
    )["environmentTemplateVersion"]


def test_register_to_draft_and_publish(proton: Any, s3: Any, worker: Any) -> None:
    proton.create_environment_template(name="env")
    created = proton.create_environment_template_version(
        templateName="env", description="first", source=_upload(s3, bundles.environment_bundle())
    )["environmentTemplateVersion"]
    assert created["status"] == "REGISTRATION_IN_PROGRESS"
    assert (created["majorVersion"], created["minorVersion"]) == ("1", "0")
    assert created["arn"] == f"arn:aws:proton:us-east-1:{ACCOUNT}:environment-template/env:1.0"
    proton.get_waiter("environment_template_version_registered").wait(
        templateName="env", majorVersion="1", minorVersion="0", WaiterConfig=FAST
    )
    got = proton.get_environment_template_version(templateName="env", majorVersion="1", minorVersion="0")[
        "environmentTemplateVersion"
    ]
    assert got["status"] == "DRAFT"
    assert got["schema"] == bundles.ENV_SCHEMA
    assert "recommendedMinorVersion" not in got
    published = _publish(proton, "env", "1", "0")
    assert published["status"] == "PUBLISHED"
    assert published["recommendedMinorVersion"] == "0"
    assert proton.get_environment_template(name="env")["environmentTemplate"]["recommendedVersion"] == "1.0"
    code, message = _error(
        proton.update_environment_template_version,
        templateName="env",
        majorVersion="1",
        minorVersion="0",
        status="DRAFT",
    )
    assert code == "ValidationException"
    assert message == (
        "A template version's status can only change from DRAFT to PUBLISHED; version 1.0 of environment "
        "template env is PUBLISHED."
    )


def test_numbering_new_major_and_next_minor(proton: Any, s3: Any, worker: Any) -> None:
    proton.create_environment_template(name="env")
    code, message = _error(
        proton.create_environment_template_version,
        templateName="env",
        majorVersion="1",
        source=_upload(s3, bundles.environment_bundle()),
    )
    assert code == "ValidationException"
    assert message.startswith("Major version 1 of environment template env does not exist.")
    assert _env_version(proton, s3)["majorVersion"] == "1"
    assert _env_version(proton, s3, major="1")["minorVersion"] == "1"
    second_major = _env_version(proton, s3)
    assert (second_major["majorVersion"], second_major["minorVersion"]) == ("2", "0")
    _publish(proton, "env", "1", "1")
    _publish(proton, "env", "1", "0")
    assert proton.get_environment_template(name="env")["environmentTemplate"]["recommendedVersion"] == "1.1"
    _publish(proton, "env", "2", "0")
    assert proton.get_environment_template(name="env")["environmentTemplate"]["recommendedVersion"] == "2.0"
    per_major = proton.list_environment_template_versions(templateName="env")["templateVersions"]
    assert [(v["majorVersion"], v["minorVersion"]) for v in per_major] == [("1", "1"), ("2", "0")]
    minors = proton.list_environment_template_versions(templateName="env", majorVersion="1")[
        "templateVersions"
    ]
    assert [v["minorVersion"] for v in minors] == ["0", "1"]
    assert all(v["recommendedMinorVersion"] == "1" for v in minors)
    assert "schema" not in minors[0]


def test_delete_rules_and_recommended_recomputed(proton: Any, s3: Any, worker: Any) -> None:
    proton.create_environment_template(name="env")
    for _ in range(3):
        _env_version(proton, s3, major="1" if _ else None)
    for minor in ("0", "1", "2"):
        _publish(proton, "env", "1", minor)
    code, message = _error(
        proton.delete_environment_template_version, templateName="env", majorVersion="1", minorVersion="2"
    )
    assert code == "ConflictException"
    assert "recommended minor version of major version 1" in message
    code, message = _error(proton.delete_environment_template, name="env")
    assert (code, message) == (
        "ConflictException",
        "The environment template env still has versions. Delete its versions before the template.",
    )
    proton.delete_environment_template_version(templateName="env", majorVersion="1", minorVersion="1")
    proton.delete_environment_template_version(templateName="env", majorVersion="1", minorVersion="0")
    assert proton.get_environment_template(name="env")["environmentTemplate"]["recommendedVersion"] == "1.2"
    deleted = proton.delete_environment_template_version(
        templateName="env", majorVersion="1", minorVersion="2"
    )
    assert deleted["environmentTemplateVersion"]["minorVersion"] == "2"
    assert "recommendedVersion" not in proton.get_environment_template(name="env")["environmentTemplate"]
    code, _ = _error(
        proton.get_environment_template_version, templateName="env", majorVersion="1", minorVersion="2"
    )
    assert code == "ResourceNotFoundException"
    again = _env_version(proton, s3)
    assert again["majorVersion"] == "2", "numbers of deleted versions are not reused"
    proton.delete_environment_template_version(templateName="env", majorVersion="2", minorVersion="0")
    proton.delete_environment_template(name="env")


def test_missing_bundle_and_bad_bundle_fail_registration(proton: Any, s3: Any, worker: Any) -> None:
    proton.create_environment_template(name="env")
    proton.create_environment_template_version(
        templateName="env", source={"s3": {"bucket": "bundles", "key": "absent.tar.gz"}}
    )
    with pytest.raises(WaiterError):
        proton.get_waiter("environment_template_version_registered").wait(
            templateName="env", majorVersion="1", minorVersion="0", WaiterConfig=FAST
        )
    failed = proton.get_environment_template_version(templateName="env", majorVersion="1", minorVersion="0")[
        "environmentTemplateVersion"
    ]
    assert failed["status"] == "REGISTRATION_FAILED"
    assert failed["statusMessage"].startswith(
        "Unable to fetch the template bundle s3://bundles/absent.tar.gz: NoSuchKey"
    )
    broken = bundles.tar_gz(
        {
            "schema/schema.yaml": "schema:\n  format: [\n",
            "infrastructure/manifest.yaml": bundles.CFN_MANIFEST,
            "infrastructure/cloudformation.yaml": bundles.CFN_ENV,
        }
    )
    version = proton.create_environment_template_version(templateName="env", source=_upload(s3, broken))[
        "environmentTemplateVersion"
    ]
    with pytest.raises(WaiterError):
        proton.get_waiter("environment_template_version_registered").wait(
            templateName="env", majorVersion=version["majorVersion"], minorVersion="0", WaiterConfig=FAST
        )
    failed = proton.get_environment_template_version(
        templateName="env", majorVersion=version["majorVersion"], minorVersion="0"
    )["environmentTemplateVersion"]
    assert failed["status"] == "REGISTRATION_FAILED"
    assert failed["statusMessage"].startswith("schema/schema.yaml: line ")
    code, _ = _error(
        proton.update_environment_template_version,
        templateName="env",
        majorVersion="1",
        minorVersion="0",
        status="PUBLISHED",
    )
    assert code == "ValidationException"


def test_incompatible_minor_fails_registration(proton: Any, s3: Any, worker: Any) -> None:
    proton.create_environment_template(name="env")
    _env_version(proton, s3)
    changed = bundles.ENV_SCHEMA.replace("vpc_cidr:", "subnet_cidr:")
    proton.create_environment_template_version(
        templateName="env", majorVersion="1", source=_upload(s3, bundles.environment_bundle(changed))
    )
    with pytest.raises(WaiterError):
        proton.get_waiter("environment_template_version_registered").wait(
            templateName="env", majorVersion="1", minorVersion="1", WaiterConfig=FAST
        )
    failed = proton.get_environment_template_version(templateName="env", majorVersion="1", minorVersion="1")[
        "environmentTemplateVersion"
    ]
    assert "vpc_cidr" in failed["statusMessage"] and "1.0" in failed["statusMessage"]


def test_service_versions_compatible_environments(proton: Any, s3: Any, worker: Any) -> None:
    proton.create_environment_template(name="env")
    _env_version(proton, s3)
    proton.create_service_template(name="svc")
    code, message = _error(
        proton.create_service_template_version,
        templateName="svc",
        compatibleEnvironmentTemplates=[{"templateName": "env", "majorVersion": "2"}],
        source=_upload(s3, bundles.service_bundle()),
    )
    assert (code, message) == (
        "ValidationException",
        "Compatible environment template env major version 2 does not exist.",
    )
    created = proton.create_service_template_version(
        templateName="svc",
        compatibleEnvironmentTemplates=[{"templateName": "env", "majorVersion": "1"}],
        supportedComponentSources=["DIRECTLY_DEFINED"],
        source=_upload(s3, bundles.service_bundle()),
    )["serviceTemplateVersion"]
    proton.get_waiter("service_template_version_registered").wait(
        templateName="svc", majorVersion="1", minorVersion="0", WaiterConfig=FAST
    )
    got = proton.get_service_template_version(templateName="svc", majorVersion="1", minorVersion="0")[
        "serviceTemplateVersion"
    ]
    assert got["status"] == "DRAFT"
    assert got["compatibleEnvironmentTemplates"] == [{"templateName": "env", "majorVersion": "1"}]
    assert got["supportedComponentSources"] == ["DIRECTLY_DEFINED"]
    assert created["arn"].endswith(":service-template/svc:1.0")
    published = proton.update_service_template_version(
        templateName="svc",
        majorVersion="1",
        minorVersion="0",
        status="PUBLISHED",
        supportedComponentSources=[],
    )["serviceTemplateVersion"]
    assert published["supportedComponentSources"] == []
    code, _ = _error(
        proton.update_service_template_version,
        templateName="svc",
        majorVersion="1",
        minorVersion="0",
        compatibleEnvironmentTemplates=[{"templateName": "env", "majorVersion": "1"}],
    )
    assert code == "ValidationException"


def test_service_without_pipeline_rejects_pipeline_bundle(proton: Any, s3: Any, worker: Any) -> None:
    proton.create_environment_template(name="env")
    _env_version(proton, s3)
    proton.create_service_template(name="svc", pipelineProvisioning="CUSTOMER_MANAGED")
    compatible = [{"templateName": "env", "majorVersion": "1"}]
    proton.create_service_template_version(
        templateName="svc",
        compatibleEnvironmentTemplates=compatible,
        source=_upload(s3, bundles.service_bundle()),
    )
    with pytest.raises(WaiterError):
        proton.get_waiter("service_template_version_registered").wait(
            templateName="svc", majorVersion="1", minorVersion="0", WaiterConfig=FAST
        )
    proton.create_service_template_version(
        templateName="svc",
        compatibleEnvironmentTemplates=compatible,
        source=_upload(s3, bundles.service_bundle(pipeline=False)),
    )
    proton.get_waiter("service_template_version_registered").wait(
        templateName="svc", majorVersion="2", minorVersion="0", WaiterConfig=FAST
    )


def test_customer_managed_environment_template(proton: Any, s3: Any, worker: Any) -> None:
    proton.create_environment_template(name="imported", provisioning="CUSTOMER_MANAGED")
    version = _env_version(proton, s3, name="imported", data=bundles.customer_managed_bundle())
    got = proton.get_environment_template_version(
        templateName="imported", majorVersion=version["majorVersion"], minorVersion="0"
    )["environmentTemplateVersion"]
    assert got["status"] == "DRAFT"


def test_client_token_idempotency(proton: Any, s3: Any, worker: Any) -> None:
    proton.create_environment_template(name="env")
    source = _upload(s3, bundles.environment_bundle())
    first = proton.create_environment_template_version(templateName="env", source=source, clientToken="tok-1")
    again = proton.create_environment_template_version(templateName="env", source=source, clientToken="tok-1")
    assert again["environmentTemplateVersion"] == first["environmentTemplateVersion"]
    listed = proton.list_environment_template_versions(templateName="env")["templateVersions"]
    assert len(listed) == 1
    code, message = _error(
        proton.create_environment_template_version,
        templateName="env",
        source=source,
        clientToken="tok-1",
        description="other",
    )
    assert code == "ValidationException"
    assert message.startswith("Idempotent parameter mismatch")


def test_version_tags_and_cleanup(proton: Any, s3: Any, worker: Any) -> None:
    proton.create_environment_template(name="env")
    version = proton.create_environment_template_version(
        templateName="env",
        source=_upload(s3, bundles.environment_bundle()),
        tags=[{"key": "v", "value": "1"}],
    )["environmentTemplateVersion"]
    assert proton.list_tags_for_resource(resourceArn=version["arn"])["tags"] == [{"key": "v", "value": "1"}]
    proton.get_waiter("environment_template_version_registered").wait(
        templateName="env", majorVersion="1", minorVersion="0", WaiterConfig=FAST
    )
    proton.delete_environment_template_version(templateName="env", majorVersion="1", minorVersion="0")
    with pytest.raises(ClientError) as caught:
        proton.list_tags_for_resource(resourceArn=version["arn"])
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_hostile_bundle_fails_registration_and_writes_nothing(
    proton: Any, s3: Any, worker: Any, tmp_path: Any
) -> None:
    import io
    import tarfile

    target = tmp_path / "outside"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in (("schema/schema.yaml", bundles.ENV_SCHEMA.encode()), ("../escape.txt", b"x")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("infrastructure")
        link.type = tarfile.SYMTYPE
        link.linkname = str(target)
        archive.addfile(link)
    proton.create_environment_template(name="env")
    proton.create_environment_template_version(templateName="env", source=_upload(s3, buffer.getvalue()))
    with pytest.raises(WaiterError):
        proton.get_waiter("environment_template_version_registered").wait(
            templateName="env", majorVersion="1", minorVersion="0", WaiterConfig=FAST
        )
    failed = proton.get_environment_template_version(templateName="env", majorVersion="1", minorVersion="0")[
        "environmentTemplateVersion"
    ]
    assert failed["status"] == "REGISTRATION_FAILED"
    assert failed["statusMessage"] == (
        "Template bundle member '../escape.txt' has a '..' path component; paths must stay inside the archive"
    )
    assert not target.exists()
    assert not (tmp_path.parent / "escape.txt").exists()
