"""Reading spec YAML safely (plain JSON data, bounded size) and writing stored specs back."""

from __future__ import annotations

from typing import Any

import pytest

from baryon.domain.specs import (
    MAX_SPEC_CHARS,
    dump_spec,
    load_spec_yaml,
    parse_service_spec,
)
from baryon.protocol.errors import ValidationException


def _message(text: str) -> str:
    with pytest.raises(ValidationException) as caught:
        load_spec_yaml(text)
    return caught.value.message


def test_plain_values_keep_their_json_types() -> None:
    assert load_spec_yaml("a: 1\nb: 1.5\nc: true\nd: null\ne: text\nf: [1, x]\ng: {h: 2}\n") == {
        "a": 1,
        "b": 1.5,
        "c": True,
        "d": None,
        "e": "text",
        "f": [1, "x"],
        "g": {"h": 2},
    }


def test_empty_text_and_comments_are_null() -> None:
    assert load_spec_yaml("") is None
    assert load_spec_yaml("# nothing here\n") is None


def test_dates_and_times_stay_strings() -> None:
    assert load_spec_yaml("day: 2024-01-31\nwhen: 2024-01-31T10:00:00Z\n") == {
        "day": "2024-01-31",
        "when": "2024-01-31T10:00:00Z",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "a: !!binary aGVsbG8=\n",
            "Spec is not valid YAML: line 1, column 4: the YAML tag !!binary is not supported",
        ),
        ("a: !!set {x}\n", "Spec is not valid YAML: line 1, column 4: the YAML tag !!set is not supported"),
        (
            "a: !!omap [b: 1]\n",
            "Spec is not valid YAML: line 1, column 4: the YAML tag !!omap is not supported",
        ),
        (
            "a: !!pairs [b: 1]\n",
            "Spec is not valid YAML: line 1, column 4: the YAML tag !!pairs is not supported",
        ),
        (
            "a: !!timestamp 2024-01-01\n",
            "Spec is not valid YAML: line 1, column 4: the YAML tag !!timestamp is not supported",
        ),
        (
            "a: !!python/object/apply:os.system [ls]\n",
            "Spec is not valid YAML: line 1, column 4: could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/object/apply:os.system'",
        ),
    ],
)
def test_unsafe_or_non_json_tags_are_refused(text: str, expected: str) -> None:
    assert _message(text) == expected


def test_non_string_keys_are_refused() -> None:
    assert _message("proton: ServiceSpec\non: 1\n") == (
        "Spec is not valid YAML: line 2, column 1: mapping key true is not a string; quote it"
    )
    assert (
        _message("1: x\n")
        == "Spec is not valid YAML: line 1, column 1: mapping key 1 is not a string; quote it"
    )
    assert (
        _message("~: x\n")
        == "Spec is not valid YAML: line 1, column 1: mapping key null is not a string; quote it"
    )


def test_duplicate_keys_are_refused() -> None:
    assert _message("spec:\n  port: 1\n  'port': 2\n") == (
        "Spec is not valid YAML: line 3, column 3: duplicate key 'port'"
    )


def test_non_finite_floats_and_huge_integers_are_refused() -> None:
    assert _message("a: .inf\n") == (
        "Spec is not valid YAML: line 1, column 4: '.inf' is not a finite number; "
        "quote the value if it is text"
    )
    assert _message("a: [1, .NaN]\n") == (
        "Spec is not valid YAML: line 1, column 8: '.NaN' is not a finite number; "
        "quote the value if it is text"
    )
    assert _message("a: 99999999999999999999\n") == (
        "Spec is not valid YAML: line 1, column 4: integers must fit in 64 bits; "
        "quote the value if it is text"
    )
    assert load_spec_yaml("a: 9223372036854775807\nb: -9223372036854775808\n") == {
        "a": 2**63 - 1,
        "b": -(2**63),
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: b: c\n", "Spec is not valid YAML: line 1, column 5: mapping values are not allowed here"),
        (
            "a: 'x\n",
            "Spec is not valid YAML: line 2, column 1: found unexpected end of stream "
            "(while scanning a quoted scalar at line 1, column 4)",
        ),
        (
            "a: 1\n---\nb: 2\n",
            "Spec is not valid YAML: line 2, column 1: but found another document "
            "(expected a single document in the stream at line 1, column 1)",
        ),
        (
            "a: 1\n\x07\n",
            "Spec is not valid YAML: line 2, column 1: unacceptable character #x0007 "
            "(special characters are not allowed)",
        ),
        (
            "proton: ServiceSpec\ninstances:\n  - name: a\n   environment: b\n",
            "Spec is not valid YAML: line 4, column 4: "
            "expected <block end>, but found '<block mapping start>' "
            "(while parsing a block collection at line 3, column 3)",
        ),
    ],
)
def test_syntax_errors_give_line_and_column(text: str, expected: str) -> None:
    assert _message(text) == expected


def test_billion_laughs_is_refused_quickly() -> None:
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for index in range(1, 10):
        previous, name = chr(ord("a") + index - 1), chr(ord("a") + index)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
    message = _message("\n".join(lines) + "\n")  # counted, never expanded: expanding would not end
    assert message == (
        "Spec is too large: it expands to more than 10000 values "
        "(YAML aliases and merge keys count as copies)"
    )


def test_merge_key_bomb_is_refused_quickly() -> None:
    lines = ["a: &a {k1: 1, k2: 2, k3: 3}"]
    for index in range(1, 26):
        previous, name = chr(ord("a") + index - 1), chr(ord("a") + index)
        lines.append(f"{name}: &{name} {{<<: [*{previous}, *{previous}, *{previous}]}}")
    message = _message("\n".join(lines) + "\n")  # counted, never expanded: expanding would not end
    assert message.startswith("Spec is too large: it expands to more than 10000 values")


def test_merge_keys_within_limits_are_expanded() -> None:
    assert load_spec_yaml("base: &b {x: 1, y: 2}\nmine:\n  <<: *b\n  y: 3\n") == {
        "base": {"x": 1, "y": 2},
        "mine": {"x": 1, "y": 3},
    }


def test_self_referencing_merge_is_refused() -> None:
    assert _message("a: &a {<<: *a}\n") == (
        "Spec is not valid YAML: line 1, column 4: a merge key (<<) refers to the mapping that contains it"
    )


def test_recursive_alias_and_deep_nesting_are_refused() -> None:
    too_deep = "Spec is nested more than 64 levels deep (or a YAML alias refers to itself)"
    assert _message("a: &a [*a]\n") == too_deep
    assert _message("[" * 500 + "]" * 500) == too_deep
    assert _message("a:\n" + "".join("  " * level + f"k{level}:\n" for level in range(1, 80))) == too_deep
    assert load_spec_yaml("[" * 60 + "]" * 60) is not None


def test_shared_aliases_become_separate_copies() -> None:
    document = load_spec_yaml("a: &x {k: [1]}\nb: *x\n")
    assert document == {"a": {"k": [1]}, "b": {"k": [1]}}
    assert document["a"] is not document["b"]
    assert document["a"]["k"] is not document["b"]["k"]


def test_overlong_text_is_refused() -> None:
    assert _message("a: " + "x" * MAX_SPEC_CHARS) == "Spec is longer than 51200 characters"


def test_dump_orders_keys_and_round_trips() -> None:
    document: dict[str, Any] = {
        "instances": [
            {"spec": {"port": 80, "image": "nginx:1"}, "environment": "dev", "name": "front"},
            {"environment": "prod", "name": "back"},
        ],
        "pipeline": {"dockerfile": "Dockerfile", "when": "2024-01-01"},
        "proton": "ServiceSpec",
    }
    text = dump_spec(document)
    assert text == (
        "proton: ServiceSpec\n"
        "pipeline:\n"
        "  dockerfile: Dockerfile\n"
        "  when: '2024-01-01'\n"
        "instances:\n"
        "- name: front\n"
        "  environment: dev\n"
        "  spec:\n"
        "    port: 80\n"
        "    image: nginx:1\n"
        "- name: back\n"
        "  environment: prod\n"
    )
    assert load_spec_yaml(text) == document
    assert parse_service_spec(text).instances[0].inputs == {"port": 80, "image": "nginx:1"}


def test_dump_writes_shared_objects_without_aliases() -> None:
    shared = {"k": "v"}
    text = dump_spec({"proton": "EnvironmentSpec", "spec": {"a": shared, "b": shared}})
    assert "&" not in text and "*" not in text
    assert text == "proton: EnvironmentSpec\nspec:\n  a:\n    k: v\n  b:\n    k: v\n"


def test_dump_keeps_text_that_looks_like_other_types_as_strings() -> None:
    document = {
        "proton": "EnvironmentSpec",
        "spec": {
            "a": "123",
            "b": "true",
            "c": "null",
            "d": "${Proton::CURRENT_VAL}",
            "e": "line one\nline two",
            "f": "héllo",
            "g": 1.5,
            "h": "x" * 200,
            "i": {},
        },
    }
    text = dump_spec(document)
    assert "héllo" in text
    assert "x" * 200 in text
    assert load_spec_yaml(text) == document


def test_nul_characters_and_numbers_beyond_reason_are_refused_before_conversion() -> None:
    assert _message('a: "x\\0y"\n') == (
        "Spec is not valid YAML: line 1, column 4: the NUL character (\\0) is not allowed"
    )
    assert (
        _message('"k\\0": 1\n')
        == "Spec is not valid YAML: line 1, column 1: the NUL character (\\0) is not allowed"
    )
    assert _message("a: " + "9" * 5000 + "\n") == (
        "Spec is not valid YAML: line 1, column 4: integers must fit in 64 bits; "
        "quote the value if it is text"
    )
    assert _message("a: 0x" + "f" * 5000 + "\n").endswith(
        "integers must fit in 64 bits; quote the value if it is text"
    )
    assert load_spec_yaml("a: 0b" + "1" * 62 + "\nb: -0x7fff_ffff_ffff_ffff\n") == {
        "a": 2**62 - 1,
        "b": -(2**63 - 1),
    }
