"""Notifications: only by the complainant's own means (P6.4), once per key, retried on failure;
staff reminders to the person the case names, or their deputy while they are away."""

import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from sqlmodel import Session, select
from temporalio.exceptions import ApplicationError

from activities.notify import NotificationActivities, OutboxOnly, SmtpNotifier, route
from core.profiles import save_profile, set_absence
from models.case import Actor
from models.enums import Role
from models.notifications import Notification
from models.profiles import Absence, ProfileFields
from models.tables import OutboxRow
from tests.timer_steps import InDays, TimedCase
from worker import build_worker
from workflows.calendar import london_today


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


def _staff(key: str | None = None, recipient_user: str | None = None) -> Notification:
    return Notification(idempotency_key=key or f"K-{uuid.uuid4().hex}", reference="NOTE-1",
                        area="north", audience=Role.MANAGER, subject="OVERDUE (P4.9)",
                        body="Tell C1 of the charging decision", recipient_user=recipient_user)


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


# Staff messages to the named person (their profile), or their deputy while they are away


def _colleague(engine: Any, role: Role = Role.MANAGER, active: bool = True,
               email: str | None = "") -> tuple[str, str]:
    """A profile in north; its user id and e-mail address."""
    user = f"staff-{uuid.uuid4().hex[:8]}"
    address = f"{user}@force.example" if email == "" else email
    with Session(engine) as session:
        save_profile(session, user, ProfileFields(display_name=f"Name of {user}", email=address,
                                                  role=role, area="north", active=active))
    return user, address or ""


def _away(engine: Any, user: str, deputy: str, first: date, last: date) -> None:
    with Session(engine) as session:
        set_absence(session, user, Absence(absent_from=first, absent_to=last, deputy=deputy))


def _sent(engine: Any, message: Notification) -> OutboxRow:
    with Session(engine) as session:
        return session.exec(select(OutboxRow).where(
            OutboxRow.idempotency_key == message.idempotency_key)).one()


def test_a_staff_message_naming_a_person_goes_to_their_own_address(
        engine: Any, smtp_server: Any) -> None:
    controller, inbox = smtp_server
    user, address = _colleague(engine)
    sender = NotificationActivities(engine, SmtpNotifier("127.0.0.1", controller.port,
                                                         "cases@force.example"), "force.example")
    message = _staff(recipient_user=user)
    assert sender.send(message) == "sent"
    assert [m["To"] for m in inbox.received] == [address]
    row = _sent(engine, message)
    assert (row.recipient, row.recipient_user, row.routed_as) == (address, user, "owner")
    assert row.body == message.body


def test_while_the_person_is_away_their_deputy_gets_it_saying_for_whom(
        engine: Any, smtp_server: Any) -> None:
    controller, inbox = smtp_server
    user, _ = _colleague(engine)
    deputy, deputy_address = _colleague(engine)
    today = london_today(datetime.now(UTC))
    _away(engine, user, deputy, today - timedelta(days=1), today)  # today is its last day
    sender = NotificationActivities(engine, SmtpNotifier("127.0.0.1", controller.port,
                                                         "cases@force.example"), "force.example")
    message = _staff(recipient_user=user)
    assert sender.send(message) == "sent"
    [received] = inbox.received
    assert received["To"] == deputy_address
    assert f"as deputy for Name of {user} ({user})" in received.get_payload()
    row = _sent(engine, message)
    assert (row.recipient, row.recipient_user, row.routed_as) == (deputy_address, deputy, "deputy")
    assert row.body.endswith(message.body)


@pytest.mark.parametrize("who", ["nobody named", "no profile", "no email", "inactive"])
def test_a_staff_message_nobody_can_take_goes_to_the_role_mailbox(engine: Any, who: str) -> None:
    user = {"nobody named": None, "no profile": f"ghost-{uuid.uuid4().hex[:6]}",
            "no email": _colleague(engine, email=None)[0] if who == "no email" else None,
            "inactive": _colleague(engine, active=False)[0] if who == "inactive" else None}[who]
    message = _staff(recipient_user=user)
    NotificationActivities(engine, OutboxOnly(), "force.example").send(message)
    row = _sent(engine, message)
    assert (row.recipient, row.recipient_user, row.routed_as) == \
        ("manager.north@force.example", None, "role_mailbox")


def test_a_retry_goes_where_the_first_attempt_was_routed(engine: Any, smtp_server: Any) -> None:
    """The outbox row says whom the message went to: a retry after a failed delivery sends
    there, even if the person has gone away in between."""
    controller, inbox = smtp_server
    user, address = _colleague(engine)
    deputy, _ = _colleague(engine)
    message = _staff(recipient_user=user)
    dead = NotificationActivities(engine, SmtpNotifier("127.0.0.1", _free_port(), "a@b"), "x")
    with pytest.raises(OSError):
        dead.send(message)
    today = london_today(datetime.now(UTC))
    _away(engine, user, deputy, today, today)
    alive = NotificationActivities(engine, SmtpNotifier("127.0.0.1", controller.port, "a@b"), "x")
    assert alive.send(message) == "sent"
    assert [m["To"] for m in inbox.received] == [address]
    assert _sent(engine, message).routed_as == "owner"


async def _reminder_through_the_workflow(
        skipping_env: Any, engine: Any, settings: Any, smtp_port: int,
        officer: str, away: tuple[int, int] | None, deputy: str | None = None) -> OutboxRow:
    """A case opened by `officer` (the case names them); its P6.4 reminder sent by SMTP. With
    `away`, the officer is away from/to so many days around the reminder's London date."""
    smtp = settings.model_copy(update={"notifier": "smtp", "smtp_port": smtp_port,
                                       "smtp_host": "127.0.0.1"})
    queue = f"profiles-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(max_workers=4) as executor:
        async with build_worker(skipping_env.client, smtp, engine, executor, task_queue=queue):
            case = await TimedCase.start(skipping_env, queue, engine, opened_by=Actor(
                user_id=officer, role=Role.OFFICER_IN_CASE, area="north"))
            assert (await case.case()).team[Role.OFFICER_IN_CASE].user_id == officer
            deadline = await case.deadline("contact_details")
            assert deadline is not None and deadline.owner_role is Role.OFFICER_IN_CASE
            if away is not None and deputy is not None:
                day = london_today(deadline.remind_at)
                _away(engine, officer, deputy, day + timedelta(days=away[0]),
                      day + timedelta(days=away[1]))
            await case.sleep_past(deadline.remind_at)
            await case.handle.terminate("test finished")  # nothing left on the shared server
    [reminder] = [r for r in case.outbox(deadline.deadline_id) if ":remind:" in r.idempotency_key]
    return reminder


@pytest.mark.asyncio
async def test_a_deadline_reminder_reaches_the_named_officer_by_their_own_address(
        skipping_env: Any, engine: Any, settings: Any, smtp_server: Any) -> None:
    controller, inbox = smtp_server
    officer, address = _colleague(engine, role=Role.OFFICER_IN_CASE)
    reminder = await _reminder_through_the_workflow(skipping_env, engine, settings,
                                                    controller.port, officer, away=None)
    assert (reminder.recipient, reminder.recipient_user, reminder.routed_as, reminder.status) \
        == (address, officer, "owner", "sent")
    assert [m["To"] for m in inbox.received] == [address]
    assert "Agree a SPOC" in inbox.received[0]["Subject"]


@pytest.mark.asyncio
async def test_a_deadline_reminder_on_a_day_the_officer_is_away_reaches_their_deputy(
        skipping_env: Any, engine: Any, settings: Any, smtp_server: Any) -> None:
    controller, inbox = smtp_server
    officer, _ = _colleague(engine, role=Role.OFFICER_IN_CASE)
    deputy, deputy_address = _colleague(engine, role=Role.OFFICER_IN_CASE)
    reminder = await _reminder_through_the_workflow(skipping_env, engine, settings,
                                                    controller.port, officer, away=(0, 0),
                                                    deputy=deputy)
    assert (reminder.recipient, reminder.recipient_user, reminder.routed_as) == \
        (deputy_address, deputy, "deputy")
    [received] = inbox.received
    assert received["To"] == deputy_address
    assert f"as deputy for Name of {officer} ({officer})" in received.get_payload()
