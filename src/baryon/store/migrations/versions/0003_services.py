"""Services, service instances and service pipelines.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

T = sa.Double


def _deployment_columns() -> list[sa.Column[object]]:
    return [
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
    ]


def upgrade() -> None:
    op.create_table(
        "services",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("template_id", sa.Integer, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("status_message", sa.Text, nullable=True),
        sa.Column("repository_connection_arn", sa.Text, nullable=True),
        sa.Column("repository_id", sa.Text, nullable=True),
        sa.Column("branch_name", sa.Text, nullable=True),
        sa.Column("created_at", T, nullable=False),
        sa.Column("last_modified_at", T, nullable=False),
        sa.ForeignKeyConstraint(["template_id"], ["templates.id"], name="fk_services_template_id_templates"),
        sa.PrimaryKeyConstraint("id", name="pk_services"),
        sa.UniqueConstraint("account_id", "region", "name", name="uq_services_account_id_region_name"),
    )
    op.create_table(
        "service_instances",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("service_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("environment_id", sa.Integer, nullable=False),
        sa.Column("last_client_request_token", sa.String(64), nullable=True),
        *_deployment_columns(),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name="fk_service_instances_service_id_services",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["environment_id"], ["environments.id"], name="fk_service_instances_environment_id_environments"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_service_instances"),
        sa.UniqueConstraint("service_id", "name", name="uq_service_instances_service_id_name"),
    )
    op.create_table(
        "service_pipelines",
        sa.Column("service_id", sa.Integer, nullable=False),
        *_deployment_columns(),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name="fk_service_pipelines_service_id_services",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("service_id", name="pk_service_pipelines"),
    )


def downgrade() -> None:
    op.drop_table("service_pipelines")
    op.drop_table("service_instances")
    op.drop_table("services")
