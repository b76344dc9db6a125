"""Record representative case histories for the replay test (tests/test_replay.py).

    make histories        # or: .venv/bin/python -m scripts.record_histories

Each scenario runs real CaseWorkflows with a real worker (a throwaway SQLite read model and the
outbox notifier), and every run's history is written to tests/histories/<workflow id>.json
(`WorkflowHistory.to_json()`; a continued-as-new case writes one file per run, `.runN.json`).
Lifecycle paths and the breach run on the dev server with search attributes indexed, as in
production; deadlines and orders that take weeks or years run on the time-skipping server.

Payloads are encrypted with the public development key (the Settings() default), which is
what the replay test decrypts with: never record with a real key. Re-recording overwrites the
files of these scenarios: do it to add coverage, or when a change is *meant* to break running
cases (before the first release). Otherwise put the change behind workflow.patched, and keep
the old files (docs/versioning.md).
"""

import asyncio
import shutil
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from api.examples import ACTION_EXAMPLES
from core.db import create_schema, make_engine
from core.settings import DEVELOPMENT_PAYLOAD_KEY, DEVELOPMENT_PAYLOAD_KEY_ID, Settings
from core.temporal import data_converter, execute_action
from models.actions import ActionRequest, CaseWorkflowInput, NewCase
from models.case import Actor, CaseFile
from models.enums import Role
from models.tables import CaseRow, HistoryRow
from worker import build_worker
from workflows.calendar import is_working_day
from workflows.case import CaseWorkflow, case_workflow_id
from workflows.search import ALL_KEYS

ROOT = Path(__file__).resolve().parent.parent
HISTORIES = ROOT / "tests" / "histories"
BIN = Path(sys.executable).parent
TASK_QUEUE = "record-histories"


class InDays:
    """A date relative to the server's clock when the step runs (the time-skipping clock
    is not the wall clock); with working_day, the first working day from then."""

    def __init__(self, days: int, working_day: bool = False) -> None:
        self.days, self.working_day = days, working_day


Step = tuple[str, str, dict[str, Any]]  # role, action kind, fields over the example


def _resolve(value: Any, now: datetime) -> Any:
    if isinstance(value, InDays):
        day = (now + timedelta(days=value.days)).date()
        while value.working_day and not is_working_day(day):
            day += timedelta(days=1)
        return day.isoformat()
    if isinstance(value, dict):
        return {k: _resolve(v, now) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, now) for v in value]
    return value


OFFICER, PROSECUTOR, WITNESS_CARE = "officer_in_case", "prosecutor", "witness_care"
CONTACT: Step = (OFFICER, "record_contact_details", {"complainant_id": "C1"})
RISK: Step = (OFFICER, "record_risk_assessment", {"complainant_id": "C1", "assessment": {
    "tool": "DASH", "level": "medium", "assessed_on": InDays(0), "assessor": "PC 1"}})
TO_CHARGING: list[Step] = [CONTACT, RISK, (OFFICER, "refer_to_cps", {}),
                           (PROSECUTOR, "begin_charging_review", {})]
CHARGE: Step = (PROSECUTOR, "make_charging_decision", {"no_further_work": True, "action_plan": []})
TOLD_OF_CHARGE: Step = (OFFICER, "record_complainant_informed",
                        {"complainant_id": "C1", "topic": "charging_decision"})
TO_PREPARATION: list[Step] = [*TO_CHARGING, CHARGE, TOLD_OF_CHARGE]
TO_PLEAS: list[Step] = [*TO_PREPARATION, (WITNESS_CARE, "record_vps", {}),
                        (PROSECUTOR, "record_first_appearance", {})]
TOLD_OF_REVIEW: Step = (OFFICER, "record_complainant_informed",
                        {"complainant_id": "C1", "topic": "victims_right_to_review"})
ADDENDUM_VPS: Step = (WITNESS_CARE, "record_vps", {"vps": {
    "taken_on": InDays(0), "addendum": True, "presentation": "read aloud"}})


def to_order(expires_in_days: int | None) -> list[Step]:
    order: dict[str, Any] = {"protected_person_id": "C1", "conditions": ["no contact"],
                             "made_on": InDays(0)}
    if expires_in_days is not None:
        order["expires_on"] = InDays(expires_in_days)
    return [*TO_PLEAS, (PROSECUTOR, "enter_pleas", {"guilty": True}), ADDENDUM_VPS,
            (OFFICER, "record_order_views", {}), (OFFICER, "reverify_order_details", {}),
            (PROSECUTOR, "apply_restraining_order", {"draft": [
                {"protected_person_id": "C1", "prohibitions": ["no contact"]}]}),
            (PROSECUTOR, "make_restraining_order", {"orders": [order]}),
            (OFFICER, "record_complainant_informed",
             {"complainant_id": "C1", "topic": "order_conditions"})]


class Case:
    """One case driven by updates, as the API would, on whichever server it was opened."""

    def __init__(self, env: WorkflowEnvironment, engine: Engine, handle: WorkflowHandle) -> None:
        self.env, self.engine, self.handle = env, engine, handle

    @classmethod
    async def open(cls, env: WorkflowEnvironment, engine: Engine, reference: str, *,
                   index: bool, max_history_events: int = 2000) -> "Case":
        officer = Actor(user_id="officer-1", role=Role.OFFICER_IN_CASE, area="north")
        new_case = NewCase.model_validate({
            "reference": reference, "police_area": "north", "cps_area": "north",
            "stalking": True, "domestic_abuse": True, "offences": ["pha1997_s4a"],
            "suspects": [{"suspect_id": "S1", "name": "John Example",
                          "date_of_birth": "1983-04-02"}],
            "complainants": [{"complainant_id": "C1", "name": "Complainant One",
                              "contact": {"address": "1 Example Street", "phone": "07700 900123"}}],
            "opened_by": officer})
        handle = await env.client.start_workflow(
            # As the API opens a case: the answer-first read model with its backstop, and
            # bounded runs.
            CaseWorkflow.run, CaseWorkflowInput(new_case=new_case, index_search_attributes=index,
                                                max_history_events=max_history_events,
                                                projection_backstop_seconds=30,
                                                bounded_runs=True),
            id=case_workflow_id(reference), task_queue=TASK_QUEUE)
        return cls(env, engine, handle)

    async def steps(self, steps: list[Step]) -> None:
        for role, kind, fields in steps:
            now = await self.env.get_current_time()
            request = ActionRequest(
                request_id=str(uuid.uuid4()),
                actor=Actor(user_id=f"{role}-1", role=Role(role), area="north"),
                action={"kind": kind, **{**ACTION_EXAMPLES[kind], **_resolve(fields, now)}})
            await execute_action(self.handle, request)

    async def case(self) -> CaseFile:
        return await self.handle.query(CaseWorkflow.snapshot)

    async def escalated(self) -> bool:
        """Whether an escalation is in the case's history (read model, or not yet there)."""
        reference = self.handle.id.removeprefix("case-")
        pending = await self.handle.query(CaseWorkflow.unprojected)
        with Session(self.engine) as session:
            stored = session.exec(select(HistoryRow.action).where(
                HistoryRow.reference == reference)).all()
        return "escalate_deadline" in {*stored, *(e.action for e in pending)}

    async def settled(self) -> None:
        """Until the workflow's loop is idle: its latest version is in the read model."""
        await self.env.sleep(timedelta(seconds=31))  # past the projection's backstop
        for _ in range(400):
            version = (await self.case()).version
            with Session(self.engine) as session:
                row = session.get(CaseRow, self.handle.id.removeprefix("case-"))
                if row is not None and row.version >= version:
                    return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"{self.handle.id} did not settle")

    async def started(self) -> None:
        """Until the workflow exists: a linked case is started by its parent, a moment later."""
        for _ in range(400):
            try:
                await self.handle.describe()
                return
            except RPCError as err:
                if err.status is not RPCStatusCode.NOT_FOUND:
                    raise
            await asyncio.sleep(0.05)
        raise RuntimeError(f"{self.handle.id} was not started")

    async def sleep(self, days: int) -> None:
        await self.env.sleep(timedelta(days=days))
        await self.case()  # a query waits for the workflow to catch up with its timers

    async def deadline_due(self, kind: str) -> datetime:
        deadline = next(d for d in (await self.case()).deadlines if d.kind == kind)
        return deadline.due_at


# --- the scenarios -------------------------------------------------------------------------
Scenario = Callable[[WorkflowEnvironment, Engine], Awaitable[list[WorkflowHandle]]]


async def closed(env: WorkflowEnvironment, engine: Engine, reference: str,
                 steps: list[Step]) -> list[WorkflowHandle]:
    case = await Case.open(env, engine, reference, index=True)
    await case.steps(steps)
    result = await case.handle.result()
    assert result.state.value == "closed", result.state
    return [case.handle]


async def no_further_action(env: WorkflowEnvironment, engine: Engine) -> list[WorkflowHandle]:
    return await closed(env, engine, "HIST-NO-FURTHER-ACTION", [
        *TO_CHARGING, (PROSECUTOR, "make_charging_decision", {
            "decision": "no_further_action", "charges": [], "action_plan": [],
            "reasons": "Evidential stage not met."}),
        TOLD_OF_REVIEW])


async def discontinued(env: WorkflowEnvironment, engine: Engine) -> list[WorkflowHandle]:
    return await closed(env, engine, "HIST-DISCONTINUED", [
        *TO_PREPARATION, (PROSECUTOR, "discontinue", {}), TOLD_OF_REVIEW])


async def guilty_plea(env: WorkflowEnvironment, engine: Engine) -> list[WorkflowHandle]:
    return await closed(env, engine, "HIST-GUILTY-PLEA", [
        *TO_PLEAS, (PROSECUTOR, "enter_pleas", {"guilty": True}), ADDENDUM_VPS,
        (PROSECUTOR, "record_sentence", {}), (PROSECUTOR, "close_case", {"outcome": "convicted"})])


async def acquitted(env: WorkflowEnvironment, engine: Engine) -> list[WorkflowHandle]:
    return await closed(env, engine, "HIST-ACQUITTED", [
        *TO_PLEAS, (PROSECUTOR, "enter_pleas", {"guilty": False}),
        (PROSECUTOR, "record_advocate_introduction", {}),
        (PROSECUTOR, "record_verdict", {"verdict": "acquitted"}),
        (PROSECUTOR, "close_case", {"outcome": "acquitted"})])


async def breach(env: WorkflowEnvironment, engine: Engine) -> list[WorkflowHandle]:
    """P9.5: a breach of an indefinite order opens the linked case, a child workflow."""
    first = await Case.open(env, engine, "HIST-ORDER-BREACH", index=True)
    await first.steps([*to_order(None), (OFFICER, "report_order_breach", {
        "order_id": "HIST-ORDER-BREACH-RO1", "breach_reference": "HIST-BREACH-CASE"})])
    await first.settled()
    linked = Case(env, engine, env.client.get_workflow_handle(case_workflow_id("HIST-BREACH-CASE")))
    await linked.started()
    await linked.steps([CONTACT, (OFFICER, "record_breach_action_taken", {})])
    await linked.settled()
    return [first.handle, linked.handle]


async def deadlines(env: WorkflowEnvironment, engine: Engine) -> list[WorkflowHandle]:
    """P4.9 reminded, escalated, then met; a P4.7 action-plan item met before its reminder."""
    case = await Case.open(env, engine, "HIST-DEADLINES", index=False)
    await case.steps([*TO_CHARGING, (PROSECUTOR, "make_charging_decision", {"action_plan": [
        {"item_id": "AP1", "description": "Phone download", "due_on": InDays(20, working_day=True)}]})])
    await case.steps([(OFFICER, "complete_action_item", {"item_id": "AP1"})])
    due = await case.deadline_due("tell_charging_decision")
    await case.sleep((due - await env.get_current_time()).days + 2)
    assert await case.escalated(), "not escalated"
    await case.steps([TOLD_OF_CHARGE])
    await case.settled()
    return [case.handle]


async def order_expired(env: WorkflowEnvironment, engine: Engine) -> list[WorkflowHandle]:
    case = await Case.open(env, engine, "HIST-ORDER-EXPIRED", index=False)
    await case.steps(to_order(30))
    await env.sleep(timedelta(days=32))
    result = await case.handle.result()
    assert result.outcome is not None and result.outcome.value == "order_expired"
    return [case.handle]


async def long_order(env: WorkflowEnvironment, engine: Engine) -> list[WorkflowHandle]:
    """A year's order watched across risk reviews: the case continues as new on the way."""
    case = await Case.open(env, engine, "HIST-CONTINUED-AS-NEW", index=False,
                           max_history_events=60)
    await case.steps(to_order(365))
    for _ in range(4):
        await env.sleep(timedelta(days=92))
    await env.sleep(timedelta(days=10))
    result = await case.handle.result()
    assert result.outcome is not None and result.outcome.value == "order_expired"
    return [case.handle]


DEV_SERVER: list[Scenario] = [no_further_action, discontinued, guilty_plea, acquitted, breach]
TIME_SKIPPING: list[Scenario] = [deadlines, order_expired, long_order]


# --- recording -----------------------------------------------------------------------------
async def runs(client: Client, handle: WorkflowHandle) -> list[WorkflowHistory]:
    """Every run of the workflow, first to last, following continue-as-new."""
    histories: list[WorkflowHistory] = []
    run_id: str | None = handle.first_execution_run_id or (await handle.describe()).run_id
    while run_id:
        history = await client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
        histories.append(history)
        last = history.events[-1]
        run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id \
            if last.HasField("workflow_execution_continued_as_new_event_attributes") else None
    return histories


def write(histories: list[WorkflowHistory]) -> list[Path]:
    written = []
    for number, history in enumerate(histories, 1):
        suffix = f".run{number}" if len(histories) > 1 else ""
        path = HISTORIES / f"{history.workflow_id}{suffix}.json"
        path.write_text(history.to_json() + "\n")
        written.append(path)
    return written


def recording_settings(database_url: str) -> Settings:
    # Explicit, so neither .env nor CASES_PAYLOAD_KEYS can slip a real key into the repository.
    return Settings(_env_file=None, environment="development", task_queue=TASK_QUEUE,
                    database_url=database_url, notifier="outbox",
                    payload_keys={DEVELOPMENT_PAYLOAD_KEY_ID: DEVELOPMENT_PAYLOAD_KEY},
                    payload_key_id=DEVELOPMENT_PAYLOAD_KEY_ID)


async def record(env: WorkflowEnvironment, settings: Settings, engine: Engine,
                 scenarios: list[Scenario]) -> list[Path]:
    written: list[Path] = []
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with build_worker(env.client, settings, engine, executor):
            for scenario in scenarios:
                handles = await scenario(env, engine)
                for handle in handles:
                    written += write(await runs(env.client, handle))
                print(f"recorded {scenario.__name__}")
    return written


def binary(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found: install the project first (make)")
    return found


async def main() -> None:
    # Only the files of these scenarios are rewritten: histories kept from earlier releases
    # (e.g. tests/histories/<release>/) stay, and go on being replayed.
    HISTORIES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        settings = recording_settings(f"sqlite:///{tmp}/read-model.db")
        engine = make_engine(settings.database_url)
        create_schema(engine)
        converter = data_converter(settings)
        dev = await WorkflowEnvironment.start_local(
            dev_server_existing_path=binary("temporal"), search_attributes=ALL_KEYS,
            data_converter=converter)
        async with dev:
            written = await record(dev, settings, engine, DEV_SERVER)
        skipping = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=binary("temporal-test-server"), data_converter=converter)
        async with skipping:
            written += await record(skipping, settings, engine, TIME_SKIPPING)
        engine.dispose()
    print(f"wrote {len(written)} histories to {HISTORIES.relative_to(ROOT)}")


if __name__ == "__main__":
    asyncio.run(main())
