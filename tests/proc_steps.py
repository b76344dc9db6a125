"""A case handler's client against API processes, and the checks the fault tests share:
every accepted action is in the case's history, the read model equals the workflows, and every
deadline that has come due has fired with each message sent once.
"""

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.service import RPCError

from api.examples import ACTION_EXAMPLES
from models.case import CaseFile, HistoryEntry
from models.tables import CaseRow, HistoryRow, OutboxRow
from readmodel.history import history_page
from tests.api_steps import new_case_body, new_reference
from tests.procs import bearer
from workflows.case import CaseWorkflow, case_workflow_id

# Answers that say "not now" rather than "no": a client retries them with the same key.
RETRYABLE = frozenset({502, 503, 504})
QUERIES_AT_ONCE = 20


def lifecycle_steps(today: date, overdue: bool = True) -> list[tuple[str, str, dict[str, Any]]]:
    """From report to referral. With `overdue`, the risk assessment is 40 days old, so its
    28-day review is overdue when recorded: the reminder and the escalation fire at once, and
    the case has a deadline to fire and messages to send while the faults happen."""
    assessed = today - timedelta(days=40 if overdue else 0)
    return [
        ("officer_in_case", "record_risk_assessment", {"assessment": {
            "tool": "DASH", "level": "standard", "assessed_on": assessed.isoformat(),
            "assessor": "PC 1"}}),
        ("officer_in_case", "record_new_incident", {}),
        ("officer_in_case", "refer_to_cps", {}),
    ]


REQUESTS_PER_LIFECYCLE = 1 + len(lifecycle_steps(date.today()))
# The overdue risk review: a reminder to the officer, escalation to the manager and the SPOC.
MESSAGES_PER_OVERDUE_REVIEW = 3


@dataclass
class Outcome:
    """What the API answered, finally, for one request (after any retries)."""

    reference: str
    kind: str
    key: str
    status: int
    version: int | None
    attempts: int


@dataclass
class Tally:
    outcomes: list[Outcome] = field(default_factory=list)
    statuses: Counter[int | str] = field(default_factory=Counter)  # every attempt's answer
    # every attempt that reached an API, by (API index, method, path)
    reached: Counter[tuple[int, str, str]] = field(default_factory=Counter)
    # the body of every 5xx answer, so a failing test says what the server said
    faults: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> list[Outcome]:
        return [o for o in self.outcomes if 200 <= o.status < 300]

    @property
    def retried(self) -> int:
        return sum(1 for o in self.outcomes if o.attempts > 1)


class CaseClient:
    """Sends requests like a careful client: a retry reuses its Idempotency-Key."""

    def __init__(self, http: httpx.AsyncClient | list[httpx.AsyncClient], tally: Tally,
                 give_up_after: float = 120.0) -> None:
        self.https = http if isinstance(http, list) else [http]
        self.tally, self.give_up_after = tally, give_up_after

    async def send(self, method: str, url: str, *, body: dict[str, Any], role: str, key: str,
                   via: int = 0, retry: bool = True) -> httpx.Response:
        deadline = time.monotonic() + self.give_up_after
        attempts = 0
        while True:
            attempts += 1
            try:
                which = (via + attempts - 1) % len(self.https)
                response = await self.https[which].request(
                    method, url, json=body, headers=bearer(role) | {"Idempotency-Key": key})
                self.tally.statuses[response.status_code] += 1
                self.tally.reached[(which, method, url)] += 1
                if response.status_code >= 500:
                    self.tally.faults.append(f"{response.status_code} {response.text[:300]}")
                if not (retry and response.status_code in RETRYABLE):
                    response.extensions["attempts"] = attempts
                    return response
            except httpx.TransportError as err:
                self.tally.statuses[type(err).__name__] += 1
                if not retry:
                    raise
            if time.monotonic() > deadline:
                raise AssertionError(f"{method} {url} never answered ({attempts} attempts)")
            await asyncio.sleep(0.5)

    def record(self, reference: str, kind: str, key: str, response: httpx.Response) -> Outcome:
        version = response.json().get("version") if response.status_code < 300 else None
        outcome = Outcome(reference, kind, key, response.status_code, version,
                          response.extensions.get("attempts", 1))
        self.tally.outcomes.append(outcome)
        return outcome

    async def open(self, reference: str, name: str | None = None, via: int = 0) -> Outcome:
        body = new_case_body(reference)
        # A suspect of its own: cases sharing one would link to each other (P3.8), and a load
        # of linked cases is another test's subject.
        body["suspects"] = [{"suspect_id": "S1", "name": f"Sam {reference.replace('-', '')}"}]
        if name:
            body["complainants"][0]["name"] = name
        response = await self.send("POST", "/cases", body=body, role="officer_in_case",
                                   key=f"{reference}:open", via=via)
        return self.record(reference, "open_case", f"{reference}:open", response)

    async def act(self, reference: str, role: str, kind: str, key: str | None = None,
                  via: int = 0, **fields: Any) -> Outcome:
        key = key or f"{reference}:{kind}:{uuid.uuid4().hex[:8]}"
        action = {"kind": kind, **ACTION_EXAMPLES[kind], **fields}
        if kind == "record_new_incident" and "description" not in fields:
            action["description"] = f"incident {key}"
        response = await self.send("POST", f"/cases/{reference}/actions", body={"action": action},
                                   role=role, key=key, via=via)
        return self.record(reference, kind, key, response)

    async def lifecycle(self, reference: str, today: date, via: int = 0,
                        delay: float = 0.0, overdue: bool = True) -> None:
        """Open a case and refer it; stops at the first answer that is not 2xx."""
        await asyncio.sleep(delay)
        if (await self.open(reference, via=via)).status >= 300:
            return
        for i, (role, kind, fields) in enumerate(lifecycle_steps(today, overdue)):
            outcome = await self.act(reference, role, kind, key=f"{reference}:{i}:{kind}",
                                     via=via + i, **fields)
            if outcome.status >= 300:
                return


def new_references(n: int, prefix: str) -> list[str]:
    return [new_reference(prefix) for _ in range(n)]


async def snapshots(client: Client, references: list[str]) -> dict[str, CaseFile]:
    # A few queries at a time: each is answered by a workflow task, and a flood of them on a
    # busy worker is refused by the server ("consistent query buffer is full").
    gate = asyncio.Semaphore(QUERIES_AT_ONCE)

    async def one(reference: str) -> CaseFile:
        async with gate:
            handle = client.get_workflow_handle(case_workflow_id(reference))
            return await handle.query(CaseWorkflow.snapshot)

    found = await asyncio.gather(*(one(r) for r in references))
    return dict(zip(references, found, strict=True))


class SettledCase(CaseFile):
    """A case file with its whole history, read back from the read model once settled."""

    history: list[HistoryEntry] = []


def with_history(engine: Engine, cases: dict[str, CaseFile]) -> dict[str, SettledCase]:
    settled = {}
    with Session(engine) as session:
        for reference, case in cases.items():
            one = SettledCase.model_validate(case.model_dump())
            one.history = history_page(session, reference, 0, 1_000_000)
            settled[reference] = one
    return settled


def missing_accepted(tally: Tally, cases: dict[str, SettledCase]) -> list[Outcome]:
    """Accepted actions whose answer's version does not hold that action in the history."""
    missing = []
    for outcome in tally.accepted:
        history = cases[outcome.reference].history
        entry = next((h for h in history if h.version == outcome.version), None)
        if outcome.kind != "open_case" and (entry is None or entry.action != outcome.kind):
            missing.append(outcome)
    return missing


def read_model_differences(engine: Engine, cases: dict[str, CaseFile]) -> list[str]:
    """Where the read model differs from the workflows (empty when it equals them)."""
    differences = []
    with Session(engine) as session:
        rows = {r.reference: r for r in session.exec(
            select(CaseRow).where(col(CaseRow.reference).in_(list(cases))))}
        history = {(h.reference, h.version) for h in session.exec(
            select(HistoryRow).where(col(HistoryRow.reference).in_(list(cases))))}
    for reference, case in cases.items():
        row = rows.get(reference)
        if row is None or (row.version, row.state) != (case.version, case.state.value):
            differences.append(f"{reference}: row {row and (row.version, row.state)} vs "
                               f"workflow {(case.version, case.state.value)}")
        # Every version is one entry: an action, or one the service made.
        expected = {(reference, version) for version in range(1, case.version + 1)}
        if {k for k in history if k[0] == reference} != expected:
            differences.append(f"{reference}: history rows differ")
    return differences


def due_but_not_fired(cases: dict[str, CaseFile], now: datetime | None = None) -> list[str]:
    """Deadlines whose reminder or escalation time has passed without it being sent."""
    now = now or datetime.now(UTC)
    late = []
    for reference, case in cases.items():
        for d in case.deadlines:
            mark = case.deadline_marks[d.deadline_id]
            if d.remind_at <= now and mark.reminded_at is None:
                late.append(f"{reference}:{d.deadline_id} not reminded")
            if d.due_at <= now and mark.escalated_at is None:
                late.append(f"{reference}:{d.deadline_id} not escalated")
    return late


def outbox(engine: Engine, references: list[str]) -> list[OutboxRow]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxRow).where(
            col(OutboxRow.reference).in_(references))))


def _fingerprint(engine: Engine, references: list[str]) -> tuple[int, int, int]:
    with Session(engine) as session:
        versions = session.exec(select(func.sum(CaseRow.version)).where(
            col(CaseRow.reference).in_(references))).one()
        history = session.exec(select(func.count()).select_from(HistoryRow).where(
            col(HistoryRow.reference).in_(references))).one()
        messages = session.exec(select(func.count()).select_from(OutboxRow).where(
            col(OutboxRow.reference).in_(references))).one()
    return int(versions or 0), int(history), int(messages)


async def settle(client: Client, engine: Engine, references: list[str],
                 timeout: float = 180.0) -> dict[str, "SettledCase"]:
    """Wait until every due deadline has fired and the read model equals the workflows.

    The workflows are queried only once the read model has stopped changing for a second:
    queries are answered by workflow tasks, and asking 200 cases every second would slow the
    very work being waited for.
    """
    deadline = time.monotonic() + timeout
    previous: tuple[int, int, int] | None = None
    late: list[str] = []
    differences: list[str] = []
    while True:
        current = _fingerprint(engine, references)
        if current == previous:
            try:
                cases = await snapshots(client, references)
            except RPCError as err:  # a workflow task timed out on a busy worker: it is retried
                late, differences = [str(err)], []
            else:
                late, differences = due_but_not_fired(cases), read_model_differences(engine, cases)
                if not late and not differences:
                    return with_history(engine, cases)
        previous = current
        if time.monotonic() > deadline:
            raise AssertionError(f"not settled: {late[:5]} {differences[:5]}")
        await asyncio.sleep(1)


async def pending_timers(client: Client, reference: str) -> set[tuple[int, datetime]]:
    """The timers a case's workflow has started and not yet seen fire: (event id, fire time)."""
    history = await client.get_workflow_handle(case_workflow_id(reference)).fetch_history()
    started: dict[int, datetime] = {}
    done: set[int] = set()
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            attrs = event.timer_started_event_attributes
            started[event.event_id] = event.event_time.ToDatetime(UTC) + \
                attrs.start_to_fire_timeout.ToTimedelta()
        elif event.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
            done.add(event.timer_fired_event_attributes.started_event_id)
        elif event.event_type == EventType.EVENT_TYPE_TIMER_CANCELED:
            done.add(event.timer_canceled_event_attributes.started_event_id)
    return {(event_id, at) for event_id, at in started.items() if event_id not in done}
