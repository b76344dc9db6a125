"""The case's whole log lives in case_history: reasons, what each action recorded, the actor's
area, the rules and the request id (unique per case, so a retry is found in any run).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


NEW_COLUMNS = [
    sa.Column("actor_area", sa.String(length=40), nullable=False, server_default=""),
    sa.Column("reasons", sa.Text(), nullable=True),
    sa.Column("detail", sa.Text(), nullable=True),
    sa.Column("request_id", sa.String(length=100), nullable=True),
    sa.Column("rules", sa.String(length=200), nullable=False, server_default=""),
]


def upgrade() -> None:
    # Only what is missing: an API that started before `cases-admin migrate` may have made
    # the table from the models already (core.db.create_schema).
    inspector = sa.inspect(op.get_bind())
    existing = {c["name"] for c in inspector.get_columns("case_history")}
    missing = [c for c in NEW_COLUMNS if c.name not in existing]
    if missing:
        with op.batch_alter_table("case_history") as batch:
            for column in missing:
                batch.add_column(column)
    if "ix_case_history_request" not in {i["name"] for i in inspector.get_indexes("case_history")}:
        op.create_index("ix_case_history_request", "case_history", ["reference", "request_id"],
                        unique=True)


def downgrade() -> None:
    op.drop_index("ix_case_history_request", table_name="case_history")
    with op.batch_alter_table("case_history") as batch:
        for column in ("rules", "request_id", "detail", "reasons", "actor_area"):
            batch.drop_column(column)
