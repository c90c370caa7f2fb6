"""The provisioner interface: what the deployment job, cancel and notify ask of a provisioning method.

A provisioner turns a deployment of an environment, service instance, service pipeline or component into
infrastructure by one method — CloudFormation (`cloudformation`), Terraform through git
(`terraform_git`), the command runner (`command_runner`), customer-managed (`customer_managed`). Each is
one module of this package holding one object that implements `Provisioner`, registered once in
`registry` under the method key the deployment job finds for the resource (the rendering engine of its
bundle part or component manifest: "jinja", "hcl", "codebuild"; "customer-managed" for environments of a
customer-managed template).

The job drives a deployment with repeated steps (`deploy` or `delete`, by the deployment's operation);
each step looks at the deployment as it is now (including a CANCELLING status: a step that sees it stops
its work and settles CANCELLED), does at most a few short calls, saves its progress and returns an
outcome value (`Wait` to be called again, `Done` once it settled the deployment, `Retry` for transient
trouble). A provisioner that waits on something outside Baryon measures that wait (`StepInput.waited`)
against its deadline (`deadline`) and, past it, settles the deployment failed with a message naming what
it waited for.

Outside the job:
- `cancel_at_once`: Cancel*Deployment has just marked the deployment CANCELLING in the API's transaction;
  a provisioner whose job has already finished (Terraform handed over to its automation) settles it
  there and answers True; the others answer False and their next step honours the cancel.
- `notify`: NotifyResourceDeploymentStatusChange for the resource's in-flight deployment; only a
  provisioner whose `traits.notified` is True is asked. It records what was reported, settling the deployment
  where the method completes through notifications.

Invariants: a provisioner never raises for an expected result (ProvisionError from AWS calls is handled by
the job: transient → Retry, permanent → failed with its message); `cancel_at_once` and `notify` act only in
the caller's transaction; a provisioner's steps are idempotent (their progress is saved before the next
action).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.engine import Connection

from baryon.config import Settings
from baryon.domain.outcomes import Outcome
from baryon.domain.story import DeploymentEvent
from baryon.engine.settle import Finish, record_finish
from baryon.engine.steps import StepInput
from baryon.engine.subjects import Subject


@dataclass(frozen=True)
class Report:
    """What a NotifyResourceDeploymentStatusChange reported: the status (None: only outputs and a
    message), the message, and the deployment's outputs merged with those reported before."""

    status: str | None
    message: str | None
    outputs: list[dict[str, str]]


@dataclass(frozen=True)
class InFlight:
    """A deployment in flight as the API's transaction sees it: the connection and time of that
    transaction, the deployment record, its resource (None: gone) and the progress its job saved."""

    connection: Connection
    now: float
    record: Any
    subject: Subject | None
    progress: dict[str, Any]
    #: Hears of the settling once the API's transaction commits (the process's observers).
    announce: Callable[[DeploymentEvent], None] | None = None

    def settle(self, outcome: Finish) -> bool:
        """Settle the deployment in the API's transaction; False when it had settled already."""
        return record_finish(
            self.connection, self.now, self.record, self.subject, outcome, self.progress, self.announce
        )


@dataclass(frozen=True)
class Traits:
    """What the job, cancel and notify know of a provisioning method besides its steps."""

    #: The registry key (the method the deployment job finds for the resource).
    method: str
    #: The method's name in messages ("CloudFormation").
    label: str
    #: Where a deployment's status comes from, for the message that refuses notifications ("its stack").
    status_source: str
    #: Name of the deadline setting: BARYON_DEADLINE_<NAME>_SECONDS.
    deadline_name: str
    #: Seconds a deployment may wait on the method by default; None: no deadline.
    default_deadline: float | None = None
    #: Whether deployments of this method accept NotifyResourceDeploymentStatusChange.
    notified: bool = False


class Provisioner(Protocol):
    """One provisioning method. See the module docstring for the contract of each member."""

    traits: Traits

    def deploy(self, given: StepInput) -> Outcome: ...

    def delete(self, given: StepInput) -> Outcome: ...

    def cancel_at_once(self, flight: InFlight) -> bool: ...

    def notify(self, flight: InFlight, report: Report) -> None: ...


def deadline(settings: Settings, provisioner: Provisioner) -> float | None:
    """Seconds a deployment may wait on `provisioner` (BARYON_DEADLINE_<NAME>_SECONDS or its default)."""
    traits = provisioner.traits
    return settings.deadline(traits.deadline_name, traits.default_deadline)


def overdue(given: StepInput, provisioner: Provisioner) -> float | None:
    """The seconds waited when they are past the provisioner's deadline, else None."""
    limit = deadline(given.runtime.settings, provisioner)
    waited = given.waited()
    return waited if limit is not None and waited > limit else None


def duration(seconds: float) -> str:
    """A wait as people read it: "45 s", "12 min", "2 h 5 min"."""
    whole = int(seconds)
    if whole < 120:
        return f"{whole} s"
    minutes = whole // 60
    if minutes < 120:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


class Settled:
    """Defaults for a provisioner whose job settles every deployment itself: nothing to do at once on a
    cancel, and no notifications."""

    def cancel_at_once(self, flight: InFlight) -> bool:
        return False

    def notify(self, flight: InFlight, report: Report) -> None:
        raise ValueError(f"deployments of {type(self).__name__} do not take notifications")
