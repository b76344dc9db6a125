"""Cases: open, list, read, act on, and read the history of a case."""

import asyncio
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    BackgroundTasks,
    Body,
    Header,
    Query,
    Request,
    Response,
    status,
)
from pydantic import BaseModel, Field
from sqlalchemy import Engine, or_
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, func, select
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api import audit
from api.acting import ActionResponse, take_action
from api.auth import CurrentUser
from api.case_access import read_case_file
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.errors import from_rpc_error, refusal_http, unavailable
from api.examples import openapi_examples
from api.redaction import visible_case, visible_history
from api.responses import (
    AUTHENTICATED,
    FORBIDDEN,
    MALFORMED,
    ONE_CASE,
    REFUSED,
    WITH_BODY,
    responses,
)
from models.actions import Action, ActionRequest, CaseWorkflowInput, NewCase
from models.case import HistoryEntry
from models.enums import POLICE_ROLES, CaseState
from models.tables import CaseRow
from readmodel.history import history_page, with_pending
from workflows.case import CaseWorkflow, case_workflow_id

router = APIRouter(prefix="/cases", tags=["cases"], responses=AUTHENTICATED)


class ActionBody(BaseModel):
    """An action on a case, with optional reasons for the history."""

    model_config = {"extra": "forbid"}
    action: Action
    reasons: str | None = Field(default=None, max_length=5000)


class CaseSummary(BaseModel):
    reference: str
    police_area: str
    cps_area: str
    state: str
    outcome: str | None
    stalking: bool
    domestic_abuse: bool
    version: int
    opened_at: datetime
    state_since: datetime
    next_deadline: datetime | None = None
    overdue: bool = False


class CaseList(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[CaseSummary]


@router.post("", status_code=201, response_model=dict[str, Any], responses={
    200: {"description": "The case already existed (the same details)."},
    **responses(FORBIDDEN, WITH_BODY, MALFORMED, ONE_CASE,
                s404="The reference is taken by another area's case.",
                s409="The reference is taken by a case opened with other details.")})
async def open_case(new_case: NewCase, actor: CurrentUser, client: TemporalDep,
                    settings: SettingsDep, response: Response, http: Request) -> dict[str, Any]:
    """Open a case and start its workflow. The same body again answers the existing case (200);
    another body under a reference already taken is refused (409), changing nothing."""
    audit.note(http, reference=new_case.reference)
    if actor.role not in POLICE_ROLES:
        raise refusal_http("ACCESS", "Cases are opened by the police (officer in the case or SPOC).")
    if actor.area != new_case.police_area:
        raise refusal_http("ACCESS", "You can open cases only in your own police area.")
    new_case = new_case.model_copy(update={"opened_by": actor})
    try:
        handle = await client.start_workflow(
            CaseWorkflow.run,
            CaseWorkflowInput(new_case=new_case,
                              index_search_attributes=settings.index_search_attributes,
                              policy=settings.deadline_policy(new_case.police_area),
                              projection_backstop_seconds=settings.projection_backstop_seconds,
                              bounded_runs=True),
            id=case_workflow_id(new_case.reference), task_queue=settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except WorkflowAlreadyStartedError:
        existing = await read_case_file(client, new_case.reference, actor)
        if existing.opened_with and existing.opened_with != new_case.fingerprint():
            raise refusal_http("CONFLICT", (
                f"The reference {new_case.reference} is taken by a case opened with other "
                "details; nothing was changed. Choose another reference, or send the same "
                "details to read that case.")) from None
        response.status_code = status.HTTP_200_OK
        return visible_case(existing, actor)
    return visible_case(await handle.query(CaseWorkflow.snapshot), actor)


@router.get("", response_model=CaseList, responses=MALFORMED)
def list_cases(
    actor: CurrentUser, session: SessionDep,
    state: CaseState | None = None,
    stalking: bool | None = None,
    domestic_abuse: bool | None = None,
    overdue: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    # Bounded so the database is never handed a number it cannot hold (a 500, not a 422).
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> CaseList:
    """List the cases of your area from the read model, newest state change first."""
    query = select(CaseRow).where(or_(col(CaseRow.police_area) == actor.area,
                                      col(CaseRow.cps_area) == actor.area))
    for column, value in ((CaseRow.state, state), (CaseRow.stalking, stalking),
                          (CaseRow.domestic_abuse, domestic_abuse), (CaseRow.overdue, overdue)):
        if value is not None:
            query = query.where(col(column) == value)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(CaseRow.state_since).desc(), col(CaseRow.reference))
                        .limit(limit).offset(offset)).all()
    return CaseList(total=total, limit=limit, offset=offset,
                    items=[CaseSummary.model_validate(r, from_attributes=True) for r in rows])


@router.get("/{reference}", response_model=dict[str, Any], responses=ONE_CASE)
async def read_case(reference: str, actor: CurrentUser, client: TemporalDep) -> dict[str, Any]:
    """The case's facts as they stand now, from its workflow (always up to date). Its history
    is at /history."""
    return visible_case(await read_case_file(client, reference, actor), actor)


@router.get("/{reference}/history", response_model=list[HistoryEntry],
            responses=responses(ONE_CASE, MALFORMED))
async def read_history(
    reference: str, actor: CurrentUser, client: TemporalDep, http: Request, response: Response,
    after: Annotated[int, Query(ge=0, le=2**31 - 1, description="Entries after this version.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[HistoryEntry]:
    """The case's accepted actions, oldest first, a page at a time: who, when, what and why.

    Read from the read model, with the entries the workflow has not yet seen confirmed there,
    so an action just answered is always in it. The `X-Next-After` header gives the `after`
    of the next page, when there is one.
    """
    case = await read_case_file(client, reference, actor)
    handle = client.get_workflow_handle(case_workflow_id(reference))
    try:
        pending = await handle.query(CaseWorkflow.unprojected)
    except RPCError as err:
        raise from_rpc_error(err, reference) from err
    try:
        stored = await asyncio.to_thread(_history_page, http.app.state.engine, reference, after,
                                         limit + 1)
    except SQLAlchemyError as err:
        raise unavailable("The case database is unreachable; the case's history is "
                          "unavailable for now. Its facts and actions still work.") from err
    page, more = with_pending(stored, pending, after, limit)
    if more:
        response.headers["X-Next-After"] = str(page[-1].version)
    return visible_history(page, case, actor)


def _history_page(engine: Engine, reference: str, after: int, limit: int) -> list[HistoryEntry]:
    with Session(engine) as session:
        return history_page(session, reference, after, limit)


_ACTION_ERRORS = responses(
    ONE_CASE, FORBIDDEN, REFUSED, WITH_BODY, MALFORMED,
    s403="Not your role.",
    s503="Try again: the same Idempotency-Key (detail.request_id) applies it once. Retry-After "
         "says when.")


@router.post("/{reference}/actions", response_model=ActionResponse, responses=_ACTION_ERRORS)
async def act(
    reference: str, actor: CurrentUser, client: TemporalDep, settings: SettingsDep,
    body: Annotated[ActionBody, Body(openapi_examples=openapi_examples())], http: Request,
    background: BackgroundTasks, response: Response,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=100)] = None,
) -> ActionResponse:
    """Take an action on a case. A refused action changes nothing and says which rule refused it.

    Send an Idempotency-Key header to make a retried request safe: the same key is applied
    once, in any run of the case, and a repeat is answered with the first answer (`repeated`).
    Without one, the service chooses an id and returns it (`request_id`, and in every 503 body
    and the `Idempotency-Key` header): send it as the Idempotency-Key of a retry.
    """
    audit.note(http, action=body.action.kind)
    request = ActionRequest(request_id=idempotency_key or str(uuid.uuid4()), actor=actor,
                            action=body.action, reasons=body.reasons, reference=reference)
    response.headers["Idempotency-Key"] = request.request_id
    taken = await take_action(client, http.app.state.engine, settings, request,
                              known_key=idempotency_key is not None)
    if taken.project is not None:
        # After the response is sent: the read model from the answer (the workflow backstops).
        background.add_task(taken.project)
    return taken.answer
