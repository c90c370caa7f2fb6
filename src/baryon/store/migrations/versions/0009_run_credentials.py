"""Credentials scoped to one resource with an expiry (issued to command runs).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("credentials") as batch:
        batch.add_column(sa.Column("scope", sa.String(2048), nullable=True))
        batch.add_column(sa.Column("expires_at", sa.Double, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("credentials") as batch:
        batch.drop_column("expires_at")
        batch.drop_column("scope")
