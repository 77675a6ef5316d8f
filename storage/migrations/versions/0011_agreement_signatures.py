"""agreement signatures: what tells one agreement from another when outlets word it
differently

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04

Two outlets' reports of one agreement have one key only when they word its subject alike
(«соглашение о сотрудничестве» and «соглашение о торгово-экономическом и культурном
сотрудничестве» do not): the register listed such an agreement twice. Each agreement now
keeps its document, the content lemmas of its subject and the names of its parties, and a
new report much like a stored agreement of the same week joins it as one more source.
Stored agreements get theirs when the facts backfill reads their articles again
(tagging.facts.FACTS_VERSION 4).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("facts") as batch:
        batch.add_column(sa.Column("signature", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("facts") as batch:
        batch.drop_column("signature")
