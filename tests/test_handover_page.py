"""The managers' handover page over HTTP, against the app with the suite's Temporal worker and
read model: one person's open cases go to a colleague in one step, through the same function
as POST /people/{user_id}/reassign; a form sent again moves nothing twice; anyone but a
manager is refused; a handover to the same person or to someone not on the list is said
beside its field and changes nothing."""

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import Session

from api.dashboard.handover_form import area_people
from api.main import create_app
from models.tables import CaseRow, CaseTeamRow
from tests.api_steps import new_case_body, new_reference
from tests.conftest import eventually
from tests.page_steps import hidden, signed_in

AREA = f"hand-{new_reference('x')[2:].lower()}"
MANAGER = f"manager-{AREA}"
PAGE = "/dashboard/handover"


@pytest.fixture(scope="module")
def app(worker, client, settings, engine) -> FastAPI:
    return create_app(settings, client, engine)


@pytest.fixture
async def manager(app, settings) -> AsyncIterator[httpx.AsyncClient]:
    async with signed_in(app, settings, "manager", AREA, MANAGER) as http:
        yield http


@dataclass(frozen=True)
class Team:
    leaving: str  # an officer going on leave, named on `cases`
    deputy: str  # their deputy, an officer of the area
    lawyer: str  # a prosecutor of the area: no case takes them as its officer
    cases: list[str]


@pytest.fixture
async def team(api, auth) -> Team:
    """An officer with two open cases, away from today with a deputy; all with profiles."""
    tag = new_reference("p").lower()
    team = Team(f"leaving-{tag}", f"deputy-{tag}", f"lawyer-{tag}", [])
    admin = auth("admin", area=AREA)
    for user, role, name in ((team.leaving, "officer_in_case", "Lee Leaving"),
                             (team.deputy, "officer_in_case", "Dee Deputy"),
                             (team.lawyer, "prosecutor", "Pat Lawyer")):
        made = await api.put(f"/people/{user}", headers=admin,
                             json={"display_name": name, "role": role, "area": AREA})
        assert made.status_code in (200, 201), made.text
    away = await api.put(f"/people/{team.leaving}/absence", headers=auth("manager", area=AREA),
                         json={"absent_from": date.today().isoformat(),
                               "absent_to": (date.today() + timedelta(days=14)).isoformat(),
                               "deputy": team.deputy})
    assert away.status_code == 200, away.text
    officer = auth("officer_in_case", area=AREA, user=team.leaving)
    for _ in range(2):
        reference = new_reference("HAND")
        opened = await api.post("/cases", json=new_case_body(reference, area=AREA),
                                headers=officer)
        assert opened.status_code == 201, opened.text
        team.cases.append(reference)

    async def projected() -> bool:  # the page lists people from the read model
        mine = (await api.get("/me/cases", headers=officer)).json()
        return {c["reference"] for c in mine["items"]} == set(team.cases)

    await eventually(projected)
    return team


async def _form(manager: httpx.AsyncClient, **query: str) -> str:
    page = await manager.get(PAGE, params=query)
    assert page.status_code == 200, page.text
    return page.text


async def _send(manager: httpx.AsyncClient, form: str, **fields: Any) -> httpx.Response:
    """The form as a browser sends it: its hidden CSRF token and key, and what was chosen."""
    return await manager.post(PAGE, data={"csrf_token": hidden(form, "csrf_token"),
                                          "idempotency_key": hidden(form, "idempotency_key"),
                                          **fields})


async def _case(api: Any, auth: Any, reference: str) -> dict[str, Any]:
    response = await api.get(f"/cases/{reference}", headers=auth("manager", area=AREA))
    assert response.status_code == 200, response.text
    return response.json()


async def _work(api: Any, auth: Any, user: str) -> dict[str, Any]:
    response = await api.get("/me/work", params={"limit": 500},
                             headers=auth("officer_in_case", area=AREA, user=user))
    assert response.status_code == 200, response.text
    return response.json()


def _deadlines(work: dict[str, Any]) -> set[tuple[str, str]]:
    return {(d["reference"], d["deadline_id"]) for d in work["deadlines"]}


async def test_a_manager_hands_every_case_and_deadline_to_a_colleague_once(
        api, auth, manager, team):
    owned = _deadlines(await _work(api, auth, team.leaving))
    assert {ref for ref, _ in owned} == set(team.cases), "a new case gives its officer deadlines"
    form = await _form(manager)
    assert f'href="{PAGE}"' in form  # in the dashboard's navigation
    row = re.search(rf'<tr data-person="{team.leaving}"[^>]*>.*?</tr>', form, re.S)
    assert row is not None and 'data-open-cases="2"' in row.group(0)
    assert "data-absent" in row.group(0) and team.deputy in row.group(0)  # absent, with deputy
    assert f"?person={team.leaving}&amp;to={team.deputy}" in row.group(0)  # to the deputy
    for field in ("f-from_user", "f-to_user", "f-roles", "f-reason"):  # each has its label
        assert re.search(rf'<label[^>]* for="{field}"', form) and f'id="{field}"' in form

    # A colleague of another role: every case refuses them, says why, and stays as it was.
    refused = await _send(manager, form, from_user=team.leaving, to_user=team.lawyer,
                          reason="annual leave")
    assert refused.status_code == 200, refused.text
    assert 'data-moved="0" data-refused="2"' in refused.text
    for reference in team.cases:
        assert f'data-reference="{reference}" data-role="officer_in_case" data-rule="INPUT"' \
            in refused.text
    assert f"{team.lawyer} is a prosecutor, not a officer_in_case" in refused.text
    assert _deadlines(await _work(api, auth, team.leaving)) == owned

    form = await _form(manager, person=team.leaving, to=team.deputy)
    moved = await _send(manager, form, from_user=team.leaving, to_user=team.deputy,
                        reason="annual leave")
    assert moved.status_code == 200, moved.text
    assert 'data-moved="2" data-refused="0"' in moved.text
    versions = {}
    for reference in team.cases:
        assert f'<tr data-reference="{reference}" data-role="officer_in_case">' in moved.text
        case = await _case(api, auth, reference)
        member = case["team"]["officer_in_case"]
        assert (member["user_id"], member["assigned_by"]) == (team.deputy, MANAGER)
        versions[reference] = case["version"]
    # Every open deadline moved with the role; the read model was written before the answer.
    assert _deadlines(await _work(api, auth, team.deputy)) == owned
    assert (await _work(api, auth, team.leaving))["deadlines_total"] == 0
    taken = await _work(api, auth, team.deputy)
    assert {c["reference"] for c in taken["awaiting_my_move"]} == set(team.cases)

    again = await _send(manager, form, from_user=team.leaving, to_user=team.deputy,
                        reason="annual leave")  # the same form, its key and all, once more
    assert again.status_code == 200 and 'data-moved="0" data-refused="0"' in again.text
    assert "Nothing to hand over" in again.text
    for reference in team.cases:
        assert (await _case(api, auth, reference))["version"] == versions[reference]
        history = (await api.get(f"/cases/{reference}/history",
                                 headers=auth("manager", area=AREA))).json()
        assert [h["action"] for h in history].count("assign_case_team_member") == 1


async def test_a_form_sent_twice_at_once_moves_each_case_once(api, auth, manager,
                                                                        team):
    """A double click: the second sending reads the cases before the first has moved them,
    and under the form's key each case still takes the handover once."""
    form = await _form(manager)
    fields = {"from_user": team.leaving, "to_user": team.deputy, "reason": "moves to CID"}
    first, second = await asyncio.gather(_send(manager, form, **fields),
                                         _send(manager, form, **fields))
    assert first.status_code == second.status_code == 200
    for reference in team.cases:
        history = (await api.get(f"/cases/{reference}/history",
                                 headers=auth("manager", area=AREA))).json()
        assert [h["action"] for h in history].count("assign_case_team_member") == 1


async def test_a_form_key_used_again_for_another_handover_moves_the_cases_again(
        api, auth, manager, team):
    """Back in the browser after a handover, the form keeps its key: handing the cases back
    under it is another handover, not a repeat of the first."""
    form = await _form(manager)
    there = await _send(manager, form, from_user=team.leaving, to_user=team.deputy,
                        reason="annual leave")
    assert 'data-moved="2" data-refused="0"' in there.text, there.text
    back = await _send(manager, form, from_user=team.deputy, to_user=team.leaving,
                       reason="back from leave")
    assert 'data-moved="2" data-refused="0"' in back.text, back.text
    for reference in team.cases:
        member = (await _case(api, auth, reference))["team"]["officer_in_case"]
        assert member["user_id"] == team.leaving


async def test_cases_the_service_did_not_answer_for_are_not_known_and_a_resend_moves_them_once(
        api, auth, app, client, engine, settings, team):
    """An API that gives the case service no time at all: every case is "not known yet" (it
    may still move), never "refused"; the page's resend, on an API that waits as it should,
    moves each case once."""
    hurried = create_app(settings.model_copy(update={"update_timeout_seconds": 0.001}),
                         client, engine)
    async with signed_in(hurried, settings, "manager", AREA, MANAGER) as impatient:
        form = await _form(impatient)
        unknown = await _send(impatient, form, from_user=team.leaving, to_user=team.deputy,
                              reason="annual leave")
    assert unknown.status_code == 200, unknown.text
    assert 'data-moved="0" data-refused="0"' in unknown.text
    assert "Not known yet" in unknown.text and "Refused" not in unknown.text
    resend = re.search(r'<form method="post" action="/dashboard/handover" id="resend-form">'
                       r'(.*?)</form>', unknown.text, re.S)
    assert resend is not None
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">',
                             resend.group(1)))
    assert fields["idempotency_key"] == hidden(form, "idempotency_key")
    assert (fields["from_user"], fields["to_user"]) == (team.leaving, team.deputy)
    async with signed_in(app, settings, "manager", AREA, MANAGER) as patient:
        again = await patient.post(PAGE, data=fields)
    assert again.status_code == 200, again.text
    assert "Not known yet" not in again.text
    for reference in team.cases:
        assert (await _case(api, auth, reference))["team"]["officer_in_case"]["user_id"] \
            == team.deputy
        history = (await api.get(f"/cases/{reference}/history",
                                 headers=auth("manager", area=AREA))).json()
        assert [h["action"] for h in history].count("assign_case_team_member") == 1


async def test_anyone_but_a_manager_is_refused_and_nothing_moves(api, auth, app, settings,
                                                                team):
    async with signed_in(app, settings, "officer_in_case", AREA, team.deputy) as officer:
        page = await officer.get(PAGE)
        assert page.status_code == 403
        assert 'id="problem" data-rule="ACCESS"' in page.text
        assert f'href="{PAGE}"' not in page.text  # not in a case handler's navigation
        sent = await officer.post(PAGE, data={"from_user": team.leaving, "to_user": team.deputy,
                                              "reason": "taking them"})
        assert sent.status_code == 403
    async with signed_in(app, settings, "admin", AREA, f"admin-{AREA}") as admin:
        assert (await admin.get(PAGE)).status_code == 403
    for reference in team.cases:
        case = await _case(api, auth, reference)
        assert case["team"]["officer_in_case"]["user_id"] == team.leaving


@pytest.mark.parametrize(("to_user", "said"), [
    ("self", "is the person they are handed over from: name someone else"),
    ("nobody", "is not one of your area&#39;s active staff: select a colleague from the list"),
])
async def test_a_handover_to_the_same_or_an_unknown_person_is_said_beside_its_field(
        api, auth, manager, team, to_user, said):
    before = {ref: (await _case(api, auth, ref))["version"] for ref in team.cases}
    form = await _form(manager)
    chosen = team.leaving if to_user == "self" else f"nobody-{team.deputy}"
    refused = await _send(manager, form, from_user=team.leaving, to_user=chosen,
                          reason="leaves the force", roles="officer_in_case")
    assert refused.status_code == 422
    page = refused.text
    summary = re.search(r'<div class="govuk-error-summary".*?</div>', page, re.S)
    assert summary is not None and said in summary.group(0)
    assert '<a href="#f-to_user">' in summary.group(0)  # the summary links to the field
    beside = re.search(r'<p class="govuk-error-message" id="f-to_user-error">(.*?)</p>', page, re.S)
    assert beside is not None and said in beside.group(1)
    assert page.startswith("<!doctype html>") and "<title>Error: " in page
    # What was typed and chosen is kept.
    assert ">leaves the force</textarea>" in page
    assert f'<option value="{team.leaving}" selected>' in page
    assert 'value="officer_in_case" checked' in page
    assert hidden(page, "idempotency_key") == hidden(form, "idempotency_key")
    for reference, version in before.items():
        case = await _case(api, auth, reference)
        assert case["version"] == version
        assert case["team"]["officer_in_case"]["user_id"] == team.leaving


async def test_a_form_without_its_token_changes_nothing(api, auth, manager, team):
    form = await _form(manager)
    forged = await manager.post(PAGE, data={
        "csrf_token": "x", "idempotency_key": hidden(form, "idempotency_key"),
        "from_user": team.leaving, "to_user": team.deputy, "reason": "forged"})
    assert forged.status_code == 403 and 'data-rule="CSRF"' in forged.text
    case = await _case(api, auth, team.cases[0])
    assert case["team"]["officer_in_case"]["user_id"] == team.leaving


def test_everyone_an_open_case_names_is_listed_profile_or_not(engine):
    """Nobody is missed: someone named with no profile in the area yet (an OIDC user who has
    never signed in) is listed with their open cases; a closed case counts for nobody."""
    area, now = f"named-{new_reference('x')[2:].lower()}", datetime.now(UTC)
    with Session(engine) as session:
        for reference, state in ((f"{area}-1", "investigation"), (f"{area}-2", "charging"),
                                 (f"{area}-3", "closed")):
            session.add(CaseRow(reference=reference.upper(), police_area=area, cps_area=area,
                                state=state, stalking=True, domestic_abuse=False, version=2,
                                opened_at=now, state_since=now, updated_at=now))
            session.add(CaseTeamRow(reference=reference.upper(), role="officer_in_case",
                                    user_id="oidc-officer"))
        session.commit()
        [person] = area_people(session, area, now.date())
    assert (person.user_id, person.open_cases, person.display_name) == ("oidc-officer", 2, None)
    assert not person.colleague  # cases go to staff of the area, chosen from its profiles
