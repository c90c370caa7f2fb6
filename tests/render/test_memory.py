"""Rendering is bounded in memory: strings by their bytes, output buffers as they grow, calls by depth.

Peaks are measured with tracemalloc (bytes allocated by Python while rendering), not wall time. Before
these bounds, one template below (a recursive macro over a 999,999-emoji string, kept alive at every
level) peaked at about 670 MB; four at once took a worker past 2 GB."""

from __future__ import annotations

import tracemalloc
from typing import Any

import pytest

from baryon.render import RenderError, render_template

EMOJI = "\U0001f600"
RECURSIVE = (
    '{% set s = "' + EMOJI + '" * COUNT %}'
    '{% macro f(x) %}{% set y = x[1:] ~ "' + EMOJI + '" %}{{ f(y) }}{% endmacro %}{{ f(s) }}'
)
TOO_DEEP = (
    "t.yaml, line 1: recursion too deep: macros and recursive loops nest more than 32 calls deep "
    "(does a macro call itself without end?)"
)


def _failure(source: str, context: dict[str, Any] | None = None) -> str:
    with pytest.raises(RenderError) as caught:
        render_template(source, context or {}, file_name="t.yaml")
    return str(caught.value)


def _measured(source: str) -> tuple[str, int]:
    tracemalloc.start()
    try:
        message = _failure(source)
        return message, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_million_emoji_is_four_megabytes_and_refused() -> None:
    message, peak = _measured(RECURSIVE.replace("COUNT", "999999"))
    assert message == "t.yaml, line 1: a string of 3999996 bytes exceeds the limit of 1000000 bytes"
    assert peak < 5_000_000


def test_four_recursive_macros_over_the_largest_string_stay_small() -> None:
    # The largest emoji string allowed, copied at every level of a recursion that never ends.
    for _ in range(4):
        message, peak = _measured(RECURSIVE.replace("COUNT", "249999"))
        assert message == TOO_DEEP
        assert peak < 80_000_000


def test_a_loop_inside_a_macro_cannot_pile_up_output() -> None:
    source = (
        "{% macro m(x) %}{% for i in range(100000) %}{{ x }}{% endfor %}{% endmacro %}{{ m('a' * 600000) }}"
    )
    message, peak = _measured(source)
    assert message == "t.yaml, line 1: a string of 1200000 bytes exceeds the limit of 1000000 bytes"
    assert peak < 5_000_000


@pytest.mark.parametrize(
    "source",
    [
        "{% set s %}{% for i in range(100000) %}{{ '" + EMOJI + "' * 100000 }}{% endfor %}{% endset %}",
        "{% filter upper %}{% for i in range(100000) %}{{ '" + EMOJI + "' * 100000 }}{% endfor %}"
        "{% endfilter %}",
        "{% macro m() %}{{ caller() }}{% endmacro %}{% call m() %}{% for i in range(100000) %}"
        "{{ '" + EMOJI + "' * 100000 }}{% endfor %}{% endcall %}",
    ],
)
def test_blocks_are_bounded_in_bytes_as_they_fill(source: str) -> None:
    message, peak = _measured(source)
    assert message == "t.yaml, line 1: a string of 1200000 bytes exceeds the limit of 1000000 bytes"
    assert peak < 5_000_000


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ '" + EMOJI + "' * 250001 }}", "a string of 1000004 bytes exceeds the limit of 1000000 bytes"),
        (
            "{{ 'a' ~ '" + EMOJI + "' * 250000 }}",
            "a string of 1000004 bytes exceeds the limit of 1000000 bytes",
        ),
        (
            "{{ ('" + EMOJI + "' * 200000) + ('" + EMOJI + "' * 60000) }}",
            "a string of 1040000 bytes exceeds the limit of 1000000 bytes",
        ),
        (
            "{{ ('" + EMOJI + "' * 2).center(300000) }}",
            "a string of 1200000 bytes exceeds the limit of 1000000 bytes",
        ),
        (
            "{{ ('" + EMOJI + "' * 200000) | replace('" + EMOJI + "', '" + EMOJI * 2 + "') }}",
            "a string of 1600000 bytes exceeds the limit of 1000000 bytes",
        ),
        (
            "{{ (['" + EMOJI + "' * 100000] * 3) | join }}",
            "a string of 1200000 bytes exceeds the limit of 1000000 bytes",
        ),
        (
            "{{ ('" + EMOJI + "' * 200000) | list | length }}",
            "a list of 200000 items exceeds the limit of 100000 items",
        ),
    ],
)
def test_string_growth_is_measured_in_bytes(source: str, message: str) -> None:
    assert _failure(source) == f"t.yaml, line 1: {message}"


def test_output_is_measured_in_utf8_bytes() -> None:
    emoji = "{% for i in range(2) %}{{ '" + EMOJI + "' * 100000 }}{% endfor %}"
    assert len(render_template(emoji, {}, file_name="t.yaml")) == 200_000
    assert _failure(emoji.replace("range(2)", "range(3)")) == (
        "t.yaml, line 1: rendered output exceeds the limit of 1000000 bytes"
    )
    accents = "{{ '\u00e9' * 400000 }}{{ '\u00e9' * 100001 }}"
    assert _failure(accents) == "t.yaml, line 1: rendered output exceeds the limit of 1000000 bytes"


def test_calls_nest_at_most_32_deep() -> None:
    counting = "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{% else %}bottom{% endif %}{% endmacro %}{{ f(N) }}"
    assert render_template(counting.replace("N", "31"), {}, file_name="t.yaml") == "bottom"
    assert _failure(counting.replace("N", "32")) == TOO_DEEP
    loop = (
        "{% for x in [[[[1]]]] recursive %}"
        "{% if x is iterable %}{{ loop(x) }}{% else %}{{ x }}{% endif %}{% endfor %}"
    )
    assert render_template(loop, {}, file_name="t.yaml") == "1"
    endless = "{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}"
    assert _failure(endless) == TOO_DEEP
