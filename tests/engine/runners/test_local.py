"""The local runner with real /bin/sh processes: order and exit status, the environment, timeouts and
cancel over whole process groups, re-attaching from a serialised handle, outputs and logs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from baryon.engine.runners.base import Phase, RunHandle, RunnerError, RunSpec, RunState
from baryon.engine.runners.local import LocalRunner
from tests.support.clock import ManualClock
from tests.support.waiting import wait_for


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_700_000_000.0)


@pytest.fixture
def runner(tmp_path: Path, clock: ManualClock) -> LocalRunner:
    return LocalRunner(tmp_path / "runs", clock=clock, grace_seconds=0.5)


def finish(runner: LocalRunner, handle: RunHandle) -> RunState:
    return wait_for(lambda: (state := runner.poll(handle)).finished and state, timeout=30)


def log_text(runner: LocalRunner, handle: RunHandle) -> str:
    return runner.read_log(handle, 0, 1 << 20).decode()


def workspace(handle: RunHandle) -> Path:
    return Path(str(handle.ref["workspace"]))


def process_gone(pid: int) -> bool:
    """No such process, or only its zombie (its exit not yet collected by its new parent)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return text[text.rfind(")") + 2 :].split()[0] in ("Z", "X")


def wait_for_file(path: Path) -> str:
    return wait_for(lambda: path.exists() and path.read_text().strip(), timeout=30)


def test_commands_run_in_order_in_the_workspace_with_the_files(runner: LocalRunner) -> None:
    spec = RunSpec(
        "run-ok",
        (
            "echo first",
            "cat proton-inputs.json; echo",
            "./bin/hello.sh",
            'echo "home=$HOME pwd=$(pwd)"',
        ),
        files={
            "proton-inputs.json": b'{"environment": {"name": "dev"}}',
            "bin/hello.sh": b"#!/bin/sh\necho hello from the bundle\n",
        },
        executables=frozenset({"bin/hello.sh"}),
        timeout_seconds=60,
    )
    handle = runner.start(spec)
    state = finish(runner, handle)
    assert state.phase is Phase.EXITED
    assert state.exit_code == 0 and state.succeeded
    assert state.failed_command is None and not state.timed_out and not state.cancelled
    assert state.outputs is None
    log = log_text(runner, handle)
    lines = [line for line in log.splitlines() if not line.startswith("[baryon]")]
    home = workspace(handle)
    assert lines == [
        "first",
        '{"environment": {"name": "dev"}}',
        "hello from the bundle",
        f"home={home} pwd={home}",
    ]
    assert "[baryon] Running command: ./bin/hello.sh" in log
    assert sorted(p.name for p in home.iterdir()) == ["bin", "proton-inputs.json"]


def test_first_failing_command_stops_the_rest_with_its_status(runner: LocalRunner) -> None:
    handle = runner.start(
        RunSpec("run-fail", ("echo one", "echo two >&2; exit 7", "echo three"), timeout_seconds=60)
    )
    state = finish(runner, handle)
    assert state.phase is Phase.EXITED
    assert state.exit_code == 7 and not state.succeeded
    assert state.failed_command == 1
    assert state.message == "Command 2 exited with status 7."
    log = log_text(runner, handle)
    assert "one\n" in log and "two\n" in log
    assert "three" not in log
    assert "[baryon] Command 2 exited with status 7\n" in log


def test_commands_share_one_shell_like_codebuild(runner: LocalRunner) -> None:
    handle = runner.start(
        RunSpec("run-shell", ("mkdir sub && cd sub", "X=kept", 'echo "$X in $(basename "$PWD")"'))
    )
    assert finish(runner, handle).exit_code == 0
    assert "kept in sub\n" in log_text(runner, handle)


def test_only_the_given_environment_reaches_the_commands(
    runner: LocalRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BARYON_SECRET_KEY", "server-secret-key")
    monkeypatch.setenv("BARYON_DATABASE_URL", "postgresql://baryon:hunter2@db/baryon")
    monkeypatch.setenv("DATABASE_URL", "postgresql://baryon:hunter2@db/baryon")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASERVERSERVERSERV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "server-aws-secret")
    given = {
        "RESOURCE_ARN": "arn:aws:proton:us-east-1:111111111111:environment/dev",
        "AWS_ENDPOINT_URL_PROTON": "http://127.0.0.1:7700",
        "AWS_ACCESS_KEY_ID": "AKIASCOPEDSCOPEDSCOP",
        "AWS_SECRET_ACCESS_KEY": "scoped-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "STAGE": "with spaces and 'quotes'",
    }
    handle = runner.start(RunSpec("run-env", ("env > ../seen.env",), env=given))
    assert finish(runner, handle).exit_code == 0
    seen = dict(
        line.split("=", 1) for line in (workspace(handle).parent / "seen.env").read_text().splitlines()
    )
    for name, value in given.items():
        assert seen[name] == value
    assert seen["HOME"] == str(workspace(handle))
    assert seen["LANG"] == "C.UTF-8"
    assert seen["PATH"] == os.environ["PATH"]
    # Only what the runner sets, what the spec gives, and what the shell itself exports (PWD).
    assert set(seen) - set(given) <= {"PATH", "HOME", "LANG", "PWD", "OLDPWD", "SHLVL", "_"}
    assert not [name for name in seen if name.startswith("BARYON_")]
    everything = "\n".join(f"{k}={v}" for k, v in seen.items())
    for secret in ("server-secret-key", "hunter2", "AKIASERVERSERVERSERV", "server-aws-secret"):
        assert secret not in everything


def test_timeout_kills_the_whole_process_group(runner: LocalRunner, clock: ManualClock) -> None:
    # A background sleeper, and one that ignores SIGTERM (so the runner must escalate to SIGKILL).
    handle = runner.start(
        RunSpec(
            "run-timeout",
            (
                "sleep 300 & echo $! > sleeper.pid",
                "sh -c 'trap \"\" TERM; echo $$ > stubborn.pid; while :; do sleep 1; done' &",
                "sleep 300",
            ),
            timeout_seconds=30,
        )
    )
    sleeper = int(wait_for_file(workspace(handle) / "sleeper.pid"))
    stubborn = int(wait_for_file(workspace(handle) / "stubborn.pid"))
    assert runner.poll(handle).phase is Phase.RUNNING
    clock.value += 29
    assert runner.poll(handle).phase is Phase.RUNNING
    clock.value += 1
    state = runner.poll(handle)
    assert state.phase is Phase.EXITED
    assert state.timed_out and not state.cancelled and state.exit_code is None
    assert state.message == "The commands did not finish within 30 seconds."
    wait_for(lambda: process_gone(sleeper) and process_gone(stubborn), timeout=10)
    wait_for(lambda: process_gone(int(handle.ref["pid"] or 0)), timeout=10)
    # The verdict stays.
    assert runner.poll(handle).timed_out


def test_cancel_kills_the_whole_process_group(runner: LocalRunner) -> None:
    handle = runner.start(
        RunSpec("run-cancel", ("sleep 300 & echo $! > sleeper.pid", "sleep 300", "echo never"))
    )
    sleeper = int(wait_for_file(workspace(handle) / "sleeper.pid"))
    state = runner.cancel(handle)
    assert state.phase is Phase.EXITED
    assert state.cancelled and not state.timed_out and state.exit_code is None
    wait_for(lambda: process_gone(sleeper), timeout=10)
    assert runner.poll(handle).cancelled
    assert "never\n" not in log_text(runner, handle)


def test_cancel_after_the_end_changes_nothing(runner: LocalRunner) -> None:
    handle = runner.start(RunSpec("run-done", ("exit 3",)))
    assert finish(runner, handle).exit_code == 3
    state = runner.cancel(handle)
    assert state.exit_code == 3 and not state.cancelled


def test_background_processes_end_with_the_commands(runner: LocalRunner) -> None:
    handle = runner.start(RunSpec("run-bg", ("sleep 300 & echo $! > sleeper.pid",)))
    assert finish(runner, handle).exit_code == 0
    sleeper = int((workspace(handle) / "sleeper.pid").read_text())
    wait_for(lambda: process_gone(sleeper), timeout=10)


def test_reattach_from_a_serialised_handle_after_the_run_ended(tmp_path: Path, runner: LocalRunner) -> None:
    handle = runner.start(RunSpec("run-ended", ("echo done", "exit 4")))
    finish(runner, handle)
    stored = json.loads(json.dumps({"runner": handle.to_dict()}))
    again = LocalRunner(tmp_path / "runs", clock=runner.clock)
    restored = RunHandle.from_dict(stored["runner"])
    assert restored == handle
    state = again.poll(restored)
    assert state.phase is Phase.EXITED and state.exit_code == 4 and state.failed_command == 1
    assert "done\n" in again.read_log(restored, 0, 4096).decode()


def test_reattach_from_a_serialised_handle_while_it_runs(tmp_path: Path, runner: LocalRunner) -> None:
    handle = runner.start(RunSpec("run-live", ("while [ ! -e go ]; do sleep 0.05; done", "echo went")))
    again = LocalRunner(tmp_path / "runs", clock=runner.clock)
    restored = RunHandle.from_json(handle.to_json())
    assert again.poll(restored).phase is Phase.RUNNING
    (workspace(handle) / "go").touch()
    state = finish(again, restored)
    assert state.exit_code == 0
    assert "went\n" in log_text(again, restored)


def test_run_outlives_the_process_that_started_it(tmp_path: Path) -> None:
    """The starting process is killed with SIGKILL right after start; the run goes on and its exit
    status is found by another runner."""
    root = tmp_path / "runs"
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        from pathlib import Path
        from baryon.engine.runners.base import RunSpec
        from baryon.engine.runners.local import LocalRunner
        runner = LocalRunner(Path({str(root)!r}))
        handle = runner.start(RunSpec("orphan", (
            "while [ ! -e go ]; do sleep 0.05; done", "echo survived", "exit 5")))
        sys.stdout.write(handle.to_json())
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    starter = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60, check=False)
    assert starter.returncode == -signal.SIGKILL, starter.stderr
    handle = RunHandle.from_json(starter.stdout)
    runner = LocalRunner(root)
    assert runner.poll(handle).phase is Phase.RUNNING
    (workspace(handle) / "go").touch()
    state = finish(runner, handle)
    assert state.exit_code == 5 and state.failed_command == 2
    assert "survived\n" in log_text(runner, handle)


def test_a_run_gone_without_an_exit_status_is_lost(runner: LocalRunner) -> None:
    handle = runner.start(RunSpec("run-lost", ("sleep 300",)))
    wait_for(lambda: "Running command" in log_text(runner, handle))
    os.killpg(int(handle.ref["pgid"] or 0), signal.SIGKILL)  # as a host restart would
    state = finish(runner, handle)
    assert state.phase is Phase.LOST
    assert state.exit_code is None


def test_a_run_from_before_a_reboot_is_lost_and_never_signalled(runner: LocalRunner) -> None:
    handle = runner.start(RunSpec("run-boot", ("while [ ! -e go ]; do sleep 0.05; done",)))
    rebooted = RunHandle.from_dict({**handle.to_dict(), "ref": {**handle.ref, "boot_id": "another-boot"}})
    assert runner.poll(rebooted).phase is Phase.LOST
    assert runner.cancel(rebooted).phase is Phase.LOST
    assert runner.poll(handle).phase is Phase.RUNNING
    (workspace(handle) / "go").touch()
    assert finish(runner, handle).exit_code == 0


def test_a_reused_pid_is_not_taken_for_the_run(runner: LocalRunner) -> None:
    handle = runner.start(RunSpec("run-pid", ("while [ ! -e go ]; do sleep 0.05; done",)))
    other = RunHandle.from_dict({**handle.to_dict(), "ref": {**handle.ref, "process_start": "1"}})
    assert runner.poll(other).phase is Phase.LOST
    assert runner.poll(handle).phase is Phase.RUNNING
    (workspace(handle) / "go").touch()
    assert finish(runner, handle).exit_code == 0


def test_proton_outputs_json_is_read_back(runner: LocalRunner) -> None:
    document = b'{"vpc_id": "vpc-123", "subnet": "subnet-9"}'
    handle = runner.start(
        RunSpec("run-outputs", (f"printf '%s' '{document.decode()}' > proton-outputs.json",))
    )
    state = finish(runner, handle)
    assert state.exit_code == 0
    assert state.outputs == document


def test_outputs_are_read_back_after_a_failure_too(runner: LocalRunner) -> None:
    handle = runner.start(RunSpec("run-outputs-fail", ("echo '{}' > proton-outputs.json", "false")))
    state = finish(runner, handle)
    assert state.exit_code == 1 and state.outputs == b"{}\n"


def test_a_symlinked_outputs_file_is_not_followed(tmp_path: Path, runner: LocalRunner) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read")
    handle = runner.start(RunSpec("run-link", (f"ln -s {secret} proton-outputs.json",)))
    state = finish(runner, handle)
    assert state.exit_code == 0 and state.outputs is None


def test_log_is_read_incrementally_by_offset(runner: LocalRunner) -> None:
    handle = runner.start(
        RunSpec("run-log", ("echo part-one", "while [ ! -e go ]; do sleep 0.05; done", "echo part-two"))
    )
    first = wait_for(lambda: (data := runner.read_log(handle, 0, 1 << 16)) and b"part-one\n" in data and data)
    assert b"part-two" not in first
    (workspace(handle) / "go").touch()
    finish(runner, handle)
    rest = runner.read_log(handle, len(first), 1 << 16)
    assert b"part-two\n" in rest and b"part-one" not in rest
    assert runner.read_log(handle, len(first) + len(rest), 1 << 16) == b""
    assert runner.read_log(handle, 0, 5) == first[:5]


def test_start_is_idempotent_per_run_id(runner: LocalRunner) -> None:
    spec = RunSpec("run-once", ("echo ran >> ../count.txt",), env={"KEY": "one"})
    handle = runner.start(spec)
    finish(runner, handle)
    again = runner.start(RunSpec("run-once", spec.commands, env={"KEY": "two"}))
    assert again == handle
    assert (workspace(handle).parent / "count.txt").read_text() == "ran\n"
    with pytest.raises(RunnerError, match="already exists with other commands"):
        runner.start(RunSpec("run-once", ("echo something else",)))


def test_cleanup_removes_the_run_and_frees_its_id(runner: LocalRunner) -> None:
    spec = RunSpec("run-clean", ("while [ ! -e go ]; do sleep 0.05; done",))
    handle = runner.start(spec)
    run_dir = workspace(handle).parent
    runner.cleanup(handle)
    assert not run_dir.exists()
    wait_for(lambda: process_gone(int(handle.ref["pid"] or 0)), timeout=10)
    state = runner.poll(handle)
    assert state.phase is Phase.LOST
    assert runner.read_log(handle, 0, 100) == b""
    fresh = runner.start(RunSpec("run-clean", ("echo again",)))
    assert fresh.key != handle.key
    assert finish(runner, fresh).exit_code == 0
    assert runner.poll(handle).phase is Phase.LOST  # the old handle never sees the new run
    runner.cleanup(handle)  # does not touch the new run
    assert run_dir.exists()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (RunSpec("../escape", ("true",)), "invalid run id"),
        (RunSpec("ok", ()), "at least one command"),
        (RunSpec("ok", "echo not a list"), "a list of at least one command"),
        (RunSpec("ok", ("true",), files={"../x": b""}), "not a relative path"),
        (RunSpec("ok", ("true",), files={"/etc/x": b""}), "not a relative path"),
        (RunSpec("ok", ("true",), env={"BAD-NAME": "x"}), "invalid environment variable name"),
        (RunSpec("ok", ("true",), timeout_seconds=0), "timeout_seconds"),
        (RunSpec("ok", ("true",), executables=frozenset({"missing.sh"})), "not in the run"),
    ],
)
def test_bad_specs_are_refused_and_start_nothing(runner: LocalRunner, spec: RunSpec, message: str) -> None:
    with pytest.raises(RunnerError, match=message):
        runner.start(spec)
    assert not runner.root.exists() or not [p for p in runner.root.iterdir() if p.name == "ok"]


def test_a_handle_from_another_host_or_backend_is_refused(runner: LocalRunner) -> None:
    handle = runner.start(RunSpec("run-host", ("true",)))
    finish(runner, handle)
    elsewhere = RunHandle.from_dict({**handle.to_dict(), "ref": {**handle.ref, "host": "other-host"}})
    with pytest.raises(RunnerError, match="was started on host other-host"):
        runner.poll(elsewhere)
    container = RunHandle.from_dict({**handle.to_dict(), "backend": "container"})
    with pytest.raises(RunnerError, match="belongs to the container runner"):
        runner.cancel(container)


@pytest.mark.parametrize(
    "text", ["", "[]", '{"backend": "local"}', '{"backend": 1, "run_id": "a", "key": "k"}']
)
def test_malformed_handles_are_refused(text: str) -> None:
    with pytest.raises(RunnerError, match="not a run handle"):
        RunHandle.from_json(text)


def test_watch_calls_back_once_the_run_ends_and_the_state_says_when(runner: LocalRunner) -> None:
    handle = runner.start(RunSpec("run-watched", ("sleep 0.3", "echo done"), timeout_seconds=60))
    ended = threading.Event()
    assert runner.watch(handle, ended.set)
    assert not ended.is_set() or runner.poll(handle).finished
    assert ended.wait(30)
    state = runner.poll(handle)
    assert state.phase is Phase.EXITED and state.exit_code == 0
    assert state.ended_at is not None and state.ended_at <= time.time()
    exit_file = Path(str(handle.ref["run_dir"])) / "exit"
    assert state.ended_at == exit_file.stat().st_mtime


def test_watch_declines_runs_it_cannot_wait_for(runner: LocalRunner) -> None:
    handle = runner.start(RunSpec("run-unwatched", ("true",), timeout_seconds=60))
    finish(runner, handle)
    runner.cleanup(handle)
    assert not runner.watch(handle, lambda: None)
    foreign = RunHandle.from_dict({**handle.to_dict(), "backend": "container"})
    assert not runner.watch(foreign, lambda: None)
