"""What every `baryon` command that touches the database shares: its options, logging, opening the runtime.

Invariants: flags win over `BARYON_*` variables, which win over defaults; Alembic's INFO lines appear
only with `--verbose`; opening the runtime either succeeds or ends the command with one line saying what
is wrong (see `baryon.cli.errors`), never a traceback.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from baryon import logs
from baryon.cli.errors import SettingError, explain
from baryon.config import Settings
from baryon.runtime import Runtime, open_runtime

T = TypeVar("T")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
_VERBOSE = "baryon.verbose"


def settings_from(data_dir: str | None, database_url: str | None, migrate: bool) -> Settings:
    settings = Settings()
    if data_dir:
        settings.data_dir = Path(data_dir).expanduser()
    if database_url:
        settings.database_url = database_url
    if not migrate:
        settings.migrate = False
    return settings


def configure_logging(level: str) -> None:
    if level.lower() not in LOG_LEVELS:
        raise SettingError(f"BARYON_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {level!r}.")
    try:
        logs.configure(level, sys.stderr)
    except ValueError as error:
        raise SettingError(str(error)) from None
    verbose = bool(click.get_current_context(silent=True) and click.get_current_context().meta.get(_VERBOSE))
    logging.getLogger("alembic").setLevel(logging.INFO if verbose else logging.WARNING)


def _remember_verbose(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[_VERBOSE] = True


def verbose_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--verbose",
        "-v",
        is_flag=True,
        expose_value=False,
        callback=_remember_verbose,
        help="Also log what the database migrations do.",
    )(function)


def database_options(function: Callable[..., Any]) -> Callable[..., Any]:
    function = verbose_option(function)
    function = click.option("--database-url", envvar="BARYON_DATABASE_URL", help="SQLAlchemy URL.")(function)
    return click.option("--data-dir", envvar="BARYON_DATA_DIR", help="Data directory.")(function)


def common_options(function: Callable[..., Any]) -> Callable[..., Any]:
    function = click.option("--no-migrate", "no_migrate", is_flag=True, help="Do not apply migrations.")(
        function
    )
    return database_options(function)


def guarded(settings: Settings, action: Callable[[], T]) -> T:
    """Run `action` (which opens the database of `settings`), turning a user's mistake into one line."""
    try:
        return action()
    except click.ClickException:
        raise
    except Exception as error:
        message = explain(error, settings.resolved_database_url)
        if message is None:
            raise
        raise click.ClickException(message) from None


def open_configured(settings: Settings) -> Runtime:
    configure_logging(settings.log_level)
    return guarded(settings, lambda: open_runtime(settings))


def open_from_options(data_dir: str | None, database_url: str | None, no_migrate: bool) -> Runtime:
    return open_configured(settings_from(data_dir, database_url, not no_migrate))
