"""What the case file keeps of the records that grow with every action.

A case lives for years and may take thousands of actions; its workflow's state must stay the
size of what the guards and deadlines read, not of what has happened. So each list that grows
with every action keeps only its latest entries here, chosen so that every guard and deadline
still sees what it reads (the latest incident of each kind, every open action-plan item, every
order in force, the latest notice per complainant and topic). Nothing is lost: every action's
history entry, with its reasons and what it recorded (`HistoryEntry.detail`), is written once
to the read model, and `CaseFile.recorded` counts every action of each kind.
"""

from collections.abc import Callable, Hashable
from datetime import datetime
from typing import TypeVar

from models.case import CaseFile
from models.people import FORMER_CONTACT_LIMIT

# The latest records of one kind kept in the file: enough to show what is current.
KEEP_LATEST = 10

T = TypeVar("T")


def latest(items: list[T], keep: int = KEEP_LATEST) -> list[T]:
    return items[-keep:] if len(items) > keep else items


def latest_per(items: list[T], key: Callable[[T], Hashable], keep: int = KEEP_LATEST) -> list[T]:
    """The latest `keep` items of each key, in their original order."""
    counts: dict[Hashable, int] = {}
    kept: list[T] = []
    for item in reversed(items):
        k = key(item)
        counts[k] = counts.get(k, 0) + 1
        if counts[k] <= keep:
            kept.append(item)
    kept.reverse()
    return kept if len(kept) != len(items) else items


def latest_keys(mapping: dict[str, T], keep: int = KEEP_LATEST * 2) -> dict[str, T]:
    """A dict kept in insertion order (an item recorded again moves to the end)."""
    if len(mapping) <= keep:
        return mapping
    return dict(list(mapping.items())[-keep:])


def keep_bounded(case: CaseFile, now: datetime) -> None:
    """Trim every growing record of the case to what the guards and deadlines read."""
    case.incidents = latest_per(case.incidents, lambda i: i.kind)
    case.notices = latest_per(case.notices, lambda n: (n.complainant_id, n.topic), keep=1)
    case.conduct = latest(case.conduct)
    case.breach_actions = latest(case.breach_actions)
    case.withdrawals = latest(case.withdrawals)
    case.safety_checks = latest(case.safety_checks)
    case.witness_summonses = latest(case.witness_summonses)
    case.decisions = latest(case.decisions)
    case.linked_cases = latest(case.linked_cases, keep=KEEP_LATEST * 10)
    # One entry per offence and setting (online or not): the guards read which offences.
    case.candidate_offences = latest_per(case.candidate_offences,
                                         lambda c: (c.offence, c.online), keep=1)
    case.evidence_checklist = latest_keys(case.evidence_checklist)
    case.suspect_account = latest_keys(case.suspect_account)
    # Hearings still to come are all kept (reminders and re-verification read them).
    past = [h for h in case.hearings if h.on < now]
    if len(past) > KEEP_LATEST:
        dropped = {id(h) for h in past[:-KEEP_LATEST]}
        case.hearings = [h for h in case.hearings if id(h) not in dropped]
    # Open action-plan items and orders in force are all kept; of the rest, the latest.
    done = [item for item in case.action_plan if item.done_at is not None]
    if len(done) > KEEP_LATEST:
        dropped = {id(item) for item in done[:-KEEP_LATEST]}
        case.action_plan = [item for item in case.action_plan if id(item) not in dropped]
    ended = [o for o in case.orders if o.revoked_at is not None]
    if len(ended) > KEEP_LATEST:
        dropped = {id(o) for o in ended[:-KEEP_LATEST]}
        case.orders = [o for o in case.orders if id(o) not in dropped]
    for person in case.complainants:
        person.risk_assessments = latest(person.risk_assessments)
        person.support_referrals = latest(person.support_referrals)
        person.former_contact = latest(person.former_contact, FORMER_CONTACT_LIMIT)
        # The first statement and the latest addenda: P6.7 and P6.8 read both.
        if len(person.vps) > KEEP_LATEST:
            person.vps = [person.vps[0], *person.vps[-(KEEP_LATEST - 1):]]
