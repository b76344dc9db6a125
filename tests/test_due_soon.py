"""GET /cases/due-soon and readmodel/due_soon.py: the area's open deadlines falling due from now
to the end of the fifth England and Wales working day after today, soonest first, with the
person whose move each is; paged from one indexed query."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlmodel import Session

from api.main import create_app
from models.monitoring import DeadlineRow
from models.tables import CaseRow, CaseTeamRow
from readmodel.due_soon import due_soon, due_soon_until
from workflows.calendar import LONDON, at_local

# Christmas Eve 2026 is a Thursday: Christmas (Friday), Boxing Day's substitute (Monday 28th)
# and New Year's Day (Friday) are bank holidays, so five working days run to 5 January 2027.
CHRISTMAS_EVE = datetime(2026, 12, 24, 10, 0, tzinfo=LONDON).astimezone(UTC)


def test_five_working_days_skip_weekends_and_bank_holidays() -> None:
    until = due_soon_until(CHRISTMAS_EVE)
    assert until == datetime(2027, 1, 6, 0, 0, tzinfo=LONDON)
    # From a Friday: the next Monday to Friday.
    friday = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    assert due_soon_until(friday).astimezone(LONDON).date() == date(2026, 12, 5)


def _case(session: Session, reference: str, area: str, **fields: Any) -> None:
    session.add(CaseRow(**{"reference": reference, "police_area": area, "cps_area": area,
                           "state": "investigation", "stalking": True, "domestic_abuse": False,
                           "version": 2, "opened_at": CHRISTMAS_EVE - timedelta(days=30),
                           "state_since": CHRISTMAS_EVE - timedelta(days=30),
                           "updated_at": CHRISTMAS_EVE, **fields}))


def _deadline(session: Session, reference: str, deadline_id: str, due_at: datetime,
              owner_role: str = "officer_in_case", **fields: Any) -> None:
    session.add(DeadlineRow(reference=reference, deadline_id=deadline_id, version=2,
                            kind=deadline_id.split(":")[0], rule="P6.4",
                            description=fields.pop("description", f"do {deadline_id}"),
                            owner_role=owner_role, due_at=due_at, remind_at=due_at,
                            opened_at=CHRISTMAS_EVE - timedelta(days=1), **fields))


@pytest.fixture(scope="module")
def area(engine: Any) -> str:
    """A fresh area around Christmas 2026, and a case of another area due the same day."""
    area = f"due-{uuid.uuid4().hex[:6]}"
    tag = area[-6:].upper()
    with Session(engine) as session:
        _case(session, f"DUE-{tag}-A", area, risk_level="high", domestic_abuse=True)
        _case(session, f"DUE-{tag}-B", area, repeat_perpetrator=True, breaches=2)
        _case(session, f"DUE-{tag}-X", f"{area}-other")
        session.add(CaseTeamRow(reference=f"DUE-{tag}-A", role="officer_in_case",
                                user_id="pc-4021"))
        first_day = at_local(date(2026, 12, 29))  # the first working day after Christmas
        last_day = at_local(date(2027, 1, 5))  # the fifth
        _deadline(session, f"DUE-{tag}-A", "contact_details", first_day,
                  description="Call 07700 900123 about it")
        _deadline(session, f"DUE-{tag}-B", "risk_review:C1", last_day)
        _deadline(session, f"DUE-{tag}-B", "vps_offer", CHRISTMAS_EVE + timedelta(hours=3),
                  owner_role="witness_care")
        # Not listed: the sixth working day, past due, met, another area's.
        _deadline(session, f"DUE-{tag}-A", "charging_notice", at_local(date(2027, 1, 6)))
        _deadline(session, f"DUE-{tag}-A", "overdue", CHRISTMAS_EVE - timedelta(hours=1))
        _deadline(session, f"DUE-{tag}-B", "met", first_day, met_at=CHRISTMAS_EVE)
        _deadline(session, f"DUE-{tag}-X", "contact_details", first_day)
        session.commit()
    return area


def test_due_soon_lists_the_areas_open_deadlines_soonest_first(engine: Any, area: str) -> None:
    tag = area[-6:].upper()
    with Session(engine) as session:
        page = due_soon(session, area, CHRISTMAS_EVE)
    assert [(i.reference, i.deadline_id) for i in page.items] == [
        (f"DUE-{tag}-B", "vps_offer"), (f"DUE-{tag}-A", "contact_details"),
        (f"DUE-{tag}-B", "risk_review:C1")]
    assert page.total == 3


def test_each_deadline_names_its_owners_person_and_the_cases_risk(engine: Any,
                                                                  area: str) -> None:
    with Session(engine) as session:
        vps, contact, review = due_soon(session, area, CHRISTMAS_EVE).items
    assert (contact.owner_role, contact.owner_user, contact.unassigned) == (
        "officer_in_case", "pc-4021", False)
    assert (review.owner_user, review.unassigned) == (None, True)
    assert vps.owner_role == "witness_care" and vps.unassigned
    assert (contact.risk_level, contact.domestic_abuse) == ("high", True)
    assert review.repeat_perpetrator and review.breach and review.risk_level is None
    assert "900123" not in contact.description  # a number in a description is withheld


def test_due_soon_pages_and_counts_in_one_query(engine: Any, area: str) -> None:
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        with Session(engine) as session:
            page = due_soon(session, area, CHRISTMAS_EVE, limit=1, offset=1)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert page.total == 3 and [i.deadline_id for i in page.items] == ["contact_details"]
    assert len(seen) == 1
    with Session(engine) as session:
        past = due_soon(session, area, CHRISTMAS_EVE, limit=5, offset=10)
    assert (past.total, past.items) == (3, [])


@pytest.fixture(scope="module")
async def managers(client: Any, settings: Any, engine: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, client, engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://cases.test", timeout=30) as http:
        yield http


@pytest.mark.asyncio
async def test_get_due_soon_answers_the_callers_area_only(managers, auth, engine):
    area = f"due-{uuid.uuid4().hex[:6]}"
    soon = datetime.now(UTC) + timedelta(hours=1)  # always inside the window
    with Session(engine) as session:
        _case(session, f"DUEH-{area[-6:].upper()}", area)
        _deadline(session, f"DUEH-{area[-6:].upper()}", "contact_details", soon)
        _deadline(session, f"DUEH-{area[-6:].upper()}", "later",
                  datetime.now(UTC) + timedelta(days=30))
        session.commit()
    mine = await managers.get("/cases/due-soon", headers=auth("manager", area=area))
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["total"] == 1 and body["items"][0]["deadline_id"] == "contact_details"
    assert body["items"][0]["owner_role"] == "officer_in_case"
    assert body["items"][0]["unassigned"] is True
    elsewhere = await managers.get("/cases/due-soon", headers=auth("manager", area=f"{area}-x"))
    assert elsewhere.status_code == 200 and elsewhere.json()["total"] == 0
    wider = await managers.get("/cases/due-soon", params={"working_days": 20},
                               headers=auth("manager", area=area))
    assert wider.json()["total"] == 2


@pytest.mark.asyncio
async def test_bad_due_soon_parameters_are_422_naming_them_and_no_token_is_401(managers, auth):
    for name, value in (("working_days", 0), ("working_days", 21), ("limit", 0),
                        ("offset", 10**18)):
        bad = await managers.get("/cases/due-soon", params={name: value},
                                 headers=auth("manager"))
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", name]
    assert (await managers.get("/cases/due-soon")).status_code == 401
