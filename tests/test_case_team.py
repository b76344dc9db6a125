"""The case team (P6.4): each case names a person for each team role; a manager or a holder of
the role hands it on, recorded with who, when and why; a person's work follows the names."""

from datetime import timedelta
from typing import Any

import pytest

from models.case import Actor, case_facts
from models.enums import CaseState, Role
from tests.factories import MANAGER, NOW, OFFICER, PROSECUTOR, WITNESS_CARE, act, case_in, opened
from tests.factories import request as make_request
from workflows.lifecycle import check


def test_the_reporting_officer_is_named_officer_in_the_case_at_opening() -> None:
    case = opened()
    member = case.team[Role.OFFICER_IN_CASE]
    assert (member.user_id, member.assigned_by, member.assigned_at) == \
        (OFFICER.user_id, OFFICER.user_id, NOW)
    assert case_facts(case).team == {"officer_in_case": OFFICER.user_id}


def test_a_manager_names_the_complainants_spoc_and_the_handover_is_recorded() -> None:
    case = act(opened(), MANAGER, "assign_case_team_member", role="police_spoc",
               user_id="pc-1234", reason="the complainant's named SPOC")
    later = NOW + timedelta(days=3)
    case = act(case, MANAGER, "assign_case_team_member", at=later, role="police_spoc",
               user_id="pc-5678", reason="pc-1234 moves to another team")
    member = case.team[Role.POLICE_SPOC]
    assert (member.user_id, member.assigned_at, member.assigned_by, member.reason) == \
        ("pc-5678", later, MANAGER.user_id, "pc-1234 moves to another team")
    assert case.recorded["assign_case_team_member"] == 2


@pytest.mark.parametrize("holder", [OFFICER, PROSECUTOR, WITNESS_CARE],
                         ids=lambda a: a.role.value)
def test_a_case_handler_hands_over_only_the_role_they_hold(holder: Actor) -> None:
    case = case_in(CaseState.CHARGING)
    own = make_request(holder, "assign_case_team_member", role=holder.role.value,
                       user_id="colleague-1", reason="annual leave")
    assert check(case, own, NOW) is None
    other_role = "cps_spoc" if holder.role is not Role.CPS_SPOC else "prosecutor"
    refusal = check(case, make_request(holder, "assign_case_team_member", role=other_role,
                                       user_id="colleague-1"), NOW)
    assert refusal is not None and refusal.rule == "TEAM"
    assert f"Only a manager or a {other_role}" in refusal.message


def test_a_closed_case_takes_no_reassignment() -> None:
    case = case_in(CaseState.CLOSED)
    refusal = check(case, make_request(MANAGER, "assign_case_team_member", role="prosecutor",
                                       user_id="p-2"), NOW)
    assert refusal is not None and refusal.rule == "STATE"


def _ids(items: list[dict[str, Any]], key: str = "reference") -> set[str]:
    return {i[key] for i in items}


# --- through the API: the real worker and read model ------------------------------------
async def _open(api: Any, auth: Any, officer: str) -> str:
    from tests.api_steps import new_case_body, new_reference

    reference = new_reference("TEAM")
    response = await api.post("/cases", json=new_case_body(reference),
                              headers=auth("officer_in_case", user=officer))
    assert response.status_code == 201, response.text
    return reference


async def _work(api: Any, auth: Any, user: str, role: str = "officer_in_case",
                **params: Any) -> dict[str, Any]:
    response = await api.get("/me/work", params=params, headers=auth(role, user=user))
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.asyncio
async def test_my_work_then_one_request_hands_every_case_and_deadline_to_a_colleague(
        api: Any, auth: Any) -> None:
    from tests.api_steps import new_reference
    from tests.conftest import eventually

    officer, colleague = new_reference("pc").lower(), new_reference("pc").lower()
    references = {await _open(api, auth, officer) for _ in range(3)}
    cases = {ref: (await api.get(f"/cases/{ref}", headers=auth("officer_in_case", user=officer))
                   ).json() for ref in references}
    owned = {(ref, d["deadline_id"]) for ref, case in cases.items() for d in case["deadlines"]
             if d["owner_role"] == "officer_in_case"}
    assert owned, "a new case gives its officer deadlines (P3.7 risk assessment, P6.4 contact)"
    assert all(case["team"]["officer_in_case"]["user_id"] == officer for case in cases.values())

    async def officer_sees_them() -> dict[str, Any] | None:
        work = await _work(api, auth, officer, limit=500)
        return work if {(d["reference"], d["deadline_id"]) for d in work["deadlines"]} == owned \
            else None

    work = await eventually(officer_sees_them)
    dues = [d["due_at"] for d in work["deadlines"]]
    assert dues == sorted(dues), "soonest due first, so overdue ones come first"
    assert work["deadlines_total"] == len(owned)
    assert _ids(work["awaiting_my_move"]) == references  # investigation: the officer's move
    mine = (await api.get("/me/cases", headers=auth("officer_in_case", user=officer))).json()
    assert mine["total"] == 3 and all(c["roles"] == ["officer_in_case"] for c in mine["items"])
    one = sorted(references)[0]
    assert _ids((await _work(api, auth, officer, reference=one))["deadlines"]) == {one}

    # Refused, changing nothing: not a manager; the same person; an unknown field.
    path = f"/people/{officer}/reassign"
    body = {"to_user": colleague, "reason": "moves to the burglary team"}
    refused = await api.post(path, json=body, headers=auth("officer_in_case", user=officer))
    assert refused.status_code == 403 and refused.json()["detail"]["rule"] == "ACCESS"
    same = await api.post(path, json=body | {"to_user": officer}, headers=auth("manager"))
    assert same.status_code == 422 and "name someone else" in same.text
    extra = await api.post(path, json=body | {"when": "now"}, headers=auth("manager"))
    assert extra.status_code == 422 and "when" in extra.text

    moved = await api.post(path, json=body, headers=auth("manager") | {"Idempotency-Key": "k1"})
    assert moved.status_code == 200, moved.text
    answer = moved.json()
    assert {(m["reference"], m["role"]) for m in answer["moved"]} == \
        {(ref, "officer_in_case") for ref in references}
    assert answer["refused"] == []

    # Every deadline moved with the role, at once (the read model was written before the answer).
    assert (await _work(api, auth, officer))["deadlines_total"] == 0
    taken = await _work(api, auth, colleague, limit=500)
    assert {(d["reference"], d["deadline_id"]) for d in taken["deadlines"]} == owned
    assert _ids(taken["awaiting_my_move"]) == references
    for ref in references:
        case = (await api.get(f"/cases/{ref}", headers=auth("manager"))).json()
        member = case["team"]["officer_in_case"]
        assert (member["user_id"], member["assigned_by"]) == (colleague, "manager-north")
        history = (await api.get(f"/cases/{ref}/history", headers=auth("manager"))).json()
        handover = history[-1]
        assert handover["action"] == "assign_case_team_member"
        assert handover["summary"] == f"officer_in_case handed from {officer} to {colleague}"
        assert "moves to the burglary team" in handover["detail"]
    # A retry of the same request moves nothing again: nobody is named as the officer now.
    again = await api.post(path, json=body, headers=auth("manager") | {"Idempotency-Key": "k1"})
    assert again.status_code == 200 and again.json()["moved"] == []


@pytest.mark.asyncio
async def test_a_reassignment_by_another_areas_manager_finds_nothing_to_move(
        api: Any, auth: Any) -> None:
    from tests.api_steps import new_reference

    officer = new_reference("pc").lower()
    reference = await _open(api, auth, officer)
    from tests.conftest import eventually

    async def listed() -> bool:
        mine = (await api.get("/me/cases", headers=auth("officer_in_case", user=officer))).json()
        return _ids(mine["items"]) == {reference}

    await eventually(listed)
    south = await api.post(f"/people/{officer}/reassign",
                           json={"to_user": "pc-south", "reason": "x"},
                           headers=auth("manager", area="south"))
    assert south.status_code == 200 and south.json()["moved"] == []
    case = (await api.get(f"/cases/{reference}", headers=auth("manager"))).json()
    assert case["team"]["officer_in_case"]["user_id"] == officer


@pytest.mark.asyncio
async def test_only_someone_who_can_hold_the_role_is_named_to_it(api: Any, auth: Any) -> None:
    """A profile of another role, an inactive one or one of another area is refused (422
    naming the field) and changes nothing; a fitting profile, or none yet, is named."""
    from tests.api_steps import new_reference

    officer = new_reference("pc").lower()
    reference = await _open(api, auth, officer)
    people = {"lawyer": ("prosecutor", "north", True), "gone": ("police_spoc", "north", False),
              "faraway": ("police_spoc", "south", True), "spoc": ("police_spoc", "north", True)}
    suffix = new_reference("p").lower()
    for name, (role, area, active) in people.items():
        made = await api.put(f"/people/{name}-{suffix}", headers=auth("admin", area=area),
                             json={"display_name": f"{name.title()} Person", "role": role,
                                   "area": area, "active": active})
        assert made.status_code in (200, 201), made.text
    version = (await api.get(f"/cases/{reference}", headers=auth("manager"))).json()["version"]

    async def name_spoc(user: str) -> Any:
        return await api.post(f"/cases/{reference}/actions", headers=auth("manager"), json={
            "action": {"kind": "assign_case_team_member", "role": "police_spoc",
                       "user_id": user, "reason": "the complainant's SPOC"}})

    for name, why in (("lawyer", "is a prosecutor, not a police_spoc"),
                      ("gone", "is no longer active"), ("faraway", "works in another area")):
        refused = await name_spoc(f"{name}-{suffix}")
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"]["field"] == "action.user_id"
        assert why in refused.json()["detail"]["message"]
    after = (await api.get(f"/cases/{reference}", headers=auth("manager"))).json()
    assert after["version"] == version and "police_spoc" not in after["team"]
    assert (await name_spoc(f"spoc-{suffix}")).status_code == 200
    assert (await name_spoc(f"nobody-yet-{suffix}")).status_code == 200  # no profile yet
    case = (await api.get(f"/cases/{reference}", headers=auth("witness_care"))).json()
    assert case["team"]["police_spoc"]["user_id"] == f"nobody-yet-{suffix}"  # WCU sees the SPOC


def test_a_named_holder_hands_their_role_over_and_nobody_else_of_the_role_takes_it() -> None:
    from tests.factories import actor

    case = case_in(CaseState.CHARGING)
    case = act(case, PROSECUTOR, "assign_case_team_member", role="prosecutor",
               user_id=PROSECUTOR.user_id, reason="taking the charging review")
    colleague = Actor(user_id="prosecutor-two", role=Role.PROSECUTOR, area=PROSECUTOR.area)
    taking = make_request(colleague, "assign_case_team_member", role="prosecutor",
                          user_id=colleague.user_id)
    refusal = check(case, taking, NOW)
    assert refusal is not None and refusal.rule == "TEAM"
    assert f"is {PROSECUTOR.user_id}" in refusal.message
    handed = act(case, PROSECUTOR, "assign_case_team_member", role="prosecutor",
                 user_id=colleague.user_id, reason="leave")
    assert handed.team[Role.PROSECUTOR].user_id == colleague.user_id
    assert check(handed, make_request(actor("manager"), "assign_case_team_member",
                                      role="prosecutor", user_id="p-3"), NOW) is None


def test_the_teams_police_spoc_is_the_complainants_named_spoc_p6_4() -> None:
    from workflows.deadlines import open_deadlines

    case = act(opened(), OFFICER, "record_contact_details",
               contact={"preferred_means": "text", "phone": "07700 900123"})
    assert "contact_details:C1" in {d.deadline_id for d in open_deadlines(case)}
    case = act(case, MANAGER, "assign_case_team_member", role="police_spoc", user_id="pc-9")
    assert "contact_details:C1" not in {d.deadline_id for d in open_deadlines(case)}
    case.policy.team_spoc_is_named_spoc = False  # a run recorded before the case team
    assert "contact_details:C1" in {d.deadline_id for d in open_deadlines(case)}


def test_a_cps_roles_reminder_goes_to_the_cps_area_and_names_its_person() -> None:
    from models.actions import NewCase
    from models.deadlines import DeadlineMarks
    from workflows.deadlines import open_deadlines
    from workflows.lifecycle import open_case
    from workflows.messages import staff_message

    new = NewCase.model_validate(opened().model_dump(include={"reference"}) | {
        "police_area": "north", "cps_area": "mersey-cps", "stalking": True,
        "domestic_abuse": False, "complainants": [{"complainant_id": "C1", "name": "C One"}],
        "opened_by": OFFICER.model_dump()})
    case = open_case(new, NOW).case
    deadline = open_deadlines(case)[0]
    case.deadline_marks = {deadline.deadline_id: DeadlineMarks(opened_at=NOW)}
    to_prosecutor = staff_message(case, deadline, Role.PROSECUTOR, "escalate", "overdue")
    to_officer = staff_message(case, deadline, Role.OFFICER_IN_CASE, "remind", "due")
    assert (to_prosecutor.area, to_prosecutor.recipient_user) == ("mersey-cps", None)
    assert (to_officer.area, to_officer.recipient_user) == ("north", OFFICER.user_id)


def test_each_case_role_and_handover_of_a_reassignment_has_its_own_request_id() -> None:
    from api.handover import handover_id as _handover_id

    key, reference, a, b, c = "k" * 60, "R" * 40, "u" * 100, "v" * 100, "w" * 100
    ids = {_handover_id(key, a, b, reference, role) for role in ("police_spoc", "prosecutor")}
    ids |= {_handover_id(key, a, b, reference[:-1] + "S", "police_spoc")}
    # The same key sent again for another handover (a form resubmitted after going back, a
    # client reusing its key): its cases are not taken for the first handover's.
    ids |= {_handover_id(key, b, c, reference, "police_spoc")}
    ids |= {_handover_id(key, a, c, reference, "police_spoc")}
    assert len(ids) == 5 and all(len(i) <= 100 for i in ids)
    assert _handover_id(key, a, b, reference, "prosecutor") in ids  # the same again for a retry
