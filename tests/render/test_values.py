"""How typed values print: booleans, none, numbers, lists and mappings (the ``{{ }}`` text rule)."""

from __future__ import annotations

from typing import Any

import pytest

from baryon.render import environment_context
from tests.render.cfnyaml import load_cfn, render

INPUTS: dict[str, Any] = {
    "name": "web",
    "port": 8080,
    "ratio": 0.25,
    "enabled": True,
    "disabled": False,
    "nothing": None,
    "subnets": ["subnet-1", "subnet-2"],
    "tags": {"team": "a", "cost": 3},
    "nested": [{"a": [1, True, None]}],
    "unicode": ["é", "😀", "line\nbreak"],
}
CTX = environment_context(name="dev", account_id="123456789012", inputs=INPUTS)


@pytest.mark.parametrize(
    ("expression", "text"),
    [
        ("environment.inputs.name", "web"),
        ("environment.inputs.port", "8080"),
        ("environment.inputs.ratio", "0.25"),
        ("environment.inputs.enabled", "true"),
        ("environment.inputs.disabled", "false"),
        ("environment.inputs.nothing", ""),
        ("environment.inputs.subnets", '["subnet-1", "subnet-2"]'),
        ("environment.inputs.tags", '{"team": "a", "cost": 3}'),
        ("environment.inputs.nested", '[{"a": [1, true, null]}]'),
        ("environment.inputs.unicode", '["é", "😀", "line\\nbreak"]'),
        ("true", "true"),
        ("False", "false"),
        ("none", ""),
        ("[1, 'a', true, none]", '[1, "a", true, null]'),
        ("(1, 2)", "[1, 2]"),
        ("{}", "{}"),
        ("environment.inputs.port + 1", "8081"),
        ("environment.inputs.port * 2", "16160"),
        ("environment.inputs.subnets | length", "2"),
        ("environment.inputs.subnets[0]", "subnet-1"),
        ("environment.inputs.subnets | join(',')", "subnet-1,subnet-2"),
        ("environment.inputs.tags.cost", "3"),
        ("'port-' ~ environment.inputs.port ~ '-' ~ environment.inputs.enabled", "port-8080-true"),
        ("'s=' ~ environment.inputs.subnets", 's=["subnet-1", "subnet-2"]'),
        ("environment.inputs.enabled | string", "true"),
        ("environment.inputs.nothing | string", ""),
        ("environment.inputs.tags | tojson", '{"cost": 3, "team": "a"}'),
        ("environment.inputs.subnets | map('upper') | list", '["SUBNET-1", "SUBNET-2"]'),
    ],
)
def test_values_print_by_the_text_rule(expression: str, text: str) -> None:
    assert render(f"{{{{ {expression} }}}}", CTX) == text


def test_typed_values_make_valid_yaml_with_their_types() -> None:
    source = (
        "Parameters:\n"
        "  Port: {{ environment.inputs.port }}\n"
        "  Ratio: {{ environment.inputs.ratio }}\n"
        "  Enabled: {{ environment.inputs.enabled }}\n"
        "  Disabled: {{ environment.inputs.disabled }}\n"
        "  Subnets: {{ environment.inputs.subnets }}\n"
        "  Tags: {{ environment.inputs.tags }}\n"
        "  Nested: {{ environment.inputs.nested }}\n"
        "  Unicode: {{ environment.inputs.unicode }}\n"
        "  Quoted: '{{ environment.inputs.subnets }}'\n"
        "  Joined: !Join [',', {{ environment.inputs.subnets }}]\n"
        "  Empty: '{{ environment.inputs.nothing }}'\n"
    )
    assert load_cfn(render(source, CTX)) == {
        "Parameters": {
            "Port": 8080,
            "Ratio": 0.25,
            "Enabled": True,
            "Disabled": False,
            "Subnets": ["subnet-1", "subnet-2"],
            "Tags": {"team": "a", "cost": 3},
            "Nested": [{"a": [1, True, None]}],
            "Unicode": ["é", "😀", "line\nbreak"],
            "Quoted": '["subnet-1", "subnet-2"]',
            "Joined": {"!Join": [",", ["subnet-1", "subnet-2"]]},
            "Empty": "",
        }
    }


def test_yaml_unsafe_characters_in_lists_are_escaped() -> None:
    ctx = environment_context(name="dev", account_id="1", inputs={"l": ["a\u2028b", "c\x85d", "e\x7ff"]})
    text = render("V: {{ environment.inputs.l }}", ctx)
    assert text == 'V: ["a\\u2028b", "c\\u0085d", "e\\u007ff"]'
    assert load_cfn(text) == {"V": ["a\u2028b", "c\x85d", "e\x7ff"]}


def test_output_keeps_the_trailing_newline_and_line_endings() -> None:
    assert render("a: 1\n\nb: 2\n") == "a: 1\n\nb: 2\n"
    assert render("a: 1") == "a: 1"
