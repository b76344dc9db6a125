"""What operators see, from real processes: Prometheus metrics from the API and the worker,
and JSON logs carrying the request id and the case reference but never a complainant's
personal data.
"""

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import StatementError

from api.main import create_app
from core.db import make_engine
from core.logging import json_handler
from core.settings import Settings
from tests.proc_steps import CaseClient, Tally, new_references, settle
from tests.procs import ApiProc, Stack, WorkerProc, bearer, metric_value, running_stack

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(300)]

# Distinctive enough that any appearance in a log is this case's data leaking.
NAME = "Philippa Quillfeather-Zanzibar"
ADDRESS = "17 Marigold Crescent, Wigan WN9 9ZZ"
PHONE = "07700 900457"
EMAIL = "pq.zanzibar@example.org"
PERSONAL = (NAME, "Quillfeather", ADDRESS, "Marigold", PHONE, EMAIL)
REQUEST_ID = "ops-test-request-0001"
METRICS_TOKEN = "ops-test-metrics-token-0123456789"


class Operated:
    """One case taken through the API processes, and what each request answered."""

    def __init__(self, stack: Stack, worker: WorkerProc, api: ApiProc, reference: str) -> None:
        self.stack, self.worker, self.api, self.reference = stack, worker, api, reference
        self.answers: dict[str, httpx.Response] = {}


@pytest.fixture(scope="module")
async def operated(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Operated]:
    async with running_stack(tmp_path_factory.mktemp("operations")) as stack:
        stack.extra_env["CASES_METRICS_TOKEN"] = METRICS_TOKEN
        [worker], [api] = await stack.start()
        run = Operated(stack, worker, api, new_references(1, "OPS")[0])
        await _operate(run)
        yield run


async def _operate(run: Operated) -> None:
    officer, url = bearer("officer_in_case"), f"/cases/{run.reference}/actions"
    today = datetime.now(UTC).date()
    async with httpx.AsyncClient(base_url=run.api.url, timeout=60) as http:
        client = CaseClient(http, Tally())
        opened = await client.open(run.reference, name=NAME)
        assert opened.status == 201
        await http.post(url, headers=officer | {"X-Request-ID": REQUEST_ID}, json={"action": {
            "kind": "record_contact_details", "complainant_id": "C1", "contact": {
                "spoc": "PC 1234 Jones", "preferred_means": "email", "email": EMAIL,
                "phone": PHONE, "address": ADDRESS, "safe_contact": f"ask for {NAME}"}}})
        run.answers["refused"] = await http.post(url, headers=officer, json={"action": {
            "kind": "refer_to_cps", "statements": 1, "mg2_included": True,
            "risk_documentation": True}})
        run.answers["malformed"] = await http.post(url, headers=officer, json={"action": {
            "kind": "record_address_change", "complainant_id": "C1", "address": ADDRESS,
            "unexpected": NAME}})
        # 40 days old: its review is overdue at once, so it is reminded and escalated.
        run.answers["overdue"] = await http.post(url, headers=officer, json={"action": {
            "kind": "record_risk_assessment", "complainant_id": "C1", "assessment": {
                "tool": "DASH", "level": "standard", "assessor": "PC 1",
                "assessed_on": (today - timedelta(days=40)).isoformat()}}})
        run.answers["read"] = await http.get(f"/cases/{run.reference}", headers=officer)
        run.answers["unknown"] = await http.get("/no/such/path")
    assert run.stack.client is not None
    engine = make_engine(run.stack.database_url)
    await settle(run.stack.client, engine, [run.reference])
    engine.dispose()


def json_lines(text: str) -> tuple[list[dict[str, Any]], list[str]]:
    parsed, other = [], []
    for line in filter(None, text.splitlines()):
        try:
            parsed.append(json.loads(line))
        except ValueError:
            other.append(line)
    return parsed, other


async def test_logs_carry_request_id_and_case_reference_and_no_personal_data(
        operated: Operated) -> None:
    api_lines, api_other = json_lines(operated.api.output())
    worker_lines, worker_other = json_lines(operated.worker.output())
    requests = [line for line in api_lines if line.get("logger") == "api.request"]
    tagged = next(line for line in requests if line["request_id"] == REQUEST_ID)
    case_lines = [line for line in api_lines + worker_lines
                  if line.get("case_reference") == operated.reference]
    leaks = [(p, name) for name, text in (("api", operated.api.output()),
                                          ("worker", operated.worker.output()))
             for p in PERSONAL if p in text]
    print(f"\nlogs: api {len(api_lines)} JSON lines ({len(api_other)} printed by uvicorn before "
          f"the app set logging up), worker {len(worker_lines)} JSON lines ({len(worker_other)} "
          f"not JSON); "
          f"{len(requests)} request lines; {len(case_lines)} lines name the case; "
          f"{len(PERSONAL)} personal values searched, {len(leaks)} found")
    assert not leaks
    assert not worker_other and all(line.startswith("INFO: ") for line in api_other)
    assert all(line["service"] == "api" and line["request_id"] for line in requests)
    assert tagged["case_reference"] == operated.reference and tagged["status"] == 200
    assert tagged["route"] == "/cases/{reference}/actions"
    assert operated.answers["read"].headers["X-Request-ID"] in {r["request_id"] for r in requests}
    assert any(line["service"] == "worker" for line in case_lines), "the worker names the case"
    assert len({line["request_id"] for line in requests}) == len(requests)


async def test_api_metrics_are_served_only_to_the_scrapers_token(operated: Operated) -> None:
    async with httpx.AsyncClient(base_url=operated.api.url, timeout=10) as http:
        refused = {"no token": await http.get("/metrics"),
                   "a user's token": await http.get("/metrics", headers=bearer("admin")),
                   "a wrong token": await http.get(
                       "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}x"}),
                   "not bearer": await http.get(
                       "/metrics", headers={"Authorization": f"Basic {METRICS_TOKEN}"})}
        served = await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    for what, response in refused.items():
        assert response.status_code == 401, (what, response.text)
        assert response.headers["WWW-Authenticate"] == "Bearer", what
        assert response.json()["detail"]["rule"] == "AUTH", what
        assert "cases_api_requests" not in response.text, what
    assert served.status_code == 200 and "cases_api_requests_total" in served.text


async def test_without_a_metrics_token_metrics_are_open_in_development_only() -> None:
    production = Settings(_env_file=None, environment="production", jwt_signing_key="s" * 40,
                          payload_keys={"ops": "b3BzLXRlc3Qta2V5LW5vdC1hLXJlYWwtb25lLTAxMjM="},
                          payload_key_id="ops", areas=["north"], audit_key="a" * 40,
                          audit_checkpoint_path="/var/lib/cases-audit/checkpoints.jsonl")
    answers = {}
    for name, settings in (("development", Settings(_env_file=None)), ("production", production)):
        transport = httpx.ASGITransport(app=create_app(settings))
        async with httpx.AsyncClient(transport=transport, base_url="http://ops.test") as http:
            answers[name] = await http.get("/metrics")
    assert answers["development"].status_code == 200
    assert "cases_api_requests_total" in answers["development"].text
    assert answers["production"].status_code == 404
    assert answers["production"].json()["detail"] == {
        "rule": "NOT_FOUND", "message": "Metrics are not served: CASES_METRICS_TOKEN is not set."}
    with pytest.raises(ValueError, match="at least 16 characters"):
        Settings(_env_file=None, metrics_token="short")


async def test_api_metrics_count_requests_latency_and_refusals_by_rule(operated: Operated) -> None:
    async with httpx.AsyncClient(base_url=operated.api.url, timeout=10) as http:
        text = (await http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})).text
    actions = "/cases/{reference}/actions"
    counts = {
        "action 200": metric_value(text, "cases_api_requests_total", route=actions, status="200"),
        "action 409": metric_value(text, "cases_api_requests_total", route=actions, status="409"),
        "action 422": metric_value(text, "cases_api_requests_total", route=actions, status="422"),
        "unmatched 404": metric_value(text, "cases_api_requests_total", route="<unmatched>"),
        "latency observations": metric_value(text, "cases_api_request_duration_seconds_count",
                                             route=actions),
        "refusals P3.7": metric_value(text, "cases_api_refusals_total", rule="P3.7"),
        "refusals, all rules": metric_value(text, "cases_api_refusals_total"),
    }
    print(f"\nAPI metrics: {counts}")
    assert operated.answers["refused"].json()["detail"]["rule"] == "P3.7"
    assert counts == {"action 200": 2, "action 409": 1, "action 422": 1, "unmatched 404": 1,
                      "latency observations": 4, "refusals P3.7": 1, "refusals, all rules": 1}
    assert operated.reference not in text  # route templates only: no series per case


async def test_worker_metrics_count_deadlines_notifications_and_the_sdk_runtime(
        operated: Operated) -> None:
    text = await operated.worker.metrics()
    counts = {
        "opened": metric_value(text, "cases_deadlines_total", event="opened"),
        "met contact_details": metric_value(text, "cases_deadlines_total", event="met",
                                            kind="contact_details"),
        "reminded risk_review": metric_value(text, "cases_deadlines_total", event="reminded",
                                             kind="risk_review"),
        "escalated risk_review": metric_value(text, "cases_deadlines_total", event="escalated",
                                              kind="risk_review"),
        "sent remind": metric_value(text, "cases_notifications_sent_total", step="remind"),
        "sent escalate": metric_value(text, "cases_notifications_sent_total", step="escalate"),
        "failed": metric_value(text, "cases_notifications_failed_total"),
        # Each projection writes the latest version, so their number depends on timing.
        "projections written": metric_value(text, "cases_projections_total", outcome="written"),
        "projections failed": metric_value(text, "cases_projections_total", outcome="failed"),
        "sdk workflow tasks": metric_value(text, "temporal_workflow_task_execution_latency_count"),
    }
    print(f"\nworker metrics: {counts}")
    # Opened: contact details at opening, then the risk review; met: contact details agreed.
    assert counts["opened"] == 2 and counts["met contact_details"] == 1
    assert counts["reminded risk_review"] == 1 and counts["escalated risk_review"] == 1
    assert counts["sent remind"] == 1 and counts["sent escalate"] == 2 and counts["failed"] == 0
    assert counts["projections written"] >= 1 and counts["projections failed"] == 0
    assert counts["sdk workflow tasks"] > 0
    assert operated.reference not in text


async def test_a_logged_database_error_does_not_show_the_values_it_bound() -> None:
    # An outbox INSERT that fails binds a complainant's address; the log shows the SQL only.
    connection = create_engine("sqlite://").connect()
    with connection, pytest.raises(StatementError) as failure:
        connection.execute(text("INSERT INTO outbox (recipient) VALUES (:recipient)"),
                           {"recipient": ADDRESS})
    record = logging.LogRecord("worker", logging.WARNING, __file__, 1, "delivery failed", None,
                               (StatementError, failure.value, failure.value.__traceback__))
    handler = json_handler("worker")
    assert handler.filter(record)
    line = json.loads(handler.format(record))
    print(f"\nlogged database error: {len(line['exc_info'])} characters, address shown: "
          f"{ADDRESS in line['exc_info']}")
    assert "INSERT INTO outbox" in line["exc_info"] and ADDRESS not in line["exc_info"]
