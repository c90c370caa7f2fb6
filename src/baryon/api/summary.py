"""GetResourcesSummary (reference §1.15): counts of templates and of deployed resources by staleness.

Invariants: counts cover the caller's account and region only; how far a deployed resource is behind
its template's recommended version is the one definition of `baryon.domain.template_versions`
(`version_status`, in SQL `store.templates.version_status_sql`), which ListServiceInstances filters by;
`failed` counts FAILED and DELETE_FAILED
deployments (and, for services, every status that says FAILED, cleanup statuses included); components,
which have no template version, count only `total` and `failed`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from baryon.api.registry import Context, Params, operation
from baryon.domain.deployments import DELETE_FAILED, FAILED
from baryon.domain.template_versions import BEHIND_MAJOR, BEHIND_MINOR, UP_TO_DATE
from baryon.store import schema
from baryon.store.templates import version_status_sql

T = schema.templates.c
S = schema.services.c


_COUNTERS = {UP_TO_DATE: "upToDate", BEHIND_MINOR: "behindMinor", BEHIND_MAJOR: "behindMajor"}


def _staleness(connection: Connection, table: sa.Table, join: Any, scope: Any) -> dict[str, int]:
    column = table.c
    status = version_status_sql(
        column.template_major, column.template_minor, T.recommended_major, T.recommended_minor
    )
    rows = connection.execute(
        sa.select(status.label("version_status"), column.deployment_status).select_from(join).where(scope)
    ).all()
    counts = {"total": len(rows), "upToDate": 0, "behindMinor": 0, "behindMajor": 0, "failed": 0}
    for row in rows:
        if row.deployment_status in (FAILED, DELETE_FAILED):
            counts["failed"] += 1
        if row.version_status is not None:
            counts[_COUNTERS[row.version_status]] += 1
    return counts


@operation("GetResourcesSummary", write=False)
def get_resources_summary(ctx: Context, params: Params, connection: Connection) -> dict[str, Any]:
    def templates_of(kind: str) -> dict[str, int]:
        total = connection.execute(
            sa.select(sa.func.count()).where(
                T.account_id == ctx.account_id, T.region == ctx.region, T.kind == kind
            )
        ).scalar_one()
        return {"total": int(total)}

    def in_scope(table: sa.Table) -> Any:
        return sa.and_(table.c.account_id == ctx.account_id, table.c.region == ctx.region)

    def of_service(table: sa.Table) -> Any:
        return table.join(schema.services, S.id == table.c.service_id).join(
            schema.templates, T.id == S.template_id
        )

    environments = schema.environments
    service_scope = in_scope(schema.services)
    service_rows = connection.execute(sa.select(S.status).where(service_scope)).all()
    components = schema.components
    component_rows = connection.execute(
        sa.select(components.c.deployment_status).where(in_scope(components))
    ).all()
    return {
        "counts": {
            "environmentTemplates": templates_of("ENVIRONMENT"),
            "serviceTemplates": templates_of("SERVICE"),
            "environments": _staleness(
                connection,
                environments,
                environments.join(schema.templates, T.id == environments.c.template_id),
                in_scope(environments),
            ),
            "serviceInstances": _staleness(
                connection, schema.service_instances, of_service(schema.service_instances), service_scope
            ),
            "pipelines": _staleness(
                connection, schema.service_pipelines, of_service(schema.service_pipelines), service_scope
            ),
            "services": {
                "total": len(service_rows),
                "failed": sum(1 for row in service_rows if "FAILED" in row.status),
            },
            "components": {
                "total": len(component_rows),
                "failed": sum(
                    1 for row in component_rows if row.deployment_status in (FAILED, DELETE_FAILED)
                ),
            },
        }
    }
