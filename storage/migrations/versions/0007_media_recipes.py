"""media drawn when first sent: a picture may be stored as its recipe, content added later

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.alter_column("content", existing_type=sa.LargeBinary(), nullable=True)
        batch_op.add_column(sa.Column("recipe", sa.Text(), nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM media WHERE content IS NULL")
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_column("recipe")
        batch_op.alter_column("content", existing_type=sa.LargeBinary(), nullable=False)
