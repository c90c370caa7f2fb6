"""The four Proton filters: exact output, quoting, indentation at the expression's column, errors."""

from __future__ import annotations

from typing import Any

import pytest

from baryon.render import RenderError
from tests.render.cfnyaml import load_cfn, render

OUTPUTS = {"VpcId": "vpc-1", "TopicArn": "arn:aws:sns:us-east-1:123456789012:topic"}
POLICIES = {
    "BucketArn": "arn:aws:s3:::bucket",
    "ReadPolicyArn": "arn:aws:iam::123456789012:policy/read",
    "Name": "just-a-name",
    "ManagedByAws": "arn:aws:iam::aws:policy/ReadOnlyAccess",
    "GovPolicyArn": "arn:aws-us-gov:iam::123456789012:policy/team/write",
    "RoleArn": "arn:aws:iam::123456789012:role/r",
}


def ctx(outputs: dict[str, Any]) -> dict[str, Any]:
    return {"environment": {"outputs": outputs}}


def failure(source: str, context: dict[str, Any] | None = None) -> str:
    with pytest.raises(RenderError) as caught:
        render(source, context)
    return str(caught.value)


# -- proton_cfn_ecs_task_definition_formatted_env_vars ---------------------------------------------


def test_ecs_env_vars_exact_output_indented_to_the_column() -> None:
    source = (
        "Environment:\n        {{ environment.outputs | proton_cfn_ecs_task_definition_formatted_env_vars }}"
    )
    assert render(source, ctx(OUTPUTS)) == (
        "Environment:\n"
        "        - Name: VpcId\n"
        "          Value: vpc-1\n"
        "        - Name: TopicArn\n"
        "          Value: arn:aws:sns:us-east-1:123456789012:topic"
    )


@pytest.mark.parametrize("column", [0, 2, 6, 12])
def test_ecs_env_vars_at_any_column(column: int) -> None:
    pad = " " * column
    source = f"{pad}{{{{ environment.outputs | proton_cfn_ecs_task_definition_formatted_env_vars }}}}"
    lines = render(source, ctx(OUTPUTS)).split("\n")
    assert lines == [
        f"{pad}- Name: VpcId",
        f"{pad}  Value: vpc-1",
        f"{pad}- Name: TopicArn",
        f"{pad}  Value: arn:aws:sns:us-east-1:123456789012:topic",
    ]


def test_ecs_env_vars_append_to_an_existing_list_and_load_as_yaml() -> None:
    source = (
        "Environment:\n"
        "  - Name: FIXED\n"
        "    Value: one\n"
        "  {{ environment.outputs | proton_cfn_ecs_task_definition_formatted_env_vars }}\n"
        "Next: 1\n"
    )
    assert load_cfn(render(source, ctx(OUTPUTS))) == {
        "Environment": [
            {"Name": "FIXED", "Value": "one"},
            {"Name": "VpcId", "Value": "vpc-1"},
            {"Name": "TopicArn", "Value": "arn:aws:sns:us-east-1:123456789012:topic"},
        ],
        "Next": 1,
    }


def test_ecs_env_vars_of_an_empty_mapping_is_empty() -> None:
    assert (
        render("  {{ environment.outputs | proton_cfn_ecs_task_definition_formatted_env_vars }}|", ctx({}))
        == "  |"
    )


def test_ecs_env_vars_turn_typed_values_into_strings() -> None:
    inputs = {"service_instance": {"inputs": {"PORT": 8080, "DEBUG": True, "RATIO": 0.5, "EMPTY": None}}}
    text = render("{{ service_instance.inputs | proton_cfn_ecs_task_definition_formatted_env_vars }}", inputs)
    assert text == (
        '- Name: PORT\n  Value: "8080"\n'
        '- Name: DEBUG\n  Value: "true"\n'
        '- Name: RATIO\n  Value: "0.5"\n'
        '- Name: EMPTY\n  Value: ""'
    )
    assert load_cfn(text) == [
        {"Name": "PORT", "Value": "8080"},
        {"Name": "DEBUG", "Value": "true"},
        {"Name": "RATIO", "Value": "0.5"},
        {"Name": "EMPTY", "Value": ""},
    ]


def test_ecs_env_vars_raw_false_accepts_safe_values() -> None:
    text = render(
        "{{ environment.outputs | proton_cfn_ecs_task_definition_formatted_env_vars(raw=False) }}",
        ctx({"A": "abc_DEF-123", "B": ""}),
    )
    assert text == '- Name: A\n  Value: abc_DEF-123\n- Name: B\n  Value: ""'


@pytest.mark.parametrize("value", ["a b", "arn:aws:sns:us-east-1:123456789012:t", "x.y", "é"])
def test_ecs_env_vars_raw_false_refuses_other_values(value: str) -> None:
    message = failure(
        "Env:\n  {{ environment.outputs | proton_cfn_ecs_task_definition_formatted_env_vars(raw=False) }}",
        ctx({"OK": "fine", "BAD": value}),
    )
    assert message == (
        f'cloudformation.yaml, line 2: Illegal character(s) detected in "{value}". '
        "Must match regex ^[a-zA-Z0-9_-]*$"
    )


def test_ecs_env_vars_raw_must_be_a_boolean() -> None:
    assert failure(
        "{{ environment.outputs | proton_cfn_ecs_task_definition_formatted_env_vars(raw='no') }}",
        ctx(OUTPUTS),
    ) == (
        "cloudformation.yaml, line 1: proton_cfn_ecs_task_definition_formatted_env_vars: "
        "raw must be true or false, got a string"
    )


# -- proton_cfn_lambda_function_formatted_env_vars -------------------------------------------------


def test_lambda_env_vars_exact_output_and_yaml() -> None:
    source = (
        "Environment:\n"
        "  Variables:\n"
        "    STAGE: dev\n"
        "    {{ environment.outputs | proton_cfn_lambda_function_formatted_env_vars }}\n"
    )
    text = render(source, ctx(OUTPUTS))
    assert text == (
        "Environment:\n"
        "  Variables:\n"
        "    STAGE: dev\n"
        "    VpcId: vpc-1\n"
        "    TopicArn: arn:aws:sns:us-east-1:123456789012:topic\n"
    )
    assert load_cfn(text) == {
        "Environment": {
            "Variables": {
                "STAGE": "dev",
                "VpcId": "vpc-1",
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:topic",
            }
        }
    }


def test_lambda_env_vars_raw_false() -> None:
    ok = render(
        "{{ environment.outputs | proton_cfn_lambda_function_formatted_env_vars(false) }}", ctx({"A": "b"})
    )
    assert ok == "A: b"
    assert failure(
        "{{ environment.outputs | proton_cfn_lambda_function_formatted_env_vars(raw=False) }}", ctx(OUTPUTS)
    ) == (
        "cloudformation.yaml, line 1: "
        'Illegal character(s) detected in "arn:aws:sns:us-east-1:123456789012:topic". '
        "Must match regex ^[a-zA-Z0-9_-]*$"
    )


def test_lambda_env_vars_quote_keys_that_need_it() -> None:
    text = render(
        "{{ environment.outputs | proton_cfn_lambda_function_formatted_env_vars }}",
        ctx({"a key": "v", "yes": "no"}),
    )
    assert text == '"a key": v\n"yes": "no"'
    assert load_cfn(text) == {"a key": "v", "yes": "no"}


# -- proton_cfn_iam_policy_arns --------------------------------------------------------------------


def test_iam_policy_arns_keep_only_customer_policy_arns() -> None:
    source = "ManagedPolicyArns:\n  - !Ref Base\n  {{ environment.outputs | proton_cfn_iam_policy_arns }}\n"
    text = render(source, ctx(POLICIES))
    assert text == (
        "ManagedPolicyArns:\n"
        "  - !Ref Base\n"
        "  - arn:aws:iam::123456789012:policy/read\n"
        "  - arn:aws-us-gov:iam::123456789012:policy/team/write\n"
    )
    assert load_cfn(text) == {
        "ManagedPolicyArns": [
            {"!Ref": "Base"},
            "arn:aws:iam::123456789012:policy/read",
            "arn:aws-us-gov:iam::123456789012:policy/team/write",
        ]
    }


def test_iam_policy_arns_of_nothing_is_empty_and_leaves_valid_yaml() -> None:
    source = (
        "ManagedPolicyArns:\n  - !Ref Base\n  {{ environment.outputs | proton_cfn_iam_policy_arns }}\nNext: 1"
    )
    text = render(source, ctx({"Name": "x"}))
    assert text == "ManagedPolicyArns:\n  - !Ref Base\n  \nNext: 1"
    assert load_cfn(text) == {"ManagedPolicyArns": [{"!Ref": "Base"}], "Next": 1}
    assert render("{{ environment.outputs | proton_cfn_iam_policy_arns }}", ctx({})) == ""


def test_iam_policy_arns_quote_unusual_policy_names() -> None:
    text = render(
        "{{ environment.outputs | proton_cfn_iam_policy_arns }}",
        ctx({"P": "arn:aws:iam::123456789012:policy/a,b"}),
    )
    assert text == '- "arn:aws:iam::123456789012:policy/a,b"'


def test_multiline_expression_with_filter_on_the_next_line() -> None:
    source = (
        "Role:\n"
        "  ManagedPolicyArns:\n"
        "    - !Ref Base\n"
        "    {{ environment.outputs\n"
        "        | proton_cfn_iam_policy_arns }}\n"
    )
    assert load_cfn(render(source, ctx(POLICIES))) == {
        "Role": {
            "ManagedPolicyArns": [
                {"!Ref": "Base"},
                "arn:aws:iam::123456789012:policy/read",
                "arn:aws-us-gov:iam::123456789012:policy/team/write",
            ]
        }
    }


# -- proton_cfn_sanitize ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "",
        "abc",
        "My_Name-01",
        "arn:aws:iam::123456789012:role/service-role/my-role",
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
        "arn:aws:s3:::my-bucket/path/*",
        "arn:aws-cn:sns:cn-north-1:123456789012:topic",
        "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f:1",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:a+b=c,d.e@f-AbCdEf",
    ],
)
def test_sanitize_passes_safe_names_and_arns(value: str) -> None:
    assert render("{{ environment.outputs.V | proton_cfn_sanitize }}", ctx({"V": value})) == value


def test_sanitize_turns_numbers_and_booleans_into_text() -> None:
    assert render("{{ 8080 | proton_cfn_sanitize }} {{ true | proton_cfn_sanitize }}") == "8080 true"


@pytest.mark.parametrize(
    "value",
    [
        "a b",
        "a.b",
        "name;rm -rf",
        "x'y",
        "line\nbreak",
        "arn:aws:s3:::bucket name",
        "arn:aws:s3:::b'; evil",
        "arn:aws:sns:us-east-1:123:t",
        "arn:other:s3:::b",
        "arn:aws:s3:::${AWS::Region}",
    ],
)
def test_sanitize_refuses_everything_else_with_protons_message(value: str) -> None:
    assert failure("Name: {{ environment.outputs.V | proton_cfn_sanitize }}", ctx({"V": value})) == (
        f'cloudformation.yaml, line 1: Illegal character(s) detected in "{value}". '
        "Must match regex ^[a-zA-Z0-9_-]*$ or be a valid ARN"
    )


# -- argument errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "got"),
    [
        ("'text'", "a string"),
        ("[1, 2]", "a list"),
        ("3", "a number"),
        ("none", "null"),
    ],
)
@pytest.mark.parametrize(
    "name",
    [
        "proton_cfn_ecs_task_definition_formatted_env_vars",
        "proton_cfn_lambda_function_formatted_env_vars",
        "proton_cfn_iam_policy_arns",
    ],
)
def test_mapping_filters_refuse_other_values(expression: str, got: str, name: str) -> None:
    assert failure(f"{{{{ {expression} | {name} }}}}") == (
        f"cloudformation.yaml, line 1: {name} expects a mapping (such as environment.outputs), got {got}"
    )


@pytest.mark.parametrize(
    "name",
    [
        "proton_cfn_ecs_task_definition_formatted_env_vars",
        "proton_cfn_lambda_function_formatted_env_vars",
        "proton_cfn_iam_policy_arns",
        "proton_cfn_sanitize",
    ],
)
def test_filters_on_a_missing_value_name_it(name: str) -> None:
    assert failure(f"\n{{{{ environment.outputs.Nope | {name} }}}}", ctx({})) == (
        "cloudformation.yaml, line 2: environment.outputs.Nope is not defined"
    )


# -- quoting ---------------------------------------------------------------------------------------

TRICKY = [
    "",
    " leading space",
    "trailing space ",
    "true",
    "False",
    "yes",
    "off",
    "null",
    "~",
    "8080",
    "0x1F",
    "1e3",
    "1_000",
    "1:30",
    ".inf",
    "2024-01-01",
    "=",
    "-",
    "-dash",
    "@at",
    "key: value",
    "ends:",
    "a #comment",
    "#hash",
    "a,b",
    "[x]",
    "{y}",
    "*star",
    "&anchor",
    "!tag",
    "|pipe",
    ">fold",
    "%percent",
    "'single'",
    '"double"',
    "back\\slash",
    "multi\nline",
    "tab\there",
    "nel\x85x",
    "ls\u2028x",
    "bom\ufeffx",
    "del\x7fx",
    "ctrl\x01x",
    "üñíçødé",
    "emoji 😀",
    "...",
    "---",
    "http://example.com/a?b=c&d",
    "arn:aws:s3:::bucket",
]


@pytest.mark.parametrize("value", TRICKY)
def test_filter_values_read_back_as_the_same_string(value: str) -> None:
    source = (
        "Task:\n"
        "  Environment:\n"
        "    {{ environment.outputs | proton_cfn_ecs_task_definition_formatted_env_vars }}\n"
        "  Variables:\n"
        "    {{ environment.outputs | proton_cfn_lambda_function_formatted_env_vars }}\n"
    )
    loaded = load_cfn(render(source, ctx({"K": value, value or "EMPTY": "v"})))
    assert loaded["Task"]["Environment"][0] == {"Name": "K", "Value": value}
    assert loaded["Task"]["Environment"][1] == {"Name": value or "EMPTY", "Value": "v"}
    assert loaded["Task"]["Variables"] == {"K": value, value or "EMPTY": "v"}


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("plain-value_1", "plain-value_1"),
        ("arn:aws:s3:::b/k.txt", "arn:aws:s3:::b/k.txt"),
        ("a/b.c@d+e=f", "a/b.c@d+e=f"),
        ("", '""'),
        ("true", '"true"'),
        ("8080", '"8080"'),
        ("2024-01-01", '"2024-01-01"'),
        ("a b", '"a b"'),
        ("a: b", '"a: b"'),
        ("#x", '"#x"'),
        ("-x", '"-x"'),
        ("x:", '"x:"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("two\nlines", '"two\\nlines"'),
        ("ls\u2028x", '"ls\\u2028x"'),
    ],
)
def test_quoting_rule(value: str, written: str) -> None:
    assert render(
        "{{ environment.outputs | proton_cfn_lambda_function_formatted_env_vars }}", ctx({"K": value})
    ) == (f"K: {written}")
