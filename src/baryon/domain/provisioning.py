"""Provisioning methods (reference §4.0): which provisioner deploys a resource.

Invariants: a resource's method follows from the manifest that describes its IaC: `jinja` is
CloudFormation, `hcl` is Terraform; components have no CodeBuild method.
"""

from __future__ import annotations

CLOUDFORMATION = "cloudformation"
TERRAFORM = "terraform"

#: A component manifest's rendering engine -> the method that provisions the component.
COMPONENT_METHODS = {"jinja": CLOUDFORMATION, "hcl": TERRAFORM}
