"""Hot-path reads: a Core SELECT compiled once per dialect and run straight on the DB-API cursor.

Invariants: only plain SELECTs whose result columns need no type conversion by SQLAlchemy (text,
integers, doubles) go through here; the SQL is SQLAlchemy's own compilation of the statement, so
dialect quoting and paramstyle are exactly those of the Core path; rows are named tuples with the
statement's column keys, so callers read them like SQLAlchemy rows. It skips SQLAlchemy's per-execution
machinery (compile-cache lookup, events, result setup), which dominates the cost of a one-row read.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: tuple[str, ...] | None
    defaults: dict[str, Any]


class Prepared:
    def __init__(self, statement: sa.Select[Any]) -> None:
        self.statement = statement
        self.row = namedtuple("Row", [column.key for column in statement.selected_columns])  # type: ignore[misc]
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, dialect: sa.Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            result = self.statement.compile(dialect=dialect)
            compiled = _Compiled(
                sql=str(result),
                positional=tuple(result.positiontup or ()) if result.positional else None,
                defaults=dict(result.params),
            )
            self._compiled[dialect.name] = compiled
        return compiled

    def all(self, connection: Connection, params: dict[str, Any]) -> list[Any]:
        compiled = self._compile(connection.dialect)
        values = {**compiled.defaults, **params}
        args: Any = (
            [values[name] for name in compiled.positional] if compiled.positional is not None else values
        )
        cursor = connection.connection.cursor()
        try:
            cursor.execute(compiled.sql, args)
            return [self.row(*record) for record in cursor.fetchall()]
        finally:
            cursor.close()

    def first(self, connection: Connection, params: dict[str, Any]) -> Any:
        rows = self.all(connection, params)
        return rows[0] if rows else None
