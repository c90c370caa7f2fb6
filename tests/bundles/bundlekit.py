"""Builders for real ``.tar.gz`` template bundles held in memory, shared by the bundle tests."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable, Mapping

Entry = tuple[str, bytes] | tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]

ENV_SCHEMA = """\
schema:
  format:
    openapi: "3.0.0"
  environment_input_type: "EnvironmentInput"
  types:
    EnvironmentInput:
      type: object
      description: "Environment inputs"
      properties:
        vpc_cidr:
          type: string
          default: 10.0.0.0/16
        size:
          type: integer
          default: 2
      required:
        - vpc_cidr
"""

CUSTOMER_MANAGED_SCHEMA = """\
schema:
  format:
    openapi: "3.0.0"
  environment_input_type: "EnvironmentOutputs"
  types:
    EnvironmentOutputs:
      type: object
      properties:
        VpcId:
          type: string
        ClusterName:
          type: string
      required: [VpcId]
"""

SERVICE_SCHEMA = """\
schema:
  format:
    openapi: "3.0.0"
  service_input_type: "ServiceInput"
  pipeline_input_type: "PipelineInput"
  types:
    ServiceInput:
      type: object
      properties:
        port:
          type: number
          default: 80
        image:
          type: string
      required: [image]
    PipelineInput:
      type: object
      properties: {}
"""

SERVICE_SCHEMA_NO_PIPELINE = """\
schema:
  format:
    openapi: "3.0.0"
  service_input_type: "ServiceInput"
  types:
    ServiceInput:
      type: object
      properties:
        port:
          type: number
          default: 80
"""

CFN_MANIFEST = """\
infrastructure:
  templates:
    - file: "cloudformation.yaml"
      rendering_engine: jinja
      template_language: cloudformation
"""

CFN_TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  VPC:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: '{{ environment.inputs.vpc_cidr }}'
"""

TF_STAR_MANIFEST = """\
infrastructure:
  templates:
    - file: "*"
      rendering_engine: hcl
      template_language: terraform
"""

TF_NAMED_MANIFEST = """\
infrastructure:
  templates:
    - file: "main.tf"
      rendering_engine: hcl
      template_language: terraform
"""

CODEBUILD_MANIFEST = """\
infrastructure:
  templates:
    - rendering_engine: codebuild
      settings:
        image: aws/codebuild/amazonlinux2-x86_64-standard:4.0
        runtimes:
          nodejs: 16
        provision:
          - npm install
          - npm run build
          - npm run cdk deploy -- --require-approval never
        deprovision:
          - npm run cdk destroy -- --force
        env:
          variables:
            STAGE: dev
"""


def targz(entries: Iterable[Entry], *, compresslevel: int = 6) -> bytes:
    """A gzip-compressed tar holding `entries`: (name, data) pairs, bare TarInfo or (TarInfo, data)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=compresslevel) as tar:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tar.addfile(entry)
                continue
            first, data = entry
            info = first if isinstance(first, tarfile.TarInfo) else tarfile.TarInfo(first)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def bundle(files: Mapping[str, str | bytes], *, prefix: str = "", dirs: Iterable[str] = ()) -> bytes:
    """A bundle archive of `files` (text is UTF-8 encoded), optionally under a wrapping folder."""
    entries: list[Entry] = []
    for name in dirs:
        info = tarfile.TarInfo(prefix + name)
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        entries.append(info)
    for name, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        entries.append((prefix + name, data))
    return targz(entries)


def encoded(files: Mapping[str, str | bytes]) -> list[tuple[str, bytes]]:
    """(name, bytes) pairs of `files`, text encoded as UTF-8."""
    return [(name, text.encode() if isinstance(text, str) else text) for name, text in files.items()]


def cfn_environment(**extra: str | bytes) -> dict[str, str | bytes]:
    return {
        "schema/schema.yaml": ENV_SCHEMA,
        "infrastructure/manifest.yaml": CFN_MANIFEST,
        "infrastructure/cloudformation.yaml": CFN_TEMPLATE,
        **extra,
    }


def service(*, pipeline: bool = True) -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {
        "schema/schema.yaml": SERVICE_SCHEMA if pipeline else SERVICE_SCHEMA_NO_PIPELINE,
        "instance_infrastructure/manifest.yaml": CFN_MANIFEST,
        "instance_infrastructure/cloudformation.yaml": CFN_TEMPLATE,
    }
    if pipeline:
        files["pipeline_infrastructure/manifest.yaml"] = CFN_MANIFEST
        files["pipeline_infrastructure/cloudformation.yaml"] = CFN_TEMPLATE
    return files


def manifest_entry(body: str) -> str:
    """A manifest whose single template entry is `body` (YAML lines indented for the list item)."""
    lines = body.strip("\n").splitlines()
    indented = "\n".join(("    - " if i == 0 else "      ") + line for i, line in enumerate(lines))
    return "infrastructure:\n  templates:\n" + indented + "\n"
