"""outbox claim order: the due-rows index also orders by id

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

Claims take due rows by (available_at, id). With the index on (status, available_at)
alone, rows queued at one moment (a whole broadcast) share available_at, and PostgreSQL
sorted every one of them to return the first few dozen. With id in the index the claim
reads the first rows in order and stops.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_status_available_at")
        batch_op.create_index(
            "ix_outbox_status_available_at_id", ["status", "available_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_status_available_at_id")
        batch_op.create_index(
            "ix_outbox_status_available_at", ["status", "available_at"], unique=False
        )
