"""Queries over templates and template versions.

Invariants: a deleted version keeps its row (numbers are never reused) but is invisible to every query
here except numbering; a template's `recommended_major/minor` columns always equal the highest PUBLISHED
live version, recomputed by `refresh_recommended` in the same transaction as any publish or delete.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from baryon.domain.template_versions import (
    BEHIND_MAJOR,
    BEHIND_MINOR,
    UP_TO_DATE,
    Version,
    VersionSet,
)
from baryon.domain.versions import PUBLISHED
from baryon.store.prepared import Prepared
from baryon.store.schema import (
    environments,
    service_instances,
    service_pipelines,
    services,
    template_versions,
    templates,
)

T = templates.c
V = template_versions.c


# Statements on hot paths are built once; only their parameters change per call.
_FIND_TEMPLATE = Prepared(
    sa.select(templates).where(
        T.account_id == sa.bindparam("account_id"),
        T.region == sa.bindparam("region"),
        T.kind == sa.bindparam("kind"),
        T.name == sa.bindparam("name"),
    )
)
_FIND_VERSION = sa.select(template_versions).where(
    V.template_id == sa.bindparam("template_id"),
    V.major == sa.bindparam("major"),
    V.minor == sa.bindparam("minor"),
    V.deleted_at.is_(None),
)
_RECOMMENDED_MINOR = sa.select(sa.func.max(V.minor)).where(
    V.template_id == sa.bindparam("template_id"),
    V.major == sa.bindparam("major"),
    V.status == PUBLISHED,
    V.deleted_at.is_(None),
)


def find_template(
    connection: Connection, account_id: str, region: str, kind: str, name: str
) -> Row[Any] | None:
    row: Row[Any] | None = _FIND_TEMPLATE.first(
        connection, {"account_id": account_id, "region": region, "kind": kind, "name": name}
    )
    return row


def live_versions(connection: Connection, template_id: int, major: int | None = None) -> list[Row[Any]]:
    query = sa.select(template_versions).where(V.template_id == template_id, V.deleted_at.is_(None))
    if major is not None:
        query = query.where(V.major == major)
    return list(connection.execute(query.order_by(V.major, V.minor)).all())


def find_template_by_id(connection: Connection, template_id: int) -> Row[Any]:
    return connection.execute(sa.select(templates).where(T.id == template_id)).one()


def version_set(connection: Connection, template: Any, label: str) -> VersionSet:
    """The live versions of a template and their statuses, for the choices of
    `baryon.domain.template_versions`."""
    rows = connection.execute(
        sa.select(V.major, V.minor, V.status).where(V.template_id == template.id, V.deleted_at.is_(None))
    ).all()
    return VersionSet(label, template.name, {(row.major, row.minor): row.status for row in rows})


def chosen_version(connection: Connection, template: Any, version: Version) -> Row[Any]:
    """The row of a version chosen from the template's `version_set` (in the same transaction)."""
    row = find_version(connection, template.id, *version)
    assert row is not None, "a chosen version is live"
    return row


def version_status_sql(major: Any, minor: Any, recommended_major: Any, recommended_minor: Any) -> Any:
    """`baryon.domain.template_versions.version_status` as one SQL expression over columns (NULL when
    the template has no recommended version)."""
    up_to_date = sa.or_(
        major > recommended_major, sa.and_(major == recommended_major, minor >= recommended_minor)
    )
    return sa.case(
        (recommended_major.is_(None), sa.null()),
        (up_to_date, sa.literal(UP_TO_DATE)),
        (major == recommended_major, sa.literal(BEHIND_MINOR)),
        else_=sa.literal(BEHIND_MAJOR),
    )


def find_version(connection: Connection, template_id: int, major: int, minor: int) -> Row[Any] | None:
    return connection.execute(
        _FIND_VERSION, {"template_id": template_id, "major": major, "minor": minor}
    ).first()


def next_number(connection: Connection, template_id: int, major: int | None) -> tuple[int, int]:
    """(major, minor) of the next version: a new major when `major` is None, else the next minor."""
    if major is None:
        highest = connection.execute(
            sa.select(sa.func.max(V.major)).where(V.template_id == template_id)
        ).scalar()
        return (highest or 0) + 1, 0
    highest = connection.execute(
        sa.select(sa.func.max(V.minor)).where(V.template_id == template_id, V.major == major)
    ).scalar()
    return major, (-1 if highest is None else highest) + 1


def recommended_minor(connection: Connection, template_id: int, major: int) -> int | None:
    value = connection.execute(_RECOMMENDED_MINOR, {"template_id": template_id, "major": major}).scalar()
    return None if value is None else int(value)


def refresh_recommended(connection: Connection, template_id: int, now: float) -> None:
    row = connection.execute(
        sa.select(V.major, V.minor)
        .where(V.template_id == template_id, V.status == PUBLISHED, V.deleted_at.is_(None))
        .order_by(V.major.desc(), V.minor.desc())
        .limit(1)
    ).first()
    connection.execute(
        sa.update(templates)
        .where(T.id == template_id)
        .values(
            recommended_major=row.major if row else None,
            recommended_minor=row.minor if row else None,
            last_modified_at=now,
        )
    )


def count_live_versions(connection: Connection, template_id: int) -> int:
    return int(
        connection.execute(
            sa.select(sa.func.count()).where(V.template_id == template_id, V.deleted_at.is_(None))
        ).scalar_one()
    )


def major_exists(connection: Connection, template_id: int, major: int) -> bool:
    return (
        connection.execute(
            sa.select(V.id)
            .where(V.template_id == template_id, V.major == major, V.deleted_at.is_(None))
            .limit(1)
        ).first()
        is not None
    )


#: What can run a template version: (description of a user, the table whose template_major/minor the
#: user runs, the query naming it, the column holding its template's id), in the order they are checked.
_VERSION_USERS = (
    ("environment {name}", environments, sa.select(environments.c.name), environments.c.template_id),
    (
        "service instance {name} of service {service}",
        service_instances,
        sa.select(service_instances.c.name, services.c.name.label("service")).join(
            services, services.c.id == service_instances.c.service_id
        ),
        services.c.template_id,
    ),
    (
        "the pipeline of service {name}",
        service_pipelines,
        sa.select(services.c.name).join(service_pipelines, service_pipelines.c.service_id == services.c.id),
        services.c.template_id,
    ),
)


def version_in_use(connection: Connection, template_id: int, major: int, minor: int) -> str | None:
    """What is deployed on a version (a description for the error), or None when nothing is."""
    for description, table, query, template_column in _VERSION_USERS:
        row = connection.execute(
            query.where(
                template_column == template_id,
                table.c.template_major == major,
                table.c.template_minor == minor,
            )
            .order_by(*query.selected_columns)
            .limit(1)
        ).first()
        if row is not None:
            return description.format(**row._mapping)
    return None
