"""Which deadlines a case has open, derived from its facts alone (pure; no clock, no I/O).

Each TIMER rule is one function below. A deadline opens the moment the fact that starts it
is recorded and disappears the moment the fact that meets it is recorded; the workflow only
keeps timers for what this module says is open.
"""

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta

from models.case import CaseFile
from models.deadlines import Deadline, DeadlinePolicy
from models.enums import CaseState, ChargingDecisionKind, Outcome, Role, Verdict
from models.offences import OFFENCES
from workflows.calendar import (
    START_OF_WORKING_DAY,
    add_months,
    add_working_days,
    at_local,
    local_date,
    working_day_on_or_before,
    working_days_after,
)

OIC = Role.OFFICER_IN_CASE
ESCALATE = [Role.MANAGER, Role.POLICE_SPOC]
ESCALATE_CPS = [Role.MANAGER, Role.CPS_SPOC]


def _deadline(kind: str, rule: str, description: str, due_at: datetime, policy: DeadlinePolicy,
              owner_role: Role = OIC, subject: str | None = None,
              remind_at: datetime | None = None,
              escalate_to: list[Role] | None = None) -> Deadline:
    return Deadline(
        deadline_id=f"{kind}:{subject}" if subject else kind, kind=kind, rule=rule,
        description=description, subject=subject, due_at=due_at,
        remind_at=remind_at or due_at - timedelta(hours=policy.default_reminder_hours),
        owner_role=owner_role, escalate_to=escalate_to or ESCALATE)


def _working_day(day: date, p: DeadlinePolicy) -> date:
    """A day-counted deadline's day: brought forward to a working day (DeadlinePolicy)."""
    return working_day_on_or_before(day) if p.day_deadlines_on_working_days else day


def risk_reviews(case: CaseFile, p: DeadlinePolicy) -> Iterator[Deadline]:
    """P3.7: a review falls due at an interval after each assessment, and at once after a new
    incident, breach or change of circumstances."""
    for person in case.complainants:
        latest = person.latest_risk()
        if latest is None:
            continue
        due = at_local(_working_day(latest.assessed_on + timedelta(days=p.risk_review_days), p))
        # An incident after the assessment was recorded makes a review due at once.
        since = latest.recorded_at or at_local(latest.assessed_on)
        later = [i for i in case.incidents if i.at > since]
        if later:
            due = min(due, working_days_after(later[0].at, p.risk_review_after_incident_working_days))
        # The subject names the assessment: a new one meets this review and opens the next.
        yield _deadline("risk_review", "P3.7", f"Review the risk to {person.complainant_id}",
                        due, p, subject=f"{person.complainant_id}@{latest.assessed_on}")


def action_plan(case: CaseFile, p: DeadlinePolicy) -> Iterator[Deadline]:
    """P4.7: each action-plan item by its agreed date."""
    for item in case.action_plan:
        if item.done_at is None:
            due = at_local(_working_day(item.due_on, p))
            remind = at_local(add_working_days(item.due_on, -p.action_plan_reminder_working_days),
                              START_OF_WORKING_DAY)
            yield _deadline("action_plan", "P4.7", item.description, due, p,
                            owner_role=item.owner_role, subject=item.item_id, remind_at=remind,
                            escalate_to=[Role.MANAGER, Role.POLICE_SPOC, Role.CPS_SPOC])


def _told(case: CaseFile, complainant_id: str, topic: str, since: datetime) -> bool:
    return any(n.complainant_id == complainant_id and n.topic == topic and n.at >= since
               for n in case.notices)


def charging_decision_told(case: CaseFile, p: DeadlinePolicy) -> Iterator[Deadline]:
    """P4.9: each complainant is told of a decision to charge or not to charge."""
    decision = case.latest_decision
    if decision is None or decision.kind is ChargingDecisionKind.FURTHER_INVESTIGATION:
        return
    due = working_days_after(decision.at, p.tell_complainant_working_days)
    for person in case.complainants:
        if not _told(case, person.complainant_id, "charging_decision", decision.at):
            yield _deadline("tell_charging_decision", "P4.9",
                            f"Tell {person.complainant_id} of the charging decision", due, p,
                            subject=person.complainant_id)


def threshold_evidence(case: CaseFile, p: DeadlinePolicy) -> Iterator[Deadline]:
    """P4.10: the further evidence a Threshold Test charge relies on, by its date."""
    evidence = case.threshold_evidence
    if evidence is not None and evidence.arrived_at is None:
        yield _deadline("threshold_evidence", "P4.10", f"Further evidence: {evidence.expected}",
                        at_local(_working_day(evidence.due_on, p)), p,
                        escalate_to=[Role.MANAGER, Role.PROSECUTOR, Role.POLICE_SPOC])


def breach_action(case: CaseFile, p: DeadlinePolicy) -> Iterator[Deadline]:
    """P4.13 and P9.5: expeditious action after a breach of bail, or on a breach case."""
    breaches = [i.at for i in case.incidents if i.kind == "bail_breach"]
    if any(link.relation == "breach of" for link in case.linked_cases):
        breaches.append(case.opened_at)
    if not breaches:
        return
    latest = max(breaches)
    if any(b.at >= latest for b in case.breach_actions):
        return
    rule = "P4.13" if any(i.kind == "bail_breach" and i.at == latest for i in case.incidents) \
        else "P9.5"
    yield _deadline("breach_action", rule,
                    "Take expeditious action on the breach; consider further offences, an "
                    "enlarged stalking charge and the Threshold Test",
                    latest + timedelta(hours=p.breach_action_hours), p,
                    subject=f"{latest:%Y-%m-%dT%H:%M:%S}",
                    escalate_to=[Role.MANAGER, Role.POLICE_SPOC, Role.PROSECUTOR],
                    remind_at=latest + timedelta(hours=p.breach_action_hours / 2))


def withdrawal_decision(case: CaseFile, p: DeadlinePolicy) -> Iterator[Deadline]:
    """P5.6: after a withdrawal, a decision on proceeding without the complainant's evidence."""
    if not case.withdrawals:
        return
    last = case.withdrawals[-1]
    decided = case.proceed_decision is not None and case.proceed_decision.at is not None \
        and case.proceed_decision.at >= last.at
    if not decided:
        yield _deadline("withdrawal_decision", "P5.6",
                        "Decide whether to proceed without the complainant's evidence",
                        working_days_after(last.at, p.withdrawal_decision_working_days), p,
                        owner_role=Role.PROSECUTOR, escalate_to=ESCALATE_CPS)


def safety_check(case: CaseFile, p: DeadlinePolicy) -> Iterator[Deadline]:
    """P5.8: a safety check is pending for a complainant who has withdrawn support."""
    for withdrawal in case.withdrawals:
        cid = withdrawal.complainant_id
        if not any(s.complainant_id == cid and s.at >= withdrawal.at for s in case.safety_checks):
            yield _deadline("safety_check", "P5.8",
                            f"Safety check for {cid}, children and dependents",
                            working_days_after(withdrawal.at, p.safety_check_working_days), p,
                            owner_role=Role.PROSECUTOR, subject=cid, escalate_to=ESCALATE_CPS)


def contact_details(case: CaseFile, p: DeadlinePolicy) -> Iterator[Deadline]:
    """P6.4: a named SPOC and a preferred means of contact for each complainant, early."""
    for person in case.complainants:
        # The named SPOC: the case team's police SPOC, or (as cases recorded before the team
        # existed did) one written into the contact details.
        named = person.contact.spoc or (p.team_spoc_is_named_spoc
                                        and Role.POLICE_SPOC in case.team)
        if not (named and person.contact.preferred_means):
            yield _deadline("contact_details", "P6.4",
                            f"Agree a SPOC and preferred means of contact with "
                            f"{person.complainant_id}",
                            working_days_after(case.opened_at, p.contact_details_working_days), p,
                            subject=person.complainant_id)


def addendum_vps(case: CaseFile, p: DeadlinePolicy) -> Iterator[Deadline]:
    """P6.8: an addendum VPS is offered after a guilty plea or conviction."""
    convicted = case.pleas_or_verdict_at if case.verdict is Verdict.CONVICTED else None
    if convicted is None:
        return
    for person in case.complainants:
        if not any(v.addendum for v in person.vps):
            yield _deadline("addendum_vps", "P6.8",
                            f"Offer {person.complainant_id} an addendum VPS",
                            working_days_after(convicted, p.addendum_vps_working_days), p,
                            owner_role=Role.WITNESS_CARE, subject=person.complainant_id)


def victims_right_to_review(case: CaseFile, p: DeadlinePolicy) -> Iterator[Deadline]:
    """P6.9: no further action, or proceedings ended, tells the complainant of the VRR."""
    if case.outcome not in (Outcome.NO_FURTHER_ACTION, Outcome.DISCONTINUED):
        return
    for person in case.complainants:
        if not _told(case, person.complainant_id, "victims_right_to_review", case.state_since):
            yield _deadline("victims_right_to_review", "P6.9",
                            f"Tell {person.complainant_id} of the Victims' Right to Review",
                            working_days_after(case.state_since, p.tell_complainant_working_days),
                            p, subject=person.complainant_id)


def reverify_before_hearing(case: CaseFile, p: DeadlinePolicy) -> Iterator[Deadline]:
    """P9.2: order details re-verified shortly before a hearing where an order may be sought,
    and again after any change of address."""
    if case.state not in (CaseState.PREPARATION, CaseState.PLEAS, CaseState.TRIAL):
        return
    if not any(c.order_views for c in case.complainants):
        return
    upcoming = [h for h in case.hearings if h.kind in ("trial", "sentence", "order", "plea")
                and case.order_application is None]
    for hearing in upcoming:
        window_start = hearing.on - timedelta(days=14)
        checked = case.details_reverified_at
        moved = any(c.address_changed_at and (checked is None or c.address_changed_at > checked)
                    for c in case.complainants)
        if checked is None or checked < window_start or moved:
            due = at_local(add_working_days(local_date(hearing.on),
                                            -p.reverify_before_hearing_working_days))
            yield _deadline("reverify_order_details", "P9.2",
                            "Re-verify addresses and prohibitions of the draft order", due, p,
                            subject=f"{hearing.kind}@{hearing.on:%Y-%m-%d}")


def order_conditions_told(case: CaseFile, p: DeadlinePolicy) -> Iterator[Deadline]:
    """P9.4: the protected person is told the conditions of each order promptly."""
    for order in case.orders:
        made = order.recorded_at or case.state_since
        if order.revoked_at is None and not _told(case, order.protected_person_id,
                                                  "order_conditions", made):
            yield _deadline("tell_order_conditions", "P9.4",
                            f"Tell {order.protected_person_id} the conditions of "
                            f"{order.order_id}",
                            working_days_after(made, p.tell_complainant_working_days), p,
                            subject=order.order_id)


def bail_expiry(case: CaseFile, p: DeadlinePolicy) -> Iterator[Deadline]:
    """PACE s.47ZB: pre-charge bail ends; extend it or decide before then."""
    bail = case.bail
    if bail is None or case.state not in (CaseState.INVESTIGATION, CaseState.REFERRAL,
                                          CaseState.CHARGING):
        return
    ends = bail.expires_on or add_months(bail.granted_on, p.bail_period_months)
    yield _deadline("bail_expiry", "PACE s.47ZB",
                    "Pre-charge bail ends: extend it (inspector, superintendent, court) or "
                    "decide", at_local(_working_day(ends, p)), p, subject=ends.isoformat(),
                    remind_at=at_local(add_working_days(ends, -p.bail_reminder_working_days),
                                       START_OF_WORKING_DAY))


def summary_time_limit(case: CaseFile, p: DeadlinePolicy) -> Iterator[Deadline]:
    """MCA 1980 s.127: summary-only s.2/s.2A must be charged within 6 months of the last act."""
    if case.last_act_on is None or case.state not in (CaseState.INVESTIGATION,
                                                      CaseState.REFERRAL, CaseState.CHARGING):
        return
    summary = [c.offence for c in case.candidate_offences
               if OFFENCES[c.offence].summary_only
               and (OFFENCES[c.offence].stalking or OFFENCES[c.offence].harassment)]
    if summary:
        limit = add_months(case.last_act_on, p.summary_time_limit_months)
        yield _deadline("summary_time_limit", "MCA 1980 s.127",
                        "Charge summary-only harassment/stalking before the six-month limit",
                        at_local(_working_day(limit, p)), p, owner_role=Role.PROSECUTOR,
                        remind_at=at_local(_working_day(
                            limit - timedelta(days=p.summary_time_limit_reminder_days), p),
                            START_OF_WORKING_DAY),
                        escalate_to=[Role.MANAGER, Role.POLICE_SPOC, Role.CPS_SPOC])


def hearing_reminders(case: CaseFile, p: DeadlinePolicy) -> Iterator[Deadline]:
    """Witness care tells each complainant of each hearing and checks their needs before it."""
    for hearing in case.hearings:
        listed = hearing.listed_at or case.opened_at
        for person in case.complainants:
            if hearing.on > listed and not _told(case, person.complainant_id, "hearing", listed):
                due = at_local(add_working_days(local_date(hearing.on), -1))
                remind = at_local(add_working_days(local_date(hearing.on),
                                                   -p.hearing_reminder_working_days),
                                  START_OF_WORKING_DAY)
                yield _deadline("hearing_reminder", "Victims' Code Right 7",
                                f"Prepare {person.complainant_id} for the {hearing.kind}", due, p,
                                owner_role=Role.WITNESS_CARE,
                                subject=f"{person.complainant_id}@{hearing.on:%Y-%m-%d}",
                                remind_at=min(remind, due),
                                escalate_to=[Role.MANAGER, Role.CPS_SPOC])


def stalking_protection_order_ends(case: CaseFile, p: DeadlinePolicy) -> Iterator[Deadline]:
    """SPA 2019 s.7: before a stalking protection order ends on its date, the officer decides
    whether to apply to renew or vary it, or to let it end (an order until further order has
    no such date; an interim order ends too, at the latest on its date)."""
    for order in case.stalking_protection_orders:
        if order.ends_on is None or not order.awaiting_review:
            continue
        decide_by = _working_day(order.ends_on - timedelta(days=p.spo_review_days_before_end), p)
        yield _deadline("spo_ends", "SPA 2019 s.7",
                        f"{order.order_id} ({order.order_type}) ends on "
                        f"{order.ends_on.isoformat()}: decide whether to apply to renew or vary "
                        "it, or let it end", at_local(decide_by), p,
                        subject=f"{order.order_id}@{order.ends_on.isoformat()}",
                        remind_at=at_local(add_working_days(
                            decide_by, -p.spo_review_reminder_working_days), START_OF_WORKING_DAY))


RULES: list[Callable[[CaseFile, DeadlinePolicy], Iterator[Deadline]]] = [
    risk_reviews, action_plan, charging_decision_told, threshold_evidence, breach_action,
    withdrawal_decision, safety_check, contact_details, addendum_vps, victims_right_to_review,
    reverify_before_hearing, order_conditions_told, bail_expiry, summary_time_limit,
    hearing_reminders, stalking_protection_order_ends,
]
# While a case is closed only the duty owed to the complainant afterwards stays open (a closed
# case has no order in force, so no conditions left to tell).
AFTER_CLOSE = {victims_right_to_review}


def open_deadlines(case: CaseFile) -> list[Deadline]:
    """Every open deadline of the case, soonest first."""
    rules = AFTER_CLOSE if case.state is CaseState.CLOSED else RULES
    found = [d for rule in rules for d in rule(case, case.policy)]
    return sorted(found, key=lambda d: (d.due_at, d.deadline_id))
