"""Credentials scoped to one resource with an expiry (issued to command runs); the status a command
run reported through NotifyResourceDeploymentStatusChange.

Revision ID: 0010
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("credentials") as batch:
        batch.add_column(sa.Column("scope", sa.String(2048), nullable=True))
        batch.add_column(sa.Column("expires_at", sa.Double, nullable=True))
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("reported_status", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("reported_status")
    with op.batch_alter_table("credentials") as batch:
        batch.drop_column("expires_at")
        batch.drop_column("scope")
