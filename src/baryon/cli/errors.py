"""What the `baryon` command says when the user's setup is wrong: one line, what is wrong and what to do.

Invariants: a mistake of the user's (a bad or wrong secret key, a database that cannot be reached or does
not exist, a taken port, a data dir already in use or not writable, a bad setting) ends the command with
`Error: <one line>` on stderr and exit status 1, never a traceback; anything else (a defect of Baryon) is
left to propagate so that it is seen. Database URLs are shown without their password.
"""

from __future__ import annotations

import importlib
from typing import Any

import click
import sqlalchemy as sa

from baryon.config import ConfigurationError
from baryon.domain.quotas import QuotaValueError
from baryon.engine.identity import IdentityError
from baryon.store.secrets import SecretKeyInvalid, SecretKeyMismatch

_DATABASE_HINT = (
    "check --database-url (BARYON_DATABASE_URL), that the database server is running and reachable, and "
    "that the database exists"
)
_SQLITE_HINT = "the directory of an SQLite database must exist and be writable (check --database-url)"


#: Errors whose own message is the one line.
_SAID_IN_ONE_LINE = (SecretKeyMismatch, SecretKeyInvalid, QuotaValueError, ConfigurationError, IdentityError)


def _is_sqlite_file(url: str, filename: object) -> bool:
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return False
    path = parsed.database
    return parsed.get_backend_name() == "sqlite" and bool(path) and str(filename or "").startswith(str(path))


class SettingError(click.ClickException):
    """A setting of the command line or the environment that Baryon cannot use."""


def shown_url(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(unparsable URL)"


def _first_line(error: BaseException) -> str:
    original = getattr(error, "orig", None) or error
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    return lines[0] if lines else type(original).__name__


def explain(error: BaseException, database_url: str | None = None) -> str | None:
    """The one line for a user's mistake, or None when `error` is not one."""
    where = f" {shown_url(database_url)}" if database_url else ""
    if isinstance(error, _SAID_IN_ONE_LINE):
        return str(error)
    if isinstance(error, (sa.exc.ArgumentError, sa.exc.NoSuchModuleError)):
        return f"The database URL{where} is not one Baryon can use ({_first_line(error)}); {_DATABASE_HINT}."
    if isinstance(error, (sa.exc.OperationalError, sa.exc.InterfaceError)):
        return f"Cannot use the database{where}: {_first_line(error)}; {_DATABASE_HINT}."
    if isinstance(
        error, PermissionError | FileNotFoundError | FileExistsError | NotADirectoryError | IsADirectoryError
    ):
        if database_url and _is_sqlite_file(database_url, error.filename):
            reason = error.strerror or type(error).__name__
            return f"Cannot use the database{where}: {reason}; {_SQLITE_HINT}."
        target = f": {error.filename}" if error.filename else ""
        reason = error.strerror or type(error).__name__
        return f"{reason}{target}; check the data dir (--data-dir, BARYON_DATA_DIR)."
    return None


class BaryonGroup(click.Group):
    """The command group that turns a user's mistake into one line and a non-zero exit status. Commands in
    `lazy` (name -> "module:attribute") are imported only when they run or help lists them, so that other
    commands start without their imports."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        where = self.lazy.get(cmd_name)
        if where is not None and cmd_name not in self.commands:
            module, _, attribute = where.partition(":")
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            message = explain(error)
            if message is None:
                raise
            raise click.ClickException(message) from None
