"""`baryon webhooks`: the webhook targets that receive an account's status-change events, and their
deliveries.

Invariants: a target belongs to one account and only ever receives that account's events; its secret is
read from the environment variable `--secret-env` names (never from the command line) and never shown;
a bad URL, account id or secret, or an unknown id, ends the command with one line and exit status 1,
changing nothing; `--output json` prints a JSON document and nothing else.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import click

from baryon.cli.options import common_options, open_from_options
from baryon.events import targets as store

OUTPUT = click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)


def _when(stamp: float | None) -> str | None:
    return datetime.fromtimestamp(stamp, UTC).isoformat() if stamp is not None else None


def _target_json(target: store.Target) -> dict[str, Any]:
    fields = target.public()
    fields["createdAt"] = _when(fields["createdAt"])
    return fields


@click.group()
def webhooks() -> None:
    """Webhook targets: where an account's status-change events (EventBridge `aws.proton` format) are
    POSTed."""


@webhooks.command("create")
@click.option("--account-id", required=True, help="12-digit account id whose events the target receives.")
@click.option("--url", required=True, help="http(s) URL the events are POSTed to.")
@click.option(
    "--secret-env",
    metavar="VAR",
    help="Sign deliveries (X-Baryon-Signature) with the secret in this environment variable.",
)
@click.option(
    "--allow-link-local",
    is_flag=True,
    help="Allow a link-local host (such as 169.254.169.254, the cloud metadata address); refused otherwise.",
)
@OUTPUT
@common_options
def webhooks_create(
    account_id: str,
    url: str,
    secret_env: str | None,
    allow_link_local: bool,
    output: str,
    data_dir: str | None,
    database_url: str | None,
    no_migrate: bool,
) -> None:
    """Add a webhook target for an account; it receives the events written from now on."""
    secret: str | None = None
    if secret_env is not None:
        secret = os.environ.get(secret_env)
        if not secret:
            raise click.BadParameter(
                f"the environment variable {secret_env} is not set", param_hint="--secret-env"
            )
    try:
        store.check_url(url, allow_link_local)
    except store.TargetProblem as problem:
        raise click.BadParameter(str(problem), param_hint="--url") from None
    runtime = open_from_options(data_dir, database_url, no_migrate)
    try:
        with runtime.database.write() as connection:
            target = store.create(
                connection,
                runtime.secrets,
                target_id=runtime.ids.uuid(),
                account_id=account_id,
                url=url,
                secret=secret,
                allow_link_local=allow_link_local,
                now=runtime.clock.now(),
            )
    except store.TargetProblem as problem:
        raise click.ClickException(str(problem)) from None
    finally:
        runtime.close()
    if output == "json":
        click.echo(json.dumps(_target_json(target)))
    else:
        click.echo(target.id)


@webhooks.command("list")
@click.option("--account-id", default=None, help="Only this account's targets.")
@OUTPUT
@common_options
def webhooks_list(
    account_id: str | None, output: str, data_dir: str | None, database_url: str | None, no_migrate: bool
) -> None:
    """List webhook targets (never their secrets)."""
    runtime = open_from_options(data_dir, database_url, no_migrate)
    try:
        with runtime.database.read() as connection:
            found = store.list_targets(connection, account_id)
    finally:
        runtime.close()
    if output == "json":
        click.echo(json.dumps([_target_json(target) for target in found], indent=2))
        return
    click.echo(f"{'ID':<36}  {'ACCOUNT':<12}  {'SIGNED':<6}  URL")
    for target in found:
        click.echo(
            f"{target.id:<36}  {target.account_id:<12}  {'yes' if target.signed else 'no':<6}  {target.url}"
        )


@webhooks.command("delete")
@click.argument("webhook_id")
@common_options
def webhooks_delete(
    webhook_id: str, data_dir: str | None, database_url: str | None, no_migrate: bool
) -> None:
    """Delete a webhook target and its deliveries (pending ones are not sent)."""
    runtime = open_from_options(data_dir, database_url, no_migrate)
    try:
        with runtime.database.write() as connection:
            deleted = store.delete(connection, webhook_id)
    finally:
        runtime.close()
    if not deleted:
        raise click.ClickException(f"no webhook target {webhook_id}")
    click.echo(f"deleted {webhook_id}")


def _delivery_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "webhookId": row["target_id"],
        "eventId": row["event_id"],
        "detailType": row["detail_type"],
        "resource": row["resource_arn"],
        "status": row["state"],
        "attempts": row["attempts"],
        "lastStatusCode": row["last_status_code"],
        "lastError": row["last_error"],
        "nextAttemptAt": _when(row["next_attempt_at"]),
        "deliveredAt": _when(row["delivered_at"]),
        "createdAt": _when(row["created_at"]),
    }


@webhooks.command("deliveries")
@click.option("--webhook-id", default=None, help="Only the deliveries to this target.")
@click.option("--event-id", default=None, help="Only the deliveries of this event.")
@OUTPUT
@common_options
def webhooks_deliveries(
    webhook_id: str | None,
    event_id: str | None,
    output: str,
    data_dir: str | None,
    database_url: str | None,
    no_migrate: bool,
) -> None:
    """Show deliveries with their attempts, status and last error."""
    runtime = open_from_options(data_dir, database_url, no_migrate)
    try:
        with runtime.database.read() as connection:
            if webhook_id is not None and store.find(connection, webhook_id) is None:
                raise click.ClickException(f"no webhook target {webhook_id}")
            rows = store.deliveries(connection, target_id=webhook_id, event_id=event_id)
    finally:
        runtime.close()
    shown = [_delivery_json(row) for row in rows]
    if output == "json":
        click.echo(json.dumps(shown, indent=2))
        return
    click.echo(f"{'DELIVERY':<36}  {'STATUS':<9}  {'ATTEMPTS':>8}  {'LAST':<5}  EVENT")
    for row in shown:
        last = str(row["lastStatusCode"] or "-")
        click.echo(
            f"{row['id']:<36}  {row['status']:<9}  {row['attempts']:>8}  {last:<5}  "
            f"{row['eventId']} {row['detailType']} {row['resource']}"
            + (f"  ({row['lastError']})" if row["lastError"] and row["status"] != "delivered" else "")
        )
