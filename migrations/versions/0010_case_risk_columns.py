"""The managers' lists show each case's risk and the case page its orders in force: the case's
highest latest risk level, whether its suspect is a repeat perpetrator, and its orders not
revoked or ended (JSON, without their conditions). Nullable or defaulted, so rows already there
stay valid; each is filled as its case is next projected (`cases-admin rebuild-read-model`
fills them at once). And an index for the due-soon list: open deadlines by due date.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


NEW_COLUMNS = [
    sa.Column("risk_level", sa.String(length=16), nullable=True),
    sa.Column("repeat_perpetrator", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("orders_in_force", sa.Text(), nullable=True),
]
DUE_INDEX = "ix_case_deadlines_open_due"


def upgrade() -> None:
    # Only what is missing: an API that started before `cases-admin migrate` may have made
    # the columns from the models already (core.db.create_schema).
    inspector = sa.inspect(op.get_bind())
    existing = {c["name"] for c in inspector.get_columns("cases")}
    missing = [c for c in NEW_COLUMNS if c.name not in existing]
    if missing:
        with op.batch_alter_table("cases") as batch:
            for column in missing:
                batch.add_column(column)
    if DUE_INDEX not in {i["name"] for i in inspector.get_indexes("case_deadlines")}:
        op.create_index(DUE_INDEX, "case_deadlines", ["met_at", "due_at"])


def downgrade() -> None:
    op.drop_index(DUE_INDEX, table_name="case_deadlines")
    with op.batch_alter_table("cases") as batch:
        for column in ("orders_in_force", "repeat_perpetrator", "risk_level"):
            batch.drop_column(column)
