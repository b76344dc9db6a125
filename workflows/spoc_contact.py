"""P4.1 (TIMER): each month, remind an area's police and CPS SPOCs to make contact, with the
area's figures. Started by a Temporal Schedule per area (core/schedules.py)."""

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.enums import Role
    from models.notifications import Notification
    from models.spoc import AreaFigures, AreaMonth
    from workflows.calendar import LONDON


@workflow.defn(name="SpocContactWorkflow")
class SpocContactWorkflow:
    @workflow.run
    async def run(self, area: str) -> AreaFigures:
        # The month just ended, in London time: the schedule fires early on the 1st.
        now = workflow.now().astimezone(LONDON)
        month_end = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        month_start = (month_end - timedelta(days=1)).replace(day=1)
        figures = await workflow.execute_activity(
            "area_figures", AreaMonth(area=area, month_start=month_start, month_end=month_end),
            result_type=AreaFigures, start_to_close_timeout=timedelta(minutes=2))
        body = (f"Monthly stalking and harassment contact for {area} ({figures.month}): "
                f"{figures.reported} reported, {figures.referred} referred, {figures.charged} "
                f"charged ({figures.charged_stalking} stalking, {figures.charged_harassment} "
                f"harassment only), {figures.prosecutions_concluded} prosecutions concluded, "
                f"{figures.orders_made} orders made, {figures.overdue_deadlines} cases overdue.")
        for role in (Role.POLICE_SPOC, Role.CPS_SPOC):
            await workflow.execute_activity(
                "send_notification", Notification(
                    idempotency_key=f"spoc-contact:{area}:{figures.month}:{role.value}",
                    reference=f"AREA-{area}"[:40], area=area, audience=role,
                    subject=f"P4.1 monthly SPOC contact: {area} {figures.month}", body=body),
                start_to_close_timeout=timedelta(seconds=30))
        return figures
