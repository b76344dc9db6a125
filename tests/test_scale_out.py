"""Past one machine: two worker processes and two API processes against one Temporal server.

Actions on one case sent through both APIs at once are applied one at a time (the case's
versions run 1..N with no gap and no repeat), and a request retried through the other API with
the same Idempotency-Key is applied once.
"""

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from core.db import make_engine
from tests.proc_steps import CaseClient, Tally, missing_accepted, new_references, settle
from tests.procs import Stack, metric_value, running_stack

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(300)]

DISTINCT = 40  # record_new_incident actions, each with its own key, half through each API
DUPLICATED = 10  # of those keys, sent again at the same time through the other API
OTHER_CASES = 10  # opened alongside, so both workers have work of their own too


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path) as stack:
        yield stack


async def test_one_case_through_two_apis_and_two_workers_is_applied_one_at_a_time(
        stack: Stack) -> None:
    assert stack.client is not None
    workers, apis = await stack.start(workers=2, apis=2)
    reference, others = new_references(1, "SCALE")[0], new_references(OTHER_CASES, "SIDE")
    tally = Tally()
    https = [httpx.AsyncClient(base_url=api.url, timeout=120) for api in apis]
    try:
        client = CaseClient(https, tally)
        opened = await asyncio.gather(client.open(reference),
                                      *(client.open(r, via=i) for i, r in enumerate(others)))
        keys = [f"{reference}:incident:{i}" for i in range(DISTINCT)]
        sends = [client.act(reference, "officer_in_case", "record_new_incident", key=key, via=i % 2)
                 for i, key in enumerate(keys)]
        # The duplicates go through the other API than their first copy, at the same moment.
        sends += [client.act(reference, "officer_in_case", "record_new_incident", key=key,
                             via=(i + 1) % 2) for i, key in enumerate(keys[:DUPLICATED])]
        outcomes = await asyncio.gather(*sends)
    finally:
        await asyncio.gather(*(http.aclose() for http in https))

    engine = make_engine(stack.database_url)
    cases = await settle(stack.client, engine, [reference, *others])
    case = cases[reference]
    incident_actions = [h for h in case.history if h.action == "record_new_incident"]
    versions = [h.version for h in case.history]
    by_key = {o.key: o.version for o in outcomes[:DISTINCT]}
    duplicate_versions_match = sum(by_key[o.key] == o.version for o in outcomes[DISTINCT:])
    # The file keeps the latest incidents; the history holds what each one recorded.
    descriptions = Counter(json.loads(h.detail or "{}")["description"] for h in incident_actions)
    per_api = [metric_value(await _scrape(api.url), "cases_api_requests_total",
                            route="/cases/{reference}/actions") for api in apis]
    per_worker = [metric_value(await w.metrics(), "cases_projections_total") for w in workers]
    print(f"\nscale-out: {len(outcomes)} actions on one case through 2 APIs "
          f"({DISTINCT} keys, {DUPLICATED} sent twice); answers {dict(tally.statuses)}; "
          f"history versions 1..{max(versions)}, {len(incident_actions)} incidents applied; "
          f"{duplicate_versions_match} duplicates answered with their first version; "
          f"projections per worker {per_worker}; action requests per API {per_api}")
    assert [o.status for o in opened] == [201] * (1 + OTHER_CASES)
    assert [o.status for o in outcomes] == [200] * (DISTINCT + DUPLICATED), (
        tally.faults, [line for api in apis for line in api.output().splitlines()
                       if "ERROR" in line or "Traceback" in line][:20])
    assert versions == list(range(1, 2 + DISTINCT))  # one at a time: no gap, no repeat
    assert sorted(v or 0 for v in by_key.values()) == list(range(2, 2 + DISTINCT))
    assert len(incident_actions) == DISTINCT
    assert duplicate_versions_match == DUPLICATED
    assert set(descriptions.values()) == {1} and len(descriptions) == DISTINCT
    # Each API counted every attempt that reached it: half the sends each, plus any retry a
    # 503 under load sent on through the other one.
    reached = [sum(n for (which, method, url), n in tally.reached.items()
                   if which == i and url.endswith("/actions")) for i in range(2)]
    assert sum(reached) >= DISTINCT + DUPLICATED
    assert per_api == [float(n) for n in reached]
    assert all(n > 0 for n in per_worker), "both workers did work"
    assert not missing_accepted(tally, cases)
    engine.dispose()


async def _scrape(url: str) -> str:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        return (await http.get("/metrics")).text
