"""welcome messages: requested in the database, sent ahead of bulk rows

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

`chats.welcome_due_at` is set in the transaction that subscribes a chat and cleared in the
one that queues its first articles in the outbox, so that a crash between the two loses
nothing: any bot process composes what is left.

`outbox.priority` orders claims before `available_at`: 0 for a message a person is waiting
for (the first articles after subscribing), 1 for the rest. Without it, a chat subscribing
during a fan-out of 10,000 digests at 28 messages a second waited about six minutes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.add_column(sa.Column("welcome_due_at", UTCDateTime(), nullable=True))
        batch_op.create_index("ix_chats_welcome_due_at", ["welcome_due_at"], unique=False)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("priority", sa.SmallInteger(), nullable=False, server_default="1")
        )
        batch_op.drop_index("ix_outbox_status_available_at_id")
        batch_op.create_index(
            "ix_outbox_status_priority_available_at_id",
            ["status", "priority", "available_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_status_priority_available_at_id")
        batch_op.create_index(
            "ix_outbox_status_available_at_id", ["status", "available_at", "id"], unique=False
        )
        batch_op.drop_column("priority")
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.drop_index("ix_chats_welcome_due_at")
        batch_op.drop_column("welcome_due_at")
