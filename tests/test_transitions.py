"""Each transition is written once as data (LIFECYCLE's `leads_to`) and once as code (what
the effect returns): they must agree. Every action is applied in every state its row allows,
by every role it lists; the state it leaves the case in is the one it was in or one its row
lists, and every state a row lists is reached by some action."""

from collections.abc import Callable
from functools import cache
from typing import Any

import pytest

from models.case import CaseFile
from models.enums import CaseState, Role
from tests.factories import (
    NOW,
    OFFICER,
    PROSECUTOR,
    act,
    actor,
    case_in,
    opened,
    request,
    standard_risk,
)
from workflows.lifecycle import LIFECYCLE, apply, check

# Bodies beyond the examples (api/examples.py), for the transitions the examples do not take.
VARIANTS: dict[str, list[dict[str, Any]]] = {
    "make_charging_decision": [
        {"decision": "no_further_action", "reasons": "Insufficient evidence."},
        {"decision": "further_investigation", "reasons": "Phone download needed.",
         "action_plan": [{"item_id": "A1", "description": "Download the phone",
                          "due_on": "2026-12-18"}]},
    ],
    "enter_pleas": [{"guilty": False}, {"guilty": True}],
    "record_verdict": [{"verdict": "convicted"}, {"verdict": "acquitted"}],
    "close_case": [{"outcome": "acquitted"}, {"outcome": "no_further_action"}],
}


# Cases whose facts let the transition's guards pass (the happy path's cases are a step past).
READY: dict[str, Callable[[], CaseFile]] = {
    "refer_to_cps": lambda: act(opened(), OFFICER, "record_risk_assessment",
                                assessment=standard_risk()),
    "record_first_appearance": lambda: act(case_in(CaseState.PREPARATION), OFFICER, "record_vps"),
    "apply_restraining_order": lambda: act(act(act(
        case_in(CaseState.TRIAL), PROSECUTOR, "record_verdict", verdict="convicted"),
        OFFICER, "record_order_views"), OFFICER, "reverify_order_details"),
}


@cache
def _case(state: CaseState) -> CaseFile:
    return case_in(state)


@cache
def _ready(kind: str) -> CaseFile:
    return READY[kind]()


def _tried(kind: str) -> list[tuple[CaseState, CaseState, dict[str, Any], Role]]:
    """(state before, state after, body, role) for every accepted try of the action."""
    spec, outcomes = LIFECYCLE[kind], []
    cases = [_case(state) for state in sorted(spec.states, key=list(CaseState).index)]
    if kind in READY:
        cases.append(_ready(kind))
    for case in cases:
        state = case.state
        for role in sorted(spec.roles):
            for body in [{}, *VARIANTS.get(kind, [])]:
                req = request(actor(Role(role)), kind, **body)
                if check(case, req, NOW) is None:
                    outcomes.append((state, apply(case, req, NOW).case.state, body, role))
    return outcomes


@pytest.mark.parametrize("kind", sorted(LIFECYCLE))
def test_an_effect_moves_a_case_only_where_its_row_says(kind: str) -> None:
    spec = LIFECYCLE[kind]
    for before, after, body, role in _tried(kind):
        assert after is before or after in spec.leads_to, (
            f"{kind} by {role} with {body} moved {before.value} -> {after.value}, which its "
            f"row does not list (leads_to: {[s.value for s in spec.leads_to]})")


def test_every_state_a_row_lists_is_reached() -> None:
    unreached = {}
    for kind, spec in LIFECYCLE.items():
        reached = {after for before, after, _, _ in _tried(kind) if after is not before}
        missing = set(spec.leads_to) - reached
        if missing:
            unreached[kind] = sorted(s.value for s in missing)
    assert not unreached, f"rows list states their effects never reach: {unreached}"


def test_some_action_is_taken_in_every_open_state() -> None:
    """The tries above are not vacuous: each open state accepts some action."""
    accepted = {before for kind in LIFECYCLE for before, *_ in _tried(kind)}
    assert accepted >= {s for s in CaseState if s is not CaseState.CLOSED}
