"""What each accepted action changes in the case file.

Each effect receives a private copy of the case and mutates it; it returns the state the case
moves to (or None to stay) and a one-line summary for the history. Guards have already run.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from models import actions as a
from models.case import (
    ActionPlanItem,
    Actor,
    BreachAction,
    CandidateOffence,
    CaseFile,
    ChargingDecision,
    ChecklistItem,
    ComplainantNotice,
    Incident,
    LinkedCase,
    MultiAgencyReferral,
    OrderApplication,
    PleaAuthority,
    Reasoned,
    Referral,
    RestrainingOrder,
    SafetyCheck,
    Sentencing,
    SpoApplication,
    StalkingProtectionOrder,
    TeamMember,
    ThresholdEvidence,
    Withdrawal,
    WitnessSummons,
    orders_made,
    total_term_months,
)
from models.enums import (
    POLICE_ROLES,
    CaseState,
    ChargingDecisionKind,
    DecidedBy,
    Outcome,
    Role,
    SpoKind,
    Verdict,
)
from models.offences import OFFENCES, most_serious_first
from models.people import Complainant

Change = tuple[CaseState | None, str]  # the state to move to (None: stay) and a summary
Effect = Callable[[CaseFile, Any, Actor, datetime], Change]


def _complainant(case: CaseFile, action: Any) -> Complainant:
    found = case.complainant(action.complainant_id)
    assert found is not None  # guaranteed by the INPUT guard
    return found


def add_complainant(case: CaseFile, action: a.AddComplainant, actor: Actor, now: datetime) -> Change:
    case.complainants.append(action.complainant)
    return None, f"complainant {action.complainant.complainant_id} added"


def add_suspect(case: CaseFile, action: a.AddSuspect, actor: Actor, now: datetime) -> Change:
    case.suspects.append(action.suspect)
    return None, f"suspect {action.suspect.suspect_id} added"


def record_risk_assessment(
    case: CaseFile, action: a.RecordRiskAssessment, actor: Actor, now: datetime
) -> Change:
    _complainant(case, action).risk_assessments.append(
        action.assessment.model_copy(update={"recorded_at": now}))
    a_ = action.assessment
    return None, f"risk assessed for {action.complainant_id}: {a_.tool} {a_.level}"


def record_contact_details(
    case: CaseFile, action: a.RecordContactDetails, actor: Actor, now: datetime
) -> Change:
    _complainant(case, action).replace_contact(action.contact)
    return None, f"contact details recorded for {action.complainant_id}"


def record_address_change(
    case: CaseFile, action: a.RecordAddressChange, actor: Actor, now: datetime
) -> Change:
    person = _complainant(case, action)
    person.replace_contact(person.contact.model_copy(update={"address": action.address}))
    person.address_changed_at = now
    return None, f"address changed for {action.complainant_id}; order details to re-verify"


def record_altered_behaviour(
    case: CaseFile, action: a.RecordAlteredBehaviour, actor: Actor, now: datetime
) -> Change:
    _complainant(case, action).altered_behaviour = action.answer
    return None, f"altered behaviour recorded for {action.complainant_id}"


def record_special_measures_views(
    case: CaseFile, action: a.RecordSpecialMeasuresViews, actor: Actor, now: datetime
) -> Change:
    _complainant(case, action).special_measures = action.views
    return None, f"special measures views recorded for {action.complainant_id}"


def refer_to_support_service(
    case: CaseFile, action: a.ReferToSupportService, actor: Actor, now: datetime
) -> Change:
    _complainant(case, action).support_referrals.append(action.referral)
    return None, f"{action.complainant_id} referred, with consent, to {action.referral.service}"


def record_vps(case: CaseFile, action: a.RecordVps, actor: Actor, now: datetime) -> Change:
    _complainant(case, action).vps.append(action.vps)
    label = "addendum VPS" if action.vps.addendum else "VPS"
    return None, f"{label} recorded for {action.complainant_id}"


def record_order_views(case: CaseFile, action: a.RecordOrderViews, actor: Actor, now: datetime) -> Change:
    _complainant(case, action).order_views = action.views
    return None, f"views on a restraining order recorded for {action.complainant_id}"


def record_complainant_informed(
    case: CaseFile, action: a.RecordComplainantInformed, actor: Actor, now: datetime
) -> Change:
    case.notices.append(
        ComplainantNotice(
            complainant_id=action.complainant_id,
            topic=action.topic,
            at=now,
            means=action.means,
            shared_with=action.shared_with,
        )
    )
    return None, f"{action.complainant_id} told of {action.topic.replace('_', ' ')}"


def record_evidence_item(case: CaseFile, action: a.RecordEvidenceItem, actor: Actor, now: datetime) -> Change:
    case.evidence_checklist[action.item] = ChecklistItem(note=action.note, at=now)
    return None, f"evidence checklist: {action.item} done"


def record_suspect_account(
    case: CaseFile, action: a.RecordSuspectAccount, actor: Actor, now: datetime
) -> Change:
    case.suspect_account.update(action.answers)
    return None, f"suspect's account: {len(action.answers)} point(s) explored"


def add_candidate_offence(
    case: CaseFile, action: a.AddCandidateOffence, actor: Actor, now: datetime
) -> Change:
    case.candidate_offences.append(
        CandidateOffence(offence=action.offence, note=action.note, online=action.online)
    )
    if action.last_act_on and (case.last_act_on is None or action.last_act_on > case.last_act_on):
        case.last_act_on = action.last_act_on
    return None, f"candidate offence: {OFFENCES[action.offence].title}"


def record_stalking_considered(
    case: CaseFile, action: a.RecordStalkingConsidered, actor: Actor, now: datetime
) -> Change:
    case.stalking_considered = Reasoned(decision=action.decision, reasons=action.reasons)
    return None, f"stalking considered: {action.decision}"


def record_multi_agency_referral(
    case: CaseFile, action: a.RecordMultiAgencyReferral, actor: Actor, now: datetime
) -> Change:
    case.multi_agency = MultiAgencyReferral(
        marac_considered=action.marac_considered,
        mappa_considered=action.mappa_considered,
        outcome=action.outcome,
    )
    return None, "MARAC/MAPPA referral considered"


def assign_case_team_member(
    case: CaseFile, action: a.AssignCaseTeamMember, actor: Actor, now: datetime
) -> Change:
    role = Role(action.role.value)
    before = case.team.get(role)
    case.team[role] = TeamMember(user_id=action.user_id, assigned_at=now,
                                 assigned_by=actor.user_id, reason=action.reason)
    if before is None:
        return None, f"{role.value} named: {action.user_id}"
    return None, f"{role.value} handed from {before.user_id} to {action.user_id}"


def issue_pin(case: CaseFile, action: a.IssuePin, actor: Actor, now: datetime) -> Change:
    case.pin_issued = True
    return None, "Police Information Notice issued"


def record_bail(case: CaseFile, action: a.RecordBail, actor: Actor, now: datetime) -> Change:
    case.bail = action.bail
    return None, f"pre-charge bail with {len(action.bail.conditions)} condition(s)"


def report_bail_breach(case: CaseFile, action: a.ReportBailBreach, actor: Actor, now: datetime) -> Change:
    case.incidents.append(Incident(at=now, description=action.description, kind="bail_breach"))
    for offence in action.further_offences:  # the enlarged charge is for the prosecutor
        case.candidate_offences.append(CandidateOffence(offence=offence, note="bail breach"))
    return None, "breach of bail before first appearance reported"


def record_new_incident(case: CaseFile, action: a.RecordNewIncident, actor: Actor, now: datetime) -> Change:
    case.incidents.append(Incident(at=now, description=action.description))
    return None, "new incident recorded; risk review due"


def refer_to_cps(case: CaseFile, action: a.ReferToCps, actor: Actor, now: datetime) -> Change:
    case.referral = Referral(
        referred_at=now,
        statements=action.statements,
        mg2_included=action.mg2_included,
        risk_documentation=action.risk_documentation,
        early_advice=action.early_advice,
    )
    return CaseState.REFERRAL, "referred to the CPS for a charging decision"


def begin_charging_review(case: CaseFile, action: Any, actor: Actor, now: datetime) -> Change:
    return CaseState.CHARGING, "charging review begun"


def record_history_considered(
    case: CaseFile, action: a.RecordHistoryConsidered, actor: Actor, now: datetime
) -> Change:
    case.history_considered = action.history
    return None, "history considered (convictions, intelligence, breaches, other areas)"


def make_charging_decision(
    case: CaseFile, action: a.MakeChargingDecision, actor: Actor, now: datetime
) -> Change:
    by = DecidedBy.POLICE if actor.role in POLICE_ROLES else DecidedBy.CPS
    charges = most_serious_first(action.charges)  # G.2
    case.decisions.append(
        ChargingDecision(
            at=now,
            decided_by=by,
            kind=action.decision,
            test=action.test,
            charges=charges,
            reasons=action.reasons or "",
            harassment_reasons=action.harassment_reasons,
            breach_only_reasons=action.breach_only_reasons,
            postal_requisition=action.postal_requisition,
            postal_requisition_justification=action.postal_requisition_justification,
        )
    )
    for item in action.action_plan:
        case.action_plan.append(
            ActionPlanItem(item_id=item.item_id, description=item.description, due_on=item.due_on)
        )
    if action.further_evidence_expected and action.further_evidence_due_on:
        case.threshold_evidence = ThresholdEvidence(
            expected=action.further_evidence_expected, due_on=action.further_evidence_due_on
        )
    if action.decision is ChargingDecisionKind.CHARGE:
        case.charges = charges
        titles = ", ".join(OFFENCES[o].title for o in charges)
        return CaseState.PREPARATION, f"charged ({by}): {titles}"
    if action.decision is ChargingDecisionKind.NO_FURTHER_ACTION:
        case.outcome = Outcome.NO_FURTHER_ACTION
        return CaseState.CLOSED, f"no further action ({by})"
    return CaseState.INVESTIGATION, "further investigation under the action plan"


def complete_action_item(case: CaseFile, action: a.CompleteActionItem, actor: Actor, now: datetime) -> Change:
    for item in case.action_plan:
        if item.item_id == action.item_id:
            item.done_at = now
    return None, f"action-plan item {action.item_id} done"


def record_further_evidence(
    case: CaseFile, action: a.RecordFurtherEvidence, actor: Actor, now: datetime
) -> Change:
    if case.threshold_evidence is not None:
        case.threshold_evidence.arrived_at = now
    return None, "further evidence for the Full Code Test arrived"


def record_withdrawal(case: CaseFile, action: a.RecordWithdrawal, actor: Actor, now: datetime) -> Change:
    case.withdrawals.append(
        Withdrawal(
            complainant_id=action.complainant_id,
            at=now,
            statement={k: v or "" for k, v in action.statement.model_dump().items()},
            officer_report={k: v or "" for k, v in action.officer_report.model_dump().items()},
            complaint_true=action.complaint_true,
        )
    )
    return None, f"{action.complainant_id} withdrew support; decision on proceeding due"


def record_proceed_decision(
    case: CaseFile, action: a.RecordProceedDecision, actor: Actor, now: datetime
) -> Change:
    case.proceed_decision = Reasoned(decision=action.decision, reasons=action.reasons, at=now)
    return None, f"decision after withdrawal: {action.decision}"


def record_safety_check(case: CaseFile, action: a.RecordSafetyCheck, actor: Actor, now: datetime) -> Change:
    case.safety_checks.append(
        SafetyCheck(
            complainant_id=action.complainant_id,
            at=now,
            complainant_safe=action.complainant_safe,
            children_and_dependents_safe=action.children_and_dependents_safe,
            sources=action.sources,
        )
    )
    return None, f"safety check recorded for {action.complainant_id}"


def apply_witness_summons(
    case: CaseFile, action: a.ApplyWitnessSummons, actor: Actor, now: datetime
) -> Change:
    case.witness_summonses.append(
        WitnessSummons(complainant_id=action.complainant_id, at=now, reason=action.last_resort_reason or "")
    )
    return None, f"witness summons applied for ({action.complainant_id})"


def indicate_guilty_plea(case: CaseFile, action: Any, actor: Actor, now: datetime) -> Change:
    case.guilty_plea_indicated = True
    return None, "guilty plea indicated"


def list_hearing(case: CaseFile, action: a.ListHearing, actor: Actor, now: datetime) -> Change:
    case.hearings.append(action.hearing.model_copy(update={"listed_at": now}))
    return None, f"{action.hearing.kind.replace('_', ' ')} listed for {action.hearing.on:%Y-%m-%d}"


def record_first_appearance(
    case: CaseFile, action: a.RecordFirstAppearance, actor: Actor, now: datetime
) -> Change:
    return CaseState.PLEAS, "first appearance at court"


def record_manager_authority(
    case: CaseFile, action: a.RecordManagerAuthority, actor: Actor, now: datetime
) -> Change:
    case.plea_authority = PleaAuthority(authorised_by=actor.user_id, authorised_at=now)
    return None, "manager's authority recorded"


def record_complainant_plea_views(
    case: CaseFile, action: a.RecordComplainantPleaViews, actor: Actor, now: datetime
) -> Change:
    assert case.plea_authority is not None
    case.plea_authority.complainant_views = action.views
    case.plea_authority.views_taken_at = now
    return None, "complainant's views on the plea taken"


def _pleas_or_verdict(case: CaseFile, now: datetime) -> None:
    if case.pleas_or_verdict_at is None:
        case.pleas_or_verdict_at = now


def accept_lesser_plea(case: CaseFile, action: a.AcceptLesserPlea, actor: Actor, now: datetime) -> Change:
    _pleas_or_verdict(case, now)
    case.charges = most_serious_first(action.charges)
    case.lesser_plea_accepted = Reasoned(
        decision="plea to " + ", ".join(OFFENCES[o].title for o in case.charges),
        reasons="; ".join(f"{k}: {v}" for k, v in action.compelling_reasons.model_dump().items() if v),
    )
    case.verdict = Verdict.CONVICTED
    return None, "lesser plea accepted: " + case.lesser_plea_accepted.decision


def enter_pleas(case: CaseFile, action: a.EnterPleas, actor: Actor, now: datetime) -> Change:
    _pleas_or_verdict(case, now)
    if action.guilty:
        case.verdict = Verdict.CONVICTED
        return None, "guilty pleas entered"
    return CaseState.TRIAL, "not guilty pleas entered; to trial"


def record_advocate_introduction(case: CaseFile, action: Any, actor: Actor, now: datetime) -> Change:
    case.advocate_introduced_at = now
    return None, "prosecuting advocate introduced to the complainant"


def record_verdict(case: CaseFile, action: a.RecordVerdict, actor: Actor, now: datetime) -> Change:
    _pleas_or_verdict(case, now)
    case.verdict = action.verdict
    return None, f"verdict: {action.verdict}"


def record_sentence(case: CaseFile, action: a.RecordSentence, actor: Actor, now: datetime) -> Change:
    total = total_term_months(action.charges)
    case.sentencing = Sentencing(
        recorded_at=now, sentenced_on=action.sentenced_on, charges=action.charges,
        total_custodial_months=total, orders=action.orders,
        orders_revoked=action.orders_revoked, summary=action.sentence)
    case.sentence = action.sentence or "; ".join(c.describe() for c in action.charges)
    in_custody = f" ({total:g} months in custody in total)" if total is not None else ""
    return None, f"sentence: {case.sentence}{in_custody}"


def discontinue(case: CaseFile, action: a.Discontinue, actor: Actor, now: datetime) -> Change:
    case.outcome = Outcome.DISCONTINUED
    return CaseState.CLOSED, "proceedings discontinued"


def reverify_order_details(
    case: CaseFile, action: a.ReverifyOrderDetails, actor: Actor, now: datetime
) -> Change:
    case.details_reverified_at = now
    return None, "draft order details re-verified"


def apply_restraining_order(
    case: CaseFile, action: a.ApplyRestrainingOrder, actor: Actor, now: datetime
) -> Change:
    assert case.verdict is not None
    case.order_application = OrderApplication(
        on_verdict=case.verdict,
        applied_at=now,
        form=action.form,
        mg5_served=action.mg5_served,
        draft=action.draft,
    )
    return CaseState.RESTRAINING_ORDER, f"restraining order applied for on {case.verdict}"


def _new_order(
    case: CaseFile, spec: a.NewOrder, now: datetime, replaces: str | None = None
) -> RestrainingOrder:
    # Numbered by every order the case has made: the file keeps only the latest ended ones.
    number = orders_made(case) + 1
    case.recorded["orders_made"] = number
    return RestrainingOrder(
        order_id=f"{case.reference}-RO{number}",
        protected_person_id=spec.protected_person_id,
        conditions=spec.conditions,
        made_on=spec.made_on,
        expires_on=spec.expires_on,
        replaces=replaces,
    )


def make_restraining_order(
    case: CaseFile, action: a.MakeRestrainingOrder, actor: Actor, now: datetime
) -> Change:
    for spec in action.orders:
        case.orders.append(_new_order(case, spec, now))
    return None, f"{len(action.orders)} restraining order(s) made"


def revoke_and_replace_order(
    case: CaseFile, action: a.RevokeAndReplaceOrder, actor: Actor, now: datetime
) -> Change:
    for order in case.orders:
        if order.order_id == action.revoke_order_id:
            order.revoked_at = now
    for spec in action.replacements:
        case.orders.append(_new_order(case, spec, now, replaces=action.revoke_order_id))
    return None, f"order {action.revoke_order_id} revoked; {len(action.replacements)} new"


def report_order_breach(case: CaseFile, action: a.OrderBreachReport, actor: Actor,
                        now: datetime) -> Change:
    case.incidents.append(Incident(at=now, description=action.description, kind="order_breach"))
    case.linked_cases.append(
        LinkedCase(reference=action.breach_reference, relation="breach case", area=case.police_area)
    )
    return None, f"breach of {action.order_id} reported; linked case {action.breach_reference}"


# A stalking protection order's breach is treated as a restraining order's: the same record,
# and the workflow opens the linked breach case for either (CaseWorkflow._after_action).
report_stalking_protection_order_breach = report_order_breach


def apply_stalking_protection_order(
    case: CaseFile, action: a.ApplyStalkingProtectionOrder, actor: Actor, now: datetime
) -> Change:
    # Numbered by every application the case has made: the file keeps only the latest ones.
    number = max(case.recorded.get(action.kind, 0), len(case.spo_applications)) + 1
    application_id = f"{case.reference}-SPOA{number}"
    case.spo_applications.append(SpoApplication(
        application_id=application_id, order_type=action.order_type,
        applied_on=action.applied_on, court=action.court,
        protected_person_ids=action.protected_person_ids, prohibitions=action.prohibitions,
        requirements=action.requirements, recorded_at=now))
    return None, (f"{action.order_type} stalking protection order applied for "
                  f"({application_id}, {action.applied_on.isoformat()})")


def make_stalking_protection_order(
    case: CaseFile, action: a.MakeStalkingProtectionOrder, actor: Actor, now: datetime
) -> Change:
    app = next(x for x in case.spo_applications if x.application_id == action.application_id)
    app.determined_at = now
    if app.order_type is SpoKind.FULL:
        # SPA 2019 s.5: an interim order ends when the application for the full one is
        # determined, and an interim application still pending falls with it.
        for interim in case.stalking_protection_orders:
            if interim.order_type is SpoKind.INTERIM and interim.ended_at is None:
                interim.ended_at = now
        for pending in case.spo_applications:
            if pending.order_type is SpoKind.INTERIM and pending.determined_at is None:
                pending.determined_at = now
    number = max(case.recorded.get(action.kind, 0), len(case.stalking_protection_orders)) + 1
    order_id = f"{case.reference}-SPO{number}"
    case.stalking_protection_orders.append(StalkingProtectionOrder(
        order_id=order_id, order_type=app.order_type, application_id=app.application_id,
        protected_person_ids=app.protected_person_ids, prohibitions=action.prohibitions,
        requirements=action.requirements, made_on=action.made_on, ends_on=action.ends_on,
        recorded_at=now))
    ends = f"until {action.ends_on.isoformat()}" if action.ends_on else "until further order"
    return None, f"{app.order_type} stalking protection order {order_id} made, {ends}"


def review_stalking_protection_order(
    case: CaseFile, action: a.ReviewStalkingProtectionOrder, actor: Actor, now: datetime
) -> Change:
    order = case.spo(action.order_id)
    assert order is not None  # guaranteed by its guard
    order.review, order.reviewed_for, order.reviewed_at = action.decision, order.ends_on, now
    if action.renewed_until is not None:
        order.ends_on = action.renewed_until
        return None, (f"{action.order_id} renewed until {action.renewed_until.isoformat()}: "
                      f"{action.decision}")
    return None, f"{action.order_id} before its end: {action.decision}"


def record_breach_action_taken(
    case: CaseFile, action: a.RecordBreachActionTaken, actor: Actor, now: datetime
) -> Change:
    case.breach_actions.append(BreachAction(
        at=now, action_taken=action.action_taken,
        further_offences_considered=action.further_offences_considered,
        threshold_test_considered=action.threshold_test_considered))
    return None, f"action on the breach: {action.action_taken}"


def record_conduct(case: CaseFile, action: a.RecordConduct, actor: Actor, now: datetime) -> Change:
    case.conduct.append(action.conduct)
    where = "online" if action.conduct.online else "in person"
    return None, f"conduct {action.conduct.when} the breach recorded ({where})"


def close_case(case: CaseFile, action: a.CloseCase, actor: Actor, now: datetime) -> Change:
    case.outcome = action.outcome
    return CaseState.CLOSED, f"closed: {action.outcome.replace('_', ' ')}"


# --- the service's own actions (models.actions.SystemAction) -------------------------------
# A match this sure means the suspect is very likely in other cases too (P3.8).
REPEAT_PERPETRATOR_CONFIDENCE = 0.9


def link_cases(case: CaseFile, action: a.LinkCases, actor: Actor, now: datetime) -> str | None:
    """Add the cases found for the suspect, refresh those known; None when nothing changed
    that the case's history should record."""
    known = {link.reference: link for link in case.linked_cases}
    found = []
    for m in action.matches:
        link = LinkedCase(
            reference=m.reference, relation="possible same suspect", area=m.police_area,
            confidence=m.confidence, reasons=m.reasons,
            history=f"{m.state}{f' ({m.outcome})' if m.outcome else ''}; charges: "
                    f"{', '.join(m.charges) or 'none'}; orders made: {m.orders_made}; "
                    f"breaches: {m.breaches}")
        if m.reference not in known:
            case.linked_cases.append(link)
            found.append(m)
        elif known[m.reference].relation == "possible same suspect":
            known[m.reference].confidence = link.confidence
            known[m.reference].history = link.history
    repeat = any(m.confidence >= REPEAT_PERPETRATOR_CONFIDENCE for m in action.matches)
    if not found and repeat == case.repeat_perpetrator:
        return None
    case.repeat_perpetrator = repeat
    other_areas = sum(1 for m in found if m.police_area != case.police_area)
    # A breach case is opened linked to the case it breaches (lifecycle.open_case): that link
    # is the suspect's too, and counts, though the search finds nothing new in it.
    breached = [link.reference for link in case.linked_cases if link.relation == "breach of"]
    opened_as = f"; opened as a breach of {', '.join(breached)}" if breached else ""
    return (f"{len(found) + len(breached)} linked case(s) found for the suspect"
            f"{f', {other_areas} in other areas' if other_areas else ''}{opened_as}"
            f"{'; repeat perpetrator' if repeat else ''}")


def escalate_deadline(case: CaseFile, action: a.EscalateDeadline, actor: Actor,
                      now: datetime) -> str | None:
    """The escalation is the workflow's (its marks say so); the history records it."""
    return (f"overdue, escalated to {', '.join(r.value for r in action.escalate_to)}: "
            f"{action.description}")


SystemEffect = Callable[[CaseFile, Any, Actor, datetime], str | None]
SYSTEM_EFFECTS: dict[str, SystemEffect] = {"link_cases": link_cases,
                                           "escalate_deadline": escalate_deadline}


EFFECTS: dict[str, Effect] = {
    name: fn
    for name, fn in globals().items()
    if callable(fn) and not name.startswith("_") and name in a.ACTION_KINDS
}
