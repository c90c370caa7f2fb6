"""The kinds of sync the follower serves: every `Syncer`, in the order they act on a commit.

Invariants: one syncer per sync type; a new kind of sync is one module with a Syncer and one line in
`syncers()` (service sync registers here as SERVICE_SYNC).
"""

from __future__ import annotations

from baryon.sync.base import Syncer


def syncers() -> list[Syncer]:
    """Every registered syncer (template sync first: a service may need the versions a commit adds)."""
    from baryon.sync.template_sync import TemplateSyncer

    found: list[Syncer] = [TemplateSyncer()]
    # Service sync: append its Syncer here, e.g.
    #   from baryon.sync.service_sync import ServiceSyncer
    #   found.append(ServiceSyncer())
    return found


def syncer_for(sync_type: str) -> Syncer | None:
    return next((syncer for syncer in syncers() if syncer.sync_type == sync_type), None)
