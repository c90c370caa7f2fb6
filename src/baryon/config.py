"""Process configuration from `BARYON_*` variables and command-line flags.

Invariants: flags win over variables, variables over defaults; the data dir exists once `ensure_data_dir`
has run; the default database is SQLite inside the data dir; `api_url` (what command runs are told
Baryon's API is at) is BARYON_ADVERTISE_URL, else the address `baryon up` listens on, else
DEFAULT_API_URL; `local_cloud_url` names the local cloud's endpoint (BARYON_LOCAL_CLOUD_URL, or what
`baryon up` started), never guessed from the AWS endpoint variables; a provisioner's deadline
(`deadline`) is BARYON_DEADLINE_<NAME>_SECONDS, else the provisioner's own default, and zero or less means
none.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

#: Where `baryon up` and `baryon server` listen unless told otherwise.
DEFAULT_API_URL = "http://127.0.0.1:7700"
#: Seconds a command run (CodeBuild provisioning) may take before it is stopped.
DEFAULT_RUN_TIMEOUT = 3600.0
#: Seconds a client has to send a whole HTTP request.
DEFAULT_HTTP_READ_TIMEOUT = 30.0


class ConfigurationError(ValueError):
    """A `BARYON_*` variable holds a value Baryon cannot use (the message names it)."""


def _seconds(variable: str, default: float, *, none_at_zero: bool = False, unit: str = "seconds") -> float:
    """The seconds (or other `unit`) `variable` sets (above 0; with `none_at_zero`, 0 too: no limit)."""
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if none_at_zero and value == 0:
        return value
    if not 0 < value < 1e9:
        meaning = "above 0 (0: no limit)" if none_at_zero else "above 0"
        raise ConfigurationError(f"{variable} must be a number of {unit} {meaning}, not {raw!r}.")
    return value


def _count(variable: str, default: int) -> int:
    """The whole number `variable` sets (0 or more)."""
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or len(raw) > 9:
        raise ConfigurationError(f"{variable} must be a whole number, 0 or more, not {raw!r}.")
    return int(raw)


_ON = frozenset({"on", "1", "true", "yes"})
_OFF = frozenset({"off", "0", "false", "no"})


def _switch(variable: str, default: bool) -> bool:
    """The on/off value `variable` sets (on, off, 1, 0, true, false, yes, no; any case)."""
    raw = os.environ.get(variable, "").strip().lower()
    if not raw:
        return default
    if raw in _ON:
        return True
    if raw in _OFF:
        return False
    raise ConfigurationError(f"{variable} must be on or off, not {os.environ[variable]!r}.")


_DEADLINE_VARIABLE = re.compile(r"BARYON_DEADLINE_([A-Z0-9_]+)_SECONDS")


#: What BARYON_CFN_LINT may say: lint and fail on errors, lint and keep errors as warnings, do not lint.
CFN_LINT_MODES = ("on", "warn", "off")


def _cfn_lint_mode() -> str:
    """BARYON_CFN_LINT: on (default), warn or off."""
    raw = os.environ.get("BARYON_CFN_LINT", "").strip().lower()
    if not raw:
        return "on"
    if raw not in CFN_LINT_MODES:
        given = os.environ["BARYON_CFN_LINT"]
        raise ConfigurationError(f"BARYON_CFN_LINT must be on, warn or off, not {given!r}.")
    return raw


def _cfn_lint_ignore() -> tuple[str, ...]:
    """BARYON_CFN_LINT_IGNORE: cfn-lint rule ids (or prefixes) not checked, comma- or space-separated."""
    raw = os.environ.get("BARYON_CFN_LINT_IGNORE", "")
    rules = tuple(rule for rule in re.split(r"[\s,]+", raw.strip()) if rule)
    for rule in rules:
        if not re.fullmatch(r"[EWI][0-9]{0,4}", rule):
            message = f"BARYON_CFN_LINT_IGNORE lists cfn-lint rule ids like E2533, not {rule!r}."
            raise ConfigurationError(message)
    return rules


def deadlines_from_environment() -> dict[str, float]:
    """Provisioner deadlines set by `BARYON_DEADLINE_<NAME>_SECONDS`, by lower-case name."""
    found: dict[str, float] = {}
    for key in os.environ:
        match = _DEADLINE_VARIABLE.fullmatch(key)
        if match:
            found[match.group(1).lower()] = _seconds(key, 0.0, none_at_zero=True)
    return found


def default_data_dir() -> Path:
    value = os.environ.get("BARYON_DATA_DIR")
    return Path(value).expanduser() if value else Path.home() / ".baryon"


@dataclass
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    database_url: str | None = field(default_factory=lambda: os.environ.get("BARYON_DATABASE_URL"))
    #: Base64 key (32 bytes, urlsafe) that encrypts stored secrets and signs pagination tokens.
    secret_key: str | None = field(default_factory=lambda: os.environ.get("BARYON_SECRET_KEY"))
    migrate: bool = field(default_factory=lambda: os.environ.get("BARYON_AUTO_MIGRATE", "1") != "0")
    log_level: str = field(default_factory=lambda: os.environ.get("BARYON_LOG_LEVEL", "info"))
    #: Whether API requests and deployments are counted and `/metrics` is served (BARYON_METRICS).
    metrics: bool = field(default_factory=lambda: _switch("BARYON_METRICS", True))
    #: Seconds a worker holds a job between renewals; a dead worker's jobs wait this long.
    lease_seconds: float = field(default_factory=lambda: _seconds("BARYON_LEASE_SECONDS", 30.0))
    #: The URL of Baryon's API as the commands of a command run reach it (AWS_ENDPOINT_URL_PROTON).
    advertise_url: str | None = field(default_factory=lambda: os.environ.get("BARYON_ADVERTISE_URL") or None)
    #: Seconds a deployment's commands may run before they are stopped and the deployment fails.
    run_timeout: float = field(
        default_factory=lambda: _seconds("BARYON_RUN_TIMEOUT", DEFAULT_RUN_TIMEOUT, none_at_zero=True)
    )
    #: Seconds between two looks at the state of a Terraform deployment's pull request.
    pull_request_poll_seconds: float = field(
        default_factory=lambda: _seconds("BARYON_PULL_REQUEST_POLL_SECONDS", 15.0)
    )
    #: Seconds between two looks at a branch that template or service sync follows.
    sync_poll_seconds: float = field(default_factory=lambda: _seconds("BARYON_SYNC_POLL_SECONDS", 60.0))
    #: Seconds each provisioner may wait on one deployment, by provisioner name ("cloudformation", …).
    deadlines: dict[str, float] = field(default_factory=deadlines_from_environment)

    def deadline(self, name: str, default: float | None) -> float | None:
        """Seconds the provisioner `name` may wait on one deployment; None: no deadline."""
        value = self.deadlines.get(name, default)
        return value if value is not None and math.isfinite(value) and value > 0 else None

    #: cfn-lint on rendered CloudFormation templates before they are sent (BARYON_CFN_LINT): "on" fails a
    #: deployment on errors, "warn" keeps them as warnings, "off" does not lint.
    cfn_lint: str = field(default_factory=_cfn_lint_mode)
    #: cfn-lint rules not checked (BARYON_CFN_LINT_IGNORE), e.g. ("E2533",).
    cfn_lint_ignore: tuple[str, ...] = field(default_factory=_cfn_lint_ignore)

    #: The identity a worker's leases carry across restarts (default: derived from host and data dir).
    worker_id: str | None = field(default_factory=lambda: os.environ.get("BARYON_WORKER_ID") or None)
    #: The local cloud's endpoint (`baryon up` sets it; BARYON_LOCAL_CLOUD_URL for other processes): stacks
    #: whose CloudFormation calls go there get the local-cloud layer; None: no local cloud.
    local_cloud_url: str | None = field(
        default_factory=lambda: os.environ.get("BARYON_LOCAL_CLOUD_URL") or None
    )
    #: Seconds a client has to send a whole request (headers and body) before the server closes it.
    http_read_timeout: float = field(
        default_factory=lambda: _seconds("BARYON_HTTP_READ_TIMEOUT", DEFAULT_HTTP_READ_TIMEOUT)
    )

    #: Hours a console sign-in lasts (BARYON_CONSOLE_SESSION_HOURS).
    console_session_hours: float = field(
        default_factory=lambda: _seconds("BARYON_CONSOLE_SESSION_HOURS", 12.0, unit="hours")
    )
    #: Failed console sign-ins allowed per client address and per access key ID in 15 minutes before
    #: further tries are refused for a while (BARYON_CONSOLE_SIGN_IN_LIMIT; 0: no limit).
    console_sign_in_limit: int = field(default_factory=lambda: _count("BARYON_CONSOLE_SIGN_IN_LIMIT", 20))
    #: The region the console's sign-in form offers first (BARYON_CONSOLE_REGION).
    console_region: str = field(
        default_factory=lambda: os.environ.get("BARYON_CONSOLE_REGION", "").strip() or "us-east-1"
    )

    @property
    def api_url(self) -> str:
        return (self.advertise_url or DEFAULT_API_URL).rstrip("/")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'baryon.db'}"

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.data_dir
