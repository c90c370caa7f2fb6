"""Environment account connections.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "environment_account_connections",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("management_account_id", sa.String(12), nullable=False),
        sa.Column("environment_name", sa.String(100), nullable=False),
        sa.Column("role_arn", sa.Text, nullable=False),
        sa.Column("codebuild_role_arn", sa.Text, nullable=True),
        sa.Column("component_role_arn", sa.Text, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_at", sa.Double, nullable=False),
        sa.Column("last_modified_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_environment_account_connections"),
    )
    op.create_index(
        "ix_environment_account_connections_account_id_region",
        "environment_account_connections",
        ["account_id", "region"],
    )
    op.create_index(
        "ix_environment_account_connections_management_account_id_region",
        "environment_account_connections",
        ["management_account_id", "region"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_environment_account_connections_management_account_id_region",
        table_name="environment_account_connections",
    )
    op.drop_index(
        "ix_environment_account_connections_account_id_region",
        table_name="environment_account_connections",
    )
    op.drop_table("environment_account_connections")
