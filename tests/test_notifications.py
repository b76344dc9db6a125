"""Notifications: only by the complainant's own means (P6.4), once per key, retried on failure."""

import socket
import uuid
from datetime import timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from sqlmodel import Session, select
from temporalio.exceptions import ApplicationError

from activities.notify import NotificationActivities, OutboxOnly, SmtpNotifier, route
from models.enums import Role
from models.notifications import Notification
from models.tables import OutboxRow
from tests.timer_steps import InDays, TimedCase


class Inbox(Message):
    def __init__(self) -> None:
        super().__init__()
        self.received: list[Any] = []

    def handle_message(self, message: Any) -> None:
        self.received.append(message)


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _staff(key: str | None = None) -> Notification:
    return Notification(idempotency_key=key or f"K-{uuid.uuid4().hex}", reference="NOTE-1",
                        area="north", audience=Role.MANAGER, subject="OVERDUE (P4.9)",
                        body="Tell C1 of the charging decision")


def _to_complainant(means: str | None, address: str | None) -> Notification:
    return Notification(idempotency_key=f"K-{uuid.uuid4().hex}", reference="NOTE-1",
                        area="north", complainant_id="C1", means=means, address=address,
                        subject="Your court date", body="Your witness care officer will call.")


def test_p6_4_complainant_message_goes_only_by_recorded_means() -> None:
    assert route(_to_complainant("text", "07700 900123"), "x") == ("sms", "07700 900123")
    assert route(_to_complainant("email", "c1@example.org"), "x") == ("email", "c1@example.org")


@pytest.mark.parametrize(("means", "address"), [(None, None), ("letter", "1 Road"),
                                                ("email", None)])
def test_p6_4_no_recorded_means_no_message(means: str | None, address: str | None) -> None:
    with pytest.raises(ApplicationError) as refused:
        route(_to_complainant(means, address), "x")
    assert refused.value.type == "NoContactMeans" and refused.value.non_retryable


def test_staff_messages_go_to_the_role_mailbox_of_the_area() -> None:
    assert route(_staff(), "force.example") == ("email", "manager.north@force.example")


def test_smtp_delivers_once_per_idempotency_key(engine: Any, smtp_server: Any) -> None:
    controller, inbox = smtp_server
    sender = NotificationActivities(engine, SmtpNotifier("127.0.0.1", controller.port,
                                                         "cases@force.example"), "force.example")
    message = _staff()
    assert sender.send(message) == "sent"
    assert sender.send(message) == "already sent"  # a retried activity
    assert len(inbox.received) == 1
    assert inbox.received[0]["To"] == "manager.north@force.example"
    assert "P4.9" in inbox.received[0]["Subject"]


def test_failed_delivery_is_retried_and_then_sent_once(engine: Any, smtp_server: Any) -> None:
    controller, inbox = smtp_server
    dead = NotificationActivities(engine, SmtpNotifier("127.0.0.1", _free_port(), "a@b"), "x")
    message = _staff()
    with pytest.raises(OSError):
        dead.send(message)
    with Session(engine) as session:
        row = session.exec(select(OutboxRow).where(
            OutboxRow.idempotency_key == message.idempotency_key)).one()
        assert row.status == "sending"
    alive = NotificationActivities(engine, SmtpNotifier("127.0.0.1", controller.port, "a@b"), "x")
    assert alive.send(message) == "sent"
    assert len(inbox.received) == 1


def test_outbox_notifier_records_every_message(engine: Any) -> None:
    message = _staff()
    NotificationActivities(engine, OutboxOnly(), "force.example").send(message)
    with Session(engine) as session:
        row = session.exec(select(OutboxRow).where(
            OutboxRow.idempotency_key == message.idempotency_key)).one()
    assert (row.status, row.audience, row.channel) == ("sent", "manager", "email")


@pytest.mark.asyncio
async def test_p6_4_hearing_reminder_reaches_complainant_by_safe_contact(
        skipping_env: Any, skipping_worker: str, engine: Any) -> None:
    case = await TimedCase.start(skipping_env, skipping_worker, engine)
    await case.act("officer_in_case", "record_contact_details", complainant_id="C1",
                   contact={"spoc": "PC 1", "preferred_means": "text",
                            "phone": "07700 900001", "safe_contact": "07700 900002"})
    await case.steps([
        ("officer_in_case", "record_risk_assessment", {"complainant_id": "C1", "assessment": {
            "tool": "DASH", "level": "medium", "assessed_on": InDays(0), "assessor": "PC 1"}}),
        ("officer_in_case", "refer_to_cps", {}), ("prosecutor", "begin_charging_review", {}),
        ("prosecutor", "make_charging_decision", {"no_further_work": True, "action_plan": []}),
        ("witness_care", "list_hearing", {"hearing": {"kind": "first_hearing",
                                                      "on": InDays(21, at="10:00:00")}})])
    deadline = await case.deadline("hearing_reminder")
    assert deadline is not None
    await case.sleep_past(deadline.remind_at)
    sent = case.outbox(deadline.deadline_id)
    to_complainant = [r for r in sent if r.audience == "complainant"]
    assert len(to_complainant) == 1
    # P6.4: by the safe number, not the ordinary one; and nothing about the suspect in it.
    assert (to_complainant[0].channel, to_complainant[0].recipient) == ("sms", "07700 900002")
    assert "Example" not in to_complainant[0].body


@pytest.mark.asyncio
async def test_failing_delivery_shows_on_the_deadline(skipping_env: Any, engine: Any,
                                                      settings: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from worker import build_worker

    broken = settings.model_copy(update={"notifier": "smtp", "smtp_port": _free_port()})
    queue = f"failing-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with build_worker(skipping_env.client, broken, engine, executor, task_queue=queue):
            case = await TimedCase.start(skipping_env, queue, engine)
            deadline = await case.deadline("contact_details")
            assert deadline is not None
            await case.sleep_past(deadline.remind_at + timedelta(minutes=10))
            marks = (await case.case()).deadline_marks[deadline.deadline_id]
            # Leave nothing pending on the shared server: its retries would hold the clock.
            await case.handle.terminate("test finished")
    assert marks.reminded_at is None
    assert marks.failing and "Connection refused" in marks.failing


def test_gov_uk_notify_adapter_sends_by_template_with_the_key_as_reference(engine: Any) -> None:
    """The Notify adapter speaks Notify's HTTP API (here a local server that records what it
    is sent and checks the signed token, since the real service is not reachable from here)."""
    import json
    import threading
    import uuid as uuid_module
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import jwt

    from activities.notify import GovUkNotifyNotifier

    service_id, secret = str(uuid_module.uuid4()), str(uuid_module.uuid4())
    received: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

    class Notify(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            token = self.headers["Authorization"].removeprefix("Bearer ")
            claims = jwt.decode(token, secret, algorithms=["HS256"])
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append((self.path, claims, body))
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"id": str(uuid_module.uuid4())}).encode())

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Notify)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        notifier = GovUkNotifyNotifier(f"cases-{service_id}-{secret}", "email-template",
                                       "sms-template", base_url=f"http://127.0.0.1:{server.server_port}")
        sender = NotificationActivities(engine, notifier, "force.example")
        message = _to_complainant("text", "07700 900002")
        assert sender.send(message) == "sent"
        assert sender.send(message) == "already sent"
    finally:
        server.shutdown()
    assert len(received) == 1
    path, claims, body = received[0]
    assert path == "/v2/notifications/sms" and claims["iss"] == service_id
    assert body["phone_number"] == "07700 900002" and body["template_id"] == "sms-template"
    assert body["reference"] == message.idempotency_key
    assert body["personalisation"]["subject"] == "Your court date"
