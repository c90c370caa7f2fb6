"""`adapt`: a rendered CloudFormation template as the local cloud can take it.

Steps, in order: read it (`template.load`: JSON, or YAML with short-form tags, sent on as JSON), expand
SAM (`sam`), apply the rewrites (`rewrites.REWRITES`), put stand-ins in for the resource types moto does not
model (`standins`), deal with attributes moto's models cannot read (`standins.unreadable_attributes`),
then check that nothing moto cannot evaluate is left: an intrinsic function outside
`SUPPORTED_FUNCTIONS` raises `NotSupported` naming the resource (or output) and the function, so that
the deployment fails at once with that message instead of an HTTP 500 from moto.

Invariants: pure (no AWS call, no clock; the same input gives the same output); `Adapted.outputs` lists
the outputs the template declares without a `Condition` (what the stack should show once created), so
that outputs the local cloud leaves empty can be named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from baryon.engine.provisioners.localcloud import sam
from baryon.engine.provisioners.localcloud.rewrites import REWRITES, Place
from baryon.engine.provisioners.localcloud.standins import StandIn, stand_in, unreadable_attributes
from baryon.engine.provisioners.localcloud.template import NotSupported, TemplateError, dumps, load

__all__ = ["SUPPORTED_FUNCTIONS", "Adapted", "NotSupported", "StandIn", "adapt"]

#: The intrinsic functions moto's CloudFormation evaluates (moto.cloudformation.parsing.clean_json and
#: its condition parser).
SUPPORTED_FUNCTIONS = frozenset(
    {
        "Ref",
        "Condition",
        "Fn::GetAtt",
        "Fn::Join",
        "Fn::Split",
        "Fn::Select",
        "Fn::Sub",
        "Fn::FindInMap",
        "Fn::If",
        "Fn::ImportValue",
        "Fn::GetAZs",
        "Fn::Base64",
        "Fn::ToJsonString",
        "Fn::Equals",
        "Fn::Not",
        "Fn::And",
        "Fn::Or",
    }
)


@dataclass(frozen=True)
class Adapted:
    """The template to send (JSON), the resources stood in for, notes on each rewrite applied, and the
    outputs the stack should end with."""

    template_json: str
    stand_ins: list[StandIn] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


def _functions(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for key, member in value.items():
            if key.startswith("Fn::") or (key == "Ref" and len(value) == 1):
                found.add(key)
            found |= _functions(member)
    elif isinstance(value, list):
        for member in value:
            found |= _functions(member)
    return found


def _check_functions(template: dict[str, Any]) -> None:
    for section, what in (("Resources", "resource"), ("Outputs", "output")):
        members = template.get(section)
        if not isinstance(members, dict):
            continue
        for name, body in members.items():
            unsupported = sorted(_functions(body) - SUPPORTED_FUNCTIONS)
            if unsupported:
                raise NotSupported(
                    f"{what} {name} uses {', '.join(unsupported)}, which the local cloud does not "
                    "evaluate (with arguments it cannot work out before sending)"
                )


def adapt(template_text: str, *, region: str, account_id: str, stack_name: str) -> Adapted:
    """The rendered template `template_text`, adapted for the local cloud (see the module docstring)."""
    place = Place(region, account_id, stack_name)
    try:
        template = load(template_text)
        template = sam.expand(template, region)
    except (TemplateError, sam.SamError) as error:
        raise NotSupported(str(error)) from None
    notes: list[str] = ["SAM transform expanded"] if sam.uses_sam(load(template_text)) else []
    declared = template.get("Outputs")
    outputs = [
        str(key)
        for key, body in (declared.items() if isinstance(declared, dict) else [])
        if not (isinstance(body, dict) and "Condition" in body)
    ]
    for rewrite in REWRITES:
        notes.extend(rewrite(template, place))
    stand_ins = stand_in(template, place)
    notes.extend(unreadable_attributes(template))
    _check_functions(template)
    return Adapted(dumps(template), stand_ins, notes, outputs)
