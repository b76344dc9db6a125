"""The stuck list walks an area's cases in the order it lists them (readmodel/stuck.py).

Two indexes, one per way a case belongs to an area (its police area; its CPS area, for the
cases of another police area only), on (area, state since, reference, state): the first page
of the longest-stuck cases is then a short index-only range scan whatever the caseload; and a
partial index of the cases with an open problem deadline, which each case of the walk is
tested against. Measured in docs/benchmarks.md.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

PROBLEM_DEADLINE = "met_at IS NULL AND (escalated_at IS NOT NULL OR failing IS NOT NULL)"

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_cases_police_area_since", "cases",
                    ["police_area", "state_since", "reference", "state"])
    op.create_index("ix_cases_cps_area_other", "cases",
                    ["cps_area", "state_since", "reference", "state"],
                    postgresql_where=sa.text("police_area <> cps_area"),
                    sqlite_where=sa.text("police_area <> cps_area"))
    op.create_index("ix_case_deadlines_problem", "case_deadlines", ["reference"],
                    postgresql_where=sa.text(PROBLEM_DEADLINE),
                    sqlite_where=sa.text(PROBLEM_DEADLINE))


def downgrade() -> None:
    op.drop_index("ix_case_deadlines_problem", table_name="case_deadlines")
    op.drop_index("ix_cases_cps_area_other", table_name="cases")
    op.drop_index("ix_cases_police_area_since", table_name="cases")
