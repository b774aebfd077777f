"""reports: saved reports, their shares and pins; covering indexes for report queries

Revision ID: 0008
Revises: 0004
Create Date: 2026-11-27 01:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db.models

revision: str = "0008"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "saved_reports",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "query",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("chart", sa.String(length=20), nullable=False),
        sa.Column("created_at", app.db.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_reports")),
    )
    with op.batch_alter_table("saved_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_saved_reports_owner"), ["owner"], unique=False)

    op.create_table(
        "saved_report_pins",
        sa.Column("report_id", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["saved_reports.id"],
            name=op.f("fk_saved_report_pins_report_id_saved_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("report_id", "username", name=op.f("pk_saved_report_pins")),
    )
    with op.batch_alter_table("saved_report_pins", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_saved_report_pins_username"), ["username"], unique=False
        )

    op.create_table(
        "saved_report_shares",
        sa.Column("report_id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["saved_reports.id"],
            name=op.f("fk_saved_report_shares_report_id_saved_reports"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["role"],
            ["roles.name"],
            name=op.f("fk_saved_report_shares_role_roles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("report_id", "role", name=op.f("pk_saved_report_shares")),
    )
    with op.batch_alter_table("saved_report_shares", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_saved_report_shares_role"), ["role"], unique=False)

    # Covering indexes for the report queries: a report reads index entries, not rows.
    op.create_index(
        "ix_instances_report_started",
        "instances",
        ["workflow_key", "started_at", "workflow_version", "stage", "id"],
        unique=False,
    )
    op.create_index(
        "ix_instances_report_finished",
        "instances",
        ["workflow_key", "finished_at", "started_at", "status", "workflow_version"],
        unique=False,
    )
    op.create_index(
        "ix_tasks_report_completed",
        "tasks",
        [
            "workflow_key",
            "status",
            "node",
            "completed_at",
            "created_at",
            "due_at",
            "completed_by",
            "role",
        ],
        unique=False,
    )
    # The funnel's stage changes: a partial index, small and covering.
    op.create_index(
        "ix_audit_events_stage",
        "audit_events",
        ["instance_id", "action", "details"],
        unique=False,
        sqlite_where=sa.text("action = 'instance.stage'"),
        postgresql_where=sa.text("action = 'instance.stage'"),
    )


def downgrade() -> None:
    op.drop_index("ix_audit_events_stage", table_name="audit_events")
    op.drop_index("ix_tasks_report_completed", table_name="tasks")
    op.drop_index("ix_instances_report_finished", table_name="instances")
    op.drop_index("ix_instances_report_started", table_name="instances")
    with op.batch_alter_table("saved_report_shares", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_saved_report_shares_role"))
    op.drop_table("saved_report_shares")
    with op.batch_alter_table("saved_report_pins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_saved_report_pins_username"))
    op.drop_table("saved_report_pins")
    with op.batch_alter_table("saved_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_saved_reports_owner"))
    op.drop_table("saved_reports")
