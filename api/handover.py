"""Handing one person's open cases to a colleague in one step (leave, a move, a long absence:
§6.4's succession planning).

One code path for POST /people/{user_id}/reassign and the managers' handover page: both move
the same cases, under the same request ids, with the same checks, and each case records an
assign_case_team_member action through api/acting.py as any naming does.
"""

import asyncio
import hashlib
from dataclasses import dataclass

from fastapi import HTTPException, Request
from pydantic import BaseModel, Field
from sqlmodel import Session
from temporalio.client import Client
from temporalio.service import RPCError

from api import audit
from api.acting import take_action
from api.errors import refusal_http
from core.settings import Settings
from models.actions import ActionRequest, AssignCaseTeamMember
from models.case import Actor
from models.enums import Role, TeamRole
from readmodel.work import open_cases_naming

# How many cases a reassignment acts on at once: enough to move hundreds in seconds, few
# enough to leave the workers room for everyone else's actions.
REASSIGN_CONCURRENCY = 8
NOT_KNOWN = ("The case service did not answer in time: this case may still move. Send the same "
             "handover again (the same key): it moves each case once.")
SAME_PERSON = ("The colleague who takes the cases on is the person they are handed over from: "
               "name someone else.")


class Reassignment(BaseModel):
    model_config = {"extra": "forbid"}
    to_user: str = Field(min_length=1, max_length=100, pattern=r"^[^\s]+$",
                         description="Who takes the cases on.")
    reason: str = Field(min_length=1, max_length=2000, description="Recorded in each case.")
    roles: list[TeamRole] | None = Field(
        default=None, description="Only these roles (default: every role they hold).")


@dataclass(frozen=True)
class Handed:
    """One case and role of a handover: the version it reached; or the refusal's rule and
    sentence (the case then stays as it was); or, when the case service did not answer in
    time, not known yet (it may still move: the same handover again, with the same key,
    moves it once)."""

    reference: str
    role: str
    version: int | None = None
    rule: str | None = None
    message: str | None = None
    not_known: bool = False

    @property
    def refused(self) -> bool:
        return self.rule is not None and not self.not_known

    @property
    def moved(self) -> bool:
        return self.rule is None and not self.not_known


def not_a_manager(actor: Actor) -> HTTPException | None:
    """The refusal of anyone but a manager (403, rule ACCESS), or None."""
    if actor.role is Role.MANAGER:
        return None
    return refusal_http("ACCESS", "Only a manager hands one person's cases to another.")


def same_person(from_user: str, to_user: str) -> str | None:
    return SAME_PERSON if from_user == to_user else None


def handover_id(key: str, from_user: str, to_user: str, reference: str, role: str) -> str:
    """One request id per case and role of a reassignment: the same again for a retry of it,
    never one that another case, role or handover shares, even under a key sent again with
    other people (a digest, as the parts may be long)."""
    parts = "\x00".join((key, from_user, to_user, reference, role))
    return "reassign:" + hashlib.sha256(parts.encode()).hexdigest()


async def hand_over(http: Request, client: Client, settings: Settings, actor: Actor,
                    from_user: str, body: Reassignment, key: str) -> list[Handed]:
    """Hand every open case of the manager's area that names `from_user` (for `body.roles`,
    or every role) to `body.to_user`. `key` (the client's, or one made for the request) makes
    a retry safe: each case and role moves once under it. Raises the 403 of a non-manager and
    the 422 of a handover to the same person, before any case is read."""
    audit.note(http, action="reassign")
    if (refused := not_a_manager(actor)) is not None:
        raise refused
    if (why := same_person(from_user, body.to_user)) is not None:
        raise HTTPException(422, detail={"rule": "INPUT", "field": "to_user", "message": why})
    engine = http.app.state.engine
    roles = {r.value for r in body.roles} if body.roles else None

    def naming() -> list[tuple[str, str]]:
        with Session(engine) as session:
            return [(ref, role) for ref, role in open_cases_naming(session, from_user, actor.area)
                    if roles is None or role in roles]

    held = await asyncio.to_thread(naming)
    gate = asyncio.Semaphore(REASSIGN_CONCURRENCY)

    async def one(reference: str, role: str) -> Handed:
        request = ActionRequest(
            request_id=handover_id(key, from_user, body.to_user, reference, role), actor=actor,
            reference=reference, action=AssignCaseTeamMember(
                role=TeamRole(role), user_id=body.to_user,
                reason=f"handed over from {from_user}: {body.reason}"[:2000]))
        async with gate:
            try:
                taken = await take_action(client, engine, settings, request)
            except HTTPException as refusal:
                detail: dict[str, str] = refusal.detail if isinstance(refusal.detail, dict) else {}
                if refusal.status_code == 503:  # its sentence names the case's own request id
                    return Handed(reference, role, rule="UNAVAILABLE", not_known=True,
                                  message=NOT_KNOWN)
                return Handed(reference, role, rule=str(detail.get("rule", refusal.status_code)),
                              message=detail.get("message", ""))
            except RPCError:  # the case service unreachable before the action was sent
                return Handed(reference, role, rule="UNAVAILABLE", not_known=True,
                              message=NOT_KNOWN)
            if taken.project is not None:
                # Written before answering: the next read of anyone's work already sees it.
                await taken.project()
            return Handed(reference, role, version=taken.answer.version)

    return list(await asyncio.gather(*(one(ref, role) for ref, role in held)))
