"""cfn-lint before a rendered CloudFormation template is sent (local cloud and real AWS alike).

`check_rendered(given, file_name, body)` lints the template as rendered (before anything else rewrites
it) for the deployment's region, as BARYON_CFN_LINT says: "on" (default) fails the deployment on cfn-lint
errors with every error's rule, file and line (`baryon.render.cfn_lint.failure`); "warn" keeps errors as
warnings; "off" does not lint; the rules BARYON_CFN_LINT_IGNORE lists are not checked. Warnings are kept
with the deployment (`settle.keep_warnings`: shown in GetDeployment's `deploymentStatusMessage`).

Invariants: the answer is an outcome only when the deployment failed here (nothing was sent); warnings
are recorded once however often the step repeats; the template itself is never changed.
"""

from __future__ import annotations

from baryon.domain.outcomes import Outcome
from baryon.engine.settle import keep_warnings
from baryon.engine.steps import StepInput
from baryon.render import cfn_lint


def check_rendered(
    given: StepInput, file_name: str, body: str, *, local_cloud: bool = False
) -> Outcome | None:
    """None when the template may be sent (its warnings kept), else the failed deployment's outcome. In the
    local cloud the errors of `cfn_lint.LOCAL_CLOUD_TOLERATED` (what fails on AWS though the local cloud runs
    it) are warnings that say so."""
    settings = given.runtime.settings
    mode = settings.cfn_lint
    if mode == "off":
        return None
    result = cfn_lint.lint(body, file_name, given.record.region, settings.cfn_lint_ignore)
    if mode == "warn":
        result = cfn_lint.demoted(result)
    elif local_cloud:
        result = cfn_lint.demoted(result, cfn_lint.LOCAL_CLOUD_TOLERATED, cfn_lint.LOCAL_CLOUD_NOTE)
    keep_warnings(given.runtime, given.record, [finding.message() for finding in result.warnings])
    if result.errors:
        return given.fail(cfn_lint.failure(result))
    return None
