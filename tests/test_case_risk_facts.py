"""What the managers' views show of a case's risk and orders, as the read model holds it
(models.case.case_facts, readmodel/projection.py case_row): the highest latest risk level of its
complainants, repeat perpetrator, and its orders in force without their conditions."""

import json
import uuid
from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from models.case import CaseFacts, RestrainingOrder, StalkingProtectionOrder, case_facts
from models.enums import SpoKind
from models.people import Complainant, RiskAssessment
from models.tables import CaseRow
from readmodel.projection import write_case
from tests import factories as f


def _assessed(level: str, on: str) -> RiskAssessment:
    return RiskAssessment(tool="DASH", level=level, assessed_on=date.fromisoformat(on),
                          assessor="PC 1")


def test_the_risk_level_is_the_highest_of_the_complainants_latest() -> None:
    case = f.opened()
    assert case_facts(case).risk_level is None  # nobody assessed yet
    case.complainants[0].risk_assessments = [_assessed("high", "2026-11-01"),
                                             _assessed("standard", "2026-11-20")]
    case.complainants.append(Complainant(complainant_id="C2", name="Another Person",
                                         risk_assessments=[_assessed("medium", "2026-11-02")]))
    # C1's high was replaced by a reassessment; C2's medium stands.
    assert case_facts(case).risk_level == "medium"


def test_orders_in_force_leave_out_revoked_and_ended_orders_and_every_condition() -> None:
    case = f.opened()
    case.orders = [
        RestrainingOrder(order_id="RO1", protected_person_id="C1",
                         conditions=["not to enter Secret Street"], made_on=date(2026, 1, 5),
                         expires_on=date(2027, 1, 5)),
        RestrainingOrder(order_id="RO0", protected_person_id="C1", conditions=["no contact"],
                         made_on=date(2025, 1, 5), revoked_at=datetime(2026, 1, 5)),
    ]
    case.stalking_protection_orders = [StalkingProtectionOrder(
        order_id="SPO1", order_type=SpoKind.INTERIM, application_id="A1",
        protected_person_ids=["C1"], made_on=date(2026, 2, 1), ended_at=datetime(2026, 3, 1),
        recorded_at=datetime(2026, 2, 1))]
    orders = case_facts(case).orders_in_force
    assert [(o.order_id, o.kind, o.protected_person_ids, o.ends_on) for o in orders] == [
        ("RO1", "restraining_order", ["C1"], date(2027, 1, 5))]
    assert orders[0].in_force_on(date(2027, 1, 5)) and not orders[0].in_force_on(date(2027, 1, 6))
    assert "Secret" not in case_facts(case).model_dump_json()


def test_an_answer_recorded_before_the_risk_fields_still_reads() -> None:
    """Workflow histories hold answers without the new fields: they must still validate."""
    old = case_facts(f.opened()).model_dump(mode="json")
    for name in ("risk_level", "repeat_perpetrator", "orders_in_force"):
        old.pop(name)
    facts = CaseFacts.model_validate(old)
    assert (facts.risk_level, facts.repeat_perpetrator, facts.orders_in_force) == (None, False, [])


def test_the_case_row_holds_risk_repeat_perpetrator_and_orders(engine: Any) -> None:
    reference = f"RISK-{uuid.uuid4().hex[:8].upper()}"
    case = f.opened(reference=reference)
    case.complainants[0].risk_assessments = [_assessed("high", "2026-11-20")]
    case.repeat_perpetrator = True
    case.orders = [RestrainingOrder(order_id="RO1", protected_person_id="C1",
                                    conditions=["not to enter Secret Street"],
                                    made_on=date(2026, 1, 5))]
    with Session(engine) as session:
        write_case(session, case, f.history(case))
        session.commit()
        row = session.get(CaseRow, reference)
        assert row is not None
        assert (row.risk_level, row.repeat_perpetrator) == ("high", True)
        assert json.loads(row.orders_in_force or "[]") == [{
            "order_id": "RO1", "kind": "restraining_order", "protected_person_ids": ["C1"],
            "made_on": "2026-01-05", "ends_on": None}]
