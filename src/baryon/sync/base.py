"""The interface between following git branches and what a kind of sync does with what it finds.

Invariants: a `Syncer` names the branches it follows (in every account and region) and is handed the tree
of a branch at one commit; it never fetches by itself, so that one follower, driven by polling or by a
provider's push webhook, serves every kind of sync; `apply` is idempotent for the same commit, because a
crashed worker's job runs again; a syncer that must wait raises `RetryLater` and is handed the same commit
again after the delay it names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.engine import Connection

from baryon.store.sync_status import SERVICE_SYNC as SERVICE_SYNC
from baryon.store.sync_status import TEMPLATE_SYNC as TEMPLATE_SYNC

if TYPE_CHECKING:
    from baryon.runtime import Runtime


@dataclass(frozen=True, order=True)
class Branch:
    """One branch of one linked repository, as seen from one account and region."""

    account_id: str
    region: str
    provider: str
    repository: str
    branch: str


class Tree(Protocol):
    """A branch's files at one commit."""

    @property
    def sha(self) -> str: ...

    @property
    def root(self) -> Path:
        """A checkout of the commit (read it; never write into it)."""
        ...

    def read(self, path: str) -> bytes | None:
        """The bytes of a file at this commit; None when there is no such file (or it is not a file)."""
        ...


#: The tree of another followed branch at its latest known commit (None: not fetched or no such branch).
Heads = Callable[[Branch], Tree | None]


class RetryLater(Exception):
    """Raised by `Syncer.apply`: part of the commit waits (for a deployment in flight, say) and the same
    commit is to be applied again after `delay` seconds; what could be applied is committed already."""

    def __init__(self, reason: str, delay: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


class Syncer(Protocol):
    """One kind of sync (TEMPLATE_SYNC or SERVICE_SYNC)."""

    @property
    def sync_type(self) -> str: ...

    def branches(self, connection: Connection) -> list[Branch]:
        """Every branch this kind of sync follows now, over all accounts and regions."""
        ...

    def apply(self, runtime: Runtime, branch: Branch, tree: Tree, heads: Heads) -> None:
        """Act on `branch` having moved to `tree.sha`."""
        ...
