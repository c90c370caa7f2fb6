"""The objects one Baryon process shares between its API and its engine.

Invariants: one `Runtime` per process and database; it owns the database engine, the deployment secret,
the token signer, the injectable clock and id providers, and the command runner (by default the local
runner in `<data dir>/runs`, made on first use with the runtime's clock). `wake` lets an in-process worker
start on new jobs at once instead of at its next poll; `announce` hands a deployment's start or end to
the process's observers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from baryon.clock import Clock, Ids, RandomIds, SystemClock
from baryon.config import Settings
from baryon.domain.quotas import Quotas
from baryon.domain.story import DeploymentEvent
from baryon.engine.runners.base import RunnerBackend
from baryon.engine.runners.local import LocalRunner
from baryon.protocol.pagination import TokenSigner
from baryon.store.credentials import CredentialStore
from baryon.store.db import Database
from baryon.store.migrate import upgrade
from baryon.store.secrets import Secrets, load_key


@dataclass
class Runtime:
    settings: Settings
    database: Database
    secrets: Secrets
    credentials: CredentialStore
    tokens: TokenSigner
    clock: Clock = field(default_factory=SystemClock)
    ids: Ids = field(default_factory=RandomIds)
    quotas: Quotas = field(default_factory=Quotas.from_environment)
    work_available: threading.Event = field(default_factory=threading.Event)
    runner: RunnerBackend | None = None
    _runner_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    #: Called with each deployment start and end this process sees (`baryon up` prints them).
    observers: list[Callable[[DeploymentEvent], None]] = field(default_factory=list)

    def wake(self) -> None:
        self.work_available.set()

    def announce(self, event: DeploymentEvent) -> None:
        """Tell every observer; an observer that raises is logged and never fails the caller."""
        for observer in list(self.observers):
            try:
                observer(event)
            except Exception:
                logging.getLogger("baryon.runtime").exception("a deployment observer failed")

    def runner_backend(self) -> RunnerBackend:
        """The backend that runs `codebuild` commands."""
        with self._runner_lock:
            if self.runner is None:
                self.runner = LocalRunner.in_data_dir(self.settings.data_dir, clock=self.clock)
            return self.runner

    def close(self) -> None:
        self.credentials.close()
        self.database.dispose()


def open_runtime(settings: Settings, *, migrate: bool | None = None) -> Runtime:
    """Connect to the configured database (migrating it unless told not to) and bind the secret key."""
    settings.ensure_data_dir()
    database = Database(settings.resolved_database_url)
    if settings.migrate if migrate is None else migrate:
        upgrade(database)
    secrets = Secrets(load_key(settings.secret_key, settings.data_dir))
    secrets.bind(database)
    return Runtime(
        settings=settings,
        database=database,
        secrets=secrets,
        credentials=CredentialStore(database, secrets),
        tokens=TokenSigner(secrets.key),
    )
