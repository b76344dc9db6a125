"""The audit log: who read or changed what, when. Append-only and hash-chained (core/audit.py).

No personal data: no request bodies, no query strings, only the fields below.
"""

from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel


class AuditRow(SQLModel, table=True):
    """One request: its actor (null when unauthenticated), target, outcome and chain link."""

    __tablename__ = "audit_log"
    # SQLite: never reuse the id of a deleted last row, so a deletion leaves a visible gap.
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, index=True))
    user_id: str | None = Field(default=None, max_length=100, index=True)
    role: str | None = Field(default=None, max_length=32)
    area: str | None = Field(default=None, max_length=40)
    method: str = Field(max_length=10)
    path: str = Field(max_length=300)
    reference: str | None = Field(default=None, max_length=40, index=True)
    action: str | None = Field(default=None, max_length=64)
    status: int
    request_id: str = Field(max_length=100, index=True)
    # Unique: two entries can never follow the same one, so the chain cannot fork.
    prev_hash: str = Field(max_length=64, unique=True)
    hash: str = Field(max_length=64)
