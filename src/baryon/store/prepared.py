"""Hot-path statements: a Core SELECT, INSERT or UPDATE compiled once per dialect and run straight on the
DB-API cursor of the caller's connection (so inside its transaction).

`Prepared(select).all/first` read rows; `Prepared(insert_or_update).run` writes and returns the row count;
`insert(table)` and `update(table, keys, values)` give cached statements whose parameters are the column
names (for `update`, the WHERE columns are bound as `where_<column>`).

Invariants: only statements whose columns need no type conversion by SQLAlchemy (text, integers,
doubles, booleans) go through here; the SQL is SQLAlchemy's own compilation of the statement, so
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
    def __init__(self, statement: sa.Select[Any] | sa.Insert | sa.Update) -> None:
        self.statement = statement
        selected: Any = statement.selected_columns if isinstance(statement, sa.Select) else []
        keys = [column.key for column in selected]
        self.row = namedtuple("Row", keys)  # type: ignore[misc]
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

    def _arguments(self, compiled: _Compiled, params: dict[str, Any]) -> Any:
        values = {**compiled.defaults, **params}
        return [values[name] for name in compiled.positional] if compiled.positional is not None else values

    def all(self, connection: Connection, params: dict[str, Any]) -> list[Any]:
        compiled = self._compile(connection.dialect)
        cursor = connection.connection.cursor()
        try:
            cursor.execute(compiled.sql, self._arguments(compiled, params))
            return [self.row(*record) for record in cursor.fetchall()]
        finally:
            cursor.close()

    def run(self, connection: Connection, params: dict[str, Any]) -> int:
        """Execute an INSERT or UPDATE; the number of rows it touched."""
        compiled = self._compile(connection.dialect)
        cursor = connection.connection.cursor()
        try:
            cursor.execute(compiled.sql, self._arguments(compiled, params))
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def first(self, connection: Connection, params: dict[str, Any]) -> Any:
        rows = self.all(connection, params)
        return rows[0] if rows else None


_STATEMENTS: dict[tuple[str, str, tuple[str, ...], tuple[str, ...]], Prepared] = {}


def insert(table: sa.Table) -> Prepared:
    """INSERT of every column of `table`; parameters are the column names (all required)."""
    key = ("insert", table.name, (), ())
    found = _STATEMENTS.get(key)
    if found is None:
        statement = sa.insert(table).values({c.name: sa.bindparam(c.name) for c in table.columns})
        found = _STATEMENTS.setdefault(key, Prepared(statement))
    return found


def update(table: sa.Table, keys: tuple[str, ...], values: tuple[str, ...]) -> Prepared:
    """UPDATE `values` of the rows matching every column of `keys` (bound as `where_<column>`)."""
    key = ("update", table.name, keys, values)
    found = _STATEMENTS.get(key)
    if found is None:
        statement = (
            sa.update(table)
            .where(*[table.c[k] == sa.bindparam(f"where_{k}") for k in keys])
            .values({v: sa.bindparam(v) for v in values})
        )
        found = _STATEMENTS.setdefault(key, Prepared(statement))
    return found
