"""P4.1 (TIMER): each month, remind an area's police and CPS SPOCs to make contact, with the
area's figures. Started by a Temporal Schedule per area (core/schedules.py)."""

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.enums import Role
    from models.notifications import Notification
    from models.spoc import AreaFigures, AreaMonth
    from workflows import activity_contracts as contracts
    from workflows.calendar import london_today


@workflow.defn(name="SpocContactWorkflow")
class SpocContactWorkflow:
    @workflow.run
    async def run(self, area: str) -> AreaFigures:
        # The month just ended, in London time: the schedule fires early on the 1st.
        today = london_today(workflow.now())
        last_day = today.replace(day=1) - timedelta(days=1)
        figures = await workflow.execute_activity(
            contracts.area_figures, AreaMonth(area=area, first_day=last_day.replace(day=1),
                                      last_day=last_day),
            start_to_close_timeout=timedelta(minutes=2))
        body = f"Monthly stalking and harassment contact for {area} ({figures.month}):\n" + \
            "\n".join(f"- {f.section}: {f.measure}: {f.value}" for f in figures.figures)
        for role in (Role.POLICE_SPOC, Role.CPS_SPOC):
            await workflow.execute_activity(
                contracts.send_notification, Notification(
                    idempotency_key=f"spoc-contact:{area}:{figures.month}:{role.value}",
                    reference=f"AREA-{area}"[:40], area=area, audience=role,
                    subject=f"P4.1 monthly SPOC contact: {area} {figures.month}", body=body),
                start_to_close_timeout=timedelta(seconds=30))
        return figures
