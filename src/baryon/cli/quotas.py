"""`baryon quotas`: show and set the quotas that apply to each account.

Invariants: per-account values live in the database (every server process applies them at once); `set`
takes `NAME=VALUE` pairs where VALUE is a whole number, `unlimited`, or `default` (which clears the
account's own value so that the process default, `BARYON_QUOTA_<NAME>` or no limit, applies again); a
command either applies all its pairs or, on any bad one, none; `list` shows the defaults of the process
that runs it and the accounts' own values.
"""

from __future__ import annotations

import json

import click

from baryon.cli.options import common_options, open_from_options
from baryon.domain.quotas import DEFAULT, NAMES, Quotas, QuotaValueError, parse_name, parse_value, show
from baryon.store import quotas as store


def _account(value: str) -> str:
    if not (len(value) == 12 and value.isascii() and value.isdigit()):
        raise click.BadParameter("must be 12 digits", param_hint="--account-id")
    return value


@click.group()
def quotas() -> None:
    """Quotas: how many templates, environments, services, … an account may hold (default: no limit)."""


@quotas.command("set")
@click.option("--account-id", required=True, help="12-digit account id the values apply to.")
@click.argument("assignments", nargs=-1, required=True, metavar="NAME=VALUE...")
@common_options
def quotas_set(
    account_id: str,
    assignments: tuple[str, ...],
    data_dir: str | None,
    database_url: str | None,
    no_migrate: bool,
) -> None:
    """Give an account its own quota values. VALUE is a whole number, `unlimited`, or `default` to clear
    the account's own value. Names: templates, versions_per_template, environments, services,
    instances_per_service, components, repositories, environment_account_connections."""
    account_id = _account(account_id)
    values: dict[str, int | None] = {}
    cleared: list[str] = []
    for assignment in assignments:
        raw_name, equals, raw_value = assignment.partition("=")
        if not equals:
            raise click.BadParameter(f"{assignment!r} is not NAME=VALUE", param_hint="NAME=VALUE")
        try:
            name = parse_name(raw_name)
            if raw_value.strip().lower() == DEFAULT:
                cleared.append(name)
            else:
                values[name] = parse_value(raw_value, name)
        except QuotaValueError as error:
            raise click.BadParameter(str(error), param_hint="NAME=VALUE") from None
    runtime = open_from_options(data_dir, database_url, no_migrate)
    try:
        with runtime.database.write() as connection:
            store.set_values(connection, account_id, values, runtime.clock.now())
            store.clear(connection, account_id, cleared)
    finally:
        runtime.close()
    for name, value in values.items():
        click.echo(f"{account_id} {name} = {show(value)}")
    for name in cleared:
        click.echo(f"{account_id} {name} = default ({show(runtime.quotas.value(name))})")


@quotas.command("list")
@click.option("--account-id", help="Show the quotas that apply to this account only.")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@common_options
def quotas_list(
    account_id: str | None, output: str, data_dir: str | None, database_url: str | None, no_migrate: bool
) -> None:
    """Show the default quotas and the accounts' own values."""
    if account_id is not None:
        account_id = _account(account_id)
    runtime = open_from_options(data_dir, database_url, no_migrate)
    try:
        with runtime.database.read() as connection:
            own = store.list_values(connection, account_id)
    finally:
        runtime.close()
    defaults: Quotas = runtime.quotas
    if account_id is not None:
        mine = {item.name: item.value for item in own}
        rows = [
            (name, mine[name], "account") if name in mine else (name, defaults.value(name), "default")
            for name in NAMES
        ]
        if output == "json":
            shown = [{"name": name, "value": value, "source": source} for name, value, source in rows]
            click.echo(json.dumps({"accountId": account_id, "quotas": shown}, indent=2))
            return
        click.echo(f"{'QUOTA':<24} {'VALUE':<12} SOURCE")
        for name, value, source in rows:
            click.echo(f"{name:<24} {show(value):<12} {source}")
        return
    if output == "json":
        accounts = [{"accountId": item.account_id, "name": item.name, "value": item.value} for item in own]
        listing = {"defaults": {name: defaults.value(name) for name in NAMES}, "accounts": accounts}
        click.echo(json.dumps(listing, indent=2))
        return
    click.echo(f"{'ACCOUNT':<13} {'QUOTA':<24} VALUE")
    for name in NAMES:
        click.echo(f"{'(default)':<13} {name:<24} {show(defaults.value(name))}")
    for item in own:
        click.echo(f"{item.account_id:<13} {item.name:<24} {show(item.value)}")
