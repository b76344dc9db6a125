"""The worker's counters of what the activities did, served by the SDK runtime's Prometheus
exporter (core/telemetry.py) beside the SDK's own metrics: one scrape target per worker.

The SDK exports its own runtime metrics there (temporal_workflow_task_*, temporal_activity_*,
temporal_request*, sticky cache, slots...). Ours, counted where the work is done:

- cases_notifications_sent_total{step, audience}: messages delivered. `step` comes from the
  notification's idempotency key (workflows/case.py builds it): remind, escalate, or
  complainant (a reminder that goes to the complainant), else other.
- cases_notifications_deduplicated_total{step}: retried deliveries the outbox found already
  sent, so sent once.
- cases_notifications_failed_total{step, final}: failed delivery attempts; final="true" when
  Temporal will not retry it (the workflow marks the deadline failing and tries later).
- cases_projections_total{outcome}: read-model projections written or failed (a failure
  retries until the database is back).

Deadlines opened, met, reminded and escalated are counted by the workflow itself
(workflows/metrics.py), once per deadline rather than per message.
"""

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from models.notifications import Notification

NOTIFY = "send_notification"
PROJECT = "project_case"


def notification_step(idempotency_key: str) -> str:
    if ":remind:" in idempotency_key:
        return "remind"
    if ":escalate:" in idempotency_key:
        return "escalate"
    if idempotency_key.endswith(":complainant"):
        return "complainant"
    return "other"


def _final(error: BaseException, attempt: int) -> bool:
    if isinstance(error, ApplicationError) and error.non_retryable:
        return True
    policy = activity.info().retry_policy
    if policy is None or policy.maximum_attempts <= 0:
        return False
    non_retryable = isinstance(error, ApplicationError) and \
        error.type in (policy.non_retryable_error_types or ())
    return non_retryable or attempt >= policy.maximum_attempts


class _CountingInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> object:
        info = activity.info()
        if info.activity_type == NOTIFY and input.args and isinstance(input.args[0], Notification):
            return await self._notify(input, input.args[0])
        if info.activity_type == PROJECT:
            return await self._project(input)
        return await super().execute_activity(input)

    async def _notify(self, input: ExecuteActivityInput, notification: Notification) -> object:
        meter = activity.metric_meter()
        step = notification_step(notification.idempotency_key)
        try:
            result = await super().execute_activity(input)
        except Exception as err:
            final = _final(err, activity.info().attempt)
            meter.create_counter("cases_notifications_failed_total",
                                 "Failed delivery attempts.").add(
                1, {"step": step, "final": str(final).lower()})
            raise
        audience = "complainant" if notification.audience is None else "staff"
        if result == "already sent":
            meter.create_counter("cases_notifications_deduplicated_total",
                                 "Retried deliveries found already sent.").add(1, {"step": step})
        else:
            meter.create_counter("cases_notifications_sent_total", "Messages delivered.").add(
                1, {"step": step, "audience": audience})
        # Ids only: the recipient, subject and body may name or locate a person.
        activity.logger.info("notification %s", result, extra={
            "step": step, "audience": audience, "deadline_id": notification.deadline_id})
        return result

    async def _project(self, input: ExecuteActivityInput) -> object:
        counter = activity.metric_meter().create_counter(
            "cases_projections_total", "Read-model projections, written or failed.")
        try:
            result = await super().execute_activity(input)
        except Exception:
            counter.add(1, {"outcome": "failed"})
            raise
        counter.add(1, {"outcome": "written"})
        return result


class ActivityMetrics(Interceptor):
    """Counts notifications and projections as the activities complete or fail."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _CountingInbound(next)

