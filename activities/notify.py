"""Notifications behind one interface, with adapters: the outbox table (embedded default),
SMTP, and GOV.UK Notify. Each message is recorded in the outbox under its idempotency key
first, so a retried activity never sends twice, and with whom it was routed to.

A staff message that names its recipient (`recipient_user`, the case team's member for the
role) goes to that person's profile e-mail, or their deputy's while they are away, as
core.staff_routing decides; otherwise to the role's mailbox of the area.
"""

import smtplib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Protocol

from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.profiles import get_profile
from core.staff_routing import ROLE_MAILBOX, StaffRoute, deputy_note, route_staff
from models.notifications import Notification
from models.people import MESSAGE_CHANNEL
from models.tables import OutboxRow
from workflows import activity_contracts as contracts
from workflows.activity_contracts import implements
from workflows.calendar import london_today


class Notifier(Protocol):
    """Delivers one message to one recipient on one channel."""

    def deliver(self, channel: str, recipient: str, subject: str, body: str, key: str) -> None: ...


class OutboxOnly:
    """The embedded default: the outbox row is the delivery (read through the API)."""

    def deliver(self, channel: str, recipient: str, subject: str, body: str, key: str) -> None:
        return None


class SmtpNotifier:
    """E-mail through an SMTP relay (texts go through GOV.UK Notify in production)."""

    def __init__(self, host: str, port: int, sender: str) -> None:
        self.host, self.port, self.sender = host, port, sender

    def deliver(self, channel: str, recipient: str, subject: str, body: str, key: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, recipient, subject
        message["Message-ID"] = f"<{key.replace(':', '.')}@stalking-cases>"
        message.set_content(body)
        with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
            smtp.send_message(message)


class GovUkNotifyNotifier:
    """GOV.UK Notify: e-mail and text templates with a personalisation of subject and body."""

    def __init__(self, api_key: str, email_template: str, sms_template: str,
                 base_url: str = "https://api.notifications.service.gov.uk") -> None:
        from notifications_python_client.notifications import NotificationsAPIClient

        self.client = NotificationsAPIClient(api_key, base_url=base_url)
        self.email_template, self.sms_template = email_template, sms_template

    def deliver(self, channel: str, recipient: str, subject: str, body: str, key: str) -> None:
        personalisation = {"subject": subject, "body": body}
        if channel == "sms":
            self.client.send_sms_notification(recipient, self.sms_template, personalisation,
                                              reference=key)
        else:
            self.client.send_email_notification(recipient, self.email_template, personalisation,
                                                reference=key)


def route(notification: Notification, staff_domain: str) -> tuple[str, str]:
    """The channel and recipient: staff by role mailbox; a complainant only by their means."""
    if notification.audience is not None:
        return "email", f"{notification.audience.value}.{notification.area}@{staff_domain}"
    means, address = notification.means, notification.address
    if not means or not address:
        # P6.4: no recorded means, no message. Refuse for good: retrying cannot help.
        raise ApplicationError("The complainant has no recorded means of contact.",
                               type="NoContactMeans", non_retryable=True)
    if means in MESSAGE_CHANNEL:
        return MESSAGE_CHANNEL[means], address
    raise ApplicationError(f"Messages cannot be sent by '{means}'; a person must make contact.",
                           type="NoContactMeans", non_retryable=True)


@dataclass(frozen=True)
class Destination:
    """Where one message goes, and as whom (for the outbox row)."""

    channel: str
    recipient: str
    body: str
    route: StaffRoute | None = None  # None: a message to a complainant


def destination(session: Session, notification: Notification, staff_domain: str,
                sent_at: datetime) -> Destination:
    """The message's channel, address and body: a complainant's by their means (route); a
    staff message by the named person's profile, on the London date it is sent."""
    channel, recipient = route(notification, staff_domain)
    if notification.audience is None:
        return Destination(channel, recipient, notification.body)
    owner = get_profile(session, notification.recipient_user) \
        if notification.recipient_user else None
    deputy = get_profile(session, owner.absence.deputy) if owner and owner.absence else None
    chosen = route_staff(owner, deputy, london_today(sent_at), notification.audience)
    if chosen.email is None:
        return Destination(channel, recipient, notification.body, ROLE_MAILBOX)
    body = notification.body
    if chosen.routed_as == "deputy" and owner is not None:
        body = f"{deputy_note(owner)}\n\n{body}"
    return Destination("email", chosen.email, body, chosen)


def sending_time() -> datetime:
    """When the message is sent: the time its attempt was scheduled, on the Temporal server's
    clock (the workflow's "now", on a time-skipping test server too); outside an activity,
    the wall clock."""
    if activity.in_activity():
        return activity.info().current_attempt_scheduled_time
    return datetime.now(UTC)


class NotificationActivities:
    def __init__(self, engine: Engine, notifier: Notifier, staff_domain: str) -> None:
        self._engine, self._notifier, self._staff_domain = engine, notifier, staff_domain

    @implements(contracts.send_notification)
    def send(self, notification: Notification) -> str:
        """Deliver once: an outbox row marked sent means a retry does nothing. A retry after a
        failed delivery sends where the first attempt was routed, so the row stays true."""
        with Session(self._engine) as session:
            row = session.exec(select(OutboxRow).where(
                OutboxRow.idempotency_key == notification.idempotency_key)).first()
            if row is not None and row.status == "sent":
                return "already sent"
            if row is None:
                to = destination(session, notification, self._staff_domain, sending_time())
                row = OutboxRow(
                    idempotency_key=notification.idempotency_key, created_at=datetime.now(UTC),
                    reference=notification.reference, area=notification.area,
                    audience=notification.audience.value if notification.audience else "complainant",
                    channel=to.channel, recipient=to.recipient, subject=notification.subject,
                    body=to.body, deadline_id=notification.deadline_id, status="sending",
                    recipient_user=to.route.user_id if to.route else None,
                    routed_as=to.route.routed_as if to.route else None)
                session.add(row)
                session.commit()
            self._notifier.deliver(row.channel, row.recipient, row.subject, row.body,
                                   notification.idempotency_key)
            row.status = "sent"
            session.add(row)
            session.commit()
        return "sent"
