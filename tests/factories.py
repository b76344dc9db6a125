"""Builders for the pure lifecycle tests: actors, a new case, and a case in any state.

A case in a given state is reached only through real actions passed to `lifecycle.check` and
`lifecycle.apply`, starting from `open_case`; every step asserts that `check` lets it through,
so building a case is itself a walk along the protocol's happy path.
"""

import itertools
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from api.examples import ACTION_EXAMPLES
from models.actions import ACTION_KINDS, ActionRequest, NewCase
from models.case import Actor, CaseFile, HistoryEntry
from models.enums import CaseState, Role
from models.offences import Offence
from models.people import Complainant, ContactDetails, Suspect
from workflows import lifecycle

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
AREA = "north"
REFERENCE = "REF-1"  # the examples name orders of this case REF-1-RO1, REF-1-RO2...

_request_ids = itertools.count(1)


def actor(role: Role | str, area: str = AREA) -> Actor:
    """A user of the given role working in the given area (north unless told)."""
    role = Role(role)
    return Actor(user_id=f"{role.value}-{area}", role=role, area=area)


OFFICER = actor(Role.OFFICER_IN_CASE)
POLICE_SPOC = actor(Role.POLICE_SPOC)
PROSECUTOR = actor(Role.PROSECUTOR)
CPS_SPOC = actor(Role.CPS_SPOC)
WITNESS_CARE = actor(Role.WITNESS_CARE)
MANAGER = actor(Role.MANAGER)
ADMIN = actor(Role.ADMIN)
ACTORS: dict[Role, Actor] = {a.role: a for a in
                             (OFFICER, POLICE_SPOC, PROSECUTOR, CPS_SPOC, WITNESS_CARE, MANAGER,
                              ADMIN)}


def new_case(*, stalking: bool = True, domestic_abuse: bool = False, **fields: Any) -> NewCase:
    """A case as an officer opens it: one complainant C1, one suspect S1, in area north."""
    body: dict[str, Any] = {
        "reference": REFERENCE, "police_area": AREA, "cps_area": AREA,
        "stalking": stalking, "domestic_abuse": domestic_abuse,
        "suspects": [Suspect(suspect_id="S1", name="John Example")],
        "complainants": [Complainant(
            complainant_id="C1", name="Complainant One",
            contact=ContactDetails(address="1 Secret Street, Liverpool"))],
        "offences": [Offence.STALKING_FEAR_OR_DISTRESS if stalking
                     else Offence.HARASSMENT_FEAR_OF_VIOLENCE],
        "opened_by": OFFICER,
    }
    return NewCase(**(body | fields))


def request(who: Actor, action: str | type[BaseModel] | BaseModel, *,
            request_reasons: str | None = None, **overrides: Any) -> ActionRequest:
    """An ActionRequest for `action`: its example body from ACTION_EXAMPLES, or the fields of a
    given action model, with `overrides` replacing top-level fields of the action."""
    if isinstance(action, BaseModel):
        body = action.model_dump(mode="json")
    else:
        kind = action if isinstance(action, str) else action.model_fields["kind"].default
        assert kind in ACTION_KINDS, f"unknown action kind {kind!r}"
        body = {"kind": kind, **ACTION_EXAMPLES[kind]}
    return ActionRequest(request_id=f"req-{next(_request_ids)}", actor=who,
                         action=body | overrides, reasons=request_reasons)


# The history entries that led to each case file made here (the file itself keeps no log):
# by id, holding the file so that its id is never reused.
_HISTORIES: dict[int, tuple[CaseFile, list[HistoryEntry]]] = {}


def _made(applied: lifecycle.Applied, before: CaseFile | None = None) -> CaseFile:
    earlier = _HISTORIES.get(id(before), (None, []))[1] if before is not None else []
    _HISTORIES[id(applied.case)] = (applied.case, [*earlier, applied.entry])
    return applied.case


def open_at(case: NewCase, at: datetime) -> CaseFile:
    """A case opened at a given time (its first entry kept for history())."""
    return _made(lifecycle.open_case(case, at))


def history(case: CaseFile) -> list[HistoryEntry]:
    """Every entry of the actions that made this case file, oldest first (none for a copy)."""
    return _HISTORIES.get(id(case), (None, []))[1]


def act(case: CaseFile, who: Actor, action: str | type[BaseModel] | BaseModel, *,
        at: datetime = NOW, **overrides: Any) -> CaseFile:
    """Take one action that the protocol must allow: check it passes, then apply it."""
    req = request(who, action, **overrides)
    refusal = lifecycle.check(case, req, at)
    assert refusal is None, f"{req.action.kind} refused: {refusal}"
    return _made(lifecycle.apply(case, req, at), case)


def standard_risk() -> dict[str, Any]:
    """A risk assessment body at standard level (no MARAC/MAPPA step needed)."""
    return {"tool": "DASH", "level": "standard", "assessed_on": "2026-11-20",
            "assessor": "PC 1234 Jones"}


def _to_referral(case: CaseFile) -> CaseFile:
    for c in case.complainants:
        case = act(case, OFFICER, "record_risk_assessment", complainant_id=c.complainant_id,
                   assessment=standard_risk())
    return act(case, OFFICER, "refer_to_cps")


def _to_charging(case: CaseFile) -> CaseFile:
    return act(case, PROSECUTOR, "begin_charging_review")


def _to_preparation(case: CaseFile) -> CaseFile:
    if case.stalking:
        charges = [Offence.STALKING_FEAR_OR_DISTRESS]
    else:  # P3.10: a harassment-only charge follows an explicit "stalking considered"
        case = act(case, PROSECUTOR, "record_stalking_considered",
                   decision="Not stalking", reasons="No fixation, obsession or surveillance.")
        charges = [Offence.HARASSMENT_FEAR_OF_VIOLENCE]
    return act(case, PROSECUTOR, "make_charging_decision", charges=charges)


def _to_pleas(case: CaseFile) -> CaseFile:
    case = act(case, WITNESS_CARE, "record_vps")
    return act(case, PROSECUTOR, "record_first_appearance")


def _to_trial(case: CaseFile) -> CaseFile:
    return act(case, PROSECUTOR, "enter_pleas", guilty=False)


def _to_restraining_order(case: CaseFile) -> CaseFile:
    case = act(case, PROSECUTOR, "record_verdict", verdict="convicted")
    case = act(case, OFFICER, "record_order_views")
    case = act(case, OFFICER, "reverify_order_details")
    return act(case, PROSECUTOR, "apply_restraining_order")


def _to_closed(case: CaseFile) -> CaseFile:
    return act(case, PROSECUTOR, "close_case", outcome="convicted")


# Each state, and the step that brings a case into it from the state before.
HAPPY_PATH = {
    CaseState.REFERRAL: _to_referral,
    CaseState.CHARGING: _to_charging,
    CaseState.PREPARATION: _to_preparation,
    CaseState.PLEAS: _to_pleas,
    CaseState.TRIAL: _to_trial,
    CaseState.RESTRAINING_ORDER: _to_restraining_order,
    CaseState.CLOSED: _to_closed,
}


def opened(*, stalking: bool = True, domestic_abuse: bool = False, **fields: Any) -> CaseFile:
    """A case just opened: in investigation, nothing recorded yet (no risk assessment)."""
    return _made(lifecycle.open_case(
        new_case(stalking=stalking, domestic_abuse=domestic_abuse, **fields), NOW))


def case_in(state: CaseState | str, *, stalking: bool = True, domestic_abuse: bool = False,
            **new_case_fields: Any) -> CaseFile:
    """A case brought to `state` along the happy path, every step checked and applied at NOW.

    investigation: just opened. referral: C1 risk-assessed (standard) and referred.
    charging: under CPS review. preparation: charged by the prosecutor (s.4A, or s.4 after
    "stalking considered" in a harassment case), with an action plan. pleas: VPS recorded,
    first appearance held. trial: not guilty pleas. restraining_order: convicted, views and
    order details recorded, order applied for (none made yet). closed: closed as convicted.
    """
    target = CaseState(state)
    case = opened(stalking=stalking, domestic_abuse=domestic_abuse, **new_case_fields)
    for step_state, step in HAPPY_PATH.items():
        if case.state is target:
            break
        case = step(case)
        assert case.state is step_state, (step_state, case.state)
    assert case.state is target
    return case
