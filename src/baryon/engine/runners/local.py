"""The local runner: the commands run as `/bin/sh` processes on the worker's host, one directory per run.

Layout of a run, under the runner's root (normally `<data dir>/runs`)::

    <run id>/              mode 0700
      handle.json          the run's handle, written right after the processes start
      run.json             what was asked: commands, env variable names, image, runtimes, timeout
      run.sh, commands.sh  the wrapper and the command list
      output.log           stdout and stderr of every command, interleaved
      exit                 the commands' exit status, written by the wrapper when they end
      current              1-based number of the command started last
      stopped              "timeout" or "cancel", written before Baryon stops the run
      workspace/           the working directory and HOME: the spec's files, nothing else

Invariants:

- The wrapper (`run.sh`) leads its own session and process group (pid = pgid = sid), so the run does not
  die with the worker that started it, and a signal to the group reaches every process of the run that
  did not leave the group itself. When the commands end, the wrapper records their status in `exit`
  (atomically, by rename) and then kills what is left of its group, itself included.
- The environment is built from nothing: PATH (the worker's, or the one given), HOME (the workspace),
  LANG, then the spec's variables. Nothing else of the worker's environment reaches the commands.
- A run is recognised by its leader's pid, the leader's start time (from /proc, so a reused pid is not
  mistaken for it) and the host's boot id (a run from before a reboot is LOST, never signalled).
  Handles are only meaningful on the host that started them; elsewhere every call raises RunnerError.
- `exit` wins over everything: once it exists the run is EXITED with that status, even when a timeout
  or cancel raced with the end of the commands. The commands ended when `exit` was written (its
  modification time is the run's `ended_at`).
- `watch` works for runs this process started (it waits for the wrapper process); for any other run it
  answers False and the caller polls.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from baryon.clock import Clock, SystemClock
from baryon.engine.runners.base import OUTPUTS_FILE, Phase, RunHandle, RunnerError, RunSpec, RunState

SHELL = "/bin/sh"
BACKEND = "local"
#: Where runs live inside the data dir.
RUNS_DIR = "runs"
#: The largest `proton-outputs.json` read back; a larger file is reported, not read.
MAX_OUTPUTS_BYTES = 1 << 20
#: How long to wait for a killed (SIGKILL) group to disappear before reporting it still running.
KILL_WAIT_SECONDS = 5.0
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STATUS = "__baryon_status"

_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
_CHILDREN_LOCK = threading.Lock()


def _reap() -> None:
    """Collect the exit of wrappers this process started, so they do not linger as zombies."""
    with _CHILDREN_LOCK:
        for pid, child in list(_CHILDREN.items()):
            if child.poll() is not None:
                del _CHILDREN[pid]


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


@dataclass(frozen=True)
class _Stat:
    state: str
    pgrp: int
    start: str


def _proc_stat(pid: int) -> _Stat | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    fields = text[text.rfind(")") + 2 :].split()
    try:
        return _Stat(fields[0], int(fields[2]), fields[19])
    except (IndexError, ValueError):
        return None


def _has_proc() -> bool:
    return Path("/proc/self/stat").exists()


def _group_has_members(pgid: int) -> bool:
    """Whether any live (non-zombie) process is in the group."""
    if not _has_proc():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return False
        return True
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        found = _proc_stat(int(entry.name))
        if found is not None and found.pgrp == pgid and found.state not in ("Z", "X"):
            return True
    return False


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _write_atomic(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def _read_small(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return None


def _read_int(path: Path) -> int | None:
    text = _read_small(path)
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _check_spec(run: RunSpec) -> None:
    if not _RUN_ID.match(run.run_id):
        raise RunnerError(f"invalid run id {run.run_id!r}")
    if isinstance(run.commands, str) or not run.commands:
        raise RunnerError("a run needs a list of at least one command")
    if not all(isinstance(command, str) and "\0" not in command for command in run.commands):
        raise RunnerError("commands must be strings without NUL characters")
    if not (math.isfinite(run.timeout_seconds) and run.timeout_seconds > 0):
        raise RunnerError("timeout_seconds must be a positive number")
    for name, value in run.env.items():
        if not _ENV_NAME.match(name):
            raise RunnerError(f"invalid environment variable name {name!r}")
        if "\0" in value:
            raise RunnerError(f"environment variable {name} contains a NUL character")
    for path in [*run.files, *run.executables]:
        _relative(path)
    unknown = sorted(set(run.executables) - set(run.files))
    if unknown:
        raise RunnerError(f"executables name files that are not in the run: {', '.join(unknown)}")


def _relative(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if not name or "\0" in name or path.is_absolute() or any(part in ("..", "") for part in path.parts):
        raise RunnerError(f"file path {name!r} is not a relative path inside the workspace")
    if path.parts == (".",) or not path.parts:
        raise RunnerError(f"file path {name!r} names no file")
    return path


def _digest(run: RunSpec) -> str:
    """Identifies what a run does (not the variables' values, which may hold a fresh credential)."""
    document = {
        "commands": list(run.commands),
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(run.files.items())},
        "executables": sorted(run.executables),
        "env": sorted(run.env),
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def _q(path: Path) -> str:
    return shlex.quote(str(path))


def _commands_script(commands: Sequence[str], current: Path) -> str:
    lines = [
        "# The run's commands, in order, in one shell; the first that fails ends the run with its status."
    ]
    for index, command in enumerate(commands):
        lines += [
            f"printf '%s\\n' {index + 1} > {_q(current)}",
            f"printf '%s\\n' {shlex.quote('[baryon] Running command: ' + command)}",
            f"eval {shlex.quote(command)}",
            f"{_STATUS}=$?",
            f'[ "${_STATUS}" -eq 0 ] || exit "${_STATUS}"',
        ]
    lines.append("exit 0")
    return "\n".join(lines) + "\n"


def _wrapper_script(run_dir: Path) -> str:
    exit_file, temporary, current = run_dir / "exit", run_dir / ".exit.tmp", run_dir / "current"
    return (
        "# Runs the commands, records their status, then ends whatever they left in this process group.\n"
        f"{SHELL} {_q(run_dir / 'commands.sh')} </dev/null\n"
        f"{_STATUS}=$?\n"
        f'if [ "${_STATUS}" -ne 0 ]; then\n'
        f"  __baryon_command=; read -r __baryon_command 2>/dev/null < {_q(current)}\n"
        f'  printf \'[baryon] Command %s exited with status %s\\n\' "$__baryon_command" "${_STATUS}"\n'
        "fi\n"
        f"printf '%s\\n' \"${_STATUS}\" > {_q(temporary)} &&\n"
        f"  command -p mv -f {_q(temporary)} {_q(exit_file)}\n"
        "kill -KILL 0\n"
    )


def _populate(workspace: Path, run: RunSpec) -> None:
    for name, data in run.files.items():
        target = workspace.joinpath(*_relative(name).parts)
        mode = 0o755 if name in run.executables else 0o644
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(target, mode)
        except OSError as error:
            raise RunnerError(f"cannot place {name} in the workspace: {error.strerror}") from None


@dataclass(frozen=True)
class _Ref:
    pid: int
    run_dir: Path
    boot_id: str | None
    process_start: str | None


class LocalRunner:
    """Runs each command list as processes of this host, in `root/<run id>`."""

    name = BACKEND

    def __init__(
        self,
        root: Path,
        *,
        clock: Clock | None = None,
        grace_seconds: float = 10.0,
        path: str | None = None,
        lang: str = "C.UTF-8",
    ) -> None:
        self.root = Path(root)
        self.clock: Clock = clock or SystemClock()
        self.grace_seconds = grace_seconds
        self.path = path if path is not None else os.environ.get("PATH", os.defpath)
        self.lang = lang
        self.host = socket.gethostname()

    @classmethod
    def in_data_dir(
        cls, data_dir: Path, *, clock: Clock | None = None, grace_seconds: float = 10.0
    ) -> LocalRunner:
        """The runner of a Baryon process: its runs in `<data dir>/runs`."""
        return cls(Path(data_dir) / RUNS_DIR, clock=clock, grace_seconds=grace_seconds)

    # -- starting ---------------------------------------------------------------------------------------

    def environment(self, run: RunSpec, workspace: Path) -> dict[str, str]:
        """Exactly what the commands see."""
        env = {"PATH": self.path, "HOME": str(workspace), "LANG": self.lang}
        env.update(run.env)
        return env

    def start(self, run: RunSpec) -> RunHandle:
        _check_spec(run)
        digest = _digest(run)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        run_dir = self.root / run.run_id
        try:
            run_dir.mkdir(mode=0o700)
        except FileExistsError:
            existing = self._existing(run_dir)
            if existing is not None:
                if existing.ref.get("spec_digest") != digest:
                    raise RunnerError(
                        f"run {run.run_id} already exists with other commands or files; clean it up first"
                    ) from None
                return existing
            self._discard(run_dir)
            run_dir.mkdir(mode=0o700)
        try:
            return self._launch(run, run_dir, digest)
        except BaseException:
            self._discard(run_dir)
            raise

    def _existing(self, run_dir: Path) -> RunHandle | None:
        try:
            return RunHandle.from_json((run_dir / "handle.json").read_bytes())
        except (OSError, RunnerError):
            return None

    def _discard(self, run_dir: Path) -> None:
        """Remove a run directory that has no handle (a start interrupted before it wrote one)."""
        aside = run_dir.with_name(f".discarded-{run_dir.name}-{uuid.uuid4().hex[:8]}")
        with contextlib.suppress(FileNotFoundError):
            run_dir.rename(aside)
        shutil.rmtree(aside, ignore_errors=True)

    def _launch(self, run: RunSpec, run_dir: Path, digest: str) -> RunHandle:
        workspace = run_dir / "workspace"
        workspace.mkdir(mode=0o700)
        _populate(workspace, run)
        description = {
            "run_id": run.run_id,
            "commands": list(run.commands),
            "env": sorted(run.env),
            "image": run.image,
            "runtimes": dict(run.runtimes),
            "timeout_seconds": run.timeout_seconds,
        }
        (run_dir / "run.json").write_text(json.dumps(description, indent=2) + "\n")
        (run_dir / "commands.sh").write_text(_commands_script(run.commands, run_dir / "current"))
        (run_dir / "run.sh").write_text(_wrapper_script(run_dir))
        _reap()
        log_fd = os.open(run_dir / "output.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        started_at = self.clock.now()
        try:
            child = subprocess.Popen(
                [SHELL, str(run_dir / "run.sh")],
                cwd=workspace,
                env=self.environment(run, workspace),
                stdin=subprocess.DEVNULL,
                stdout=log_fd,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as error:
            raise RunnerError(f"cannot start {SHELL}: {error.strerror}") from None
        finally:
            os.close(log_fd)
        with _CHILDREN_LOCK:
            _CHILDREN[child.pid] = child
        found = _proc_stat(child.pid)
        handle = RunHandle(
            backend=BACKEND,
            run_id=run.run_id,
            key=uuid.uuid4().hex,
            started_at=started_at,
            timeout_seconds=run.timeout_seconds,
            ref={
                "host": self.host,
                "pid": child.pid,
                "pgid": child.pid,
                "run_dir": str(run_dir),
                "workspace": str(workspace),
                "boot_id": _boot_id(),
                "process_start": found.start if found else None,
                "spec_digest": digest,
            },
        )
        _write_atomic(run_dir / "handle.json", handle.to_json().encode())
        return handle

    # -- finding a run again ----------------------------------------------------------------------------

    def _ref(self, handle: RunHandle) -> _Ref:
        if handle.backend != BACKEND:
            raise RunnerError(f"run {handle.run_id} belongs to the {handle.backend} runner")
        ref = handle.ref
        if ref.get("host") != self.host:
            raise RunnerError(f"run {handle.run_id} was started on host {ref.get('host')}, not {self.host}")
        pid, run_dir = ref.get("pid"), ref.get("run_dir")
        if not isinstance(pid, int) or pid <= 1 or not isinstance(run_dir, str):
            raise RunnerError(f"run {handle.run_id}: the handle has no process id or directory")
        boot, start = ref.get("boot_id"), ref.get("process_start")
        return _Ref(
            pid,
            Path(run_dir),
            boot if isinstance(boot, str) else None,
            start if isinstance(start, str) else None,
        )

    def _owns_directory(self, handle: RunHandle, ref: _Ref) -> bool:
        """The directory still holds this very run (not a later run under the same id, not nothing)."""
        existing = self._existing(ref.run_dir)
        return existing is not None and existing.key == handle.key

    def _alive(self, ref: _Ref) -> bool:
        _reap()
        boot = _boot_id()
        if ref.boot_id is not None and boot is not None and boot != ref.boot_id:
            return False
        leader = _proc_stat(ref.pid)
        if leader is not None and leader.state not in ("Z", "X"):
            return ref.process_start is None or leader.start == ref.process_start
        if leader is None and not _has_proc():
            try:
                os.kill(ref.pid, 0)
            except (ProcessLookupError, PermissionError):
                return _group_has_members(ref.pid)
            return True
        return _group_has_members(ref.pid)

    def _wait_gone(self, ref: _Ref, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while self._alive(ref):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def _terminate(self, ref: _Ref) -> bool:
        """SIGTERM to the group, SIGKILL after the grace period; True once no process of it is left."""
        if not self._alive(ref):
            return True
        _signal_group(ref.pid, signal.SIGTERM)
        if self._wait_gone(ref, self.grace_seconds):
            return True
        _signal_group(ref.pid, signal.SIGKILL)
        return self._wait_gone(ref, KILL_WAIT_SECONDS)

    @staticmethod
    def _mark_stopped(ref: _Ref, reason: str) -> None:
        with contextlib.suppress(FileExistsError, FileNotFoundError):
            fd = os.open(ref.run_dir / "stopped", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(reason + "\n")

    # -- states -----------------------------------------------------------------------------------------

    def _outputs(self, ref: _Ref) -> tuple[bytes | None, str]:
        path = ref.run_dir / "workspace" / OUTPUTS_FILE
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return None, ""
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return None, f" {OUTPUTS_FILE} is not a regular file and was not read."
            data = handle.read(MAX_OUTPUTS_BYTES + 1)
        if len(data) > MAX_OUTPUTS_BYTES:
            return None, f" {OUTPUTS_FILE} is larger than {MAX_OUTPUTS_BYTES} bytes and was not read."
        return data, ""

    @staticmethod
    def _mtime(path: Path) -> float | None:
        try:
            return path.stat().st_mtime
        except OSError:
            return None

    def _exited(self, ref: _Ref, code: int) -> RunState:
        outputs, note = self._outputs(ref)
        ended_at = self._mtime(ref.run_dir / "exit")
        number = _read_int(ref.run_dir / "current") if code != 0 else None
        failed = number - 1 if number else None
        if code == 0:
            message = "The commands succeeded."
        elif failed is not None:
            message = f"Command {failed + 1} exited with status {code}."
        else:
            message = f"The commands exited with status {code}."
        return RunState(
            Phase.EXITED,
            exit_code=code,
            failed_command=failed,
            outputs=outputs,
            message=message + note,
            ended_at=ended_at,
        )

    def _stopped(self, handle: RunHandle, ref: _Ref, reason: str) -> RunState:
        outputs, note = self._outputs(ref)
        ended_at = self._mtime(ref.run_dir / "stopped")
        if reason == "timeout":
            message = f"The commands did not finish within {handle.timeout_seconds:g} seconds."
            return RunState(
                Phase.EXITED, timed_out=True, outputs=outputs, message=message + note, ended_at=ended_at
            )
        return RunState(
            Phase.EXITED,
            cancelled=True,
            outputs=outputs,
            message="The run was cancelled." + note,
            ended_at=ended_at,
        )

    @staticmethod
    def _lost(message: str) -> RunState:
        return RunState(Phase.LOST, message=message)

    # -- the interface ----------------------------------------------------------------------------------

    def poll(self, handle: RunHandle) -> RunState:
        ref = self._ref(handle)
        if not self._owns_directory(handle, ref):
            return self._lost("The run's directory is gone (cleaned up).")
        code = _read_int(ref.run_dir / "exit")
        if code is not None:
            return self._exited(ref, code)
        reason = _read_small(ref.run_dir / "stopped")
        if self._alive(ref):
            if not reason and self.clock.now() >= handle.deadline:
                self._mark_stopped(ref, "timeout")
                reason = _read_small(ref.run_dir / "stopped")
            if not reason:
                return RunState(Phase.RUNNING)
            gone = self._terminate(ref)
            code = _read_int(ref.run_dir / "exit")
            if code is not None:
                return self._exited(ref, code)
            if not gone:
                return RunState(Phase.RUNNING, message="Stopping the run.")
        if reason:
            return self._stopped(handle, ref, reason)
        code = _read_int(ref.run_dir / "exit")
        if code is not None:
            return self._exited(ref, code)
        return self._lost("The run's processes are gone and left no exit status (was the host restarted?).")

    def cancel(self, handle: RunHandle) -> RunState:
        ref = self._ref(handle)
        if self._owns_directory(handle, ref) and _read_int(ref.run_dir / "exit") is None and self._alive(ref):
            self._mark_stopped(ref, "cancel")
            self._terminate(ref)
        return self.poll(handle)

    def read_log(self, handle: RunHandle, offset: int, limit: int = 1 << 16) -> bytes:
        ref = self._ref(handle)
        if offset < 0 or limit <= 0 or not self._owns_directory(handle, ref):
            return b""
        try:
            with open(ref.run_dir / "output.log", "rb") as log:
                log.seek(offset)
                return log.read(limit)
        except OSError:
            return b""

    def watch(self, handle: RunHandle, on_end: Callable[[], None]) -> bool:
        """Call `on_end` from a new thread once the run's wrapper process (started here) has exited."""
        try:
            ref = self._ref(handle)
        except RunnerError:
            return False
        with _CHILDREN_LOCK:
            child = _CHILDREN.get(ref.pid)
        if child is None or not self._owns_directory(handle, ref):
            return False

        def wait() -> None:
            with contextlib.suppress(Exception):
                child.wait()
            on_end()

        threading.Thread(target=wait, name=f"baryon-run-{handle.run_id}", daemon=True).start()
        return True

    def log_path(self, handle: RunHandle) -> Path:
        return self._ref(handle).run_dir / "output.log"

    def cleanup(self, handle: RunHandle) -> None:
        """Stop the run if it still runs, then delete its directory (workspace and output)."""
        ref = self._ref(handle)
        if not self._owns_directory(handle, ref):
            return
        if _read_int(ref.run_dir / "exit") is None and self._alive(ref):
            self._mark_stopped(ref, "cancel")
            self._terminate(ref)
        self._discard(ref.run_dir)
        _reap()
