"""Steps a case handler takes through the HTTP API, shared by the end-to-end tests."""

import uuid
from typing import Any

import httpx

from api.examples import ACTION_EXAMPLES


def new_reference(prefix: str = "T") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10].upper()}"


def new_case_body(reference: str, *, stalking: bool = True, domestic_abuse: bool = False,
                  complainants: tuple[str, ...] = ("C1",), area: str = "north") -> dict[str, Any]:
    return {
        "reference": reference, "police_area": area, "cps_area": area,
        "stalking": stalking, "domestic_abuse": domestic_abuse,
        "suspects": [{"suspect_id": "S1", "name": f"Suspect {reference.lower()}",
                      "date_of_birth": "1983-04-02"}],
        "complainants": [{"complainant_id": cid, "name": f"Complainant {cid}",
                          "contact": {"address": f"{cid} Secret Street, Liverpool",
                                      "phone": "07700 900999"}} for cid in complainants],
        "offences": ["pha1997_s4a"] if stalking else ["pha1997_s2"],
    }


class Handler:
    """Acts on one case through the API as the role it is told."""

    def __init__(self, http: httpx.AsyncClient, auth: Any, reference: str,
                 area: str = "north") -> None:
        self.http, self.auth, self.reference, self.area = http, auth, reference, area

    async def open(self, **kwargs: Any) -> httpx.Response:
        area = kwargs.setdefault("area", self.area)
        return await self.http.post("/cases", json=new_case_body(self.reference, **kwargs),
                                    headers=self.auth("officer_in_case", area=area))

    async def act(self, role: str, kind: str, expect: int = 200, reasons: str | None = None,
                  **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"action": {"kind": kind, **{**ACTION_EXAMPLES[kind], **fields}}}
        if reasons:
            body["reasons"] = reasons
        response = await self.http.post(f"/cases/{self.reference}/actions", json=body,
                                        headers=self.auth(role, area=self.area))
        assert response.status_code == expect, (kind, response.status_code, response.text)
        answer = response.json()
        if response.status_code == 200:  # the answer is small: the case's facts are read after
            answer["case"] = await self.get(role)
        return answer

    async def history(self, role: str = "officer_in_case") -> list[dict[str, Any]]:
        response = await self.http.get(f"/cases/{self.reference}/history",
                                       params={"limit": 1000},
                                       headers=self.auth(role, area=self.area))
        assert response.status_code == 200, response.text
        return response.json()

    async def get(self, role: str = "officer_in_case") -> dict[str, Any]:
        response = await self.http.get(f"/cases/{self.reference}",
                                       headers=self.auth(role, area=self.area))
        assert response.status_code == 200, response.text
        return response.json()

    async def to_charging(self, complainants: tuple[str, ...] = ("C1",)) -> None:
        for cid in complainants:
            await self.act("officer_in_case", "record_risk_assessment", complainant_id=cid,
                           assessment={"tool": "DASH", "level": "medium",
                                       "assessed_on": "2026-11-20", "assessor": "PC 1"})
        await self.act("officer_in_case", "refer_to_cps")
        await self.act("prosecutor", "begin_charging_review")

    async def to_pleas(self, complainants: tuple[str, ...] = ("C1",),
                       charges: tuple[str, ...] = ("pha1997_s4a",)) -> None:
        await self.to_charging(complainants)
        await self.act("prosecutor", "make_charging_decision", charges=list(charges))
        for cid in complainants:
            await self.act("officer_in_case", "record_vps", complainant_id=cid)
        await self.act("prosecutor", "record_first_appearance")

    async def to_restraining_order(self, complainants: tuple[str, ...] = ("C1",)) -> None:
        await self.to_pleas(complainants)
        await self.act("prosecutor", "enter_pleas", guilty=True)
        for cid in complainants:
            await self.act("officer_in_case", "record_order_views", complainant_id=cid)
        await self.act("officer_in_case", "reverify_order_details")
        await self.act("prosecutor", "apply_restraining_order", draft=[
            {"protected_person_id": cid, "prohibitions": ["no contact"]} for cid in complainants])
