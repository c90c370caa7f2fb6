"""`--bundles DIR`: template folders laid out as template sync reads them, registered and published
before adopting, once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from baryon.adopt.bundles import BundleProblem, find_bundles, register_bundles
from baryon.runtime import Runtime
from tests.conftest import ACCOUNT
from tests.support import bundles
from tests.support.proton_stacks import REGION, kept_bundles, write


def test_registers_and_publishes_each_major_once(runtime: Runtime, proton: Any, tmp_path: Path) -> None:
    found = find_bundles(kept_bundles(tmp_path))
    assert [(b.kind, b.name, b.major) for b in found] == [
        ("ENVIRONMENT", "vpc", 1),
        ("SERVICE", "fargate", 1),
    ]

    assert register_bundles(runtime, ACCOUNT, REGION, found) == ["vpc:1.0", "fargate:1.0"]
    env = proton.get_environment_template_version(templateName="vpc", majorVersion="1", minorVersion="0")
    assert env["environmentTemplateVersion"]["status"] == "PUBLISHED"
    service = proton.get_service_template_version(templateName="fargate", majorVersion="1", minorVersion="0")
    version = service["serviceTemplateVersion"]
    assert version["status"] == "PUBLISHED"
    assert version["compatibleEnvironmentTemplates"] == [{"templateName": "vpc", "majorVersion": "1"}]
    assert proton.get_service_template(name="fargate")["serviceTemplate"].get("pipelineProvisioning") is None

    # Again: nothing new.
    assert register_bundles(runtime, ACCOUNT, REGION, found) == ["vpc:1.0", "fargate:1.0"]
    listed = proton.list_environment_template_versions(templateName="vpc")["templateVersions"]
    assert [(v["majorVersion"], v["minorVersion"]) for v in listed] == [("1", "0")]


def test_hostile_folders_are_refused_before_anything_is_written(
    runtime: Runtime, proton: Any, tmp_path: Path
) -> None:
    root = kept_bundles(tmp_path)
    os.symlink("/etc/passwd", root / "vpc" / "v1" / "infrastructure" / "secret.txt")
    with pytest.raises(BundleProblem, match="is a symbolic link"):
        register_bundles(runtime, ACCOUNT, REGION, find_bundles(root))
    assert proton.list_environment_templates()["templates"] == []

    (root / "odd" / "v1").mkdir(parents=True)
    with pytest.raises(BundleProblem, match="holds neither infrastructure/"):
        find_bundles(root)


def test_a_bundle_that_does_not_register_stops_with_the_reason(
    runtime: Runtime, proton: Any, tmp_path: Path
) -> None:
    write(tmp_path / "vpc" / "v1", {**bundles.cfn_environment(), "schema/schema.yaml": "not: a schema\n"})
    with pytest.raises(BundleProblem, match=r"Registration of environment template vpc major 1 .* failed"):
        register_bundles(runtime, ACCOUNT, REGION, find_bundles(tmp_path))
