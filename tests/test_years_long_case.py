"""A restraining-order case over three years of simulated time takes 20,000 actions and stays
correct: every action applied once and in the read model's history, runs kept short by
continuing as new under the stream, no stored event near Temporal's limits, its risk reviews
reminded throughout, and the case closing by itself the day after its order ends."""

import asyncio
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select
from temporalio.testing import WorkflowEnvironment

from api.examples import ACTION_EXAMPLES
from core.temporal import execute_action
from models.actions import ActionRequest, CaseWorkflowInput
from models.case import Actor
from models.enums import Role
from models.tables import HistoryRow, OutboxRow
from tests.test_deadlines import TO_ORDER
from tests.timer_steps import InDays, TimedCase, new_case, skip_time
from workflows.case import CaseWorkflow, case_workflow_id

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(900)]

ACTIONS = 20_000
BATCHES = 20  # a batch of actions, then about eight weeks of quiet: 20 of them pass 3 years
QUIET = timedelta(days=55)
IN_FLIGHT = 16
ORDER_YEARS = 3
EVENT_LIMIT = 256 * 1024
OFFICER = Actor(user_id="officer_in_case-1", role=Role.OFFICER_IN_CASE, area="north")


def request(n: int) -> ActionRequest:
    kinds = [
        {"kind": "record_new_incident", "description": f"Incident {n}: messages overnight."},
        {"kind": "record_conduct", "conduct": {"when": "after", "online": True,
                                               "description": f"Conduct {n}: posts online."}},
        {"kind": "record_complainant_informed", **ACTION_EXAMPLES["record_complainant_informed"],
         "topic": "hearing"},
    ]
    return ActionRequest(request_id=f"years-{n}", actor=OFFICER, action=kinds[n % 3],
                         reasons=f"Reasons for action {n}.")


async def largest_event_and_runs(env: WorkflowEnvironment, workflow_id: str,
                                 run_ids: list[str]) -> tuple[int, int]:
    largest, longest = 0, 0
    for run_id in run_ids:
        stored = await env.client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        largest = max(largest, *(e.ByteSize() for e in stored.events))
        longest = max(longest, len(stored.events))
    return largest, longest


async def test_a_three_year_case_takes_20000_actions_and_closes_when_its_order_ends(
        skipping_env: WorkflowEnvironment, skipping_worker: str, engine: Engine) -> None:
    reference = f"YEARS-{uuid.uuid4().hex[:8].upper()}"
    workflow_id = case_workflow_id(reference)
    handle = await skipping_env.client.start_workflow(
        CaseWorkflow.run,
        CaseWorkflowInput(new_case=new_case(reference), index_search_attributes=False,
                          projection_backstop_seconds=30, bounded_runs=True),
        id=workflow_id, task_queue=skipping_worker)
    case = TimedCase(skipping_env, handle, engine, reference)
    await case.act("officer_in_case", "record_contact_details", complainant_id="C1")
    order = ("prosecutor", "make_restraining_order", {"orders": [
        {"protected_person_id": "C1", "conditions": ["no contact"], "made_on": InDays(0),
         "expires_on": InDays(ORDER_YEARS * 365)}]})
    await case.steps([*TO_ORDER[:-1], order])
    start_version = (await case.case()).version

    gate = asyncio.Semaphore(IN_FLIGHT)
    versions: dict[int, int] = {}
    run_ids: set[str] = set()

    async def send(n: int) -> None:
        async with gate:
            versions[n] = (await execute_action(handle, request(n))).version

    per_batch = ACTIONS // BATCHES
    for batch in range(BATCHES):
        await asyncio.gather(*(send(n) for n in range(batch * per_batch, (batch + 1) * per_batch)))
        run_ids.add((await handle.describe()).run_id)
        await skip_time(skipping_env, QUIET)
    await skip_time(skipping_env, timedelta(days=ORDER_YEARS * 365 + 10) - QUIET * BATCHES)
    result = await handle.result()
    assert result.state.value == "closed" and result.outcome == "order_expired"
    assert result.recorded["record_new_incident"] == len(range(0, ACTIONS, 3))
    assert len(set(versions.values())) == ACTIONS
    assert min(versions.values()) > start_version

    with Session(engine) as session:
        stored = session.exec(select(func.count()).select_from(HistoryRow).where(
            col(HistoryRow.reference) == reference)).one()
        reminders = session.exec(select(func.count()).select_from(OutboxRow).where(
            col(OutboxRow.reference) == reference,
            col(OutboxRow.idempotency_key).contains(":remind:"))).one()
        escalations = session.exec(select(HistoryRow.summary).where(
            col(HistoryRow.reference) == reference,
            col(HistoryRow.action) == "escalate_deadline")).all()
    assert stored == result.version, "every version of the case is in the read model, once"
    # The time-skipping server lists no workflows: the runs are those seen after each batch.
    largest, longest = await largest_event_and_runs(skipping_env, workflow_id, sorted(run_ids))
    print(f"\nyears-long case: {ACTIONS} actions over {ORDER_YEARS} years, version "
          f"{result.version}, {len(run_ids)} runs seen, longest run seen {longest} events, "
          f"largest event {largest} bytes, {reminders} reminders sent, "
          f"{len(escalations)} escalations recorded")
    assert len(run_ids) > 1, "continued as new along the way"
    assert largest < EVENT_LIMIT
    assert longest < 5000
    # The first incident made the risk review due at once (P3.7): reminded and escalated once,
    # not again for each of the thousands of incidents after it while it stayed open.
    assert reminders >= 1
    assert sum("risk" in summary.lower() for summary in escalations) == 1
