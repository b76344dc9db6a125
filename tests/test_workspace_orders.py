"""The workspace's case page lists every order in force, restraining orders and stalking
protection orders alike, each with its kind, whom it protects as GET /cases/{reference} shows
that role, its terms and its dates; an order no longer in force is not listed."""

import re
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from api.main import create_app
from tests.api_steps import Handler, new_reference
from tests.page_steps import signed_in

AREA = f"orders-{new_reference('x')[2:].lower()}"


@pytest.fixture(scope="module")
def app(worker, client, settings, engine) -> FastAPI:
    return create_app(settings, client, engine)


def _day(value: str) -> str:
    return date.fromisoformat(value).strftime("%d %b %Y")


def _order(page: str, order_id: str) -> str | None:
    found = re.search(rf'<div class="order" data-order="{order_id}".*?</div>', page, re.S)
    return found.group(0) if found else None


def _shown(page: str, order_id: str, kind: str, title: str, protects: list[str], made_on: str,
           ends: str) -> str:
    """The order's entry on the page, having checked its kind, title, people and dates."""
    order = _order(page, order_id)
    assert order is not None, order_id
    assert f'data-kind="{kind}"' in order and f"<strong>{title} {order_id}</strong>" in order
    assert f'protects <span class="protects">{", ".join(protects)}</span>' in order
    assert f'<span class="made">{_day(made_on)}</span>' in order
    assert f'<span class="ends">{ends}</span>' in order
    return order


async def test_restraining_and_stalking_protection_orders_in_force_are_shown(
        api, auth, app, settings):
    case = Handler(api, auth, new_reference("ORD"), area=AREA)
    assert (await case.open()).status_code == 201
    today = date.today()
    await case.to_restraining_order()
    await case.act("prosecutor", "make_restraining_order", orders=[{
        "protected_person_id": "C1", "made_on": today.isoformat(),
        "conditions": ["no contact with C1", "not to enter Smith Street"]}])
    await case.act("officer_in_case", "apply_stalking_protection_order",
                   applied_on=today.isoformat())
    await case.act("officer_in_case", "apply_stalking_protection_order", order_type="interim",
                   applied_on=today.isoformat())
    await case.act("officer_in_case", "make_stalking_protection_order",
                   application_id=f"{case.reference}-SPOA2", made_on=today.isoformat(),
                   ends_on=(today + timedelta(days=28)).isoformat())
    full_ends = today + timedelta(days=800)
    await case.act("officer_in_case", "make_stalking_protection_order",  # the interim one ends
                   application_id=f"{case.reference}-SPOA1", made_on=today.isoformat(),
                   ends_on=full_ends.isoformat())
    for role, user in (("officer_in_case", f"oic-{AREA}"), ("cps_spoc", f"cpsspoc-{AREA}")):
        shown: dict[str, Any] = await case.get(role)
        async with signed_in(app, settings, role, AREA, user) as http:
            page = (await http.get(f"/dashboard/work/cases/{case.reference}")).text
        [ro] = shown["orders"]
        interim, full = shown["stalking_protection_orders"]
        assert interim["ended_at"] is not None and _order(page, interim["order_id"]) is None
        restraining = _shown(page, ro["order_id"], "restraining_order", "Restraining order",
                             [ro["protected_person_id"]], ro["made_on"], "until further order")
        assert "<li>not to enter Smith Street</li>" in restraining
        spo = _shown(page, full["order_id"], "stalking_protection_order",
                     "Full stalking protection order", full["protected_person_ids"],
                     full["made_on"], f"until {_day(full['ends_on'])}")
        for heading, terms in (("prohibitions", full["prohibitions"]),
                               ("requirements", full["requirements"])):
            listed = re.search(rf'<ul data-terms="{heading}">(.*?)</ul>', spo, re.S)
            assert listed is not None and terms
            assert re.findall(r"<li>(.*?)</li>", listed.group(1)) == [
                t.replace("'", "&#39;") for t in terms]
