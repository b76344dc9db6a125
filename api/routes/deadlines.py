"""A case's open deadlines and the messages sent about it."""

from datetime import UTC, datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlmodel import col, select

from api.auth import CurrentUser
from api.case_access import read_case_file
from api.deps import SessionDep, TemporalDep
from api.redaction import SEES_CONTACT_DETAILS, WITHHELD
from api.responses import AUTHENTICATED, ONE_CASE, responses
from models.deadlines import Deadline, DeadlineMarks
from models.tables import OutboxRow

router = APIRouter(prefix="/cases", tags=["deadlines"],
                   responses=responses(AUTHENTICATED, ONE_CASE))


class OpenDeadline(BaseModel):
    deadline: Deadline
    marks: DeadlineMarks
    overdue: bool


class SentMessage(BaseModel):
    created_at: datetime
    audience: str
    channel: str
    recipient: str
    subject: str
    deadline_id: str | None
    status: str
    routed_as: str | None = Field(default=None, description=(
        "A staff message's route: owner (the person the case names), deputy (theirs, while "
        "they are away) or role_mailbox."))
    recipient_user: str | None = Field(default=None, description="Whose address it went to.")


@router.get("/{reference}/deadlines", response_model=list[OpenDeadline])
async def open_deadlines(reference: str, actor: CurrentUser,
                         client: TemporalDep) -> list[OpenDeadline]:
    """The case's open deadlines, soonest first: due time, owner, reminded and escalated."""
    case = await read_case_file(client, reference, actor)
    now = datetime.now(UTC)
    return [OpenDeadline(deadline=d, marks=case.deadline_marks[d.deadline_id],
                         overdue=d.due_at <= now) for d in case.deadlines]


@router.get("/{reference}/notifications", response_model=list[SentMessage])
async def sent_messages(reference: str, actor: CurrentUser, client: TemporalDep,
                        session: SessionDep) -> list[SentMessage]:
    """The outbox for this case: every reminder, escalation and message to a complainant."""
    await read_case_file(client, reference, actor)  # the area check
    rows = session.exec(select(OutboxRow).where(OutboxRow.reference == reference)
                        .order_by(col(OutboxRow.created_at))).all()
    hide = actor.role not in SEES_CONTACT_DETAILS
    return [SentMessage(
        created_at=r.created_at, audience=r.audience, channel=r.channel,
        recipient=WITHHELD if hide and r.audience == "complainant" else r.recipient,
        subject=r.subject, deadline_id=r.deadline_id, status=r.status, routed_as=r.routed_as,
        recipient_user=r.recipient_user) for r in rows]
