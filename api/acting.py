"""Taking an action on a case: what POST /cases/{reference}/actions does, for every caller
that acts on a case (the route, a reassignment of many cases, the workspace's forms).

A request id already in the read model is answered with its first answer; otherwise the
case's workflow applies it (once, in any run). The answer's entry is shown as the actor's role
may read it. The read model is written from the answer after the caller has it.
"""

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from fastapi import HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError

from api.case_access import read_case_file
from api.errors import from_action_rpc_error, from_update_failure, try_again
from api.group_commit import GroupCommit
from api.redaction import WITHHELD, sees_contact_details, visible_history
from core.profiles import team_member_problem
from core.settings import Settings
from core.temporal import execute_action
from models.actions import ActionRequest, ActionResult, AssignCaseTeamMember
from models.case import Actor, HistoryEntry
from models.deadlines import Deadline
from models.enums import CaseState
from readmodel.history import entry_by_request, entry_by_version
from readmodel.projection import project_answers
from workflows import lifecycle
from workflows.case import case_workflow_id


class ActionResponse(BaseModel):
    """An accepted action: small, whatever the size of the case (GET the case for its facts)."""

    request_id: str = Field(description="The id the action was applied under: the "
                                        "Idempotency-Key sent, or the one the service chose.")
    version: int = Field(description="The case's version after the action.")
    state: CaseState
    entry: HistoryEntry | None = Field(description="The action's history entry.")
    deadlines_opened: list[Deadline] = Field(default_factory=list)
    deadlines_met: list[str] = Field(default_factory=list, description="Deadline ids met.")
    repeated: bool = Field(default=False, description="The request id had been applied "
                                                      "before: this is its first answer.")


@dataclass(frozen=True)
class Taken:
    """An accepted action's answer, and the read-model write to run once it is sent."""

    answer: ActionResponse
    project: Callable[[], Awaitable[None]] | None = None


def _answers_commit(engine: Engine) -> GroupCommit[tuple[str, HistoryEntry, ActionResult]]:
    """The read-model writes from answers, one group commit per engine (api/group_commit.py):
    a burst of actions is written in a few transactions, not one each."""
    commit = _ANSWER_COMMITS.get(engine)
    if commit is None:
        commit = _ANSWER_COMMITS[engine] = GroupCommit(partial(project_answers, engine))
    return commit


_ANSWER_COMMITS: "weakref.WeakKeyDictionary[Engine, GroupCommit[Any]]" = weakref.WeakKeyDictionary()


async def take_action(client: Client, engine: Engine, settings: Settings,
                      request: ActionRequest, known_key: bool = True) -> Taken:
    """Apply the request to its case (request.reference), or answer its first answer.

    Raises the HTTPException a refusal, an unknown case or an unavailable service makes.
    `known_key`: the caller chose the request id (an Idempotency-Key), so it may have been
    applied before; a fresh id the service made cannot have been.
    """
    reference, actor = request.reference, request.actor
    assert reference is not None
    if known_key:
        first = await asyncio.to_thread(_applied_before, engine, reference, request.request_id)
        if first is not None:
            await read_case_file(client, reference, actor)  # the area check, as for any read
            return Taken(await _as_seen_by(_action_response(request.request_id, first, None,
                                                            repeated=True),
                                           client, reference, actor))
    if isinstance(request.action, AssignCaseTeamMember):
        await _check_team_member(client, engine, reference, actor, request.action)
    try:
        result = await execute_action(client.get_workflow_handle(case_workflow_id(reference)),
                                      request, timedelta(seconds=settings.update_timeout_seconds))
    except WorkflowUpdateFailedError as err:
        raise from_update_failure(err, request.request_id) from err
    except WorkflowUpdateRPCTimeoutOrCancelledError as err:
        raise try_again(request.request_id, "The case did not answer in time") from err
    except RPCError as err:
        failure = await from_action_rpc_error(err, client, reference, request.request_id)
        if failure.status_code == 409:
            # "Closed" or "ended" says that the case exists: its own areas only are told so,
            # another area gets the 404 of an unknown case.
            await read_case_file(client, reference, actor)
        raise failure from err
    project = None
    if result.repeated:
        entry = result.entry or await asyncio.to_thread(_entry_by_version, engine, reference,
                                                        result.version)
        answer = _action_response(request.request_id, entry, result, repeated=True)
    else:
        assert result.entry is not None
        reasons, detail = lifecycle.recorded_text(request)
        entry = result.entry.model_copy(update={"reasons": reasons, "detail": detail})
        project = partial(_answers_commit(engine).write, [(reference, entry, result)])
        answer = _action_response(request.request_id, entry, result)
    return Taken(await _as_seen_by(answer, client, reference, actor), project)


async def _check_team_member(client: Client, engine: Engine, reference: str, actor: Actor,
                             action: AssignCaseTeamMember) -> None:
    """The person named must be able to hold the role on this case (a profile of that role,
    active, in one of the case's areas): 422 naming the field, changing nothing."""
    case = await read_case_file(client, reference, actor)  # and the area check

    def problem() -> str | None:
        with Session(engine) as session:
            return team_member_problem(session, action.user_id, action.role.value,
                                       (case.police_area, case.cps_area))

    try:
        why = await asyncio.to_thread(problem)
    except SQLAlchemyError:
        why = None  # profiles out of reach: the naming stands, as for someone without one
    if why is not None:
        raise HTTPException(422, detail={"rule": "INPUT", "field": "action.user_id",
                                         "message": why})


async def _as_seen_by(answer: ActionResponse, client: Client, reference: str,
                      actor: Actor) -> ActionResponse:
    """The entry's free text as the role may read it: a role that does not contact the
    complainant never sees a contact detail, even one it typed itself."""
    if answer.entry is None or sees_contact_details(actor):
        return answer
    try:
        case = await read_case_file(client, reference, actor)
    except HTTPException:
        # The action stands; without the case to scrub against, its free text is withheld.
        withheld = answer.entry.model_copy(update={"reasons": WITHHELD, "detail": None})
        return answer.model_copy(update={"entry": withheld})
    [entry] = visible_history([answer.entry], case, actor)
    return answer.model_copy(update={"entry": entry})


def _applied_before(engine: Engine, reference: str, request_id: str) -> HistoryEntry | None:
    """The entry a request id already made, if the read model holds it. When the database is
    down this is not known here: the workflow still recognises its latest 1,000 ids, and an
    older one applied again is kept as a second entry (readmodel/projection.py)."""
    try:
        with Session(engine) as session:
            return entry_by_request(session, reference, request_id)
    except SQLAlchemyError:
        return None


def _entry_by_version(engine: Engine, reference: str, version: int) -> HistoryEntry | None:
    try:
        with Session(engine) as session:
            return entry_by_version(session, reference, version)
    except SQLAlchemyError:
        return None  # the repeat is answered with its version and state alone


def _action_response(request_id: str, entry: HistoryEntry | None, result: ActionResult | None,
                     repeated: bool = False) -> ActionResponse:
    version = entry.version if entry else (result.version if result else 0)
    state = entry.state_after if entry else (result.state if result else CaseState.INVESTIGATION)
    return ActionResponse(
        request_id=request_id, version=version, state=state,
        entry=entry,
        deadlines_opened=result.deadlines_opened if result and not repeated else [],
        deadlines_met=result.deadlines_met if result and not repeated else [],
        repeated=repeated)
