"""delivery modes, keyword and region filters, forum topic bindings

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _chat_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["chat_id"],
        ["chats.id"],
        name=op.f(f"fk_{table}_chat_id_chats"),
        ondelete="CASCADE",
        onupdate="CASCADE",
    )


def upgrade() -> None:
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("daily", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(
            sa.Column("weekly", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("next_weekly_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("next_instant_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("instant_seen_until", UTCDateTime(), nullable=True))
        batch_op.create_index("ix_chats_next_weekly_at", ["next_weekly_at"], unique=False)
    op.create_table(
        "chat_instant_topics",
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=False),
        _chat_fk("chat_instant_topics"),
        sa.PrimaryKeyConstraint("chat_id", "topic", name=op.f("pk_chat_instant_topics")),
    )
    op.create_table(
        "chat_keywords",
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("lemma", sa.String(length=64), nullable=False),
        sa.Column("include", sa.Boolean(), nullable=False),
        sa.Column("word", sa.String(length=64), nullable=False),
        _chat_fk("chat_keywords"),
        sa.PrimaryKeyConstraint("chat_id", "lemma", name=op.f("pk_chat_keywords")),
    )
    op.create_table(
        "chat_regions",
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("region", sa.String(length=16), nullable=False),
        _chat_fk("chat_regions"),
        sa.PrimaryKeyConstraint("chat_id", "region", name=op.f("pk_chat_regions")),
    )
    op.create_table(
        "chat_topic_bindings",
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("country", sa.String(length=8), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=False),
        _chat_fk("chat_topic_bindings"),
        sa.PrimaryKeyConstraint("chat_id", "country", name=op.f("pk_chat_topic_bindings")),
    )
    op.create_table(
        "media",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("filename", sa.String(length=100), nullable=False),
        sa.Column("telegram_file_id", sa.String(length=200), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media")),
        sa.UniqueConstraint("sha256", name=op.f("uq_media_sha256")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("thread_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("media_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_media_id_media"), "media", ["media_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_outbox_media_id_media"), type_="foreignkey")
        batch_op.drop_column("media_id")
        batch_op.drop_column("thread_id")
    op.drop_table("media")
    op.drop_table("chat_topic_bindings")
    op.drop_table("chat_regions")
    op.drop_table("chat_keywords")
    op.drop_table("chat_instant_topics")
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.drop_index("ix_chats_next_weekly_at")
        batch_op.drop_column("instant_seen_until")
        batch_op.drop_column("next_instant_at")
        batch_op.drop_column("next_weekly_at")
        batch_op.drop_column("weekly")
        batch_op.drop_column("daily")
