"""Quotas of the reference §9, per account and region, configurable with `BARYON_QUOTA_<NAME>` variables.

Invariants: a create that would exceed a quota is refused with ServiceQuotaExceededException before it
changes anything; the bundle limits (not adjustable in Proton) live in `baryon.bundles.limits`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Quotas:
    templates: int = 100
    versions_per_template: int = 500
    environments: int = 100
    services: int = 1000
    instances_per_service: int = 20
    components: int = 100
    repositories: int = 100
    tags_per_resource: int = 50

    @classmethod
    def from_environment(cls) -> Quotas:
        values = {}
        for item in fields(cls):
            raw = os.environ.get(f"BARYON_QUOTA_{item.name.upper()}")
            if raw:
                values[item.name] = int(raw)
        return cls(**values)
