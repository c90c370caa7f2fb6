"""The follower's mirror and commit trees over a real bare repository: heads, commit ranges, reading only
regular files, and a checkout of a commit."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from baryon.git.command import GitError, Remote
from baryon.sync.gitrepo import GitTree, Mirror
from tests.support.git_repos import bare, git
from tests.support.template_sync import push


def _with_symlink(repo: Path) -> str:
    work = repo.parent / ".edit" / f"link-{uuid.uuid4().hex[:8]}"
    git("clone", "-q", "-b", "main", str(repo), str(work))
    os.symlink("/etc/passwd", work / "passwd")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "link", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


def test_mirror_follows_a_branch_and_reads_files_safely(tmp_path: Path) -> None:
    repo = bare(tmp_path / "remote", "org/repo", {"a.txt": "first\n"})
    first = git("--git-dir", str(repo), "rev-parse", "main")
    with Mirror(tmp_path / "mirror.git", Remote(f"file://{repo}")) as mirror:
        assert mirror.ensure() is True
        assert mirror.ensure() is False
        assert mirror.remote_head("main") == first
        assert mirror.remote_head("nope") is None
        assert not mirror.has(first)
        mirror.fetch("main")
        assert mirror.has(first)
        second = push(repo, {"a.txt": "second\n", "dir/b.bin": "x" * 2048}, "two")
        third = _with_symlink(repo)
        mirror.fetch("main")
        assert mirror.commits(first, third) == [second, third]
        assert mirror.commits(third, first) is None
        assert mirror.commits(None, third) is None

        tree = GitTree(mirror, third, tmp_path / "scratch")
        assert tree.read("a.txt") == b"second\n"
        assert tree.read("/a.txt") == b"second\n"
        assert tree.read("passwd") is None  # a symbolic link is not a file
        assert tree.read("dir") is None
        assert tree.read("missing") is None
        assert tree.read("dir/b.bin", limit=1024) is None
        assert tree.read("dir/b.bin") == b"x" * 2048
        assert GitTree(mirror, first, tmp_path / "scratch").read("a.txt") == b"first\n"

        root = tree.root
        assert (root / "a.txt").read_text() == "second\n"
        assert (root / "passwd").is_symlink()
        assert tree.root == root


def test_unreachable_remote_is_a_git_error(tmp_path: Path) -> None:
    with Mirror(tmp_path / "mirror.git", Remote(f"file://{tmp_path}/absent.git")) as mirror:
        mirror.ensure()
        with pytest.raises(GitError):
            mirror.remote_head("main")
