"""Reading a rendered CloudFormation template into plain data, the way CloudFormation reads it.

Job: `load` parses JSON or YAML (CloudFormation's short-form tags included: `!Ref X` becomes
`{"Ref": "X"}`, `!GetAtt A.B` and the list form `!GetAtt [A, B]` both become `{"Fn::GetAtt": ["A", "B"]}`,
any other `!Name` becomes `{"Fn::Name": …}`), so the local cloud gets JSON and never its own YAML reader;
`walk` rebuilds a value bottom-up through a function, the tool every rewrite uses.

Invariants: YAML timestamps stay strings (`AWSTemplateFormatVersion: 2010-09-09` is not a date); a
template that is not a mapping, or text that is neither JSON nor YAML, raises `TemplateError` with the
parser's reason; the data returned holds only dicts, lists, strings, numbers, booleans and None.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import yaml


class TemplateError(ValueError):
    """The rendered template cannot be read as CloudFormation (the message says why)."""


class NotSupported(ValueError):
    """The template uses something the local cloud cannot do (the message names the resource and what)."""


class _Loader(yaml.SafeLoader):
    """SafeLoader without timestamps, with CloudFormation's short-form tags."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _value(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    assert isinstance(node, yaml.MappingNode)
    return loader.construct_mapping(node, deep=True)


def _short_form(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value = _value(loader, node)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    return {f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _short_form)


def load(text: str) -> dict[str, Any]:
    """The template as plain data (JSON first, else YAML with short-form tags)."""
    try:
        data = json.loads(text)
    except ValueError:
        try:
            data = yaml.load(text, Loader=_Loader)  # a SafeLoader with more constructors
        except yaml.YAMLError as error:
            raise TemplateError(f"the template is neither JSON nor YAML: {error}") from None
    if not isinstance(data, dict):
        raise TemplateError("the template is not a mapping of sections (Resources, Outputs, …)")
    return data


def walk(value: Any, change: Callable[[Any], Any]) -> Any:
    """`value` rebuilt bottom-up: every dict and list is rebuilt from its changed members, then `change`
    is applied to each node (leaves included); `change` returns the node itself to keep it."""
    if isinstance(value, dict):
        value = {key: walk(member, change) for key, member in value.items()}
    elif isinstance(value, list):
        value = [walk(member, change) for member in value]
    return change(value)


def dumps(template: dict[str, Any]) -> str:
    """The template as compact JSON text."""
    return json.dumps(template, separators=(",", ":"), default=str)
