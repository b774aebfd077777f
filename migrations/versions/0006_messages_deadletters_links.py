"""message hooks and deliveries, dead letters, action links

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-28 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db.models

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "message_hooks",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("scheme", sa.String(length=20), nullable=False),
        sa.Column("tolerance_s", sa.Integer(), nullable=False),
        sa.Column("correlation", sa.String(length=1000), nullable=False),
        sa.Column("mapping", _json(), nullable=False),
        sa.Column("idempotency", sa.String(length=1000), nullable=True),
        sa.Column("created_at", app.db.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("updated_at", app.db.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_message_hooks")),
    )
    op.create_table(
        "message_hook_secrets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("hook", sa.String(length=200), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", app.db.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("revoked_at", app.db.models.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["hook"],
            ["message_hooks.name"],
            name=op.f("fk_message_hook_secrets_hook_message_hooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_hook_secrets")),
    )
    with op.batch_alter_table("message_hook_secrets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_message_hook_secrets_hook"), ["hook"], unique=False)

    op.create_table(
        "message_deliveries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("message", sa.String(length=200), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("correlation", sa.String(length=500), nullable=False),
        sa.Column("data", _json(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("instance_id", sa.String(length=32), nullable=True),
        sa.Column("source", sa.String(length=300), nullable=True),
        sa.Column("received_at", app.db.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("hold_until", app.db.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", app.db.models.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_deliveries")),
        sa.UniqueConstraint(
            "message", "idempotency_key", name=op.f("uq_message_deliveries_message")
        ),
    )
    with op.batch_alter_table("message_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_message_deliveries_held", ["message", "correlation", "status"], unique=False
        )

    op.create_table(
        "dead_letters",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workflow_key", sa.String(length=100), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("payload", _json(), nullable=False),
        sa.Column("headers", _json(), nullable=False),
        sa.Column("query", _json(), nullable=False),
        sa.Column("error_code", sa.String(length=50), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=False),
        sa.Column("error_details", _json(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("received_at", app.db.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", app.db.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("instance_id", sa.String(length=32), nullable=True),
        sa.Column("replayed_at", app.db.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("replayed_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
        sa.UniqueConstraint(
            "workflow_key", "idempotency_key", name=op.f("uq_dead_letters_workflow_key")
        ),
    )
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dead_letters_status_received", ["status", "received_at"], unique=False
        )

    op.create_table(
        "action_links",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("task_id", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=100), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("created_at", app.db.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", app.db.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("used_at", app.db.models.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_action_links_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_links")),
    )
    with op.batch_alter_table("action_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_action_links_task_id"), ["task_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("action_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_action_links_task_id"))
    op.drop_table("action_links")
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_index("ix_dead_letters_status_received")
    op.drop_table("dead_letters")
    with op.batch_alter_table("message_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_message_deliveries_held")
    op.drop_table("message_deliveries")
    with op.batch_alter_table("message_hook_secrets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_hook_secrets_hook"))
    op.drop_table("message_hook_secrets")
    op.drop_table("message_hooks")
