"""The orders in force on a case as its handlers see them: restraining orders and stalking
protection orders alike (a breach of either is reported from the case, so the officer needs
both in one place), each with its kind, whom it protects as the API shows this role, its
terms and its dates."""

from dataclasses import dataclass
from datetime import date
from typing import Any

from models.case import RestrainingOrder, StalkingProtectionOrder


@dataclass(frozen=True)
class OrderShown:
    order_id: str
    kind: str  # restraining_order or stalking_protection_order, as the read model names them
    title: str
    protects: list[str]
    terms: list[tuple[str, list[str]]]  # (heading, lines): conditions; prohibitions, requirements
    made_on: date
    ends_on: date | None  # None: until further order


def orders_in_force(case: dict[str, Any], today: date) -> list[OrderShown]:
    """The case's orders in force on `today` (a London date), restraining orders first, each
    kind in the order made. `case` is GET /cases/{reference} as the user reads it."""
    shown = []
    for ro in (RestrainingOrder.model_validate(o) for o in case.get("orders", [])):
        if ro.in_force_on(today):
            shown.append(OrderShown(ro.order_id, "restraining_order", "Restraining order",
                                    [ro.protected_person_id], [("Conditions", ro.conditions)],
                                    ro.made_on, ro.expires_on))
    for spo in (StalkingProtectionOrder.model_validate(o)
                for o in case.get("stalking_protection_orders", [])):
        if spo.in_force_on(today):
            terms = [(heading, lines) for heading, lines in (("Prohibitions", spo.prohibitions),
                                                             ("Requirements", spo.requirements))
                     if lines]
            shown.append(OrderShown(spo.order_id, "stalking_protection_order",
                                    f"{spo.order_type.value.capitalize()} stalking protection order",
                                    spo.protected_person_ids, terms, spo.made_on, spo.ends_on))
    return shown
