"""load_bundle on well-formed bundles and on layout, manifest, schema and size errors."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import yaml

from baryon.bundles import BundleError, BundleInfo, Limits, load_bundle
from tests.bundles.bundlekit import (
    CFN_MANIFEST,
    CFN_TEMPLATE,
    CODEBUILD_MANIFEST,
    CUSTOMER_MANAGED_SCHEMA,
    ENV_SCHEMA,
    SERVICE_SCHEMA,
    TF_NAMED_MANIFEST,
    TF_STAR_MANIFEST,
    bundle,
    cfn_environment,
    manifest_entry,
    service,
)


def rejected(archive: bytes, **options: Any) -> str:
    options.setdefault("kind", "ENVIRONMENT")
    with pytest.raises(BundleError) as caught:
        load_bundle(archive, **options)
    return str(caught.value)


def env_with_manifest(manifest: str, **files: str | bytes) -> bytes:
    return bundle({"schema/schema.yaml": ENV_SCHEMA, "infrastructure/manifest.yaml": manifest, **files})


def env_with_schema(schema: str) -> bytes:
    return bundle(cfn_environment(**{"schema/schema.yaml": schema}))


# --- well-formed bundles ---------------------------------------------------------------------------


def test_cloudformation_environment_at_archive_root() -> None:
    info = load_bundle(bundle(cfn_environment()), kind="ENVIRONMENT")

    assert isinstance(info, BundleInfo)
    assert info.schema_text == ENV_SCHEMA
    assert info.schema == yaml.safe_load(ENV_SCHEMA)
    assert info.parts == {
        "infrastructure": {
            "rendering_engine": "jinja",
            "template_language": "cloudformation",
            "files": ["cloudformation.yaml"],
        }
    }
    assert info.files == {
        "schema/schema.yaml": ENV_SCHEMA.encode(),
        "infrastructure/manifest.yaml": CFN_MANIFEST.encode(),
        "infrastructure/cloudformation.yaml": CFN_TEMPLATE.encode(),
    }


def test_wrapping_folder_gives_the_same_bundle_as_the_root_layout() -> None:
    plain = load_bundle(bundle(cfn_environment()), kind="ENVIRONMENT")
    wrapped = load_bundle(
        bundle(cfn_environment(), prefix="environment/", dirs=["", "schema", "infrastructure"]),
        kind="ENVIRONMENT",
    )
    assert wrapped == plain


def test_dot_slash_member_names_are_normalised() -> None:
    info = load_bundle(bundle(cfn_environment(), prefix="./"), kind="ENVIRONMENT")
    assert sorted(info.files) == [
        "infrastructure/cloudformation.yaml",
        "infrastructure/manifest.yaml",
        "schema/schema.yaml",
    ]


def test_macos_junk_is_ignored_and_other_files_are_kept() -> None:
    junk: dict[str, str | bytes] = {
        "__MACOSX/schema/._schema.yaml": b"\x00\x05\x16\x07",
        "infrastructure/.DS_Store": b"\x00\x00\x00\x01Bud1",
        "infrastructure/._cloudformation.yaml": b"\x00\x05\x16\x07\xff",
        "README.md": "# my template\n",
    }
    files = cfn_environment(**junk)
    info = load_bundle(bundle(files), kind="ENVIRONMENT")
    assert sorted(info.files) == [
        "README.md",
        "infrastructure/cloudformation.yaml",
        "infrastructure/manifest.yaml",
        "schema/schema.yaml",
    ]


def test_entries_outside_the_wrapping_folder_are_not_part_of_the_bundle() -> None:
    archive = bundle({**{f"env/{k}": v for k, v in cfn_environment().items()}, "notes.txt": "x"})
    info = load_bundle(archive, kind="ENVIRONMENT")
    assert "notes.txt" not in info.files
    assert "schema/schema.yaml" in info.files


def test_terraform_environment_with_wildcard_lists_every_tf_file_in_the_folder() -> None:
    archive = env_with_manifest(
        TF_STAR_MANIFEST,
        **{
            "infrastructure/main.tf": 'resource "aws_vpc" "vpc" {}\n',
            "infrastructure/outputs.tf": 'output "vpc_id" { value = aws_vpc.vpc.id }\n',
            "infrastructure/README.md": "not terraform",
            "infrastructure/modules/net.tf": "# in a subfolder, not listed\n",
        },
    )
    info = load_bundle(archive, kind="ENVIRONMENT")
    assert info.parts == {
        "infrastructure": {
            "rendering_engine": "hcl",
            "template_language": "terraform",
            "files": ["main.tf", "outputs.tf"],
        }
    }
    assert info.files["infrastructure/modules/net.tf"] == b"# in a subfolder, not listed\n"


def test_terraform_environment_with_a_named_file() -> None:
    archive = env_with_manifest(
        TF_NAMED_MANIFEST,
        **{"infrastructure/main.tf": "# main\n", "infrastructure/extra.tf": "# extra\n"},
    )
    info = load_bundle(archive, kind="ENVIRONMENT")
    assert info.parts["infrastructure"]["files"] == ["main.tf"]


def test_codebuild_environment_keeps_settings_and_binary_files() -> None:
    binary = bytes(range(256)) * 4
    archive = env_with_manifest(CODEBUILD_MANIFEST, **{"infrastructure/bin/tool": binary})
    info = load_bundle(archive, kind="ENVIRONMENT")
    part = info.parts["infrastructure"]
    assert part["rendering_engine"] == "codebuild"
    assert part["files"] == []
    assert part["settings"] == {
        "image": "aws/codebuild/amazonlinux2-x86_64-standard:4.0",
        "runtimes": {"nodejs": 16},
        "provision": ["npm install", "npm run build", "npm run cdk deploy -- --require-approval never"],
        "deprovision": ["npm run cdk destroy -- --force"],
        "env": {"variables": {"STAGE": "dev"}},
        "input_type": "JSON",
    }
    assert info.files["infrastructure/bin/tool"] == binary


def test_codebuild_input_type_hcl_and_project_properties() -> None:
    manifest = manifest_entry(
        """
rendering_engine: codebuild
settings:
  provision: ["terraform apply -auto-approve"]
  input_type: HCL
  project_properties:
    VpcConfig:
      VpcId: "{{ environment.inputs.vpc }}"
"""
    )
    settings = load_bundle(env_with_manifest(manifest), kind="ENVIRONMENT").parts["infrastructure"][
        "settings"
    ]
    assert settings["input_type"] == "HCL"
    assert settings["project_properties"] == {"VpcConfig": {"VpcId": "{{ environment.inputs.vpc }}"}}


def test_customer_managed_environment_has_only_a_schema() -> None:
    archive = bundle({"schema/schema.yaml": CUSTOMER_MANAGED_SCHEMA})
    info = load_bundle(archive, kind="ENVIRONMENT", customer_managed=True)
    assert info.parts == {}
    assert info.files == {"schema/schema.yaml": CUSTOMER_MANAGED_SCHEMA.encode()}
    assert info.schema["schema"]["environment_input_type"] == "EnvironmentOutputs"


def test_service_with_pipeline() -> None:
    info = load_bundle(bundle(service()), kind="SERVICE", has_pipeline=True)
    expected = {
        "rendering_engine": "jinja",
        "template_language": "cloudformation",
        "files": ["cloudformation.yaml"],
    }
    assert info.parts == {"instance_infrastructure": expected, "pipeline_infrastructure": expected}
    assert info.schema_text == SERVICE_SCHEMA


def test_service_without_pipeline() -> None:
    info = load_bundle(bundle(service(pipeline=False)), kind="SERVICE", has_pipeline=False)
    assert list(info.parts) == ["instance_infrastructure"]


def test_schema_byte_order_mark_is_dropped_from_schema_text() -> None:
    info = load_bundle(env_with_schema("\ufeff" + ENV_SCHEMA), kind="ENVIRONMENT")
    assert info.schema_text == ENV_SCHEMA


@pytest.mark.parametrize(
    ("archive", "options"),
    [
        (bundle(cfn_environment()), {"kind": "ENVIRONMENT"}),
        (env_with_manifest(CODEBUILD_MANIFEST), {"kind": "ENVIRONMENT"}),
        (
            bundle({"schema/schema.yaml": CUSTOMER_MANAGED_SCHEMA}),
            {"kind": "ENVIRONMENT", "customer_managed": True},
        ),
        (bundle(service()), {"kind": "SERVICE", "has_pipeline": True}),
    ],
)
def test_schema_and_parts_are_plain_json(archive: bytes, options: dict[str, Any]) -> None:
    info = load_bundle(archive, **options)
    document = {"schema": info.schema, "parts": info.parts}
    assert orjson.loads(orjson.dumps(document)) == document


def test_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="kind must be one of ENVIRONMENT, SERVICE"):
        load_bundle(bundle(cfn_environment()), kind="COMPONENT")


# --- layout ----------------------------------------------------------------------------------------


def test_missing_schema_lists_the_top_level() -> None:
    archive = bundle({"infrastructure/manifest.yaml": CFN_MANIFEST, "notes.txt": "x"})
    assert rejected(archive) == (
        "schema/schema.yaml not found: the archive must hold schema/schema.yaml at its root or inside a "
        "single top-level folder (top level of the archive: infrastructure/, notes.txt)"
    )


def test_schema_two_folders_down_is_found() -> None:
    archive = bundle(cfn_environment(), prefix="my-env/v1/")
    info = load_bundle(archive, kind="ENVIRONMENT")
    assert "infrastructure/manifest.yaml" in info.files


def test_two_bundles_two_folders_down_or_deeper_are_not_found() -> None:
    two = bundle(
        {
            **{f"a/v1/{k}": v for k, v in cfn_environment().items()},
            **{f"a/v2/{k}": v for k, v in cfn_environment().items()},
        }
    )
    assert rejected(two).startswith("schema/schema.yaml not found:")
    deeper = bundle(cfn_environment(), prefix="x/my-env/v1/")
    assert rejected(deeper).startswith("schema/schema.yaml not found:")


def test_misnamed_schema_gets_a_hint() -> None:
    archive = bundle({"schema/schema.yml": ENV_SCHEMA})
    assert rejected(archive).endswith("; found schema/schema.yml, which must be named schema.yaml")


def test_empty_archive() -> None:
    assert rejected(bundle({})) == (
        "schema/schema.yaml not found: the archive must hold schema/schema.yaml at its root or inside a "
        "single top-level folder (the archive is empty)"
    )


def test_two_wrapped_bundles_are_ambiguous() -> None:
    files = {f"{top}/{k}": v for top in ("v1", "v2") for k, v in cfn_environment().items()}
    assert rejected(bundle(files)) == (
        "schema/schema.yaml found in more than one top-level folder (v1/, v2/); "
        "a template bundle archive holds exactly one bundle"
    )


def test_environment_needs_infrastructure_manifest() -> None:
    archive = bundle({"schema/schema.yaml": ENV_SCHEMA, "infrastructure/cloudformation.yaml": CFN_TEMPLATE})
    assert rejected(archive) == (
        "infrastructure/manifest.yaml not found: an environment template bundle needs "
        "infrastructure/manifest.yaml beside schema/schema.yaml"
    )


def test_service_bundle_registered_as_environment_gets_a_hint() -> None:
    assert rejected(bundle(service())) == (
        "infrastructure/manifest.yaml not found: an environment template bundle needs "
        "infrastructure/manifest.yaml beside schema/schema.yaml; instance_infrastructure/ and "
        "pipeline_infrastructure/ belong to service template bundles"
    )


def test_customer_managed_environment_refuses_infrastructure_folder() -> None:
    archive = bundle({"schema/schema.yaml": CUSTOMER_MANAGED_SCHEMA}, dirs=["infrastructure"])
    assert rejected(archive, customer_managed=True) == (
        "infrastructure/ is not allowed in a customer-managed environment template bundle; "
        "such a bundle holds only schema/schema.yaml"
    )


def test_customer_managed_environment_refuses_other_top_level_files() -> None:
    archive = bundle({"schema/schema.yaml": CUSTOMER_MANAGED_SCHEMA, "README.md": "hi"})
    assert rejected(archive, customer_managed=True) == (
        "README.md is not allowed in a customer-managed environment template bundle; "
        "such a bundle holds only schema/schema.yaml"
    )


def test_service_needs_instance_manifest() -> None:
    files = service()
    del files["instance_infrastructure/manifest.yaml"]
    assert rejected(bundle(files), kind="SERVICE", has_pipeline=True) == (
        "instance_infrastructure/manifest.yaml not found: a service template bundle needs "
        "instance_infrastructure/manifest.yaml beside schema/schema.yaml"
    )


def test_service_with_pipeline_needs_pipeline_manifest() -> None:
    files = service()
    del files["pipeline_infrastructure/manifest.yaml"]
    assert rejected(bundle(files), kind="SERVICE", has_pipeline=True) == (
        "pipeline_infrastructure/manifest.yaml not found: this service template has a pipeline, so its "
        "bundle needs pipeline_infrastructure/manifest.yaml (a template without a pipeline is created "
        "with pipelineProvisioning CUSTOMER_MANAGED)"
    )


def test_service_without_pipeline_refuses_pipeline_folder() -> None:
    files = service(pipeline=False)
    files["pipeline_infrastructure/manifest.yaml"] = CFN_MANIFEST
    assert rejected(bundle(files), kind="SERVICE", has_pipeline=False) == (
        "pipeline_infrastructure/ is not allowed: this service template has no pipeline "
        "(pipelineProvisioning is CUSTOMER_MANAGED)"
    )


def test_service_without_pipeline_refuses_even_an_empty_pipeline_folder() -> None:
    archive = bundle(service(pipeline=False), dirs=["pipeline_infrastructure"])
    assert rejected(archive, kind="SERVICE").startswith("pipeline_infrastructure/ is not allowed:")


def test_legacy_pipeline_folder() -> None:
    files = service()
    files["pipeline/manifest.yaml"] = files.pop("pipeline_infrastructure/manifest.yaml")
    assert rejected(bundle(files), kind="SERVICE", has_pipeline=True) == (
        "pipeline/ is the legacy folder name for a service pipeline; use pipeline_infrastructure/ "
        "(and instance_infrastructure/ for service instances)"
    )


def test_legacy_service_infrastructure_folder() -> None:
    files = {
        "schema/schema.yaml": SERVICE_SCHEMA,
        "infrastructure/manifest.yaml": CFN_MANIFEST,
        "infrastructure/cloudformation.yaml": CFN_TEMPLATE,
        "pipeline/manifest.yaml": CFN_MANIFEST,
    }
    assert rejected(bundle(files), kind="SERVICE", has_pipeline=True).startswith(
        "pipeline/ is the legacy folder name for a service pipeline; use pipeline_infrastructure/"
    )
    del files["pipeline/manifest.yaml"]
    assert rejected(bundle(files), kind="SERVICE", has_pipeline=True) == (
        "infrastructure/ is not used in a service template bundle (it is the legacy folder name for "
        "service instances); use instance_infrastructure/ for service instances and "
        "pipeline_infrastructure/ for the pipeline"
    )


# --- manifest --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (
            "templates: []\n",
            "infrastructure/manifest.yaml: missing the top-level 'infrastructure' key; a manifest reads "
            "infrastructure: {templates: [<one template entry>]}",
        ),
        (
            "infrastructure: [a]\n",
            "infrastructure/manifest.yaml: 'infrastructure' must be a mapping holding a 'templates' list, "
            "not a list",
        ),
        (
            "infrastructure:\n  template: []\n",
            "infrastructure/manifest.yaml: 'infrastructure.templates' is missing; it must list exactly one "
            "template",
        ),
        (
            "infrastructure:\n  templates: {file: x}\n",
            "infrastructure/manifest.yaml: 'infrastructure.templates' must be a list holding exactly one "
            "template entry, not a mapping",
        ),
        (
            "infrastructure:\n  templates: []\n",
            "infrastructure/manifest.yaml: 'infrastructure.templates' has 0 entries; exactly one is required",
        ),
        (
            CFN_MANIFEST + "    - file: other.yaml\n      rendering_engine: jinja\n",
            "infrastructure/manifest.yaml: 'infrastructure.templates' has 2 entries; exactly one is required",
        ),
        (
            "infrastructure:\n  templates:\n    - cloudformation.yaml\n",
            "infrastructure/manifest.yaml: the entry of 'infrastructure.templates' must be a mapping, "
            "not the string 'cloudformation.yaml'",
        ),
        (
            manifest_entry("file: cloudformation.yaml\nengine: jinja\ntemplate_language: cloudformation"),
            "infrastructure/manifest.yaml: 'engine' is the legacy name of this key; write 'rendering_engine' "
            "instead (one of jinja, hcl, codebuild)",
        ),
        (
            manifest_entry("file: cloudformation.yaml\ntemplate_language: cloudformation"),
            "infrastructure/manifest.yaml: 'rendering_engine' is required; "
            "valid values: jinja, hcl, codebuild",
        ),
        (
            manifest_entry("file: cloudformation.yaml\nrendering_engine: mustache"),
            "infrastructure/manifest.yaml: unknown rendering_engine 'mustache'; valid values: jinja, hcl, "
            "codebuild",
        ),
        (
            manifest_entry("file: cloudformation.yaml\nrendering_engine: jinja"),
            "infrastructure/manifest.yaml: rendering_engine jinja needs template_language: cloudformation "
            "(it is missing)",
        ),
        (
            manifest_entry(
                "file: cloudformation.yaml\nrendering_engine: jinja\ntemplate_language: terraform"
            ),
            "infrastructure/manifest.yaml: rendering_engine jinja needs template_language: cloudformation "
            "(found 'terraform')",
        ),
        (
            manifest_entry("rendering_engine: jinja\ntemplate_language: cloudformation"),
            "infrastructure/manifest.yaml: 'file' is required with rendering_engine jinja: name the "
            "CloudFormation template file in infrastructure/",
        ),
        (
            manifest_entry("file: missing.yaml\nrendering_engine: jinja\ntemplate_language: cloudformation"),
            "infrastructure/manifest.yaml: file 'missing.yaml' not found in infrastructure/",
        ),
        (
            manifest_entry('file: "*"\nrendering_engine: jinja\ntemplate_language: cloudformation'),
            "infrastructure/manifest.yaml: file '*' is only allowed with rendering_engine hcl; "
            "rendering_engine jinja needs the name of exactly one CloudFormation template file",
        ),
        (
            manifest_entry(
                "file: ../schema/schema.yaml\nrendering_engine: jinja\ntemplate_language: cloudformation"
            ),
            "infrastructure/manifest.yaml: file '../schema/schema.yaml' must be the name of a file directly "
            "inside infrastructure/, without folders",
        ),
        (
            manifest_entry("file: [a, b]\nrendering_engine: jinja\ntemplate_language: cloudformation"),
            "infrastructure/manifest.yaml: 'file' must be a file name, not a list",
        ),
        (
            manifest_entry("file: cloudformation.yaml\nrendering_engine: hcl\ntemplate_language: terraform"),
            "infrastructure/manifest.yaml: file 'cloudformation.yaml' must be a Terraform file "
            "ending in .tf, or '*' for every .tf file in infrastructure/",
        ),
        (
            manifest_entry('file: "*"\nrendering_engine: hcl\ntemplate_language: terraform'),
            "infrastructure/manifest.yaml: file '*' matches no .tf file in infrastructure/",
        ),
        (
            manifest_entry("rendering_engine: hcl\ntemplate_language: terraform"),
            "infrastructure/manifest.yaml: 'file' is required with rendering_engine hcl: name a .tf file in "
            "infrastructure/, or write '*' for every .tf file there",
        ),
        (
            manifest_entry("rendering_engine: hcl\nfile: main.tf\ntemplate_language: cloudformation"),
            "infrastructure/manifest.yaml: rendering_engine hcl needs template_language: terraform "
            "(found 'cloudformation')",
        ),
    ],
)
def test_manifest_errors(manifest: str, message: str) -> None:
    archive = env_with_manifest(manifest, **{"infrastructure/cloudformation.yaml": CFN_TEMPLATE})
    assert rejected(archive) == message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "rendering_engine: codebuild",
            "infrastructure/manifest.yaml: rendering_engine codebuild needs a 'settings' mapping with at "
            "least a 'provision' list of commands, not nothing (null)",
        ),
        (
            "rendering_engine: codebuild\nfile: build.sh\nsettings:\n  provision: [./build.sh]",
            "infrastructure/manifest.yaml: 'file' is not used with rendering_engine codebuild; the commands "
            "under settings.provision and settings.deprovision do the work",
        ),
        (
            "rendering_engine: codebuild\nsettings:\n  image: x",
            "infrastructure/manifest.yaml: settings.provision must be a non-empty list of shell commands "
            "(strings), not nothing (null)",
        ),
        (
            "rendering_engine: codebuild\nsettings:\n  provision: []",
            "infrastructure/manifest.yaml: settings.provision must be a non-empty list of shell commands "
            "(strings), not a list",
        ),
        (
            "rendering_engine: codebuild\nsettings:\n  provision: make deploy",
            "infrastructure/manifest.yaml: settings.provision must be a non-empty list of shell commands "
            "(strings), not the string 'make deploy'",
        ),
        (
            "rendering_engine: codebuild\nsettings:\n  provision:\n    - ls\n    - echo result: done",
            "infrastructure/manifest.yaml: settings.provision[1] must be a string holding one shell command, "
            "not a mapping (quote commands that contain ': ')",
        ),
        (
            "rendering_engine: codebuild\nsettings:\n  provision: [a]\n  deprovision: b",
            "infrastructure/manifest.yaml: settings.deprovision must be a list of shell commands (strings), "
            "not the string 'b'",
        ),
        (
            "rendering_engine: codebuild\nsettings:\n  provision: [a]\n  image: [x]",
            "infrastructure/manifest.yaml: settings.image must be a string naming a build image, not a list",
        ),
        (
            "rendering_engine: codebuild\nsettings:\n  provision: [a]\n  runtimes: [nodejs]",
            "infrastructure/manifest.yaml: settings.runtimes must be a mapping of runtime names to versions, "
            "not a list",
        ),
        (
            "rendering_engine: codebuild\nsettings:\n  provision: [a]\n  env:\n    variables: [A=1]",
            "infrastructure/manifest.yaml: settings.env.variables must be a mapping of names to values, "
            "not a list",
        ),
        (
            "rendering_engine: codebuild\nsettings:\n  provision: [a]\n"
            "  env:\n    variables:\n      A: {b: c}",
            "infrastructure/manifest.yaml: settings.env.variables.A must be a single value, not a mapping",
        ),
        (
            "rendering_engine: codebuild\nsettings:\n  provision: [a]\n  input_type: YAML",
            "infrastructure/manifest.yaml: settings.input_type must be JSON or HCL, not 'YAML'",
        ),
        (
            "rendering_engine: codebuild\nsettings:\n  provision: [a]\n  project_properties: 5",
            "infrastructure/manifest.yaml: settings.project_properties must be a mapping of CodeBuild "
            "project properties, not the number 5",
        ),
    ],
)
def test_codebuild_manifest_errors(body: str, message: str) -> None:
    assert rejected(env_with_manifest(manifest_entry(body))) == message


def test_manifest_errors_name_the_service_part() -> None:
    files = service()
    files["pipeline_infrastructure/manifest.yaml"] = manifest_entry("rendering_engine: ansible")
    assert rejected(bundle(files), kind="SERVICE", has_pipeline=True) == (
        "pipeline_infrastructure/manifest.yaml: unknown rendering_engine 'ansible'; "
        "valid values: jinja, hcl, codebuild"
    )


def test_referenced_template_must_be_utf8() -> None:
    archive = bundle(cfn_environment(**{"infrastructure/cloudformation.yaml": b"Resources: \xff\n"}))
    assert (
        rejected(archive)
        == "infrastructure/cloudformation.yaml is not UTF-8 text: invalid byte 0xff at offset 11"
    )


def test_manifest_yaml_syntax_error_names_line_and_column() -> None:
    manifest = "infrastructure:\n  templates:\n    - file: a.yaml\n     rendering_engine: jinja\n"
    assert rejected(env_with_manifest(manifest)) == (
        "infrastructure/manifest.yaml: line 4, column 6: expected <block end>, but found "
        "'<block mapping start>' (while parsing a block collection at line 3, column 5)"
    )


def test_empty_manifest() -> None:
    assert (
        rejected(env_with_manifest("")) == "infrastructure/manifest.yaml is empty; it must be a YAML mapping"
    )


# --- schema ----------------------------------------------------------------------------------------


def test_schema_yaml_syntax_error_names_line_and_column() -> None:
    schema = 'schema:\n  format:\n    openapi: "3.0.0"\n  types: a: b\n'
    assert rejected(env_with_schema(schema)) == (
        "schema/schema.yaml: line 4, column 11: mapping values are not allowed here"
    )


def test_schema_yaml_error_with_context() -> None:
    schema = 'schema:\n  format:\n    openapi: "3.0.0\n'
    message = rejected(env_with_schema(schema))
    assert message == (
        "schema/schema.yaml: line 4, column 1: found unexpected end of stream "
        "(while scanning a quoted scalar at line 3, column 14)"
    )


def test_schema_with_a_control_character() -> None:
    assert rejected(env_with_schema("schema:\n  a: \x01\n")) == (
        "schema/schema.yaml: line 2, column 6: unacceptable character #x0001 "
        "(special characters are not allowed)"
    )


def test_schema_not_utf8() -> None:
    archive = bundle(cfn_environment(**{"schema/schema.yaml": "schema: é\n".encode("latin-1")}))
    assert rejected(archive) == "schema/schema.yaml is not UTF-8 text: invalid byte 0xe9 at offset 8"


def test_schema_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 12)]
    schema = ENV_SCHEMA + "x-bomb:\n" + "".join(f"  {line}\n" for line in lines)
    assert rejected(env_with_schema(schema)) == (
        "schema/schema.yaml is too large: it expands to more than 200000 values "
        "(YAML aliases and merge keys count as copies)"
    )


def test_schema_recursive_alias_is_refused() -> None:
    schema = ENV_SCHEMA + "x-loop: &loop\n  - *loop\n"
    assert rejected(env_with_schema(schema)) == (
        "schema/schema.yaml is nested more than 64 levels deep (or a YAML alias refers to itself)"
    )


def test_timestamps_stay_strings() -> None:
    schema = env_type("type: object\nproperties:\n  since:\n    type: string\n    default: 2024-01-31")
    info = load_bundle(env_with_schema(schema), kind="ENVIRONMENT")
    assert info.schema["schema"]["types"]["EnvIn"]["properties"]["since"]["default"] == "2024-01-31"


@pytest.mark.parametrize("tag", ["binary", "set", "timestamp"])
def test_yaml_tags_without_a_json_form_are_refused(tag: str) -> None:
    schema = ENV_SCHEMA + f"x-extra: !!{tag} 2024-01-31\n"
    line = ENV_SCHEMA.count("\n") + 1
    assert rejected(env_with_schema(schema)) == (
        f"schema/schema.yaml: line {line}, column 10: the YAML tag !!{tag} is not supported"
    )


def test_non_string_keys_are_refused_in_manifests_too() -> None:
    manifest = CODEBUILD_MANIFEST.replace("STAGE: dev", "1: dev")
    assert rejected(env_with_manifest(manifest)) == (
        "infrastructure/manifest.yaml: line 16, column 13: mapping key 1 is not a string; quote it"
    )


def test_benign_aliases_are_accepted() -> None:
    schema = ENV_SCHEMA + "x-shared: &shared {type: string}\nx-use: *shared\n"
    info = load_bundle(env_with_schema(schema), kind="ENVIRONMENT")
    assert info.schema["x-use"] == {"type": "string"}


ENV_TYPE = """\
schema:
  format:
    openapi: "3.0.0"
  environment_input_type: "EnvIn"
  types:
    EnvIn:
{body}
"""


def env_type(body: str) -> str:
    return ENV_TYPE.format(body="\n".join("      " + line for line in body.strip("\n").splitlines()))


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ("[1, 2]\n", "schema/schema.yaml must be a YAML mapping at the top level, not a list"),
        ("format: {openapi: 3.0.0}\n", "schema/schema.yaml: missing the top-level 'schema' key"),
        ("schema: 5\n", "schema/schema.yaml: 'schema' must be a mapping, not the number 5"),
        (
            "schema:\n  environment_input_type: X\n",
            'schema/schema.yaml: schema.format.openapi must be "3.0.0" (it is missing)',
        ),
        (
            "schema:\n  format:\n    openapi: 3.1.0\n",
            "schema/schema.yaml: schema.format.openapi must be \"3.0.0\" (found '3.1.0')",
        ),
        (
            "schema:\n  format:\n    openapi: 3.0\n",
            'schema/schema.yaml: schema.format.openapi must be "3.0.0" (found the number 3.0)',
        ),
        (
            'schema:\n  format:\n    openapi: "3.0.0"\n  types: {}\n',
            "schema/schema.yaml: schema.environment_input_type is required in an environment template "
            "schema; it names the type under schema.types that holds the environment's inputs",
        ),
        (
            'schema:\n  format:\n    openapi: "3.0.0"\n  environment_input_type: [EnvIn]\n',
            "schema/schema.yaml: schema.environment_input_type must be the name of a type under "
            "schema.types, not a list",
        ),
        (
            'schema:\n  format:\n    openapi: "3.0.0"\n'
            "  environment_input_type: E\n  service_input_type: S\n",
            "schema/schema.yaml: schema.service_input_type is not allowed in an environment template "
            "schema; it declares only environment_input_type",
        ),
        (
            'schema:\n  format:\n    openapi: "3.0.0"\n  environment_input_type: EnvIn\n',
            "schema/schema.yaml: schema.types must be a mapping of type names to type definitions "
            "(it is missing)",
        ),
        (
            'schema:\n  format:\n    openapi: "3.0.0"\n'
            "  environment_input_type: EnvIn\n  types:\n    Other: {}\n",
            "schema/schema.yaml: schema.environment_input_type names 'EnvIn', but schema.types has no type "
            "'EnvIn' (types defined: Other)",
        ),
        (
            env_type("properties: {}"),
            "schema/schema.yaml: type 'EnvIn' (schema.environment_input_type) must have type: object "
            "(it is missing)",
        ),
        (
            env_type("type: string"),
            "schema/schema.yaml: type 'EnvIn' (schema.environment_input_type) must have type: object "
            "(found 'string')",
        ),
        (
            env_type("type: object"),
            "schema/schema.yaml: type 'EnvIn' (schema.environment_input_type) needs a 'properties' mapping "
            "(it is missing); write properties: {} for a type without inputs",
        ),
        (
            env_type("type: object\nproperties:"),
            "schema/schema.yaml: type 'EnvIn' (schema.environment_input_type) needs a 'properties' mapping "
            "(not nothing (null)); write properties: {} for a type without inputs",
        ),
        (
            env_type("type: object\nproperties:\n  port:\n    type: int"),
            "schema/schema.yaml: property 'port' of type 'EnvIn' has type 'int'; valid types: string, "
            "number, integer, boolean, array, object",
        ),
        (
            env_type("type: object\nproperties:\n  port: number"),
            "schema/schema.yaml: property 'port' of type 'EnvIn' must be a mapping (type, description, "
            "default, ...), not the string 'number'",
        ),
        (
            env_type("type: object\nproperties:\n  on:\n    type: boolean"),
            "schema/schema.yaml: line 9, column 9: mapping key true is not a string; quote it",
        ),
        (
            env_type("type: object\nproperties:\n  a: {type: string}\nrequired: a"),
            "schema/schema.yaml: type 'EnvIn' (schema.environment_input_type): 'required' must be a list of "
            "property names, not the string 'a'",
        ),
        (
            env_type("type: object\nproperties:\n  a: {type: string}\nrequired: [a, b]"),
            "schema/schema.yaml: type 'EnvIn' (schema.environment_input_type) lists 'b' under required, but "
            "has no property 'b'",
        ),
    ],
)
def test_environment_schema_errors(schema: str, message: str) -> None:
    assert rejected(env_with_schema(schema)) == message


def test_empty_properties_and_untyped_properties_are_accepted() -> None:
    load_bundle(env_with_schema(env_type("type: object\nproperties: {}")), kind="ENVIRONMENT")
    info = load_bundle(
        env_with_schema(env_type("type: object\nproperties:\n  free: {description: anything}")),
        kind="ENVIRONMENT",
    )
    assert info.schema["schema"]["types"]["EnvIn"]["properties"] == {"free": {"description": "anything"}}


def test_customer_managed_schema_properties_must_be_strings() -> None:
    schema = env_type("type: object\nproperties:\n  VpcId: {type: string}\n  Count: {type: integer}")
    archive = bundle({"schema/schema.yaml": schema})
    assert rejected(archive, customer_managed=True) == (
        "schema/schema.yaml: property 'Count' of type 'EnvIn' must be type: string in a customer-managed "
        "environment template, because its values are the environment's outputs, which are strings "
        "(found 'integer')"
    )
    untyped = bundle({"schema/schema.yaml": env_type("type: object\nproperties:\n  VpcId: {}")})
    assert rejected(untyped, customer_managed=True).endswith("(its type is missing)")


def test_customer_managed_schema_declares_only_the_environment_type() -> None:
    schema = CUSTOMER_MANAGED_SCHEMA.replace("  types:", "  pipeline_input_type: P\n  types:")
    assert rejected(bundle({"schema/schema.yaml": schema}), customer_managed=True) == (
        "schema/schema.yaml: schema.pipeline_input_type is not allowed in an environment template schema; "
        "a customer-managed environment template declares only environment_input_type"
    )


def test_customer_managed_missing_type_talks_about_outputs() -> None:
    schema = 'schema:\n  format:\n    openapi: "3.0.0"\n  types: {}\n'
    assert rejected(bundle({"schema/schema.yaml": schema}), customer_managed=True) == (
        "schema/schema.yaml: schema.environment_input_type is required in an environment template schema; "
        "it names the type under schema.types that holds the environment's outputs"
    )


def service_files(schema: str, *, pipeline: bool) -> bytes:
    files = service(pipeline=pipeline)
    files["schema/schema.yaml"] = schema
    return bundle(files)


def test_service_schema_needs_service_input_type() -> None:
    schema = 'schema:\n  format:\n    openapi: "3.0.0"\n  pipeline_input_type: P\n  types: {}\n'
    assert rejected(service_files(schema, pipeline=True), kind="SERVICE", has_pipeline=True) == (
        "schema/schema.yaml: schema.service_input_type is required in a service template schema; it names "
        "the type under schema.types that holds each service instance's inputs"
    )


def test_service_schema_with_pipeline_needs_pipeline_input_type() -> None:
    schema = SERVICE_SCHEMA.replace('  pipeline_input_type: "PipelineInput"\n', "")
    assert rejected(service_files(schema, pipeline=True), kind="SERVICE", has_pipeline=True) == (
        "schema/schema.yaml: schema.pipeline_input_type is required because this service template has a "
        "pipeline; it names the type under schema.types that holds the pipeline's inputs"
    )


def test_service_schema_without_pipeline_refuses_pipeline_input_type() -> None:
    assert rejected(service_files(SERVICE_SCHEMA, pipeline=False), kind="SERVICE", has_pipeline=False) == (
        "schema/schema.yaml: schema.pipeline_input_type is not allowed: this service template has no "
        "pipeline (pipelineProvisioning is CUSTOMER_MANAGED)"
    )


def test_service_schema_refuses_environment_input_type() -> None:
    schema = SERVICE_SCHEMA.replace("  types:", "  environment_input_type: E\n  types:")
    assert rejected(service_files(schema, pipeline=True), kind="SERVICE", has_pipeline=True) == (
        "schema/schema.yaml: schema.environment_input_type is not allowed in a service template schema; "
        "use service_input_type for service instance inputs"
    )


def test_service_pipeline_type_is_checked_too() -> None:
    schema = SERVICE_SCHEMA.replace("      properties: {}\n", "      properties: []\n")
    assert rejected(service_files(schema, pipeline=True), kind="SERVICE", has_pipeline=True) == (
        "schema/schema.yaml: type 'PipelineInput' (schema.pipeline_input_type) needs a 'properties' "
        "mapping (not a list); write properties: {} for a type without inputs"
    )


# --- sizes and counts ------------------------------------------------------------------------------


def test_schema_over_its_limit() -> None:
    schema = ENV_SCHEMA + "#" * (50 * 1024 - len(ENV_SCHEMA) + 1)
    assert rejected(env_with_schema(schema)) == (
        "schema/schema.yaml is larger than 50 KB (51200 bytes), the limit for the schema file"
    )


def test_schema_exactly_at_its_limit_is_accepted() -> None:
    schema = ENV_SCHEMA + "#" * (50 * 1024 - len(ENV_SCHEMA) - 1) + "\n"
    assert len(schema) == 50 * 1024
    assert load_bundle(env_with_schema(schema), kind="ENVIRONMENT").schema_text == schema


def test_manifest_over_its_limit() -> None:
    manifest = CFN_MANIFEST + "#" * (50 * 1024)
    archive = env_with_manifest(manifest, **{"infrastructure/cloudformation.yaml": CFN_TEMPLATE})
    assert rejected(archive) == (
        "infrastructure/manifest.yaml is larger than 50 KB (51200 bytes), the limit for a manifest file"
    )


def test_other_file_over_its_limit_in_a_wrapped_bundle() -> None:
    files = cfn_environment(**{"infrastructure/cloudformation.yaml": "#" * (200 * 1024 + 1)})
    assert rejected(bundle(files, prefix="env/")) == (
        "infrastructure/cloudformation.yaml is larger than 200 KB (204800 bytes), the limit for a file in "
        "a template bundle"
    )


def test_file_far_over_every_limit_is_not_kept_in_memory() -> None:
    files = cfn_environment(**{"infrastructure/big.bin": bytes(3 * 1024 * 1024)})
    assert rejected(bundle(files)) == (
        "infrastructure/big.bin is larger than 200 KB (204800 bytes), "
        "the limit for a file in a template bundle"
    )


def test_a_file_named_manifest_outside_a_part_gets_the_file_limit() -> None:
    files = cfn_environment(**{"docs/manifest.yaml": "#" * (100 * 1024)})
    assert load_bundle(bundle(files), kind="ENVIRONMENT").files["docs/manifest.yaml"] == b"#" * (100 * 1024)


def test_custom_limits_apply() -> None:
    limits = Limits(file_bytes=100)
    assert rejected(bundle(cfn_environment()), limits=limits) == (
        "infrastructure/cloudformation.yaml is larger than 100 bytes, "
        "the limit for a file in a template bundle"
    )


def terraform_files(count: int, part: str = "infrastructure") -> dict[str, str | bytes]:
    return {f"{part}/f{i:02}.tf": f"# {i}\n" for i in range(count)}


def test_ten_terraform_files_are_allowed() -> None:
    archive = env_with_manifest(TF_STAR_MANIFEST, **terraform_files(10))
    assert len(load_bundle(archive, kind="ENVIRONMENT").parts["infrastructure"]["files"]) == 10


def test_eleven_terraform_files_are_too_many() -> None:
    archive = env_with_manifest(TF_STAR_MANIFEST, **terraform_files(11))
    assert rejected(archive) == (
        "The manifests reference 11 template files (infrastructure/: 11), more than 10, "
        "the limit for one bundle"
    )


def test_template_files_are_counted_over_the_whole_bundle() -> None:
    files: dict[str, str | bytes] = {
        "schema/schema.yaml": SERVICE_SCHEMA,
        "instance_infrastructure/manifest.yaml": TF_STAR_MANIFEST,
        "pipeline_infrastructure/manifest.yaml": TF_STAR_MANIFEST,
        **terraform_files(6, "instance_infrastructure"),
        **terraform_files(5, "pipeline_infrastructure"),
    }
    assert rejected(bundle(files), kind="SERVICE", has_pipeline=True) == (
        "The manifests reference 11 template files "
        "(instance_infrastructure/: 6, pipeline_infrastructure/: 5), more than 10, the limit for one bundle"
    )


def test_codebuild_files_do_not_count_as_template_files() -> None:
    extra = {f"infrastructure/src/f{i:02}.ts": "export {}\n" for i in range(30)}
    info = load_bundle(env_with_manifest(CODEBUILD_MANIFEST, **extra), kind="ENVIRONMENT")
    assert len(info.files) == 32
