"""`baryon adopt`: bring what Proton left running under Baryon without touching it.

`baryon adopt cloudformation` reads the stacks Proton tagged in the account a role is assumed in
(`baryon.adopt.cloudformation`), registers and publishes the template bundles of `--bundles DIR` first
(`baryon.adopt.bundles`; not with `--dry-run`), prints the plan — what will be created, from which stack,
with which template version and spec, and each stack that cannot be adopted with the reason — and,
unless `--dry-run`, applies it (`baryon.adopt.apply.apply_plan`) and prints the report.

`baryon adopt repository` reads the deployment files Proton committed to a branch of a linked Terraform
deployment repository (`baryon.adopt.repository`), prints the plan and, unless `--dry-run`, applies it;
nothing is committed to the repository.

Invariants: `--dry-run` changes nothing anywhere (no bundle is registered, no record is written, and the
stacks are only described); a user's mistake (bad option, a role that cannot be assumed, an unreadable
folder) ends the command with one line, never a traceback; `--output json` prints one JSON document.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import click

from baryon.adopt.cloudformation import AdoptError, Reading, parse_template_choices, read_stacks
from baryon.adopt.plan import Plan, Resource
from baryon.cli.options import common_options, open_from_options

NEEDS_SPEC = "needs a spec"


def _account(value: str) -> str:
    if not (len(value) == 12 and value.isascii() and value.isdigit()):
        raise click.BadParameter("must be 12 digits", param_hint="--account-id")
    return value


def _folder(value: str | None, option: str) -> Path | None:
    if value is None:
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        raise click.BadParameter(f"{value} is not a folder", param_hint=option)
    return path


@click.group()
def adopt() -> None:
    """Adopt what Proton left running: its CloudFormation stacks and Terraform deployment repositories."""


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _jsonable(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {"/".join(k) if isinstance(k, tuple) else str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def plan_json(plan: Plan) -> dict[str, Any]:
    """The plan as JSON (dataclass fields, bundle keys as `KIND/name/major`)."""
    shown: dict[str, Any] = _jsonable(plan)
    return shown


def _template(resource: Resource) -> str:
    if resource.template_name is None:
        return "-"
    return f"{resource.template_name}:{resource.template_major}.{resource.template_minor}"


def _where(resource: Resource) -> str:
    binding = resource.binding
    if binding is None:
        return "-"
    if binding.method == "cloudformation":
        account = f" ({binding.cloud_account_id})" if binding.cloud_account_id else ""
        return f"{binding.stack_name}{account}"
    return f"{binding.folder or '.'}/"


def _spec(resource: Resource) -> str:
    if resource.kind == "component":
        return "-"
    return "spec given" if resource.spec is not None else NEEDS_SPEC


def _name(resource: Resource) -> str:
    if resource.kind == "service-instance":
        return f"{resource.service}/{resource.name}"
    if resource.kind == "component" and resource.service_instance:
        return f"{resource.name} (of {resource.service}/{resource.service_instance})"
    return resource.name


def print_plan(plan: Plan) -> None:
    """The plan as a table, then what is skipped."""
    click.echo(f"Adopting into account {plan.account_id}, region {plan.region}:")
    for (kind, name, major), folder in sorted(plan.bundles.items()):
        click.echo(f"  register {kind.lower()} template {name} major {major} from {folder}")
    if not plan.resources:
        click.echo("Nothing to adopt.")
    else:
        rows = [
            (
                r.kind,
                _name(r),
                r.environment or "-",
                _template(r),
                _spec(r),
                _where(r),
            )
            for r in plan.resources
        ]
        terraform = any(r.binding is not None and r.binding.method == "terraform" for r in plan.resources)
        header = ("KIND", "NAME", "ENVIRONMENT", "TEMPLATE", "SPEC", "FOLDER" if terraform else "STACK")
        widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header) - 1)]
        for row in [header, *rows]:
            cells = [f"{cell:<{width}}" for cell, width in zip(row, widths, strict=False)]
            click.echo("  ".join([*cells, row[-1]]).rstrip())
        needing = sum(1 for r in plan.resources if _spec(r) == NEEDS_SPEC)
        click.echo(f"{len(plan.resources)} to adopt, {needing} of them without a spec.")
    if plan.skipped:
        click.echo(f"{len(plan.skipped)} not adopted:")
        for skipped in plan.skipped:
            click.echo(f"  {skipped.source}: {skipped.reason}")


def _print_report(report: Any) -> None:
    """What the applier did: one line per resource (kind, name, outcome, reason), then the counts."""
    entries = getattr(report, "entries", None)
    if not isinstance(entries, list):
        click.echo(json.dumps(_jsonable(report), indent=2))
        return
    click.echo("Result:" if entries else "Nothing was adopted.")
    counts: dict[str, int] = {}
    for entry in entries:
        outcome = str(getattr(entry, "outcome", "?"))
        counts[outcome] = counts.get(outcome, 0) + 1
        reason = getattr(entry, "reason", None)
        line = f"  {getattr(entry, 'kind', '?')} {getattr(entry, 'name', '?')}: {outcome}"
        click.echo(f"{line} ({reason})" if reason else line)
    if counts:
        click.echo(", ".join(f"{count} {outcome}" for outcome, count in counts.items()) + ".")


@adopt.command("cloudformation")
@click.option("--account-id", required=True, help="12-digit Baryon account that will own the resources.")
@click.option("--region", required=True, help="Region of the stacks and of the Baryon resources.")
@click.option("--role-arn", required=True, help="Role to assume in the account where the stacks are.")
@click.option(
    "--bundles",
    "bundles_dir",
    help="Folder of template bundles laid out as template sync reads them: <template>/v<major>/…",
)
@click.option("--specs", "specs_dir", help="Folder of spec files: <environment>.yaml, <service>.yaml.")
@click.option(
    "--template",
    "template_choices",
    multiple=True,
    metavar="NAME=MAJOR.MINOR",
    help="The version a template's resources run (default: its highest published version).",
)
@click.option("--dry-run", is_flag=True, help="Print the plan and stop; nothing is registered or created.")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@common_options
def adopt_cloudformation(
    account_id: str,
    region: str,
    role_arn: str,
    bundles_dir: str | None,
    specs_dir: str | None,
    template_choices: tuple[str, ...],
    dry_run: bool,
    output: str,
    data_dir: str | None,
    database_url: str | None,
    no_migrate: bool,
) -> None:
    """Adopt the CloudFormation stacks Proton deployed (tagged proton:*) without changing them."""
    account_id = _account(account_id)
    try:
        templates = parse_template_choices(template_choices)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--template") from None
    bundles = _folder(bundles_dir, "--bundles")
    reading = Reading(
        account_id=account_id,
        region=region,
        role_arn=role_arn,
        specs_dir=_folder(specs_dir, "--specs"),
        templates=templates,
    )
    runtime = open_from_options(data_dir, database_url, no_migrate)
    try:
        registered: dict[tuple[str, str, str], str] = {}
        if bundles is not None:
            from baryon.adopt.bundles import BundleProblem, find_bundles, predict, register_bundles

            try:
                found = find_bundles(bundles)
                if dry_run:
                    reading.pending = predict(runtime, account_id, region, found)
                else:
                    register_bundles(runtime, account_id, region, found)
            except BundleProblem as problem:
                raise click.ClickException(str(problem)) from None
            registered = {(b.kind, b.name, str(b.major)): str(b.folder) for b in found}
        try:
            plan = read_stacks(runtime, reading)
        except AdoptError as error:
            raise click.ClickException(str(error)) from None
        plan.bundles.update(registered)
        if dry_run:
            if output == "json":
                click.echo(json.dumps({"plan": plan_json(plan)}, indent=2))
            else:
                print_plan(plan)
            return
        from baryon.adopt.apply import apply_plan

        report = apply_plan(runtime, plan)
        if output == "json":
            click.echo(json.dumps({"plan": plan_json(plan), "report": _jsonable(report)}, indent=2))
        else:
            print_plan(plan)
            _print_report(report)
    finally:
        runtime.close()


def _show(plan: Plan, report: Any, output: str) -> None:
    shown: dict[str, Any] = {"plan": plan_json(plan)}
    if report is not None:
        shown["report"] = _jsonable(report)
    if output == "json":
        click.echo(json.dumps(shown, indent=2))
        return
    print_plan(plan)
    if report is not None:
        _print_report(report)


@adopt.command("repository")
@click.option("--account-id", required=True, help="12-digit Baryon account that will own the resources.")
@click.option("--region", required=True, help="Region of the Baryon resources and of the repository link.")
@click.option("--provider", required=True, help="Provider of the repository link (GITHUB, GITLAB, ...).")
@click.option("--name", "repository_name", required=True, metavar="OWNER/REPO", help="The linked repository.")
@click.option("--branch", default=None, help="Branch Proton committed to (default: main).")
@click.option("--dry-run", is_flag=True, help="Print the plan and stop; nothing is created.")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@common_options
def adopt_repository(
    account_id: str,
    region: str,
    provider: str,
    repository_name: str,
    branch: str | None,
    dry_run: bool,
    output: str,
    data_dir: str | None,
    database_url: str | None,
    no_migrate: bool,
) -> None:
    """Adopt the resources a Terraform deployment repository holds, without committing anything."""
    from baryon.adopt.repository import AdoptError as RepositoryError
    from baryon.adopt.repository import read_repository

    account_id = _account(account_id)
    runtime = open_from_options(data_dir, database_url, no_migrate)
    try:
        try:
            plan = read_repository(runtime, account_id, region, provider.upper(), repository_name, branch)
        except RepositoryError as error:
            raise click.ClickException(str(error)) from None
        if dry_run:
            _show(plan, None, output)
            return
        from baryon.adopt.apply import apply_plan

        _show(plan, apply_plan(runtime, plan), output)
    finally:
        runtime.close()
