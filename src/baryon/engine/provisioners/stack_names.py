"""Names, tags and client request tokens of the CloudFormation stacks Baryon provisions.

Stack names (`stack_name`): `AWSProton-<names>[-<kind suffix>]-<hash8>`, e.g. `AWSProton-dev-1a2b3c4d`
(environment), `AWSProton-api-api-prod-1a2b3c4d` (service instance), `AWSProton-api-pipeline-1a2b3c4d`
(service pipeline), `AWSProton-cache-component-1a2b3c4d` (component). Characters other than letters,
digits and "-" become "-"; the readable part is cut so the whole name stays within 128 characters (each
name gets an equal share); `hash8` is the first 8 hex digits of SHA-256 over the kind, the owning
Baryon account and region and the untruncated names, so names that share a long prefix, or the same
names in two Baryon accounts deploying into one AWS account, never collide.

Stack tags: `stack_tags` turns a resource's managed tags (`aws:proton:*`) into the `proton:*` tags that
Proton stamps on provisioned infrastructure; customer tags are not applied to infrastructure (§1.14).
CloudFormation propagates stack tags to the resources it creates. An empty tag set on update leaves
the stack's existing tags (the API cannot clear them).

Invariants: a stack name is a pure function of the resource's kind, names and owning Baryon account and
region; it always matches CloudFormation's name pattern; client request tokens always match its token
pattern.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping

PREFIX = "AWSProton-"
MAX_STACK_NAME = 128
TOKEN_PATTERN = re.compile(r"[a-zA-Z0-9][-a-zA-Z0-9]{0,127}")
NAME_PATTERN = re.compile(r"[A-Za-z][-A-Za-z0-9]{0,127}")
_KIND_SUFFIX = {
    "environment": "",
    "service-instance": "",
    "service-pipeline": "pipeline",
    "component": "component",
}


def stack_name(kind: str, *names: str, account_id: str, region: str) -> str:
    """The stack name of a Proton resource; see the module docstring for the scheme.

    `kind` is one of "environment", "service-instance" (names: service, instance), "service-pipeline"
    (names: service), "component" (names: component); `account_id` and `region` are the owning Baryon
    resource's scope (not necessarily the target account).
    """
    if kind not in _KIND_SUFFIX:
        raise ValueError(f"unknown stack kind {kind!r}")
    if not names or not all(names):
        raise ValueError("stack_name needs at least one non-empty name")
    digest = hashlib.sha256(json.dumps([kind, account_id, region, *names]).encode()).hexdigest()[:8]
    suffix = _KIND_SUFFIX[kind]
    fixed = len(PREFIX) + len(digest) + 1 + (len(suffix) + 1 if suffix else 0)
    budget = MAX_STACK_NAME - fixed - (len(names) - 1)  # separators between names
    share = budget // len(names)
    parts = [re.sub(r"[^A-Za-z0-9-]", "-", name)[:share].strip("-") or "x" for name in names]
    if suffix:
        parts.append(suffix)
    result = f"{PREFIX}{'-'.join(parts)}-{digest}"
    assert len(result) <= MAX_STACK_NAME and NAME_PATTERN.fullmatch(result), result
    return result


def stack_tags(resource_tags: Mapping[str, str]) -> dict[str, str]:
    """Tags for a resource's stack: its `aws:proton:*` managed tags as `proton:*`; nothing else."""
    return {
        key.removeprefix("aws:"): value
        for key, value in resource_tags.items()
        if key.startswith("aws:proton:")
    }


def cfn_token(token: str, purpose: str = "") -> str:
    """The ClientRequestToken sent for `token` (and a purpose such as "recreate"): the token itself when
    CloudFormation accepts it ([a-zA-Z0-9][-a-zA-Z0-9]*, at most 128), else `baryon-` and a digest."""
    raw = f"{token}-{purpose}" if purpose else token
    if TOKEN_PATTERN.fullmatch(raw):
        return raw
    return "baryon-" + hashlib.sha256(raw.encode()).hexdigest()[:40]
