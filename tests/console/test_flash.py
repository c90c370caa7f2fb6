"""Flash messages: what an action leaves for the next page comes back only for the session it was signed
for, unchanged, and bounded."""

from __future__ import annotations

from baryon.console.sessions import Session
from baryon.console.web import FLASH_LINES, read_flash, write_flash


def _session(csrf: str) -> Session:
    return Session("hash", "AKIA", "111111111111", "us-east-1", csrf, 0.0, "alice")


def test_a_flash_message_comes_back_for_its_session_only() -> None:
    mine, other = _session("a" * 43), _session("b" * 43)
    cookie = write_flash(mine, "Update to recommended: 1 of 2 done, 1 refused.", ["dev: <b>moved</b>"], True)
    found = read_flash(mine, cookie)
    assert found is not None
    assert (found.message, found.lines, found.failed) == (
        "Update to recommended: 1 of 2 done, 1 refused.",
        ["dev: <b>moved</b>"],
        True,
    )
    assert read_flash(other, cookie) is None
    payload, signature = cookie.rsplit(".", 1)
    forged = write_flash(other, "Something else", [], False).rsplit(".", 1)[0]
    assert read_flash(mine, f"{forged}.{signature}") is None
    assert read_flash(mine, payload) is None
    assert read_flash(mine, None) is None


def test_a_long_batch_is_cut_and_counted() -> None:
    session = _session("c" * 43)
    lines = [f"instance-{n}: moving from 1.0 to 1.1" for n in range(FLASH_LINES + 25)]
    found = read_flash(session, write_flash(session, "done", lines, False))
    assert found is not None
    assert found.lines[:FLASH_LINES] == lines[:FLASH_LINES]
    assert found.lines[-1] == "and 25 more"
    assert len(write_flash(session, "done", lines, False)) < 4096


def test_long_lines_keep_the_cookie_small_enough_for_a_browser() -> None:
    session = _session("d" * 43)
    lines = [f"instance-{n}: " + "ConflictException: busy " * 20 for n in range(FLASH_LINES)]
    cookie = write_flash(session, "done", lines, True)
    assert len(cookie) < 4000
    found = read_flash(session, cookie)
    assert found is not None and found.lines[0] == lines[0][:300]
    assert found.lines[-1].startswith("and ") and found.lines[-1].endswith(" more")
