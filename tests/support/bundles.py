"""Build template bundles (tar.gz) in memory for tests."""

from __future__ import annotations

import io
import tarfile

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

SERVICE_SCHEMA = """schema:
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
    PipelineInput:
      type: object
      properties:
        dockerfile:
          type: string
          default: Dockerfile
"""

SERVICE_SCHEMA_NO_PIPELINE = """schema:
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


def tar_gz(files: dict[str, str | bytes], prefix: str = "") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(prefix + path)
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def environment_bundle(schema: str = ENV_SCHEMA, prefix: str = "environment/") -> bytes:
    return tar_gz(
        {
            "schema/schema.yaml": schema,
            "infrastructure/manifest.yaml": CFN_MANIFEST,
            "infrastructure/cloudformation.yaml": CFN_ENV,
        },
        prefix,
    )


def service_bundle(pipeline: bool = True, prefix: str = "service/") -> bytes:
    files = {
        "schema/schema.yaml": SERVICE_SCHEMA if pipeline else SERVICE_SCHEMA_NO_PIPELINE,
        "instance_infrastructure/manifest.yaml": CFN_MANIFEST,
        "instance_infrastructure/cloudformation.yaml": CFN_INSTANCE,
    }
    if pipeline:
        files["pipeline_infrastructure/manifest.yaml"] = CFN_MANIFEST
        files["pipeline_infrastructure/cloudformation.yaml"] = CFN_PIPELINE
    return tar_gz(files, prefix)


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
