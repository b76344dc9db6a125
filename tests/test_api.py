"""The API end to end: a real dev server, a real worker, the real database."""

import asyncio
from typing import Any

import pytest

from api.examples import ACTION_EXAMPLES
from models.actions import ACTION_KINDS, ActionRequest
from tests.api_steps import Handler, new_case_body, new_reference
from tests.conftest import eventually

pytestmark = pytest.mark.asyncio


async def test_open_case_starts_a_workflow_and_returns_the_case(api, auth) -> None:
    ref = new_reference()
    handler = Handler(api, auth, ref)
    response = await handler.open()
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["reference"] == ref and body["state"] == "investigation"
    assert "history" not in body  # the case's facts; its log is at /history
    [opened] = await handler.history()
    assert opened["action"] == "open_case"
    assert opened["actor"]["user_id"] == "officer_in_case-north"


async def test_open_case_is_idempotent_on_the_reference(api, auth) -> None:
    handler = Handler(api, auth, new_reference())
    first = await handler.open()
    second = await handler.open()
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["opened_at"] == first.json()["opened_at"]


async def test_reopening_a_reference_with_other_details_is_409_and_changes_nothing(
        api, auth) -> None:
    handler = Handler(api, auth, new_reference())
    assert (await handler.open()).status_code == 201
    other = new_case_body(handler.reference, stalking=False, complainants=("C9",))
    refused = await api.post("/cases", json=other, headers=auth("officer_in_case"))
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"]["rule"] == "CONFLICT"
    assert "taken" in refused.json()["detail"]["message"]
    case = await handler.get()
    assert case["stalking"] is True and [c["complainant_id"] for c in case["complainants"]] == ["C1"]
    assert (await handler.open()).status_code == 200  # the same body is still idempotent


async def test_malformed_case_is_422_and_names_the_field(api, auth) -> None:
    body = new_case_body(new_reference())
    body["complainants"] = []
    response = await api.post("/cases", json=body, headers=auth("officer_in_case"))
    assert response.status_code == 422
    assert any("complainants" in err["loc"] for err in response.json()["detail"])


async def test_unknown_case_is_404(api, auth) -> None:
    response = await api.get("/cases/NO-SUCH-CASE", headers=auth("prosecutor"))
    assert response.status_code == 404
    assert response.json()["detail"]["rule"] == "NOT_FOUND"


async def test_refused_action_is_409_with_rule_and_changes_nothing(api, auth) -> None:
    handler = Handler(api, auth, new_reference())
    await handler.open()
    before, history_before = await handler.get(), await handler.history()
    refused = await handler.act("officer_in_case", "refer_to_cps", expect=409)
    assert refused["detail"]["rule"] == "P3.7"
    assert "risk assessment" in refused["detail"]["message"]
    after = await handler.get()
    assert after["version"] == before["version"] and await handler.history() == history_before


async def test_accepted_action_answers_from_the_update_and_reads_back(api, auth) -> None:
    handler = Handler(api, auth, new_reference())
    await handler.open()
    result = await handler.act("officer_in_case", "record_risk_assessment",
                               reasons="Initial DASH at first contact")
    assert result["version"] == 2 and result["state"] == "investigation"
    history = (await api.get(f"/cases/{handler.reference}/history",
                             headers=auth("officer_in_case"))).json()
    assert history[-1]["action"] == "record_risk_assessment"
    assert history[-1]["reasons"] == "Initial DASH at first contact"
    assert history[-1]["actor"]["role"] == "officer_in_case"


async def test_idempotency_key_applies_an_action_once(api, auth) -> None:
    handler = Handler(api, auth, new_reference())
    await handler.open()
    body = {"action": {"kind": "record_new_incident", "description": "calls overnight"}}
    headers = auth("officer_in_case") | {"Idempotency-Key": "retry-123"}
    url = f"/cases/{handler.reference}/actions"
    first, second = await asyncio.gather(api.post(url, json=body, headers=headers),
                                         api.post(url, json=body, headers=headers))
    assert first.status_code == second.status_code == 200
    assert [h["action"] for h in await handler.history()].count("record_new_incident") == 1
    assert first.json()["version"] == second.json()["version"]


async def test_wrong_role_is_403_with_access_rule(api, auth) -> None:
    handler = Handler(api, auth, new_reference())
    await handler.open()
    refused = await handler.act("witness_care", "refer_to_cps", expect=403)
    assert refused["detail"]["rule"] == "ACCESS"


async def test_walkthrough_from_report_to_restraining_order(api, auth) -> None:
    handler = Handler(api, auth, new_reference("WALK"))
    assert (await handler.open()).status_code == 201
    await handler.to_restraining_order()
    made = await handler.act("prosecutor", "make_restraining_order")
    assert made["state"] == "restraining_order"
    assert made["case"]["orders"][0]["protected_person_id"] == "C1"
    states = [h["state_after"] for h in await handler.history()]
    for state in ("referral", "charging", "preparation", "pleas", "restraining_order"):
        assert state in states


async def test_list_filters_by_state_and_flags_from_the_read_model(api, auth) -> None:
    refs = []
    for stalking in (True, False):
        handler = Handler(api, auth, new_reference("LIST"))
        await handler.open(stalking=stalking, area="listarea")
        refs.append(handler.reference)
    headers = auth("manager", area="listarea")

    async def listed() -> Any:
        body = (await api.get("/cases", params={"stalking": "true"}, headers=headers)).json()
        return body if body["total"] >= 1 else None

    body = await eventually(listed)
    assert [item["reference"] for item in body["items"]] == [refs[0]]
    none = (await api.get("/cases", params={"state": "trial"}, headers=headers)).json()
    assert none["total"] == 0


async def test_list_is_paginated(api, auth) -> None:
    for _ in range(3):
        await Handler(api, auth, new_reference("PAGE")).open(area="pagearea")
    headers = auth("manager", area="pagearea")

    async def all_three() -> Any:
        body = (await api.get("/cases", params={"limit": 2}, headers=headers)).json()
        return body if body["total"] == 3 else None

    first = await eventually(all_three)
    second = (await api.get("/cases", params={"limit": 2, "offset": 2}, headers=headers)).json()
    assert len(first["items"]) == 2 and len(second["items"]) == 1
    seen = {i["reference"] for i in first["items"]} | {i["reference"] for i in second["items"]}
    assert len(seen) == 3


async def test_list_bad_filter_is_422(api, auth) -> None:
    response = await api.get("/cases", params={"state": "nowhere"}, headers=auth("manager"))
    assert response.status_code == 422


async def test_lifecycle_lists_states_actions_guards_and_diagram(api, auth) -> None:
    body = (await api.get("/lifecycle", headers=auth("manager"))).json()
    assert body["states"][0] == "investigation" and body["states"][-1] == "closed"
    assert set(body["actions"]) == set(ACTION_KINDS)
    rules = {g["rule"] for a in body["actions"].values() for g in a["guards"]}
    assert {"P4.8", "P5.8", "P7.3", "G.1"} <= rules
    assert body["mermaid"].startswith("stateDiagram-v2")


async def test_openapi_has_an_example_for_every_action(api) -> None:
    doc = (await api.get("/openapi.json")).json()
    body = doc["paths"]["/cases/{reference}/actions"]["post"]["requestBody"]
    examples = body["content"]["application/json"]["examples"]
    assert set(examples) == set(ACTION_KINDS)
    for example in examples.values():
        ActionRequest.model_validate({"request_id": "x", "actor": {
            "user_id": "u", "role": "prosecutor", "area": "north"}, **example["value"]})


async def test_health_needs_no_token(api) -> None:
    assert (await api.get("/health")).json() == {"status": "ok"}


async def test_every_action_example_is_listed() -> None:
    assert set(ACTION_EXAMPLES) == set(ACTION_KINDS)


async def test_open_deadlines_are_served_with_owner_and_due_time(api, auth) -> None:
    """P6.4: a case opened without a SPOC and preferred means has that deadline open."""
    handler = Handler(api, auth, new_reference())
    await handler.open()
    response = await api.get(f"/cases/{handler.reference}/deadlines",
                             headers=auth("officer_in_case"))
    assert response.status_code == 200
    kinds = {d["deadline"]["kind"]: d for d in response.json()}
    assert kinds["contact_details"]["deadline"]["rule"] == "P6.4"
    assert kinds["contact_details"]["deadline"]["owner_role"] == "officer_in_case"
    assert kinds["contact_details"]["marks"]["reminded_at"] is None
    await handler.act("officer_in_case", "record_contact_details", complainant_id="C1")
    after = (await api.get(f"/cases/{handler.reference}/deadlines",
                           headers=auth("officer_in_case"))).json()
    assert "contact_details" not in {d["deadline"]["kind"] for d in after}


async def test_deadlines_of_another_area_are_not_found(api, auth) -> None:
    handler = Handler(api, auth, new_reference())
    await handler.open()
    response = await api.get(f"/cases/{handler.reference}/deadlines",
                             headers=auth("officer_in_case", area="south"))
    assert response.status_code == 404


async def test_search_attributes_find_the_case_without_personal_data(api, auth, client) -> None:
    handler = Handler(api, auth, new_reference("SA"), area="saarea")
    await handler.open()
    await handler.act("officer_in_case", "record_risk_assessment")
    await handler.act("officer_in_case", "refer_to_cps")
    query = f"CaseState='referral' AND CaseArea='saarea' AND WorkflowId='case-{handler.reference}'"

    async def found() -> Any:
        return [w async for w in client.list_workflows(query)]

    workflows = await eventually(found)
    attributes = workflows[0].typed_search_attributes
    values = {pair.key.name: pair.value for pair in attributes}
    assert values["CaseState"] == "referral" and values["Stalking"] is True
    assert "Secret Street" not in str(values) and "Complainant" not in str(values)




async def test_history_pages_within_what_the_database_can_count(api, auth) -> None:
    handler = Handler(api, auth, new_reference())
    await handler.open()
    url, headers = f"/cases/{handler.reference}/history", auth("officer_in_case")
    last = await api.get(url, params={"after": 2**31 - 1}, headers=headers)
    assert last.status_code == 200 and last.json() == []
    beyond = await api.get(url, params={"after": 2**31}, headers=headers)
    assert beyond.status_code == 422 and beyond.json()["detail"][0]["loc"] == ["query", "after"]
