"""Environments and deployment records.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

T = sa.Double


def upgrade() -> None:
    op.create_table(
        "environments",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("template_id", sa.Integer, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("proton_service_role_arn", sa.Text, nullable=True),
        sa.Column("environment_account_connection_id", sa.String(36), nullable=True),
        sa.Column("environment_account_id", sa.String(12), nullable=True),
        sa.Column("provisioning_repository", sa.Text, nullable=True),
        sa.Column("codebuild_role_arn", sa.Text, nullable=True),
        sa.Column("component_role_arn", sa.Text, nullable=True),
        sa.Column("provisioning", sa.String(32), nullable=True),
        sa.Column("template_major", sa.Integer, nullable=False),
        sa.Column("template_minor", sa.Integer, nullable=False),
        sa.Column("spec", sa.Text, nullable=True),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("deployment_status", sa.String(32), nullable=False),
        sa.Column("deployment_status_message", sa.Text, nullable=True),
        sa.Column("created_at", T, nullable=False),
        sa.Column("last_deployment_attempted_at", T, nullable=False),
        sa.Column("last_deployment_succeeded_at", T, nullable=False),
        sa.Column("last_attempted_deployment_id", sa.String(36), nullable=True),
        sa.Column("last_succeeded_deployment_id", sa.String(36), nullable=True),
        sa.Column("outputs", sa.Text, nullable=False),
        sa.Column("resources", sa.Text, nullable=False),
        sa.Column("stack_id", sa.Text, nullable=True),
        sa.ForeignKeyConstraint(
            ["template_id"], ["templates.id"], name="fk_environments_template_id_templates"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_environments"),
        sa.UniqueConstraint("account_id", "region", "name", name="uq_environments_account_id_region_name"),
    )
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("target_type", sa.String(32), nullable=False),
        sa.Column("target_arn", sa.String(2048), nullable=False),
        sa.Column("target_created_at", T, nullable=False),
        sa.Column("operation", sa.String(16), nullable=False),
        sa.Column("environment_name", sa.String(100), nullable=False),
        sa.Column("service_name", sa.String(100), nullable=True),
        sa.Column("service_instance_name", sa.String(100), nullable=True),
        sa.Column("component_name", sa.String(100), nullable=True),
        sa.Column("deployment_status", sa.String(32), nullable=False),
        sa.Column("deployment_status_message", sa.Text, nullable=True),
        sa.Column("initial_state", sa.Text, nullable=True),
        sa.Column("target_state", sa.Text, nullable=False),
        sa.Column("last_attempted_deployment_id", sa.String(36), nullable=True),
        sa.Column("last_succeeded_deployment_id", sa.String(36), nullable=True),
        sa.Column("outputs", sa.Text, nullable=True),
        sa.Column("resources", sa.Text, nullable=True),
        sa.Column("progress", sa.Text, nullable=False),
        sa.Column("created_at", T, nullable=False),
        sa.Column("last_modified_at", T, nullable=False),
        sa.Column("completed_at", T, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_deployments"),
    )
    op.create_index(
        "ix_deployments_account_id_region_environment_name",
        "deployments",
        ["account_id", "region", "environment_name"],
    )


def downgrade() -> None:
    op.drop_index("ix_deployments_account_id_region_environment_name", table_name="deployments")
    op.drop_table("deployments")
    op.drop_table("environments")
