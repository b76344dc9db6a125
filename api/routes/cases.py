"""Cases: open, list, read, act on, and read the history of a case."""

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Body, Header, Query, Request, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import or_
from sqlmodel import col, func, select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api import audit
from api.auth import CurrentUser
from api.case_access import action_failure, read_case_file
from api.deps import SessionDep, SettingsDep, TemporalDep
from api.errors import from_update_failure, refusal_http
from api.examples import openapi_examples
from api.projection import project_answer
from api.redaction import visible_case, visible_history
from models.actions import Action, ActionRequest, ActionResult, CaseWorkflowInput, NewCase
from models.case import Actor, HistoryEntry
from models.enums import POLICE_ROLES, CaseState
from models.tables import CaseRow
from workflows.case import CaseWorkflow, case_workflow_id

router = APIRouter(prefix="/cases", tags=["cases"])


class ActionBody(BaseModel):
    """An action on a case, with optional reasons for the history."""

    model_config = {"extra": "forbid"}
    action: Action
    reasons: str | None = Field(default=None, max_length=5000)


class ActionResponse(BaseModel):
    version: int = Field(description="The case's version after the action.")
    state: CaseState
    case: dict[str, Any]


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


@router.post("", status_code=201, response_model=dict[str, Any],
             responses={200: {"description": "The case already existed (same reference)."}})
async def open_case(new_case: NewCase, actor: CurrentUser, client: TemporalDep,
                    settings: SettingsDep, response: Response, http: Request) -> dict[str, Any]:
    """Open a case and start its workflow; repeating a reference returns the existing case."""
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
                              projection_backstop_seconds=settings.projection_backstop_seconds),
            id=case_workflow_id(new_case.reference), task_queue=settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except WorkflowAlreadyStartedError:
        response.status_code = status.HTTP_200_OK
        return visible_case(await read_case_file(client, new_case.reference, actor), actor)
    return visible_case(await handle.query(CaseWorkflow.snapshot), actor)


@router.get("", response_model=CaseList)
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


@router.get("/{reference}", response_model=dict[str, Any])
async def read_case(reference: str, actor: CurrentUser, client: TemporalDep) -> dict[str, Any]:
    """The case as it stands now, from its workflow (always up to date)."""
    return visible_case(await read_case_file(client, reference, actor), actor)


@router.get("/{reference}/history", response_model=list[HistoryEntry])
async def read_history(reference: str, actor: CurrentUser,
                       client: TemporalDep) -> list[HistoryEntry]:
    """Every accepted action on the case: who, when, what and why."""
    return visible_history(await read_case_file(client, reference, actor), actor)


@router.post("/{reference}/actions", response_model=ActionResponse,
             responses={409: {"description": "Refused by a protocol rule (detail.rule)."},
                        403: {"description": "Not your case or not your role."},
                        404: {"description": "No such case."}})
async def act(
    reference: str, actor: CurrentUser, client: TemporalDep,
    body: Annotated[ActionBody, Body(openapi_examples=openapi_examples())], http: Request,
    background: BackgroundTasks,
    idempotency_key: Annotated[str | None, Header(max_length=100)] = None,
) -> ActionResponse:
    """Take an action on a case. A refused action changes nothing and says which rule refused it.

    Send an Idempotency-Key header to make a retried request safe: the same key is applied once.
    """
    audit.note(http, action=body.action.kind)
    request = ActionRequest(request_id=idempotency_key or str(uuid.uuid4()), actor=actor,
                            action=body.action, reasons=body.reasons)
    handle = client.get_workflow_handle(case_workflow_id(reference))
    try:
        result = await handle.execute_update(CaseWorkflow.act, request, id=request.request_id)
    except WorkflowUpdateFailedError as err:
        raise from_update_failure(err) from err
    except RPCError as err:
        raise await action_failure(client, reference, actor, err) from err
    # After the response is sent: the read model from the answer (the workflow backstops it).
    background.add_task(project_answer, http.app.state.engine, result.case)
    return _action_response(result, actor)


def _action_response(result: ActionResult, actor: Actor) -> ActionResponse:
    return ActionResponse(version=result.case.version, state=result.case.state,
                          case=visible_case(result.case, actor))
