"""Notifications behind one interface, with adapters: the outbox table (embedded default),
SMTP, and GOV.UK Notify. Each message is recorded in the outbox under its idempotency key
first, so a retried activity never sends twice.
"""

import smtplib
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Protocol

from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from models.notifications import Notification
from models.tables import OutboxRow


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
    if means in ("text", "telephone"):
        return "sms", address
    if means == "email":
        return "email", address
    raise ApplicationError(f"Messages cannot be sent by '{means}'; a person must make contact.",
                           type="NoContactMeans", non_retryable=True)


class NotificationActivities:
    def __init__(self, engine: Engine, notifier: Notifier, staff_domain: str) -> None:
        self._engine, self._notifier, self._staff_domain = engine, notifier, staff_domain

    @activity.defn(name="send_notification")
    def send(self, notification: Notification) -> str:
        """Deliver once: an outbox row marked sent means a retry does nothing."""
        channel, recipient = route(notification, self._staff_domain)
        with Session(self._engine) as session:
            row = session.exec(select(OutboxRow).where(
                OutboxRow.idempotency_key == notification.idempotency_key)).first()
            if row is not None and row.status == "sent":
                return "already sent"
            if row is None:
                row = OutboxRow(
                    idempotency_key=notification.idempotency_key, created_at=datetime.now(UTC),
                    reference=notification.reference, area=notification.area,
                    audience=notification.audience.value if notification.audience else "complainant",
                    channel=channel, recipient=recipient, subject=notification.subject,
                    body=notification.body, deadline_id=notification.deadline_id,
                    status="sending")
                session.add(row)
                session.commit()
            self._notifier.deliver(channel, recipient, notification.subject, notification.body,
                                   notification.idempotency_key)
            row.status = "sent"
            session.add(row)
            session.commit()
        return "sent"
