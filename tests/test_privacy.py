"""Complainants' contact details: withheld wherever a role may not see them, former ones too."""

import json
import uuid
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.api.common.v1 import Payload
from temporalio.client import Client

from api.codec_access import Kind, subject_of, visible_payloads
from api.redaction import WITHHELD
from api.routes.codec import DECODERS
from models.audit import AuditRow
from models.case import Actor, CaseFile, LinkedCase
from models.enums import Role
from tests import factories
from tests.api_steps import Handler, new_case_body, new_reference
from tests.payloads import decoded_data, history_payloads, plain
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


# The codec endpoint for the Temporal UI: never more than the API shows the same user


async def case_with_history(api: httpx.AsyncClient, auth: Any, client: Client) -> dict[str, Any]:
    """A case whose workflow history holds every contact detail, one of them replaced."""
    marker = uuid.uuid4().hex[:8]
    secrets = {"name": f"Ottoline Brackenridge-{marker}",
               "phone": "07700 900733", "email": f"ottoline.{marker}@example.org",
               "old_address": f"{marker} Foxglove Row, Chorley PR7 1QQ",
               "address": f"{marker} Harbour Walk, Fleetwood FY7 6AB"}
    case = await open_case(api, auth, {"phone": secrets["phone"], "email": secrets["email"],
                                       "address": secrets["old_address"]})
    await case.act("officer_in_case", "record_new_incident",
                   description=f"He waited outside {secrets['old_address']}",
                   reasons=f"She called from {secrets['phone']}")
    await case.act("officer_in_case", "record_address_change", address=secrets["address"])
    await case.act("officer_in_case", "record_new_incident",
                   description=f"Flowers left at {secrets['address']} for {secrets['email']}")
    await case.act("officer_in_case", "add_complainant", complainant={
        "complainant_id": "C2", "name": secrets["name"],
        "contact": {"address": secrets["address"]}})
    payloads = await history_payloads(client, case.reference)
    return {"reference": case.reference, "secrets": secrets, "payloads": payloads}


def leaks(text: str, secrets: dict[str, str], *, name: bool = True) -> list[str]:
    return [key for key, value in secrets.items()
            if (name or key != "name") and value.lower() in text.lower()]


async def test_codec_shows_another_areas_manager_nothing_of_the_case(
        api: httpx.AsyncClient, auth: Any, client: Client) -> None:
    case = await case_with_history(api, auth, client)
    for role in DECODERS:
        response = await api.post("/codec/decode", json={"payloads": case["payloads"]},
                                  headers=auth(role, "south"))
        data = decoded_data(response)
        assert len(data) == len(case["payloads"])
        assert not leaks(response.text, case["secrets"]), role
        assert case["reference"] not in b"".join(data).decode(), role
        # What is not withheld is not about a case: counts, and for the admin who runs the
        # service, what names no case at all (a patch marker).
        shown = [json.loads(d) for d in data if json.loads(d) != WITHHELD]
        allowed = {Kind.NOTHING} | ({Kind.OTHER} if role is Role.ADMIN else set())
        assert {subject_of(doc).kind for doc in shown} <= allowed, (role, shown)


async def test_codec_shows_the_case_to_its_areas_manager_as_the_api_does(
        api: httpx.AsyncClient, auth: Any, client: Client) -> None:
    case = await case_with_history(api, auth, client)
    secrets = case["secrets"]
    for role in DECODERS:
        response = await api.post("/codec/decode", json={"payloads": case["payloads"]},
                                  headers=auth(role, "north"))
        data = [d.decode() for d in decoded_data(response)]
        # Names are shown, as the API shows them; no contact detail, old or new, is.
        assert not leaks(response.text, secrets, name=False), role
        started = next(json.loads(d) for d in data if '"new_case"' in d)
        assert started["new_case"]["reference"] == case["reference"]
        contact = started["new_case"]["complainants"][0]["contact"]
        assert {contact[k] for k in ("phone", "email", "address")} == {WITHHELD}
        everything = "".join(data)
        assert secrets["name"] in everything  # in the add_complainant request
        assert f"He waited outside {WITHHELD}" in everything
        assert f"Flowers left at {WITHHELD} for {WITHHELD}" in everything
    # The roles the API shows contact details to may not decode at all.
    for role in set(Role) - DECODERS - {Role.SYSTEM}:
        refused = await api.post("/codec/decode", json={"payloads": case["payloads"]},
                                 headers=auth(role, "north"))
        assert refused.status_code == 403 and not leaks(refused.text, secrets)


async def test_codec_withholds_what_it_cannot_attribute_to_a_case_of_yours(
        api: httpx.AsyncClient, auth: Any) -> None:
    async def decoded(role: str, *documents: Any) -> list[Any]:
        sealed = await api.post("/codec/encode", headers=auth(role), json={
            "payloads": [plain(json.dumps(d).encode()) for d in documents]})
        response = await api.post("/codec/decode", json=sealed.json(), headers=auth(role))
        return [json.loads(d) for d in decoded_data(response)]

    # A payload of no case (a failure's message): the admin's, for running the service.
    failure = {"message": "boom", "stack_trace": "Traceback ..."}
    assert await decoded("admin", failure) == [failure]
    assert await decoded("manager", failure) == [WITHHELD]
    # Counts and versions hold nothing: shown to every decoder.
    assert await decoded("manager", 3, [4, 5], None) == [3, [4, 5], None]
    # Case data whose case is unknown, or that does not exist: no one's.
    request = {"request_id": "r1", "actor": {"user_id": "pc-1", "role": "officer_in_case",
                                             "area": "north"},
               "action": {"kind": "record_new_incident", "description": "at 1 Any Road"}}
    unknown_case = {"reference": new_reference("NONE"), "police_area": "north",
                    "cps_area": "north", "complainants": []}
    for role in DECODERS:
        assert await decoded(role, request, unknown_case) == [WITHHELD, WITHHELD]
    # An area's figures: that area's.
    figures = {"area": "north", "month": "2026-10", "figures": []}
    assert await decoded("manager", figures) == [figures]
    south = await api.post("/codec/encode", headers=auth("manager", "south"), json={
        "payloads": [plain(json.dumps(figures).encode())]})
    other = await api.post("/codec/decode", json=south.json(), headers=auth("manager", "south"))
    assert [json.loads(d) for d in decoded_data(other)] == [WITHHELD]


async def test_every_decode_is_audited_with_who_which_case_and_how_many(
        api: httpx.AsyncClient, auth: Any, client: Client, engine: Engine) -> None:
    case = await case_with_history(api, auth, client)
    count = len(case["payloads"])
    for role, area in (("admin", "north"), ("manager", "south")):
        response = await api.post("/codec/decode", json={"payloads": case["payloads"]},
                                  headers=auth(role, area, user=f"{role}-{area}-1"))
        withheld = sum(1 for d in decoded_data(response) if json.loads(d) == WITHHELD)
        assert withheld == 0 if area == "north" else withheld > 0
        with Session(engine) as session:
            rows = session.exec(select(AuditRow).where(
                AuditRow.request_id == response.headers["X-Request-ID"])).all()
        assert [(r.user_id, r.role, r.area, r.path, r.reference, r.action, r.status)
                for r in rows] == [
            (f"{role}-{area}-1", role, area, "/codec/decode", case["reference"],
             f"decode: {count} payloads, {withheld} withheld", 200)]
        values = " ".join(str(v) for v in rows[0].model_dump().values())
        assert not leaks(values, case["secrets"])



async def test_a_decode_of_several_cases_is_audited_once_for_each(
        api: httpx.AsyncClient, auth: Any, client: Client, engine: Engine) -> None:
    first = await case_with_history(api, auth, client)
    second = await case_with_history(api, auth, client)
    payloads = first["payloads"][:3] + second["payloads"][:3]
    response = await api.post("/codec/decode", json={"payloads": payloads},
                              headers=auth("admin", user="admin-both"))
    assert response.status_code == 200
    with Session(engine) as session:
        rows = session.exec(select(AuditRow).where(
            AuditRow.request_id == response.headers["X-Request-ID"])).all()
    assert sorted((r.user_id, r.reference, r.action) for r in rows) == sorted(
        ("admin-both", case["reference"], "decode: 6 payloads, 0 withheld")
        for case in (first, second))


# What a decode shows, decided without Temporal: a case reader of known files


def with_link(case: CaseFile, reference: str, area: str) -> CaseFile:
    return case.model_copy(update={"linked_cases": [LinkedCase(
        reference=reference, relation="possible same suspect", area=area, confidence=0.95,
        reasons=["same name"], history="charging; charges: none")]})


def sealed(*documents: Any) -> list[Payload]:
    return [Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(d).encode())
            for d in documents]


async def shown_to(actor: Actor, files: dict[str, CaseFile], *documents: Any) -> list[Any]:
    async def read(reference: str) -> CaseFile | None:
        return files.get(reference)

    shown = await visible_payloads(sealed(*documents), actor, read)
    return [json.loads(p.data) for p in shown.payloads]


async def test_decode_hides_another_areas_linked_case_wherever_it_is_named() -> None:
    case = with_link(factories.opened(), "SOUTH-CASE-7", "south")
    snapshot = case.model_dump(mode="json")
    result = {"version": 3, "facts": {"reference": case.reference, "police_area": "north",
                                      "cps_area": "north", "linked_cases": ["SOUTH-CASE-7"]},
              "entry": {"summary": "linked to SOUTH-CASE-7; not SOUTH-CASE-70"}}
    for role in (Role.MANAGER, Role.OFFICER_IN_CASE):
        file, answer = await shown_to(factories.actor(role), {case.reference: case},
                                      snapshot, result)
        assert "SOUTH-CASE-7\"" not in json.dumps([file, answer])
        assert file["linked_cases"][0]["reference"] == WITHHELD
        assert file["linked_cases"][0]["history"] is None
        assert answer["facts"]["linked_cases"] == [WITHHELD]
        assert answer["entry"]["summary"] == f"linked to {WITHHELD}; not SOUTH-CASE-70"
    # The same link in the south area's own view is shown whole.
    south = factories.actor(Role.MANAGER, "south")
    own = case.model_copy(update={"cps_area": "south"})
    [file] = await shown_to(south, {case.reference: own}, own.model_dump(mode="json"))
    assert file["linked_cases"][0]["reference"] == "SOUTH-CASE-7"


async def test_decode_attributes_a_list_item_by_item() -> None:
    north, south = factories.opened(), factories.opened(reference="SOUTH-1", police_area="south",
                                                        cps_area="south")
    matches = [{"reference": north.reference, "police_area": "north", "suspect_id": "S1",
                "confidence": 0.9, "reasons": ["same name"], "state": "investigation"},
               {"reference": "SOUTH-1", "police_area": "south", "suspect_id": "S1",
                "confidence": 0.9, "reasons": ["same name"], "state": "charging"}]
    files = {north.reference: north, "SOUTH-1": south}
    [shown] = await shown_to(factories.MANAGER, files, matches)
    assert shown == [matches[0], WITHHELD]


async def test_decode_withholds_a_case_it_cannot_read() -> None:
    case = factories.opened()
    document = {"reference": case.reference, "police_area": "north", "cps_area": "north"}
    assert await shown_to(factories.ADMIN, {}, document) == [WITHHELD]
    assert await shown_to(factories.ADMIN, {case.reference: case}, document) == [document]


def test_a_request_naming_another_case_is_refused_as_unknown() -> None:
    case = factories.opened()
    request = factories.request(factories.OFFICER, "record_new_incident")
    assert lifecycle.check(case, request.model_copy(update={"reference": case.reference}),
                           factories.NOW) is None
    refusal = lifecycle.check(case, request.model_copy(update={"reference": "OTHER-CASE"}),
                              factories.NOW)
    assert refusal is not None and refusal.rule == "NOT_FOUND"
