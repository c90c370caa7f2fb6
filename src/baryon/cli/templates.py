"""`baryon template publish|lint` and `baryon render`: the commands template authors use.

- `template publish DIR`: pack, upload, register and (with --publish) publish a template version, through
  the Proton API like any client (`template_publish`);
- `template lint DIR`: registration checks, a render and cfn-lint, locally, for CI (`template_lint`); exit
  status 0 when there is no error (warnings are printed), 1 otherwise;
- `render`: the template a deployment would send, or its diff against what is deployed, read from the
  database of the data dir like the other admin commands (`render`).

Invariants: user errors end with one line and exit status 1 (2 for usage errors), never a traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from baryon.cli.options import common_options, open_from_options
from baryon.config import Settings, default_data_dir

__all__ = ["render_command", "template"]

SPEC_HELP = "Spec to render with (default: the schema's defaults, or the deployed inputs)."


@click.group()
def template() -> None:
    """Write, check and publish templates."""


def _compatible(values: tuple[str, ...]) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        name, _, major = value.rpartition(":")
        if not name or not major.isdigit():
            raise click.UsageError(f"--compatible-env takes NAME:MAJOR (e.g. my-env:1), not {value!r}.")
        pairs.append((name, major))
    return pairs


@template.command("publish")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--name", required=True, help="Template name (created when missing).")
@click.option("--kind", type=click.Choice(["environment", "service"]), required=True)
@click.option("--major", help="Major version to add a minor version to (default: a new major version).")
@click.option(
    "--compatible-env",
    "compatible",
    multiple=True,
    metavar="NAME:MAJOR",
    help="Environment template a service template version works with (repeatable; required for services).",
)
@click.option("--publish", "publish_it", is_flag=True, help="Publish the version once it is registered.")
@click.option("--bucket", default=None, help="S3 bucket for the bundle (default: baryon-templates).")
@click.option("--description", default=None, help="Description of the version.")
@click.option("--timeout", default=600.0, show_default=True, type=float, help="Seconds to wait for it.")
@click.option("--data-dir", envvar="BARYON_DATA_DIR", help="Data dir of `baryon up` (for its baryon.env).")
def publish(
    folder: Path,
    name: str,
    kind: str,
    major: str | None,
    compatible: tuple[str, ...],
    publish_it: bool,
    bucket: str | None,
    description: str | None,
    timeout: float,
    data_dir: str | None,
) -> None:
    """Pack FOLDER, upload it to S3, register it as a version of template NAME and wait for it."""
    from baryon.cli import template_publish as tp
    from baryon.cli.template_lint import bundle_root, pack

    pairs = _compatible(compatible)
    if kind == "service" and not pairs:
        raise click.UsageError("A service template version needs --compatible-env NAME:MAJOR.")
    if kind == "environment" and pairs:
        raise click.UsageError("--compatible-env applies to service templates only.")
    root = bundle_root(folder)
    request = tp.Request(
        folder=folder,
        archive=pack(root),
        name=name,
        kind=kind,
        major=major,
        compatible=pairs,
        publish=publish_it,
        bucket=bucket or tp.DEFAULT_BUCKET,
        has_pipeline=(root / "pipeline_infrastructure").is_dir(),
        description=description,
        timeout=timeout,
    )
    tty = sys.stdout.isatty()
    shown: list[str] = []

    def progress(status: str, waited: float) -> None:
        if tty:
            click.echo(f"\r  {status} ({int(waited)} s)   ", nl=False)
        elif not shown or shown[-1] != status:
            click.echo(f"  {status}")
        shown.append(status)

    def say(line: str) -> None:
        if tty and shown:
            click.echo("")
            shown.clear()
        click.echo(line)

    try:
        where = tp.connection(Path(data_dir).expanduser() if data_dir else default_data_dir())
        endpoint = where.variables.get("AWS_ENDPOINT_URL_PROTON") or "the default endpoint"
        say(f"Using {endpoint} from {where.source}")
        version = tp.publish(request, where, say, progress)
    except tp.PublishError as error:
        if tty and shown:
            click.echo("")
        raise click.ClickException(str(error)) from None
    if tty and shown:
        click.echo("")
    click.echo(f"{name} {version['majorVersion']}.{version['minorVersion']} is {version['status']}")


@template.command("lint")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--spec", type=click.Path(exists=True, dir_okay=False, path_type=Path), help=SPEC_HELP)
@click.option(
    "--outputs",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML mapping of the environment's (and instances') outputs the template reads.",
)
@click.option("--kind", type=click.Choice(["environment", "service"]), help="Default: from the folders.")
@click.option("--region", default=lambda: os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
@click.option(
    "--ignore",
    multiple=True,
    metavar="RULE",
    help="cfn-lint rule (or prefix) not to check; repeatable (default: BARYON_CFN_LINT_IGNORE).",
)
@click.option("--show", is_flag=True, help="Also print the rendered templates.")
def lint(
    folder: Path,
    spec: Path | None,
    outputs: Path | None,
    kind: str | None,
    region: str,
    ignore: tuple[str, ...],
    show: bool,
) -> None:
    """Check the template folder FOLDER as registration and a deployment would: exit status 1 on errors."""
    import yaml

    from baryon.cli.template_lint import lint as lint_folder

    given: dict[str, str] = {}
    if outputs is not None:
        loaded = yaml.safe_load(outputs.read_text()) or {}
        if not isinstance(loaded, dict):
            raise click.UsageError(f"--outputs {outputs} must hold a mapping of output names to values.")
        given = {str(key): str(value) for key, value in loaded.items()}
    report = lint_folder(
        folder,
        kind=kind.upper() if kind else None,
        spec=spec.read_text() if spec else None,
        outputs=given,
        region=region,
        ignore=ignore or Settings().cfn_lint_ignore,
    )
    if show:
        for label, text in report.rendered.items():
            click.echo(f"--- {label}")
            click.echo(text.rstrip("\n"))
    for note in report.notes:
        click.echo(f"note: {note}")
    for warning in report.warnings:
        click.echo(f"warning: {warning}")
    for problem in report.problems:
        click.echo(f"error: {problem}")
    checked = ", ".join(report.rendered) or "no CloudFormation rendered"
    if report.problems:
        counts = f"{len(report.problems)} error(s), {len(report.warnings)} warning(s)"
        click.echo(f"{folder}: {counts} ({checked})")
        sys.exit(1)
    click.echo(f"{folder}: no errors, {len(report.warnings)} warning(s) ({checked})")


@click.command("render")
@click.option("--environment", help="Render this environment's template.")
@click.option("--service", help="The service of --instance, or of its pipeline with --pipeline.")
@click.option("--instance", help="Render this service instance's template (with --service).")
@click.option("--pipeline", help="Render this service's pipeline template.")
@click.option("--version", "version", help="Template version MAJOR.MINOR (default: the deployed one).")
@click.option("--spec", type=click.Path(exists=True, dir_okay=False, path_type=Path), help=SPEC_HELP)
@click.option("--diff", "as_diff", is_flag=True, help="Show a unified diff against what is deployed.")
@click.option("--account-id", default="123456789012", show_default=True, help="Account of the resource.")
@click.option("--region", default=lambda: os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
@common_options
def render_command(
    environment: str | None,
    service: str | None,
    instance: str | None,
    pipeline: str | None,
    version: str | None,
    spec: Path | None,
    as_diff: bool,
    account_id: str,
    region: str,
    data_dir: str | None,
    database_url: str | None,
    no_migrate: bool,
) -> None:
    """The CloudFormation template a deployment would send (from the database of the data dir)."""
    from baryon.cli.render import RenderProblem, diff, render

    names: dict[str, str]
    if environment and not (service or instance or pipeline):
        names = {"environment": environment}
    elif service and instance and not (environment or pipeline):
        names = {"service": service, "instance": instance}
    elif pipeline and not (environment or instance) and (service in (None, pipeline)):
        names = {"service": pipeline}
    else:
        raise click.UsageError(
            "Name one resource: --environment NAME, --service NAME --instance NAME, or --pipeline SERVICE."
        )
    runtime = open_from_options(data_dir, database_url, no_migrate)
    try:
        proposed = render(
            runtime,
            account_id=account_id,
            region=region,
            names=names,
            version=version,
            spec=spec.read_text() if spec else None,
        )
        if not as_diff:
            click.echo(proposed.text.rstrip("\n"))
            return
        deployed = render(runtime, account_id=account_id, region=region, names=names, deployed=True)
    except RenderProblem as error:
        raise click.ClickException(str(error)) from None
    finally:
        runtime.close()
    changes = diff(deployed, proposed)
    click.echo(changes.rstrip("\n") if changes else f"No changes: {proposed.file_name} renders as deployed.")
