"""Service sync: configs and blockers (its sync status is kept in the tables of 0013).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _service_id(table: str) -> sa.Column[int]:
    return sa.Column(
        "service_id",
        sa.Integer,
        sa.ForeignKey("services.id", name=f"fk_{table}_service_id_services", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "service_sync_configs",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        _service_id("service_sync_configs"),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("service_name", sa.String(100), nullable=False),
        sa.Column("repository_provider", sa.String(32), nullable=False),
        sa.Column("repository_name", sa.String(100), nullable=False),
        sa.Column("branch", sa.String(200), nullable=False),
        sa.Column("file_path", sa.String(4096), nullable=False),
        sa.Column("ops_entries", sa.Text, nullable=False),
        sa.Column("ops_sha", sa.String(255), nullable=True),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("last_modified_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_service_sync_configs"),
        sa.UniqueConstraint("service_id", name="uq_service_sync_configs_service_id"),
    )
    op.create_index(
        "ix_service_sync_configs_repository",
        "service_sync_configs",
        ["account_id", "region", "repository_provider", "repository_name"],
    )
    op.create_table(
        "service_sync_blockers",
        sa.Column("id", sa.String(36), nullable=False),
        _service_id("service_sync_blockers"),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("service_name", sa.String(100), nullable=False),
        sa.Column("service_instance_name", sa.String(100), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("created_reason", sa.Text, nullable=False),
        sa.Column("contexts", sa.Text, nullable=False),
        sa.Column("resolved_at", sa.Double, nullable=True),
        sa.Column("resolved_reason", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_service_sync_blockers"),
    )
    op.create_index(
        "ix_service_sync_blockers_target",
        "service_sync_blockers",
        ["service_id", "service_instance_name", "status"],
    )


def downgrade() -> None:
    op.drop_table("service_sync_blockers")
    op.drop_table("service_sync_configs")
