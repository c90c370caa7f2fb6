"""What the API asks of the engine about a deployment in flight: the engine's public face for handlers.

Job: `cancel_requested` lets the deployment's provisioner settle a cancel at once, in the API's
transaction, where its job has nothing left to do (Terraform handed over to its automation);
`notify` applies a NotifyResourceDeploymentStatusChange through the deployment's provisioner, or says
why it cannot (`Refusal`); an applied notification is a line of the deployment's story (`notify`).

Invariants: handlers reach provisioners, settling and resource loading only through this module; both
functions act only in the caller's transaction and never settle a deployment that already settled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.engine import Connection

from baryon.domain.story import DeploymentEvent
from baryon.engine.provisioners import registry
from baryon.engine.provisioners.base import InFlight, Report
from baryon.engine.subjects import load
from baryon.runtime import Runtime
from baryon.store import deployments as deployment_store
from baryon.store import run_logs

__all__ = ["Refusal", "Report", "cancel_requested", "notify"]


@dataclass(frozen=True)
class Refusal:
    """Why a notification was not applied: the resource is gone (`missing`), or `reason` (to follow the
    resource's ARN) says that its method does not complete through notifications."""

    missing: bool = False
    reason: str = ""


def cancel_requested(
    connection: Connection,
    now: float,
    deployment_id: str,
    announce: Callable[[DeploymentEvent], None] | None = None,
) -> bool:
    """After the API marked the deployment CANCELLING: settle it at once where its provisioner can
    (True), else leave the cancel to the deployment's next step (False)."""
    record = deployment_store.find(connection, deployment_id)
    if record is None:
        return False
    progress: dict[str, Any] = orjson.loads(record.progress)
    method = progress.get(registry.METHOD)
    provisioner = registry.provisioner(str(method)) if method else None
    if provisioner is None:
        return False  # no step has run yet: the first one sees the cancel
    flight = InFlight(connection, now, record, load(connection, record), progress, announce)
    return provisioner.cancel_at_once(flight)


def notify(
    connection: Connection, runtime: Runtime, now: float, record: Any, report: Report
) -> Refusal | None:
    """Apply a notification to the in-flight deployment `record`; None when applied, else the refusal."""
    subject = load(connection, record)
    if subject is None:
        return Refusal(missing=True)
    progress: dict[str, Any] = orjson.loads(record.progress)
    provisioner = registry.provisioner(registry.method_of(runtime, record, subject, progress))
    if provisioner is None:
        return Refusal(reason="has no provisioner that takes notifications.")
    traits = provisioner.traits
    if not traits.notified:
        return Refusal(
            reason=f"is provisioned through {traits.label}; its deployment status comes from "
            f"{traits.status_source}, not from notifications."
        )
    told = f"NotifyResourceDeploymentStatusChange: status {report.status or '(none)'}"
    if report.message:
        told += f", message: {report.message}"
    run_logs.note(connection, record.id, run_logs.NOTIFY, told, now=now)
    provisioner.notify(InFlight(connection, now, record, subject, progress, runtime.announce), report)
    return None
