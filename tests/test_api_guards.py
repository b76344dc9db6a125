"""Every §3-§7 GUARD refuses through the HTTP API with its rule id, and changes nothing."""

from typing import Any

import pytest

from tests.api_steps import Handler, new_reference

pytestmark = pytest.mark.asyncio

OIC, CPS, MANAGER = "officer_in_case", "prosecutor", "manager"
RISK: dict[str, Any] = {"complainant_id": "C1", "assessment": {"tool": "DASH", "level": "medium",
                                               "assessed_on": "2026-11-20", "assessor": "PC 1"}}
HIGH = {"complainant_id": "C1", "assessment": {**RISK["assessment"], "level": "high"}}
TO_CHARGING = [(OIC, "record_risk_assessment", RISK), (OIC, "refer_to_cps", {}),
               (CPS, "begin_charging_review", {})]
TO_PREPARATION = [*TO_CHARGING, (CPS, "make_charging_decision", {})]
TO_PLEAS = [*TO_PREPARATION, (OIC, "record_vps", {}), (CPS, "record_first_appearance", {})]
EMPTY_WITHDRAWAL: dict[str, Any] = {"statement": {}, "officer_report": {}}

# rule, case flags, steps that set the scene, the refused action (role, kind, fields)
GUARDS: list[tuple[str, dict[str, Any], list[Any], tuple[str, str, dict[str, Any]]]] = [
    ("P3.7", {}, [], (OIC, "refer_to_cps", {})),
    ("P3.7", {}, [(OIC, "record_risk_assessment", HIGH), (OIC, "refer_to_cps", {}),
                  (CPS, "begin_charging_review", {})], (CPS, "make_charging_decision", {})),
    ("P3.10", {"stalking": False}, TO_CHARGING,
     (CPS, "make_charging_decision", {"charges": ["pha1997_s4"]})),
    ("P3.11", {}, [], (OIC, "issue_pin", {})),
    ("P4.2", {}, [*TO_CHARGING, (CPS, "record_stalking_considered", {})],
     (CPS, "make_charging_decision", {"charges": ["pha1997_s4"]})),
    ("P4.3", {"domestic_abuse": True}, [(OIC, "record_risk_assessment", RISK)],
     (OIC, "make_charging_decision", {})),
    ("P4.5", {}, [(OIC, "record_risk_assessment", RISK)],
     (OIC, "refer_to_cps", {"risk_documentation": False})),
    ("P4.7", {}, TO_CHARGING, (CPS, "make_charging_decision", {"action_plan": []})),
    ("P4.8", {}, TO_CHARGING, (CPS, "make_charging_decision", {"postal_requisition": True})),
    ("P4.10", {}, TO_CHARGING, (CPS, "make_charging_decision", {"test": "threshold"})),
    ("P4.11", {}, [], (OIC, "record_bail", {"bail": {"granted_on": "2026-11-20",
                                                     "conditions": ["no contact"]}})),
    ("P4.13", {}, [], (OIC, "report_bail_breach", {})),
    ("P5.2", {}, TO_PREPARATION, (CPS, "indicate_guilty_plea", {})),
    ("P5.3", {}, TO_PREPARATION, (OIC, "record_withdrawal", EMPTY_WITHDRAWAL)),
    ("P5.4", {}, TO_PREPARATION, (OIC, "record_withdrawal", {"officer_report": {}})),
    ("P5.7", {}, TO_PREPARATION, (CPS, "apply_witness_summons", {"last_resort_reason": None})),
    ("P5.8", {}, TO_PREPARATION, (CPS, "apply_witness_summons", {})),
    ("P6.1", {}, [], (OIC, "refer_to_support_service", {"complainant_id": "C1", "referral": {
        "service": "ISAC", "consent": False, "referred_on": "2026-11-20"}})),
    ("P6.7", {}, TO_PREPARATION, (CPS, "record_first_appearance", {})),
    ("P7.2", {}, [*TO_PLEAS, (MANAGER, "record_manager_authority", {}),
                  (CPS, "record_complainant_plea_views", {})],
     (CPS, "accept_lesser_plea", {"compelling_reasons": {}})),
    ("P7.3", {}, TO_PLEAS, (CPS, "accept_lesser_plea", {})),
    ("P7.3", {}, TO_PLEAS, (CPS, "record_complainant_plea_views", {})),
    ("P9.1", {}, TO_PLEAS, (CPS, "apply_restraining_order", {})),
    ("P9.2", {}, [*TO_PLEAS, (CPS, "enter_pleas", {"guilty": True})],
     (CPS, "apply_restraining_order", {})),
]


@pytest.mark.parametrize(("rule", "flags", "steps", "refused"), GUARDS,
                         ids=[f"{g[0]}-{g[3][1]}" for g in GUARDS])
async def test_guard_refuses_through_the_api_with_its_rule_id(
        api: Any, auth: Any, rule: str, flags: dict[str, Any], steps: list[Any],
        refused: tuple[str, str, dict[str, Any]]) -> None:
    handler = Handler(api, auth, new_reference("GUARD"))
    assert (await handler.open(**flags)).status_code == 201
    for role, kind, fields in steps:
        await handler.act(role, kind, **fields)
    before = await handler.history(CPS)
    role, kind, fields = refused
    body = await handler.act(role, kind, expect=409, **fields)
    assert body["detail"]["rule"] == rule
    assert body["detail"]["message"]
    after = await handler.history(CPS)
    assert len(after) >= len(before)
    assert [h["action"] for h in after].count(kind) == [h["action"] for h in before].count(kind)
