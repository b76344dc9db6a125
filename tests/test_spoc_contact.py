"""P4.1: a monthly Temporal Schedule per area reminds both SPOCs, with the area's figures."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from activities.spoc_contact import SpocContactActivities
from core.schedules import ensure_spoc_contact_schedule
from models.spoc import AreaMonth
from models.tables import OutboxRow
from tests.api_steps import Handler, new_reference
from tests.conftest import eventually

pytestmark = pytest.mark.asyncio


async def test_p4_1_monthly_schedule_in_london_time(client: Any, settings: Any) -> None:
    schedule_id = await ensure_spoc_contact_schedule(client, "spocarea", settings.task_queue)
    again = await ensure_spoc_contact_schedule(client, "spocarea", settings.task_queue)
    assert schedule_id == again == "spoc-contact-spocarea"
    spec = (await client.get_schedule_handle(schedule_id).describe()).schedule.spec
    assert spec.time_zone_name == "Europe/London"
    calendar = spec.calendars[0]
    assert calendar.day_of_month[0].start == 1 and calendar.hour[0].start == 9


async def test_p4_1_contact_reminder_reaches_both_spocs_with_figures(
        api: Any, auth: Any, client: Any, settings: Any, engine: Any) -> None:
    for _ in range(2):
        await Handler(api, auth, new_reference("SPOC"), area="spocfigs").open(area="spocfigs")
    handle = client.get_schedule_handle(
        await ensure_spoc_contact_schedule(client, "spocfigs", settings.task_queue))
    await handle.trigger()

    def sent() -> list[OutboxRow]:
        with Session(engine) as session:
            rows = list(session.exec(select(OutboxRow).where(OutboxRow.area == "spocfigs",
                                                             OutboxRow.reference == "AREA-spocfigs")))
        return rows if len(rows) == 2 else []

    rows = await eventually(sent, timeout=20)
    assert {r.audience for r in rows} == {"police_spoc", "cps_spoc"}
    assert all("P4.1" in r.subject for r in rows)
    assert all("cases reported" in r.body and "referrals to the CPS" in r.body for r in rows)


async def test_p4_1_figures_agree_with_a_hand_count(api: Any, auth: Any, engine: Any) -> None:
    area = "handcount"
    handlers = [Handler(api, auth, new_reference("HC"), area=area) for _ in range(3)]
    for handler in handlers:
        await handler.open(area=area)
    await handlers[0].to_charging()          # referred
    await handlers[0].act("prosecutor", "make_charging_decision")  # charged s.4A (stalking)
    today = datetime.now(UTC).date()
    period = AreaMonth(area=area, first_day=today - timedelta(days=1),
                       last_day=today + timedelta(days=1))
    activity = SpocContactActivities(engine)

    async def projected() -> Any:
        figures = activity.area_figures(period)
        return figures if figures.value("charged") == 1 else None

    figures = await eventually(projected)
    assert figures.value("cases reported") == 3
    assert figures.value("referrals to the CPS") == 1
    assert figures.value("charged as stalking") == 1
    assert figures.value("charged as harassment only") == 0
