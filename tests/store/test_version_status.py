"""The SQL form of "how far behind" agrees with the domain function on every case."""

from __future__ import annotations

import itertools

import sqlalchemy as sa

from baryon.domain.template_versions import version_status
from baryon.store.templates import version_status_sql


def test_sql_agrees_with_the_domain_function() -> None:
    metadata = sa.MetaData()
    table = sa.Table(
        "cases",
        metadata,
        sa.Column("major", sa.Integer),
        sa.Column("minor", sa.Integer),
        sa.Column("best_major", sa.Integer, nullable=True),
        sa.Column("best_minor", sa.Integer, nullable=True),
    )
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine)
    numbers = range(3)
    cases = [
        {"major": major, "minor": minor, "best_major": best_major, "best_minor": best_minor}
        for major, minor, best_major, best_minor in itertools.product(numbers, numbers, numbers, numbers)
    ] + [{"major": 1, "minor": 1, "best_major": None, "best_minor": None}]
    column = table.c
    expression = version_status_sql(column.major, column.minor, column.best_major, column.best_minor)
    with engine.begin() as connection:
        connection.execute(sa.insert(table), cases)
        rows = connection.execute(sa.select(table, expression.label("status"))).all()
    assert len(rows) == len(cases)
    for row in rows:
        best = (row.best_major, row.best_minor) if row.best_major is not None else None
        assert row.status == version_status((row.major, row.minor), best), row
