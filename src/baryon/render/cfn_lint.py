"""cfn-lint on a rendered CloudFormation template: the errors that fail a deployment and the warnings that are
kept with it.

`lint(text, file_name, region)` runs cfn-lint's rules in-process and offline (its bundled resource
specifications) on `text` for `region`, and answers a `LintResult`: `errors` (rules of cfn-lint's "error"
level, E…) and `warnings` ("warning" level, W…); informational rules (I…) are not run. Each `Finding` names
the rule, the bundle file (`file_name`, e.g. ``instance_infrastructure/cloudformation.yaml``) and the line
in the rendered text. `demoted(result)` turns errors into warnings (BARYON_CFN_LINT=warn).

Message formats (`Finding.message()`):
``cfn-lint E3002 in instance_infrastructure/cloudformation.yaml line 12: Additional properties are not
allowed ('Bogus' was unexpected)``; `failure(result)` joins up to MAX_LISTED errors into one message for
the deployment, with "… and N more" after them.

A template's own cfn-lint directives apply as cfn-lint applies them (``Metadata: cfn-lint: config:
ignore_checks`` at the top or on a resource), and so does a ``.cfnlintrc`` of the user running Baryon.

Cost: cfn-lint's import and rule set (about 2 s together) are loaded once per process, on first use (or
by `warm()`); one lint then takes tens of milliseconds, and the result of the same text, file and region
is remembered (CACHE_SIZE entries), so a deployment that renders again while it waits lints once.

Invariants: a lint never raises (a failure of cfn-lint itself is one warning that says so, never a failed
deployment); a region cfn-lint does not know is linted as us-east-1; rule runs are serialised (one lock),
because cfn-lint's rule objects are shared.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any

_log = logging.getLogger(__name__)

#: Errors listed in a deployment's failure message; more are counted.
MAX_LISTED = 10
#: Characters of one rule's message kept (cfn-lint lists every allowed value in some of them).
MAX_MESSAGE = 300
CACHE_SIZE = 256
ERROR = "error"
WARNING = "warning"
#: The region linted when the deployment's is unknown to cfn-lint.
FALLBACK_REGION = "us-east-1"


@dataclass(frozen=True)
class Finding:
    rule: str
    level: str
    text: str
    file_name: str
    line: int | None

    def message(self) -> str:
        where = f"{self.file_name} line {self.line}" if self.line else self.file_name
        rule = f" {self.rule}" if self.rule else ""
        return f"cfn-lint{rule} in {where}: {self.text}"


@dataclass(frozen=True)
class LintResult:
    errors: tuple[Finding, ...] = field(default_factory=tuple)
    warnings: tuple[Finding, ...] = field(default_factory=tuple)

    @property
    def clean(self) -> bool:
        return not self.errors and not self.warnings


def demoted(result: LintResult, rules: frozenset[str] | None = None, note: str = "") -> LintResult:
    """The result with every error (or only those of `rules`) kept as a warning, its text after `note`."""
    moved = tuple(
        replace(finding, level=WARNING, text=note + finding.text)
        for finding in result.errors
        if rules is None or finding.rule in rules
    )
    kept = tuple(finding for finding in result.errors if rules is not None and finding.rule not in rules)
    return LintResult(kept, moved + result.warnings)


#: Errors about what fails on AWS though the local cloud runs it: a Lambda runtime AWS no longer accepts
#: (E2533), and an ECS service on a dynamic host port whose target group's health check is not on the traffic
#: port, so its tasks never turn healthy (E3049). In the local cloud they are warnings that say so.
LOCAL_CLOUD_TOLERATED = frozenset({"E2533", "E3049"})
LOCAL_CLOUD_NOTE = "this fails on AWS (the local cloud deploys it anyway): "


def failure(result: LintResult) -> str:
    """The deployment's failure message for a result with errors."""
    listed = [finding.message() for finding in result.errors[:MAX_LISTED]]
    more = len(result.errors) - MAX_LISTED
    if more > 0:
        listed.append(f"… and {more} more cfn-lint errors")
    return "\n".join(listed)


class _Linter:
    """cfn-lint's rule set, loaded once per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: Any = None
        self._regions: frozenset[str] = frozenset()
        self._cache: OrderedDict[tuple[str, str, str, tuple[str, ...]], LintResult] = OrderedDict()

    def _load(self) -> Any:
        if self._rules is None:
            from cfnlint.config import ConfigMixIn
            from cfnlint.helpers import REGIONS
            from cfnlint.runner import Runner

            self._rules = Runner(ConfigMixIn(regions=[FALLBACK_REGION])).rules
            self._regions = frozenset(REGIONS)
        return self._rules

    def warm(self) -> None:
        with self._lock:
            self._load()

    def lint(self, text: str, file_name: str, region: str, ignore: tuple[str, ...] = ()) -> LintResult:
        key = (hashlib.sha256(text.encode()).hexdigest(), file_name, region, ignore)
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
            try:
                result = self._run(text, file_name, region, ignore)
            except Exception as error:  # cfn-lint's own failure must not fail a deployment
                _log.exception("cfn-lint failed on %s", file_name)
                result = LintResult(
                    warnings=(Finding("", WARNING, f"cfn-lint could not run: {error}", file_name, None),)
                )
            self._cache[key] = result
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
            return result

    def _run(self, text: str, file_name: str, region: str, ignore: tuple[str, ...]) -> LintResult:
        from cfnlint.config import ConfigMixIn
        from cfnlint.decode.decode import decode_str
        from cfnlint.runner import run_template_by_data

        rules = self._load()
        template, matches = decode_str(text)
        if not matches and template is not None:
            chosen = region if region in self._regions else FALLBACK_REGION
            config = ConfigMixIn(regions=[chosen], ignore_checks=list(ignore))
            matches = list(run_template_by_data(template, config, rules))
        errors: list[Finding] = []
        warnings: list[Finding] = []
        for match in sorted(matches, key=lambda m: (int(m.linenumber or 0), str(m.rule.id))):
            level = str(match.rule.severity).lower()
            if level not in (ERROR, WARNING):
                continue
            words = " ".join(str(match.message).split())
            if len(words) > MAX_MESSAGE:
                words = words[: MAX_MESSAGE - 1] + "…"
            finding = Finding(str(match.rule.id), level, words, file_name, int(match.linenumber or 0) or None)
            (errors if level == ERROR else warnings).append(finding)
        return LintResult(tuple(errors), tuple(warnings))


_LINTER = _Linter()


def lint(
    text: str, file_name: str, region: str = FALLBACK_REGION, ignore: tuple[str, ...] = ()
) -> LintResult:
    """cfn-lint's errors and warnings on the rendered template `text` (bundle file `file_name`), without
    the rules `ignore` names (ids or prefixes: "E2533", "W3005", "W")."""
    return _LINTER.lint(text, file_name, region, ignore)


def warm() -> None:
    """Load cfn-lint's rules now (a process that will lint pays the load before its first deployment)."""
    _LINTER.warm()
