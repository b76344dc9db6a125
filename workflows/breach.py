"""P9.5 (AUTO): a breach of an order of the case opens its own linked case. Pure: the new
case's details, from the case breached and the breach reported."""

from models.actions import NewCase, OrderBreachReport
from models.case import Actor, CaseFile
from models.offences import Offence

# The actions that report a breach of an order of the case, and the offence the breach is.
BREACH_OFFENCE = {
    "report_order_breach": Offence.BREACH_OF_RESTRAINING_ORDER,
    "report_stalking_protection_order_breach": Offence.BREACH_OF_STALKING_PROTECTION_ORDER,
}


def breach_case(case: CaseFile, breach: OrderBreachReport, reported_by: Actor) -> NewCase:
    """The linked case a breach opens; a stalking protection order's breach by analogy, as
    the breach of an order of the case. An SPO is made only on acts associated with
    stalking, so its breach case is a stalking case."""
    stalking = case.stalking or breach.kind != "report_order_breach"
    return NewCase(
        reference=breach.breach_reference, police_area=case.police_area,
        cps_area=case.cps_area, stalking=stalking, domestic_abuse=case.domestic_abuse,
        suspects=case.suspects,
        # A breach is a new incident: risk, VPS and views on an order are taken afresh.
        complainants=[c.model_copy(update={"risk_assessments": [], "vps": [],
                                           "order_views": None})
                      for c in case.complainants],
        offences=[BREACH_OFFENCE[breach.kind], *breach.new_offences],
        linked_from=case.reference, opened_by=reported_by)
