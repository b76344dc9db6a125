"""A person's work over HTTP: my deadlines and my cases, and handing one person's cases to
another in one request (leave, a move, a long absence: §6.4's succession planning)."""

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Header, Query, Request
from pydantic import BaseModel, Field

from api.auth import CurrentUser
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.handover import Reassignment, hand_over
from api.redaction import sees_contact_details
from api.responses import AUTHENTICATED, FORBIDDEN, MALFORMED, WITH_BODY, responses
from readmodel.work import MyCase, MyDeadline, WorkFilter, my_cases, my_deadlines

router = APIRouter(tags=["work"], responses=AUTHENTICATED)


class MyWork(BaseModel):
    deadlines_total: int = Field(description="Open deadlines you own, before paging.")
    deadlines: list[MyDeadline] = Field(description="Soonest due first: overdue ones first.")
    awaiting_total: int = Field(description="Open cases whose next step is yours.")
    awaiting_my_move: list[MyCase] = Field(description="The first of them, longest waiting first.")
    limit: int
    offset: int


class MyCases(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[MyCase]


@router.get("/me/work", response_model=MyWork, responses=MALFORMED)
def read_my_work(
    actor: CurrentUser, session: SessionDep,
    overdue_only: bool = False,
    due_before: Annotated[datetime | None, Query(description="Only deadlines due before this.")] = None,
    kind: Annotated[str | None, Query(max_length=64, description="One deadline kind.")] = None,
    reference: Annotated[str | None, Query(max_length=40, description="One case.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> MyWork:
    """Your work: the open deadlines of the cases that name you for their owner's role
    (overdue first, then due soonest), and the cases awaiting your move."""
    now = datetime.now(UTC)
    if due_before is not None and due_before.tzinfo is None:
        due_before = due_before.replace(tzinfo=UTC)
    only = WorkFilter(overdue_only=overdue_only, due_before=due_before, kind=kind,
                      reference=reference)
    total, deadlines = my_deadlines(session, actor.user_id, actor.area, now, only, limit, offset)
    if not sees_contact_details(actor):
        # A description can be free text as typed (an action-plan item): a role that may not
        # read contact details gets the deadline's kind, as the workspace shows it.
        deadlines = [d.model_copy(update={"description": d.kind.replace("_", " ")})
                     for d in deadlines]
    awaiting_total, awaiting = my_cases(session, actor.user_id, actor.area, awaiting_only=True,
                                        limit=50)
    return MyWork(deadlines_total=total, deadlines=deadlines, awaiting_total=awaiting_total,
                  awaiting_my_move=awaiting, limit=limit, offset=offset)


@router.get("/me/cases", response_model=MyCases, responses=MALFORMED)
def read_my_cases(
    actor: CurrentUser, session: SessionDep,
    awaiting_my_move: bool = False,
    include_closed: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> MyCases:
    """The cases of your area that name you in their team, longest in their state first."""
    total, items = my_cases(session, actor.user_id, actor.area, awaiting_only=awaiting_my_move,
                            include_closed=include_closed, limit=limit, offset=offset)
    return MyCases(total=total, limit=limit, offset=offset, items=items)


class Moved(BaseModel):
    reference: str
    role: str
    version: int | None = None
    refused: str | None = Field(default=None, description="Why it was not moved (rule: "
                                                          "sentence); it stays as it was.")


class ReassignmentResult(BaseModel):
    from_user: str
    to_user: str
    moved: list[Moved] = Field(description="Every case and role handed over, with the version "
                                           "the case reached.")
    refused: list[Moved] = Field(default_factory=list)
    not_known: list[Moved] = Field(default_factory=list, description=(
        "Cases the case service did not answer for in time: they may still move. Send the same "
        "request again with the Idempotency-Key below: each case moves once."))
    idempotency_key: str = Field(description="The key this handover ran under (the one sent, "
                                              "or the one made for a request sent without).")


@router.post("/people/{user_id}/reassign", response_model=ReassignmentResult,
             responses=responses(FORBIDDEN, WITH_BODY, MALFORMED,
                                 s403="Only a manager of the area hands cases over."))
async def reassign_all(
    user_id: str, body: Annotated[Reassignment, Body()], actor: CurrentUser,
    client: TemporalDep, settings: SettingsDep, http: Request,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=60)] = None,
) -> ReassignmentResult:
    """Hand every open case of your area that names `user_id` to another person, in one
    request: each case records who handed it over, when and why, and its open deadlines move
    with the role. Send an Idempotency-Key to make a retry safe (each case moves once)."""
    key = idempotency_key or uuid.uuid4().hex
    handed = await hand_over(http, client, settings, actor, user_id, body, key)
    return ReassignmentResult(
        from_user=user_id, to_user=body.to_user, idempotency_key=key,
        moved=[Moved(reference=h.reference, role=h.role, version=h.version)
               for h in handed if h.moved],
        refused=[Moved(reference=h.reference, role=h.role, refused=f"{h.rule}: {h.message}")
                 for h in handed if h.refused],
        not_known=[Moved(reference=h.reference, role=h.role, refused=f"{h.rule}: {h.message}")
                   for h in handed if h.not_known])
