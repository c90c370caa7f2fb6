"""The input file of a command-runner (CodeBuild) deployment, and the outputs file its commands leave.

Input (proton-semantics §3.4): `proton_inputs` turns the rendering namespace built by
`baryon.render.context` into the file the commands read, named by `input_file_name`:

==================  ====================================================================
environment         ``environment {name, inputs}``
service instance    ``environment {account_id, name, outputs}``,
                    ``service {name, repository_connection_arn, repository_id, branch_name}``,
                    ``service_instance {name, inputs}`` (plus ``components {default {name,
                    outputs}}`` when a component is attached)
service pipeline    ``pipeline {inputs}``, ``service {...}``,
                    ``service_instances [{name, inputs, outputs, environment {account_id, name,
                    outputs}}]``
==================  ====================================================================

``service``'s repository keys are empty strings when the service has no repository. Inputs keep
their JSON types (lists and mappings included); outputs are strings. With ``input_type: JSON`` (the
default) the file is ``proton-inputs.json``, in the JSON style of Proton's other files
(`baryon.render.protonjson`); with ``input_type: HCL`` it is ``proton-inputs.tfvars``, assigning each
top-level key to the Terraform variable of that name (`baryon.render.hcl`). Components cannot be
provisioned by commands.

Outputs: `parse_outputs` reads ``proton-outputs.json``, either a flat object ``{"key": "value", ...}``
or the list form of ``NotifyResourceDeploymentStatusChange``, ``[{"key": ..., "valueString": ...}]``.
Numbers and booleans become their JSON text; anything else (nesting, null, duplicate keys, lengths
outside 1 to 1,024 characters, more than 50 outputs, bad JSON or UTF-8) raises `OutputsError`,
whose text names the file and the problem and is meant as the deployment's status message.

Invariants: pure functions; the namespace is never mutated; outputs keep the file's order.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from baryon.render import hcl, protonjson
from baryon.render.kinds import (
    COMPONENT,
    ENVIRONMENT,
    REPOSITORY_KEYS,
    SERVICE_INSTANCE,
    environment_values,
    normalise_kind,
    part,
    plain,
)
from baryon.render.values import AbsentComponent

JSON_INPUT_FILE = "proton-inputs.json"
HCL_INPUT_FILE = "proton-inputs.tfvars"
OUTPUTS_FILE = "proton-outputs.json"
INPUT_TYPES = ("JSON", "HCL")
MAX_OUTPUTS = 50
MAX_OUTPUT_LENGTH = 1024
MAX_OUTPUTS_BYTES = 1024 * 1024


class OutputsError(Exception):
    """``proton-outputs.json`` cannot be used; ``str(error)`` is the full status message."""


def input_file_name(input_type: str = "JSON") -> str:
    """The name of the input file for the manifest's ``settings.input_type``."""
    if input_type not in INPUT_TYPES:
        raise ValueError(f"input_type must be JSON or HCL, not {input_type!r}")
    return JSON_INPUT_FILE if input_type == "JSON" else HCL_INPUT_FILE


def _service(service: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {"name": service["name"]}
    for key in REPOSITORY_KEYS:
        value = service.get(key)
        values[key] = "" if value is None else value
    return values


def input_values(kind: str, context_values: Mapping[str, Any]) -> dict[str, Any]:
    """The content of the input file as plain data (see the module docstring)."""
    kind = normalise_kind(kind)
    ns = context_values
    if kind == COMPONENT:
        raise ValueError("components cannot be provisioned by commands (CodeBuild)")
    if kind == ENVIRONMENT:
        return {
            "environment": {
                "name": part(ns, kind, "environment", "name"),
                "inputs": plain(part(ns, kind, "environment", "inputs")),
            }
        }
    if kind == SERVICE_INSTANCE:
        instance: dict[str, Any] = {
            "name": part(ns, kind, "service_instance", "name"),
            "inputs": plain(part(ns, kind, "service_instance", "inputs")),
        }
        default = (part(ns, kind, "service_instance").get("components") or {}).get("default")
        if default and not isinstance(default, AbsentComponent):
            instance["components"] = {
                "default": {"name": default["name"], "outputs": plain(default.get("outputs") or {})}
            }
        return {
            "environment": environment_values(part(ns, kind, "environment")),
            "service": _service(part(ns, kind, "service")),
            "service_instance": instance,
        }
    return {
        "pipeline": {"inputs": plain(part(ns, kind, "pipeline", "inputs"))},
        "service": _service(part(ns, kind, "service")),
        "service_instances": [
            {
                "name": instance["name"],
                "inputs": plain(instance.get("inputs") or {}),
                "outputs": plain(instance.get("outputs") or {}),
                "environment": environment_values(instance["environment"]),
            }
            for instance in part(ns, kind, "service_instances")
        ],
    }


def proton_inputs(kind: str, context_values: Mapping[str, Any], input_type: str = "JSON") -> bytes:
    """The bytes of the input file (`input_file_name` gives its name)."""
    input_file_name(input_type)
    values = input_values(kind, context_values)
    if input_type == "HCL":
        return hcl.tfvars(values).encode()
    return protonjson.dumps(values).encode()


# --- outputs --------------------------------------------------------------------------------------


def _fail(detail: str) -> OutputsError:
    return OutputsError(f"{OUTPUTS_FILE}: {detail}")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _fail(f"the key '{key}' appears more than once")
        seen[key] = value
    return seen


def _text(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and not (isinstance(value, float) and not math.isfinite(value)):
        return json.dumps(value)
    if value is None:
        raise _fail(f"{where} is null; every output needs a string value")
    if isinstance(value, dict):
        raise _fail(
            f"{where} is an object; each output must be a string (flatten nested output files, such as "
            "CDK's {stack: {name: value}}, into {name: value})"
        )
    raise _fail(f"{where} is a list; each output must be a string")


def _checked(key: str, value: str, where: str) -> dict[str, str]:
    if not 1 <= len(key) <= MAX_OUTPUT_LENGTH:
        raise _fail(f"{where}: an output key must be 1 to {MAX_OUTPUT_LENGTH} characters long")
    if not 1 <= len(value) <= MAX_OUTPUT_LENGTH:
        raise _fail(f"{where}: an output value must be 1 to {MAX_OUTPUT_LENGTH} characters long")
    return {"key": key, "valueString": value}


def _from_list(document: list[Any]) -> list[dict[str, str]]:
    outputs: list[dict[str, str]] = []
    seen: set[str] = set()
    for index, entry in enumerate(document):
        where = f"entry {index + 1}"
        if not isinstance(entry, dict) or set(entry) != {"key", "valueString"}:
            raise _fail(f'{where} must be an object with exactly "key" and "valueString"')
        key = entry["key"]
        if not isinstance(key, str):
            raise _fail(f'{where}: "key" must be a string')
        if key in seen:
            raise _fail(f"the key '{key}' appears more than once")
        seen.add(key)
        outputs.append(_checked(key, _text(entry["valueString"], f"the value of output '{key}'"), where))
    return outputs


def parse_outputs(data: bytes) -> list[dict[str, str]]:
    """The outputs in ``proton-outputs.json`` as ``[{"key", "valueString"}]``, in file order."""
    if len(data) > MAX_OUTPUTS_BYTES:
        raise _fail(f"the file is {len(data)} bytes; at most {MAX_OUTPUTS_BYTES} are read")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _fail(f"not UTF-8 text (byte {error.start})") from None
    if not text.strip():
        raise _fail("the file is empty; write a JSON object of output names to values")
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as error:
        raise _fail(f"not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}") from None
    if isinstance(document, dict):
        outputs = [
            _checked(key, _text(value, f"the value of output '{key}'"), f"output '{key[:100]}'")
            for key, value in document.items()
        ]
    elif isinstance(document, list):
        outputs = _from_list(document)
    else:
        raise _fail(
            'the file must hold a JSON object {"name": "value"} or a list [{"key": ..., "valueString": ...}]'
        )
    if len(outputs) > MAX_OUTPUTS:
        raise _fail(f"{len(outputs)} outputs; a deployment reports at most {MAX_OUTPUTS}")
    return outputs
