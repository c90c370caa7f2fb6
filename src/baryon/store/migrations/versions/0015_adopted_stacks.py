"""Adopted stacks: the CloudFormation stack a deployable was adopted from, and whether it needs a spec.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_TABLES = ("environments", "service_instances", "service_pipelines", "components")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("bound_stack_name", sa.String(128), nullable=True))
            batch.add_column(sa.Column("needs_spec", sa.Boolean, nullable=True))


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("needs_spec")
            batch.drop_column("bound_stack_name")
