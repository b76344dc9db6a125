"""One Temporal Schedule per area for the SPOCs' monthly contact (P4.1)."""

from contextlib import suppress

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleRange,
    ScheduleSpec,
)

from workflows.spoc_contact import SpocContactWorkflow


def schedule_id(area: str) -> str:
    return f"spoc-contact-{area}"


async def ensure_spoc_contact_schedule(client: Client, area: str, task_queue: str) -> str:
    """Create the area's schedule if it is missing: 09:00 London time on the 1st of a month."""
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            SpocContactWorkflow.run, area, id=f"spoc-contact-{area}", task_queue=task_queue),
        spec=ScheduleSpec(
            calendars=[ScheduleCalendarSpec(day_of_month=[ScheduleRange(1)],
                                            hour=[ScheduleRange(9)], comment="P4.1 monthly")],
            time_zone_name="Europe/London"))
    with suppress(ScheduleAlreadyRunningError):  # already there: schedules outlive deploys
        await client.create_schedule(schedule_id(area), schedule)
    return schedule_id(area)
