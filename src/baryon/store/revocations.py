"""Revocation notices on PostgreSQL, so that a server can keep active credentials in memory.

Invariants: `baryon credentials revoke` sends `NOTIFY baryon_credentials` in the transaction that revokes,
so every listening server drops the key when the revocation commits; a server serves credentials from
memory only while its listener is connected (on any error it clears its cache and reads the database on
every request until it has listened again); SQLite has no notices, so nothing is cached there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import sqlalchemy as sa

CHANNEL = "baryon_credentials"
log = logging.getLogger("baryon.store.revocations")


def notify(connection: sa.Connection, access_key_id: str) -> None:
    """Announce a revocation (delivered when the surrounding transaction commits)."""
    connection.execute(
        sa.text("SELECT pg_notify(:channel, :key)"), {"channel": CHANNEL, "key": access_key_id}
    )


class RevocationWatch:
    def __init__(self, url: sa.URL, on_revoke: Callable[[str], None], on_reset: Callable[[], None]) -> None:
        self._dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._on_revoke = on_revoke
        self._on_reset = on_reset
        self._stop = threading.Event()
        self._live = threading.Event()
        self._thread = threading.Thread(target=self._run, name="baryon-revocations", daemon=True)

    @property
    def live(self) -> bool:
        return self._live.is_set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        import psycopg  # only a server on PostgreSQL listens

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self._on_reset()
                    self._live.set()
                    while not self._stop.is_set():
                        for notice in connection.notifies(timeout=1.0):
                            self._on_revoke(notice.payload)
            except Exception as error:  # the watch degrades to no caching; it never stops the server
                log.warning("revocation listener lost (%s); reading credentials from the database", error)
            finally:
                self._live.clear()
                self._on_reset()
            self._stop.wait(1.0)
