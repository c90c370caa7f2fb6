"""The command-runner interface: start a run, poll it, cancel it, read its output, clean it up.

A run executes a list of shell commands in order, in a fresh workspace holding the given files, with an
environment made only of the given variables (plus what the backend needs, e.g. PATH and HOME); the
first command that exits non-zero ends the run with that status (the rest do not run), as in CodeBuild.

Invariants:

- `start` is idempotent per run id until `cleanup`: starting a run id whose run still exists returns that
  run's handle (a step repeated after a crash before the handle was persisted never runs the commands
  twice); the same run id with another spec is refused with `RunnerError`.
- A `RunHandle` holds everything needed to find the run again from any process of the same deployment
  (it is JSON, without secrets: no environment values); the caller persists it before its next step.
- `poll` never waits for the commands; it reports RUNNING, EXITED (with the exit status, or with
  `timed_out` / `cancelled` when the backend stopped the run) or LOST (the run is gone without a recorded
  end, e.g. after a host restart). Past the run's timeout, `poll` stops the run and reports `timed_out`.
- `cancel` stops the whole run (every process it started), waiting at most the backend's grace period
  before killing; cancelling a run that has ended changes nothing.
- Output (stdout and stderr interleaved) is read by byte offset and stays readable until `cleanup`.
- `proton-outputs.json`, when the commands left one in the workspace, comes back as bytes in the EXITED
  state; interpreting it is the caller's job.
- A backend may also implement `ExitWatcher`: `watch` calls back (from another thread) once the run has
  ended, so the caller can poll at once instead of at its next scheduled poll. It is an optimisation only;
  polling alone always finds the end.

Driving a run from a job step (each line one step; persist what it returns before the next)::

    handle = backend.start(spec)                  # persist handle.to_dict(); repeating it is harmless
    state = backend.poll(handle)                  # every step, then:
    capture.copy_output(db, backend, handle, deployment_id, now, final=state.finished)
    state.phase is RUNNING  -> wait and poll again (cancel requested: backend.cancel(handle))
    state.phase is EXITED   -> settle from state.succeeded / exit_code / timed_out / cancelled / outputs
    state.phase is LOST     -> settle as failed (or cleanup and start again: a new run, a new key)
    backend.cleanup(handle)                       # after the output was copied with final=True
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

OUTPUTS_FILE = "proton-outputs.json"
INPUTS_FILE = "proton-inputs.json"

#: Scalar values a handle's backend-specific reference may hold.
RefValue = str | int | float | None


class RunnerError(Exception):
    """A run cannot be started or addressed (bad spec, unknown handle, conflicting run id)."""


@dataclass(frozen=True)
class RunSpec:
    """What to run. `files` maps relative paths to contents; `executables` names the ones to mark
    executable; `env` are the exact variables the commands see (beyond the backend's own few).
    `image` and `runtimes` describe a build image; backends that run containers use them."""

    run_id: str
    commands: Sequence[str]
    files: Mapping[str, bytes] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: float = 3600.0
    executables: frozenset[str] = frozenset()
    image: str | None = None
    runtimes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunHandle:
    """A started run. `key` is unique per start (two runs under one run id, one after the other's
    cleanup, have different keys); `ref` is the backend's own reference (e.g. process ids and paths)."""

    backend: str
    run_id: str
    key: str
    started_at: float
    timeout_seconds: float
    ref: Mapping[str, RefValue]

    @property
    def deadline(self) -> float:
        return self.started_at + self.timeout_seconds

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ref": dict(self.ref)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunHandle:
        try:
            backend, run_id, key = data["backend"], data["run_id"], data["key"]
            started_at, timeout, ref = data["started_at"], data["timeout_seconds"], data["ref"]
        except (KeyError, TypeError) as error:
            raise RunnerError(f"not a run handle: missing {error}") from None
        if not all(isinstance(value, str) for value in (backend, run_id, key)):
            raise RunnerError("not a run handle: backend, run_id and key must be strings")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (started_at, timeout)):
            raise RunnerError("not a run handle: started_at and timeout_seconds must be numbers")
        if not isinstance(ref, dict) or not all(
            isinstance(k, str) and (v is None or isinstance(v, str | int | float)) for k, v in ref.items()
        ):
            raise RunnerError("not a run handle: ref must be an object of scalars")
        return cls(backend, run_id, key, float(started_at), float(timeout), dict(ref))

    @classmethod
    def from_json(cls, text: str | bytes) -> RunHandle:
        try:
            data = json.loads(text)
        except ValueError as error:
            raise RunnerError(f"not a run handle: {error}") from None
        if not isinstance(data, dict):
            raise RunnerError("not a run handle: expected a JSON object")
        return cls.from_dict(data)


class Phase(enum.StrEnum):
    RUNNING = "RUNNING"
    EXITED = "EXITED"
    LOST = "LOST"


@dataclass(frozen=True)
class RunState:
    """Where a run is. For EXITED: `exit_code` is the commands' status (None when the backend stopped
    them: then `timed_out` or `cancelled` says why); `failed_command` is the 0-based index of the command
    that failed; `outputs` the bytes of `proton-outputs.json` if the commands left one; `ended_at` when the
    commands ended (or were stopped), in epoch seconds, when the backend knows."""

    phase: Phase
    exit_code: int | None = None
    timed_out: bool = False
    cancelled: bool = False
    failed_command: int | None = None
    outputs: bytes | None = None
    message: str = ""
    ended_at: float | None = None

    @property
    def finished(self) -> bool:
        return self.phase is not Phase.RUNNING

    @property
    def succeeded(self) -> bool:
        return self.phase is Phase.EXITED and self.exit_code == 0


class RunnerBackend(Protocol):
    """Runs command lists somewhere: the local host (`local.LocalRunner`), a container engine, a cluster."""

    name: str

    def start(self, run: RunSpec) -> RunHandle: ...

    def poll(self, handle: RunHandle) -> RunState: ...

    def cancel(self, handle: RunHandle) -> RunState: ...

    def read_log(self, handle: RunHandle, offset: int, limit: int) -> bytes: ...

    def cleanup(self, handle: RunHandle) -> None: ...


@runtime_checkable
class ExitWatcher(Protocol):
    """A backend that can tell when a run ends without being polled."""

    def watch(self, handle: RunHandle, on_end: Callable[[], None]) -> bool:
        """Call `on_end` once, from another thread, when the run ends; False (and no call) when this
        process cannot watch the run."""
        ...
