"""Stored run output: chunks in order per deployment, read after a sequence number, copied from a real
local run without loss or repetition, and deleted with their deployment."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from baryon.engine.runners.base import RunSpec
from baryon.engine.runners.capture import CHUNK_BYTES, complete_prefix, copy_output
from baryon.engine.runners.local import LocalRunner
from baryon.runtime import Runtime
from baryon.store import run_logs
from baryon.store.schema import deployments
from tests.support.deployments import make_deployment
from tests.support.waiting import wait_for


def stored_text(runtime: Runtime, deployment_id: str) -> str:
    with runtime.database.read() as connection:
        return "".join(chunk.text for chunk in run_logs.read(connection, deployment_id, 0, limit=100_000))


def test_chunks_are_numbered_in_order_and_read_after_a_number(runtime: Runtime) -> None:
    first, second = make_deployment(runtime), make_deployment(runtime)
    with runtime.database.write() as connection:
        assert run_logs.append(connection, first, "one\n", now=10.0) == 1
        assert run_logs.append(connection, second, "other\n", now=10.5) == 1
        assert run_logs.append(connection, first, "two\n", now=11.0) == 2
        assert run_logs.append(connection, first, "nul\0byte\n", now=12.0) == 3
    with runtime.database.read() as connection:
        chunks = run_logs.read(connection, first)
        assert [(c.seq, c.text, c.created_at) for c in chunks] == [
            (1, "one\n", 10.0),
            (2, "two\n", 11.0),
            (3, "nul\ufffdbyte\n", 12.0),
        ]
        assert [c.seq for c in run_logs.read(connection, first, after_seq=1)] == [2, 3]
        assert [c.seq for c in run_logs.read(connection, first, after_seq=1, limit=1)] == [2]
        assert run_logs.read(connection, first, after_seq=3) == []
        assert [c.text for c in run_logs.read(connection, second)] == ["other\n"]
        assert run_logs.read(connection, "no-such-deployment") == []


def test_chunks_go_with_their_deployment(runtime: Runtime) -> None:
    deployment_id = make_deployment(runtime)
    with runtime.database.write() as connection:
        run_logs.append(connection, deployment_id, "text", now=1.0)
    with runtime.database.write() as connection:
        connection.execute(sa.delete(deployments).where(deployments.c.id == deployment_id))
    with runtime.database.read() as connection:
        assert run_logs.read(connection, deployment_id) == []


def test_output_is_copied_incrementally_from_a_run(runtime: Runtime) -> None:
    deployment_id = make_deployment(runtime)
    runner = LocalRunner.in_data_dir(runtime.settings.data_dir)
    handle = runner.start(
        RunSpec(
            deployment_id,
            (
                "echo before",
                "while [ ! -e go ]; do sleep 0.05; done",
                "printf 'after \\303\\251t\\303\\251\\n'",
            ),
        )
    )
    assert Path(str(handle.ref["run_dir"])).parent == runtime.settings.data_dir / "runs"
    wait_for(lambda: b"before\n" in runner.read_log(handle, 0, 1 << 16))
    copied = copy_output(runtime.database, runner, handle, deployment_id, now=5.0)
    assert copied > 0
    assert copy_output(runtime.database, runner, handle, deployment_id, now=5.5) == 0
    assert "before\n" in stored_text(runtime, deployment_id)
    (Path(str(handle.ref["workspace"])) / "go").touch()
    wait_for(lambda: runner.poll(handle).finished)
    copy_output(runtime.database, runner, handle, deployment_id, now=6.0, final=True)
    whole = runner.read_log(handle, 0, 1 << 20).decode()
    assert stored_text(runtime, deployment_id) == whole
    assert "after été\n" in whole
    with runtime.database.read() as connection:
        chunks = run_logs.read(connection, deployment_id)
    assert len(chunks) == 2 and chunks[0].created_at == 5.0 and chunks[1].created_at == 6.0
    # The workspace can go; the log stays.
    runner.cleanup(handle)
    assert stored_text(runtime, deployment_id) == whole


def test_copies_never_split_a_character_and_resume_after_the_last_chunk(
    runtime: Runtime, tmp_path: Path
) -> None:
    deployment_id = make_deployment(runtime)
    runner = LocalRunner(tmp_path / "runs")
    # More than one chunk of output, with a two-byte character across every chunk boundary. The command
    # (and so the runner's first log line) is fixed, so the padding puts the boundary inside a character.
    command = "cat payload.txt; echo"
    header = len(f"[baryon] Running command: {command}\n".encode())
    body = "x" * (1 if header % 2 == 0 else 2) + "é" * (CHUNK_BYTES + 10)
    handle = runner.start(RunSpec(deployment_id, (command,), files={"payload.txt": body.encode()}))
    assert wait_for(lambda: (state := runner.poll(handle)).finished and state).exit_code == 0
    first = copy_output(runtime.database, runner, handle, deployment_id, now=1.0, max_chunks=1)
    assert 0 < first < CHUNK_BYTES
    # A final copy goes to the end, whatever max_chunks says.
    copy_output(runtime.database, runner, handle, deployment_id, now=2.0, final=True, max_chunks=1)
    stored = stored_text(runtime, deployment_id)
    assert stored.endswith(body + "\n")
    assert "\ufffd" not in stored
    with runtime.database.read() as connection:
        texts = [c.text for c in run_logs.read(connection, deployment_id)]
    assert all(not text.startswith("\ufffd") for text in texts)
    assert len(texts) == 3 and texts[0].endswith("é") and texts[1].endswith("é")


def test_complete_prefix_stops_before_an_unfinished_character() -> None:
    euro = "€".encode()  # three bytes
    assert complete_prefix(b"") == 0
    assert complete_prefix(b"abc") == 3
    assert complete_prefix(b"ab" + euro) == 5
    assert complete_prefix(b"ab" + euro[:1]) == 2
    assert complete_prefix(b"ab" + euro[:2]) == 2
    assert complete_prefix(b"ab" + "😀".encode()[:3]) == 2
    assert complete_prefix(b"ab\xff") == 3  # not UTF-8 at all: kept, decoded with replacement
