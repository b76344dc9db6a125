"""Read-model tables for managers' views: deadlines, report facts and stuck-case alerts.

Each is projected from the case file (or, for alerts, recorded by the sweeper), so the stuck
list and the reports answer from indexed SQL and never from the workflows one by one. No
personal data: complainants appear only by their id (C1), never by name or contact.
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel


class Reason(StrEnum):
    """Why a case is on the stuck list (readmodel/stuck.py decides it). The sweeper records its
    alerts under the last three as their kind (AlertRow.kind)."""

    OVER_SERVICE_LEVEL = "over_service_level"
    OVERDUE_DEADLINE = "overdue_deadline"
    FAILING_ACTIVITY = "failing_activity"
    FAILING_WORKFLOW_TASK = "failing_workflow_task"
    WORKFLOW_ENDED = "workflow_ended"


REASON_LABELS = {
    Reason.OVER_SERVICE_LEVEL: "Over service level",
    Reason.OVERDUE_DEADLINE: "Overdue deadline",
    Reason.FAILING_ACTIVITY: "Failing activity",
    Reason.FAILING_WORKFLOW_TASK: "Failing workflow task",
    Reason.WORKFLOW_ENDED: "Workflow ended",
}

# The index's copy of readmodel.stuck.problem_deadline(): an index condition must be fixed text
# (and migration 0005 froze it). tests/test_stuck_page.py holds the two to the same SQL.
PROBLEM_DEADLINE = "met_at IS NULL AND (escalated_at IS NOT NULL OR failing IS NOT NULL)"


class DeadlineRow(SQLModel, table=True):
    """One deadline of a case, open or met, with what the workflow did about it."""

    __tablename__ = "case_deadlines"
    __table_args__ = (
        # The stuck list asks "still open and escalated" and "still open and failing".
        Index("ix_case_deadlines_open_escalated", "met_at", "escalated_at"),
        Index("ix_case_deadlines_open_failing", "met_at", "failing"),
        # The due-soon list asks "still open and due between now and then" (readmodel/due_soon.py).
        Index("ix_case_deadlines_open_due", "met_at", "due_at"),
        # Every case with a problem deadline, which the stuck list's walk tests each case
        # against: small (only open problems), and read without touching the table.
        Index("ix_case_deadlines_problem", "reference",
              postgresql_where=text(PROBLEM_DEADLINE), sqlite_where=text(PROBLEM_DEADLINE)),
    )

    reference: str = Field(primary_key=True, max_length=40)
    deadline_id: str = Field(primary_key=True, max_length=200)
    version: int = Field(description="The case version this row was last projected from.")
    kind: str = Field(max_length=64, index=True)
    rule: str = Field(default="", max_length=40)
    description: str = Field(default="", max_length=500)
    owner_role: str = Field(default="", max_length=32)
    due_at: datetime | None = None
    remind_at: datetime | None = None
    opened_at: datetime
    reminded_at: datetime | None = None
    escalated_at: datetime | None = Field(default=None, index=True)
    met_at: datetime | None = None
    failing: str | None = Field(default=None, max_length=300)


class FactRow(SQLModel, table=True):
    """A dated fact the reports count that the history rows alone do not carry: each offence
    charged, each order made, each prosecution outcome."""

    __tablename__ = "case_facts"
    __table_args__ = (Index("ix_case_facts_kind_at", "kind", "at"),)

    reference: str = Field(primary_key=True, max_length=40)
    fact_id: str = Field(primary_key=True, max_length=200)
    kind: str = Field(max_length=40)
    at: datetime
    detail: str = Field(default="", max_length=100)


class AlertRow(SQLModel, table=True):
    """Something the sweeper saw go wrong in a running case workflow: an activity that keeps
    failing, or a workflow task that keeps failing. Cleared when it is seen to be fine."""

    __tablename__ = "stuck_alerts"
    __table_args__ = (Index("ix_stuck_alerts_area_open", "police_area", "cleared_at"),)

    reference: str = Field(primary_key=True, max_length=40)
    alert_id: str = Field(primary_key=True, max_length=200,
                          description="kind:activity type, e.g. activity:project_case")
    kind: str = Field(max_length=32, description="A Reason: failing_activity, "
                                               "failing_workflow_task or workflow_ended")
    police_area: str = Field(default="", max_length=40)
    state: str | None = Field(default=None, max_length=32)
    state_since: datetime | None = None
    subject: str = Field(default="", max_length=100, description="The activity type, if any.")
    attempts: int = 0
    last_failure: str | None = Field(default=None, max_length=300)
    first_seen: datetime
    last_seen: datetime
    cleared_at: datetime | None = None
