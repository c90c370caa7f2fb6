"""The provisioners, by the method key a deployment's resource names.

Job: `provisioner(method)` answers the one provisioner of a method ("jinja" → CloudFormation, "hcl" →
Terraform through git, "codebuild" → the command runner, "customer-managed"); `method_of` finds the
method of a deployment (kept in its progress once known, else the resource's own: customer-managed,
the component manifest's rendering engine, or the rendering engine of its bundle part).

Adding a provisioner: write one module of this package implementing `base.Provisioner` and add its
`PROVISIONER` to `_ALL` below (docs/development.md, "Adding a provisioner").

Invariants: one provisioner per method; the deployment job, cancel and notify find provisioners only
through this module.
"""

from __future__ import annotations

from typing import Any

from baryon.engine.provisioners import cloudformation, command_runner, customer_managed, terraform_git
from baryon.engine.provisioners.base import Provisioner
from baryon.engine.steps import bundle_part, version_of
from baryon.engine.subjects import Subject
from baryon.runtime import Runtime

_ALL: tuple[Provisioner, ...] = (
    cloudformation.PROVISIONER,
    terraform_git.PROVISIONER,
    command_runner.PROVISIONER,
    customer_managed.PROVISIONER,
)
PROVISIONERS: dict[str, Provisioner] = {p.traits.method: p for p in _ALL}
#: Progress member that remembers a deployment's method, so later steps need not read the bundle again.
METHOD = "method"


def provisioner(method: str) -> Provisioner | None:
    return PROVISIONERS.get(method)


def known_method(progress: dict[str, Any], subject: Subject) -> str | None:
    """The deployment's method when it is known without reading the bundle (None: read the part)."""
    if progress.get(METHOD):
        return str(progress[METHOD])
    if subject.customer_managed:
        return customer_managed.METHOD
    return subject.engine


def method_of(runtime: Runtime, record: Any, subject: Subject, progress: dict[str, Any]) -> str:
    """The deployment's method, reading its bundle part when need be (RenderError when it is gone)."""
    known = known_method(progress, subject)
    if known is not None:
        return known
    return bundle_part(runtime, subject, *version_of(record, subject)).engine
