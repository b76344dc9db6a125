"""The case team: who each case names for each team role (officer in the case, police SPOC,
prosecutor, CPS SPOC, witness care officer), for work queues and the stuck list. Filled as
each case is next projected; `cases-admin rebuild-read-model` fills it at once.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A database adopted from create_schema (migrations/__init__.py) may hold it already.
    if "case_team" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "case_team",
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("reference", "role"),
    )
    op.create_index("ix_case_team_user_id", "case_team", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_case_team_user_id", table_name="case_team")
    op.drop_table("case_team")
