"""What a process tells its observers about deployments: one event when the engine starts provisioning a
deployment, one when the deployment settles.

Invariants: an event carries identifiers and the outcome only (no inputs, no outputs); `seconds` is the
time from the deployment's creation to its settling (None on a start); the text of `line` is what
`baryon up` prints.
"""

from __future__ import annotations

from dataclasses import dataclass

STARTED = "started"
ENDED = "ended"


@dataclass(frozen=True)
class DeploymentEvent:
    phase: str
    deployment_id: str
    #: "environment", "service instance", "service pipeline" or "component".
    target: str
    #: The resource's name as a person reads it ("dev", "api/dev" for an instance of service api).
    name: str
    #: The provisioner's name (cloudformation, terraform_git, command_runner, customer_managed, none).
    provisioner: str
    status: str | None = None
    message: str | None = None
    seconds: float | None = None

    def line(self) -> str:
        head = f"deployment {self.deployment_id} {self.target} {self.name} ({self.provisioner})"
        if self.phase == STARTED:
            return f"{head} started"
        took = f" in {self.seconds:.1f} s" if self.seconds is not None else ""
        reason = f": {self.message}" if self.message else ""
        return f"{head} {self.status}{took}{reason}"


def target_words(target_type: str) -> str:
    """ENVIRONMENT -> environment, SERVICE_INSTANCE -> service instance."""
    return target_type.lower().replace("_", " ")


def resource_name(
    environment: str | None,
    service: str | None,
    instance: str | None,
    component: str | None,
    target_type: str,
) -> str:
    """The name of a deployment's resource as `baryon up` prints it."""
    kind = target_type.upper()
    if kind == "COMPONENT":
        return component or ""
    if kind == "SERVICE_INSTANCE":
        return f"{service}/{instance}"
    if kind == "SERVICE_PIPELINE":
        return service or ""
    return environment or ""
