"""Spec documents: parsing the YAML specs of environments, services, instances and pipelines (reference
§2.6), ``${Proton::CURRENT_VAL}`` substitution (§5.3) and the YAML text Baryon stores.

Job: turn spec text into plain inputs (or a `ServiceSpec`), and a document back into stable YAML.
Schema validation lives in `baryon.domain.spec_schema` and is re-exported here as `validate_inputs`.

Invariants:
- Pure: no I/O. Every failure is a `ValidationException` with the complete message the client sees.
- YAML is read by `baryon.domain.yamlread` (plain JSON data, 64-bit integers, finite floats, no
  duplicate keys, positions in every message), at most `MAX_DEPTH` levels deep and `MAX_VALUES` values
  with aliases and merge keys counted as copies. Parsed documents are trees (no shared objects).
- A spec document is a mapping whose ``proton`` key names its kind (``EnvironmentSpec`` or
  ``ServiceSpec``); the key may appear anywhere in the mapping. Keys a kind does not define are refused.
- Structural problems of one document are all reported together, in document order, joined by ``; ``.
- Instance and environment names match `NAME_PATTERN` and are 1-100 characters; instance names are
  unique within a ServiceSpec. Every returned container is a fresh copy.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from baryon.domain.spec_schema import (
    ENVIRONMENT_INPUT,
    PIPELINE_INPUT,
    SERVICE_INPUT,
    checked_inputs,
    undefined_warning,
    validate_inputs,
)
from baryon.domain.yamlread import ReadLimits, YamlError, kind_of, read_yaml
from baryon.protocol.errors import ValidationException

__all__ = [
    "CURRENT_VAL",
    "ENVIRONMENT_INPUT",
    "ENVIRONMENT_SPEC",
    "MAX_DEPTH",
    "MAX_SPEC_CHARS",
    "MAX_VALUES",
    "PIPELINE_INPUT",
    "SERVICE_INPUT",
    "SERVICE_SPEC",
    "Inputs",
    "InstanceSpec",
    "ServiceSpec",
    "dump_spec",
    "instance_inputs_in",
    "load_spec_yaml",
    "parse_environment_spec",
    "parse_instance_spec_from_service_spec",
    "parse_pipeline_spec",
    "parse_service_spec",
    "replace_instance_inputs",
    "replace_pipeline_inputs",
    "resolve_current_values",
    "spec_inputs",
    "spec_with_instances",
    "spec_with_pipeline",
    "validate_inputs",
]

CURRENT_VAL = "${Proton::CURRENT_VAL}"
ENVIRONMENT_SPEC = "EnvironmentSpec"
SERVICE_SPEC = "ServiceSpec"

#: The model's limit on every spec member (SpecContents).
MAX_SPEC_CHARS = 51_200
#: Values (mapping values, list items, scalars) in a parsed spec, counting alias and merge copies.
MAX_VALUES = 10_000
#: Nesting levels of mappings and lists.
MAX_DEPTH = 64

NAME_PATTERN = r"^[0-9A-Za-z]+[0-9A-Za-z_\-]*$"
NAME_MAX = 100
_NAME = re.compile(r"[0-9A-Za-z]+[0-9A-Za-z_\-]*")


@dataclass(frozen=True)
class InstanceSpec:
    """One entry of a ServiceSpec's ``instances`` list."""

    name: str
    environment: str
    inputs: dict[str, Any]  # raw values given in the spec (before defaults)


@dataclass(frozen=True)
class ServiceSpec:
    """A parsed ``proton: ServiceSpec`` document."""

    pipeline: dict[str, Any] | None  # None when the spec has no `pipeline:` key; {} when it is empty/null
    instances: list[InstanceSpec]
    document: dict[str, Any]  # the whole parsed document


# --- YAML -----------------------------------------------------------------------------------------


_SPEC_LIMITS = ReadLimits(max_depth=MAX_DEPTH, max_values=MAX_VALUES, unique_keys=True)


def load_spec_yaml(text: str) -> Any:
    """Parse spec text into plain JSON data (see the module invariants), or raise ValidationException."""
    if len(text) > MAX_SPEC_CHARS:
        raise ValidationException(f"Spec is longer than {MAX_SPEC_CHARS} characters")
    try:
        return read_yaml(text, _SPEC_LIMITS)
    except YamlError as error:
        raise ValidationException(
            error.describe("Spec is not valid YAML" if error.positioned else "Spec")
        ) from None


# --- documents ------------------------------------------------------------------------------------


def _problems(problems: list[str]) -> ValidationException:
    return ValidationException("Invalid spec: " + "; ".join(problems))


def _header_error(kind: str) -> ValidationException:
    return ValidationException(f"Spec must start with 'proton: {kind}'")


def _load_document(text: str, kind: str) -> dict[str, Any]:
    document = load_spec_yaml(text)
    if not isinstance(document, dict):
        found = "it is empty" if document is None else f"it is {kind_of(document)}"
        raise ValidationException(f"Spec must be a YAML mapping starting with 'proton: {kind}'; {found}")
    if document.get("proton") != kind:
        raise _header_error(kind)
    return document


def _unknown_keys(document: dict[str, Any], allowed: tuple[str, ...], what: str) -> list[str]:
    allowed_text = ", ".join(allowed[:-1]) + f" and {allowed[-1]}"
    return [f"unknown key '{key}' ({what} has only {allowed_text})" for key in document if key not in allowed]


def _inputs_block(value: Any, key: str, subject: str, problems: list[str]) -> dict[str, Any]:
    """The mapping of inputs under ``key`` (null means none); a problem when it is not a mapping."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(f"{subject}'{key}' must be a mapping of inputs, not {kind_of(value)}")
        return {}
    return copy.deepcopy(value)


def _name_problem(value: Any, subject: str, key: str) -> str | None:
    if not isinstance(value, str):
        return f"{subject}'{key}' must be a string, not {kind_of(value)}; quote it"
    if not 1 <= len(value) <= NAME_MAX or _NAME.fullmatch(value) is None:
        return f"{subject}'{key}' must be 1 to {NAME_MAX} characters matching {NAME_PATTERN}"
    return None


def parse_environment_spec(text: str) -> dict[str, Any]:
    """The inputs of a ``proton: EnvironmentSpec`` document (``spec:`` absent or null means none)."""
    document = _load_document(text, ENVIRONMENT_SPEC)
    problems = _unknown_keys(document, ("proton", "spec"), "an EnvironmentSpec")
    inputs = _inputs_block(document.get("spec"), "spec", "", problems)
    if problems:
        raise _problems(problems)
    return inputs


def _parse_instances(value: Any, problems: list[str], *, require: bool) -> list[InstanceSpec]:
    if value is None or value == []:
        if require:
            problems.append("a service needs at least one instance under 'instances'")
        return []
    if not isinstance(value, list):
        problems.append(f"'instances' must be a list of instances, not {kind_of(value)}")
        return []
    instances: list[InstanceSpec] = []
    seen: set[str] = set()
    for number, entry in enumerate(value, start=1):
        subject = f"instance {number}: "
        if not isinstance(entry, dict):
            problems.append(
                f"{subject}must be a mapping with name, environment and spec, not {kind_of(entry)}"
            )
            continue
        name = entry.get("name")
        if name is None:
            problems.append(f"{subject}'name' is missing")
        else:
            problem = _name_problem(name, subject, "name")
            if problem is None:
                subject = f"service instance {name}: "
                if name in seen:
                    problems.append(f"instance name '{name}' is used more than once")
                seen.add(name)
            else:
                problems.append(problem)
        problems.extend(
            subject + problem
            for problem in _unknown_keys(entry, ("name", "environment", "spec"), "an instance")
        )
        environment = entry.get("environment")
        environment_problem = (
            f"{subject}'environment' is missing"
            if environment is None
            else _name_problem(environment, subject, "environment")
        )
        if environment_problem is not None:
            problems.append(environment_problem)
        inputs = _inputs_block(entry.get("spec"), "spec", subject, problems)
        if isinstance(name, str) and isinstance(environment, str):
            instances.append(InstanceSpec(name=name, environment=environment, inputs=inputs))
    return instances


def _service_spec(document: dict[str, Any], *, require_instances: bool) -> ServiceSpec:
    problems = _unknown_keys(document, ("proton", "pipeline", "instances"), "a ServiceSpec")
    pipeline: dict[str, Any] | None = None
    if "pipeline" in document:
        pipeline = _inputs_block(document["pipeline"], "pipeline", "", problems)
    instances = _parse_instances(document.get("instances"), problems, require=require_instances)
    if problems:
        raise _problems(problems)
    return ServiceSpec(pipeline=pipeline, instances=instances, document=copy.deepcopy(document))


def parse_service_spec(text: str) -> ServiceSpec:
    """A ``proton: ServiceSpec`` document: optional ``pipeline:`` inputs and at least one instance."""
    return _service_spec(_load_document(text, SERVICE_SPEC), require_instances=True)


def _service_or_inputs(text: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(document, {}) when the text is a ServiceSpec document, else (None, bare inputs)."""
    document = load_spec_yaml(text)
    if document is None:
        return None, {}
    if not isinstance(document, dict):
        raise ValidationException(
            f"Spec must be a YAML mapping (a 'proton: {SERVICE_SPEC}' document or a mapping of inputs); "
            f"it is {kind_of(document)}"
        )
    if "proton" not in document:
        return None, document
    if document["proton"] != SERVICE_SPEC:
        raise _header_error(SERVICE_SPEC)
    return document, {}


def parse_instance_spec_from_service_spec(text: str, instance_name: str) -> dict[str, Any]:
    """The inputs UpdateServiceInstance gives for ``instance_name``.

    Accepted shapes: a whole ``proton: ServiceSpec`` document (checked like `parse_service_spec`; the
    inputs are the ``spec`` of the instance named ``instance_name``, which must be listed), or a bare
    mapping of inputs with no ``proton`` key (an empty document means no inputs).
    """
    document, inputs = _service_or_inputs(text)
    if document is None:
        return inputs
    service = _service_spec(document, require_instances=True)
    for instance in service.instances:
        if instance.name == instance_name:
            return instance.inputs
    raise _problems([f"the ServiceSpec lists no instance named '{instance_name}'"])


def instance_inputs_in(text: str) -> Callable[[str], dict[str, Any]]:
    """`parse_instance_spec_from_service_spec` for many instances of one text, which is parsed once."""
    document, inputs = _service_or_inputs(text)
    if document is None:
        return lambda name: inputs
    by_name = {
        instance.name: instance.inputs
        for instance in _service_spec(document, require_instances=True).instances
    }

    def of(name: str) -> dict[str, Any]:
        if name not in by_name:
            raise _problems([f"the ServiceSpec lists no instance named '{name}'"])
        return by_name[name]

    return of


def spec_with_instances(text: str, instances: list[InstanceSpec]) -> str:
    """A service's ServiceSpec text whose `instances` are exactly `instances` (name, environment and the
    inputs each was given): the instances it lists keep their place and are updated, others are added
    after them in the order given, those it lists and `instances` lacks are dropped. The text is returned
    unchanged when it already says exactly that."""
    document = _load_document(text, SERVICE_SPEC)
    wanted = {instance.name: instance for instance in instances}
    listed = [entry for entry in document.get("instances") or [] if isinstance(entry, dict)]
    names: list[str] = [entry["name"] for entry in listed if entry.get("name") in wanted]
    names += [name for name in wanted if name not in names]
    entries = []
    for name in names:
        instance = wanted[name]
        entry: dict[str, Any] = {"name": name, "environment": instance.environment}
        if instance.inputs:
            entry["spec"] = copy.deepcopy(instance.inputs)
        entries.append(entry)
    current = [
        {key: value for key, value in entry.items() if key in ("name", "environment", "spec") and value}
        for entry in listed
    ]
    if current == entries and len(listed) == len(document.get("instances") or []):
        return text
    result = copy.deepcopy(document)
    result["instances"] = entries
    return dump_spec(result)


def spec_with_pipeline(text: str, inputs: dict[str, Any]) -> str:
    """A service's ServiceSpec text whose `pipeline` section is `inputs` (the inputs the pipeline was
    given); the text is returned unchanged when it already says that."""
    document = _load_document(text, SERVICE_SPEC)
    if (document.get("pipeline") or {}) == inputs:
        return text
    return dump_spec(replace_pipeline_inputs(document, inputs))


def parse_pipeline_spec(text: str) -> dict[str, Any]:
    """The inputs UpdateServicePipeline gives.

    Accepted shapes: a whole ``proton: ServiceSpec`` document (checked like `parse_service_spec`, except
    that ``instances`` may be absent or empty), whose ``pipeline:`` key must be present (null means no
    inputs); or a bare mapping of inputs with no ``proton`` key (an empty document means no inputs).
    """
    document, inputs = _service_or_inputs(text)
    if document is None:
        return inputs
    service = _service_spec(document, require_instances=False)
    if service.pipeline is None:
        raise _problems(["the ServiceSpec has no 'pipeline' section"])
    return service.pipeline


# --- CURRENT_VAL and stored documents ---------------------------------------------------------------


def resolve_current_values(values: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """Replace each top-level value equal to `CURRENT_VAL` by ``current[key]``.

    When ``current`` has no value for the key (or holds null), the key is dropped, so the schema's default
    or ``required`` rule applies as if the input had been left out. Only whole top-level values are
    placeholders: the text inside a longer string or inside a nested list/mapping is kept literally.
    Order is kept; the result is a fresh copy.
    """
    resolved: dict[str, Any] = {}
    for key, value in values.items():
        if value == CURRENT_VAL and isinstance(value, str):
            if current.get(key) is not None:
                resolved[key] = copy.deepcopy(current[key])
        else:
            resolved[key] = copy.deepcopy(value)
    return resolved


@dataclass(frozen=True)
class Inputs:
    """The inputs a resource deploys with, and the warning its deployment carries (None: no warning)."""

    values: dict[str, Any]
    warning: str | None

    @property
    def warnings(self) -> list[str]:
        return [self.warning] if self.warning else []


def spec_inputs(
    schema: dict[str, Any], role: str, given: dict[str, Any], current: dict[str, Any], *, where: str
) -> Inputs:
    """The inputs a spec gives (`CURRENT_VAL` resolved against `current`), checked against the schema:
    defaults applied, undefined inputs kept with a warning naming them."""
    values, undefined = checked_inputs(schema, role, resolve_current_values(given, current), where=where)
    return Inputs(values, undefined_warning(where, undefined))


def replace_instance_inputs(
    document: dict[str, Any], instance_name: str, inputs: dict[str, Any]
) -> dict[str, Any]:
    """A copy of a parsed ServiceSpec document whose instance ``instance_name`` has ``spec: inputs``.

    Raises KeyError when the document lists no such instance.
    """
    result = copy.deepcopy(document)
    for entry in result.get("instances") or []:
        if isinstance(entry, dict) and entry.get("name") == instance_name:
            entry["spec"] = copy.deepcopy(inputs)
            return result
    raise KeyError(instance_name)


def replace_pipeline_inputs(document: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """A copy of a parsed ServiceSpec document whose ``pipeline:`` is ``inputs``."""
    result = copy.deepcopy(document)
    result["pipeline"] = copy.deepcopy(inputs)
    return result


_TOP_ORDER = ("proton", "pipeline", "spec", "instances")
_INSTANCE_ORDER = ("name", "environment", "spec")


def _first(mapping: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    result = {key: mapping[key] for key in order if key in mapping}
    result.update((key, value) for key, value in mapping.items() if key not in result)
    return result


def _ordered(document: dict[str, Any]) -> dict[str, Any]:
    result = _first(document, _TOP_ORDER)
    instances = result.get("instances")
    if isinstance(instances, list):
        result["instances"] = [
            _first(entry, _INSTANCE_ORDER) if isinstance(entry, dict) else entry for entry in instances
        ]
    return result


class _SpecDumper(yaml.SafeDumper):
    """SafeDumper that writes every repeated object in full (no anchors or aliases)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_text(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    # PyYAML writes a NEL (U+0085) raw inside single quotes, where reading folds it to a space: such
    # strings are written double-quoted, where it is the escape \N.
    if "\x85" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style='"')
    return dumper.represent_str(data)


_SpecDumper.add_representer(str, _represent_text)


def dump_spec(document: dict[str, Any]) -> str:
    """YAML text for storing a spec document.

    Key order is stable: ``proton`` first, then ``pipeline``, ``spec`` and ``instances``, then any other
    key in the document's order; each instance lists ``name``, ``environment`` and ``spec`` first; inputs
    keep their order. Block style, no aliases, Unicode kept, long lines not folded. The text parses back
    (with `load_spec_yaml`) to an equal document.
    """
    return yaml.dump(
        _ordered(document),
        Dumper=_SpecDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1_000_000,
    )
