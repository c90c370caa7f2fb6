"""The wire form of a deployment's stored states, and the warnings a deployment carries.

A stored state (`initial_state`, `target_state` of a deployment record) is the DeploymentState union
with one member per kind, holding the members of its *State shape plus what the deployment job needs
and the model does not show (resolved `inputs`, a component's `manifest`, the `warnings` of the request
that started it).

Invariants: the wire form of a state has exactly the members of its *State shape in botocore's model
(read from the model, so the shape can never carry a member the model lacks); warnings are shown in
the deployment's `deploymentStatusMessage`, after the status message the deployment settled with.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson

from baryon.contract.model import service_model

#: The member of a stored state that holds the request's warnings (never on the wire).
WARNINGS = "warnings"


@cache
def _members() -> dict[str, frozenset[str]]:
    union = service_model().shape_for("DeploymentState")
    return {name: frozenset(shape.members) for name, shape in union.members.items()}


def state_shape(text: str | None) -> dict[str, Any] | None:
    """The stored state as its wire union (members Baryon keeps for itself are left out)."""
    if not text:
        return None
    state: dict[str, Any] = orjson.loads(text)
    allowed = _members()
    return {
        member: {key: value for key, value in values.items() if key in allowed.get(member, ())}
        for member, values in state.items()
    }


def with_warnings(state: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    """A stored state whose member records `warnings` (unchanged when there are none)."""
    if not warnings:
        return state
    return {member: {**values, WARNINGS: list(warnings)} for member, values in state.items()}


def added_warnings(target_state: str, warnings: list[str]) -> str:
    """The stored state `target_state` (JSON) with `warnings` added after those it records (each once)."""
    state: dict[str, Any] = orjson.loads(target_state)
    merged: dict[str, Any] = {}
    for member, values in state.items():
        kept = list(values.get(WARNINGS, []))
        kept.extend(warning for warning in dict.fromkeys(warnings) if warning not in kept)
        merged[member] = {**values, WARNINGS: kept} if kept else values
    return orjson.dumps(merged).decode()


def status_message(message: str | None, target_state: str | None) -> str | None:
    """A deployment's `deploymentStatusMessage`: its own message, then the warnings of its request."""
    warnings: list[str] = []
    if target_state:
        for values in orjson.loads(target_state).values():
            warnings.extend(values.get(WARNINGS, []))
    parts = [part for part in (message, *warnings) if part]
    return "\n".join(parts) if parts else None
