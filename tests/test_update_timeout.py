"""An action's wait for its case's workflow is bounded (CASES_UPDATE_TIMEOUT_SECONDS): with no
worker polling the case's task queue, the API answers 503 with Retry-After and the request id
to send again, never a 500 and never a request held open for ever."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from api.main import create_app
from models.actions import CaseWorkflowInput
from tests import factories as f
from tests.api_steps import new_reference
from workflows.case import case_workflow_id

ACTION = {"action": {"kind": "record_new_incident", "description": "Calls overnight."}}


@pytest.fixture(scope="module")
async def unpolled(client: Client) -> AsyncIterator[str]:
    """A case whose workflow waits on a task queue no worker polls; its reference."""
    reference = new_reference("NOPOLL")
    handle = await client.start_workflow(
        "CaseWorkflow", CaseWorkflowInput(new_case=f.new_case(
            reference=reference, police_area="north", cps_area="north")),
        id=case_workflow_id(reference), task_queue=f"nobody-polls-{uuid.uuid4().hex[:8]}")
    yield reference
    await handle.terminate("test over")


async def api_waiting(client: Client, settings: Any, engine: Any,
                      seconds: float) -> httpx.AsyncClient:
    app = create_app(settings.model_copy(update={"update_timeout_seconds": seconds}), client,
                     engine)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                             base_url="http://cases.test", timeout=120)


async def act(http: httpx.AsyncClient, auth: Any, reference: str,
              key: str | None = None) -> tuple[httpx.Response, float]:
    headers = auth("officer_in_case") | ({"Idempotency-Key": key} if key else {})
    started = time.monotonic()
    response = await http.post(f"/cases/{reference}/actions", json=ACTION, headers=headers)
    return response, time.monotonic() - started


def assert_try_again(response: httpx.Response, request_id: str) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) > 0
    detail = response.json()["detail"]
    assert detail["rule"] == "UNAVAILABLE" and detail["request_id"] == request_id
    assert response.headers["Idempotency-Key"] == request_id
    assert f"Idempotency-Key: {request_id}" in detail["message"]


async def test_no_worker_is_a_503_with_the_key_sent_after_the_timeout(
        client, settings, engine, auth, unpolled):
    async with await api_waiting(client, settings, engine, 2) as http:
        response, took = await act(http, auth, unpolled, key="retry-me-7")
    assert_try_again(response, "retry-me-7")
    assert 1.5 < took < 10, took


async def test_without_a_key_the_503_names_the_id_chosen(client, settings, engine, auth,
                                                        unpolled):
    async with await api_waiting(client, settings, engine, 1) as http:
        response, _ = await act(http, auth, unpolled)
        request_id = response.headers.get("Idempotency-Key", "")
        assert_try_again(response, request_id)
        assert uuid.UUID(request_id)
        # Sent again with the id it was given: the same answer, the same id.
        again, _ = await act(http, auth, unpolled, key=request_id)
    assert_try_again(again, request_id)


async def test_the_bound_holds_past_the_servers_own_wait(client, settings, engine, auth,
                                                        unpolled):
    # The server answers a waiting update after 20 s and the SDK asks again: the timeout
    # bounds the whole wait, not each call.
    async with await api_waiting(client, settings, engine, 21) as http:
        response, took = await asyncio.wait_for(act(http, auth, unpolled), 60)
    assert_try_again(response, response.headers["Idempotency-Key"])
    assert 20 < took < 30, took


def test_the_timeout_is_a_setting_with_a_default_of_30_seconds(settings) -> None:
    from core.settings import Settings

    assert Settings().update_timeout_seconds == 30
    with pytest.raises(ValueError):
        Settings(update_timeout_seconds=0)
