"""Per-account quota values chosen by the operator.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_quotas",
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.Integer, nullable=True),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("account_id", "name", name="pk_account_quotas"),
    )


def downgrade() -> None:
    op.drop_table("account_quotas")
