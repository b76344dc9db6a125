"""Deadline counters kept by the case workflow, exported through the worker's SDK runtime.

The workflow is the only place that knows when a deadline opens or is met (an action or a
timer changes the case file; no activity sees the before and after), so it counts there.
`workflow.metric_meter()` records nothing during replay, so a case replayed after a restart or
a cache eviction is not counted again. A workflow task cut short by a crash and run again can
count its events twice: the counters are for dashboards and alerts, the case history is the
record.

cases_deadlines_total{event, kind}: event is opened, met (the fact that meets it was recorded,
or it is no longer owed), reminded or escalated; kind is the deadline's kind (risk_review...).
"""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.deadlines import deadline_kind


def deadline_event(event: str, deadline_id: str) -> None:
    workflow.metric_meter().create_counter(
        "cases_deadlines_total", "Deadlines opened, met, reminded and escalated.").add(
        1, {"event": event, "kind": deadline_kind(deadline_id)})
