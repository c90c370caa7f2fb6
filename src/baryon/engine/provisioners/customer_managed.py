"""The customer-managed provisioner: environments whose infrastructure their owners provision themselves.

Baryon provisions nothing: a deployment succeeds at once with the spec's values as the environment's
outputs (empty values dropped: Proton's `valueString` has a minimum length of 1), and a deletion
completes at once.

Invariants: a step settles the deployment at its first call, so there is never anything to wait for, to
cancel or to time out.
"""

from __future__ import annotations

from baryon.domain.deployments import DELETE_COMPLETE, SUCCEEDED
from baryon.domain.outcomes import Outcome
from baryon.engine.provisioners.base import Settled, Traits
from baryon.engine.settle import Finish
from baryon.engine.steps import StepInput

#: The registry key of customer-managed deployments (not a rendering engine: no template is rendered).
METHOD = "customer-managed"


class CustomerManaged(Settled):
    traits = Traits(METHOD, "customer-managed provisioning", "its spec", "customer_managed")

    def deploy(self, given: StepInput) -> Outcome:
        inputs = given.inputs()
        outputs = [{"key": key, "valueString": str(value)} for key, value in inputs.items() if str(value)]
        return given.finish(Finish(SUCCEEDED, outputs=outputs, resources=[]))

    def delete(self, given: StepInput) -> Outcome:
        return given.finish(Finish(DELETE_COMPLETE))


PROVISIONER = CustomerManaged()
