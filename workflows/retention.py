"""What the case file keeps of the records that grow with every action.

A case lives for years and may take thousands of actions; its workflow's state must stay the
size of what the guards and deadlines read, not of what has happened. So each list that grows
with every action keeps only its latest entries here, chosen so that every guard and deadline
still sees what it reads (the latest incident of each kind, every open action-plan item, every
order in force, every stalking protection order in force or to review before its end, the
latest notice per complainant and topic). Nothing is lost: every action's
history entry, with its reasons and what it recorded (`HistoryEntry.detail`), is written once
to the read model, and `CaseFile.recorded` counts every action of each kind.
"""

from collections.abc import Callable, Hashable
from datetime import datetime
from typing import TypeVar

from models.case import CaseFile
from models.people import FORMER_CONTACT_LIMIT
from workflows.calendar import at_local, london_today

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


# Free text in a kept record: its beginning (the whole is in the action's history entry).
CLIP = 500


def clip(text: str) -> str:
    return text if len(text) <= CLIP else text[:CLIP - 1] + "…"


def keep_bounded(case: CaseFile, now: datetime) -> None:
    """Trim every growing record of the case to what the guards and deadlines read."""
    # P3.7: the first incident after each complainant's latest assessment dates the review.
    firsts = set()
    for person in case.complainants:
        latest_risk = person.latest_risk()
        if latest_risk is not None:
            since = latest_risk.recorded_at or at_local(latest_risk.assessed_on)
            first = next((i for i in case.incidents if i.at > since), None)
            if first is not None:
                firsts.add(id(first))
    kept = {id(i) for i in latest_per(case.incidents, lambda i: i.kind)}
    case.incidents = [i for i in case.incidents if id(i) in kept or id(i) in firsts]
    case.notices = latest_per(case.notices, lambda n: (n.complainant_id, n.topic), keep=1)
    case.conduct = latest(case.conduct)
    case.breach_actions = latest(case.breach_actions)
    case.withdrawals = latest_per(case.withdrawals, lambda w: w.complainant_id)
    case.safety_checks = latest_per(case.safety_checks, lambda c: c.complainant_id)
    case.witness_summonses = latest_per(case.witness_summonses, lambda w: w.complainant_id)
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
    # Stalking protection orders: those in force or still to be reviewed before their end are
    # all kept (the guards and the reminder read them), and undetermined applications; of the
    # rest, the latest.
    today = london_today(now)
    spent = [o for o in case.stalking_protection_orders
             if not o.in_force_on(today) and not o.awaiting_review]
    if len(spent) > KEEP_LATEST:
        dropped = {id(o) for o in spent[:-KEEP_LATEST]}
        case.stalking_protection_orders = [o for o in case.stalking_protection_orders
                                           if id(o) not in dropped]
    determined = [x for x in case.spo_applications if x.determined_at is not None]
    if len(determined) > KEEP_LATEST:
        dropped = {id(x) for x in determined[:-KEEP_LATEST]}
        case.spo_applications = [x for x in case.spo_applications if id(x) not in dropped]
    _clip_texts(case)
    for person in case.complainants:
        person.risk_assessments = latest(person.risk_assessments)
        person.support_referrals = latest(person.support_referrals)
        person.former_contact = latest(person.former_contact, FORMER_CONTACT_LIMIT)
        # The first statement and the latest addenda: P6.7 and P6.8 read both.
        if len(person.vps) > KEEP_LATEST:
            person.vps = [person.vps[0], *person.vps[-(KEEP_LATEST - 1):]]


def _clip_texts(case: CaseFile) -> None:
    """The free text of kept records, to its beginning: no guard or deadline reads it, and an
    action may carry 5,000 characters of it into a file that keeps ten of each record."""
    for incident in case.incidents:
        incident.description = clip(incident.description)
    for conduct in case.conduct:
        conduct.description = clip(conduct.description)
    for action in case.breach_actions:
        action.action_taken = clip(action.action_taken)
        action.further_offences_considered = clip(action.further_offences_considered)
        action.threshold_test_considered = clip(action.threshold_test_considered)
    for withdrawal in case.withdrawals:
        withdrawal.statement = {k: clip(v) for k, v in withdrawal.statement.items()}
        withdrawal.officer_report = {k: clip(v) for k, v in withdrawal.officer_report.items()}
    for check in case.safety_checks:
        check.sources = clip(check.sources)
    for summons in case.witness_summonses:
        summons.reason = clip(summons.reason)
    for item in case.evidence_checklist.values():
        item.note = clip(item.note)
    case.suspect_account = {k: clip(v) for k, v in case.suspect_account.items()}
    for offence in case.candidate_offences:
        offence.note = clip(offence.note)
    for decision in case.decisions:
        decision.reasons = clip(decision.reasons)
