"""Strict undefined: missing leaves fail with file, line and path; `is defined` and `default` still work;
absent components render as empty mappings."""

from __future__ import annotations

from typing import Any

import pytest

from baryon.render import RenderError, render_template, service_instance_context

ENV = {"name": "dev", "account_id": "123456789012", "outputs": {"VpcId": "vpc-1"}}
SERVICE = {"name": "svc"}
INSTANCE = {"name": "inst", "inputs": {"port": 80, "items": "data-items", "keys": ["k"]}}
FILE = "instance_infrastructure/cloudformation.yaml"


def instance_ctx(component: dict[str, Any] | None = None) -> dict[str, Any]:
    return service_instance_context(environment=ENV, service=SERVICE, instance=INSTANCE, component=component)


def render(source: str, context: dict[str, Any] | None = None) -> str:
    return render_template(source, instance_ctx() if context is None else context, file_name=FILE)


def failure(source: str, context: dict[str, Any] | None = None) -> str:
    with pytest.raises(RenderError) as caught:
        render(source, context)
    return str(caught.value)


def test_missing_output_names_file_line_and_path() -> None:
    source = "Resources:\n" + "\n" * 10 + "  Vpc: '{{ environment.outputs.Missing }}'\n"
    with pytest.raises(RenderError) as caught:
        render(source)
    error = caught.value
    assert str(error) == f"{FILE}, line 12: environment.outputs.Missing is not defined"
    assert (error.file_name, error.line, error.detail) == (
        FILE,
        12,
        "environment.outputs.Missing is not defined",
    )


@pytest.mark.parametrize(
    ("expression", "path"),
    [
        ("servce.name", "servce"),
        ("service.nme", "service.nme"),
        ("service_instance.inputs.code_uri", "service_instance.inputs.code_uri"),
        ("service_instance.environment.outputs.Nope", "service_instance.environment.outputs.Nope"),
        ("environment.outputs['Missing-Key']", 'environment.outputs["Missing-Key"]'),
        ("environment.outputs.Missing.deeper.still", "environment.outputs.Missing"),
        ("service_instance.components.default.name", "service_instance.components.default.name"),
        ("service_instance.components.default.outputs.x", "service_instance.components.default.outputs.x"),
        ("service_instance.components.other", "service_instance.components.other"),
        ("service_instance.inputs.keys[3]", "service_instance.inputs.keys[3]"),
    ],
)
def test_missing_paths_are_named_as_written(expression: str, path: str) -> None:
    assert failure(f"x: {{{{ {expression} }}}}") == f"{FILE}, line 1: {path} is not defined"


def test_absent_component_renders_as_empty_mappings() -> None:
    source = (
        "{{ service_instance.components.default }} {{ service_instance.components.default.outputs }} "
        "{{ service_instance.components.default.outputs | length }} "
        "{{ service_instance.components.default.outputs | proton_cfn_iam_policy_arns }}|"
        "{% for k in service_instance.components.default.outputs %}never{% endfor %}"
    )
    assert render(source) == "{} {} 0 |"


def test_attached_component_is_visible() -> None:
    ctx = instance_ctx({"name": "bucket", "outputs": {"Arn": "arn:aws:s3:::b"}})
    assert (
        render(
            "{{ service_instance.components.default.name }} "
            "{{ service_instance.components.default.outputs.Arn }}",
            ctx,
        )
        == "bucket arn:aws:s3:::b"
    )
    assert failure("\n{{ service_instance.components.default.outputs.Other }}", ctx) == (
        f"{FILE}, line 2: service_instance.components.default.outputs.Other is not defined"
    )


@pytest.mark.parametrize(
    "expression",
    [
        "service_instance.inputs.code_uri",
        "service_instance.inputs.code_uri.deeper",
        "service_instance.components.default.name",
        "service_instance.components.default.outputs.x",
        "environment.outputs['a-b']",
        "nothing_at_all",
        "nothing_at_all.a.b",
    ],
)
def test_is_defined_and_default_work_on_missing_paths(expression: str) -> None:
    source = (
        f"{{% if {expression} is defined %}}yes{{% else %}}no{{% endif %}} "
        f"{{{{ {expression} is undefined }}}} {{{{ {expression} | default('fallback') }}}} "
        f"{{{{ {expression} | default(7) + 1 }}}}"
    )
    assert render(source) == "no true fallback 8"


def test_is_defined_is_true_for_present_values() -> None:
    source = (
        "{{ service_instance.inputs.port is defined }} {{ service_instance.inputs.port | default(1) }} "
        "{{ service_instance.components.default is defined }} "
        "{{ service_instance.components.default.outputs is defined }}"
    )
    assert render(source) == "true 80 true true"


def test_optional_input_pattern_from_the_proton_samples() -> None:
    source = (
        "Resources:\n"
        "{% if service_instance.inputs.code_uri is defined %}\n"
        "  Function:\n"
        "    CodeUri: {{ service_instance.inputs.code_uri }}\n"
        "{% else %}\n"
        "  Placeholder:\n"
        "    Port: {{ service_instance.inputs.port }}\n"
        "{% endif %}\n"
    )
    assert render(source).split() == ["Resources:", "Placeholder:", "Port:", "80"]


@pytest.mark.parametrize(
    "source",
    [
        "{% if service_instance.inputs.flag %}x{% endif %}",
        "{% if service_instance.inputs.flag == 'x' %}x{% endif %}",
        "{% for x in service_instance.inputs.flag %}{% endfor %}",
        "{{ service_instance.inputs.flag ~ 'x' }}",
        "{{ service_instance.inputs.flag + 1 }}",
        "{{ service_instance.inputs.flag | length }}",
        "{{ service_instance.inputs.flag | upper }}",
    ],
)
def test_any_other_use_of_a_missing_value_fails(source: str) -> None:
    assert failure(source) == f"{FILE}, line 1: service_instance.inputs.flag is not defined"


def test_loop_items_are_named_by_their_index() -> None:
    ctx = {"service_instances": [{"name": "a", "outputs": {"Url": "u"}}, {"name": "b", "outputs": {}}]}
    source = "{% for si in service_instances %}\n{{ si.name }}={{ si.outputs.Url }}\n{% endfor %}"
    assert failure(source, ctx) == f"{FILE}, line 2: service_instances[1].outputs.Url is not defined"
    assert (
        failure("{{ service_instances[5].name }}", ctx)
        == f"{FILE}, line 1: service_instances[5] is not defined"
    )


def test_line_inside_a_macro_is_the_macros_line() -> None:
    source = "{% macro m() %}\nok\n{{ environment.outputs.Nope }}\n{% endmacro %}\nline 5\n{{ m() }}\n"
    assert failure(source) == f"{FILE}, line 3: environment.outputs.Nope is not defined"


def test_template_made_values_keep_jinjas_message() -> None:
    assert failure("{% set d = {'a': 1} %}{{ d.b }}") == f"{FILE}, line 1: 'dict object' has no attribute 'b'"


def test_mapping_keys_win_over_dict_methods() -> None:
    assert (
        render("{{ service_instance.inputs.items }} {{ service_instance.inputs.keys }}") == 'data-items ["k"]'
    )
    assert render("{% for k, v in environment.outputs.items() %}{{ k }}={{ v }}{% endfor %}") == "VpcId=vpc-1"


def test_macro_parameter_not_provided() -> None:
    assert failure("{% macro m(a) %}{{ a }}{% endmacro %}{{ m() }}") == (
        f"{FILE}, line 1: parameter 'a' was not provided"
    )


@pytest.mark.parametrize(
    ("expression", "path"),
    [
        ("environment.outputs.Missing | tojson", "environment.outputs.Missing"),
        ("[service.name, environment.outputs.Missing] | tojson", "environment.outputs.Missing"),
        ("{'a': {'b': service_instance.inputs.nope}} | tojson(2)", "service_instance.inputs.nope"),
    ],
)
def test_tojson_of_a_missing_value_names_the_path(expression: str, path: str) -> None:
    assert failure("line 1\n{{ " + expression + " }}") == f"{FILE}, line 2: {path} is not defined"


def test_tojson_of_a_lookup_table_miss_is_a_render_error_not_a_type_error() -> None:
    source = "{{ {'ruby2.7': {'ruby': '2.7'}}[environment.outputs.VpcId] | tojson | safe }}"
    assert failure(source) == f"{FILE}, line 1: 'dict object' has no attribute 'vpc-1'"
