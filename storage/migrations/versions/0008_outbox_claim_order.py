"""outbox claim order: indexes that let a claim read the first due rows and stop

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

Claims take due rows by (available_at, id), each only if no earlier row of its chat (by
id) is unfinished. With the index on (status, available_at) alone, rows queued at one
moment (a whole broadcast) share available_at, and PostgreSQL sorted every one of them to
return the first few dozen; with id in it the claim reads the first rows in order and
stops. The chat index gains id so that "an earlier row of this chat" is one index range:
without it, on a table not analysed yet (a broadcast queued a moment ago), PostgreSQL
combined the chat index with the status index for every row, seconds per claim at
10,000 rows.
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
        batch_op.drop_index("ix_outbox_chat_id")
        batch_op.create_index("ix_outbox_chat_id_id", ["chat_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_chat_id_id")
        batch_op.create_index("ix_outbox_chat_id", ["chat_id"], unique=False)
        batch_op.drop_index("ix_outbox_status_available_at_id")
        batch_op.create_index(
            "ix_outbox_status_available_at", ["status", "available_at"], unique=False
        )
