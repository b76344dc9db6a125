"""What the service sends about a deadline, and when: pure functions of the case file.

Each deadline goes through the steps of DEADLINE_STEPS in order: a reminder at its remind
time, to its owner (and, for a hearing, the complainant by the means they chose, P6.4); an
escalation when it falls due unmet, to the roles it names, recorded in the case's history.
The workflow runs the steps (workflows/case.py); this module only says what they are.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from models.actions import EscalateDeadline, SystemAction
from models.case import CaseFile
from models.deadlines import Deadline
from models.enums import CPS_ROLES, Role
from models.notifications import Notification
from models.people import message_address
from workflows.calendar import LONDON


def staff_message(case: CaseFile, d: Deadline, role: Role, step: str,
                  text: str) -> Notification:
    """One message to the person the case names for the role (the notifier finds their
    address, or their deputy's while they are away), or to the role's mailbox when nobody is
    named. The key makes each step of each opening of the deadline go once."""
    opened = case.deadline_marks[d.deadline_id].opened_at
    member = case.team.get(role)
    return Notification(
        idempotency_key=f"{case.reference}:{d.deadline_id}:{opened:%Y%m%dT%H%M%S}:"
                        f"{step}:{role.value}",
        # A CPS role's mailbox is its CPS area's (the same as the police area but for cases
        # one CPS area runs for several forces).
        reference=case.reference, area=case.cps_area if role in CPS_ROLES else case.police_area,
        audience=role, recipient_user=member.user_id if member else None,
        subject=f"{case.reference}: {text}"[:300], body=text, deadline_id=d.deadline_id)


def reminders(case: CaseFile, d: Deadline) -> list[Notification]:
    due = d.due_at.astimezone(LONDON)
    messages = [staff_message(case, d, d.owner_role, "remind",
                              f"Due {due:%a %d %b %Y %H:%M}: {d.description}")]
    if d.kind == "hearing_reminder" and d.subject:
        complainant_id = d.subject.split("@")[0]
        person = case.complainant(complainant_id)
        contact = person.contact if person else None
        address = message_address(contact) if contact else None
        if contact and contact.preferred_means and address:
            # Only by the means the complainant chose (P6.4); nothing unsafe in it.
            messages.append(Notification(
                idempotency_key=f"{case.reference}:{d.deadline_id}:complainant",
                reference=case.reference, area=case.police_area,
                complainant_id=complainant_id, means=contact.preferred_means.value,
                address=address, subject="Your court date",
                body="You have a court date coming up. Your witness care officer will "
                     "contact you to talk about it and any support you need.",
                deadline_id=d.deadline_id))
    return messages


def escalations(case: CaseFile, d: Deadline) -> list[Notification]:
    return [staff_message(case, d, role, "escalate", f"OVERDUE ({d.rule}): {d.description}")
            for role in d.escalate_to]


def escalation_record(d: Deadline) -> EscalateDeadline:
    return EscalateDeadline(deadline_id=d.deadline_id, rule=d.rule, description=d.description,
                            escalate_to=list(d.escalate_to))


@dataclass(frozen=True)
class DeadlineStep:
    """One step a deadline goes through: when, what is sent, and the mark that says done."""

    event: str  # the metrics event, and the past tense of the step
    at: Callable[[Deadline], datetime]
    mark: str  # the DeadlineMarks field set when every message went
    messages: Callable[[CaseFile, Deadline], list[Notification]]
    record: Callable[[Deadline], SystemAction] | None = None  # an entry in the case's history


DEADLINE_STEPS = (
    DeadlineStep("reminded", lambda d: d.remind_at, "reminded_at", reminders),
    DeadlineStep("escalated", lambda d: d.due_at, "escalated_at", escalations,
                 record=escalation_record),
)
