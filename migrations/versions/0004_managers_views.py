"""Managers' views: case deadlines, report facts and the sweeper's stuck-case alerts.

The tables are declared in models/monitoring.py. They fill as each case is next projected
(or at once with `cases-admin rebuild-read-model`); alerts appear at the sweeper's next run.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "case_deadlines",
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("deadline_id", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("owner_role", sa.String(length=32), nullable=False),
        _when("due_at"), _when("remind_at"), _when("opened_at", nullable=False),
        _when("reminded_at"), _when("escalated_at"), _when("met_at"),
        sa.Column("failing", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("reference", "deadline_id"),
    )
    op.create_index("ix_case_deadlines_escalated_at", "case_deadlines", ["escalated_at"])
    op.create_index("ix_case_deadlines_kind", "case_deadlines", ["kind"])
    op.create_index("ix_case_deadlines_open_escalated", "case_deadlines", ["met_at", "escalated_at"])
    op.create_index("ix_case_deadlines_open_failing", "case_deadlines", ["met_at", "failing"])
    op.create_table(
        "case_facts",
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("fact_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        _when("at", nullable=False),
        sa.Column("detail", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("reference", "fact_id"),
    )
    op.create_index("ix_case_facts_kind_at", "case_facts", ["kind", "at"])
    op.create_table(
        "stuck_alerts",
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("alert_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("police_area", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=True),
        _when("state_since"),
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_failure", sa.String(length=300), nullable=True),
        _when("first_seen", nullable=False), _when("last_seen", nullable=False),
        _when("cleared_at"),
        sa.PrimaryKeyConstraint("reference", "alert_id"),
    )
    op.create_index("ix_stuck_alerts_area_open", "stuck_alerts", ["police_area", "cleared_at"])


def downgrade() -> None:
    op.drop_index("ix_stuck_alerts_area_open", table_name="stuck_alerts")
    op.drop_table("stuck_alerts")
    op.drop_index("ix_case_facts_kind_at", table_name="case_facts")
    op.drop_table("case_facts")
    for name in ("open_failing", "open_escalated", "kind", "escalated_at"):
        op.drop_index(f"ix_case_deadlines_{name}", table_name="case_deadlines")
    op.drop_table("case_deadlines")
