"""The sandbox: no Python internals, no files, capped ranges, strings, steps, time and output; every
failure is a RenderError with the file and line, never a hang, a crash or another exception type."""

from __future__ import annotations

import itertools
import pickle
from typing import Any

import pytest

from baryon.render import RenderError, RenderLimits, render_template

CTX: dict[str, Any] = {"environment": {"name": "dev", "outputs": {"VpcId": "vpc-1"}}}


def failure(source: str, limits: RenderLimits | None = None, context: dict[str, Any] | None = None) -> str:
    with pytest.raises(RenderError) as caught:
        render_template(source, CTX if context is None else context, file_name="t.yaml", limits=limits)
    return str(caught.value)


# -- Python internals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ ''.__class__.__mro__ }}", "access to attribute '__class__' of 'str' object is unsafe."),
        ("{{ environment.__class__ }}", "access to attribute '__class__' of 'dict' object is unsafe."),
        (
            "{{ ''.__class__.__mro__[1].__subclasses__() }}",
            "access to attribute '__class__' of 'str' object is unsafe.",
        ),
        ("{{ cycler.__init__.__globals__ }}", "access to attribute '__init__' of 'type' object is unsafe."),
        ("{{ range.__self__ }}", "access to attribute '__self__' of 'method' object is unsafe."),
        ("{{ (1).__class__ }}", "access to attribute '__class__' of 'int' object is unsafe."),
        ("{{ '{0.__class__}'.format('') }}", "access to attribute '__class__' of 'str' object is unsafe."),
        ("{{ 'x' | attr('__class__') }}", "access to attribute '__class__' of 'str' object is unsafe."),
        (
            "{{ [''] | map(attribute='__class__') | list }}",
            "access to attribute '__class__' of 'str' object is unsafe.",
        ),
        (
            "{{ self._TemplateReference__context }}",
            "access to attribute '_TemplateReference__context' of 'TemplateReference' object is unsafe.",
        ),
        ("{{ environment.outputs.pop('VpcId') }}", "access to attribute 'pop' of 'dict' object is unsafe."),
        ("{{ environment.outputs.update({}) }}", "access to attribute 'update' of 'dict' object is unsafe."),
        ("{{ lipsum(10**6) }}", "lipsum is not defined"),
        ("{{ config }}", "config is not defined"),
        ("{{ 'ab'.translate({97: 'x' * 1000}) }}", "str.translate is not available in templates"),
    ],
)
def test_internals_are_out_of_reach(source: str, message: str) -> None:
    assert failure(source) == f"t.yaml, line 1: {message}"


def test_unsafe_attributes_are_undefined_for_is_defined() -> None:
    assert render_template("{{ ''.__class__ is defined }}", {}, file_name="t.yaml") == "false"


def test_safe_globals_remain() -> None:
    source = (
        "{{ range(3) | list }} {{ dict(a=1) }} {% set c = cycler('x', 'y') %}{{ c.next() }}{{ c.next() }} "
        "{% set j = joiner('+') %}{% for i in range(2) %}{{ j() }}{{ i }}{% endfor %} "
        "{% set ns = namespace(n=0) %}{% for i in range(3) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}"
    )
    assert render_template(source, {}, file_name="t.yaml") == '[0, 1, 2] {"a": 1} xy 0+1 3'


# -- files -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "tag"),
    [
        ("a: 1\n{% include '/etc/passwd' %}", "{% include %}"),
        ("a: 1\n{% import 'macros.j2' as m %}", "{% import %}"),
        ("a: 1\n{% from 'macros.j2' import m %}", "{% from ... import %}"),
        ("a: 1\n{% extends 'base.yaml' %}", "{% extends %}"),
    ],
)
def test_no_other_files(source: str, tag: str) -> None:
    assert failure(source) == (
        f"t.yaml, line 2: {tag} is not supported: a Proton template is a single file and cannot load others"
    )


# -- sizes -----------------------------------------------------------------------------------------


def test_range_is_capped() -> None:
    assert (
        failure("{{ range(10**9) | list }}")
        == "t.yaml, line 1: range() of 1000000000 items exceeds the limit of 100000 items"
    )
    assert failure("{{ range(10**30) }}").startswith(
        "t.yaml, line 1: range() of 1000000000000000000000000000000 items"
    )
    assert render_template("{{ range(100000) | length }}", {}, file_name="t.yaml") == "100000"
    assert failure("{{ range(100001) | length }}") == (
        "t.yaml, line 1: range() of 100001 items exceeds the limit of 100000 items"
    )


def test_string_repetition_is_capped() -> None:
    assert failure("{{ 'a' * 10**9 }}") == (
        "t.yaml, line 1: a string of 1000000000 bytes exceeds the limit of 1000000 bytes"
    )
    assert render_template("{{ ('ab' * 3) }}", {}, file_name="t.yaml") == "ababab"


@pytest.mark.parametrize(
    "source",
    [
        "{{ 10**9 * 'a' }}",
        "{{ ['x' * 1000000] * 100000 }}",
        "{{ [1] * 10**9 }}",
        "{{ 2 ** (10**10) }}",
        "{{ (10**20000) * (10**20000) }}",
        "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
        "{% set ns = namespace(s=['ab']) %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
        "{{ 'a'.center(10**9) }}",
        "{{ 'a'.ljust(10**9) }}",
        "{{ 'a'.zfill(10**9) }}",
        "{{ 'a'.encode().rjust(10**9) }}",
        "{{ ('\\t' * 1000).expandtabs(10**6) }}",
        "{{ ('x' * 1000000).replace('x', 'yy') }}",
        "{{ ('x' * 1000000) | replace('x', 'yy') }}",
        "{{ ('x' * 1000) | replace('', 'y' * 1000) }}",
        "{{ ['a', 'b'] | join('x' * 1000000) }}",
        "{{ ('x' * 1000).join(['y' * 1000] * 1000) }}",
        "{{ 'abc' | center(10**9) }}",
        "{{ 'a\\nb' | indent(10**9) }}",
        "{{ 'a b' | wordwrap(1, wrapstring='x' * 1000000) }}",
        "{{ [1, 2] | batch(10**9, 0) | list }}",
        "{{ [1, 2] | slice(10**9) | list }}",
        "{{ {'a': 1} | tojson(10**9) }}",
        "{{ '%0999999999d' % 1 }}",
        "{{ '%.999999999f' % 1 }}",
        "{{ '%*d' % (10**9, 1) }}",
        "{{ '%s' | format('x' * 10**6 ~ 'y') }}",
        "{{ '{:>1000000000}'.format(1) }}",
        "{{ '{0:{1}}'.format(1, 10**9) }}",
        "{{ ('{0}' * 1000).format('x' * 10000) }}",
        "{% macro m() %}{% for i in range(10**5) %}{{ 'x' * 99 }}{% endfor %}{% endmacro %}{% set s=m() %}",
        "{% set s %}{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}{% endset %}",
    ],
)
def test_memory_bombs_fail_cleanly(source: str) -> None:
    assert failure(source).startswith("t.yaml, line 1: ")


def test_output_is_capped() -> None:
    limits = RenderLimits(max_output_bytes=100)
    assert failure("ok\nok\n{% for i in range(50) %}{{ 'xxxxx' }}{% endfor %}", limits) == (
        "t.yaml, line 3: rendered output exceeds the limit of 100 bytes"
    )
    assert render_template("{{ 'x' * 100 }}", {}, file_name="t.yaml", limits=limits) == "x" * 100


def test_default_output_cap_is_one_million_bytes() -> None:
    source = "{% for i in range(11) %}{{ 'x' * 100000 }}{% endfor %}"
    assert failure(source) == "t.yaml, line 1: rendered output exceeds the limit of 1000000 bytes"


# -- time ------------------------------------------------------------------------------------------


def test_steps_are_capped() -> None:
    limits = RenderLimits(max_steps=100)
    assert (
        render_template("{% for i in range(90) %}{% endfor %}", {}, file_name="t.yaml", limits=limits) == ""
    )
    assert failure("\n{% for i in range(200) %}{% endfor %}", limits) == (
        "t.yaml, line 2: rendering stopped after 100 steps (loop iterations, calls and filters); "
        "does a loop or a recursive macro run away?"
    )


@pytest.mark.parametrize(
    "source",
    [
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}",
        "{% for i in range(100000) %}{{ range(100) | map('string') | join }}{% endfor %}",
        "{% for x in [1] recursive %}{{ loop([1, 2]) }}{% endfor %}",
    ],
)
def test_runaway_templates_stop(source: str) -> None:
    limits = RenderLimits(max_steps=20_000)
    assert failure(source, limits).startswith("t.yaml, line 1: ")


def test_wall_clock_backstop_uses_the_injected_clock() -> None:
    ticks = itertools.count()
    limits = RenderLimits(max_seconds=5, clock=lambda: float(next(ticks)))
    assert failure("{% for i in range(100000) %}{% endfor %}", limits) == (
        "t.yaml, line 1: rendering took longer than 5 seconds"
    )


def test_infinite_recursion_fails() -> None:
    assert failure("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}") == (
        "t.yaml, line 1: recursion too deep: macros and recursive loops nest more than 32 calls deep "
        "(does a macro call itself without end?)"
    )


# -- other failures --------------------------------------------------------------------------------


def test_syntax_errors_name_the_line() -> None:
    assert failure("a: 1\nb: {{ x\n") == (
        "t.yaml, line 2: template syntax error: "
        "unexpected end of template, expected 'end of print statement'."
    )
    assert failure("a: 1\n{% if %}{% endif %}").startswith("t.yaml, line 2: template syntax error: ")
    assert (
        failure("{{ 1 | no_such_filter }}")
        == "t.yaml, line 1: template syntax error: No filter named 'no_such_filter'."
    )


def test_python_errors_become_render_errors() -> None:
    assert failure("\n\n{{ 1 / 0 }}") == "t.yaml, line 3: ZeroDivisionError: division by zero"
    assert (
        failure("{{ 'a' + 1 }}") == 't.yaml, line 1: TypeError: can only concatenate str (not "int") to str'
    )
    assert failure("{{ (10 ** 5000) | string }}").startswith("t.yaml, line 1: ValueError: Exceeds the limit")


def test_deeply_nested_context_is_refused() -> None:
    nested: dict[str, Any] = {}
    cursor = nested
    for _ in range(100):
        cursor["x"] = {}
        cursor = cursor["x"]
    message = failure("{{ a }}", context={"a": nested})
    assert message.startswith("t.yaml: the rendering context is nested too deeply at a.x.x.x")


@pytest.mark.parametrize(
    "source",
    [
        "{{ }}",
        "{% for %}",
        "{% endfor %}",
        "{{ x.y.z() }}",
        "{{ environment() }}",
        "{{ environment.outputs.VpcId() }}",
        "{{ 1 < 'a' }}",
        "{{ [] | first }}",
        "{{ none.x }}",
        "{{ {'a': 1} | dictsort(by='nonsense') }}",
        "{% set x = 1 %}{{ x.__class__ }}",
        "{{ 'x' | int(base=99) }}",
        "{% raw %}{{ unclosed",
        "{{ '\udc80' }}",
    ],
)
def test_anything_broken_is_a_render_error(source: str) -> None:
    try:
        render_template(source, CTX, file_name="t.yaml")
    except RenderError as error:
        assert str(error).startswith("t.yaml")


def test_render_errors_pickle() -> None:
    error = RenderError("x is not defined", file_name="t.yaml", line=3)
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.detail, copy.file_name, copy.line) == (
        str(error),
        "x is not defined",
        "t.yaml",
        3,
    )
    assert str(RenderError("too big", file_name="t.yaml")) == "t.yaml: too big"


@pytest.mark.parametrize(
    "source",
    [
        "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}",
        "{% if a %}" * 3000 + "{% endif %}" * 3000,
        "{{ 1" + " + 1" * 20000 + " }}",
    ],
)
def test_templates_nested_too_deeply_to_compile(source: str) -> None:
    assert failure(source) == "t.yaml: template syntax error: expressions are nested too deeply"
