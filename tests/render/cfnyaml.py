"""Loading rendered CloudFormation YAML in tests: a safe loader that accepts the short-form intrinsic
tags (``!Ref``, ``!Sub``, ``!GetAtt``, ``!FindInMap`` …) and turns each into ``{"!Tag": value}``,
so assertions can look inside them. Timestamps stay strings, as CloudFormation reads them."""

from __future__ import annotations

from typing import Any

import yaml

from baryon.render import render_template


class CfnLoader(yaml.SafeLoader):
    """SafeLoader + CloudFormation short-form tags; no timestamp resolution."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    return {f"!{suffix}": value}


CfnLoader.add_multi_constructor("!", _intrinsic)


def load_cfn(text: str) -> Any:
    """Parse rendered CloudFormation YAML (fails the test if it is not valid YAML)."""
    return yaml.load(text, Loader=CfnLoader)  # CfnLoader derives from SafeLoader


def render(
    source: str, context: dict[str, Any] | None = None, *, file_name: str = "cloudformation.yaml"
) -> str:
    """Shorthand for render_template with a default file name."""
    return render_template(source, context or {}, file_name=file_name)
