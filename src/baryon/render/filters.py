"""The four Proton Jinja filters (proton-semantics §3.2), with Proton's output shapes and errors.

- ``proton_cfn_ecs_task_definition_formatted_env_vars(raw=True)``: mapping → YAML list of
  ``- Name: <key>`` / ``  Value: <value>`` items, for ``ContainerDefinitions[].Environment``.
- ``proton_cfn_lambda_function_formatted_env_vars(raw=True)``: mapping → ``<key>: <value>`` lines,
  for ``AWS::Lambda::Function`` ``Environment.Variables``.
  For both, ``raw=False`` requires every value to match ``^[a-zA-Z0-9_-]*$``, else the render fails
  with ``Illegal character(s) detected in "<value>". Must match regex ^[a-zA-Z0-9_-]*$``.
- ``proton_cfn_iam_policy_arns``: mapping → ``- <arn>`` lines for the values that match
  ``^arn:[a-zA-Z-]+:iam::\\d{12}:policy/`` (other values are skipped); no match → empty string.
- ``proton_cfn_sanitize``: value → the same text if it matches ``^[a-zA-Z0-9_-]*$`` or is an ARN
  (`ARN_PATTERN`), else the render fails with ``Illegal character(s) detected in "<value>". Must
  match regex ^[a-zA-Z0-9_-]*$ or be a valid ARN``.

ARN rule for ``proton_cfn_sanitize`` (Proton did not publish its own): ``arn:`` partition (``aws``
or ``aws-…``, e.g. ``aws-cn``, ``aws-us-gov``, ``aws-iso-b``) ``:`` service ``[a-zA-Z0-9-]+`` ``:``
region ``[a-z0-9-]*`` ``:`` account (12 digits, ``aws`` for AWS-managed resources, or empty) ``:``
resource of ``[A-Za-z0-9_+=,.@:/*-]`` characters. The resource part deliberately excludes
whitespace, quotes, ``#``, ``$``, ``!``, ``{}`` and ``[]`` so a sanitized value can be placed in a
YAML scalar or a ``!Sub`` string without changing its meaning.

Invariants: the multi-line filters return an `IndentedBlock` (or ``""`` when there is nothing to
emit), so continuation lines are indented to the column where the block lands in the output; keys
and values are written with `yaml_scalar` (plain when unambiguous, double-quoted otherwise); values
that are not strings are first turned into text by `to_text` (``8080``, ``true``); mapping order is
preserved. A non-mapping argument, an undefined argument or a non-boolean ``raw`` fails the render.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import Undefined

from baryon.render.errors import TemplateFault
from baryon.render.values import to_text
from baryon.render.yamltext import block, yaml_scalar

# Patterns are applied with fullmatch / match on str and ASCII classes, never with "$" (which would
# also accept a trailing newline) or "\d" (which would accept non-ASCII digits).
SAFE_PATTERN = "^[a-zA-Z0-9_-]*$"
_SAFE = re.compile(r"[a-zA-Z0-9_-]*")
_IAM_POLICY_ARN = re.compile(r"arn:[a-zA-Z-]+:iam::[0-9]{12}:policy/")
_ARN_BODY = r"arn:aws(?:-[a-z]+)*:[a-zA-Z0-9-]+:[a-z0-9-]*:(?:[0-9]{12}|aws)?:[A-Za-z0-9_+=,.@:/*-]+"
ARN_PATTERN = f"^{_ARN_BODY}$"
_ARN = re.compile(_ARN_BODY)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def _mapping(value: Any, filter_name: str) -> Mapping[Any, Any]:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if not isinstance(value, Mapping):
        raise TemplateFault(
            f"{filter_name} expects a mapping (such as environment.outputs), got {_type_name(value)}"
        )
    return value


def _raw_flag(raw: Any, filter_name: str) -> bool:
    if isinstance(raw, Undefined):
        raw._fail_with_undefined_error()
    if not isinstance(raw, bool):
        raise TemplateFault(f"{filter_name}: raw must be true or false, got {_type_name(raw)}")
    return raw


def _require_safe(text: str) -> None:
    if not _SAFE.fullmatch(text):
        raise TemplateFault(f'Illegal character(s) detected in "{text}". Must match regex {SAFE_PATTERN}')


def _env_vars(value: Any, raw: Any, filter_name: str, entry: Callable[[str, str], list[str]]) -> str:
    """The lines `entry` makes of each (key, value) of a mapping, both as YAML scalars; unless `raw`, every
    value must be safe."""
    mapping = _mapping(value, filter_name)
    check = not _raw_flag(raw, filter_name)
    lines: list[str] = []
    for key, item in mapping.items():
        text = to_text(item)
        if check:
            _require_safe(text)
        lines.extend(entry(yaml_scalar(to_text(key)), yaml_scalar(text)))
    return block(lines)


def proton_cfn_ecs_task_definition_formatted_env_vars(value: Any, raw: Any = True) -> str:
    """Mapping → ``- Name: k`` / ``  Value: v`` items of an ECS container's ``Environment``."""
    return _env_vars(
        value,
        raw,
        "proton_cfn_ecs_task_definition_formatted_env_vars",
        lambda key, text: [f"- Name: {key}", f"  Value: {text}"],
    )


def proton_cfn_lambda_function_formatted_env_vars(value: Any, raw: Any = True) -> str:
    """Mapping → ``k: v`` lines of a Lambda function's ``Environment.Variables``."""
    return _env_vars(
        value, raw, "proton_cfn_lambda_function_formatted_env_vars", lambda key, text: [f"{key}: {text}"]
    )


def proton_cfn_iam_policy_arns(value: Any) -> str:
    """Mapping → ``- arn`` lines for the values that are IAM managed-policy ARNs."""
    mapping = _mapping(value, "proton_cfn_iam_policy_arns")
    lines = [
        f"- {yaml_scalar(item)}"
        for item in mapping.values()
        if isinstance(item, str) and _IAM_POLICY_ARN.match(item)
    ]
    return block(lines)


def proton_cfn_sanitize(value: Any) -> str:
    """The value's text if it is ``[a-zA-Z0-9_-]*`` or an ARN; otherwise the render fails."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    text = to_text(value)
    if _SAFE.fullmatch(text) or _ARN.fullmatch(text):
        return text
    raise TemplateFault(
        f'Illegal character(s) detected in "{text}". Must match regex {SAFE_PATTERN} or be a valid ARN'
    )


PROTON_FILTERS: dict[str, Callable[..., str]] = {
    "proton_cfn_ecs_task_definition_formatted_env_vars": proton_cfn_ecs_task_definition_formatted_env_vars,
    "proton_cfn_lambda_function_formatted_env_vars": proton_cfn_lambda_function_formatted_env_vars,
    "proton_cfn_iam_policy_arns": proton_cfn_iam_policy_arns,
    "proton_cfn_sanitize": proton_cfn_sanitize,
}
