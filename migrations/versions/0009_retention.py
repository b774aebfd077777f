"""retention per workflow

Revision ID: 0009
Revises: 0004
Create Date: 2026-11-27 01:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("workflows") as batch_op:
        batch_op.add_column(sa.Column("retention_days", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "retention_action", sa.String(length=10), nullable=False, server_default="archive"
            )
        )
    op.create_index(
        "ix_instances_workflow_finished", "instances", ["workflow_key", "finished_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_instances_workflow_finished", table_name="instances")
    with op.batch_alter_table("workflows") as batch_op:
        batch_op.drop_column("retention_action")
        batch_op.drop_column("retention_days")
