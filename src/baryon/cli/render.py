"""`baryon render`: the CloudFormation template a deployment of an environment, a service instance or a
pipeline would send, before it is deployed, and its difference from what is deployed.

It reads Baryon's database through the data dir (like the other admin commands; there is no Proton
operation for this): the resource's row, the template version's bundle and the resource's context
(environment outputs, instances, …) exactly as the engine builds them (`baryon.engine.subjects`), and
renders with Baryon's renderer. The inputs are those of `--spec` (checked against the version's schema,
defaults applied), else the resource's deployed inputs (with the defaults of the version's schema when
`--version` names another one). "Deployed" is the resource's version rendered with its deployed inputs
and today's context (what the last successful deployment sent, unless an output it reads has changed).

Invariants: nothing is written; a resource, a version or a spec that does not fit ends with one line
(`RenderProblem`) saying which.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
import yaml

from baryon.deployables import KINDS
from baryon.deployables.kinds import ENVIRONMENT, SERVICE_INSTANCE, SERVICE_PIPELINE
from baryon.domain import arns, spec_schema, specs
from baryon.engine import subjects
from baryon.engine.steps import bundle_part
from baryon.protocol.errors import ServiceError
from baryon.render.errors import RenderError
from baryon.render.jinja import render_template
from baryon.runtime import Runtime
from baryon.store.schema import template_versions as versions


class RenderProblem(Exception):
    """The render cannot be made; str(error) says why."""


@dataclass(frozen=True)
class Rendered:
    file_name: str
    text: str
    version: str


@dataclass(frozen=True)
class _Record:
    """What `subjects.load` reads of a deployment record, for a deployment not made."""

    target_type: str
    account_id: str
    region: str
    target_arn: str
    environment_name: str | None = None
    service_name: str | None = None
    service_instance_name: str | None = None
    component_name: str | None = None
    id: str = ""


def _record(account_id: str, region: str, names: dict[str, str]) -> _Record:
    if "environment" in names:
        name = names["environment"]
        arn = arns.environment_arn(region, account_id, name)
        return _Record(ENVIRONMENT.target_type, account_id, region, arn, environment_name=name)
    service = names["service"]
    if "instance" in names:
        arn = arns.service_instance_arn(region, account_id, service, names["instance"])
        return _Record(
            SERVICE_INSTANCE.target_type,
            account_id,
            region,
            arn,
            service_name=service,
            service_instance_name=names["instance"],
        )
    arn = arns.service_arn(region, account_id, service) + "/pipeline"
    return _Record(SERVICE_PIPELINE.target_type, account_id, region, arn, service_name=service)


_ROLES = {
    ENVIRONMENT.target_type: spec_schema.ENVIRONMENT_INPUT,
    SERVICE_INSTANCE.target_type: spec_schema.SERVICE_INPUT,
    SERVICE_PIPELINE.target_type: spec_schema.PIPELINE_INPUT,
}


def _given(record: _Record, spec: str) -> dict[str, Any]:
    if record.target_type == ENVIRONMENT.target_type:
        return specs.parse_environment_spec(spec)
    if record.target_type == SERVICE_INSTANCE.target_type:
        return specs.parse_instance_spec_from_service_spec(spec, str(record.service_instance_name))
    return specs.parse_pipeline_spec(spec)


def _version(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    if not (major.isdigit() and minor.isdigit()):
        raise RenderProblem(f"--version must be MAJOR.MINOR (e.g. 1.2), not {text!r}.")
    return int(major), int(minor)


def render(
    runtime: Runtime,
    *,
    account_id: str,
    region: str,
    names: dict[str, str],
    version: str | None = None,
    spec: str | None = None,
    deployed: bool = False,
) -> Rendered:
    """The rendered template: of the resource as it would deploy with `version` and `spec`, or, with
    `deployed`, of the resource as it is deployed."""
    record = _record(account_id, region, names)
    kind = KINDS[record.target_type]
    with runtime.database.read() as connection:
        subject = subjects.load(connection, record)
    if subject is None:
        raise RenderProblem(f"{kind.title.format(*kind.names_of_record(record))} does not exist.")
    row = subject.row
    if row.template_major is None:
        raise RenderProblem(f"{kind.title.format(*kind.names_of_record(record))} has not been deployed.")
    current = (int(row.template_major), int(row.template_minor))
    major, minor = current if deployed or version is None else _version(version)
    try:
        part = bundle_part(runtime, subject, major, minor)
        if part.engine != "jinja":
            raise RenderProblem(
                f"{subject.part} of {subject.template_name} {major}.{minor} is not CloudFormation "
                f"({part.engine}); baryon render shows CloudFormation templates."
            )
        deployed_inputs: dict[str, Any] = orjson.loads(row.inputs) if row.inputs else {}
        if deployed or (spec is None and (major, minor) == current):
            inputs = deployed_inputs
        else:
            schema = _schema(runtime, subject.template_id, major, minor)
            given = _given(record, spec) if spec is not None else deployed_inputs
            where = kind.title.format(*kind.names_of_record(record)).lower()
            inputs = spec_schema.validate_inputs(schema, _ROLES[record.target_type], given, where=where)
        name = str(part.info["files"][0])
        file_name = f"{subject.part}/{name}"
        text = render_template(part.files[name].decode(), subject.context(inputs), file_name=file_name)
    except RenderError as error:
        raise RenderProblem(str(error)) from None
    except ServiceError as error:
        raise RenderProblem(error.message) from None
    return Rendered(file_name, text, f"{major}.{minor}")


def _schema(runtime: Runtime, template_id: int, major: int, minor: int) -> dict[str, Any]:
    """The parsed schema.yaml of a template version."""
    with runtime.database.read() as connection:
        text = connection.execute(
            sa.select(versions.c.schema_text).where(
                versions.c.template_id == template_id, versions.c.major == major, versions.c.minor == minor
            )
        ).scalar()
    if text is None:
        raise RenderProblem(f"Template version {major}.{minor} does not exist.")
    parsed: dict[str, Any] = yaml.safe_load(str(text))
    return parsed


def diff(deployed: Rendered, proposed: Rendered) -> str:
    """A unified diff from the deployed template to the proposed one ("" when they are equal)."""
    lines = difflib.unified_diff(
        deployed.text.splitlines(keepends=True),
        proposed.text.splitlines(keepends=True),
        fromfile=f"deployed/{deployed.file_name} ({deployed.version})",
        tofile=f"proposed/{proposed.file_name} ({proposed.version})",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
