"""Foundation: credentials, templates and versions, tags, account settings, idempotency, jobs.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

T = sa.Double


def upgrade() -> None:
    op.create_table(
        "deployment_settings",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_deployment_settings"),
    )
    op.create_table(
        "credentials",
        sa.Column("access_key_id", sa.String(32), nullable=False),
        sa.Column("secret_ciphertext", sa.Text, nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", T, nullable=False),
        sa.Column("revoked_at", T, nullable=True),
        sa.PrimaryKeyConstraint("access_key_id", name="pk_credentials"),
    )
    op.create_table(
        "templates",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("display_name", sa.Text, nullable=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("encryption_key", sa.Text, nullable=True),
        sa.Column("provisioning", sa.String(32), nullable=True),
        sa.Column("recommended_major", sa.Integer, nullable=True),
        sa.Column("recommended_minor", sa.Integer, nullable=True),
        sa.Column("created_at", T, nullable=False),
        sa.Column("last_modified_at", T, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_templates"),
        sa.UniqueConstraint(
            "account_id", "region", "kind", "name", name="uq_templates_account_id_region_kind_name"
        ),
    )
    op.create_table(
        "template_versions",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("template_id", sa.Integer, nullable=False),
        sa.Column("major", sa.Integer, nullable=False),
        sa.Column("minor", sa.Integer, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_message", sa.Text, nullable=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("schema_text", sa.Text, nullable=True),
        sa.Column("compatible_environment_templates", sa.Text, nullable=True),
        sa.Column("supported_component_sources", sa.Text, nullable=True),
        sa.Column("source_bucket", sa.String(63), nullable=False),
        sa.Column("source_key", sa.String(1024), nullable=False),
        sa.Column("bundle", sa.LargeBinary, nullable=True),
        sa.Column("bundle_info", sa.Text, nullable=True),
        sa.Column("created_at", T, nullable=False),
        sa.Column("last_modified_at", T, nullable=False),
        sa.Column("deleted_at", T, nullable=True),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["templates.id"],
            name="fk_template_versions_template_id_templates",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_template_versions"),
        sa.UniqueConstraint(
            "template_id", "major", "minor", name="uq_template_versions_template_id_major_minor"
        ),
    )
    op.create_table(
        "tags",
        sa.Column("resource_arn", sa.String(2048), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("value", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("resource_arn", "key", name="pk_tags"),
    )
    op.create_table(
        "account_settings",
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("pipeline_service_role_arn", sa.Text, nullable=True),
        sa.Column("pipeline_codebuild_role_arn", sa.Text, nullable=True),
        sa.Column("pipeline_provisioning_repository", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("account_id", "region", name="pk_account_settings"),
    )
    op.create_table(
        "idempotency_tokens",
        sa.Column("account_id", sa.String(12), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("request_digest", sa.String(64), nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("created_at", T, nullable=False),
        sa.PrimaryKeyConstraint("account_id", "region", "operation", "token", name="pk_idempotency_tokens"),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("run_at", T, nullable=False),
        sa.Column("lease_owner", sa.String(128), nullable=True),
        sa.Column("lease_expires_at", T, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("retry_policy", sa.Text, nullable=False),
        sa.Column("progress", sa.Text, nullable=True),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("outcome_message", sa.Text, nullable=True),
        sa.Column("created_at", T, nullable=False),
        sa.Column("updated_at", T, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
    )
    op.create_index("ix_jobs_state_run_at", "jobs", ["state", "run_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_state_run_at", table_name="jobs")
    for table in (
        "jobs",
        "idempotency_tokens",
        "account_settings",
        "tags",
        "template_versions",
        "templates",
        "credentials",
        "deployment_settings",
    ):
        op.drop_table(table)
