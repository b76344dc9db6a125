"""GET /cases/due-soon: the deadlines of your area due in the next working days, soonest
first, each with the person whose move it is (readmodel/due_soon.py)."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.auth import CurrentUser
from api.deps import SessionDep
from api.responses import AUTHENTICATED, MALFORMED, responses
from readmodel.due_soon import DUE_SOON_WORKING_DAYS, DueSoon, due_soon

router = APIRouter(prefix="/cases", tags=["managers"],
                   responses=responses(AUTHENTICATED, MALFORMED))


class DueSoonList(BaseModel):
    as_of: datetime
    until: datetime = Field(description="The end of the last working day counted (UTC).")
    total: int
    limit: int
    offset: int
    items: list[DueSoon]


@router.get("/due-soon", response_model=DueSoonList)
def list_due_soon(
    actor: CurrentUser, session: SessionDep,
    working_days: Annotated[int, Query(ge=1, le=20, description=(
        "England and Wales working days after today to look ahead."))] = DUE_SOON_WORKING_DAYS,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    # Bounded so the database is never handed a number it cannot hold (a 500, not a 422).
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> DueSoonList:
    """List the open deadlines of your area due from now to the end of the n-th working day
    after today, soonest first, with whose move each is and the case's risk."""
    now = datetime.now(UTC)
    page = due_soon(session, actor.area, now, working_days, limit=limit, offset=offset)
    return DueSoonList(as_of=now, until=page.until, total=page.total, limit=limit,
                       offset=offset, items=page.items)
