"""`baryon template lint DIR`: what registration and a deployment would say about a template folder, with no
server: the bundle checks, a render of each CloudFormation part with a spec (or the schema's defaults), and
cfn-lint on what was rendered.

`pack(folder)` makes the bundle archive of a folder (also what `baryon template publish` uploads); `lint`
answers the `Report` of a folder: `problems` (each a line naming the file and, where known, the line) fail
the lint, `warnings` and `notes` do not.

Rendering without a server: the environment is named ``lint-environment`` in account LINT_ACCOUNT, the
service ``lint-service``; a service without a spec has one instance, ``lint-instance``. Outputs of the
environment, of the instances and of an attached component are not known here: those the template reads
come from `--outputs FILE` (a YAML mapping of output names to values), else they are rendered as
``unknown-output-<Name>`` and listed in `notes`; cfn-lint findings on a line that holds such a stand-in
are set aside (they are about a value not known here) and only counted in a note.

Invariants: nothing is written and nothing is sent anywhere; the same folder, spec and outputs always
give the same report; the file names in messages are relative to the bundle root, as a deployment names
them (``instance_infrastructure/cloudformation.yaml``).
"""

from __future__ import annotations

import io
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baryon.bundles.errors import BundleError
from baryon.bundles.layout import ENVIRONMENT_PART, INSTANCE_PART, PIPELINE_PART, SCHEMA_PATH
from baryon.bundles.load import BundleInfo, load_bundle
from baryon.domain import spec_schema, specs
from baryon.protocol.errors import ServiceError
from baryon.render import cfn_lint
from baryon.render.context import environment_context, pipeline_context, service_instance_context
from baryon.render.errors import RenderError
from baryon.render.jinja import render_template

LINT_ACCOUNT = "123456789012"
LINT_ENVIRONMENT = "lint-environment"
LINT_SERVICE = "lint-service"
LINT_INSTANCE = "lint-instance"
#: The repository a service with a pipeline has (its pipeline template may read it).
LINT_REPOSITORY = {
    "repository_connection_arn": f"arn:aws:codestar-connections:us-east-1:{LINT_ACCOUNT}:connection/lint",
    "repository_id": "lint/repository",
    "branch_name": "main",
}
#: Files and folders never packed into a bundle.
_SKIPPED = frozenset({".git", ".hg", ".svn", "__pycache__", ".DS_Store", ".terraform"})
#: Undefined outputs filled in before a render gives up.
_MAX_FILLED = 200
#: How an output not given is rendered.
STAND_IN = "unknown-output-{}"
_UNDEFINED_OUTPUT = re.compile(r"\boutputs\.([A-Za-z0-9_]+) is not defined")


@dataclass
class Report:
    kind: str
    #: cfn-lint rules not checked.
    ignore: tuple[str, ...] = ()
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: What was rendered, by bundle file name (with the instance's name for service instances).
    rendered: dict[str, str] = field(default_factory=dict)
    #: cfn-lint findings on lines that hold a stand-in output (not counted).
    set_aside: int = 0


def _packed(path: Path, folder: Path) -> bool:
    return not any(part in _SKIPPED for part in path.relative_to(folder).parts)


def pack(folder: Path) -> bytes:
    """The .tar.gz bundle of `folder` (its contents at the archive's root; VCS folders left out)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            if not _packed(path, folder) or not (path.is_file() or path.is_dir()) or path.is_symlink():
                continue
            info = tar.gettarinfo(str(path), arcname=path.relative_to(folder).as_posix())
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            if path.is_file():
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    return buffer.getvalue()


def bundle_root(folder: Path) -> Path:
    """The folder holding schema/ (`folder` itself, or the one folder inside it that holds schema/)."""
    if (folder / SCHEMA_PATH).is_file():
        return folder
    inside = [path.parent.parent for path in folder.glob(f"*/{SCHEMA_PATH}")]
    return inside[0] if len(inside) == 1 else folder


def guess_kind(folder: Path) -> str:
    """SERVICE when the bundle has instance_infrastructure/, else ENVIRONMENT."""
    return "SERVICE" if (bundle_root(folder) / INSTANCE_PART).is_dir() else "ENVIRONMENT"


class _NotKnown(Exception):
    """A render failed on the value of an output that is not known here (a stand-in)."""

    def __init__(self, error: RenderError) -> None:
        super().__init__(str(error))
        self.error = error


class _Outputs(dict[str, str]):
    """Outputs given with --outputs; names a template reads that were not given are added as they come."""


def _render(source: str, file_name: str, build: Any, outputs: dict[str, str], notes: list[str]) -> str:
    """Render `source` with the context `build(outputs)`; outputs the template reads that are unknown are
    filled in with their own name (and noted)."""
    for _ in range(_MAX_FILLED):
        try:
            return render_template(source, build(outputs), file_name=file_name)
        except RenderError as error:
            if STAND_IN.format("") in error.detail:
                raise _NotKnown(error) from None
            missing = _UNDEFINED_OUTPUT.search(error.detail)
            if missing is None or missing.group(1) in outputs:
                raise
            name = missing.group(1)
            outputs[name] = STAND_IN.format(name)
            notes.append(
                f"output {name} is not known here; rendered as '{outputs[name]}' (give it with --outputs)"
            )
    raise RenderError("too many unknown outputs", file_name=file_name)


def _inputs(schema: dict[str, Any], role: str, values: dict[str, Any], where: str) -> dict[str, Any]:
    return spec_schema.validate_inputs(schema, role, values, where=where)


def _lint_part(report: Report, label: str, file_name: str, text: str, region: str) -> None:
    report.rendered[label] = text
    result = cfn_lint.lint(text, file_name, region, report.ignore)
    lines = text.splitlines()
    stand_in = STAND_IN.format("")
    for finding in (*result.errors, *result.warnings):
        line = lines[finding.line - 1] if finding.line and finding.line <= len(lines) else ""
        if stand_in in line:
            report.set_aside += 1
            continue
        into = report.problems if finding.level == cfn_lint.ERROR else report.warnings
        if finding.message() not in into:
            into.append(finding.message())


def _part_source(bundle: BundleInfo, part: str) -> tuple[str, str] | None:
    """(file name, source) of a part's CloudFormation template; None for other engines."""
    info = bundle.parts.get(part)
    if info is None or info.get("rendering_engine", "jinja") != "jinja":
        return None
    name = str(info["files"][0])
    return f"{part}/{name}", bundle.files[f"{part}/{name}"].decode()


def _lint_environment(report: Report, bundle: BundleInfo, spec: str | None, region: str) -> None:
    found = _part_source(bundle, ENVIRONMENT_PART)
    if found is None:
        report.notes.append("infrastructure: not CloudFormation, so not rendered here")
        return
    given = specs.parse_environment_spec(spec) if spec else {}
    inputs = _inputs(bundle.schema, spec_schema.ENVIRONMENT_INPUT, given, f"environment {LINT_ENVIRONMENT}")
    file_name, source = found
    text = _render(
        source,
        file_name,
        lambda _: environment_context(name=LINT_ENVIRONMENT, account_id=LINT_ACCOUNT, inputs=inputs),
        {},
        report.notes,
    )
    _lint_part(report, file_name, file_name, text, region)


def _lint_service(
    report: Report, bundle: BundleInfo, spec: str | None, outputs: _Outputs, region: str
) -> None:
    if spec:
        parsed = specs.parse_service_spec(spec)
        instances = [(instance.name, instance.inputs) for instance in parsed.instances]
        pipeline_given = parsed.pipeline or {}
    else:
        instances, pipeline_given = [(LINT_INSTANCE, {})], {}
    environment = {"name": LINT_ENVIRONMENT, "account_id": LINT_ACCOUNT}
    service = {"name": LINT_SERVICE, **(LINT_REPOSITORY if PIPELINE_PART in bundle.parts else {})}
    rendered_instances: list[dict[str, Any]] = []
    found = _part_source(bundle, INSTANCE_PART)
    for name, given in instances:
        where = f"service instance {name} of service {LINT_SERVICE}"
        inputs = _inputs(bundle.schema, spec_schema.SERVICE_INPUT, given, where)
        rendered_instances.append({"name": name, "inputs": inputs})
        if found is None:
            continue
        file_name, source = found
        text = _render(
            source,
            file_name,
            lambda known, name=name, inputs=inputs: service_instance_context(
                environment={**environment, "outputs": known},
                service=service,
                instance={"name": name, "inputs": inputs},
            ),
            outputs,
            report.notes,
        )
        _lint_part(report, f"{file_name} ({name})", file_name, text, region)
    if found is None:
        report.notes.append("instance_infrastructure: not CloudFormation, so not rendered here")
    if PIPELINE_PART not in bundle.parts:
        return
    pipeline_inputs = _inputs(bundle.schema, spec_schema.PIPELINE_INPUT, pipeline_given, "the pipeline")
    found = _part_source(bundle, PIPELINE_PART)
    if found is None:
        report.notes.append("pipeline_infrastructure: not CloudFormation, so not rendered here")
        return
    file_name, source = found
    text = _render(
        source,
        file_name,
        lambda known: pipeline_context(
            service=service,
            pipeline_inputs=pipeline_inputs,
            instances=[
                {**instance, "outputs": known, "environment": {**environment, "outputs": known}}
                for instance in rendered_instances
            ],
        ),
        outputs,
        report.notes,
    )
    _lint_part(report, file_name, file_name, text, region)


def lint(
    folder: Path,
    *,
    kind: str | None = None,
    spec: str | None = None,
    outputs: dict[str, str] | None = None,
    region: str = cfn_lint.FALLBACK_REGION,
    ignore: tuple[str, ...] = (),
) -> Report:
    """The report on the template folder `folder` (kind ENVIRONMENT or SERVICE; guessed when None)."""
    chosen = kind or guess_kind(folder)
    report = Report(chosen, ignore)
    root = bundle_root(folder)
    if not (root / SCHEMA_PATH).is_file():
        report.problems.append(f"{SCHEMA_PATH}: missing (is {folder} a template folder?)")
        return report
    try:
        bundle = load_bundle(pack(root), kind=chosen, has_pipeline=(root / PIPELINE_PART).is_dir())
    except BundleError as error:
        report.problems.append(str(error))
        return report
    _lint_rendered(report, bundle, spec, _Outputs(outputs or {}), region)
    if report.set_aside:
        report.notes.append(
            f"{report.set_aside} cfn-lint finding(s) on lines holding outputs not known here were set aside "
            "(give the outputs with --outputs to check them)"
        )
    return report


def _lint_rendered(
    report: Report, bundle: BundleInfo, spec: str | None, outputs: _Outputs, region: str
) -> None:
    try:
        if report.kind == "ENVIRONMENT":
            _lint_environment(report, bundle, spec, region)
        else:
            _lint_service(report, bundle, spec, outputs, region)
    except _NotKnown as unknown:
        report.notes.append(f"not checked further: {unknown} (give the outputs it reads with --outputs)")
    except RenderError as error:
        report.problems.append(str(error))
    except ServiceError as error:
        report.problems.append(error.message)
