"""The kinds of sync the follower serves: every `Syncer`, in the order they act on a commit.

Invariants: one syncer per sync type, and every sync type of the model has one: template sync is built
here; service sync acts through the operations' own handlers, which live above this package, so the API
provides it (`provide`, called when `baryon.api.service_sync` is imported, which `load_all` does) and
`syncers()` refuses to answer without it rather than let a followed branch look unfollowed. Every process
that runs sync jobs loads the API operations first (`baryon worker`, `baryon up`, the test runtimes).
"""

from __future__ import annotations

from collections.abc import Callable

from baryon.sync.base import SERVICE_SYNC, Syncer

_PROVIDED: dict[str, Callable[[], Syncer]] = {}


class SyncNotProvided(RuntimeError):
    """A process runs sync jobs without having loaded the operations that service sync acts through."""


def provide(sync_type: str, factory: Callable[[], Syncer]) -> None:
    """Register the factory of the syncer of `sync_type` (built by a layer above this package)."""
    _PROVIDED[sync_type] = factory


def syncers() -> list[Syncer]:
    """Every registered syncer (template sync first: a service may need the versions a commit adds)."""
    from baryon.sync.template_sync import TemplateSyncer

    service = _PROVIDED.get(SERVICE_SYNC)
    if service is None:
        raise SyncNotProvided(
            "Service sync is not available in this process: load the API operations "
            "(baryon.api.registry.load_all) before running sync jobs."
        )
    return [TemplateSyncer(), service()]


def syncer_for(sync_type: str) -> Syncer | None:
    return next((syncer for syncer in syncers() if syncer.sync_type == sync_type), None)
