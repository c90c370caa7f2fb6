"""`baryon template lint DIR` as a real subprocess, as a template author or a CI job runs it: the bundle
checks, a render with the spec or the schema's defaults, cfn-lint with rule, file and line, and the exit
status."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from tests.support import bundles
from tests.support.processes import run

INVALID_QUEUE = """Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: '{{ environment.name }}-queue'
      Colour: '{{ environment.inputs.vpc_cidr }}'
"""


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BARYON_"))}


def _folder(root: Path, files: Mapping[str, str | bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return root


def _environment(tmp_path: Path, template: str) -> Path:
    return _folder(
        tmp_path / "env",
        {
            "schema/schema.yaml": bundles.ENV_SCHEMA,
            "infrastructure/manifest.yaml": bundles.CFN_MANIFEST,
            "infrastructure/cloudformation.yaml": template,
        },
    )


def test_a_clean_environment_template_passes(tmp_path: Path) -> None:
    folder = _environment(tmp_path, bundles.CFN_ENV)
    result = run(["template", "lint", str(folder)], _env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == f"{folder}: no errors, 0 warning(s) (infrastructure/cloudformation.yaml)\n"


def test_errors_name_rule_file_and_line_and_fail(tmp_path: Path) -> None:
    folder = _environment(tmp_path, INVALID_QUEUE)
    result = run(["template", "lint", str(folder)], _env())
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "error: cfn-lint E3002 in infrastructure/cloudformation.yaml line 6: Additional properties are not "
        "allowed ('Colour' was unexpected)",
        f"{folder}: 1 error(s), 0 warning(s) (infrastructure/cloudformation.yaml)",
    ]


def test_warnings_are_printed_and_pass(tmp_path: Path) -> None:
    folder = _environment(tmp_path, bundles.CFN_UNTIDY_ENVIRONMENT)
    result = run(["template", "lint", str(folder)], _env())
    assert result.returncode == 0
    assert (
        "warning: cfn-lint W2001 in infrastructure/cloudformation.yaml line 2: Parameter Unused not used."
        in (result.stdout)
    )


def test_the_spec_is_rendered_and_checked_against_the_schema(tmp_path: Path) -> None:
    folder = _environment(tmp_path, bundles.CFN_ENV)
    spec = tmp_path / "spec.yaml"
    spec.write_text("proton: EnvironmentSpec\nspec:\n  vpc_cidr: 10.9.0.0/16\n")
    shown = run(["template", "lint", str(folder), "--spec", str(spec), "--show"], _env())
    assert shown.returncode == 0, shown.stdout
    assert "      CidrBlock: '10.9.0.0/16'" in shown.stdout.splitlines()
    spec.write_text("proton: EnvironmentSpec\nspec:\n  vpc_cidr: nonsense\n")
    refused = run(["template", "lint", str(folder), "--spec", str(spec)], _env())
    assert refused.returncode == 1
    assert refused.stdout.startswith("error: Invalid spec for environment lint-environment: ")


def test_registration_checks_come_first(tmp_path: Path) -> None:
    folder = _environment(tmp_path, bundles.CFN_ENV)
    (folder / "infrastructure" / "manifest.yaml").unlink()
    result = run(["template", "lint", str(folder)], _env())
    assert result.returncode == 1
    assert result.stdout.startswith("error: ")
    assert "manifest.yaml" in result.stdout.splitlines()[0]


def test_a_service_template_with_outputs_not_known_sets_their_findings_aside(tmp_path: Path) -> None:
    instance = """Resources:
  Subscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: '{{ environment.outputs.TopicArn }}'
      Protocol: email
      Endpoint: team@example.com
"""
    files = bundles.cfn_service_files(bundles.SERVICE_SCHEMA_NO_PIPELINE, instance, None)
    folder = _folder(tmp_path / "svc", files)
    spec = tmp_path / "spec.yaml"
    spec.write_text("proton: ServiceSpec\ninstances:\n  - name: front\n    environment: dev\n")
    result = run(["template", "lint", str(folder), "--spec", str(spec)], _env())
    assert result.returncode == 0, result.stdout
    assert "note: output TopicArn is not known here" in result.stdout
    assert (
        "note: 1 cfn-lint finding(s) on lines holding outputs not known here were set aside" in result.stdout
    )
    outputs = tmp_path / "outputs.yaml"
    outputs.write_text("TopicArn: arn:aws:sns:us-east-1:123456789012:events\n")
    given = run(["template", "lint", str(folder), "--spec", str(spec), "--outputs", str(outputs)], _env())
    assert given.returncode == 0, given.stdout
    assert "note:" not in given.stdout
