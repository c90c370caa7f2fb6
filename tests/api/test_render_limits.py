"""A render past its memory bounds fails its deployment with a message, and the resource stays usable."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_components import COMPONENT_ROLE, MANIFEST, _environment
from tests.api.test_environments import FAST

EMOJI = "\U0001f600"
ATTACK = (
    '{% set s = "' + EMOJI + '" * 249999 %}'
    '{% macro f(x) %}{% set y = x[1:] ~ "' + EMOJI + '" %}{{ f(y) }}{% endmacro %}{{ f(s) }}'
)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            ATTACK,
            "cloudformation.yaml, line 1: recursion too deep: macros and recursive loops nest more than 32 "
            "calls deep (does a macro call itself without end?)",
        ),
        (
            '{{ "' + EMOJI + '" * 999999 }}',
            "cloudformation.yaml, line 1: a string of 3999996 bytes exceeds the limit of 1000000 bytes",
        ),
    ],
    ids=["recursion", "bytes"],
)
def test_a_render_past_its_bounds_fails_the_deployment(
    proton: Any, s3: Any, worker: Any, template: str, message: str
) -> None:
    _environment(proton, s3, componentRoleArn=COMPONENT_ROLE)
    proton.create_component(name="bomb", environmentName="dev", manifest=MANIFEST, templateFile=template)
    with pytest.raises(Exception, match="FAILED"):
        proton.get_waiter("component_deployed").wait(name="bomb", WaiterConfig=FAST)
    component = proton.get_component(name="bomb")["component"]
    assert (component["deploymentStatus"], component["deploymentStatusMessage"]) == ("FAILED", message)
    proton.delete_component(name="bomb")
    proton.get_waiter("component_deleted").wait(name="bomb", WaiterConfig=FAST)
