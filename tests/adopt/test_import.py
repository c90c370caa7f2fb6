"""`baryon import`: the JSON an export of Proton saved (`aws proton get-*`/`list-*` … --output json),
recreated in another account: templates, versions from `--bundles`, account settings; hostile files are
refused with the file named, before anything is written; importing twice changes nothing."""

from __future__ import annotations

import dataclasses
import datetime
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from baryon.adopt import exported
from baryon.adopt.apply import apply_plan
from baryon.adopt.bundles import find_bundles, register_bundles
from baryon.adopt.cloudformation import Reading, read_stacks
from baryon.adopt.exported import MAX_FILE_BYTES, ExportProblem, read_export
from baryon.adopt.importer import apply_import, plan_import
from baryon.runtime import Runtime
from baryon.store import connections as connection_store
from tests.conftest import ACCOUNT, OTHER_ACCOUNT
from tests.support.proton_stacks import READER, REGION, cfn, kept_bundles, proton_arn, proton_stack
from tests.support.template_sync import linked_repository

__all__ = ["cfn"]  # fixtures

ROLE = f"arn:aws:iam::{ACCOUNT}:role/pipeline"


def _iso(value: Any) -> str:
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    raise TypeError(type(value))


def save(folder: Path, name: str, answer: dict[str, Any]) -> None:
    """What `aws proton … --output json > name` writes: the response without its metadata, timestamps
    in ISO 8601."""
    body = {key: value for key, value in answer.items() if key != "ResponseMetadata"}
    (folder / name).write_text(json.dumps(body, indent=4, default=_iso) + "\n")


def export_first_account(runtime: Runtime, proton: Any, tmp_path: Path) -> tuple[Path, Path]:
    """Templates vpc and fargate (1.0 published, display names and descriptions) and account settings in
    the first account, saved as an export; the bundles folder."""
    bundles = kept_bundles(tmp_path / "bundles")
    register_bundles(runtime, ACCOUNT, REGION, find_bundles(bundles))
    proton.update_environment_template(name="vpc", displayName="The VPC", description="networks")
    proton.update_service_template(name="fargate", displayName="Fargate", description="services")
    proton.update_account_settings(pipelineServiceRoleArn=ROLE)
    folder = tmp_path / "export"
    folder.mkdir()
    save(folder, "list-environment-templates.json", proton.list_environment_templates())
    save(folder, "vpc.json", proton.get_environment_template(name="vpc"))
    save(folder, "list-service-templates.json", proton.list_service_templates())
    save(
        folder,
        "vpc-versions.json",
        proton.list_environment_template_versions(templateName="vpc"),
    )
    save(
        folder,
        "fargate-1.0.json",
        proton.get_service_template_version(templateName="fargate", majorVersion="1", minorVersion="0"),
    )
    save(folder, "settings.json", proton.get_account_settings())
    return folder, bundles


def _templates(client: Any) -> list[tuple[str, str | None, str | None]]:
    found = client.list_environment_templates()["templates"] + client.list_service_templates()["templates"]
    return sorted((t["name"], t.get("displayName"), t.get("description")) for t in found)


def test_templates_versions_and_settings_are_recreated_once(
    runtime: Runtime, proton: Any, other_account_proton: Any, tmp_path: Path
) -> None:
    folder, bundles = export_first_account(runtime, proton, tmp_path)
    export = read_export(folder)

    plan, chosen = plan_import(runtime, OTHER_ACCOUNT, REGION, export, bundles)
    assert [(s.what, s.name, s.outcome.split(" ")[0]) for s in plan.steps] == [
        ("environment-template", "vpc", "create"),
        ("service-template", "fargate", "create"),
        ("environment-template-version", "vpc:1.0", "register"),
        ("service-template-version", "fargate:1.0", "register"),
        ("account-settings", "-", "update"),
    ]
    assert other_account_proton.list_environment_templates()["templates"] == []

    apply_import(runtime, plan, export, chosen)
    assert _templates(other_account_proton) == _templates(proton)
    for kind, name in (("environment", "vpc"), ("service", "fargate")):
        getter = getattr(other_account_proton, f"get_{kind}_template_version")
        version = getter(templateName=name, majorVersion="1", minorVersion="0")[f"{kind}TemplateVersion"]
        assert version["status"] == "PUBLISHED"
        assert version["arn"].split(":")[4] == OTHER_ACCOUNT
    fargate = other_account_proton.get_service_template_version(
        templateName="fargate", majorVersion="1", minorVersion="0"
    )["serviceTemplateVersion"]
    assert fargate["compatibleEnvironmentTemplates"] == [{"templateName": "vpc", "majorVersion": "1"}]
    settings = other_account_proton.get_account_settings()["accountSettings"]
    assert settings["pipelineServiceRoleArn"] == ROLE

    # Again: nothing to do, nothing changes.
    again, chosen = plan_import(runtime, OTHER_ACCOUNT, REGION, read_export(folder), bundles)
    assert {s.outcome for s in again.steps if s.what != "account-settings"} == {"exists"}
    assert chosen == []
    apply_import(runtime, again, export, chosen)
    listed = other_account_proton.list_environment_template_versions(templateName="vpc")["templateVersions"]
    assert [(v["majorVersion"], v["minorVersion"]) for v in listed] == [("1", "0")]


def test_a_version_without_its_bundle_is_skipped_with_the_reason(
    runtime: Runtime, proton: Any, other_account_proton: Any, tmp_path: Path
) -> None:
    folder, _ = export_first_account(runtime, proton, tmp_path)
    plan, chosen = plan_import(runtime, OTHER_ACCOUNT, REGION, read_export(folder))
    assert chosen == []
    assert [(s.source, s.reason) for s in plan.skipped] == [
        ("environment-template-version vpc:1.0", "--bundles has no vpc/v1/ folder"),
        ("service-template-version fargate:1.0", "--bundles has no fargate/v1/ folder"),
    ]


def test_a_get_is_richer_than_a_list_summary(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(
        json.dumps({"environments": [{"name": "prod", "arn": "x", "templateName": "vpc"}]})
    )
    (tmp_path / "b.json").write_text(
        json.dumps({"environment": {"name": "prod", "arn": "x", "templateName": "vpc", "spec": "s"}})
    )
    (tmp_path / "c.json").write_text(json.dumps({"environments": [{"name": "prod", "templateName": "old"}]}))
    record = read_export(tmp_path).get("environment", "prod")
    assert record == {"name": "prod", "arn": "x", "templateName": "vpc", "spec": "s"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not an object"),
        ('{"something": 1}', "no single known top-level key"),
        ('{"environment": {"name": 5}}', "environment.name must be a string"),
        ('{"environments": {"name": "x"}}', "environments must be a list"),
        ('{"environment": {"name": "x", "deploymentStatus": ["a"]}}', "must be a string"),
        ('{"environment": {"arn": "x"}}', "without its name"),
        ('{"templates": [{"name": "x", "arn": "arn:aws:proton:r:1:other/x"}]}', "without an environment"),
        ("[" * 100 + "]" * 100, "nests too deeply"),
        (b"\xff\xfe", "cannot be read as UTF-8"),
    ],
)
def test_hostile_files_are_refused_with_the_file_named(
    tmp_path: Path, content: str | bytes, message: str
) -> None:
    (tmp_path / "fine.json").write_text('{"environments": []}')
    bad = tmp_path / "sub" / "bad.json"
    bad.parent.mkdir()
    bad.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ExportProblem) as raised:
        read_export(tmp_path)
    assert str(raised.value).startswith(f"{bad}: ")
    assert message in str(raised.value)


def test_a_huge_file_is_refused_unread(tmp_path: Path) -> None:
    huge = tmp_path / "huge.json"
    with huge.open("wb") as out:
        out.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(ExportProblem, match=f"^{huge}: larger than {MAX_FILE_BYTES} bytes$"):
        read_export(tmp_path)


ENV_SPEC = "proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.1.0.0/16\n"
SERVICE_SPEC = """proton: ServiceSpec
pipeline: {}
instances:
  - name: front
    environment: dev
    spec:
      image: nginx
"""


def _proton_stacks(cf: Any) -> dict[str, dict[str, Any]]:
    """The stacks Proton deployed for the first account: environment dev, instance api/front, pipeline."""
    template = proton_arn("service-template/fargate")
    return {
        "dev": proton_stack(
            cf,
            "dev",
            {
                "proton:template": proton_arn("environment-template/vpc"),
                "proton:environment": proton_arn("environment/dev"),
            },
        ),
        "front": proton_stack(
            cf,
            "api-front",
            {
                "proton:template": template,
                "proton:environment": proton_arn("environment/dev"),
                "proton:service": proton_arn("service/api"),
                "proton:service-instance": proton_arn("service/api/service-instance/front"),
            },
        ),
        "pipeline": proton_stack(
            cf, "api-pipeline", {"proton:template": template, "proton:service": proton_arn("service/api")}
        ),
    }


def _snapshot(cf: Any) -> list[tuple[str, str, str]]:
    return sorted(
        (s["StackName"], s["StackId"], str(s.get("LastUpdatedTime") or s["CreationTime"]))
        for s in cf.describe_stacks()["Stacks"]
    )


def export_running(runtime: Runtime, proton: Any, cf: Any, tmp_path: Path) -> tuple[Path, Path]:
    """The first account runs dev, api (instance front, a pipeline) on their stacks; its export."""
    folder, bundles = export_first_account(runtime, proton, tmp_path)
    _proton_stacks(cf)
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "dev.yaml").write_text(ENV_SPEC)
    (specs / "api.yaml").write_text(SERVICE_SPEC)
    report = apply_plan(runtime, read_stacks(runtime, Reading(ACCOUNT, REGION, READER, specs_dir=specs)))
    assert report.refused == []
    save(folder, "environments.json", proton.list_environments())
    save(folder, "dev.json", proton.get_environment(name="dev"))
    save(folder, "services.json", proton.list_services())
    save(folder, "api.json", proton.get_service(name="api"))
    save(folder, "api-instances.json", proton.list_service_instances(serviceName="api"))
    save(folder, "front.json", proton.get_service_instance(serviceName="api", name="front"))
    return folder, bundles


def test_resources_are_adopted_from_their_stacks_never_deployed(
    runtime: Runtime, proton: Any, other_account_proton: Any, cfn: Any, tmp_path: Path
) -> None:
    folder, bundles = export_running(runtime, proton, cfn, tmp_path)
    # An environment whose stack is gone: exported, but nothing runs it.
    gone = json.loads((folder / "dev.json").read_text())
    gone["environment"]["name"] = "gone"
    (folder / "gone.json").write_text(json.dumps(gone))
    before = _snapshot(cfn)
    export = read_export(folder)

    plan, chosen = plan_import(runtime, OTHER_ACCOUNT, REGION, export, bundles, READER)
    assert [(s.source, s.reason) for s in plan.skipped] == [
        ("environment gone", "no CloudFormation stack of it was found; not deployed")
    ]
    assert plan.adoption is not None
    assert [(r.kind, r.name, r.spec is not None) for r in plan.adoption.resources] == [
        ("environment", "dev", True),
        ("service", "api", True),
        ("service-instance", "front", True),
        ("service-pipeline", "api", True),
    ]
    report = apply_import(runtime, plan, export, chosen)
    assert [(e.kind, e.name, e.outcome) for e in report.created] == [
        ("environment", "dev", "created"),
        ("service", "api", "created"),
        ("service-instance", "api/front", "created"),
        ("service-pipeline", "api", "created"),
    ]

    for client in (proton, other_account_proton):
        assert [e["name"] for e in client.list_environments()["environments"]] == ["dev"]
    first = proton.get_environment(name="dev")["environment"]
    second = other_account_proton.get_environment(name="dev")["environment"]
    assert second["arn"].split(":")[4] == OTHER_ACCOUNT
    same = (
        "name",
        "spec",
        "templateName",
        "templateMajorVersion",
        "templateMinorVersion",
        "deploymentStatus",
    )
    assert {k: second.get(k) for k in same} == {k: first.get(k) for k in same}
    assert second["spec"] == ENV_SPEC and second["deploymentStatus"] == "SUCCEEDED"
    service = other_account_proton.get_service(name="api")["service"]
    assert service["spec"] == SERVICE_SPEC and service["pipeline"]["deploymentStatus"] == "SUCCEEDED"
    instance = other_account_proton.get_service_instance(serviceName="api", name="front")["serviceInstance"]
    exported = proton.get_service_instance(serviceName="api", name="front")["serviceInstance"]
    assert {k: instance.get(k) for k in (*same, "environmentName")} == {
        k: exported.get(k) for k in (*same, "environmentName")
    }
    assert _snapshot(cfn) == before

    # Again: nothing changes.
    again, chosen = plan_import(runtime, OTHER_ACCOUNT, REGION, read_export(folder), bundles, READER)
    report = apply_import(runtime, again, export, chosen)
    assert report.created == [] and report.refused == []
    assert len(report.unchanged) == 4
    assert _snapshot(cfn) == before


def test_without_a_role_nothing_is_deployed(
    runtime: Runtime, proton: Any, other_account_proton: Any, cfn: Any, tmp_path: Path
) -> None:
    folder, bundles = export_running(runtime, proton, cfn, tmp_path)
    export = read_export(folder)
    plan, chosen = plan_import(runtime, OTHER_ACCOUNT, REGION, export, bundles)
    assert [(s.source, s.reason) for s in plan.skipped] == [
        (source, "no --role-arn to read its stack with; not deployed")
        for source in ("environment dev", "service-instance api/front", "service-pipeline api")
    ]
    assert apply_import(runtime, plan, export, chosen) is None
    assert other_account_proton.list_environments()["environments"] == []
    assert other_account_proton.list_services()["services"] == []


def test_version_numbers_status_and_descriptions_are_kept(
    runtime: Runtime, proton: Any, other_account_proton: Any, tmp_path: Path
) -> None:
    folder, bundles = export_first_account(runtime, proton, tmp_path)
    # A second minor of vpc 1, left a draft in the first account.
    (tmp_path / "next" / "vpc").mkdir(parents=True)
    shutil.copytree(bundles / "vpc" / "v1", tmp_path / "next" / "vpc" / "v1")
    (tmp_path / "next" / "vpc" / "v1" / "infrastructure" / "notes.txt").write_text("1.1\n")
    (draft,) = find_bundles(tmp_path / "next")
    register_bundles(runtime, ACCOUNT, REGION, [dataclasses.replace(draft, status="DRAFT")])
    proton.update_environment_template_version(
        templateName="vpc", majorVersion="1", minorVersion="1", description="trying"
    )
    listed = proton.list_environment_template_versions(templateName="vpc", majorVersion="1")
    save(folder, "vpc-versions.json", listed)

    export = read_export(folder)
    plan, chosen = plan_import(runtime, OTHER_ACCOUNT, REGION, export, bundles)
    assert [(s.name, s.outcome.split(" ")[-1]) for s in plan.steps if s.what.endswith("-version")] == [
        ("vpc:1.0", "PUBLISHED"),
        ("vpc:1.1", "DRAFT"),
        ("fargate:1.0", "PUBLISHED"),
    ]
    apply_import(runtime, plan, export, chosen)

    def versions(client: Any) -> list[tuple[str, str, str, str | None]]:
        listed = client.list_environment_template_versions(templateName="vpc", majorVersion="1")
        return [
            (v["majorVersion"], v["minorVersion"], v["status"], v.get("description"))
            for v in listed["templateVersions"]
        ]

    assert versions(other_account_proton) == versions(proton)
    assert versions(proton) == [("1", "0", "PUBLISHED", None), ("1", "1", "DRAFT", "trying")]


def _connection(runtime: Runtime, account: str, root: Path) -> str:
    with runtime.database.write() as db:
        record = connection_store.create(
            db,
            runtime.secrets,
            connection_id=runtime.ids.uuid(),
            account_id=account,
            region=REGION,
            name="local-github",
            provider="GITHUB",
            url_template=f"file://{root}/{{repository}}.git",
            token=None,
            mode="direct",
            api_url=None,
            now=runtime.clock.now(),
        )
    return record.arn


def test_repositories_are_linked_only_through_a_connection(
    runtime: Runtime, proton: Any, other_account_proton: Any, tmp_path: Path
) -> None:
    first = _connection(runtime, ACCOUNT, tmp_path)
    proton.create_repository(provider="GITHUB", name="org/templates", connectionArn=first)
    pipelines = {"provider": "GITHUB", "name": "org/templates", "branch": "main"}
    proton.update_account_settings(pipelineProvisioningRepository=pipelines)
    folder = tmp_path / "export"
    folder.mkdir()
    save(folder, "settings.json", proton.get_account_settings())
    save(folder, "repositories.json", proton.list_repositories())
    save(folder, "repository.json", proton.get_repository(provider="GITHUB", name="org/templates"))
    export = read_export(folder)

    plan, chosen = plan_import(runtime, OTHER_ACCOUNT, REGION, export)
    assert [(s.source, s.reason) for s in plan.skipped] == [
        (
            "repository GITHUB:org/templates",
            "no Baryon connection for GITHUB in this account and region; create one with "
            "'baryon connections create' and import again",
        )
    ]
    apply_import(runtime, plan, export, chosen)
    assert other_account_proton.list_repositories()["repositories"] == []
    assert plan.skipped[-1].source == "account settings pipelineProvisioningRepository"
    assert (
        "pipelineProvisioningRepository" not in other_account_proton.get_account_settings()["accountSettings"]
    )

    second = _connection(runtime, OTHER_ACCOUNT, tmp_path)
    for _ in range(2):
        plan, chosen = plan_import(runtime, OTHER_ACCOUNT, REGION, export)
        assert [(s.what, s.name, s.outcome) for s in plan.steps] == [
            ("account-settings", "-", "update"),
            ("repository", "GITHUB:org/templates", f"link through {second}"),
        ]
        apply_import(runtime, plan, export, chosen)
        (linked,) = other_account_proton.list_repositories()["repositories"]
        assert (linked["provider"], linked["name"]) == ("GITHUB", "org/templates")
        got = other_account_proton.get_repository(provider="GITHUB", name="org/templates")["repository"]
        assert got["connectionArn"] == second
        settings = other_account_proton.get_account_settings()["accountSettings"]
        assert {k: settings["pipelineProvisioningRepository"][k] for k in pipelines} == pipelines


def test_template_sync_configs_are_recreated_once(
    runtime: Runtime, proton: Any, other_account_proton: Any, tmp_path: Path
) -> None:
    folder, bundles = export_first_account(runtime, proton, tmp_path)
    linked_repository(proton, runtime, tmp_path / "git")
    proton.create_template_sync_config(
        templateName="vpc",
        templateType="ENVIRONMENT",
        repositoryProvider="GITHUB",
        repositoryName="org/templates",
        branch="main",
        subdirectory="vpc",
    )
    save(folder, "repository.json", proton.get_repository(provider="GITHUB", name="org/templates"))
    save(
        folder,
        "vpc-sync.json",
        proton.get_template_sync_config(templateName="vpc", templateType="ENVIRONMENT"),
    )
    _connection(runtime, OTHER_ACCOUNT, tmp_path / "git")
    export = read_export(folder)

    for _ in range(2):
        plan, chosen = plan_import(runtime, OTHER_ACCOUNT, REGION, export, bundles)
        assert ("template-sync-config", "vpc", "create") in [(s.what, s.name, s.outcome) for s in plan.steps]
        apply_import(runtime, plan, export, chosen)
        assert plan.skipped == []
        got = other_account_proton.get_template_sync_config(templateName="vpc", templateType="ENVIRONMENT")
        assert got["templateSyncConfig"] == {
            "templateName": "vpc",
            "templateType": "ENVIRONMENT",
            "repositoryProvider": "GITHUB",
            "repositoryName": "org/templates",
            "branch": "main",
            "subdirectory": "vpc",
        }


def test_a_component_is_adopted_from_its_stack(
    runtime: Runtime, proton: Any, other_account_proton: Any, cfn: Any, tmp_path: Path
) -> None:
    folder, bundles = export_running(runtime, proton, cfn, tmp_path)
    proton_stack(
        cfn,
        "cache",
        {
            "proton:environment": proton_arn("environment/dev"),
            "proton:component": proton_arn("component/cache"),
        },
    )
    report = apply_plan(runtime, read_stacks(runtime, Reading(ACCOUNT, REGION, READER)))
    assert [(e.kind, e.name) for e in report.created] == [("component", "cache")]
    save(folder, "components.json", proton.list_components())
    save(folder, "cache.json", proton.get_component(name="cache"))
    before = _snapshot(cfn)
    export = read_export(folder)

    plan, chosen = plan_import(runtime, OTHER_ACCOUNT, REGION, export, bundles, READER)
    report = apply_import(runtime, plan, export, chosen)
    assert ("component", "cache", "created") in [(e.kind, e.name, e.outcome) for e in report.created]
    first = proton.get_component(name="cache")["component"]
    second = other_account_proton.get_component(name="cache")["component"]
    assert second["arn"].split(":")[4] == OTHER_ACCOUNT
    for member in ("environmentName", "deploymentStatus"):
        assert second[member] == first[member]
    assert _snapshot(cfn) == before


def test_too_much_in_all_is_refused_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exported, "MAX_TOTAL_BYTES", 40)
    for name in ("a", "b"):
        (tmp_path / f"{name}.json").write_text('{"environments": [], "nextToken": "0123"}')
    with pytest.raises(ExportProblem, match=f"^{tmp_path}: its JSON files hold more than 40 bytes$"):
        read_export(tmp_path)
