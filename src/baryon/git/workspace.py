"""A scratch working copy of one remote: fetch branches, start a branch, write files, commit, push.

Invariants: the scratch directory holds an ordinary repository whose `origin` is the remote's token-free
URL; files are written only inside the working tree (no absolute paths, no `..`, nothing under `.git`,
never through a symbolic link); a commit is made only when the written files change something, so
repeating the same work on a branch that already holds it creates nothing; pushes never force.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from baryon.git.command import DEFAULT_TIMEOUT, GitError, Remote, Result, run

#: File contents to write; None removes the file.
Files = Mapping[str, bytes | str | None]


@dataclass(frozen=True)
class Author:
    name: str = "Baryon"
    email: str = "baryon@localhost"


DEFAULT_AUTHOR = Author()


class PushRejected(GitError):
    """The remote refused a push because its branch moved on (fetch first / non-fast-forward)."""


class Workspace:
    def __init__(
        self,
        remote: Remote,
        path: Path,
        *,
        author: Author = DEFAULT_AUTHOR,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.remote = remote
        self.path = Path(path)
        self.author = author
        self.timeout = timeout

    # -- the remote -------------------------------------------------------------------------------

    def _git(self, *args: str, check: bool = True, cwd: Path | None = None) -> Result:
        return run(
            args,
            cwd=self.path if cwd is None else cwd,
            remote=self.remote,
            timeout=self.timeout,
            check=check,
            extra_env={
                "GIT_AUTHOR_NAME": self.author.name,
                "GIT_AUTHOR_EMAIL": self.author.email,
                "GIT_COMMITTER_NAME": self.author.name,
                "GIT_COMMITTER_EMAIL": self.author.email,
            },
        )

    def remote_heads(self) -> dict[str, str]:
        """Branch name -> head commit of every branch of the remote."""
        result = self._git("ls-remote", "--heads", self.remote.url, cwd=Path(os.curdir))
        heads: dict[str, str] = {}
        for line in result.stdout.splitlines():
            sha, _, ref = line.partition("\t")
            if ref.startswith("refs/heads/"):
                heads[ref[len("refs/heads/") :]] = sha
        return heads

    def branch_head(self, branch: str) -> str | None:
        """The remote's head commit of `branch`, or None when the branch does not exist."""
        return self.remote_heads().get(branch)

    def default_branch(self) -> str | None:
        """The branch the remote's HEAD points at, or None for an empty remote."""
        result = self._git("ls-remote", "--symref", self.remote.url, "HEAD", cwd=Path(os.curdir))
        for line in result.stdout.splitlines():
            if line.startswith("ref: refs/heads/"):
                return line[len("ref: refs/heads/") :].split("\t", 1)[0]
        return None

    # -- the working copy -------------------------------------------------------------------------

    def open(self) -> None:
        """Create the scratch repository (or reuse it) with `origin` pointing at the remote."""
        self.path.mkdir(parents=True, exist_ok=True)
        if not (self.path / ".git").is_dir():
            self._git("init", "-q")
        current = self._git("remote", "get-url", "origin", check=False)
        if current.returncode != 0:
            self._git("remote", "add", "origin", self.remote.url)
        elif current.stdout.strip() != self.remote.url:
            self._git("remote", "set-url", "origin", self.remote.url)

    def fetch(self, *branches: str) -> dict[str, str]:
        """Fetch those of `branches` that exist on the remote into `origin/<branch>`; return their heads."""
        self.open()
        heads = self.remote_heads()
        present = [b for b in dict.fromkeys(branches) if b in heads]
        if present:
            refspecs = [f"+refs/heads/{b}:refs/remotes/origin/{b}" for b in present]
            self._git("fetch", "-q", "--no-tags", "origin", *refspecs)
        return {b: heads[b] for b in present}

    def start(self, branch: str, source: str | None) -> None:
        """Check out local `branch` at `origin/<source>` (already fetched), or as an empty new history when
        `source` is None; the working tree is left clean."""
        _check_branch_name(branch)
        if source is None:
            self._git("update-ref", "-d", f"refs/heads/{branch}")
            self._git("symbolic-ref", "HEAD", f"refs/heads/{branch}")
            self._git("rm", "-rfq", "--cached", "--ignore-unmatch", ".")
        else:
            self._git("checkout", "-q", "-f", "-B", branch, f"refs/remotes/origin/{source}")
        self._git("clean", "-fdxq")

    def write(self, files: Files) -> list[str]:
        """Write (or with None remove) files relative to the working tree; return the paths touched."""
        touched: list[str] = []
        root = self.path.resolve()
        for name, content in files.items():
            relative = _safe_path(name)
            target = root.joinpath(*relative.parts)
            _refuse_links(root, relative)
            if content is None:
                if target.is_symlink() or target.is_file():
                    target.unlink()
                    touched.append(relative.as_posix())
                continue
            data = content.encode() if isinstance(content, str) else content
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.is_symlink():
                    target.unlink()
                target.write_bytes(data)
            except OSError as error:
                raise GitError(f"cannot write {relative.as_posix()}: {error.strerror}") from None
            touched.append(relative.as_posix())
        return touched

    def commit(self, message: str, paths: list[str] | None = None) -> str | None:
        """Commit the given paths (all changes when None); return the new commit, or None when nothing
        changed."""
        if paths is None:
            self._git("add", "-A")
        elif paths:
            self._git("add", "-A", "--", *paths)
        if self._git("diff", "--cached", "--quiet", check=False).returncode == 0:
            return None
        self._git("commit", "-q", "--no-verify", "-m", message)
        return self.head()

    def head(self) -> str | None:
        result = self._git("rev-parse", "--verify", "-q", "HEAD", check=False)
        return result.stdout.strip() or None

    def push(self, branch: str) -> str | None:
        """Push HEAD to the remote's `branch` without forcing; return the commit pushed."""
        _check_branch_name(branch)
        head = self.head()
        if head is None:
            return None
        result = self._git("push", "--porcelain", "origin", f"HEAD:refs/heads/{branch}", check=False)
        if result.returncode != 0:
            text = result.stdout + "\n" + result.stderr
            if "[rejected]" in text or "non-fast-forward" in text or "fetch first" in text:
                raise PushRejected(f"the remote branch {branch} has moved on; fetch and try again")
            raise GitError(_push_failure(result))
        return head

    def list_files(self, ref: str) -> list[str]:
        """The path of every file at `ref` (e.g. `origin/main`) in the scratch repository, sorted."""
        result = self._git("ls-tree", "-r", "-z", "--name-only", ref)
        return sorted(name for name in result.stdout.split("\0") if name)

    def read(self, ref: str, path: str) -> str | None:
        """The text of `path` at `ref` (e.g. `origin/main`) in the scratch repository, or None."""
        relative = _safe_path(path)
        result = run(
            ["cat-file", "blob", f"{ref}:{relative.as_posix()}"],
            cwd=self.path,
            timeout=self.timeout,
            check=False,
        )
        return result.stdout if result.returncode == 0 else None


def _push_failure(result: Result) -> str:
    detail = [line for line in (result.stderr + "\n" + result.stdout).splitlines() if line.strip()]
    detail = [line for line in detail if not line.startswith(("hint:", "To ", "Done"))]
    return "git push failed: " + ("; ".join(detail[-5:]) if detail else f"exit status {result.returncode}")


def _safe_path(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    parts = name.split("/")
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or "\0" in name
        or any(part in ("", ".", "..") for part in parts)
        or any(part.lower() == ".git" for part in parts)
    ):
        raise GitError(f"refusing to write outside the working tree: {name!r}")
    return path


def _refuse_links(root: Path, relative: PurePosixPath) -> None:
    current = root
    for part in relative.parts[:-1]:
        current = current / part
        if current.is_symlink():
            raise GitError(f"refusing to write through the symbolic link {current.relative_to(root)}")


def _check_branch_name(branch: str) -> None:
    result = run(["check-ref-format", "--branch", branch], check=False)
    if result.returncode != 0 or branch.startswith("-"):
        raise GitError(f"not a valid branch name: {branch!r}")
