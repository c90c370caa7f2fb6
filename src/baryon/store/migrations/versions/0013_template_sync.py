"""Syncing from git: webhook secrets of connections, template sync configs, followed heads, sync status.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

T = sa.Double


def upgrade() -> None:
    op.create_table(
        "connection_webhook_secrets",
        sa.Column("connection_arn", sa.String(200), nullable=False),
        sa.Column("secret_ciphertext", sa.Text, nullable=False),
        sa.Column("updated_at", T, nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_arn"],
            ["connections.arn"],
            name="fk_connection_webhook_secrets_connection_arn_connections",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("connection_arn", name="pk_connection_webhook_secrets"),
    )
    op.create_table(
        "template_sync_configs",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("template_type", sa.String(16), nullable=False),
        sa.Column("template_name", sa.String(100), nullable=False),
        sa.Column("repository_provider", sa.String(32), nullable=False),
        sa.Column("repository_name", sa.String(100), nullable=False),
        sa.Column("branch", sa.String(200), nullable=False),
        sa.Column("subdirectory", sa.Text, nullable=True),
        sa.Column("created_at", T, nullable=False),
        sa.Column("last_modified_at", T, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_template_sync_configs"),
        sa.UniqueConstraint(
            "account_id",
            "region",
            "template_type",
            "template_name",
            name="uq_template_sync_configs_template",
        ),
    )
    op.create_index(
        "ix_template_sync_configs_repository",
        "template_sync_configs",
        ["account_id", "region", "repository_provider", "repository_name"],
    )
    op.create_table(
        "sync_heads",
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("repository", sa.String(100), nullable=False),
        sa.Column("branch", sa.String(200), nullable=False),
        sa.Column("sync_type", sa.String(16), nullable=False),
        sa.Column("sha", sa.String(64), nullable=False),
        sa.Column("updated_at", T, nullable=False),
        sa.PrimaryKeyConstraint(
            "account_id", "region", "provider", "repository", "branch", "sync_type", name="pk_sync_heads"
        ),
    )
    op.create_table(
        "repository_sync_attempts",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("repository", sa.String(100), nullable=False),
        sa.Column("branch", sa.String(200), nullable=False),
        sa.Column("sync_type", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", T, nullable=False),
        sa.Column("events", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_repository_sync_attempts"),
    )
    op.create_index(
        "ix_repository_sync_attempts_branch",
        "repository_sync_attempts",
        ["account_id", "region", "provider", "repository", "branch", "sync_type"],
    )
    op.create_table(
        "resource_sync_attempts",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("sync_type", sa.String(16), nullable=False),
        sa.Column("target_key", sa.String(400), nullable=False),
        sa.Column("target", sa.String(400), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", T, nullable=False),
        sa.Column("initial_revision", sa.Text, nullable=False),
        sa.Column("target_revision", sa.Text, nullable=False),
        sa.Column("events", sa.Text, nullable=False),
        sa.Column("deployment_id", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_resource_sync_attempts"),
    )
    op.create_index(
        "ix_resource_sync_attempts_target",
        "resource_sync_attempts",
        ["account_id", "region", "sync_type", "target_key"],
    )
    op.create_table(
        "resource_sync_states",
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("sync_type", sa.String(16), nullable=False),
        sa.Column("target_key", sa.String(400), nullable=False),
        sa.Column("desired_revision", sa.Text, nullable=True),
        sa.Column("state", sa.Text, nullable=True),
        sa.Column("updated_at", T, nullable=False),
        sa.PrimaryKeyConstraint(
            "account_id", "region", "sync_type", "target_key", name="pk_resource_sync_states"
        ),
    )


def downgrade() -> None:
    op.drop_table("resource_sync_states")
    op.drop_index(
        "ix_resource_sync_attempts_target",
        table_name="resource_sync_attempts",
    )
    op.drop_table("resource_sync_attempts")
    op.drop_index(
        "ix_repository_sync_attempts_branch",
        table_name="repository_sync_attempts",
    )
    op.drop_table("repository_sync_attempts")
    op.drop_table("sync_heads")
    op.drop_index(
        "ix_template_sync_configs_repository",
        table_name="template_sync_configs",
    )
    op.drop_table("template_sync_configs")
    op.drop_table("connection_webhook_secrets")
