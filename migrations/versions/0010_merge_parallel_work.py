"""merge the branches made in parallel (event endpoints, messages and links, inbox and
tracking, reports, retention)

Revision ID: 0010
Revises: 0005, 0006, 0007, 0008, 0009
Create Date: 2026-11-27 01:55:00
"""

from collections.abc import Sequence

revision: str = "0010"
down_revision: str | Sequence[str] | None = ("0005", "0006", "0007", "0008", "0009")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
