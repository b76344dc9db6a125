"""Driving a case workflow on the time-skipping server, for the deadline tests."""

import asyncio
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.client import WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from api.examples import ACTION_EXAMPLES
from core.temporal import execute_action
from models.actions import ActionRequest, CaseWorkflowInput, NewCase
from models.case import Actor, CaseFile, HistoryEntry
from models.deadlines import Deadline
from models.enums import Role
from models.tables import CaseRow, OutboxRow
from tests.history import case_history
from workflows.calendar import is_working_day
from workflows.case import CaseWorkflow, case_workflow_id

Step = tuple[str, str, dict[str, Any]]  # role, action kind, fields over the example


# The client gives a test-server call 30 s of wall time. Skipping weeks waits for the worker to
# finish what is in flight (a projection, a continue-as-new); on a loaded machine that can take
# longer than that. The server goes on with a cut sleep (it locks time again once it has
# skipped the whole of it), so the test waits for the clock rather than asking again, which
# would unlock time a second time; only a clock that stands still all along is asked again.
SKIP_WAIT_SECONDS = 600
STILL_SECONDS = 30


async def skip_time(env: WorkflowEnvironment, duration: timedelta) -> None:
    """Advance the time-skipping server's clock by duration, however long the worker takes."""
    target = await env.get_current_time() + duration
    deadline = time.monotonic() + SKIP_WAIT_SECONDS
    while True:
        try:
            await env.sleep(target - await env.get_current_time())
            return
        except RPCError as error:
            if error.status not in (RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED):
                raise
        seen, still_since = await env.get_current_time(), time.monotonic()
        while seen < target and time.monotonic() - still_since < STILL_SECONDS:
            if time.monotonic() > deadline:
                raise AssertionError(f"the test server's clock did not reach {target} in "
                                     f"{SKIP_WAIT_SECONDS} s")
            await asyncio.sleep(0.5)
            now = await env.get_current_time()
            if now != seen:
                seen, still_since = now, time.monotonic()
        if seen >= target:
            return


class InDays:
    """A date relative to the test server's clock, resolved when the step runs; with
    working_day, the first working day from then (an action-plan date must be one)."""

    def __init__(self, days: int, at: str | None = None, working_day: bool = False) -> None:
        self.days, self.at, self.working_day = days, at, working_day

    def resolve(self, now: datetime) -> str:
        day = (now + timedelta(days=self.days)).date()
        while self.working_day and not is_working_day(day):
            day += timedelta(days=1)
        return f"{day.isoformat()}T{self.at}Z" if self.at else day.isoformat()


def _resolve(value: Any, now: datetime) -> Any:
    if isinstance(value, InDays):
        return value.resolve(now)
    if isinstance(value, dict):
        return {k: _resolve(v, now) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, now) for v in value]
    return value


def new_case(reference: str, **fields: Any) -> NewCase:
    body: dict[str, Any] = {
        "reference": reference, "police_area": "north", "cps_area": "north", "stalking": True,
        "domestic_abuse": False,
        "complainants": [{"complainant_id": "C1", "name": "Complainant One"}],
        "offences": ["pha1997_s4a"]}
    return NewCase.model_validate(body | fields)


class TimedCase:
    def __init__(self, env: WorkflowEnvironment, handle: WorkflowHandle, engine: Engine,
                 reference: str) -> None:
        self.env, self.handle, self.engine, self.reference = env, handle, engine, reference

    @classmethod
    async def start(cls, env: WorkflowEnvironment, task_queue: str, engine: Engine,
                    max_history_events: int = 2000, **fields: Any) -> "TimedCase":
        reference = f"TIMER-{uuid.uuid4().hex[:10].upper()}"
        handle = await env.client.start_workflow(
            CaseWorkflow.run,
            CaseWorkflowInput(new_case=new_case(reference, **fields),
                              index_search_attributes=False,
                              max_history_events=max_history_events),
            id=case_workflow_id(reference), task_queue=task_queue)
        return cls(env, handle, engine, reference)

    async def act(self, role: str, kind: str, **fields: Any) -> CaseFile:
        fields = _resolve(fields, await self.env.get_current_time())
        request = ActionRequest(
            request_id=str(uuid.uuid4()), actor=Actor(user_id=f"{role}-1", role=Role(role),
                                                      area="north"),
            action={"kind": kind, **{**ACTION_EXAMPLES[kind], **fields}})
        await execute_action(self.handle, request)
        return await self.case()

    async def steps(self, steps: list[Step]) -> None:
        for role, kind, fields in steps:
            await self.act(role, kind, **fields)

    async def case(self) -> CaseFile:
        # A query that lands as the run continues as new waits for the next run's first task,
        # which the time-skipping server can hold past the query's deadline: ask again.
        for attempt in range(3):
            try:
                return await self.handle.query(CaseWorkflow.snapshot)
            except RPCError as err:
                if err.status is not RPCStatusCode.DEADLINE_EXCEEDED or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def history(self) -> list[HistoryEntry]:
        return await case_history(self.env.client, self.engine, self.reference)

    async def deadline(self, kind: str) -> Deadline | None:
        return next((d for d in (await self.case()).deadlines if d.kind == kind), None)

    async def sleep_past(self, moment: Any) -> None:
        now = await self.env.get_current_time()
        await skip_time(self.env, max(moment - now, timedelta(0)) + timedelta(minutes=1))
        await self.case()  # a query waits for the workflow to catch up with the timers

    async def settled(self) -> None:
        """Wait until the workflow has projected its latest version: its loop is idle."""
        version = (await self.case()).version
        for _ in range(200):
            with Session(self.engine) as session:
                row = session.get(CaseRow, self.reference)
                if row is not None and row.version >= version:
                    return
            await asyncio.sleep(0.05)
        raise AssertionError("the case was not projected in time")

    def outbox(self, deadline_id: str) -> list[OutboxRow]:
        with Session(self.engine) as session:
            return list(session.exec(select(OutboxRow).where(
                OutboxRow.reference == self.reference,
                OutboxRow.deadline_id == deadline_id)))
