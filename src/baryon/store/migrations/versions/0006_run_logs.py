"""The output of command runs, kept per deployment.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_logs",
        sa.Column("deployment_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("end_offset", sa.BigInteger, nullable=False),
        sa.Column("chunk", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name="fk_run_logs_deployment_id_deployments",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("deployment_id", "seq", name="pk_run_logs"),
    )


def downgrade() -> None:
    op.drop_table("run_logs")
