"""The ops file of service sync: its entries for one service, and the paths it may name."""

from __future__ import annotations

import pytest

from baryon.domain.ops_file import MAX_OPS_FILE_BYTES, OpsEntry, OpsFileError, parse_ops_file, path_problem

WHERE = "The ops file proton-ops.yaml on branch main"


def test_entries_of_one_service_in_instance_order() -> None:
    text = """
sync:
  services:
    api:
      front: {branch: main, spec: specs/api.yaml}
      back:
        branch: feature/x
        spec: specs/back.yaml
    other:
      x: not even a mapping
"""
    assert parse_ops_file(text, "api", WHERE) == [
        OpsEntry("back", "feature/x", "specs/back.yaml"),
        OpsEntry("front", "main", "specs/api.yaml"),
    ]
    assert parse_ops_file(text, "absent", WHERE) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", f"{WHERE} must be a mapping with sync: services: <service>: <instance>: ..."),
        ("sync: 3\n", f"{WHERE} must be a mapping with sync: services: <service>: <instance>: ..."),
        (
            "sync:\n  services:\n    api: [a]\n",
            f"{WHERE}: sync.services.api must be a mapping of instances, not a list.",
        ),
        (
            "sync:\n  services:\n    api:\n      front: {branch: main, spec: a.yaml, extra: 1}\n",
            f"{WHERE}: sync.services.api.front: unknown key(s) extra (an entry has only branch and spec).",
        ),
        (
            "sync:\n  services:\n    api:\n      front: {branch: main}\n",
            f"{WHERE}: sync.services.api.front: branch and spec must both be strings.",
        ),
        (
            "sync:\n  services:\n    api:\n      front: {branch: 'a b', spec: a.yaml}\n",
            f"{WHERE}: sync.services.api.front: The branch name a b is not a valid git branch name.",
        ),
        (
            "sync:\n  services:\n    api:\n      '-bad': {branch: main, spec: a.yaml}\n"
            "      ok: {branch: main, spec: /x}\n",
            f"{WHERE}: sync.services.api.-bad: the instance name must be 1 to 100 characters matching "
            r"^[0-9A-Za-z]+[0-9A-Za-z_\-]*$; sync.services.api.ok: The path '/x' is not a relative path "
            "inside the repository (no leading '/', no empty, '.' or '..' parts, nothing under .git).",
        ),
        ("sync: {services: {api: {a: 1, a: 2}}}\n", f"{WHERE} is not valid YAML: line 1, column"),
    ],
)
def test_refused(text: str, message: str) -> None:
    with pytest.raises(OpsFileError) as caught:
        parse_ops_file(text, "api", WHERE)
    assert str(caught.value).startswith(message)


def test_size_and_expansion_limits() -> None:
    with pytest.raises(OpsFileError, match=f"is larger than {MAX_OPS_FILE_BYTES} bytes"):
        parse_ops_file("#" * (MAX_OPS_FILE_BYTES + 1), "api", WHERE)
    bomb = (
        "a: &a [1,1,1,1,1,1,1,1,1,1]\n"
        "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        "d: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    )
    with pytest.raises(OpsFileError, match="is too large: it expands to more than 10000 values"):
        parse_ops_file(bomb, "api", WHERE)


@pytest.mark.parametrize("path", ["a.yaml", "specs/api.yaml", "a/.hidden/b.yaml", ".github/x.yaml"])
def test_paths_inside(path: str) -> None:
    assert path_problem(path) is None


@pytest.mark.parametrize(
    "path",
    ["", "/etc/passwd", "../x", "a/../../x", "a//b", "./a", "a/.", ".git/config", "a\\b", "a\x00b", "a\nb"],
)
def test_paths_refused(path: str) -> None:
    assert path_problem(path) is not None
