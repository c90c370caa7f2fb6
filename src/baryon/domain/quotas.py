"""Operator quotas: how many of each resource an account may hold, chosen by whoever runs Baryon.

Invariants: AWS Proton's adjustable quotas (reference §9) were capacity limits of AWS, so by default none
applies (`None` is "no limit"); `BARYON_QUOTA_<NAME>` sets a default for every account and a per-account
value stored in the database (`baryon quotas set`) wins over it; a value is a whole number ≥ 0 or
`unlimited`. A create that would exceed a quota is refused with ServiceQuotaExceededException before it
changes anything. Limits the model or the bundle format fixes are not quotas and cannot be changed here:
tags per resource (`TAGS_PER_RESOURCE`), outputs, file sizes (`baryon.bundles.limits`), page sizes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

#: Customer tags a resource may carry (Proton's non-adjustable limit; `aws:` tags are refused anyway).
TAGS_PER_RESOURCE = 50
#: The word that stands for "no limit" in variables and on the command line.
UNLIMITED = "unlimited"
#: The word that clears an account's own value, so that the default applies again.
DEFAULT = "default"


class QuotaValueError(ValueError):
    """A quota name or value that Baryon does not understand (the message says which and why)."""


@dataclass(frozen=True)
class Quotas:
    """Default quotas for every account; `None` means no limit."""

    templates: int | None = None
    versions_per_template: int | None = None
    environments: int | None = None
    services: int | None = None
    instances_per_service: int | None = None
    components: int | None = None
    repositories: int | None = None
    environment_account_connections: int | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Quotas:
        source = os.environ if environ is None else environ
        values: dict[str, int | None] = {}
        for name in NAMES:
            variable = f"BARYON_QUOTA_{name.upper()}"
            raw = source.get(variable, "").strip()
            if raw:
                values[name] = parse_value(raw, variable)
        return cls(**values)

    def value(self, name: str) -> int | None:
        limit: int | None = getattr(self, name)
        return limit


NAMES: tuple[str, ...] = tuple(item.name for item in fields(Quotas))


def parse_name(text: str) -> str:
    """The quota called `text` (`instances-per-service` and `INSTANCES_PER_SERVICE` name one quota)."""
    name = text.strip().lower().replace("-", "_")
    if name not in NAMES:
        raise QuotaValueError(f"{text!r} is not a quota; the quotas are: {', '.join(NAMES)}.")
    return name


def parse_value(text: str, what: str) -> int | None:
    """A quota value: a whole number ≥ 0, or `unlimited` (None)."""
    raw = text.strip().lower()
    if raw == UNLIMITED:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise QuotaValueError(
            f"{what} must be a whole number from 0 to 999999999 or {UNLIMITED!r}, not {text!r}."
        )
    return int(raw)


def show(value: int | None) -> str:
    return UNLIMITED if value is None else str(value)
