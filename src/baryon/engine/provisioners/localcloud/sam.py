"""SAM for the local cloud: expand `Transform: AWS::Serverless-2016-10-31` before the template is sent.

moto ignores transforms and skips `AWS::Serverless::*` resources without a word, so the layer expands
them the way CloudFormation would, with `aws-sam-translator`, offline: the region and partition come
from the target (no AWS session is asked for them), managed policy names resolve through the map bundled
with the translator (never by calling IAM).

Invariants: a template without the SAM transform is returned as it is; a template the translator
rejects raises `SamError` with the translator's own message (one line per problem); the result holds no
`Transform` member for SAM.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

SAM = "AWS::Serverless-2016-10-31"


class SamError(ValueError):
    """The SAM template cannot be expanded (the message carries the translator's reasons)."""


class _Session:
    """What the translator asks of a boto3 session: only the region's name."""

    def __init__(self, region: str) -> None:
        self.region_name = region


def uses_sam(template: dict[str, Any]) -> bool:
    transform = template.get("Transform")
    names = transform if isinstance(transform, list) else [transform]
    return SAM in names


def expand(template: dict[str, Any], region: str) -> dict[str, Any]:
    """The template with its SAM resources expanded into CloudFormation ones."""
    if not uses_sam(template):
        return template
    # Imported here: the translator is large and only SAM templates in the local cloud need it.
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    translator = Translator(None, Parser(), boto_session=_Session(region))
    try:
        expanded: dict[str, Any] = translator.translate(
            copy.deepcopy(template), parameter_values={}, get_managed_policy_map=dict
        )
    except InvalidDocumentException as error:
        reasons = "; ".join(str(getattr(cause, "message", cause)) for cause in error.causes) or str(error)
        raise SamError(f"the SAM transform failed: {reasons}") from None
    transform = expanded.get("Transform")
    if isinstance(transform, list):
        rest = [name for name in transform if name != SAM]
        if rest:
            expanded["Transform"] = rest
        else:
            expanded.pop("Transform", None)
    elif transform == SAM:
        expanded.pop("Transform", None)
    return expanded
