"""Process configuration from `BARYON_*` variables and command-line flags.

Invariants: flags win over variables, variables over defaults; the data dir exists once `ensure_data_dir`
has run; the default database is SQLite inside the data dir.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


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
    #: Seconds a worker holds a job between renewals; a dead worker's jobs wait this long.
    lease_seconds: float = field(default_factory=lambda: float(os.environ.get("BARYON_LEASE_SECONDS", "30")))
    #: Seconds between two looks at the state of a Terraform deployment's pull request.
    pull_request_poll_seconds: float = field(
        default_factory=lambda: float(os.environ.get("BARYON_PULL_REQUEST_POLL_SECONDS", "15"))
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'baryon.db'}"

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.data_dir
