"""The follower's local copy of a linked repository, and the tree of a commit read from it.

Job: `Mirror` keeps one bare repository per linked repository (per account, region, provider and name)
under `<data dir>/sync/git/`, asks the remote where a branch is (`remote_head`, an `ls-remote`), fetches a
branch only when its head is not already there, lists the commits between two heads and reads trees and
blobs; `GitTree` is a `baryon.sync.base.Tree` of one commit.

Invariants: the content of a commit is never trusted: `GitTree.read` answers only regular files (no
symbolic links, submodules or directories) up to `READ_LIMIT` bytes, reading blobs from the object
store (nothing is checked out to read a file); `GitTree.root` is a checkout made only when asked for, in
a scratch directory the follower removes after the look at the branch; a mirror larger than
`REPOSITORY_LIMIT` (Proton's 250 MB) is refused; paths that are not UTF-8 are left out of listings; one
process works in a mirror at a time (a file lock), so fetches of two branches do not collide.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from baryon.filelock import FileLock
from baryon.git.command import GitError, Remote, output, run

#: Largest file `GitTree.read` returns (bigger ones read as absent).
READ_LIMIT = 1024 * 1024
#: Largest repository (packed objects) the follower keeps, as Proton's template sync limit.
REPOSITORY_LIMIT = 250 * 1024 * 1024
#: Most entries a commit's tree may list.
ENTRY_LIMIT = 200_000
REGULAR_MODES = ("100644", "100755")
SYMLINK_MODE = "120000"
SUBMODULE_MODE = "160000"
_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


@dataclass(frozen=True)
class Entry:
    """One entry of a commit's tree: `mode` as git prints it, `kind` blob/tree/commit, `size` for blobs."""

    path: str
    mode: str
    kind: str
    oid: str
    size: int | None


class RepositoryTooLarge(GitError):
    pass


def mirror_path(data_dir: Path, account_id: str, region: str, provider: str, repository: str) -> Path:
    digest = hashlib.sha256("\x00".join((account_id, region, provider, repository)).encode()).hexdigest()
    return data_dir / "sync" / "git" / f"{digest[:32]}.git"


class Mirror:
    def __init__(self, path: Path, remote: Remote, *, timeout: float = 300.0) -> None:
        self.path = path
        self.remote = remote
        self.timeout = timeout
        self._held: FileLock | None = None

    # -- locking ----------------------------------------------------------------------------------------

    def __enter__(self) -> Mirror:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _LOCKS_GUARD:
            local = _LOCKS.setdefault(self.path, threading.Lock())
        if not local.acquire(timeout=self.timeout):
            raise GitError(f"the local copy of {self.remote.url} stayed busy for {self.timeout:g} seconds")
        lock = FileLock(self.path.with_suffix(".lock"))
        deadline = time.monotonic() + self.timeout
        while not lock.try_acquire():
            if time.monotonic() > deadline:
                local.release()
                raise GitError(
                    f"the local copy of {self.remote.url} stayed busy for {self.timeout:g} seconds"
                )
            time.sleep(0.05)
        self._held = lock
        return self

    def __exit__(self, *_: object) -> None:
        if self._held is not None:
            self._held.release()
            self._held = None
            _LOCKS[self.path].release()

    # -- git --------------------------------------------------------------------------------------------

    def _git(self, *args: str, remote: bool = False) -> str:
        return run(
            ["--git-dir", str(self.path), *args],
            remote=self.remote if remote else None,
            timeout=self.timeout,
        ).stdout

    def ensure(self) -> bool:
        """Create the bare repository when it is missing; True when it was created."""
        if (self.path / "HEAD").is_file():
            return False
        if self.path.exists():
            shutil.rmtree(self.path)
        run(["init", "-q", "--bare", str(self.path)], timeout=self.timeout)
        return True

    def remote_head(self, branch: str) -> str | None:
        """Where the remote's `branch` is now, or None when it has no such branch."""
        result = run(
            ["ls-remote", "--heads", self.remote.url, f"refs/heads/{branch}"],
            remote=self.remote,
            timeout=self.timeout,
        )
        for line in result.stdout.splitlines():
            sha, _, ref = line.partition("\t")
            if ref == f"refs/heads/{branch}" and _SHA.match(sha):
                return sha
        return None

    def has(self, sha: str) -> bool:
        result = run(
            ["--git-dir", str(self.path), "cat-file", "-e", f"{sha}^{{commit}}"],
            timeout=self.timeout,
            check=False,
        )
        return result.returncode == 0

    def fetch(self, branch: str) -> None:
        """Fetch `branch` into `refs/remotes/origin/<branch>`; RepositoryTooLarge past the limit."""
        self._git(
            "fetch",
            "-q",
            "--no-tags",
            "--no-recurse-submodules",
            self.remote.url,
            f"+refs/heads/{branch}:refs/remotes/origin/{branch}",
            remote=True,
        )
        size = 0
        for line in self._git("count-objects", "-v").splitlines():
            name, _, value = line.partition(":")
            if name in ("size", "size-pack") and value.strip().isdigit():
                size += int(value.strip()) * 1024
        if size > REPOSITORY_LIMIT:
            raise RepositoryTooLarge(
                f"The repository is larger than {REPOSITORY_LIMIT // (1024 * 1024)} MB; "
                "template sync supports repositories up to that size."
            )

    def commits(self, since: str | None, head: str) -> list[str] | None:
        """The commits after `since` up to `head`, oldest first, along first parents; None when `since` is
        not an ancestor of `head` (history rewritten) or is unknown."""
        if since is None or not self.has(since):
            return None
        if run(
            ["--git-dir", str(self.path), "merge-base", "--is-ancestor", since, head],
            timeout=self.timeout,
            check=False,
        ).returncode:
            return None
        listed = self._git("rev-list", "--reverse", "--first-parent", f"{since}..{head}")
        return [line for line in listed.splitlines() if _SHA.match(line)]

    def entries(self, sha: str) -> list[Entry]:
        """Every entry of the commit's tree (trees included), recursively."""
        raw = output(
            ["--git-dir", str(self.path), "ls-tree", "-r", "-t", "-l", "-z", "--full-tree", sha],
            timeout=self.timeout,
        )
        found: list[Entry] = []
        for record in raw.split(b"\0"):
            if not record:
                continue
            head, _, name = record.partition(b"\t")
            try:
                path = name.decode("utf-8")
            except UnicodeDecodeError:
                continue
            fields = head.decode("ascii", "replace").split()
            if len(fields) != 4:
                continue
            mode, kind, oid, size = fields
            found.append(Entry(path, mode, kind, oid, int(size) if size.isdigit() else None))
            if len(found) > ENTRY_LIMIT:
                raise GitError(f"the commit {sha} holds more than {ENTRY_LIMIT} files")
        return found

    def blob(self, oid: str, limit: int) -> bytes:
        return output(
            ["--git-dir", str(self.path), "cat-file", "blob", oid], timeout=self.timeout, limit=limit
        )

    def checkout(self, sha: str, target: Path) -> None:
        """Write the commit's files into `target` (a new directory), with an index of its own."""
        target.mkdir(parents=True, exist_ok=False)
        index = target.parent / f"{target.name}.index"
        env = {"GIT_INDEX_FILE": str(index)}
        run(
            ["--git-dir", str(self.path), "--work-tree", str(target), "read-tree", sha],
            extra_env=env,
            timeout=self.timeout,
        )
        run(
            ["--git-dir", str(self.path), "--work-tree", str(target), "checkout-index", "-a", "-f"],
            extra_env=env,
            timeout=self.timeout,
        )
        index.unlink(missing_ok=True)


class GitTree:
    """A `Tree` of one commit of a mirror; `scratch` is where `root` checks it out when asked."""

    def __init__(self, mirror: Mirror, sha: str, scratch: Path) -> None:
        self._mirror = mirror
        self._sha = sha
        self._scratch = scratch
        self._entries: dict[str, Entry] | None = None
        self._root: Path | None = None

    @property
    def sha(self) -> str:
        return self._sha

    @property
    def root(self) -> Path:
        if self._root is None:
            target = self._scratch / self._sha
            if not target.exists():
                self._mirror.checkout(self._sha, target)
            self._root = target
        return self._root

    def entries(self) -> dict[str, Entry]:
        """Every entry of the commit by path."""
        if self._entries is None:
            self._entries = {entry.path: entry for entry in self._mirror.entries(self._sha)}
        return self._entries

    def read(self, path: str, limit: int = READ_LIMIT) -> bytes | None:
        entry = self.entries().get(path.strip("/"))
        if entry is None or entry.kind != "blob" or entry.mode not in REGULAR_MODES:
            return None
        if entry.size is not None and entry.size > limit:
            return None
        return self._mirror.blob(entry.oid, limit)

    def blob(self, entry: Entry, limit: int) -> bytes:
        """The bytes of a file entry of this tree (GitError past `limit`)."""
        return self._mirror.blob(entry.oid, limit)
