"""What each role may see of a case: contact details and addresses only where needed."""

from typing import Any

from models.case import Actor, CaseFile
from models.enums import Role

# Those who contact the complainant or draft the order's addresses (P6.4, P9.2).
SEES_CONTACT_DETAILS = frozenset({
    Role.OFFICER_IN_CASE, Role.POLICE_SPOC, Role.WITNESS_CARE, Role.PROSECUTOR,
})
WITHHELD = "[withheld]"


def visible_case(case: CaseFile, actor: Actor) -> dict[str, Any]:
    data = case.model_dump(mode="json")
    if actor.role not in SEES_CONTACT_DETAILS:
        for person in data["complainants"]:
            person["contact"] = {k: (WITHHELD if v else v) for k, v in person["contact"].items()
                                 if k in ("phone", "email", "address", "safe_contact")} | {
                "spoc": person["contact"]["spoc"],
                "preferred_means": person["contact"]["preferred_means"]}
    hide_other_area_links(data, actor)
    return data


def hide_other_area_links(data: dict[str, Any], actor: Actor) -> None:
    """A match in another area shows only that it exists and whom to contact (P3.8)."""
    for link in data.get("linked_cases", []):
        if link.get("area") and link["area"] != actor.area and link.get("confidence") is not None:
            link.update(reference=WITHHELD, history=None,
                        contact=f"Police SPOC for {link['area']}")
