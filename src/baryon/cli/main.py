"""`baryon`: run the embedded default, the API server, the engine worker; migrations, credentials,
connections to git hosts, deployment logs.

Invariants: flags override `BARYON_*` variables, which override defaults; every command that touches the
database migrates it first unless `--no-migrate` (or BARYON_AUTO_MIGRATE=0) is given; secrets are printed
only by the commands that create them, except connection tokens, which are read from the environment and
never printed.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from baryon.cli.errors import BaryonGroup
from baryon.cli.options import (
    common_options,
    configure_logging,
    database_options,
    guarded,
    open_configured,
    open_from_options,
    settings_from,
)
from baryon.cli.quotas import quotas
from baryon.cli.startup import DataDirLock, derived_port, require_free_ports
from baryon.cli.templates import render_command, template
from baryon.cli.webhooks import webhooks
from baryon.config import Settings
from baryon.domain.story import DeploymentEvent
from baryon.engine.identity import WorkerIdentity, claim_identity
from baryon.runtime import Runtime

if TYPE_CHECKING:
    from baryon.engine.worker import Worker

ADMIN_CREDENTIAL = "admin"
DEFAULT_REGION = "us-east-1"
LOG_PAGE = 500


@click.group(
    cls=BaryonGroup,
    lazy={"adopt": "baryon.cli.adopt:adopt", "import": "baryon.cli.importing:import_export"},
)
@click.version_option(package_name="baryon")
def cli() -> None:
    """Baryon: a self-hosted application delivery platform that speaks the AWS Proton API."""


def _reachable(host: str) -> str:
    """An address for `host` that local clients can connect to (a wildcard address is not one)."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _uvicorn_options(settings: Settings | None = None) -> dict[str, Any]:
    from baryon.web.http import protocol_with_read_timeout

    read_timeout = (settings or Settings()).http_read_timeout
    return {
        "http": protocol_with_read_timeout(read_timeout),
        "loop": "uvloop",
        "access_log": False,
        "log_level": "warning",
    }


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=7700, show_default=True, type=int)
@click.option(
    "--cloud-port",
    type=int,
    help="Port of the local cloud (default: port + 1, or a free one when that is taken).",
)
@click.option("--region", default=DEFAULT_REGION, show_default=True)
@click.option("--concurrency", default=4, show_default=True, type=int, help="Engine worker threads.")
@click.option(
    "--reset-local-cloud",
    is_flag=True,
    help="Forget the local cloud's saved state (stacks, buckets, roles, …) and start it empty.",
)
@common_options
def up(
    host: str,
    port: int,
    cloud_port: int | None,
    region: str,
    concurrency: int,
    reset_local_cloud: bool,
    data_dir: str | None,
    database_url: str | None,
    no_migrate: bool,
) -> None:
    """API, engine workers and the local cloud in one process (SQLite in the data dir).

    The local cloud keeps its state in the data dir (local-cloud.state) across restarts."""
    import uvicorn

    from baryon.localcloud import LOCAL_ACCOUNT_ID, LocalCloud, forget, state_file
    from baryon.web.app import create_app

    settings = settings_from(data_dir, database_url, not no_migrate)
    lock = DataDirLock(settings.data_dir)
    guarded(settings, settings.ensure_data_dir)
    guarded(settings, lock.acquire)
    if cloud_port is None:
        cloud_port = derived_port(host, port + 1)
    require_free_ports(
        host, {"the Proton API": (port, "--port"), "the local cloud": (cloud_port, "--cloud-port")}
    )
    runtime = open_configured(settings)
    if not runtime.settings.advertise_url:
        runtime.settings.advertise_url = f"http://{_reachable(host)}:{port}"
    state = state_file(runtime.settings.data_dir)
    if reset_local_cloud:
        click.echo(forget(state))
    cloud = LocalCloud(host, cloud_port, state)
    try:
        started = cloud.start()
    except RuntimeError as error:
        runtime.close()
        raise click.ClickException(f"The local cloud did not start ({error}); see --cloud-port.") from None
    click.echo(started.describe(state))
    _check_stacks(runtime)
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    runtime.settings.local_cloud_url = cloud.endpoint
    credential = runtime.credentials.first_active(ADMIN_CREDENTIAL) or runtime.credentials.create(
        LOCAL_ACCOUNT_ID, ADMIN_CREDENTIAL, runtime.clock.now()
    )
    exports = {
        # Every service goes to the local cloud (AWS_ENDPOINT_URL), except Proton, which is Baryon.
        "AWS_ENDPOINT_URL": cloud.endpoint,
        "AWS_ENDPOINT_URL_PROTON": f"http://{host}:{port}",
        "AWS_ENDPOINT_URL_S3": cloud.endpoint,
        "AWS_ENDPOINT_URL_CLOUDFORMATION": cloud.endpoint,
        "AWS_ENDPOINT_URL_STS": cloud.endpoint,
        "AWS_ENDPOINT_URL_IAM": cloud.endpoint,
        "AWS_ACCESS_KEY_ID": credential.access_key_id,
        "AWS_SECRET_ACCESS_KEY": credential.secret_access_key,
        "AWS_DEFAULT_REGION": region,
    }
    text = "".join(f"export {key}={shlex.quote(value)}\n" for key, value in exports.items())
    env_file = runtime.settings.data_dir / "baryon.env"
    fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    runtime.observers.append(_print_deployment)
    worker, identity = _start_engine(runtime, concurrency)
    click.echo(f"Baryon is up: Proton API on http://{host}:{port}, local cloud on {cloud.endpoint}")
    click.echo(f"Data in {runtime.settings.data_dir}. In your shell, run:  source {env_file}\n")
    click.echo(text)
    try:
        # uvicorn stops gracefully on SIGTERM and then raises it again: end through this `finally` (which
        # lets the local cloud save its state) rather than die of it.
        signal.signal(signal.SIGTERM, _exit_quietly)
        uvicorn.run(create_app(runtime), host=host, port=port, **_uvicorn_options(runtime.settings))
    finally:
        worker.stop()
        identity.release()
        cloud.stop()
        runtime.close()
        lock.release()
        click.echo("Baryon stopped.")


def _exit_quietly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _check_stacks(runtime: Runtime) -> None:
    """Mark the resources whose stacks the local cloud no longer has, and say which."""
    from baryon.engine.cloud_check import mark_missing_stacks
    from baryon.localcloud import LOCAL_ACCOUNT_ID

    missing = mark_missing_stacks(runtime, LOCAL_ACCOUNT_ID)
    if missing:
        click.echo(
            f"{len(missing)} deployed resource(s) have no stack in the local cloud; they are now FAILED "
            "with a message saying so (deploy them again to recreate their stacks):"
        )
        for item in missing:
            click.echo(f"  {item.kind} {item.name} (stack {item.stack_id})")


_ECHO_LOCK = threading.Lock()


def _print_deployment(event: DeploymentEvent) -> None:
    """`baryon up`'s line for a deployment that starts or ends (observers of the runtime)."""
    with _ECHO_LOCK:
        click.echo(event.line())
        sys.stdout.flush()


def _start_engine(runtime: Runtime, concurrency: int) -> tuple[Worker, WorkerIdentity]:
    """Start the engine's workers under this process's worker identity (see engine/identity.py)."""
    from baryon.api.registry import load_all
    from baryon.engine.worker import Worker

    load_all()  # service sync acts through the operations' handlers (see baryon.sync.registry)
    settings = runtime.settings
    identity = claim_identity(settings.ensure_data_dir(), settings.worker_id)
    engine = Worker(runtime, concurrency, lease_seconds=settings.lease_seconds, identity=identity.name)
    engine.start()
    return engine, identity


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=7700, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int, help="Server processes.")
@common_options
def server(
    host: str, port: int, workers: int, data_dir: str | None, database_url: str | None, no_migrate: bool
) -> None:
    """The Proton API only."""
    import uvicorn

    from baryon.web.app import create_app

    settings = settings_from(data_dir, database_url, not no_migrate)
    require_free_ports(host, {"the Proton API": (port, "--port")})
    runtime = open_configured(settings)
    options = _uvicorn_options(settings)
    if workers <= 1:
        uvicorn.run(create_app(runtime), host=host, port=port, **options)
        runtime.close()
        return
    os.environ["BARYON_DATA_DIR"] = str(runtime.settings.data_dir)
    os.environ["BARYON_DATABASE_URL"] = runtime.settings.resolved_database_url
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # The server processes share their metrics through files here; last run's are removed.
        shared = runtime.settings.data_dir / "metrics"
        shutil.rmtree(shared, ignore_errors=True)
        shared.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(shared)
    runtime.close()
    uvicorn.run("baryon.web.app:create_app", factory=True, host=host, port=port, workers=workers, **options)


@cli.command()
@click.option("--concurrency", default=4, show_default=True, type=int, help="Jobs run at once.")
@click.option("--metrics-port", type=int, default=None, help="Serve the worker's metrics on this port.")
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="Address of --metrics-port.")
@common_options
def worker(
    concurrency: int,
    metrics_port: int | None,
    metrics_host: str,
    data_dir: str | None,
    database_url: str | None,
    no_migrate: bool,
) -> None:
    """The engine only: claims and runs jobs until SIGTERM or Ctrl-C."""
    from baryon import metrics
    from baryon.store import jobs as job_store

    if metrics_port is not None and not metrics.enabled():
        raise click.UsageError("--metrics-port needs metrics on; BARYON_METRICS is off.")
    runtime = open_from_options(data_dir, database_url, no_migrate)
    stop_metrics = None
    if metrics_port is not None:
        require_free_ports(metrics_host, {"the worker's metrics": (metrics_port, "--metrics-port")})

        def job_counts() -> metrics.JobCounts:
            with runtime.database.read() as connection:
                return job_store.counts(connection, runtime.clock.now())

        stop_metrics = metrics.serve(metrics_host, metrics_port, metrics.JobsCollector(job_counts))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    engine, identity = _start_engine(runtime, concurrency)
    logging.getLogger("baryon.engine").info("worker %s running %d job(s) at once", engine.owner, concurrency)
    stop.wait()
    engine.stop()
    if stop_metrics is not None:
        stop_metrics()
    identity.release()
    runtime.close()


@cli.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@database_options
def db_upgrade(data_dir: str | None, database_url: str | None) -> None:
    """Apply the Alembic migrations."""
    from baryon.store.db import Database
    from baryon.store.migrate import current_revision, upgrade

    settings = settings_from(data_dir, database_url, True)
    configure_logging(settings.log_level)

    def migrate() -> str | None:
        settings.ensure_data_dir()
        database = Database(settings.resolved_database_url)
        try:
            upgrade(database)
            return current_revision(database)
        finally:
            database.dispose()

    click.echo(f"database at revision {guarded(settings, migrate)}")


@cli.command()
@click.argument("deployment_id")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new output until the deployment ends.")
@click.option(
    "--interval",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0.01),
    help="Seconds between checks for new output with --follow.",
)
@common_options
def logs(
    deployment_id: str,
    follow: bool,
    interval: float,
    data_dir: str | None,
    database_url: str | None,
    no_migrate: bool,
) -> None:
    """Print a deployment's story: Baryon's steps, the stack events (CloudFormation), the branch, commit,
    pull request and notifications (Terraform), the commands' output (command runner)."""
    from baryon.domain.deployments import FINAL
    from baryon.store import deployments as deployment_store
    from baryon.store import run_logs

    runtime = open_from_options(data_dir, database_url, no_migrate)
    out = click.get_binary_stream("stdout")
    after = 0
    try:
        while True:
            with runtime.database.read() as connection:
                record = deployment_store.find(connection, deployment_id)
                if record is None:
                    raise click.ClickException(f"Deployment {deployment_id} not found.")
                settled = record.deployment_status in FINAL
                while True:
                    chunks = run_logs.read(connection, deployment_id, after, limit=LOG_PAGE)
                    for chunk in chunks:
                        out.write(chunk.text.encode("utf-8", errors="replace"))
                        after = chunk.seq
                    out.flush()
                    if len(chunks) < LOG_PAGE:
                        break
            if not follow or settled:
                return
            time.sleep(interval)
    finally:
        runtime.close()


@cli.group()
def credentials() -> None:
    """Credentials that sign requests to Baryon."""


@credentials.command("create")
@click.option("--account-id", required=True, help="12-digit account id the credential acts for.")
@click.option("--name", default=None, help="A name to recognise the credential by.")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@common_options
def credentials_create(
    account_id: str,
    name: str | None,
    output: str,
    data_dir: str | None,
    database_url: str | None,
    no_migrate: bool,
) -> None:
    """Issue a new access key for an account."""
    if not (len(account_id) == 12 and account_id.isdigit()):
        raise click.BadParameter("must be 12 digits", param_hint="--account-id")
    runtime = open_from_options(data_dir, database_url, no_migrate)
    credential = runtime.credentials.create(account_id, name or f"user-{account_id}", runtime.clock.now())
    runtime.close()
    if output == "json":
        click.echo(
            json.dumps(
                {
                    "accessKeyId": credential.access_key_id,
                    "secretAccessKey": credential.secret_access_key,
                    "accountId": credential.account_id,
                    "name": credential.name,
                }
            )
        )
    else:
        click.echo(f"AWS_ACCESS_KEY_ID={credential.access_key_id}")
        click.echo(f"AWS_SECRET_ACCESS_KEY={credential.secret_access_key}")
        click.echo(f"# account {credential.account_id}, name {credential.name}")


@credentials.command("list")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@common_options
def credentials_list(output: str, data_dir: str | None, database_url: str | None, no_migrate: bool) -> None:
    """List issued credentials (never their secrets)."""
    runtime = open_from_options(data_dir, database_url, no_migrate)
    records = runtime.credentials.list()
    runtime.close()

    def when(stamp: float | None) -> str | None:
        return datetime.fromtimestamp(stamp, UTC).isoformat() if stamp is not None else None

    rows = [
        {
            "accessKeyId": r.access_key_id,
            "accountId": r.account_id,
            "name": r.name,
            "createdAt": when(r.created_at),
            "revokedAt": when(r.revoked_at),
        }
        for r in records
    ]
    if output == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'ACCESS KEY ID':<22} {'ACCOUNT':<13} {'STATUS':<8} NAME")
    for row in rows:
        status = "revoked" if row["revokedAt"] else "active"
        click.echo(f"{row['accessKeyId']:<22} {row['accountId']:<13} {status:<8} {row['name']}")


@credentials.command("revoke")
@click.argument("access_key_id")
@common_options
def credentials_revoke(
    access_key_id: str, data_dir: str | None, database_url: str | None, no_migrate: bool
) -> None:
    """Revoke an access key; requests signed with it are refused from now on."""
    runtime = open_from_options(data_dir, database_url, no_migrate)
    revoked = runtime.credentials.revoke(access_key_id, runtime.clock.now())
    runtime.close()
    if not revoked:
        raise click.ClickException(f"no active credential {access_key_id}")
    click.echo(f"revoked {access_key_id}")


@cli.group()
def connections() -> None:
    """Connections to git hosts that repository links (CreateRepository) use."""


@connections.command("create")
@click.option("--account-id", required=True, help="12-digit account id the connection belongs to.")
@click.option("--region", required=True, help="Region the connection belongs to, e.g. us-east-1.")
@click.option("--name", required=True, help="Name of the connection (unique in the account and region).")
@click.option(
    "--provider",
    required=True,
    type=click.Choice(["GITHUB", "GITHUB_ENTERPRISE", "BITBUCKET"]),
    help="Repository provider the repository links through this connection name.",
)
@click.option(
    "--url-template",
    required=True,
    help="Clone URL with {repository} in place of owner/name, e.g. https://github.com/{repository}.git.",
)
@click.option("--token-env", metavar="VAR", help="Read the access token from this environment variable.")
@click.option(
    "--mode",
    type=click.Choice(["pull-request", "direct"]),
    default="pull-request",
    show_default=True,
    help="Open pull requests from a new branch, or commit straight to the branch.",
)
@click.option("--api-url", help="Pull-request API of the host (GitHub Enterprise, Bitbucket, other hosts).")
@click.option(
    "--webhook-secret-env",
    metavar="VAR",
    help="Read the secret that signs the host's push webhooks (POST /webhooks/git/<id>) from this variable.",
)
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@common_options
def connections_create(
    account_id: str,
    region: str,
    name: str,
    provider: str,
    url_template: str,
    token_env: str | None,
    mode: str,
    api_url: str | None,
    webhook_secret_env: str | None,
    output: str,
    data_dir: str | None,
    database_url: str | None,
    no_migrate: bool,
) -> None:
    """Create a connection and print its ARN (the connectionArn of CreateRepository)."""
    from baryon.store import connections as store

    token: str | None = None
    if token_env is not None:
        token = os.environ.get(token_env)
        if not token:
            raise click.BadParameter(
                f"the environment variable {token_env} is not set", param_hint="--token-env"
            )
    webhook_secret = _secret_from(webhook_secret_env, "--webhook-secret-env")
    runtime = open_from_options(data_dir, database_url, no_migrate)
    try:
        with runtime.database.write() as connection:
            record = store.create(
                connection,
                runtime.secrets,
                connection_id=runtime.ids.uuid(),
                account_id=account_id,
                region=region,
                name=name,
                provider=provider,
                url_template=url_template,
                token=token,
                mode=mode,
                api_url=api_url,
                now=runtime.clock.now(),
                webhook_secret=webhook_secret,
            )
    except store.ConnectionProblem as problem:
        raise click.ClickException(str(problem)) from None
    finally:
        runtime.close()
    if output == "json":
        click.echo(json.dumps(_connection_json(record.public())))
    else:
        click.echo(record.arn)


def _secret_from(variable: str | None, option: str) -> str | None:
    if variable is None:
        return None
    value = os.environ.get(variable)
    if not value:
        raise click.BadParameter(f"the environment variable {variable} is not set", param_hint=option)
    return value


@connections.command("set-webhook-secret")
@click.argument("connection_arn")
@click.option(
    "--secret-env", metavar="VAR", help="Read the new webhook secret from this environment variable."
)
@click.option("--remove", is_flag=True, help="Remove the webhook secret (push webhooks are then refused).")
@common_options
def connections_set_webhook_secret(
    connection_arn: str,
    secret_env: str | None,
    remove: bool,
    data_dir: str | None,
    database_url: str | None,
    no_migrate: bool,
) -> None:
    """Set, rotate or remove the secret a git host signs this connection's push webhooks with."""
    from baryon.store import connections as store

    if remove == (secret_env is not None):
        raise click.UsageError("give exactly one of --secret-env VAR and --remove")
    secret = _secret_from(secret_env, "--secret-env")
    runtime = open_from_options(data_dir, database_url, no_migrate)
    try:
        with runtime.database.write() as connection:
            store.set_webhook_secret(connection, runtime.secrets, connection_arn, secret, runtime.clock.now())
        api_url = runtime.settings.api_url
    except store.ConnectionProblem as problem:
        raise click.ClickException(str(problem)) from None
    finally:
        runtime.close()
    if remove:
        click.echo(f"removed the webhook secret of {connection_arn}")
    else:
        click.echo(f"webhook URL: {api_url}/webhooks/git/{store.connection_id(connection_arn)}")


def _connection_json(fields: dict[str, Any]) -> dict[str, Any]:
    fields = dict(fields)
    fields["createdAt"] = datetime.fromtimestamp(fields["createdAt"], UTC).isoformat()
    return fields


@connections.command("list")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@common_options
def connections_list(output: str, data_dir: str | None, database_url: str | None, no_migrate: bool) -> None:
    """List connections (never their tokens)."""
    from baryon.store import connections as store

    runtime = open_from_options(data_dir, database_url, no_migrate)
    try:
        with runtime.database.read() as connection:
            records = store.list_connections(connection)
    finally:
        runtime.close()
    if output == "json":
        click.echo(json.dumps([_connection_json(r.public()) for r in records], indent=2))
        return
    click.echo(f"{'CONNECTION ARN':<100} {'PROVIDER':<18} {'MODE':<13} {'TOKEN':<6} NAME  URL TEMPLATE")
    for r in records:
        token = "yes" if r.has_token else "no"
        click.echo(f"{r.arn:<100} {r.provider:<18} {r.mode:<13} {token:<6} {r.name}  {r.url_template}")


@connections.command("delete")
@click.argument("connection_arn")
@common_options
def connections_delete(
    connection_arn: str, data_dir: str | None, database_url: str | None, no_migrate: bool
) -> None:
    """Delete a connection that no repository link uses."""
    from baryon.store import connections as store

    runtime = open_from_options(data_dir, database_url, no_migrate)
    try:
        with runtime.database.write() as connection:
            store.delete(connection, connection_arn)
    except store.ConnectionProblem as problem:
        raise click.ClickException(str(problem)) from None
    finally:
        runtime.close()
    click.echo(f"deleted {connection_arn}")


cli.add_command(quotas)
cli.add_command(webhooks)
cli.add_command(template)
cli.add_command(render_command)


def main() -> None:
    cli()
