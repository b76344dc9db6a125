"""The case's whole log lives in case_history: reasons, what each action recorded, the actor's
area, the rules and the request id (unique per case, so a retry is found in any run).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_history") as batch:
        batch.add_column(sa.Column("actor_area", sa.String(length=40), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("reasons", sa.Text(), nullable=True))
        batch.add_column(sa.Column("detail", sa.Text(), nullable=True))
        batch.add_column(sa.Column("request_id", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("rules", sa.String(length=200), nullable=False,
                                   server_default=""))
    op.create_index("ix_case_history_request", "case_history", ["reference", "request_id"],
                    unique=True)


def downgrade() -> None:
    op.drop_index("ix_case_history_request", table_name="case_history")
    with op.batch_alter_table("case_history") as batch:
        for column in ("rules", "request_id", "detail", "reasons", "actor_area"):
            batch.drop_column(column)
