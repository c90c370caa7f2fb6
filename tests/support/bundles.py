"""The one kit of template bundles for tests: real `.tar.gz` archives built in memory.

Two families live here. The deployable bundles (`environment_bundle`, `service_bundle`, the Terraform,
CodeBuild and failing variants) are what the API, engine and end-to-end tests register and deploy. The
loader's building blocks (`targz`, `bundle`, `cfn_environment`, `service`, `manifest_entry` and the `LOADER_`
texts) are what the bundle tests take apart file by file. `tests/bundles/bundlekit.py` re-exports the
latter under their former names.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable, Mapping

ENV_SCHEMA = """schema:
  format:
    openapi: "3.0.0"
  environment_input_type: "EnvironmentInput"
  types:
    EnvironmentInput:
      type: object
      description: "Inputs of the environment"
      properties:
        vpc_cidr:
          type: string
          default: 10.0.0.0/16
          pattern: ([0-9]{1,3}\\.){3}[0-9]{1,3}($|/(16|24))
"""

SERVICE_SPEC = """proton: ServiceSpec
pipeline:
  dockerfile: Dockerfile
instances:
  - name: front
    environment: dev
    spec:
      port: 8080
  - name: back
    environment: dev
"""
"""A service with a pipeline and two instances in environment `dev` (`front` with a port, `back` without)."""

CI_SERVICE_SPEC = """proton: ServiceSpec
pipeline:
  dockerfile: Dockerfile.ci
instances:
  - name: front
    environment: dev
    spec:
      port: 8080
"""
"""A service with a pipeline built from `Dockerfile.ci` and one instance, `front`, in environment `dev`."""

CFN_MANIFEST = """infrastructure:
  templates:
    - file: "cloudformation.yaml"
      rendering_engine: jinja
      template_language: cloudformation
"""

CFN_ENV = """Resources:
  VPC:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: '{{ environment.inputs.vpc_cidr }}'
Outputs:
  VpcId:
    Value: !Ref VPC
"""

PORT_INPUT = """        port:
          type: number
          default: 80
"""
IMAGE_INPUT = """        image:
          type: string
"""
DOCKERFILE_INPUT = """        dockerfile:
          type: string
          default: Dockerfile
"""
"""Inputs as they stand under `properties:` in a schema: `port` (a number, 80 by default), `image` (a string)
and the pipeline's `dockerfile` (a string, `Dockerfile` by default)."""


def properties(*inputs: str) -> str:
    """The `properties:` member of an input type, holding `inputs` (texts like `PORT_INPUT`)."""
    return "      properties:\n" + "".join(inputs)


def service_schema(service: str, pipeline: str | None = None) -> str:
    """The schema of a service template: `ServiceInput` has the members `service` (YAML indented by six
    spaces, as `properties(...)` gives) and, where `pipeline` is given, `PipelineInput` has `pipeline`."""
    text = 'schema:\n  format:\n    openapi: "3.0.0"\n  service_input_type: "ServiceInput"\n'
    if pipeline is not None:
        text += '  pipeline_input_type: "PipelineInput"\n'
    text += "  types:\n    ServiceInput:\n      type: object\n" + service
    if pipeline is not None:
        text += "    PipelineInput:\n      type: object\n" + pipeline
    return text


SERVICE_SCHEMA = service_schema(properties(PORT_INPUT), properties(DOCKERFILE_INPUT))

SERVICE_SCHEMA_NO_PIPELINE = service_schema(properties(PORT_INPUT))

CFN_INSTANCE = """Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: '{{ service.name }}-{{ service_instance.name }}-{{ service_instance.inputs.port }}'
Outputs:
  QueueName:
    Value: !GetAtt Queue.QueueName
  EnvironmentVpc:
    Value: '{{ environment.outputs.VpcId }}'
"""

CFN_PIPELINE = """Resources:
{% for instance in service_instances %}
  Queue{{ loop.index }}:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: 'pipeline-{{ instance.name }}-{{ pipeline.inputs.dockerfile | lower }}'
{% endfor %}
Outputs:
  Instances:
    Value: '{{ service_instances | map(attribute="name") | join(",") }}'
  FirstQueue:
    Value: '{{ service_instances[0].outputs.QueueName }}'
"""


def tar_gz(files: Mapping[str, str | bytes], prefix: str = "") -> bytes:
    """A bundle archive of `files` (text is UTF-8 encoded) under the folder `prefix`."""
    return bundle(files, prefix=prefix)


def environment_bundle(schema: str = ENV_SCHEMA, prefix: str = "environment/") -> bytes:
    return tar_gz(
        {
            "schema/schema.yaml": schema,
            "infrastructure/manifest.yaml": CFN_MANIFEST,
            "infrastructure/cloudformation.yaml": CFN_ENV,
        },
        prefix,
    )


def cfn_service_files(schema: str, instance: str, pipeline: str | None) -> dict[str, str | bytes]:
    """The files of a CloudFormation service template: `schema`, the instance template `instance` and,
    where `pipeline` is given, the pipeline template `pipeline`, each with the Jinja CloudFormation
    manifest."""
    files: dict[str, str | bytes] = {
        "schema/schema.yaml": schema,
        "instance_infrastructure/manifest.yaml": CFN_MANIFEST,
        "instance_infrastructure/cloudformation.yaml": instance,
    }
    if pipeline is not None:
        files["pipeline_infrastructure/manifest.yaml"] = CFN_MANIFEST
        files["pipeline_infrastructure/cloudformation.yaml"] = pipeline
    return files


def service_bundle(pipeline: bool = True, prefix: str = "service/") -> bytes:
    if pipeline:
        return tar_gz(cfn_service_files(SERVICE_SCHEMA, CFN_INSTANCE, CFN_PIPELINE), prefix)
    return tar_gz(cfn_service_files(SERVICE_SCHEMA_NO_PIPELINE, CFN_INSTANCE, None), prefix)


def customer_managed_bundle() -> bytes:
    schema = """schema:
  format:
    openapi: "3.0.0"
  environment_input_type: "ImportedOutputs"
  types:
    ImportedOutputs:
      type: object
      properties:
        vpc_id:
          type: string
"""
    return tar_gz({"schema/schema.yaml": schema})


VPC_CIDR_INPUT = """        vpc_cidr:
          type: string
          default: 10.0.0.0/16
"""
"""The `vpc_cidr` input (a string defaulting to 10.0.0.0/16), as it stands under `properties:`."""


def environment_schema(inputs: str = VPC_CIDR_INPUT) -> str:
    """The schema of an environment template whose `EnvironmentInput` object has the properties `inputs`
    (YAML indented by eight spaces, as under `properties:`)."""
    return (
        "schema:\n"
        "  format:\n"
        '    openapi: "3.0.0"\n'
        '  environment_input_type: "EnvironmentInput"\n'
        "  types:\n"
        "    EnvironmentInput:\n"
        "      type: object\n"
        "      properties:\n"
    ) + inputs


# --- Terraform and CodeBuild bundles ----------------------------------------------------------------

TF_MANIFEST = """infrastructure:
  templates:
    - file: "*"
      rendering_engine: hcl
      template_language: terraform
"""

TF_ENV_SCHEMA = environment_schema(
    VPC_CIDR_INPUT
    + """        az_count:
          type: integer
          default: 2
        nat:
          type: boolean
          default: false
        subnets:
          type: array
          items:
            type: string
"""
)

TF_ENV_FILES = {
    "config.tf": """terraform {
  backend "s3" {}
}

variable "aws_region" {
  type    = string
  default = "us-east-1"
}
""",
    "main.tf": """locals {
  name    = var.environment.name
  cidr    = var.environment.inputs.vpc_cidr
  azs     = tonumber(var.environment.inputs.az_count)
  nat     = var.environment.inputs.nat == "true"
  subnets = can(var.environment.inputs.subnets) ? jsondecode(var.environment.inputs.subnets) : []
}
""",
    "outputs.tf": """output "VpcCidr" {
  value = local.cidr
}
""",
}

TF_SERVICE_SCHEMA = service_schema(properties(PORT_INPUT, IMAGE_INPUT), properties(DOCKERFILE_INPUT))

TF_INSTANCE_FILES = {
    "main.tf": """locals {
  service  = var.service.name
  instance = var.service_instance.name
  port     = var.service_instance.inputs.port
  vpc      = var.environment.outputs.VpcId
  component_outputs = can(var.service_instance.components.default) ? [
    for k, v in var.service_instance.components.default.outputs : { name : k, value : v }
  ] : []
}

output "Port" {
  value = local.port
}
""",
}

TF_PIPELINE_FILES = {
    "main.tf": """locals {
  repository = var.service.repository_id
  dockerfile = var.pipeline.inputs.dockerfile
  instances  = [for instance in var.service_instances : "${instance.environment.name}/${instance.name}"]
}
""",
}

CODEBUILD_MANIFEST = """infrastructure:
  templates:
    - rendering_engine: codebuild
      settings:
        image: aws/codebuild/amazonlinux2-x86_64-standard:4.0
        runtimes:
          python: "3.11"
        provision:
          - cat proton-inputs.json
        deprovision:
          - echo bye
        env:
          variables:
            STAGE: dev
"""


def terraform_environment_bundle(prefix: str = "environment/", **extra: str | bytes) -> bytes:
    """A Terraform environment bundle (``file: "*"``) with three .tf files, plus ``extra`` files
    (paths relative to the bundle root)."""
    files: dict[str, str | bytes] = {
        "schema/schema.yaml": TF_ENV_SCHEMA,
        "infrastructure/manifest.yaml": TF_MANIFEST,
    }
    files.update({f"infrastructure/{name}": text for name, text in TF_ENV_FILES.items()})
    files.update(extra)
    return tar_gz(files, prefix)


def terraform_service_bundle(prefix: str = "service/", *, pipeline: str = "hcl") -> bytes:
    """A Terraform service bundle; the pipeline is Terraform (``hcl``), CodeBuild (``codebuild``) or
    absent (``none``)."""
    files: dict[str, str | bytes] = {
        "schema/schema.yaml": TF_SERVICE_SCHEMA if pipeline != "none" else SERVICE_SCHEMA_NO_PIPELINE,
        "instance_infrastructure/manifest.yaml": TF_MANIFEST,
    }
    files.update({f"instance_infrastructure/{name}": text for name, text in TF_INSTANCE_FILES.items()})
    if pipeline == "hcl":
        files["pipeline_infrastructure/manifest.yaml"] = TF_MANIFEST
        files.update({f"pipeline_infrastructure/{name}": text for name, text in TF_PIPELINE_FILES.items()})
    elif pipeline == "codebuild":
        files["pipeline_infrastructure/manifest.yaml"] = CODEBUILD_MANIFEST
        files["pipeline_infrastructure/run.sh"] = "#!/bin/sh\necho run\n"
    return tar_gz(files, prefix)


def codebuild_environment_bundle(manifest: str = CODEBUILD_MANIFEST, prefix: str = "environment/") -> bytes:
    """A CodeBuild environment bundle with a script beside its manifest."""
    return tar_gz(
        {
            "schema/schema.yaml": TF_ENV_SCHEMA,
            "infrastructure/manifest.yaml": manifest,
            "infrastructure/run.sh": "#!/bin/sh\necho run\n",
        },
        prefix,
    )


# --- A CloudFormation service whose parts fail on demand ---------------------------------------------
# `broken: true` makes an instance's template read an output the environment does not have (a render
# failure); `pinned_role: true` gives the instance an IAM role (which cannot be deleted while a managed
# policy is attached to it); `breaks_pipeline: true` makes the pipeline's template read an output the
# instance does not have.

FAILING_SERVICE_SCHEMA = service_schema(
    properties(
        PORT_INPUT,
        """        broken:
          type: boolean
          default: false
        pinned_role:
          type: boolean
          default: false
        breaks_pipeline:
          type: boolean
          default: false
""",
    ),
    properties(DOCKERFILE_INPUT),
)

FAILING_CFN_INSTANCE = """Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: '{{ service.name }}-{{ service_instance.name }}-{{ service_instance.inputs.port }}'
{% if service_instance.inputs.broken %}
  Broken:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: '{{ environment.outputs.NoSuchOutput }}'
{% endif %}
{% if service_instance.inputs.pinned_role %}
  Role:
    Type: AWS::IAM::Role
    Properties:
      RoleName: '{{ service.name }}-{{ service_instance.name }}-role'
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal:
              Service: ec2.amazonaws.com
            Action: sts:AssumeRole
{% endif %}
Outputs:
  QueueName:
    Value: !GetAtt Queue.QueueName
"""

FAILING_CFN_PIPELINE = """Resources:
{% for instance in service_instances %}
  Queue{{ loop.index }}:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: 'pipeline-{{ instance.name }}-{{ pipeline.inputs.dockerfile | lower }}'
{% if instance.inputs.breaks_pipeline %}
      Tags:
        - Key: missing
          Value: '{{ instance.outputs.NoSuchOutput }}'
{% endif %}
{% endfor %}
Outputs:
  Instances:
    Value: '{{ service_instances | map(attribute="name") | join(",") }}'
"""


def failing_service_bundle(pipeline: bool = True, prefix: str = "service/") -> bytes:
    schema = FAILING_SERVICE_SCHEMA
    if not pipeline:
        schema = schema.replace('  pipeline_input_type: "PipelineInput"\n', "")
    files = cfn_service_files(schema, FAILING_CFN_INSTANCE, FAILING_CFN_PIPELINE if pipeline else None)
    return tar_gz(files, prefix)


# --- The loader's building blocks ----------------------------------------------------------------------

Entry = tuple[str, bytes] | tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]

LOADER_ENV_SCHEMA = """\
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

LOADER_SERVICE_SCHEMA = service_schema(
    properties(PORT_INPUT, IMAGE_INPUT) + "      required: [image]\n", "      properties: {}\n"
)

CFN_TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  VPC:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: '{{ environment.inputs.vpc_cidr }}'
"""

TF_NAMED_MANIFEST = """\
infrastructure:
  templates:
    - file: "main.tf"
      rendering_engine: hcl
      template_language: terraform
"""

LOADER_CODEBUILD_MANIFEST = """\
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
        "schema/schema.yaml": LOADER_ENV_SCHEMA,
        "infrastructure/manifest.yaml": CFN_MANIFEST,
        "infrastructure/cloudformation.yaml": CFN_TEMPLATE,
        **extra,
    }


def service(*, pipeline: bool = True) -> dict[str, str | bytes]:
    if pipeline:
        return cfn_service_files(LOADER_SERVICE_SCHEMA, CFN_TEMPLATE, CFN_TEMPLATE)
    return cfn_service_files(SERVICE_SCHEMA_NO_PIPELINE, CFN_TEMPLATE, None)


def manifest_entry(body: str) -> str:
    """A manifest whose single template entry is `body` (YAML lines indented for the list item)."""
    lines = body.strip("\n").splitlines()
    indented = "\n".join(("    - " if i == 0 else "      ") + line for i, line in enumerate(lines))
    return "infrastructure:\n  templates:\n" + indented + "\n"


#: The wildcard Terraform manifest under the name the loader tests use.
TF_STAR_MANIFEST = TF_MANIFEST


#: An environment of one SQS queue whose retention is an input, and its queue's URL as the output.
QUEUE_SCHEMA = """schema:
  format:
    openapi: "3.0.0"
  environment_input_type: "EnvironmentInput"
  types:
    EnvironmentInput:
      type: object
      properties:
        retention:
          type: number
          default: 300
"""

QUEUE_ENV = """Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      MessageRetentionPeriod: {{ environment.inputs.retention }}
Outputs:
  QueueUrl:
    Value: !Ref Queue
"""


#: A valid environment template with a parameter no resource uses: cfn-lint warns W2001 at line 3.
CFN_UNTIDY_ENVIRONMENT = """Parameters:
  Unused:
    Type: String
    Default: x
Resources:
  VPC:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: '{{ environment.inputs.vpc_cidr }}'
"""
