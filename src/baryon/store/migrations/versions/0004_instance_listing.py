"""Service instances carry their account, region, service, environment and template names; jobs count
their claims.

Revision ID: 0004
Revises: 0003

The names never change after an instance is created; with them on the instance row, ListServiceInstances
reads one table in the order of an index, whatever the number of instances.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("account_id", 12, "SELECT s.account_id FROM services s WHERE s.id = service_instances.service_id"),
    ("region", 32, "SELECT s.region FROM services s WHERE s.id = service_instances.service_id"),
    ("service_name", 100, "SELECT s.name FROM services s WHERE s.id = service_instances.service_id"),
    (
        "environment_name",
        100,
        "SELECT e.name FROM environments e WHERE e.id = service_instances.environment_id",
    ),
    (
        "template_name",
        100,
        "SELECT t.name FROM services s JOIN templates t ON t.id = s.template_id "
        "WHERE s.id = service_instances.service_id",
    ),
)


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("claims", sa.Integer, nullable=False, server_default=sa.text("0")))
    with op.batch_alter_table("service_instances") as batch:
        for name, length, _ in _COLUMNS:
            batch.add_column(sa.Column(name, sa.String(length), nullable=True))
    for name, _, source in _COLUMNS:
        op.execute(f"UPDATE service_instances SET {name} = ({source})")
    with op.batch_alter_table("service_instances") as batch:
        for name, length, _ in _COLUMNS:
            batch.alter_column(name, existing_type=sa.String(length), nullable=False)
    op.create_index(
        "ix_service_instances_by_service",
        "service_instances",
        ["account_id", "region", "service_name", "name"],
    )
    op.create_index(
        "ix_service_instances_by_environment",
        "service_instances",
        ["account_id", "region", "environment_name", "service_name", "name"],
    )
    op.create_index(
        "ix_service_instances_by_status",
        "service_instances",
        ["account_id", "region", "deployment_status", "service_name", "name"],
    )


def downgrade() -> None:
    op.drop_index("ix_service_instances_by_status", "service_instances")
    op.drop_index("ix_service_instances_by_environment", "service_instances")
    op.drop_index("ix_service_instances_by_service", "service_instances")
    with op.batch_alter_table("service_instances") as batch:
        for name, _, _ in reversed(_COLUMNS):
            batch.drop_column(name)
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("claims")
