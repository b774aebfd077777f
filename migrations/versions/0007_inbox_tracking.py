"""inbox: tasks' risk_at and updated_at, an index for the inbox, saved views

Revision ID: 0007
Revises: 0004
Create Date: 2026-11-27 00:35:00.000000
"""

from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db.models

revision: str = "0007"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "saved_views",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "query",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", app.db.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_views")),
        sa.UniqueConstraint("username", "name", name=op.f("uq_saved_views_username")),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("risk_at", app.db.models.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("updated_at", app.db.models.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_tasks_updated_at"), ["updated_at"], unique=False)
        batch_op.create_index(
            "ix_tasks_inbox",
            [
                "status",
                "assignee",
                "due_at",
                "risk_at",
                "overdue",
                "at_risk",
                "priority",
                "created_at",
                "id",
            ],
            unique=False,
        )
    _backfill_risk_at()


def _backfill_risk_at() -> None:
    """Open tasks with a due time become at risk a quarter of their SLA window before it, as
    new ones do (``app.db.models._risk_at``)."""
    tasks = sa.table(
        "tasks",
        sa.column("id", sa.String()),
        sa.column("status", sa.String()),
        sa.column("created_at", app.db.models.UtcDateTime(timezone=True)),
        sa.column("due_at", app.db.models.UtcDateTime(timezone=True)),
        sa.column("risk_at", app.db.models.UtcDateTime(timezone=True)),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(tasks.c.id, tasks.c.created_at, tasks.c.due_at).where(
            tasks.c.status == "open", tasks.c.due_at.isnot(None)
        )
    ).all()
    for task_id, created, due in rows:
        risk = due - max(due - created, timedelta(0)) / 4
        bind.execute(sa.update(tasks).where(tasks.c.id == task_id).values(risk_at=risk))


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_inbox")
        batch_op.drop_index(batch_op.f("ix_tasks_updated_at"))
        batch_op.drop_column("updated_at")
        batch_op.drop_column("risk_at")
    op.drop_table("saved_views")
