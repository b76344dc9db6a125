"""GET /cases/stuck: the stuck cases of your area, with every reason, age, owner and risk; the
rule and its queries are the read model's (readmodel/stuck.py, readmodel/stuck_page.py)."""

import asyncio
import logging
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from temporalio.service import RPCError

from api.auth import CurrentUser
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.responses import AUTHENTICATED, MALFORMED, responses
from core.ended_cases import record_ended
from models.enums import CaseState, Role
from models.monitoring import Reason
from readmodel.stuck import Sort, StuckCase
from readmodel.stuck_page import stuck_page

router = APIRouter(prefix="/cases", tags=["managers"],
                   responses=responses(AUTHENTICATED, MALFORMED))
log = logging.getLogger("api.stuck")

# How long the list waits for Temporal to say which of the area's workflows ended; past it (or
# with Temporal down) it answers from what is recorded, the sweeper's last findings included.
ENDED_LOOKUP_SECONDS = 3.0


async def record_area_ended(actor: CurrentUser, client: TemporalDep, http: Request) -> None:
    """Record the area's case workflows that ended without closing their case, so that the
    list shows them at once rather than at the next sweep."""
    try:
        await asyncio.wait_for(record_ended(client, http.app.state.engine, actor.area),
                               ENDED_LOOKUP_SECONDS)
    except (TimeoutError, RPCError, SQLAlchemyError) as err:
        # Temporal slow or down, or another writer recorded the same alert first: the list
        # answers from what is recorded.
        log.warning("stuck list: ended workflows not looked up (%s)", type(err).__name__)


class StuckList(BaseModel):
    as_of: datetime
    total: int = Field(description="Stuck cases in all, exact up to 200 (total_is_exact).")
    total_is_exact: bool = Field(description="False: there are more than `total`.")
    limit: int
    offset: int
    items: list[StuckCase]


@router.get("/stuck", response_model=StuckList)
def list_stuck(
    actor: CurrentUser, session: SessionDep, settings: SettingsDep,
    _ended: Annotated[None, Depends(record_area_ended)],
    reason: Reason | None = None,
    state: CaseState | None = None,
    owner: Annotated[Role | None, Query(description="Whose move it is.")] = None,
    unassigned: Annotated[bool, Query(description=(
        "Only the cases whose owner's role names nobody on the case team."))] = False,
    sort: Annotated[Sort, Query(description="age: longest in its state first; "
                                            "due: most overdue deadline first.")] = "age",
    # The same first page as GET /cases: 50, up to 500 a page.
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    # Bounded so the database is never handed a number it cannot hold (a 500, not a 422).
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> StuckList:
    """List the stuck cases of your area from the read model, each with every reason. A case
    whose workflow ended without closing it (terminated, failed, timed out, cancelled) is
    listed at once: the area's are looked up in Temporal first (record_area_ended)."""
    now = datetime.now(UTC)
    # One page built from SQL (bench: the whole list took 1.2 s at 100,000 cases).
    page = stuck_page(session, actor.area, settings.service_levels(actor.area), now,
                      reason=reason, state=state, owner=owner, sort=sort, limit=limit,
                      offset=offset, unassigned=unassigned)
    return StuckList(as_of=now, total=page.total, total_is_exact=page.total_is_exact,
                     limit=limit, offset=offset, items=page.items)
