"""Bare git repositories for tests, and reading what was pushed to them (real git, isolated config)."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

ENV = {
    "PATH": os.environ["PATH"],
    "HOME": os.environ.get("HOME", "/tmp"),
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "Someone",
    "GIT_AUTHOR_EMAIL": "someone@example.com",
    "GIT_COMMITTER_NAME": "Someone",
    "GIT_COMMITTER_EMAIL": "someone@example.com",
}


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=ENV, check=True, capture_output=True, text=True
    ).stdout.strip()


def bare(root: Path, name: str, files: dict[str, str] | None = None) -> Path:
    """A bare repository `<root>/<name>.git` whose `main` holds one commit with `files` (default: a
    README); an empty dict leaves it without any commit."""
    path = root / f"{name}.git"
    path.parent.mkdir(parents=True, exist_ok=True)
    git("init", "-q", "--bare", "-b", "main", str(path))
    seed = {"README.md": "infrastructure\n"} if files is None else files
    if seed:
        work = root / ".seed" / name
        git("clone", "-q", str(path), str(work))
        for relative, text in seed.items():
            target = work / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", "first", cwd=work)
        git("push", "-q", "origin", "HEAD:main", cwd=work)
    return path


def branches(repo: Path) -> dict[str, str]:
    """Branch name -> head commit."""
    out = git("--git-dir", str(repo), "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads")
    return dict(line.split(" ", 1) for line in out.splitlines())


def show(repo: Path, ref: str, path: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(repo), "show", f"{ref}:{path}"],
        env=ENV,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def files_at(repo: Path, ref: str) -> list[str]:
    return sorted(git("--git-dir", str(repo), "ls-tree", "-r", "--name-only", ref).splitlines())


def commits(repo: Path, ref: str, since: str | None = None) -> list[str]:
    """Subjects of the commits reachable from `ref` (not from `since`), newest first."""
    span = f"{since}..{ref}" if since else ref
    out = git("--git-dir", str(repo), "log", "--format=%s", span)
    return out.splitlines() if out else []


def author(repo: Path, ref: str) -> str:
    return git("--git-dir", str(repo), "log", "-1", "--format=%an <%ae>", ref)


def merge(repo: Path, branch: str, into: str = "main") -> None:
    """Merge `branch` into `into` the way a host's merge button does (a merge commit)."""
    work = repo.parent / ".merge" / f"{repo.name}-{uuid.uuid4().hex[:8]}"
    git("clone", "-q", "-b", into, str(repo), str(work))
    git("fetch", "-q", "origin", branch, cwd=work)
    git("merge", "-q", "--no-ff", "-m", f"Merge {branch}", "FETCH_HEAD", cwd=work)
    git("push", "-q", "origin", f"HEAD:{into}", cwd=work)


def commit_files(repo: Path, files: dict[str, str], message: str, branch: str = "main") -> None:
    """Commit `files` on `branch` of `repo` as someone working on the repository would."""
    work = repo.parent / ".edit" / f"{repo.name}-{uuid.uuid4().hex[:8]}"
    git("clone", "-q", "-b", branch, str(repo), str(work))
    for relative, text in files.items():
        target = work / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", message, cwd=work)
    git("push", "-q", "origin", f"HEAD:{branch}", cwd=work)
