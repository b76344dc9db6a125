"""Whom a staff message goes to: the person the case names, their deputy while they are away,
or the role's mailbox. Pure: the notifier (activities/notify.py) looks the profiles up and
sends where this says.
"""

from dataclasses import dataclass
from datetime import date
from typing import Literal

from models.enums import Role
from models.profiles import StaffProfile

RoutedAs = Literal["owner", "deputy", "role_mailbox"]


@dataclass(frozen=True)
class StaffRoute:
    routed_as: RoutedAs
    user_id: str | None = None  # whose address it is; None for the role's mailbox
    email: str | None = None


ROLE_MAILBOX = StaffRoute("role_mailbox")


def reachable(person: StaffProfile | None) -> bool:
    return person is not None and person.active and bool(person.email)


def route_staff(owner: StaffProfile | None, deputy: StaffProfile | None,
                today: date, role: Role | None = None) -> StaffRoute:
    """Where a message for `owner` goes on `today` (a London date).

    The owner's own address, unless they are away that day: then their deputy's. Whenever the
    named person cannot be reached (no profile, no e-mail, inactive, or away with no deputy
    who can take it), the role's mailbox, which the whole team reads: a reminder must never
    sit in the inbox of someone who is not there.
    """
    if owner is None or not reachable(owner) or (role is not None and owner.role != role):
        # Someone who has moved to another role no longer takes this role's work.
        return ROLE_MAILBOX
    if owner.absence is None or not owner.absence.covers(today):
        return StaffRoute("owner", owner.user_id, owner.email)
    if deputy is not None and deputy.user_id == owner.absence.deputy and reachable(deputy) \
            and deputy.role == owner.role and deputy.area == owner.area \
            and not (deputy.absence and deputy.absence.covers(today)):
        return StaffRoute("deputy", deputy.user_id, deputy.email)
    return ROLE_MAILBOX


def deputy_note(owner: StaffProfile) -> str:
    """The line that opens a message sent to a deputy: for whom, and until when."""
    until = f" until {owner.absence.absent_to:%a %d %b %Y}" if owner.absence else ""
    return (f"Sent to you as deputy for {owner.display_name} ({owner.user_id}), who is away"
            f"{until}.")
