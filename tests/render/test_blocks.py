"""Indentation of multi-line filter output: resolved at the column where the block lands in the output."""

from __future__ import annotations

from typing import Any

from tests.render.cfnyaml import load_cfn, render

CTX: dict[str, Any] = {
    "environment": {"outputs": {"A": "1a", "B": "2b"}},
    "service_instances": [
        {"name": "one", "outputs": {"X": "x1"}},
        {"name": "two", "outputs": {"Y": "y2", "Z": "z2"}},
    ],
}
LAMBDA = "proton_cfn_lambda_function_formatted_env_vars"


def test_block_inside_a_loop() -> None:
    source = (
        "Functions:\n"
        "{% for si in service_instances %}\n"
        "  {{ si.name }}:\n"
        "    Variables:\n"
        f"      {{{{ si.outputs | {LAMBDA} }}}}\n"
        "{% endfor %}\n"
    )
    assert load_cfn(render(source, CTX)) == {
        "Functions": {"one": {"Variables": {"X": "x1"}}, "two": {"Variables": {"Y": "y2", "Z": "z2"}}}
    }


def test_block_stored_with_set_is_indented_where_it_is_printed() -> None:
    source = (
        f"{{% set vars = environment.outputs | {LAMBDA} %}}a:\n  {{{{ vars }}}}\nb:\n      {{{{ vars }}}}\n"
    )
    assert render(source, CTX) == "a:\n  A: 1a\n  B: 2b\nb:\n      A: 1a\n      B: 2b\n"


def test_block_from_a_macro() -> None:
    source = (
        f"{{% macro variables(values) %}}{{{{ values | {LAMBDA} }}}}{{% endmacro %}}"
        "Outer:\n"
        "    {{ variables(environment.outputs) }}\n"
    )
    assert render(source, CTX) == "Outer:\n    A: 1a\n    B: 2b\n"


def test_block_with_whitespace_control() -> None:
    source = (
        f"Vars:\n  {{%- if true %}}\n  {{{{ environment.outputs | {LAMBDA} }}}}\n  {{%- endif %}}\nEnd: 1\n"
    )
    text = render(source, CTX)
    assert text == "Vars:\n  A: 1a\n  B: 2b\nEnd: 1\n"
    assert load_cfn(text) == {"Vars": {"A": "1a", "B": "2b"}, "End": 1}


def test_block_after_text_aligns_continuations_with_its_first_line() -> None:
    assert render(f"- {{{{ environment.outputs | {LAMBDA} }}}}", CTX) == "- A: 1a\n  B: 2b"
    assert load_cfn(render(f"- {{{{ environment.outputs | {LAMBDA} }}}}", CTX)) == [{"A": "1a", "B": "2b"}]


def test_two_blocks_on_consecutive_lines() -> None:
    source = (
        f"  {{{{ environment.outputs | {LAMBDA} }}}}\n    {{{{ service_instances[1].outputs | {LAMBDA} }}}}"
    )
    assert render(source, CTX) == "  A: 1a\n  B: 2b\n    Y: y2\n    Z: z2"


def test_marker_characters_from_outside_are_neutralised() -> None:
    context = {"environment": {"outputs": {"A": "x\ufdd1y", "\ufdd0": "z"}}}
    assert render("{{ environment.outputs.A }}|\ufdd0|\ufdd1", context) == "x\ufffdy|\ufffd|\ufffd"
    text = render(f"k:\n  {{{{ environment.outputs | {LAMBDA} }}}}", context)
    assert text == 'k:\n  A: "x\ufffdy"\n  "\ufffd": z'
    assert load_cfn(text) == {"k": {"A": "x\ufffdy", "\ufffd": "z"}}
