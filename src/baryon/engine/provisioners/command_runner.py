"""The command-runner provisioner ("codebuild" bundle parts): run the manifest's commands through the
runtime's runner backend.

A deployment runs the manifest's `provision` commands (`deprovision` for a deletion) through the runtime's
runner backend, in a workspace holding the bundle part's files and the input file (`proton-inputs.json`,
or `proton-inputs.tfvars` for `input_type: HCL`). One step per line, each persisting what it made before
the next (`progress` of the deployment record):

1. prepare: render the input file and issue the run's credential (it may only notify for this resource,
   and expires after the run's timeout), in one transaction with the progress that names them;
2. start the run (run id = deployment id), persist its handle, and ask the backend to report its end;
3. poll, every POLL_SECONDS and at once when the backend reports the end: copy the new output into the
   deployment's log; a CANCELLING deployment cancels the run; once the run has ended, copy the rest of
   the output, settle the deployment and delete the credential in one transaction, then clean the run up.

Outcome (the notify contract): exit 0 → SUCCEEDED with the outputs recorded by notify merged with
`proton-outputs.json` (the file wins a key clash), or FAILED when the commands reported FAILED through
notify or left an unusable outputs file; a non-zero exit → FAILED naming the command and its status; past
the timeout → FAILED; a run lost by the backend → FAILED; cancelled → CANCELLED. A deletion ends
DELETE_COMPLETE on exit 0 (at once when the manifest has no `deprovision` commands), else DELETE_FAILED.
Notifications (`notify`) record outputs, the message and a SUCCEEDED/FAILED status for the run's end to
use. The deadline is the run's timeout: BARYON_DEADLINE_COMMAND_RUNNER_SECONDS, else BARYON_RUN_TIMEOUT.

Invariants: the step settles the deployment through `baryon.engine.settle` and never raises for an
expected result; a step repeated after a crash at any point never starts the commands twice (the input
file and credential are persisted before the start, so the spec is the same, and `start` is idempotent
per run id); the step never writes the deployment's `outputs` or `reported_status` except when it settles;
nothing of Baryon's own environment reaches the commands (the backend builds their environment from the
variables given here); `proton-outputs.json` is read only after the commands succeeded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import orjson

from baryon.config import DEFAULT_RUN_TIMEOUT
from baryon.domain.deployments import (
    CANCEL_MESSAGE,
    CANCELLED,
    CANCELLING,
    DELETE,
    DELETE_COMPLETE,
    FAILED,
    SUCCEEDED,
)
from baryon.domain.outcomes import Done, Outcome, Wait
from baryon.engine.provisioners.base import InFlight, Report, Settled, Traits
from baryon.engine.runners.base import ExitWatcher, Phase, RunHandle, RunnerError, RunSpec, RunState
from baryon.engine.runners.capture import copy_output
from baryon.engine.settle import Finish, record_finish, record_report, save
from baryon.engine.steps import BundlePart, StepInput, bundle_part, failure_status, version_of
from baryon.protocol.sigv4 import Credential
from baryon.render.codebuild import (
    OUTPUTS_FILE,
    OutputsError,
    input_file_name,
    parse_outputs,
    proton_inputs,
)
from baryon.render.errors import RenderError
from baryon.runtime import Runtime
from baryon.store import deployments as deployment_store
from baryon.store import jobs, run_logs

log = logging.getLogger("baryon.engine.provisioners.command_runner")
POLL_SECONDS = 1.0
#: How long a run's credential outlives the run's timeout (cancel and cleanup take a moment).
CREDENTIAL_MARGIN_SECONDS = 300.0
#: How long the end-of-run wake-up waits for the step that holds the job to settle.
NUDGE_PATIENCE_SECONDS = 60.0


class CommandRunner(Settled):
    traits = Traits("codebuild", "the command runner", "its commands", "command_runner", notified=True)

    def deploy(self, given: StepInput) -> Outcome:
        if "run" in given.progress:
            return _poll(given)
        return _begin(given)

    delete = deploy

    def notify(self, flight: InFlight, report: Report) -> None:
        """Record outputs, message and a SUCCEEDED/FAILED status; the run's end settles the deployment."""
        status = report.status if report.status in (SUCCEEDED, FAILED) else None
        record_report(flight.connection, flight.now, flight.record, report.outputs, report.message, status)


PROVISIONER = CommandRunner()


# --- starting -------------------------------------------------------------------------------------


def _timeout(runtime: Runtime) -> float:
    """The run's timeout: BARYON_DEADLINE_COMMAND_RUNNER_SECONDS, else BARYON_RUN_TIMEOUT."""
    value = runtime.settings.deadline(PROVISIONER.traits.deadline_name, runtime.settings.run_timeout)
    return value if value is not None else DEFAULT_RUN_TIMEOUT


def _settle(given: StepInput, outcome: Finish) -> Outcome:
    """Settle the deployment and delete its credential, in one transaction."""
    runtime, record = given.runtime, given.record
    with runtime.database.write() as connection:
        record_finish(
            connection, runtime.clock.now(), record, given.subject, outcome, given.progress, runtime.announce
        )
        key = given.progress.get("credential")
        if key:
            runtime.credentials.discard(connection, str(key))
    return Done()


def _fail(given: StepInput, message: str) -> Outcome:
    """Settle the deployment FAILED (DELETE_FAILED for a deletion) and delete its credential."""
    return _settle(given, Finish(failure_status(given.record), message))


def _begin(given: StepInput) -> Outcome:
    runtime, record, subject, progress = given.runtime, given.record, given.subject, given.progress
    if record.deployment_status == CANCELLING:
        return _settle(given, Finish(CANCELLED, CANCEL_MESSAGE))
    deleting = record.operation == DELETE
    try:
        part = bundle_part(runtime, subject, *version_of(record, subject))
    except RenderError as error:
        return _fail(given, str(error))
    settings: dict[str, Any] = part.info.get("settings") or {}
    commands = [str(command) for command in settings.get("deprovision" if deleting else "provision") or []]
    if deleting and not commands:
        return _settle(given, Finish(DELETE_COMPLETE))
    env_settings = settings.get("env") or {}
    if env_settings.get("secrets_manager"):
        message = (
            "settings.env.secrets_manager is not supported by this Baryon server: pass secrets to the "
            "commands another way (see docs/runners.md)."
        )
        return _fail(given, message)
    timeout = _timeout(runtime)
    if "credential" not in progress:
        try:
            name, text = _input_file(given, settings)
        except (RenderError, ValueError) as error:
            return _fail(given, f"Cannot write the input file: {error}")
        now = runtime.clock.now()
        with runtime.database.write() as connection:
            credential = runtime.credentials.issue_scoped(
                connection,
                record.account_id,
                f"run-{record.id}",
                record.target_arn,
                now + timeout + CREDENTIAL_MARGIN_SECONDS,
                now,
            )
            progress.update(credential=credential.access_key_id, input={"name": name, "text": text})
            deployment_store.save_progress(connection, record.id, progress, now)
            note = _image_note(settings, runtime.runner_backend().name)
            if note:
                run_logs.append(connection, record.id, note, now=now)
    else:
        found = runtime.credentials.lookup(str(progress["credential"]))
        if found is None or (found.expires_at is not None and found.expires_at <= runtime.clock.now()):
            message = "The credential prepared for the commands expired before they could start."
            return _fail(given, message)
        credential = found
    spec = RunSpec(
        run_id=record.id,
        commands=commands,
        files=_files(part, progress["input"]),
        env=_environment(runtime, record, env_settings, credential),
        timeout_seconds=timeout,
        image=settings.get("image"),
        runtimes={str(k): str(v) for k, v in (settings.get("runtimes") or {}).items()},
    )
    backend = runtime.runner_backend()
    try:
        handle = backend.start(spec)
    except RunnerError as error:
        return _fail(given, f"Cannot start the commands: {error}")
    progress["run"] = handle.to_dict()
    save(runtime, record, progress)
    if isinstance(backend, ExitWatcher):
        job_id = given.job.id
        backend.watch(handle, lambda: _nudge(runtime, job_id))
    return Wait(runtime.clock.now() + POLL_SECONDS)


def _image_note(settings: Mapping[str, Any], backend: str) -> str:
    """The log's first line when the manifest names a build image or runtimes."""
    image, runtimes = settings.get("image"), settings.get("runtimes") or {}
    if not image and not runtimes:
        return ""
    parts = [f"build image {image}"] if image else []
    if runtimes:
        parts.append("runtimes " + ", ".join(f"{name} {version}" for name, version in runtimes.items()))
    unused = ""
    if backend == "local":
        unused = " (not used by the local runner: the commands run with the host's tools)"
    return f"[baryon] The manifest asks for {' and '.join(parts)}{unused}.\n"


def _input_file(given: StepInput, settings: Mapping[str, Any]) -> tuple[str, str]:
    """The input file's name and text for this deployment (the target's inputs, else the resource's)."""
    input_type = str(settings.get("input_type") or "JSON")
    name = input_file_name(input_type)
    context = given.subject.context(given.inputs())
    return name, proton_inputs(given.record.target_type, context, input_type).decode()


def _files(part: BundlePart, input_file: Mapping[str, str]) -> dict[str, bytes]:
    files = dict(part.files)
    files[str(input_file["name"])] = str(input_file["text"]).encode()
    return files


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _environment(
    runtime: Runtime, record: Any, env_settings: Mapping[str, Any], credential: Credential
) -> dict[str, str]:
    """The commands' variables: the manifest's `env.variables`, then Baryon's own (which win)."""
    env = {str(name): _text(value) for name, value in (env_settings.get("variables") or {}).items()}
    env.update(
        RESOURCE_ARN=record.target_arn,
        AWS_ENDPOINT_URL_PROTON=runtime.settings.api_url,
        AWS_DEFAULT_REGION=record.region,
        AWS_REGION=record.region,
        AWS_ACCESS_KEY_ID=credential.access_key_id,
        AWS_SECRET_ACCESS_KEY=credential.secret_access_key,
    )
    return env


def _nudge(runtime: Runtime, job_id: str) -> None:
    """The run ended: make the job due now (waiting, if need be, for the step that holds it to settle)."""
    deadline = time.monotonic() + NUDGE_PATIENCE_SECONDS
    try:
        while jobs.hasten(runtime.database, job_id, runtime.clock.now()) == "busy":
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)
    except Exception:
        log.exception("could not wake job %s after its run ended", job_id)
        return
    runtime.wake()


# --- polling and settling -------------------------------------------------------------------------


def _poll(given: StepInput) -> Outcome:
    runtime, record, progress = given.runtime, given.record, given.progress
    backend = runtime.runner_backend()
    try:
        handle = RunHandle.from_dict(progress["run"])
    except RunnerError as error:
        return _fail(given, f"The run of the commands was lost: {error}")
    try:
        cancelling = record.deployment_status == CANCELLING
        state = backend.cancel(handle) if cancelling else backend.poll(handle)
    except RunnerError as error:
        # Not reachable from here (e.g. started on another host): leave it to the worker that can reach it,
        # until the run's credential has expired.
        if runtime.clock.now() > handle.deadline + CREDENTIAL_MARGIN_SECONDS:
            return _fail(given, f"The run of the commands was lost: {error}")
        log.info("deployment %s: %s", record.id, error)
        return Wait(runtime.clock.now() + POLL_SECONDS)
    copy_output(runtime.database, backend, handle, record.id, runtime.clock.now(), final=state.finished)
    if not state.finished:
        return Wait(runtime.clock.now() + POLL_SECONDS)
    if state.ended_at is not None:
        progress["run_ended_at"] = state.ended_at
    outcome = _outcome(given, handle, state)
    _settle(given, outcome)
    try:
        backend.cleanup(handle)
    except (RunnerError, OSError) as error:
        log.warning("could not clean up the run of deployment %s: %s", record.id, error)
    return Done()


def _command_failed(given: StepInput, state: RunState) -> str:
    deleting = given.record.operation == DELETE
    if state.failed_command is None:
        return f"The commands exited with status {state.exit_code}."
    commands = _commands_of(given, deleting)
    number = state.failed_command + 1
    listing = "deprovision" if deleting else "provision"
    text = ""
    if 0 <= state.failed_command < len(commands):
        text = f" ({_clip(commands[state.failed_command])})"
    return f"Command {number} of {listing}{text} exited with status {state.exit_code}."


def _commands_of(given: StepInput, deleting: bool) -> list[str]:
    try:
        part = bundle_part(given.runtime, given.subject, *version_of(given.record, given.subject))
    except RenderError:
        return []
    settings = part.info.get("settings") or {}
    return [str(command) for command in settings.get("deprovision" if deleting else "provision") or []]


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _outcome(given: StepInput, handle: RunHandle, state: RunState) -> Finish:
    """The deployment's final status, message and outputs from the run's end and what notify recorded."""
    record = given.record
    failure = failure_status(record)
    with given.runtime.database.read() as connection:
        current = deployment_store.find(connection, record.id)
    reported = current.reported_status if current is not None else None
    reported_message = current.deployment_status_message if current is not None else None
    if state.phase is Phase.LOST:
        return Finish(failure, f"The run of the commands was lost: {state.message}")
    if state.cancelled and record.operation != DELETE:
        return Finish(CANCELLED, CANCEL_MESSAGE)
    if state.cancelled:
        return Finish(failure, "The commands were stopped before they finished.")
    if state.timed_out:
        return Finish(failure, f"The commands timed out after {handle.timeout_seconds:g} s.")
    if state.exit_code != 0:
        message = _command_failed(given, state)
        if reported == FAILED and reported_message:
            message += f" The commands reported: {reported_message}"
        return Finish(failure, message)
    if reported == FAILED:
        return Finish(failure, reported_message or "The commands reported FAILED.")
    if record.operation == DELETE:
        return Finish(DELETE_COMPLETE)
    recorded: list[dict[str, str]] = orjson.loads(current.outputs) if current and current.outputs else []
    from_file: list[dict[str, str]] = []
    if state.outputs is not None:
        try:
            from_file = parse_outputs(state.outputs)
        except OutputsError as error:
            return Finish(FAILED, str(error))
    elif OUTPUTS_FILE in state.message:
        return Finish(FAILED, state.message)
    merged = {item["key"]: item["valueString"] for item in recorded}
    merged.update((item["key"], item["valueString"]) for item in from_file)
    outputs = [{"key": key, "valueString": value} for key, value in merged.items()]
    return Finish(SUCCEEDED, reported_message if reported == SUCCEEDED else None, outputs, [])
