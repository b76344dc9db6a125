"""P3.8 and P4.6: the same suspect found across cases and areas, with a confidence."""

import uuid
from datetime import date
from typing import Any

import pytest

from activities.linking import IDENTIFIER, NAME_AND_DOB, NAME_ONLY, normalise_name, score
from models.people import Suspect
from tests.api_steps import Handler, new_case_body, new_reference
from tests.conftest import eventually


def test_p3_8_names_are_normalised_for_matching() -> None:
    assert normalise_name("O'Brien,  JOHN") == normalise_name("john obrien")
    assert normalise_name("Zoë Smith-Jones") == normalise_name("smithjones zoe")


def test_p3_8_confidence_grows_with_the_evidence() -> None:
    ours = Suspect(suspect_id="S1", name="John O'Brien", date_of_birth=date(1983, 4, 2),
                   identifiers={"phone": "07700 900123"})
    name = normalise_name("OBRIEN, John")
    assert score(ours, name, "1983-04-02", set())[0] == NAME_AND_DOB
    assert score(ours, name, None, set())[0] == NAME_ONLY
    assert score(ours, "someone else", None, {"phone:7700900123"})[0] == IDENTIFIER
    assert score(ours, "someone else", "1990-01-01", set())[0] == 0
    assert score(ours, normalise_name("Jim O'Brien"), "1983-04-02", set(), "obrien")[0] == 0.6


RUN = uuid.uuid4().hex[:6]  # names unique to this run: other runs' cases never match


def _unique_surname(name: str) -> str:
    if "," in name:
        surname, first = name.split(",", 1)
        return f"{surname}{RUN},{first}"
    *given, family = name.split()
    return " ".join([*given, family + RUN])


def _body(reference: str, area: str, name: str, complainant: str) -> dict[str, Any]:
    name = _unique_surname(name)
    body = new_case_body(reference, area=area, complainants=(complainant,))
    body["suspects"] = [{"suspect_id": "S1", "name": name, "date_of_birth": "1979-08-14",
                         "identifiers": {"email": f"{name.split()[0].lower()}@example.org"}}]
    return body


async def _open(api: Any, auth: Any, body: dict[str, Any]) -> str:
    response = await api.post("/cases", json=body, headers=auth("officer_in_case",
                                                                  area=body["police_area"]))
    assert response.status_code == 201, response.text
    return str(body["reference"])


async def _links(api: Any, auth: Any, reference: str, area: str) -> list[dict[str, Any]]:
    case = (await api.get(f"/cases/{reference}", headers=auth("officer_in_case", area=area))).json()
    return list(case["linked_cases"])


async def _projected(api: Any, auth: Any, reference: str, area: str, version: int) -> None:
    async def caught_up() -> Any:
        listed = (await api.get("/cases", params={"limit": 500},
                                headers=auth("manager", area=area))).json()
        return any(item["reference"] == reference and item["version"] >= version
                   for item in listed["items"])

    await eventually(caught_up)


@pytest.mark.asyncio
async def test_p3_8_same_suspect_linked_on_creation_with_p4_6_history(api, auth) -> None:
    first = new_reference("LINKA")
    await _open(api, auth, _body(first, "linkarea", "Marcus Fell", "V1"))
    handler = Handler(api, auth, first, area="linkarea")
    await handler.to_restraining_order(complainants=("V1",))
    made = await handler.act("prosecutor", "make_restraining_order",
                             orders=[{"protected_person_id": "V1", "conditions": ["no contact"],
                                      "made_on": "2020-06-01"}])
    # The search reads the read model, which follows the workflow: wait until it holds the order.
    await _projected(api, auth, first, "linkarea", made["version"])
    second = await _open(api, auth, _body(new_reference("LINKB"), "linkarea",
                                          "FELL, marcus", "V2"))

    async def linked() -> Any:
        links = await _links(api, auth, second, "linkarea")
        return links if any(link["reference"] == first for link in links) else None

    links = await eventually(linked, timeout=60)
    match = next(link for link in links if link["reference"] == first)
    assert match["confidence"] >= 0.9
    assert "same date of birth" in match["reasons"]
    assert "orders made: 1" in match["history"]  # P4.6: previous orders for bad character
    case = (await api.get(f"/cases/{second}", headers=auth("prosecutor", area="linkarea"))).json()
    assert case["repeat_perpetrator"] is True
    history = await api.get(f"/cases/{second}/history", headers=auth("prosecutor", area="linkarea"))
    entry = next(h for h in history.json() if h["action"] == "link_cases")
    assert entry["rules"] == ["P3.8", "P4.6"]


@pytest.mark.asyncio
async def test_p3_8_match_in_another_area_shows_only_whom_to_contact(api, auth) -> None:
    north = await _open(api, auth, _body(new_reference("XA"), "xarea-north", "Dana Quill", "V1"))

    async def indexed() -> Any:  # the search sees cases once they are projected
        listed = await api.get("/cases", headers=auth("manager", area="xarea-north"))
        return north in str(listed.json())

    await eventually(indexed)
    south = await _open(api, auth, _body(new_reference("XB"), "xarea-south", "Dana Quill", "V9"))

    async def linked() -> Any:
        links = await _links(api, auth, south, "xarea-south")
        return links if links and any(link.get("confidence") for link in links) else None

    links = await eventually(linked, timeout=60)
    other = next(link for link in links if link.get("confidence"))
    assert other["reference"] == "[withheld]" and other["history"] is None
    assert other["contact"] == "Police SPOC for xarea-north"
    assert north not in str(links)


@pytest.mark.asyncio
async def test_p3_8_a_different_suspect_is_not_linked(api, auth) -> None:
    await _open(api, auth, _body(new_reference("NA"), "noarea", "Alex Stone", "V1"))
    body = _body(new_reference("NB"), "noarea", "Bernard Quay", "V2")
    body["suspects"][0]["identifiers"] = {}
    body["suspects"][0]["date_of_birth"] = "1990-01-01"
    lonely = await _open(api, auth, body)

    async def searched() -> Any:
        case = (await api.get(f"/cases/{lonely}",
                              headers=auth("officer_in_case", area="noarea"))).json()
        return case if case["version"] >= 1 else None

    case = await eventually(searched)
    assert not any(link.get("confidence") for link in case["linked_cases"])


@pytest.mark.asyncio
async def test_p3_8_breach_case_counts_and_names_the_case_it_breaches(api, auth) -> None:
    """A breach case is opened linked to the case it breaches (P9.5): its own suspect search
    finds that case again, and its entry counts the link and names it, not '0 found'."""
    first = new_reference("LINKO")
    await _open(api, auth, _body(first, "linkarea", "Petra Vance", "V1"))
    handler = Handler(api, auth, first, area="linkarea")
    await handler.to_restraining_order(complainants=("V1",))
    made = await handler.act("prosecutor", "make_restraining_order",
                             orders=[{"protected_person_id": "V1", "conditions": ["no contact"],
                                      "made_on": "2020-06-01"}])
    await _projected(api, auth, first, "linkarea", made["version"])
    breach = new_reference("LINKOB")
    await handler.act("officer_in_case", "report_order_breach", order_id=f"{first}-RO1",
                      breach_reference=breach, new_offences=[])
    breached = Handler(api, auth, breach, area="linkarea")

    async def searched() -> Any:
        response = await api.get(f"/cases/{breach}/history",
                                 headers=auth("officer_in_case", area="linkarea"))
        if response.status_code != 200:
            return None
        return next((h for h in response.json() if h["action"] == "link_cases"), None)

    entry = await eventually(searched, timeout=60)
    assert entry["summary"].startswith("1 linked case(s) found for the suspect")
    assert f"opened as a breach of {first}" in entry["summary"]
    assert entry["rules"] == ["P3.8", "P4.6"]
    case = await breached.get()
    assert [(link["reference"], link["relation"]) for link in case["linked_cases"]] == [
        (first, "breach of")]
    assert case["repeat_perpetrator"] is True
