"""The two template kinds and the words and wire names that differ between them.

Invariants: ENVIRONMENT and SERVICE templates share one table and one set of handlers; everything that
differs on the wire (member names, labels, ARN prefixes) is looked up here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    name: str
    label: str
    template_member: str
    version_member: str
    provisioning_member: str


ENVIRONMENT = Kind(
    "ENVIRONMENT", "environment template", "environmentTemplate", "environmentTemplateVersion", "provisioning"
)
SERVICE = Kind(
    "SERVICE", "service template", "serviceTemplate", "serviceTemplateVersion", "pipelineProvisioning"
)
