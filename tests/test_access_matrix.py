"""Who may do what: every endpoint of the OpenAPI document, every role, own area and other.

The endpoints are read from the app's own OpenAPI document, so a new endpoint is covered the
moment it exists: it must refuse a request without a token, a read of a case must answer 404 to
another area and leak neither another area's case nor a complainant's contact details, and an
endpoint that changes something must be given its expectations in WRITES below (the
classification test fails until it is).

Public, and skipped by the token check: GET /health and GET /ready are the liveness and
readiness probes (orchestrators call them without a token; they hold no case data), and
POST /auth/token is the login that hands tokens out. The documentation routes (/docs, /redoc,
/openapi.json) and /metrics are not in the document (include_in_schema=False).

Actions follow workflows.lifecycle.LIFECYCLE: each kind is tried by every role in a state where
it is allowed; the roles it lists pass the access check (they get 200, or a protocol refusal
that is neither ACCESS nor STATE), every other role gets 403 ACCESS, the same listed roles from
another area get the 404 of an unknown case, and no refusal changes the case. The cases are
built once, through the API.

Staff profiles (/me, /people) hold colleagues' contact details: every role of the area reads
one, only managers and admins list them, another area gets the 404 of an unknown person and
none of the details; an admin of the area alone sets a profile, and an absence is set by the
user, or a manager or admin of the area.

The codec endpoint is given the secret case's whole workflow history, as the Temporal UI sends
it, by every role of both areas: only admin and manager may decode; another area's decoder gets
nothing of the case (not even its reference), and the case's own area sees what the API shows
the role (names, but every contact detail withheld, in fields and in free text).
"""

import asyncio
import base64
import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from api.codec_access import Kind, subject_of
from api.examples import ACTION_EXAMPLES
from api.main import create_app
from api.redaction import SEES_CONTACT_DETAILS, WITHHELD
from api.routes.codec import DECODERS
from api.routes.people import LISTS_PEOPLE, SETS_ABSENCES
from core.settings import Settings
from models.enums import POLICE_ROLES, CaseState, Role
from tests.api_steps import Handler, new_case_body, new_reference
from tests.conftest import eventually
from tests.payloads import decoded_data, history_payloads
from workflows.case import case_workflow_id
from workflows.lifecycle import LIFECYCLE

S = CaseState
OWN, OTHER = "matrix-own", "matrix-other"
AREAS = (OWN, OTHER)
ROLES = [role for role in Role if role is not Role.SYSTEM]  # no token may carry SYSTEM
Auth = Callable[..., dict[str, str]]

PUBLIC = {
    ("GET", "/health"): "liveness probe, called without a token; no case data",
    ("GET", "/ready"): "readiness probe, called without a token; says only ok or unreachable",
    ("POST", "/auth/token"): "the login: it is how a token is got",
}
# Endpoints that change something, with the test below that gives their expectations.
WRITES = {
    ("POST", "/cases"): "test_only_police_open_cases_and_only_in_their_own_area",
    ("POST", "/cases/{reference}/actions"): "test_action_is_allowed_exactly_to_its_roles",
    ("POST", "/codec/encode"): "test_codec_encode_is_for_everyone_decode_for_admin_and_manager",
    ("POST", "/people/{user_id}/reassign"): "test_only_a_manager_hands_cases_over",
    ("POST", "/codec/decode"): "test_codec_encode_is_for_everyone_decode_for_admin_and_manager, "
                               "test_codec_decode_shows_no_more_than_the_api_by_role_and_area",
    ("PUT", "/people/{user_id}"): "test_only_an_admin_of_the_area_sets_a_profile",
    ("PUT", "/people/{user_id}/absence"): "test_an_absence_is_set_by_the_user_or_a_manager_or_"
                                          "admin_of_the_area",
    ("DELETE", "/people/{user_id}/absence"): "test_an_absence_is_set_by_the_user_or_a_manager_"
                                             "or_admin_of_the_area",
}
# Reads open to some roles only: the others get 403 ACCESS.
READ_BY = {("GET", "/people"): LISTS_PEOPLE}
# Whose profile a path names: the own area's officer, whose token the tests carry.
STAFF_USER = f"{Role.OFFICER_IN_CASE.value}-{OWN}"
STAFF_SECRETS = {"email": "wilhelmina.staff@force.example", "phone": "01632 960777"}


def _operations() -> list[tuple[str, str]]:
    doc = create_app(Settings(_env_file=None)).openapi()
    return [(method.upper(), path) for path, item in doc["paths"].items() for method in item]


OPERATIONS = _operations()
PROTECTED = [op for op in OPERATIONS if op not in PUBLIC]
READS = [op for op in PROTECTED if op[0] == "GET"]


def op_id(op: tuple[str, str]) -> str:
    return f"{op[0]} {op[1]}"


def fill(path: str, reference: str) -> tuple[str, bool]:
    """The path with its parameters filled in; False if one had no meaningful value to take."""
    known = True

    def value(match: re.Match[str]) -> str:
        nonlocal known
        if match[1] == "reference":
            return reference
        if match[1] == "user_id":
            return STAFF_USER
        known = False
        return "x"

    return re.sub(r"\{(\w+)\}", value, path), known


# Cases, built once per module through the API


class CasePool:
    """Cases of the own area in a given state; one is replaced once an action moves it on."""

    def __init__(self, api: httpx.AsyncClient, auth: Auth) -> None:
        self.api, self.auth = api, auth
        self._cases: dict[CaseState, str] = {}

    def handler(self, reference: str) -> Handler:
        return Handler(self.api, self.auth, reference, area=OWN)

    async def case_in(self, state: CaseState) -> str:
        if state not in self._cases:
            self._cases[state] = await self.build(state)
        return self._cases[state]

    def moved(self, state: CaseState) -> None:
        self._cases.pop(state, None)

    async def build(self, state: CaseState, **open_with: Any) -> str:
        case = self.handler(new_reference(f"MX-{state.value[:4].upper()}"))
        assert (await case.open(**open_with)).status_code == 201
        if state is S.REFERRAL:
            await case.act("officer_in_case", "record_risk_assessment", assessment={
                "tool": "DASH", "level": "medium", "assessed_on": "2026-11-20", "assessor": "PC 1"})
            await case.act("officer_in_case", "refer_to_cps")
        elif state is S.CHARGING:
            await case.to_charging()
        elif state is S.PREPARATION:
            await case.to_charging()
            await case.act("prosecutor", "make_charging_decision", charges=["pha1997_s4a"])
        elif state is S.PLEAS:
            await case.to_pleas()
        elif state is S.TRIAL:
            await case.to_pleas()
            await case.act("prosecutor", "enter_pleas", guilty=False)
        elif state is S.RESTRAINING_ORDER:
            await case.to_restraining_order()
        assert (await case.get())["state"] == state.value
        return case.reference


@pytest.fixture(scope="module")
async def pool(api: httpx.AsyncClient, auth: Auth) -> CasePool:
    cases = CasePool(api, auth)
    states = [S.INVESTIGATION, S.REFERRAL, S.PREPARATION, S.PLEAS, S.TRIAL, S.RESTRAINING_ORDER]
    built = await asyncio.gather(*(cases.build(state) for state in states))
    cases._cases.update(zip(states, built, strict=True))
    return cases


SECRETS = {"phone": "07700 900461", "email": "zephyrine.q@example.org",
           "address": "17 Marrowgate Close, Penwortham PR1 9ZZ",
           "safe_contact": "Ring her sister on 07700 900462 first"}
# Free text repeats them too, differently spaced: the redaction must catch that as well.
SECRET_TEXTS = [*SECRETS.values(), "07700900461", "Marrowgate Close"]


@pytest.fixture(scope="module")
async def secret_case(api: httpx.AsyncClient, auth: Auth) -> str:
    """A case in pleas whose complainant has every contact detail, repeated in free text."""
    reference = new_reference("MX-SECRET")
    body = new_case_body(reference, area=OWN)
    body["complainants"][0]["contact"] = SECRETS | {"preferred_means": "text", "spoc": "PC 12"}
    assert (await api.post("/cases", json=body, headers=auth("officer_in_case", OWN))).status_code == 201
    case = Handler(api, auth, reference, area=OWN)
    await case.act("officer_in_case", "record_new_incident",
                   description="He waited outside 17 Marrowgate Close, Penwortham PR1 9ZZ",
                   reasons="Called her on 07700900461; she asked us to use zephyrine.q@example.org")
    await case.to_pleas()
    return reference


def profile_of(role: Role, **fields: Any) -> dict[str, Any]:
    return {"display_name": f"Staff {role.value}", "role": role.value, "area": OWN} | fields


@pytest.fixture(scope="module")
async def staff(api: httpx.AsyncClient, auth: Auth) -> None:
    """A profile for each role's user of the own area (the users the tokens name), the
    officer's with contact details."""
    for role in ROLES:
        fields = STAFF_SECRETS if role is Role.OFFICER_IN_CASE else {}
        response = await api.put(f"/people/{role.value}-{OWN}",
                                 json=profile_of(role, **fields), headers=auth("admin", OWN))
        assert response.status_code in (200, 201), response.text


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def leaked(text: str) -> list[str]:
    return [secret for secret in SECRET_TEXTS if secret.lower() in text.lower()]


# No token, no entry


def test_every_operation_is_public_or_protected_for_a_stated_reason() -> None:
    assert set(PUBLIC) <= set(OPERATIONS), "a public route listed here no longer exists"
    assert READS, "the document lists no reads"
    unclassified = [op_id(op) for op in PROTECTED if op[0] != "GET" and op not in WRITES]
    assert not unclassified, (
        f"{unclassified} change something: add their access rules to WRITES and test them")


@pytest.mark.parametrize("op", PROTECTED, ids=op_id)
async def test_every_operation_refuses_a_request_without_a_token(
        op: tuple[str, str], api: httpx.AsyncClient, pool: CasePool) -> None:
    method, path = op
    url, _ = fill(path, await pool.case_in(S.INVESTIGATION))
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        response = await api.request(method, url, headers=headers)
        assert response.status_code == 401, (op, headers, response.text)
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.json()["detail"]


@pytest.mark.parametrize("op", list(PUBLIC), ids=op_id)
async def test_public_operations_answer_without_a_token(
        op: tuple[str, str], api: httpx.AsyncClient) -> None:
    method, path = op
    response = await api.request(method, path)
    if path == "/auth/token":
        assert response.status_code == 422  # no credentials in the form: a login, not a 401
        assert any("username" in e["loc"] for e in response.json()["detail"])
    else:
        assert response.status_code == 200, response.text


# Reads: every GET, every role, both areas


@pytest.mark.parametrize("role", ROLES, ids=str)
@pytest.mark.parametrize("op", READS, ids=op_id)
async def test_reads_show_only_your_area_and_contact_details_only_to_those_who_need_them(
        op: tuple[str, str], role: Role, api: httpx.AsyncClient, auth: Auth,
        secret_case: str, staff: None) -> None:
    _, path = op
    url, known = fill(path, secret_case)
    own = await api.get(url, headers=auth(role, OWN))
    other = await api.get(url, headers=auth(role, OTHER))
    for response in (own, other):
        assert response.status_code < 500, (url, response.text)
        assert response.status_code != 401
    if op in READ_BY and role not in READ_BY[op]:
        assert own.status_code == 403 and own.json()["detail"]["rule"] == "ACCESS", own.text
    elif known:
        assert own.status_code == 200, (url, role, own.text)
    if "{reference}" in path or "{user_id}" in path:
        # Another area's case, or person, answers as if it did not exist.
        assert other.status_code == 404, (url, role, other.text)
        assert other.json()["detail"]["rule"] == "NOT_FOUND"
    assert secret_case not in other.text.replace(f"No case {secret_case}.", "")
    assert not leaked(other.text)
    assert not [v for v in STAFF_SECRETS.values() if v in other.text], (url, role, other.text)
    if role not in SEES_CONTACT_DETAILS:
        assert not leaked(own.text), (url, role, leaked(own.text))


@pytest.mark.parametrize("role", ROLES, ids=str)
async def test_case_shows_contact_details_to_exactly_the_roles_that_need_them(
        role: Role, api: httpx.AsyncClient, auth: Auth, secret_case: str) -> None:
    case = (await api.get(f"/cases/{secret_case}", headers=auth(role, OWN))).json()
    contact = case["complainants"][0]["contact"]
    history = (await api.get(f"/cases/{secret_case}/history", headers=auth(role, OWN))).json()
    incident = next(h for h in history if h["action"] == "record_new_incident")
    assert contact["spoc"] == "PC 12" and contact["preferred_means"] == "text"  # always shown
    if role in SEES_CONTACT_DETAILS:
        assert {k: contact[k] for k in SECRETS} == SECRETS
        assert "07700900461" in incident["reasons"]
        assert "Marrowgate Close" in case["incidents"][0]["description"]
    else:
        assert {k: contact[k] for k in SECRETS} == dict.fromkeys(SECRETS, WITHHELD)
        assert incident["reasons"] == f"Called her on {WITHHELD}; she asked us to use {WITHHELD}"
        assert case["incidents"][0]["description"] == f"He waited outside {WITHHELD}"
        assert case["complainants"][0]["name"] == "Complainant C1"  # names are not withheld


# What each role may take in pleas, where every role but admin has an action.
ACTION_IN_PLEAS = {
    Role.OFFICER_IN_CASE: "record_new_incident", Role.POLICE_SPOC: "record_new_incident",
    Role.PROSECUTOR: "record_conduct", Role.CPS_SPOC: "list_hearing",
    Role.WITNESS_CARE: "list_hearing", Role.MANAGER: "record_manager_authority",
}


@pytest.mark.parametrize("role", ROLES, ids=str)
async def test_action_response_shows_contact_details_to_exactly_the_roles_that_need_them(
        role: Role, api: httpx.AsyncClient, auth: Auth, secret_case: str) -> None:
    kind = ACTION_IN_PLEAS.get(role, "record_new_incident")
    body = {"action": {"kind": kind, **ACTION_EXAMPLES[kind]},
            "reasons": "Texted 07700 900461 to confirm; letter to 17 Marrowgate Close, Penwortham PR1 9ZZ"}
    response = await api.post(f"/cases/{secret_case}/actions", json=body, headers=auth(role, OWN))
    if role not in ACTION_IN_PLEAS:  # admin takes no action: the refusal holds no case at all
        assert response.status_code == 403 and response.json()["detail"]["rule"] == "ACCESS"
        assert "case" not in response.json() and not leaked(response.text)
        return
    assert response.status_code == 200, response.text
    entry = response.json()["entry"]
    assert entry["action"] == kind
    case = await api.get(f"/cases/{secret_case}", headers=auth(role, OWN))
    history = await api.get(f"/cases/{secret_case}/history", headers=auth(role, OWN),
                            params={"after": entry["version"] - 1})
    assert history.json()[0]["version"] == entry["version"]
    if role in SEES_CONTACT_DETAILS:
        assert case.json()["complainants"][0]["contact"]["address"] == SECRETS["address"]
        assert entry["reasons"] == history.json()[0]["reasons"] == body["reasons"]
    else:
        for answer in (response, case, history):
            assert not leaked(answer.text), leaked(answer.text)
        assert entry["reasons"] == history.json()[0]["reasons"] == \
            f"Texted {WITHHELD} to confirm; letter to {WITHHELD}"


async def test_list_shows_only_your_areas_cases_to_every_role(
        api: httpx.AsyncClient, auth: Auth, pool: CasePool) -> None:
    mine = {await pool.case_in(S.INVESTIGATION), await pool.case_in(S.REFERRAL)}

    async def listed(role: Role, area: str) -> set[str]:
        response = await api.get("/cases", params={"limit": 500}, headers=auth(role, area))
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        assert all(area in (i["police_area"], i["cps_area"]) for i in items)
        return {i["reference"] for i in items}

    for role in ROLES:
        async def shows_mine(role: Role = role) -> bool:
            return mine <= await listed(role, OWN)

        await eventually(shows_mine)  # the read model follows the workflows a moment later
        assert not (await listed(role, OTHER)) & mine


# Writes: opening cases, acting on them, the codec


@pytest.mark.parametrize("role", ROLES, ids=str)
async def test_only_police_open_cases_and_only_in_their_own_area(
        role: Role, api: httpx.AsyncClient, auth: Auth, pool: CasePool) -> None:
    reference = new_reference("MX-OPEN")
    own = await api.post("/cases", json=new_case_body(reference, area=OWN), headers=auth(role, OWN))
    if role in POLICE_ROLES:
        assert own.status_code == 201, own.text
        opened = await api.get(f"/cases/{reference}/history", headers=auth(role, OWN))
        assert opened.json()[0]["actor"]["role"] == role.value
    else:
        assert own.status_code == 403 and own.json()["detail"]["rule"] == "ACCESS", own.text
    # Opening for another area is refused, whatever the role.
    other = await api.post("/cases", json=new_case_body(new_reference("MX-OPEN"), area=OWN),
                           headers=auth(role, OTHER))
    assert other.status_code == 403 and other.json()["detail"]["rule"] == "ACCESS"
    # Repeating another area's reference in your own area shows nothing of that case.
    taken = await pool.case_in(S.INVESTIGATION)
    again = await api.post("/cases", json=new_case_body(taken, area=OTHER), headers=auth(role, OTHER))
    assert again.status_code in (403, 404), again.text
    assert "complainants" not in again.text and not leaked(again.text)


@pytest.mark.parametrize("role", ROLES, ids=str)
async def test_only_an_admin_of_the_area_sets_a_profile(
        role: Role, api: httpx.AsyncClient, auth: Auth, staff: None) -> None:
    user = f"mx-person-{role.value}"
    own = await api.put(f"/people/{user}", json=profile_of(Role.WITNESS_CARE),
                        headers=auth(role, OWN))
    if role is Role.ADMIN:
        assert own.status_code in (200, 201), own.text
    else:
        assert own.status_code == 403 and own.json()["detail"]["rule"] == "ACCESS", own.text
    # Another area's admin, or anyone of it: the own area's person is unknown to them.
    taken = await api.put(f"/people/{STAFF_USER}",
                          json=profile_of(Role.OFFICER_IN_CASE, area=OTHER),
                          headers=auth(role, OTHER))
    assert taken.status_code in (403, 404), taken.text
    assert not [v for v in STAFF_SECRETS.values() if v in taken.text]
    read = await api.get(f"/people/{STAFF_USER}", headers=auth("manager", OWN))
    assert read.json()["area"] == OWN and read.json()["email"] == STAFF_SECRETS["email"]


@pytest.mark.parametrize("area", AREAS)
@pytest.mark.parametrize("role", ROLES, ids=str)
async def test_an_absence_is_set_by_the_user_or_a_manager_or_admin_of_the_area(
        role: Role, area: str, api: httpx.AsyncClient, auth: Auth, staff: None) -> None:
    user = f"{Role.WITNESS_CARE.value}-{OWN}"  # the own area's witness care officer
    deputy = f"mx-deputy-{uuid.uuid4().hex[:6]}"
    made = await api.put(f"/people/{deputy}", json=profile_of(Role.WITNESS_CARE),
                         headers=auth("admin", OWN))
    assert made.status_code == 201, made.text
    url = f"/people/{user}/absence"
    week = {"absent_from": "2026-12-07", "absent_to": "2026-12-11", "deputy": deputy}
    allowed = area == OWN and (role in SETS_ABSENCES or role is Role.WITNESS_CARE)
    for response in (await api.put(url, json=week, headers=auth(role, area)),
                     await api.delete(url, headers=auth(role, area))):
        if allowed:
            assert response.status_code == 200, (role, area, response.text)
        elif area == OTHER:
            assert response.status_code == 404, (role, response.text)
            assert response.json()["detail"]["rule"] == "NOT_FOUND"
        else:
            assert response.status_code == 403, (role, response.text)
            assert response.json()["detail"]["rule"] == "ACCESS"


STATE_ORDER = list(CaseState)


def representative_state(kind: str) -> CaseState:
    """The earliest open state in which the action is allowed: the cheapest case to build."""
    return min((s for s in LIFECYCLE[kind].states if s is not S.CLOSED), key=STATE_ORDER.index)


async def version_of(api: httpx.AsyncClient, auth: Auth, reference: str) -> int:
    response = await api.get(f"/cases/{reference}", headers=auth("manager", OWN))
    assert response.status_code == 200, response.text
    return int(response.json()["version"])


@pytest.mark.parametrize("kind", sorted(LIFECYCLE))
async def test_action_is_allowed_exactly_to_its_roles(
        kind: str, api: httpx.AsyncClient, auth: Auth, pool: CasePool) -> None:
    spec, state = LIFECYCLE[kind], representative_state(kind)
    body = {"action": {"kind": kind, **ACTION_EXAMPLES[kind]}}
    reference = await pool.case_in(state)
    url = f"/cases/{reference}/actions"
    before = await version_of(api, auth, reference)

    # Refused: the roles the action lists, but of another area (their area is the only thing
    # wrong: 404, as for a case that does not exist), and the roles it does not list. One
    # after another: concurrent updates of one workflow only queue behind each other, more
    # slowly.
    attempts = [(r, OTHER) for r in sorted(spec.roles)] + [(r, OWN) for r in ROLES
                                                           if r not in spec.roles]
    missing = new_reference("MX-NONE")
    unknown = await api.post(f"/cases/{missing}/actions", json=body,
                             headers=auth(sorted(spec.roles)[0], OWN))
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["detail"] == {"rule": "NOT_FOUND", "message": f"No case {missing}."}
    for role, area in attempts:
        response = await api.post(url, json=body, headers=auth(role, area))
        detail = response.json()["detail"]
        if area == OTHER:
            # Exactly what an unknown case answers: nothing says that this one exists.
            assert response.status_code == 404, (role, area, response.text)
            assert detail == {"rule": "NOT_FOUND", "message": f"No case {reference}."}
        else:
            assert response.status_code == 403, (role, response.text)
            assert detail["rule"] == "ACCESS" and f"a {role.value} cannot take it" in detail["message"]
        assert "case" not in response.json()
    assert await version_of(api, auth, reference) == before, "a refused action changed the case"

    # Allowed: each listed role passes the access check in a state where the action is allowed.
    for allowed in sorted(spec.roles):
        reference = await pool.case_in(state)
        response = await api.post(f"/cases/{reference}/actions", json=body, headers=auth(allowed, OWN))
        if response.status_code == 200:
            if response.json()["state"] != state.value:
                pool.moved(state)  # the next role needs a case still in this state
            continue
        assert response.status_code in (409, 422), (allowed, response.text)
        assert response.json()["detail"]["rule"] not in ("ACCESS", "STATE"), (allowed, response.text)


@pytest.mark.parametrize("role", [r for r in ROLES if r is not Role.MANAGER], ids=str)
async def test_only_a_manager_hands_cases_over(role: Role, api: httpx.AsyncClient,
                                               auth: Auth, pool: CasePool) -> None:
    """Every other role is refused (403 ACCESS) and nothing moves; a manager of another area
    finds none of this area's cases to move (tests/test_case_team.py moves them)."""
    reference = await pool.case_in(S.INVESTIGATION)
    before = await version_of(api, auth, reference)
    body = {"to_user": "someone-else", "reason": "leave"}
    response = await api.post(f"/people/{Role.OFFICER_IN_CASE.value}-{OWN}/reassign", json=body,
                              headers=auth(role, OWN))
    assert response.status_code == 403, response.text
    assert response.json()["detail"]["rule"] == "ACCESS"
    other = await api.post(f"/people/{Role.OFFICER_IN_CASE.value}-{OWN}/reassign", json=body,
                           headers=auth(Role.MANAGER, OTHER))
    assert other.status_code == 200 and other.json()["moved"] == []
    assert await version_of(api, auth, reference) == before


async def test_an_ended_case_of_another_area_answers_as_unknown(
        api: httpx.AsyncClient, auth: Auth, pool: CasePool, client: Client) -> None:
    reference = await pool.build(S.INVESTIGATION)  # its own: the pool's are shared
    await client.get_workflow_handle(case_workflow_id(reference)).terminate(reason="ended")
    body = {"action": {"kind": "record_new_incident", "description": "calls overnight"}}
    url = f"/cases/{reference}/actions"
    # Its own area is told its workflow ended (not that it is closed: it was not).
    own = await api.post(url, json=body, headers=auth(Role.OFFICER_IN_CASE, OWN))
    assert own.status_code == 409 and own.json()["detail"]["rule"] == "WORKFLOW_ENDED", own.text
    assert "terminated" in own.json()["detail"]["message"]
    other = await api.post(url, json=body, headers=auth(Role.OFFICER_IN_CASE, OTHER))
    assert other.status_code == 404, other.text
    assert other.json()["detail"] == {"rule": "NOT_FOUND", "message": f"No case {reference}."}


async def test_manager_alone_records_the_p7_3_authority(
        api: httpx.AsyncClient, auth: Auth, pool: CasePool) -> None:
    reference = await pool.build(S.PLEAS)
    url = f"/cases/{reference}/actions"
    body = {"action": {"kind": "record_manager_authority", "note": "Authorised by Deputy CCP."}}
    for role in ROLES:
        if role != Role.MANAGER:
            refused = await api.post(url, json=body, headers=auth(role, OWN))
            assert refused.status_code == 403, (role, refused.text)
            assert refused.json()["detail"]["rule"] == "ACCESS"
    assert (await api.get(f"/cases/{reference}", headers=auth("manager", OWN))).json()[
        "plea_authority"] is None
    allowed = await api.post(url, json=body, headers=auth("manager", OWN, "dccp-1"))
    assert allowed.status_code == 200, allowed.text
    assert (await api.get(f"/cases/{reference}", headers=auth("manager", OWN))).json()[
        "plea_authority"]["authorised_by"] == "dccp-1"


async def test_charging_decision_is_the_prosecutors_or_the_polices_where_p4_3_allows(
        api: httpx.AsyncClient, auth: Auth, pool: CasePool) -> None:
    decision = {"action": {"kind": "make_charging_decision",
                           **ACTION_EXAMPLES["make_charging_decision"]}}
    risk = {"tool": "DASH", "level": "medium", "assessed_on": "2026-11-20", "assessor": "PC 1"}

    async def assessed(**open_with: Any) -> Handler:
        case = pool.handler(new_reference("MX-CHG"))
        assert (await case.open(**open_with)).status_code == 201
        await case.act("officer_in_case", "record_risk_assessment", assessment=risk)
        return case

    async def decide(case: Handler, role: Role | str) -> httpx.Response:
        return await api.post(f"/cases/{case.reference}/actions", json=decision,
                              headers=auth(role, OWN))

    # Unreferred and not domestic abuse: the police may decide (P4.3); others may not at all.
    police_case = await assessed()
    for role in (Role.CPS_SPOC, Role.WITNESS_CARE, Role.MANAGER, Role.ADMIN):
        refused = await decide(police_case, role)
        assert refused.status_code == 403 and refused.json()["detail"]["rule"] == "ACCESS"
    charged = await decide(police_case, Role.POLICE_SPOC)
    assert charged.status_code == 200, charged.text
    assert (await police_case.get())["decisions"][-1]["decided_by"] == "police"

    # Domestic abuse: the police may not decide it, though their role is listed.
    da_case = await assessed(domestic_abuse=True)
    refused = await decide(da_case, Role.OFFICER_IN_CASE)
    assert refused.status_code == 409 and refused.json()["detail"]["rule"] == "P4.3"

    # Referred and under review: the prosecutor's decision, not the police's.
    charging = pool.handler(await pool.build(S.CHARGING))
    refused = await decide(charging, Role.OFFICER_IN_CASE)
    assert refused.status_code == 409 and refused.json()["detail"]["rule"] == "P4.3"
    refused = await decide(charging, Role.CPS_SPOC)
    assert refused.status_code == 403 and refused.json()["detail"]["rule"] == "ACCESS"
    decided = await decide(charging, Role.PROSECUTOR)
    assert decided.status_code == 200, decided.text
    assert (await charging.get())["decisions"][-1]["decided_by"] == "cps"


@pytest.mark.parametrize("area", AREAS)
@pytest.mark.parametrize("role", ROLES, ids=str)
async def test_codec_encode_is_for_everyone_decode_for_admin_and_manager(
        role: Role, area: str, api: httpx.AsyncClient, auth: Auth) -> None:
    plain = {"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "eyJuYW1lIjogIk1zIFgifQ=="}
    encoded = await api.post("/codec/encode", json={"payloads": [plain]}, headers=auth(role, area))
    assert encoded.status_code == 200, encoded.text
    sealed = encoded.json()["payloads"]
    decoded = await api.post("/codec/decode", json={"payloads": sealed}, headers=auth(role, area))
    if role is Role.ADMIN:
        # It names no case: the admin's alone, who runs the service (api/codec_access.py).
        assert decoded.status_code == 200, decoded.text
        assert decoded.json()["payloads"] == [plain]
    elif role in DECODERS:
        assert decoded.status_code == 200, decoded.text
        assert decoded.json()["payloads"] == [{"metadata": plain["metadata"],
                                               "data": b64(json.dumps(WITHHELD).encode())}]
        assert "Ms X" not in decoded.text
    else:
        assert decoded.status_code == 403, decoded.text
        assert decoded.json()["detail"]["rule"] == "ACCESS"
        assert "Ms X" not in decoded.text


@pytest.fixture(scope="module")
async def secret_payloads(client: Client, secret_case: str) -> list[dict[str, Any]]:
    """Every payload of the secret case's workflow history, as the Temporal UI sends them."""
    return await history_payloads(client, secret_case)


@pytest.mark.parametrize("area", AREAS)
@pytest.mark.parametrize("role", ROLES, ids=str)
async def test_codec_decode_shows_no_more_than_the_api_by_role_and_area(
        role: Role, area: str, api: httpx.AsyncClient, auth: Auth, secret_case: str,
        secret_payloads: list[dict[str, Any]]) -> None:
    response = await api.post("/codec/decode", json={"payloads": secret_payloads},
                              headers=auth(role, area))
    if role not in DECODERS:
        assert response.status_code == 403 and response.json()["detail"]["rule"] == "ACCESS"
        assert not leaked(response.text)
        return
    documents = [json.loads(d) for d in decoded_data(response)]
    assert len(documents) == len(secret_payloads)
    assert not leaked(response.text), leaked(response.text)
    shown = [doc for doc in documents if doc != WITHHELD]
    if area == OTHER:
        # Another area's case: nothing of it, not even its reference.
        assert secret_case not in response.text
        allowed = {Kind.NOTHING} | ({Kind.OTHER} if role is Role.ADMIN else set())
        assert {subject_of(doc).kind for doc in shown} <= allowed, shown
        return
    # Its own area's case, as the API shows it to the role: names, but no contact details.
    assert role not in SEES_CONTACT_DETAILS
    started = next(doc["new_case"] for doc in shown if isinstance(doc, dict) and "new_case" in doc)
    assert started["reference"] == secret_case
    person = started["complainants"][0]
    assert person["name"] == "Complainant C1"
    assert {person["contact"][k] for k in SECRETS} == {WITHHELD}
    incident = next(doc["action"] for doc in shown if isinstance(doc, dict)
                    and doc.get("action", {}).get("kind") == "record_new_incident")
    assert incident["description"] == f"He waited outside {WITHHELD}"


def test_decoders_are_admin_and_manager() -> None:
    assert frozenset({Role.ADMIN, Role.MANAGER}) == DECODERS
