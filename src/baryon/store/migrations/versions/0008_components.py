"""Directly defined components.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

T = sa.Double


def upgrade() -> None:
    op.create_table(
        "components",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("environment_id", sa.Integer, nullable=False),
        sa.Column("service_instance_id", sa.Integer, nullable=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("service_spec", sa.Text, nullable=True),
        sa.Column("manifest", sa.Text, nullable=False),
        sa.Column("template_file", sa.Text, nullable=False),
        sa.Column("rendering_engine", sa.String(16), nullable=False),
        sa.Column("deployment_status", sa.String(32), nullable=False),
        sa.Column("deployment_status_message", sa.Text, nullable=True),
        sa.Column("created_at", T, nullable=False),
        sa.Column("last_modified_at", T, nullable=False),
        sa.Column("last_deployment_attempted_at", T, nullable=True),
        sa.Column("last_deployment_succeeded_at", T, nullable=True),
        sa.Column("last_attempted_deployment_id", sa.String(36), nullable=True),
        sa.Column("last_succeeded_deployment_id", sa.String(36), nullable=True),
        sa.Column("last_client_request_token", sa.String(64), nullable=True),
        sa.Column("outputs", sa.Text, nullable=False),
        sa.Column("resources", sa.Text, nullable=False),
        sa.Column("stack_id", sa.Text, nullable=True),
        sa.ForeignKeyConstraint(
            ["environment_id"], ["environments.id"], name="fk_components_environment_id_environments"
        ),
        sa.ForeignKeyConstraint(
            ["service_instance_id"],
            ["service_instances.id"],
            name="fk_components_service_instance_id_service_instances",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_components"),
        sa.UniqueConstraint("account_id", "region", "name", name="uq_components_account_id_region_name"),
        sa.UniqueConstraint("service_instance_id", name="uq_components_service_instance_id"),
    )
    op.create_index("ix_components_environment_id", "components", ["environment_id"])


def downgrade() -> None:
    op.drop_index("ix_components_environment_id", table_name="components")
    op.drop_table("components")
