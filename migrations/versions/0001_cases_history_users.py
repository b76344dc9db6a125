"""The first read model: cases, their history, local users.

The tables as the first releases created them (models/tables.py at commits 7d1cd97 and
a5f5cf9), before migrations existed.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("police_area", sa.String(length=40), nullable=False),
        sa.Column("cps_area", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("stalking", sa.Boolean(), nullable=False),
        sa.Column("domestic_abuse", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("complainants", sa.Integer(), nullable=False),
        sa.Column("charges", sa.String(length=500), nullable=False),
        sa.Column("linked_cases", sa.String(length=2000), nullable=False),
        sa.Column("next_deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("reference"),
    )
    op.create_index("ix_cases_area_state", "cases", ["police_area", "state"])
    op.create_index("ix_cases_state_since", "cases", ["state", "state_since"])
    op.create_index("ix_cases_cps_area", "cases", ["cps_area"])
    op.create_index("ix_cases_next_deadline", "cases", ["next_deadline"])
    op.create_index("ix_cases_overdue", "cases", ["overdue"])

    op.create_table(
        "case_history",
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("actor_id", sa.String(length=100), nullable=False),
        sa.Column("actor_role", sa.String(length=32), nullable=False),
        sa.Column("state_before", sa.String(length=32), nullable=False),
        sa.Column("state_after", sa.String(length=32), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("reference", "version"),
    )
    op.create_index("ix_case_history_at", "case_history", ["at"])

    op.create_table(
        "users",
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("area", sa.String(length=40), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("username"),
    )


def downgrade() -> None:
    op.drop_table("users")
    op.drop_index("ix_case_history_at", table_name="case_history")
    op.drop_table("case_history")
    for index in ("ix_cases_overdue", "ix_cases_next_deadline", "ix_cases_cps_area",
                  "ix_cases_state_since", "ix_cases_area_state"):
        op.drop_index(index, table_name="cases")
    op.drop_table("cases")
