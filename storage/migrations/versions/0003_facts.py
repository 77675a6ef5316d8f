"""facts: agreements and trade figures with their countries and source articles

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "facts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("countries", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("parties", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("indicator", sa.String(length=32), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("unit", sa.String(length=100), nullable=True),
        sa.Column("change", sa.Boolean(), nullable=True),
        sa.Column("period", sa.String(length=200), nullable=True),
        sa.Column("sort_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facts")),
        sa.UniqueConstraint("key", name=op.f("uq_facts_key")),
    )
    op.create_table(
        "fact_countries",
        sa.Column("fact_id", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sort_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["fact_id"],
            ["facts.id"],
            name=op.f("fk_fact_countries_fact_id_facts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("fact_id", "country", name=op.f("pk_fact_countries")),
    )
    op.create_index(
        "ix_fact_countries_country", "fact_countries", ["country", "kind", "sort_at"], unique=False
    )
    op.create_table(
        "fact_sources",
        sa.Column("fact_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_fact_sources_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["fact_id"],
            ["facts.id"],
            name=op.f("fk_fact_sources_fact_id_facts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("fact_id", "article_id", name=op.f("pk_fact_sources")),
    )
    op.create_index(
        op.f("ix_fact_sources_article_id"), "fact_sources", ["article_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_fact_sources_article_id"), table_name="fact_sources")
    op.drop_table("fact_sources")
    op.drop_index("ix_fact_countries_country", table_name="fact_countries")
    op.drop_table("fact_countries")
    op.drop_table("facts")
