"""Table definitions: the whole persistent state of Baryon.

Invariants: every customer resource row carries (account_id, region) and is unique by name within them;
timestamps are epoch seconds (double precision, UTC); JSON documents are stored as text. The Alembic
migrations under store/migrations must produce exactly these tables (a test compares them).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

Timestamp = sa.Double

deployment_settings = sa.Table(
    "deployment_settings",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

credentials = sa.Table(
    "credentials",
    metadata,
    sa.Column("access_key_id", sa.String(32), primary_key=True),
    sa.Column("secret_ciphertext", sa.Text, nullable=False),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("revoked_at", Timestamp, nullable=True),
    #: For a credential issued to one command run: the only resource ARN it may notify for.
    sa.Column("scope", sa.String(2048), nullable=True),
    #: When the credential stops authenticating (None: never).
    sa.Column("expires_at", Timestamp, nullable=True),
)

templates = sa.Table(
    "templates",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
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
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("last_modified_at", Timestamp, nullable=False),
    sa.UniqueConstraint("account_id", "region", "kind", "name"),
)

template_versions = sa.Table(
    "template_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("template_id", sa.Integer, sa.ForeignKey("templates.id", ondelete="CASCADE"), nullable=False),
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
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("last_modified_at", Timestamp, nullable=False),
    sa.Column("deleted_at", Timestamp, nullable=True),
    sa.UniqueConstraint("template_id", "major", "minor"),
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column("resource_arn", sa.String(2048), primary_key=True),
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)

account_settings = sa.Table(
    "account_settings",
    metadata,
    sa.Column("account_id", sa.String(12), primary_key=True),
    sa.Column("region", sa.String(32), primary_key=True),
    sa.Column("pipeline_service_role_arn", sa.Text, nullable=True),
    sa.Column("pipeline_codebuild_role_arn", sa.Text, nullable=True),
    sa.Column("pipeline_provisioning_repository", sa.Text, nullable=True),
)

idempotency_tokens = sa.Table(
    "idempotency_tokens",
    metadata,
    sa.Column("account_id", sa.String(12), primary_key=True),
    sa.Column("region", sa.String(32), primary_key=True),
    sa.Column("operation", sa.String(64), primary_key=True),
    sa.Column("token", sa.String(64), primary_key=True),
    sa.Column("request_digest", sa.String(64), nullable=False),
    sa.Column("response", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("run_at", Timestamp, nullable=False),
    sa.Column("lease_owner", sa.String(128), nullable=True),
    sa.Column("lease_expires_at", Timestamp, nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    #: How many times a worker took the job's lease (1 on its first step).
    sa.Column("claims", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("retry_policy", sa.Text, nullable=False),
    sa.Column("progress", sa.Text, nullable=True),
    sa.Column("cancel_requested", sa.Boolean, nullable=False),
    sa.Column("outcome_message", sa.Text, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Index(None, "state", "run_at"),
)


def _status_columns() -> list[sa.Column[Any]]:
    """A deployment's status and its message (on deployments and on every deployable resource)."""
    return [
        sa.Column("deployment_status", sa.String(32), nullable=False),
        sa.Column("deployment_status_message", sa.Text, nullable=True),
    ]


def _attempt_columns(*, always_deployed: bool) -> list[sa.Column[Any]]:
    """When a deployable resource's deployments were last attempted and last succeeded, and which ones.
    Template-based resources always carry the times (creation counts as an attempt and a success)."""
    return [
        sa.Column("last_deployment_attempted_at", Timestamp, nullable=not always_deployed),
        sa.Column("last_deployment_succeeded_at", Timestamp, nullable=not always_deployed),
        sa.Column("last_attempted_deployment_id", sa.String(36), nullable=True),
        sa.Column("last_succeeded_deployment_id", sa.String(36), nullable=True),
    ]


def _provisioned_columns() -> list[sa.Column[Any]]:
    """What a deployable resource's last successful deployment produced: outputs, resources, stack."""
    return [
        sa.Column("outputs", sa.Text, nullable=False),
        sa.Column("resources", sa.Text, nullable=False),
        sa.Column("stack_id", sa.Text, nullable=True),
    ]


def _deployment_columns() -> list[sa.Column[Any]]:
    """Columns every template-based deployable resource (environment, service instance, pipeline) carries."""
    return [
        sa.Column("template_major", sa.Integer, nullable=False),
        sa.Column("template_minor", sa.Integer, nullable=False),
        sa.Column("spec", sa.Text, nullable=True),
        sa.Column("inputs", sa.Text, nullable=False),
        *_status_columns(),
        sa.Column("created_at", Timestamp, nullable=False),
        *_attempt_columns(always_deployed=True),
        *_provisioned_columns(),
    ]


environments = sa.Table(
    "environments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("template_id", sa.Integer, sa.ForeignKey("templates.id"), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("proton_service_role_arn", sa.Text, nullable=True),
    sa.Column("environment_account_connection_id", sa.String(36), nullable=True),
    sa.Column("environment_account_id", sa.String(12), nullable=True),
    sa.Column("provisioning_repository", sa.Text, nullable=True),
    sa.Column("codebuild_role_arn", sa.Text, nullable=True),
    sa.Column("component_role_arn", sa.Text, nullable=True),
    sa.Column("provisioning", sa.String(32), nullable=True),
    *_deployment_columns(),
    sa.UniqueConstraint("account_id", "region", "name"),
)

deployments = sa.Table(
    "deployments",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("target_type", sa.String(32), nullable=False),
    sa.Column("target_arn", sa.String(2048), nullable=False),
    sa.Column("target_created_at", Timestamp, nullable=False),
    sa.Column("operation", sa.String(16), nullable=False),
    sa.Column("environment_name", sa.String(100), nullable=False),
    sa.Column("service_name", sa.String(100), nullable=True),
    sa.Column("service_instance_name", sa.String(100), nullable=True),
    sa.Column("component_name", sa.String(100), nullable=True),
    *_status_columns(),
    sa.Column("initial_state", sa.Text, nullable=True),
    sa.Column("target_state", sa.Text, nullable=False),
    sa.Column("last_attempted_deployment_id", sa.String(36), nullable=True),
    sa.Column("last_succeeded_deployment_id", sa.String(36), nullable=True),
    sa.Column("outputs", sa.Text, nullable=True),
    sa.Column("resources", sa.Text, nullable=True),
    sa.Column("progress", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("last_modified_at", Timestamp, nullable=False),
    sa.Column("completed_at", Timestamp, nullable=True),
    #: The status a command-runner deployment's commands reported through a notification.
    sa.Column("reported_status", sa.String(32), nullable=True),
    sa.Index(None, "account_id", "region", "environment_name"),
)

services = sa.Table(
    "services",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("template_id", sa.Integer, sa.ForeignKey("templates.id"), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("spec", sa.Text, nullable=False),
    sa.Column("status", sa.String(40), nullable=False),
    sa.Column("status_message", sa.Text, nullable=True),
    sa.Column("repository_connection_arn", sa.Text, nullable=True),
    sa.Column("repository_id", sa.Text, nullable=True),
    sa.Column("branch_name", sa.Text, nullable=True),
    # JSON: what the running UpdateService does (previous spec, instances added and removed, phase);
    # NULL when no spec update is in flight (see store/services.py).
    sa.Column("update_state", sa.Text, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("last_modified_at", Timestamp, nullable=False),
    sa.UniqueConstraint("account_id", "region", "name"),
)

service_instances = sa.Table(
    "service_instances",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("environment_id", sa.Integer, sa.ForeignKey("environments.id"), nullable=False),
    sa.Column("last_client_request_token", sa.String(64), nullable=True),
    # Copies of names that never change after creation, so that listing reads one table in index order.
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("service_name", sa.String(100), nullable=False),
    sa.Column("environment_name", sa.String(100), nullable=False),
    sa.Column("template_name", sa.String(100), nullable=False),
    *_deployment_columns(),
    sa.UniqueConstraint("service_id", "name"),
    sa.Index("ix_service_instances_by_service", "account_id", "region", "service_name", "name"),
    sa.Index(
        "ix_service_instances_by_environment",
        "account_id",
        "region",
        "environment_name",
        "service_name",
        "name",
    ),
    sa.Index(
        "ix_service_instances_by_status", "account_id", "region", "deployment_status", "service_name", "name"
    ),
)

service_pipelines = sa.Table(
    "service_pipelines",
    metadata,
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id", ondelete="CASCADE"), primary_key=True),
    *_deployment_columns(),
)

connections = sa.Table(
    "connections",
    metadata,
    sa.Column("arn", sa.String(200), primary_key=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("url_template", sa.Text, nullable=False),
    sa.Column("api_url", sa.Text, nullable=True),
    sa.Column("token_ciphertext", sa.Text, nullable=True),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.UniqueConstraint("account_id", "region", "name"),
)

repositories = sa.Table(
    "repositories",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("connection_arn", sa.String(200), sa.ForeignKey("connections.arn"), nullable=False),
    sa.Column("encryption_key", sa.Text, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.UniqueConstraint("account_id", "region", "provider", "name"),
)

run_logs = sa.Table(
    "run_logs",
    metadata,
    sa.Column(
        "deployment_id",
        sa.String(36),
        sa.ForeignKey("deployments.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("end_offset", sa.BigInteger, nullable=False),
    sa.Column("chunk", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
)

components = sa.Table(
    "components",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("environment_id", sa.Integer, sa.ForeignKey("environments.id"), nullable=False),
    sa.Column(
        "service_instance_id",
        sa.Integer,
        sa.ForeignKey("service_instances.id", ondelete="SET NULL"),
        nullable=True,
    ),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("service_spec", sa.Text, nullable=True),
    sa.Column("manifest", sa.Text, nullable=False),
    sa.Column("template_file", sa.Text, nullable=False),
    sa.Column("rendering_engine", sa.String(16), nullable=False),
    *_status_columns(),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("last_modified_at", Timestamp, nullable=False),
    *_attempt_columns(always_deployed=False),
    sa.Column("last_client_request_token", sa.String(64), nullable=True),
    *_provisioned_columns(),
    sa.UniqueConstraint("account_id", "region", "name"),
    # One directly defined component per service instance (NULLs, detached components, never collide).
    sa.UniqueConstraint("service_instance_id"),
    sa.Index(None, "environment_id"),
)

#: An account's own quota values (`baryon quotas set`); a NULL value means "no limit" for that account.
account_quotas = sa.Table(
    "account_quotas",
    metadata,
    sa.Column("account_id", sa.String(12), primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Integer, nullable=True),
    sa.Column("updated_at", Timestamp, nullable=False),
)

# --- Environment account connections -----------------------------------------------------------------

#: A connection requested by an environment account (`account_id`, which owns its ARN) towards a
#: management account, for one environment name, in one region (reference §7).
environment_account_connections = sa.Table(
    "environment_account_connections",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("management_account_id", sa.String(12), nullable=False),
    sa.Column("environment_name", sa.String(100), nullable=False),
    sa.Column("role_arn", sa.Text, nullable=False),
    sa.Column("codebuild_role_arn", sa.Text, nullable=True),
    sa.Column("component_role_arn", sa.Text, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("requested_at", Timestamp, nullable=False),
    sa.Column("last_modified_at", Timestamp, nullable=False),
    sa.Index(None, "account_id", "region"),
    sa.Index(None, "management_account_id", "region"),
)

# -- Syncing from git (template sync, service sync) --------------------------------------------------------

#: The secret a git host signs push webhooks with, per connection (encrypted like the connection's token).
connection_webhook_secrets = sa.Table(
    "connection_webhook_secrets",
    metadata,
    sa.Column(
        "connection_arn",
        sa.String(200),
        sa.ForeignKey("connections.arn", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("secret_ciphertext", sa.Text, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)

#: CreateTemplateSyncConfig: one per template (kind and name) in an account and region.
template_sync_configs = sa.Table(
    "template_sync_configs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("template_type", sa.String(16), nullable=False),
    sa.Column("template_name", sa.String(100), nullable=False),
    sa.Column("repository_provider", sa.String(32), nullable=False),
    sa.Column("repository_name", sa.String(100), nullable=False),
    sa.Column("branch", sa.String(200), nullable=False),
    sa.Column("subdirectory", sa.Text, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("last_modified_at", Timestamp, nullable=False),
    sa.UniqueConstraint(
        "account_id", "region", "template_type", "template_name", name="uq_template_sync_configs_template"
    ),
    sa.Index(
        "ix_template_sync_configs_repository",
        "account_id",
        "region",
        "repository_provider",
        "repository_name",
    ),
)

#: The last commit of a followed branch that one kind of sync has acted on.
sync_heads = sa.Table(
    "sync_heads",
    metadata,
    sa.Column("account_id", sa.String(12), primary_key=True),
    sa.Column("region", sa.String(32), primary_key=True),
    sa.Column("provider", sa.String(32), primary_key=True),
    sa.Column("repository", sa.String(100), primary_key=True),
    sa.Column("branch", sa.String(200), primary_key=True),
    sa.Column("sync_type", sa.String(16), primary_key=True),
    sa.Column("sha", sa.String(64), nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)

#: RepositorySyncAttempt: one row per look at a branch for one kind of sync; `events` is a JSON list.
repository_sync_attempts = sa.Table(
    "repository_sync_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("repository", sa.String(100), nullable=False),
    sa.Column("branch", sa.String(200), nullable=False),
    sa.Column("sync_type", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", Timestamp, nullable=False),
    sa.Column("events", sa.Text, nullable=False),
    sa.Index(
        "ix_repository_sync_attempts_branch",
        "account_id",
        "region",
        "provider",
        "repository",
        "branch",
        "sync_type",
    ),
)

#: ResourceSyncAttempt: one row per sync of one target (a template major, a service instance, ...).
resource_sync_attempts = sa.Table(
    "resource_sync_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("sync_type", sa.String(16), nullable=False),
    sa.Column("target_key", sa.String(400), nullable=False),
    sa.Column("target", sa.String(400), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", Timestamp, nullable=False),
    sa.Column("initial_revision", sa.Text, nullable=False),
    sa.Column("target_revision", sa.Text, nullable=False),
    sa.Column("events", sa.Text, nullable=False),
    # The deployment the attempt started, whose outcome is the attempt's while it is IN_PROGRESS.
    sa.Column("deployment_id", sa.String(36), nullable=True),
    sa.Index("ix_resource_sync_attempts_target", "account_id", "region", "sync_type", "target_key"),
)

#: Per sync target: the revision it should be at (desiredState) and what its sync kind remembers about it.
resource_sync_states = sa.Table(
    "resource_sync_states",
    metadata,
    sa.Column("account_id", sa.String(12), primary_key=True),
    sa.Column("region", sa.String(32), primary_key=True),
    sa.Column("sync_type", sa.String(16), primary_key=True),
    sa.Column("target_key", sa.String(400), primary_key=True),
    sa.Column("desired_revision", sa.Text, nullable=True),
    sa.Column("state", sa.Text, nullable=True),
    sa.Column("updated_at", Timestamp, nullable=False),
)

# ------------------------------------------------------------------------------------- service sync
# A service's sync config and its blockers (store/service_sync.py); its sync status (attempts, desired
# state, what the sync last applied) is kept in resource_sync_attempts / resource_sync_states above.
# Every row goes with its service (ON DELETE CASCADE); deleting a config keeps the rest.

service_sync_configs = sa.Table(
    "service_sync_configs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "service_id",
        sa.Integer,
        sa.ForeignKey("services.id", ondelete="CASCADE"),
        nullable=False,
        unique=True,
    ),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("service_name", sa.String(100), nullable=False),
    sa.Column("repository_provider", sa.String(32), nullable=False),
    sa.Column("repository_name", sa.String(100), nullable=False),
    sa.Column("branch", sa.String(200), nullable=False),
    sa.Column("file_path", sa.String(4096), nullable=False),
    # JSON: the service's entries of the ops file last read ({instance: {branch, spec}}), and its commit.
    sa.Column("ops_entries", sa.Text, nullable=False),
    sa.Column("ops_sha", sa.String(255), nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("last_modified_at", Timestamp, nullable=False),
    sa.Index(
        "ix_service_sync_configs_repository", "account_id", "region", "repository_provider", "repository_name"
    ),
)

service_sync_blockers = sa.Table(
    "service_sync_blockers",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("service_id", sa.Integer, sa.ForeignKey("services.id", ondelete="CASCADE"), nullable=False),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("service_name", sa.String(100), nullable=False),
    # NULL: the blocker stops the whole service.
    sa.Column("service_instance_name", sa.String(100), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("created_reason", sa.Text, nullable=False),
    sa.Column("contexts", sa.Text, nullable=False),
    sa.Column("resolved_at", Timestamp, nullable=True),
    sa.Column("resolved_reason", sa.Text, nullable=True),
    sa.Index("ix_service_sync_blockers_target", "service_id", "service_instance_name", "status"),
)

# ------------------------------------------------------------------------------------- adopted stacks
# A deployable adopted from a stack Proton left running (baryon.adopt) deploys and deletes that stack:
# `bound_stack_name` replaces the stack name Baryon would choose (NULL: Baryon's own name);
# `needs_spec` is true while a resource adopted without its spec has not been given one.

for _table in (environments, service_instances, service_pipelines, components):
    _table.append_column(sa.Column("bound_stack_name", sa.String(128), nullable=True))
    _table.append_column(sa.Column("needs_spec", sa.Boolean, nullable=True))
del _table

# ------------------------------------------------------------------------------------- console sessions
# A signed-in browser (baryon.console.sessions): the cookie holds a random token, the row only its SHA-256.

console_sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("access_key_id", sa.String(128), nullable=False),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("expires_at", Timestamp, nullable=False),
    sa.Index("ix_console_sessions_expires_at", "expires_at"),
)

# ------------------------------------------------------------------------------------- status-change events
# Events in EventBridge's `aws.proton` format (baryon.events): a webhook target per account, every event in
# the outbox (written in the transaction of the status change it tells), one delivery per event and target
# of the event's account (written in that same transaction, with the job that sends it).

event_targets = sa.Table(
    "event_targets",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    # Encrypted with the deployment secret (NULL: deliveries are not signed).
    sa.Column("secret_ciphertext", sa.Text, nullable=True),
    # The operator allowed a link-local address (such as 169.254.169.254) for this target.
    sa.Column("allow_link_local", sa.Boolean, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Index(None, "account_id"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(36), nullable=False, unique=True),
    sa.Column("account_id", sa.String(12), nullable=False),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("detail_type", sa.String(100), nullable=False),
    sa.Column("resource_arn", sa.String(2048), nullable=False),
    # The event's JSON document, exactly the bytes every delivery sends.
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Index(None, "account_id", "region"),
)

event_deliveries = sa.Table(
    "event_deliveries",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("event_id", sa.String(36), sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
    sa.Column(
        "target_id", sa.String(36), sa.ForeignKey("event_targets.id", ondelete="CASCADE"), nullable=False
    ),
    # pending, delivered or failed (given up).
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_status_code", sa.Integer, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("next_attempt_at", Timestamp, nullable=True),
    sa.Column("delivered_at", Timestamp, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Index(None, "target_id"),
    sa.Index(None, "event_id"),
)
