"""facts backfill: the extractor version each article's facts come from

Articles stored before facts were extracted, or by an older extractor, have a null or lower
`facts_version`; the backfill extracts their facts again in small batches.

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("facts_version", sa.Integer(), nullable=True))
    op.create_index("ix_articles_facts_version", "articles", ["facts_version"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_articles_facts_version", table_name="articles")
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("facts_version")
