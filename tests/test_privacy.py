"""Complainants' contact details: withheld wherever a role may not see them, former ones too."""

import uuid
from typing import Any

import httpx

from api.redaction import WITHHELD
from models.enums import Role
from tests import factories
from tests.api_steps import Handler, new_case_body, new_reference
from workflows import lifecycle

# Roles that read a case without contacting the complainant.
REDACTED_ROLES = (Role.MANAGER, Role.ADMIN, Role.CPS_SPOC)


async def open_case(api: httpx.AsyncClient, auth: Any, contact: dict[str, str]) -> Handler:
    reference = new_reference("PRIV")
    body = new_case_body(reference)
    body["complainants"][0]["contact"] = contact
    response = await api.post("/cases", json=body, headers=auth("officer_in_case"))
    assert response.status_code == 201, response.text
    return Handler(api, auth, reference)


async def seen_by(case: Handler, role: Role) -> str:
    """Everything the role reads of the case: its facts and its whole history."""
    facts = await case.http.get(f"/cases/{case.reference}", headers=case.auth(role))
    history = await case.http.get(f"/cases/{case.reference}/history", params={"limit": 1000},
                                  headers=case.auth(role))
    assert facts.status_code == history.status_code == 200, (facts.text, history.text)
    return facts.text + history.text


async def test_an_old_address_stays_withheld_after_the_address_changes(
        api: httpx.AsyncClient, auth: Any) -> None:
    marker = uuid.uuid4().hex[:8]
    old, new = f"{marker} Larkspur Terrace, Preston PR2 4XY", f"Flat 9, {marker} Quay Road, Lancaster"
    case = await open_case(api, auth, {"address": old, "phone": "07700 900555"})
    await case.act("officer_in_case", "record_new_incident",
                   description=f"He was seen outside {old} at midnight",
                   reasons=f"Neighbour at {old} called it in")
    await case.act("officer_in_case", "record_address_change", address=new)
    await case.act("officer_in_case", "record_new_incident",
                   description=f"Letters to {old} were redirected to {new}")

    for role in REDACTED_ROLES:
        seen = await seen_by(case, role)
        assert old not in seen and new not in seen, role
        assert f"He was seen outside {WITHHELD} at midnight" in seen, role
        assert f"Letters to {WITHHELD} were redirected to {WITHHELD}" in seen, role
    # The officer still reads both, and the old address is kept among the former details.
    officer = await case.get("officer_in_case")
    person = officer["complainants"][0]
    assert person["contact"]["address"] == new
    assert person["former_contact"] == [old]
    assert old in await seen_by(case, Role.OFFICER_IN_CASE)


async def test_replaced_contact_details_stay_withheld(api: httpx.AsyncClient, auth: Any) -> None:
    marker = uuid.uuid4().hex[:8]
    old_email, new_email = f"old.{marker}@example.org", f"new.{marker}@example.org"
    case = await open_case(api, auth, {"phone": "07700 900611", "email": old_email,
                                       "safe_contact": f"Ring her mother first {marker}"})
    await case.act("officer_in_case", "record_new_incident",
                   description=f"Messages to {old_email}; calls to 07700900611")
    await case.act("officer_in_case", "record_contact_details", contact={
        "phone": "07700 900622", "email": new_email, "preferred_means": "email"})

    for role in REDACTED_ROLES:
        seen = await seen_by(case, role)
        for secret in (old_email, new_email, "07700900611", "07700 900622", marker):
            assert secret not in seen, (role, secret)
        assert f"Messages to {WITHHELD}; calls to {WITHHELD}" in seen
    person = (await case.get("officer_in_case"))["complainants"][0]
    assert person["former_contact"] == ["07700 900611", old_email,
                                        f"Ring her mother first {marker}"]


async def test_former_contact_details_are_capped(api: httpx.AsyncClient, auth: Any) -> None:
    from models.people import FORMER_CONTACT_LIMIT

    case = await open_case(api, auth, {"address": "0 First Street, Liverpool"})
    addresses = [f"{i} Moving Street, Liverpool" for i in range(1, FORMER_CONTACT_LIMIT + 3)]
    for address in addresses:
        await case.act("officer_in_case", "record_address_change", address=address)
    person = (await case.get("officer_in_case"))["complainants"][0]
    assert person["former_contact"] == addresses[-FORMER_CONTACT_LIMIT - 1:-1]
    assert person["contact"]["address"] == addresses[-1]


def test_a_request_naming_another_case_is_refused_as_unknown() -> None:
    case = factories.opened()
    request = factories.request(factories.OFFICER, "record_new_incident")
    assert lifecycle.check(case, request.model_copy(update={"reference": case.reference}),
                           factories.NOW) is None
    refusal = lifecycle.check(case, request.model_copy(update={"reference": "OTHER-CASE"}),
                              factories.NOW)
    assert refusal is not None and refusal.rule == "NOT_FOUND"
