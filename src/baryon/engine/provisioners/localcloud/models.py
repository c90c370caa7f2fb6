"""What moto's CloudFormation models: the resource types it creates and the attributes it can read.

Read from moto itself (`moto.cloudformation.parsing.get_model_map`), so that a newer moto that models more
needs no change here — but in a child process, once per Baryon process: importing moto's models loads
every moto backend (seconds, and some 180 MB that a Baryon process would otherwise keep for good).

For each modelled type the child reports whether its model answers `Fn::GetAtt` at all and, where its
`has_cfn_attr` is moto's own list rather than "anything" (the base class's, or an override that accepts
any name), the attributes in that list (found among the string literals of `has_cfn_attr`'s source and
confirmed by calling it).

Invariants: the answer is cached for the life of the process; a child that fails raises `RuntimeError`
with its error output, never a partial answer.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from functools import cache

_SCRIPT = r"""
import inspect, json, re
from moto.cloudformation.parsing import get_model_map
from moto.core.common_models import CloudFormationModel
base = CloudFormationModel.has_cfn_attr.__func__
found = {}
for kind, model in get_model_map().items():
    if not re.fullmatch(r"AWS::\w+::\w+", kind) or kind == "AWS::SERVICE::RESOURCE":
        continue
    attributes = None
    if model.has_cfn_attr.__func__ is not base and not model.has_cfn_attr("-probe-"):
        try:
            source = inspect.getsource(model.has_cfn_attr)
        except (OSError, TypeError):
            source = ""
        attributes = sorted({a for a in re.findall(r"[\"']([\w.]+)[\"']", source) if model.has_cfn_attr(a)})
    found[kind] = {"getatt": hasattr(model, "get_cfn_attribute"), "attributes": attributes}
print(json.dumps(found))
"""


@dataclass(frozen=True)
class Model:
    """What moto's model of one type can do: answer GetAtt at all, and for which attributes (None: any)."""

    getatt: bool
    attributes: frozenset[str] | None

    def readable(self, attribute: str) -> bool:
        return self.getatt and (self.attributes is None or attribute in self.attributes)


@cache
def models() -> dict[str, Model]:
    """moto's CloudFormation models by resource type."""
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"cannot read moto's CloudFormation models: {done.stderr.strip()[-500:]}")
    answer = json.loads(done.stdout)
    return {
        kind: Model(
            bool(found["getatt"]),
            None if found["attributes"] is None else frozenset(found["attributes"]),
        )
        for kind, found in answer.items()
    }
