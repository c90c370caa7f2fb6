"""Git plumbing against real bare repositories (file:// and smart HTTP with a token)."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

import pytest

from baryon.git.command import GitError, Remote
from baryon.git.publish import publish
from baryon.git.workspace import Author, PushRejected, Workspace
from tests.support.git_http import serve

TOKEN = "ghp_Sup3rSecretT0ken"
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


def bare(tmp_path: Path, name: str = "org/infra", *, seed: bool = True) -> Path:
    """A bare repository; with `seed`, its `main` holds one commit with README.md and environments/."""
    path = tmp_path / "remotes" / f"{name}.git"
    path.parent.mkdir(parents=True, exist_ok=True)
    git("init", "-q", "--bare", "-b", "main", str(path))
    if seed:
        work = tmp_path / "seed"
        git("clone", "-q", str(path), str(work))
        (work / "README.md").write_text("infra\n")
        (work / "environments").mkdir()
        (work / "environments" / ".keep").write_text("")
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", "first", cwd=work)
        git("push", "-q", "origin", "HEAD:main", cwd=work)
    return path


def show(repo: Path, ref: str, path: str) -> str:
    return git("--git-dir", str(repo), "show", f"{ref}:{path}")


FILES = {"dev/main.tf": "resource {}\n", "dev/.proton/deployment-metadata.json": '{"deploymentId" : "1"}'}


def test_pull_request_branch_is_published_once(tmp_path: Path) -> None:
    origin = bare(tmp_path)
    remote = Remote(f"file://{origin}")
    base_head = git("--git-dir", str(origin), "rev-parse", "main")
    first = publish(
        remote,
        tmp_path / "s1",
        base="main",
        head="proton--env-1",
        files=FILES,
        message="Update - environment/dev",
    )
    assert first.branch == "proton--env-1" and first.created
    assert git("--git-dir", str(origin), "rev-parse", "proton--env-1") == first.commit
    assert git("--git-dir", str(origin), "rev-parse", "main") == base_head
    assert show(origin, "proton--env-1", "dev/main.tf") == "resource {}"
    assert show(origin, "proton--env-1", "README.md") == "infra"
    log = git("--git-dir", str(origin), "log", "-1", "--format=%an <%ae>|%cn <%ce>|%s|%P", "proton--env-1")
    assert log == f"Baryon <baryon@localhost>|Baryon <baryon@localhost>|Update - environment/dev|{base_head}"

    # A repetition after a crash (fresh scratch dir) finds the files there and pushes nothing new.
    again = publish(
        remote,
        tmp_path / "s2",
        base="main",
        head="proton--env-1",
        files=FILES,
        message="Update - environment/dev",
    )
    assert (again.commit, again.created) == (first.commit, False)
    # The same scratch dir is reusable, and new content goes on top of the branch.
    changed = publish(
        remote,
        tmp_path / "s2",
        base="main",
        head="proton--env-1",
        files={"dev/main.tf": "resource { x = 1 }\n"},
        message="again",
        author=Author("Bot", "bot@example.com"),
    )
    assert changed.created
    assert git("--git-dir", str(origin), "rev-parse", "proton--env-1^") == first.commit
    assert (
        git("--git-dir", str(origin), "log", "-1", "--format=%an <%ae>", "proton--env-1")
        == "Bot <bot@example.com>"
    )
    assert Workspace(remote, tmp_path / "s3").branch_head("proton--env-1") == changed.commit
    assert Workspace(remote, tmp_path / "s3").branch_head("nope") is None
    assert Workspace(remote, tmp_path / "s3").default_branch() == "main"
    reader = Workspace(remote, tmp_path / "s4")
    assert reader.fetch("proton--env-1", "absent") == {"proton--env-1": changed.commit}
    assert reader.read("origin/proton--env-1", "dev/main.tf") == "resource { x = 1 }\n"
    assert (
        reader.read("origin/proton--env-1", "dev/.proton/deployment-metadata.json")
        == FILES["dev/.proton/deployment-metadata.json"]
    )
    assert reader.read("origin/proton--env-1", "dev/nothing.tf") is None
    assert reader.list_files("origin/proton--env-1") == [
        "README.md",
        "dev/.proton/deployment-metadata.json",
        "dev/main.tf",
        "environments/.keep",
    ]


def test_direct_mode_commits_to_the_base_branch(tmp_path: Path) -> None:
    origin = bare(tmp_path)
    remote = Remote(f"file://{origin}")
    first = publish(remote, tmp_path / "s1", base="main", files=FILES, message="direct")
    assert first.branch == "main" and first.created
    assert git("--git-dir", str(origin), "rev-parse", "main") == first.commit
    assert show(origin, "main", "dev/.proton/deployment-metadata.json") == '{"deploymentId" : "1"}'
    again = publish(remote, tmp_path / "s2", base="main", files=FILES, message="direct")
    assert (again.commit, again.created) == (first.commit, False)
    assert git("--git-dir", str(origin), "rev-list", "--count", "main") == "2"
    removed = publish(remote, tmp_path / "s2", base="main", files={"dev/main.tf": None}, message="remove")
    assert removed.created
    assert "dev/main.tf" not in git("--git-dir", str(origin), "ls-tree", "-r", "--name-only", "main")


def test_empty_remote(tmp_path: Path) -> None:
    origin = bare(tmp_path, seed=False)
    remote = Remote(f"file://{origin}")
    assert Workspace(remote, tmp_path / "s0").default_branch() is None
    with pytest.raises(GitError) as caught:
        publish(remote, tmp_path / "s1", base="main", head="proton--x", files=FILES, message="m")
    assert caught.value.message == f"the base branch main does not exist in file://{origin}"
    created = publish(remote, tmp_path / "s2", base="main", files=FILES, message="first")
    assert git("--git-dir", str(origin), "rev-list", "--count", "main") == "1"
    assert git("--git-dir", str(origin), "rev-parse", "main") == created.commit


def test_a_push_that_lost_a_race_is_rejected_and_publish_redoes_it(tmp_path: Path) -> None:
    origin = bare(tmp_path)
    remote = Remote(f"file://{origin}")
    workspace = Workspace(remote, tmp_path / "s1")
    workspace.fetch("main")
    workspace.start("main", "main")
    workspace.commit("mine", workspace.write({"a.txt": "a"}))
    other = tmp_path / "other"
    git("clone", "-q", str(origin), str(other))
    (other / "b.txt").write_text("b")
    git("add", "-A", cwd=other)
    git("commit", "-q", "-m", "theirs", cwd=other)
    git("push", "-q", "origin", "HEAD:main", cwd=other)
    with pytest.raises(PushRejected):
        workspace.push("main")
    result = publish(remote, tmp_path / "s1", base="main", files={"a.txt": "a"}, message="mine")
    assert result.created
    assert show(origin, "main", "a.txt") == "a" and show(origin, "main", "b.txt") == "b"


@pytest.mark.parametrize(
    "name", ["../x", "/etc/passwd", ".git/config", "a/.GIT/hooks/x", "a//b", "a/./b", ""]
)
def test_files_stay_inside_the_working_tree(tmp_path: Path, name: str) -> None:
    origin = bare(tmp_path)
    workspace = Workspace(Remote(f"file://{origin}"), tmp_path / "s")
    workspace.fetch("main")
    workspace.start("main", "main")
    with pytest.raises(GitError) as caught:
        workspace.write({name: "x"})
    assert caught.value.message == f"refusing to write outside the working tree: {name!r}"


def test_symbolic_links_in_the_repository_are_not_followed(tmp_path: Path) -> None:
    origin = bare(tmp_path)
    work = tmp_path / "seed"
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", work / "envs")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "link", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    workspace = Workspace(Remote(f"file://{origin}"), tmp_path / "s")
    workspace.fetch("main")
    workspace.start("main", "main")
    with pytest.raises(GitError) as caught:
        workspace.write({"envs/main.tf": "x"})
    assert caught.value.message == "refusing to write through the symbolic link envs"
    assert list((tmp_path / "outside").iterdir()) == []


def test_invalid_branch_names_are_refused(tmp_path: Path) -> None:
    origin = bare(tmp_path)
    with pytest.raises(GitError) as caught:
        publish(
            Remote(f"file://{origin}"), tmp_path / "s", base="main", head="a..b", files=FILES, message="m"
        )
    assert caught.value.message == "not a valid branch name: 'a..b'"


def test_token_goes_only_in_a_header_and_never_into_errors(tmp_path: Path) -> None:
    root = tmp_path / "remotes"
    bare(tmp_path)
    basic = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    with serve(root, f"Basic {basic}") as server:
        url = f"{server.url}/org/infra.git"
        remote = Remote(url, TOKEN)
        result = publish(
            remote, tmp_path / "s1", base="main", head="proton--1", files=FILES, message="over http"
        )
        assert git("--git-dir", str(root / "org/infra.git"), "rev-parse", "proton--1") == result.commit
        assert {auth for _, _, auth in server.seen} == {f"Basic {basic}"}
        config = (tmp_path / "s1" / ".git" / "config").read_text()
        assert TOKEN not in config and basic not in config and url in config

        wrong = Remote(url, "ghp_WrongT0kenValue")
        with pytest.raises(GitError) as caught:
            publish(wrong, tmp_path / "s2", base="main", head="proton--2", files=FILES, message="m")
        assert "ghp_WrongT0kenValue" not in caught.value.message
        assert caught.value.message.startswith("git ls-remote failed:")
        # A token of the form user:password is sent as it is.
        with pytest.raises(GitError):
            Workspace(Remote(url, "someone:apppassword"), tmp_path / "s3").branch_head("main")
        assert server.seen[-1][2] == "Basic " + base64.b64encode(b"someone:apppassword").decode()

    # Errors that echo the URL or the credential never show the token.
    unreachable = Remote("https://127.0.0.1:9/org/infra.git", TOKEN)
    with pytest.raises(GitError) as caught:
        Workspace(unreachable, tmp_path / "s4").fetch("main")
    assert TOKEN not in caught.value.message and basic not in caught.value.message
    assert "https://127.0.0.1:9/org/infra.git" in caught.value.message
    assert unreachable.scrub(f"x {TOKEN} {basic} x-access-token:{TOKEN}") == "x *** *** ***"
    assert TOKEN not in repr(unreachable)
    with pytest.raises(ValueError):
        Remote(f"https://user:{TOKEN}@github.com/org/infra.git")
