"""Command-runner (CodeBuild) provisioning: the deployment job's step for bundle parts of this method.

Invariants: the step settles the deployment through `baryon.engine.settle` and never raises for an
expected result.
"""

from __future__ import annotations

from baryon.domain.deployments import DELETE, DELETE_FAILED, FAILED
from baryon.engine.outcomes import Done, Outcome
from baryon.engine.settle import Finish, finish
from baryon.engine.steps import StepInput


def step(given: StepInput) -> Outcome:
    status = DELETE_FAILED if given.record.operation == DELETE else FAILED
    message = "Command-runner (CodeBuild) provisioning is not available on this Baryon server yet."
    finish(given.runtime, given.record, given.subject, Finish(status, message), given.progress)
    return Done()
