"""Staff profiles (contact details, absences and deputies) and, in the outbox, whom each
staff message went to: the person the case names, their deputy, or the role's mailbox.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Nullable: rows sent before this revision do not say how they were routed.
OUTBOX_COLUMNS = {"recipient_user": 100, "routed_as": 20}


def upgrade() -> None:
    # A database adopted from create_schema (migrations/__init__.py) may hold either already.
    inspector = sa.inspect(op.get_bind())
    if "staff_profiles" not in inspector.get_table_names():
        op.create_table(
            "staff_profiles",
            sa.Column("user_id", sa.String(length=100), nullable=False),
            sa.Column("display_name", sa.String(length=200), nullable=False),
            sa.Column("email", sa.String(length=254), nullable=True),
            sa.Column("phone", sa.String(length=20), nullable=True),
            sa.Column("role", sa.String(length=32), nullable=False),
            sa.Column("area", sa.String(length=40), nullable=False),
            sa.Column("active", sa.Boolean(), nullable=False),
            sa.Column("absent_from", sa.Date(), nullable=True),
            sa.Column("absent_to", sa.Date(), nullable=True),
            sa.Column("deputy_user_id", sa.String(length=100), nullable=True),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("user_id"),
        )
        op.create_index("ix_staff_profiles_area", "staff_profiles", ["area"])
    present = {column["name"] for column in inspector.get_columns("outbox")}
    with op.batch_alter_table("outbox") as outbox:
        for name, length in OUTBOX_COLUMNS.items():
            if name not in present:
                outbox.add_column(sa.Column(name, sa.String(length=length), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as outbox:
        for name in OUTBOX_COLUMNS:
            outbox.drop_column(name)
    op.drop_index("ix_staff_profiles_area", table_name="staff_profiles")
    op.drop_table("staff_profiles")
