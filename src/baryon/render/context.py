"""Builders of the rendering namespaces of proton-semantics §3.1, as pure functions over plain dicts.

Each builder returns the top-level variables of one kind of template:

==========================  =================================================================
environment IaC             ``environment {name, account_id, inputs}``
service instance IaC        ``environment {name, account_id, outputs}``, ``service {...}``,
                            ``service_instance {name, inputs, environment, components}``
service pipeline IaC        ``service {...}``, ``pipeline {inputs}``,
                            ``service_instances [{name, inputs, outputs, environment}]``
component IaC               ``component {name}``, ``environment {name, account_id, outputs}``,
                            and when attached ``service {...}``, ``service_instance {name, inputs}``
==========================  =================================================================

Rules:
- ``service`` always has ``name``; ``branch_name``, ``repository_connection_arn`` and
  ``repository_id`` are present only when given and not None (a service without a repository), so
  templates can test them with ``is defined``.
- ``service_instance.environment`` is the legacy alias of ``environment``: an equal, separate copy.
- ``service_instance.components.default`` is ``{name, outputs}`` of the attached component, or
  `AbsentComponent` when there is none: it renders ``{}``, its ``outputs`` renders ``{}`` and has
  length 0, and any leaf below them (``.name``, ``.outputs.BucketArn``) is missing and fails the
  render unless tested with ``is defined`` / ``default``.
- Inputs keep their JSON types; optional inputs without a value must simply be absent from the
  given mapping (they are not filled in here). Outputs are always strings: a non-string output
  value is turned into text with the ``{{ }}`` rule (``true``, ``80``).

Invariants: builders never mutate or alias their arguments (everything is copied), and the result
is plain JSON-like data (dicts, lists, scalars) apart from the `AbsentComponent` placeholder, which
is a dict too.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from baryon.render.values import AbsentComponent, to_text

_SERVICE_OPTIONAL = ("branch_name", "repository_connection_arn", "repository_id")


def _outputs(outputs: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(key): to_text(value) for key, value in (outputs or {}).items()}


def _inputs(inputs: Mapping[str, Any] | None) -> dict[str, Any]:
    return copy.deepcopy(dict(inputs or {}))


def _environment(environment: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": environment["name"],
        "account_id": environment["account_id"],
        "outputs": _outputs(environment.get("outputs")),
    }


def _service(service: Mapping[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {"name": service["name"]}
    for key in _SERVICE_OPTIONAL:
        if service.get(key) is not None:
            view[key] = service[key]
    return view


def environment_context(*, name: str, account_id: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """Namespace of an environment template: ``environment.{name, account_id, inputs}``."""
    return {"environment": {"name": name, "account_id": account_id, "inputs": _inputs(inputs)}}


def service_instance_context(
    *,
    environment: dict[str, Any],
    service: dict[str, Any],
    instance: dict[str, Any],
    component: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Namespace of a service template's instance infrastructure.

    ``environment`` = ``{name, account_id, outputs}``; ``service`` = ``{name}`` plus the optional
    repository keys; ``instance`` = ``{name, inputs}``; ``component`` = ``{name, outputs}`` of the
    attached (directly defined) component, or None.
    """
    default: dict[str, Any] = (
        AbsentComponent()
        if component is None
        else {"name": component["name"], "outputs": _outputs(component.get("outputs"))}
    )
    return {
        "environment": _environment(environment),
        "service": _service(service),
        "service_instance": {
            "name": instance["name"],
            "inputs": _inputs(instance.get("inputs")),
            "environment": _environment(environment),
            "components": {"default": default},
        },
    }


def pipeline_context(
    *, service: dict[str, Any], pipeline_inputs: dict[str, Any], instances: list[dict[str, Any]]
) -> dict[str, Any]:
    """Namespace of a service template's pipeline infrastructure.

    ``instances`` = ``[{name, inputs, outputs, environment: {name, account_id, outputs}}]``, in the
    order the template should see them.
    """
    return {
        "service": _service(service),
        "pipeline": {"inputs": _inputs(pipeline_inputs)},
        "service_instances": [
            {
                "name": instance["name"],
                "inputs": _inputs(instance.get("inputs")),
                "outputs": _outputs(instance.get("outputs")),
                "environment": _environment(instance["environment"]),
            }
            for instance in instances
        ],
    }


def component_context(
    *,
    component_name: str,
    environment: dict[str, Any],
    service: dict[str, Any] | None,
    instance: dict[str, Any] | None,
) -> dict[str, Any]:
    """Namespace of a directly defined component's IaC file.

    ``service`` and ``instance`` are given when the component is attached to a service instance;
    a detached component sees only ``component`` and ``environment``.
    """
    namespace: dict[str, Any] = {
        "component": {"name": component_name},
        "environment": _environment(environment),
    }
    if service is not None:
        namespace["service"] = _service(service)
    if instance is not None:
        namespace["service_instance"] = {"name": instance["name"], "inputs": _inputs(instance.get("inputs"))}
    return namespace
