"""Connections to git hosts and repository links.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

T = sa.Double


def upgrade() -> None:
    op.create_table(
        "connections",
        sa.Column("arn", sa.String(200), nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("url_template", sa.Text, nullable=False),
        sa.Column("api_url", sa.Text, nullable=True),
        sa.Column("token_ciphertext", sa.Text, nullable=True),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("created_at", T, nullable=False),
        sa.PrimaryKeyConstraint("arn", name="pk_connections"),
        sa.UniqueConstraint("account_id", "region", "name", name="uq_connections_account_id_region_name"),
    )
    op.create_table(
        "repositories",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("connection_arn", sa.String(200), nullable=False),
        sa.Column("encryption_key", sa.Text, nullable=True),
        sa.Column("created_at", T, nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_arn"], ["connections.arn"], name="fk_repositories_connection_arn_connections"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_repositories"),
        sa.UniqueConstraint(
            "account_id", "region", "provider", "name", name="uq_repositories_account_id_region_provider_name"
        ),
    )


def downgrade() -> None:
    op.drop_table("repositories")
    op.drop_table("connections")
