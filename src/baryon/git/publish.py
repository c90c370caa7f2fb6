"""Publish a set of files to a remote branch: the step the Terraform provisioner repeats until it sticks.

Invariants: with a head branch (pull-request mode) the files are committed on that branch, started from
the base branch the first time and continued from the remote's copy of it on every repetition; without
one (direct mode) they are committed on the base branch itself, created as a new history when the remote
has no such branch; a repetition after a crash finds the files already there and pushes nothing new; a
push that loses a race with another writer is redone on top of the new remote head a few times.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from baryon.git.command import DEFAULT_TIMEOUT, GitError, Remote
from baryon.git.workspace import DEFAULT_AUTHOR, Author, Files, PushRejected, Workspace

ATTEMPTS = 3


@dataclass(frozen=True)
class Published:
    branch: str
    """The remote branch that now holds the files (the head branch, or the base in direct mode)."""
    commit: str
    """Its head commit."""
    created: bool
    """False when the branch already held exactly these files (nothing was committed)."""


def publish(
    remote: Remote,
    scratch: Path,
    *,
    base: str,
    files: Files,
    message: str,
    head: str | None = None,
    author: Author = DEFAULT_AUTHOR,
    timeout: float = DEFAULT_TIMEOUT,
    attempts: int = ATTEMPTS,
) -> Published:
    """Commit `files` with `message` onto `head` (from `base`) or, when `head` is None, onto `base`."""
    workspace = Workspace(remote, scratch, author=author, timeout=timeout)
    target = head or base
    for attempt in range(attempts):
        fetched = workspace.fetch(base, target)
        if target in fetched:
            source: str | None = target
        elif head is not None:
            if base not in fetched:
                raise GitError(f"the base branch {base} does not exist in {remote.url}")
            source = base
        else:
            source = None
        workspace.start(target, source)
        touched = workspace.write(files)
        commit = workspace.commit(message, touched)
        if commit is None:
            current = workspace.head()
            if current is not None and source == target:
                return Published(target, current, False)
            if current is None:
                raise GitError(f"nothing to publish to {target}: no files were given")
        try:
            pushed = workspace.push(target)
        except PushRejected:
            if attempt + 1 == attempts:
                raise
            continue
        assert pushed is not None
        return Published(target, pushed, commit is not None)
    raise AssertionError("unreachable")
