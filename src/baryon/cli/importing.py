"""`baryon import`: recreate what an export of Proton (`aws proton get-*`/`list-*` JSON files) describes.

Reads every `*.json` under `--from` (`baryon.adopt.exported`), plans the import (`baryon.adopt.importer`),
prints the plan — what is created, what exists already, what is skipped and why — and, unless
`--dry-run`, applies it: templates, versions from `--bundles`, account settings, then the adoption of the
stacks the exported resources run on (read with `--role-arn`).

Invariants: `--dry-run` writes nothing; a bad file, folder, bundle or refused request ends the command
with one line naming the cause, never a traceback; `--output json` prints one JSON document.
"""

from __future__ import annotations

import json
from typing import Any

import click

from baryon.adopt.bundles import BundleProblem
from baryon.adopt.cloudformation import AdoptError
from baryon.adopt.exported import ExportProblem, read_export
from baryon.adopt.importer import ImportPlan, apply_import, plan_import
from baryon.cli.adopt import _account, _folder, _jsonable, _print_report, print_plan
from baryon.cli.options import common_options, open_from_options
from baryon.protocol.errors import ServiceError


def _print(plan: ImportPlan) -> None:
    click.echo(f"Importing into account {plan.account_id}, region {plan.region}:")
    for step in plan.steps:
        click.echo(f"  {step.what} {step.name}: {step.outcome}")
    if plan.skipped:
        click.echo(f"{len(plan.skipped)} not imported:")
        for skipped in plan.skipped:
            click.echo(f"  {skipped.source}: {skipped.reason}")
    if plan.adoption is not None:
        print_plan(plan.adoption)


@click.command("import")
@click.option("--account-id", required=True, help="12-digit Baryon account that will own the resources.")
@click.option("--region", required=True, help="Region of the Baryon resources (and of the stacks).")
@click.option("--from", "from_dir", required=True, help="Folder of the saved aws proton get-*/list-* JSON.")
@click.option("--bundles", "bundles_dir", help="Folder of template bundles: <template>/v<major>/…")
@click.option("--role-arn", help="Role to assume in the account where the stacks are, to adopt them.")
@click.option("--dry-run", is_flag=True, help="Print the plan and stop; nothing is written.")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@common_options
def import_export(
    account_id: str,
    region: str,
    from_dir: str,
    bundles_dir: str | None,
    role_arn: str | None,
    dry_run: bool,
    output: str,
    data_dir: str | None,
    database_url: str | None,
    no_migrate: bool,
) -> None:
    """Recreate what saved aws proton get-*/list-* JSON describes; adopt the stacks, deploy nothing."""
    account_id = _account(account_id)
    source = _folder(from_dir, "--from")
    assert source is not None
    bundles = _folder(bundles_dir, "--bundles")
    try:
        export = read_export(source)
    except ExportProblem as problem:
        raise click.ClickException(str(problem)) from None
    runtime = open_from_options(data_dir, database_url, no_migrate)
    try:
        try:
            plan, chosen = plan_import(runtime, account_id, region, export, bundles, role_arn)
        except (AdoptError, BundleProblem) as error:
            raise click.ClickException(str(error)) from None
        report: Any = None
        if not dry_run:
            try:
                report = apply_import(runtime, plan, export, chosen)
            except (BundleProblem, ServiceError) as error:
                raise click.ClickException(str(error)) from None
        if output == "json":
            shown: dict[str, Any] = {"plan": _jsonable(plan)}
            if not dry_run:
                shown["report"] = _jsonable(report)
            click.echo(json.dumps(shown, indent=2))
            return
        _print(plan)
        if report is not None:
            _print_report(report)
    finally:
        runtime.close()
