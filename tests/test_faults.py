"""Faults with real processes: the worker killed or stopped mid-flight, the Temporal server
restarted on its database file, the read-model database unreachable for a while.

After each: every action the API accepted is in its case's history, every deadline that came
due has fired, every message went out once, and the read model equals the workflows.
"""

import asyncio
import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import URL, Engine, make_url
from temporalio import activity
from temporalio.worker import Worker

from activities.linking import LinkingActivities
from activities.projection import ReadModelActivities
from core.db import create_schema, make_engine
from models.notifications import Notification
from tests.proc_steps import (
    MESSAGES_PER_OVERDUE_REVIEW,
    REQUESTS_PER_LIFECYCLE,
    CaseClient,
    Tally,
    lifecycle_steps,
    missing_accepted,
    new_references,
    outbox,
    pending_timers,
    read_model_differences,
    settle,
    snapshots,
)
from tests.procs import Stack, TcpProxy, bearer, metric_value, running_stack
from tests.timer_steps import TimedCase
from worker import workflow_runner
from workflows.case import CaseWorkflow

# Ceilings against a hang, well above the time each takes (they print it).
pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(400)]

LIFECYCLES = 200
OVERDUE_EVERY = 4
RAMP = 5.0  # seconds over which the lifecycles start
RESTART_CASES = 12
OUTAGE_CASES = 10
OUTAGE_SECONDS = 3
SIGTERM_CASES = 20
IN_FLIGHT = 20


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path) as stack:
        yield stack


@pytest.fixture
def read_model(stack: Stack) -> Iterator[Engine]:
    engine = make_engine(stack.database_url)
    yield engine
    engine.dispose()


def accepted_count(tally: Tally) -> int:
    return len(tally.accepted)


async def wait_for(check, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def assert_messages_once(engine: Engine, overdue: list[str], others: tuple[str, ...] = ()
                         ) -> Counter[str]:
    """Each overdue review's messages are in the outbox once, sent; the other cases have none."""
    rows = outbox(engine, [*overdue, *others])
    keys = Counter(r.idempotency_key for r in rows)
    assert not [k for k, n in keys.items() if n > 1], "a message was recorded twice"
    assert {r.status for r in rows} <= {"sent"}, Counter(r.status for r in rows)
    per_case = Counter(r.reference for r in rows)
    assert per_case == dict.fromkeys(overdue, MESSAGES_PER_OVERDUE_REVIEW), per_case.most_common(3)
    return keys


async def test_kill_9_of_the_worker_loses_no_accepted_action(stack: Stack, read_model: Engine) -> None:
    [worker], [api] = await stack.start()
    references = new_references(LIFECYCLES, "KILL")
    # Every fourth case has an overdue review to escalate (and three messages to send).
    overdue = references[::OVERDUE_EVERY]
    tally = Tally()
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=api.url, timeout=120,
                                 limits=httpx.Limits(max_connections=LIFECYCLES)) as http:
        client = CaseClient(http, tally)
        today = datetime.now(UTC).date()
        # All in flight together; their starts spread over a few seconds, as users' are.
        runs = asyncio.gather(*(client.lifecycle(r, today, delay=i * RAMP / LIFECYCLES,
                                                 overdue=r in overdue)
                                for i, r in enumerate(references)))
        # Killed when a quarter of the requests are answered: the rest are in flight or queued.
        await wait_for(lambda: accepted_count(tally) >= LIFECYCLES * REQUESTS_PER_LIFECYCLE // 4)
        killed_at = accepted_count(tally)
        await worker.kill()
        await asyncio.sleep(1)
        await stack.start_worker("worker-restarted")
        await runs
    elapsed = time.monotonic() - started

    assert stack.client is not None
    cases = await settle(stack.client, read_model, references)
    missing = missing_accepted(tally, cases)
    keys = assert_messages_once(read_model, overdue, tuple(set(references) - set(overdue)))
    escalated = Counter(r for r, c in cases.items() for h in c.history
                        if h.action == "escalate_deadline")
    print(f"\nkill -9 after {killed_at} accepted: {LIFECYCLES} lifecycles, "
          f"{len(tally.outcomes)} requests, {len(tally.accepted)} accepted, {tally.retried} retried; "
          f"answers {dict(tally.statuses)}; {len(cases)} cases checked against the read model; "
          f"{len(keys)} messages sent once; {len(escalated)} cases escalated, "
          f"{sum(n > 1 for n in escalated.values())} of them recorded twice; "
          f"{elapsed:.1f}s")
    assert not missing, missing[:5]
    assert len(tally.accepted) == len(tally.outcomes) == LIFECYCLES * REQUESTS_PER_LIFECYCLE
    assert 500 not in tally.statuses
    # Every overdue review escalated, recorded once though actions landed mid-delivery.
    assert escalated == dict.fromkeys(overdue, 1)


async def run_lifecycles(stack: Stack, api_url: str, references: list[str], tally: Tally) -> None:
    async with httpx.AsyncClient(base_url=api_url, timeout=120) as http:
        client = CaseClient(http, tally)
        today = datetime.now(UTC).date()
        await asyncio.gather(*(client.lifecycle(r, today, delay=i * 0.05)
                               for i, r in enumerate(references)))


async def test_temporal_server_restart_on_its_database_keeps_cases_and_timers(
        stack: Stack, read_model: Engine) -> None:
    assert stack.server is not None and stack.client is not None
    _, [api] = await stack.start()
    references, tally = new_references(RESTART_CASES, "RESTART"), Tally()
    await run_lifecycles(stack, api.url, references, tally)
    before = await settle(stack.client, read_model, references)
    timers_before = {r: await pending_timers(stack.client, r) for r in references}
    assert all(timers_before.values()), "every case waits on a timer for its next deadline"

    assert await stack.server.terminate() == 0
    async with httpx.AsyncClient(base_url=api.url, timeout=60) as http:
        down = await http.get(f"/cases/{references[0]}", headers=bearer("officer_in_case"))
    stack.server.start()  # same port, same --db-filename
    stack.client = await stack.server.ready(stack.settings)

    after = await snapshots(stack.client, references)
    timers_after = {r: await pending_timers(stack.client, r) for r in references}
    unchanged = [r for r in references
                 if after[r].model_dump() == before[r].model_dump(exclude={"history"})]
    # The workflows carry on: an action after the restart is applied and projected.
    async with httpx.AsyncClient(base_url=api.url, timeout=120) as http:
        client = CaseClient(http, tally)
        resumed = await asyncio.gather(*(client.act(r, "prosecutor", "begin_charging_review")
                                         for r in references))
    final = await settle(stack.client, read_model, references)
    keys = assert_messages_once(read_model, references)
    print(f"\nTemporal restart: {len(references)} cases, {len(unchanged)} unchanged across it, "
          f"{sum(map(len, timers_after.values()))} pending timers kept (fire times equal), "
          f"{sum(o.status == 200 for o in resumed)} actions after it; while down GET answered "
          f"{down.status_code}; {len(keys)} messages sent once")
    assert down.status_code == 503, down.text
    assert len(unchanged) == len(references)
    assert timers_after == timers_before
    assert [o.status for o in resumed] == [200] * len(references)
    assert all(final[r].version == before[r].version + 1 for r in references)
    assert not missing_accepted(tally, final)


def postgres_url() -> URL | None:
    url = os.environ.get("CASES_TEST_DATABASE_URL", "")
    return make_url(url) if url.startswith("postgresql") else None


@pytest.mark.skipif(postgres_url() is None, reason=(
    "runs in the PostgreSQL pass (make test-postgres): a networked database can become "
    "unreachable while the service runs; a local SQLite file held open cannot"))
async def test_read_model_outage_reads_503_actions_go_on_and_projections_catch_up(
        tmp_path: Path) -> None:
    direct = postgres_url()
    assert direct is not None and direct.host and direct.port
    proxy = TcpProxy(direct.host, direct.port)
    await proxy.start()
    through_proxy = direct.set(host="127.0.0.1", port=proxy.port)
    read_model = make_engine(direct.render_as_string(hide_password=False))
    create_schema(read_model)
    stack = Stack(tmp_path, through_proxy.render_as_string(hide_password=False))
    try:
        await stack.start_server()
        assert stack.client is not None
        _, [api] = await stack.start()
        references = new_references(OUTAGE_CASES, "OUTAGE")
        tally = Tally()
        async with httpx.AsyncClient(base_url=api.url, timeout=120) as http:
            client = CaseClient(http, tally)
            opened = await asyncio.gather(*(client.open(r) for r in references))
            await settle(stack.client, read_model, references)

            await proxy.cut()
            officer = bearer("officer_in_case")
            listed = await http.get("/cases", headers=officer)
            ready = await http.get("/ready")
            # The lifecycle goes on: an overdue risk review fires and must be sent, once.
            today = datetime.now(UTC).date()
            acted = [await client.act(r, role, kind, key=f"{r}:{i}:{kind}", **fields)
                     for r in references for i, (role, kind, fields)
                     in enumerate(lifecycle_steps(today))]
            read_one = await http.get(f"/cases/{references[0]}", headers=officer)
            await asyncio.sleep(OUTAGE_SECONDS)  # projections and deliveries are failing now
            projections_behind = len({d.split(":")[0] for d in read_model_differences(
                read_model, await snapshots(stack.client, references))})
            await proxy.start()

            cases = await settle(stack.client, read_model, references)
            listed_after = await http.get("/cases", headers=officer, params={"limit": 500})
        keys = assert_messages_once(read_model, references)
        print(f"\nread-model outage: {len(references)} cases; while down GET /cases "
              f"{listed.status_code}, /ready {ready.status_code}, GET /cases/<ref> "
              f"{read_one.status_code}, {sum(o.status == 200 for o in acted)}/{len(acted)} "
              f"actions accepted, {projections_behind} cases behind in the read model; after: "
              f"read model equals the workflows, {len(keys)} messages sent once")
        assert [o.status for o in opened] == [201] * len(references)
        assert listed.status_code == 503, listed.text
        assert listed.json()["detail"]["rule"] == "UNAVAILABLE"
        assert "unreachable" in listed.json()["detail"]["message"]
        assert ready.status_code == 503 and ready.json()["detail"]["checks"]["temporal"] == "ok"
        assert read_one.status_code == 200  # single-case reads come from the workflow
        assert [o.status for o in acted] == [200] * len(acted)
        assert projections_behind == len(references)
        assert not missing_accepted(tally, cases)
        listed_refs = {item["reference"] for item in listed_after.json()["items"]}
        assert listed_after.status_code == 200 and set(references) <= listed_refs
        assert 500 not in tally.statuses
    finally:
        await stack.stop()
        await proxy.cut()
        read_model.dispose()


async def test_sigterm_drains_the_worker_and_a_restart_loses_no_accepted_action(
        stack: Stack, read_model: Engine) -> None:
    assert stack.client is not None
    [worker], [api] = await stack.start()
    references, tally = new_references(SIGTERM_CASES, "TERM"), Tally()
    async with httpx.AsyncClient(base_url=api.url, timeout=120) as http:
        client = CaseClient(http, tally)
        today = datetime.now(UTC).date()
        runs = asyncio.gather(*(client.lifecycle(r, today, delay=i * 0.05)
                                for i, r in enumerate(references)))
        await wait_for(lambda: accepted_count(tally) >= SIGTERM_CASES * REQUESTS_PER_LIFECYCLE // 3)
        stopped_at, started = accepted_count(tally), time.monotonic()
        exit_code = await worker.terminate()
        drained_in = time.monotonic() - started
        await stack.start_worker("worker-restarted")
        await runs
    cases = await settle(stack.client, read_model, references)
    keys = assert_messages_once(read_model, references)
    print(f"\nworker SIGTERM after {stopped_at} accepted: exit {exit_code} after draining "
          f"{drained_in:.1f}s; {len(tally.accepted)}/{len(tally.outcomes)} accepted, "
          f"{tally.retried} retried, answers {dict(tally.statuses)}; {len(keys)} messages once")
    assert exit_code == 0
    assert "draining" in worker.output()
    assert len(tally.accepted) == len(tally.outcomes) == SIGTERM_CASES * REQUESTS_PER_LIFECYCLE
    assert not missing_accepted(tally, cases)


@pytest.mark.parametrize("api_processes", [None, 2], ids=["uvicorn", "launcher-2-processes"])
async def test_sigterm_drains_the_api_answering_every_request_in_flight(
        stack: Stack, read_model: Engine, api_processes: int | None) -> None:
    assert stack.client is not None
    [worker], [api] = await stack.start(api_processes=api_processes)
    references, tally = new_references(IN_FLIGHT, "DRAIN"), Tally()
    async with httpx.AsyncClient(base_url=api.url, timeout=120) as http:
        client = CaseClient(http, tally)
        await asyncio.gather(*(client.open(r) for r in references))
        # With no worker, each action waits in the API for its update: all are in flight.
        # (How the worker itself drains is the test above; here it only has to be gone.)
        await worker.terminate()
        pending = asyncio.gather(*(client.act(r, "officer_in_case", "record_new_incident")
                                   for r in references))
        in_flight = 0.0
        while in_flight < IN_FLIGHT:
            await asyncio.sleep(0.1)
            in_flight = metric_value((await http.get("/metrics")).text,
                                     "cases_api_requests_in_progress") - 1  # not this scrape
        api.signal(signal.SIGTERM)
        await asyncio.sleep(1)
        # It answers no new request, and waits for the requests it holds. (Under the launcher
        # the supervisor keeps the listening socket until its processes have drained: a new
        # connection waits unanswered in its queue instead of being refused.)
        async with httpx.AsyncClient(base_url=api.url, timeout=5) as fresh:
            with pytest.raises(httpx.ConnectError if api_processes is None
                               else (httpx.ConnectError, httpx.ReadTimeout)):
                await fresh.get("/health")
        await stack.start_worker("worker-restarted")
        outcomes = await pending
        exit_code = await api.wait()
    cases = await settle(stack.client, read_model, references)
    print(f"\nAPI SIGTERM with {in_flight:.0f} requests in flight: "
          f"{sum(o.status == 200 for o in outcomes)} answered 200, exit {exit_code}")
    assert [o.status for o in outcomes] == [200] * IN_FLIGHT
    assert [o.attempts for o in outcomes] == [1] * IN_FLIGHT  # answered by the draining API
    # uvicorn exits by re-raising the signal once it has shut down cleanly; the launcher's
    # supervisor exits 0 once every process has.
    assert exit_code in (0, -signal.SIGTERM)
    assert api.output().count("Application shutdown complete") == (api_processes or 1)
    assert not missing_accepted(tally, cases)


async def test_an_action_landing_while_an_escalation_is_sent_is_recorded_once(
        dev_env, engine: Engine) -> None:
    # The escalation's delivery is held until an action has replaced the case file: the
    # deadline's mark must survive that (workflow.patched "fresh-marks-after-delivery").
    sending, release = threading.Event(), threading.Event()

    @activity.defn(name="send_notification")
    def slow_escalation(notification: Notification) -> str:
        # A real delivery that takes a while: the escalation is in flight when the action lands.
        if ":escalate:" in notification.idempotency_key:
            sending.set()
            release.wait(30)
        return "sent"

    queue = f"race-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(max_workers=8) as executor:
        async with Worker(dev_env.client, task_queue=queue, workflows=[CaseWorkflow],
                          workflow_runner=workflow_runner(), activity_executor=executor,
                          activities=[ReadModelActivities(engine).project_case, slow_escalation,
                                      LinkingActivities(engine).find]):
            case = await TimedCase.start(dev_env, queue, engine)
            today = datetime.now(UTC).date()
            await case.act("officer_in_case", "record_risk_assessment", assessment={
                "tool": "DASH", "level": "standard", "assessor": "PC 1",
                "assessed_on": (today - timedelta(days=40)).isoformat()})
            assert await asyncio.to_thread(sending.wait, 30)
            await case.act("officer_in_case", "record_new_incident")
            release.set()
            await wait_for_async(lambda: _escalations(case), timeout=30)
            await asyncio.sleep(4)  # time for a repeat, whose timer is 1 s
            recorded = await _escalations(case)
    print(f"\nescalation with an action landing during its delivery: recorded {recorded} time(s)")
    assert recorded == 1


async def _escalations(case: TimedCase) -> int:
    return sum(h.action == "escalate_deadline" for h in await case.history())


async def wait_for_async(check, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.2)
