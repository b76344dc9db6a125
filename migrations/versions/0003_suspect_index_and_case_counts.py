"""P3.8: the suspect index; cases count their orders and breaches.

Added by commit 27a1067 (models/tables.py SuspectRow, CaseRow.orders_made and .breaches).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as cases:
        # Rows already projected count as none until their case's next projection rewrites them
        # (or `cases-admin rebuild-read-model`); the server default fills them in meanwhile.
        cases.add_column(sa.Column("orders_made", sa.Integer(), nullable=False,
                                   server_default="0"))
        cases.add_column(sa.Column("breaches", sa.Integer(), nullable=False, server_default="0"))

    op.create_table(
        "suspect_index",
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("suspect_id", sa.String(length=64), nullable=False),
        sa.Column("police_area", sa.String(length=40), nullable=False),
        sa.Column("norm_name", sa.String(length=200), nullable=False),
        sa.Column("surname", sa.String(length=100), nullable=False),
        sa.Column("date_of_birth", sa.String(length=10), nullable=True),
        sa.Column("identifiers", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("reference", "suspect_id"),
    )
    op.create_index("ix_suspect_index_norm_name", "suspect_index", ["norm_name"])
    op.create_index("ix_suspect_index_surname", "suspect_index", ["surname"])


def downgrade() -> None:
    op.drop_index("ix_suspect_index_surname", table_name="suspect_index")
    op.drop_index("ix_suspect_index_norm_name", table_name="suspect_index")
    op.drop_table("suspect_index")
    with op.batch_alter_table("cases") as cases:
        cases.drop_column("breaches")
        cases.drop_column("orders_made")
