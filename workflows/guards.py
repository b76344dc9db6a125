"""Every GUARD of protocol-rules.md as a pure function: the case, the action, the actor.

A guard returns None when the action may go ahead, or a Refusal naming the rule and saying,
in a sentence a case handler understands, what is missing. Guards never change the case.
"""

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from models import actions as a
from models.case import Actor, CaseFile, SpoApplication
from models.enums import (
    POLICE_ROLES,
    CaseState,
    ChargingDecisionKind,
    ChargingTest,
    RiskLevel,
    RiskTool,
    Role,
    SpoKind,
)
from models.offences import OFFENCES, Offence, is_harassment_only
from workflows.calendar import add_months, add_working_days, is_working_day, london_today

Guard = Callable[[CaseFile, Any, Actor, datetime], a.Refusal | None]

ORDER_BREACHES = frozenset({Offence.BREACH_OF_RESTRAINING_ORDER,
                            Offence.BREACH_OF_STALKING_PROTECTION_ORDER})

# P9.2 says details are checked "shortly before the hearing" without a number. Fourteen days
# is the protective reading: an address older than a fortnight is checked again.
REVERIFY_VALID_FOR = timedelta(days=14)


def _missing(fields: dict[str, str | None]) -> list[str]:
    return [name for name, value in fields.items() if not (value and value.strip())]


def _every_point(rule: str, points: BaseModel, must: str) -> a.Refusal | None:
    """Refused under the rule while any point of a statement (every field text) is blank:
    `must` says what it must cover, and the points missing follow."""
    missing = _missing(points.model_dump())
    if missing:
        return a.Refusal(rule=rule, message=f"{must}; missing: {', '.join(missing)}.")
    return None


def _protected_people_known(case: CaseFile, ids: Iterable[str]) -> a.Refusal | None:
    """INPUT: each person an order or an application would protect is a complainant of the
    case."""
    unknown = sorted({i for i in ids if case.complainant(i) is None})
    if unknown:
        return a.Refusal(rule="INPUT", message=f"Unknown protected person(s): {', '.join(unknown)}.")
    return None


def _spo_application(case: CaseFile, application_id: str) -> SpoApplication | None:
    return next((x for x in case.spo_applications if x.application_id == application_id), None)


def input_refers_to_known_people(case: CaseFile, action: Any, actor: Actor,
                                 now: datetime) -> a.Refusal | None:
    """INPUT: an action about a complainant names one the case holds."""
    cid = getattr(action, "complainant_id", None)
    if cid is not None and case.complainant(cid) is None:
        return a.Refusal(rule="INPUT", message=f"The case has no complainant '{cid}'.")
    return None


def _day(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y} ({day.isoformat()})"


def input_action_plan_on_working_days(case: CaseFile, action: a.MakeChargingDecision,
                                      actor: Actor, now: datetime) -> a.Refusal | None:
    """INPUT: each action-plan item is agreed for a working day, as every deadline counted in
    days falls on one (weekends and England and Wales bank holidays are not)."""
    for item in action.action_plan:
        if not is_working_day(item.due_on):
            return a.Refusal(rule="INPUT", message=(
                f"Action-plan item {item.item_id} is due on {_day(item.due_on)}, which is not a "
                "working day (a weekend or an England and Wales bank holiday): agree a working "
                f"day, such as the next one, {_day(add_working_days(item.due_on, 1))}."))
    return None


def p3_7_every_complainant_risk_assessed(case: CaseFile, action: Any, actor: Actor,
                                         now: datetime) -> a.Refusal | None:
    """P3.7: every complainant has a risk assessment before referral or a charging decision."""
    missing = [c.complainant_id for c in case.complainants if not c.risk_assessments]
    if missing:
        return a.Refusal(rule="P3.7", message=(
            "Every complainant needs a risk assessment (DASH, S-DASH/SASH or another named "
            f"tool) first; none is recorded for: {', '.join(missing)}."))
    return None


def p3_7_named_tool(case: CaseFile, action: a.RecordRiskAssessment, actor: Actor,
                    now: datetime) -> a.Refusal | None:
    """P3.7: an assessment with 'another tool' names the tool."""
    if action.assessment.tool is RiskTool.OTHER and not (action.assessment.tool_name or "").strip():
        return a.Refusal(rule="P3.7", message="Name the risk tool used when it is 'other'.")
    return None


def p3_7_high_risk_multi_agency(case: CaseFile, action: a.MakeChargingDecision, actor: Actor,
                                now: datetime) -> a.Refusal | None:
    """P3.7: a high-risk case records MARAC/MAPPA consideration before charging."""
    high = [c.complainant_id for c in case.complainants
            if (r := c.latest_risk()) is not None and r.level is RiskLevel.HIGH]
    if high and action.decision is ChargingDecisionKind.CHARGE and case.multi_agency is None:
        return a.Refusal(rule="P3.7", message=(
            f"The risk to {', '.join(high)} is high: record whether MARAC and/or MAPPA "
            "referral was considered, and the outcome, before charging."))
    return None


def p3_10_stalking_considered(case: CaseFile, action: a.MakeChargingDecision, actor: Actor,
                              now: datetime) -> a.Refusal | None:
    """P3.10: in a case treated as harassment, a harassment-only charge needs a recorded
    'stalking considered' decision. In a stalking case P4.2 governs it instead: s.2A/s.4A is
    the starting point and charging s.2/s.4 needs reasons."""
    if (not case.stalking and action.decision is ChargingDecisionKind.CHARGE
            and is_harassment_only(action.charges) and case.stalking_considered is None):
        return a.Refusal(rule="P3.10", message=(
            "Before a harassment-only charge, record whether this is in fact stalking, "
            "with reasons (record_stalking_considered)."))
    return None


def team_assigned_by_manager_or_same_role(case: CaseFile, action: a.AssignCaseTeamMember,
                                          actor: Actor, now: datetime) -> a.Refusal | None:
    """TEAM: a manager names anyone to the case team; a case handler hands over only the
    role they hold themselves (to a colleague, or taking it on). Every team role may take the
    action, so this is not the role check (ACCESS) but a rule about what it names."""
    if actor.role is Role.MANAGER:
        return None
    if actor.role.value != action.role.value:
        return a.Refusal(rule="TEAM", message=(
            f"Only a manager or a {action.role.value} may name the case's {action.role.value}; "
            f"a {actor.role.value} cannot."))
    holder = case.team.get(actor.role)
    if holder is not None and holder.user_id != actor.user_id:
        return a.Refusal(rule="TEAM", message=(
            f"The case's {action.role.value} is {holder.user_id}: they hand it over, or a "
            "manager does."))
    return None


def p3_11_no_pin_in_stalking(case: CaseFile, action: a.IssuePin, actor: Actor,
                             now: datetime) -> a.Refusal | None:
    """P3.11: Police Information Notices are not used in stalking cases."""
    if case.stalking:
        return a.Refusal(rule="P3.11",
                         message="A Police Information Notice cannot be used in a stalking case.")
    return None


def p4_2_stalking_is_the_starting_point(case: CaseFile, action: a.MakeChargingDecision,
                                        actor: Actor, now: datetime) -> a.Refusal | None:
    """P4.2: with stalking behaviour, charging s.2/s.4 instead of s.2A/s.4A needs reasons."""
    if (case.stalking and action.decision is ChargingDecisionKind.CHARGE
            and is_harassment_only(action.charges)
            and not (action.harassment_reasons or "").strip()):
        return a.Refusal(rule="P4.2", message=(
            "The conduct involves stalking behaviour, so s.2A or s.4A is the starting point: "
            "give the reasons for charging harassment instead (harassment_reasons)."))
    return None


def p4_3_who_may_decide(case: CaseFile, action: a.MakeChargingDecision, actor: Actor,
                        now: datetime) -> a.Refusal | None:
    """P4.3: the police decide only unreferred, non-domestic-abuse cases; the CPS decides on
    referral."""
    police = actor.role in POLICE_ROLES
    if police and case.domestic_abuse:
        return a.Refusal(rule="P4.3", message=(
            "A domestic-abuse case must be referred to the CPS for the charging decision; "
            "the police cannot decide it."))
    # A case the CPS sent back for further investigation stays referred: the police may not
    # then charge it themselves.
    if police and (case.state is not CaseState.INVESTIGATION or case.referral is not None):
        return a.Refusal(rule="P4.3", message=(
            "The case has been referred: the charging decision is the prosecutor's."))
    if not police and case.state is not CaseState.CHARGING:
        return a.Refusal(rule="P4.3", message=(
            "A prosecutor decides once the case is referred and under charging review."))
    return None


def p4_5_referral_contents(case: CaseFile, action: a.ReferToCps, actor: Actor,
                           now: datetime) -> a.Refusal | None:
    """P4.5: a referral carries statements, an MG2 where needed and the risk documentation."""
    missing = []
    if action.statements < 1:
        missing.append("the statements")
    if action.special_measures_may_be_needed and not action.mg2_included:
        missing.append("an MG2 (special measures may be needed)")
    if not action.risk_documentation:
        missing.append("the risk documentation")
    if missing:
        return a.Refusal(rule="P4.5",
                         message=f"A pre-charge referral must carry {' and '.join(missing)}.")
    return None


def p4_7_decision_with_reasons_and_plan(case: CaseFile, action: a.MakeChargingDecision,
                                        actor: Actor, now: datetime) -> a.Refusal | None:
    """P4.7: an MG3 records the decision, its reasons, and an action plan with agreed dates
    unless no further work is needed."""
    if not (action.reasons or "").strip():
        return a.Refusal(rule="P4.7", message="A charging decision must record its reasons.")
    if action.decision is ChargingDecisionKind.CHARGE and not action.charges:
        return a.Refusal(rule="P4.7", message="A decision to charge must name the charges.")
    needs_plan = action.decision is ChargingDecisionKind.FURTHER_INVESTIGATION or (
        action.decision is ChargingDecisionKind.CHARGE and not action.no_further_work)
    if needs_plan and not action.action_plan:
        return a.Refusal(rule="P4.7", message=(
            "Record an action plan with agreed dates, or state that no further work is "
            "needed (no_further_work)."))
    return None


def p4_8_postal_requisition(case: CaseFile, action: a.MakeChargingDecision, actor: Actor,
                            now: datetime) -> a.Refusal | None:
    """P4.8: no postal requisition in stalking; in harassment only with a justification."""
    if not action.postal_requisition:
        return None
    if case.stalking or any(OFFENCES[o].stalking for o in action.charges):
        return a.Refusal(rule="P4.8",
                         message="A postal requisition must not be used in a stalking case.")
    if not (action.postal_requisition_justification or "").strip():
        return a.Refusal(rule="P4.8", message=(
            "A postal requisition in a harassment case needs a recorded justification of its "
            "effect on the risk to the complainant."))
    return None


def p4_10_threshold_test_evidence(case: CaseFile, action: a.MakeChargingDecision, actor: Actor,
                                  now: datetime) -> a.Refusal | None:
    """P4.10: a Threshold Test charge records the further evidence expected and its date."""
    threshold_charge = (action.test is ChargingTest.THRESHOLD
                        and action.decision is ChargingDecisionKind.CHARGE)
    if threshold_charge and (not (action.further_evidence_expected or "").strip()
                             or not action.further_evidence_due_on):
            return a.Refusal(rule="P4.10", message=(
                "A Threshold Test charge must record the further evidence expected and the date "
                "it is due."))
    return None


def p4_11_bail_conditions_views(case: CaseFile, action: a.RecordBail, actor: Actor,
                                now: datetime) -> a.Refusal | None:
    """P4.11: pre-charge bail conditions record the complainant's views on them."""
    if not (action.bail.complainant_views or "").strip():
        return a.Refusal(rule="P4.11", message=(
            "Seek and record the complainant's views on the bail conditions."))
    return None


def p4_13_bail_recorded(case: CaseFile, action: a.ReportBailBreach, actor: Actor,
                        now: datetime) -> a.Refusal | None:
    """P4.13: a breach of bail needs bail to breach."""
    if case.bail is None:
        return a.Refusal(rule="P4.13", message="No pre-charge bail is recorded on this case.")
    return None


def p5_2_guilty_plea_material(case: CaseFile, action: a.IndicateGuiltyPlea, actor: Actor,
                              now: datetime) -> a.Refusal | None:
    """P5.2: on an indicated guilty plea the CPS has the risk assessment, the VPS and the
    complainant's views on restraining-order conditions."""
    gaps = []
    for c in case.complainants:
        if not c.risk_assessments:
            gaps.append(f"{c.complainant_id}: risk assessment")
        if not c.vps:
            gaps.append(f"{c.complainant_id}: VPS")
        if not c.order_views:
            gaps.append(f"{c.complainant_id}: views on restraining-order conditions")
    if gaps:
        return a.Refusal(rule="P5.2", message=(
            "A guilty plea is indicated: the CPS must first have " + "; ".join(gaps) + "."))
    return None


def p5_3_withdrawal_statement(case: CaseFile, action: a.RecordWithdrawal, actor: Actor,
                              now: datetime) -> a.Refusal | None:
    """P5.3: a withdrawal statement covers every §5.3 point."""
    return _every_point("P5.3", action.statement,
                        "The withdrawal statement must cover every §5.3 point")


def p5_4_officer_report(case: CaseFile, action: a.RecordWithdrawal, actor: Actor,
                        now: datetime) -> a.Refusal | None:
    """P5.4: the officer's report on a withdrawal covers every §5.4 point."""
    return _every_point("P5.4", action.officer_report,
                        "The officer's report must cover every §5.4 point")


def p5_7_summons_is_last_resort(case: CaseFile, action: a.ApplyWitnessSummons, actor: Actor,
                                now: datetime) -> a.Refusal | None:
    """P5.7: a witness summons needs the reason the case cannot go on without the complainant."""
    if not (action.last_resort_reason or "").strip():
        return a.Refusal(rule="P5.7", message=(
            "A witness summons is a last resort: record why the case cannot go on without "
            "the complainant's evidence."))
    return None


def p5_8_safety_check_first(case: CaseFile, action: a.ApplyWitnessSummons, actor: Actor,
                            now: datetime) -> a.Refusal | None:
    """P5.8: no witness summons until a safety check of complainant and dependents is
    recorded and found them safe."""
    checks = [s for s in case.safety_checks if s.complainant_id == action.complainant_id]
    if not checks:
        return a.Refusal(rule="P5.8", message=(
            "Record a safety check (complainant, children and dependents) before applying "
            "for a witness summons."))
    last = checks[-1]
    if not (last.complainant_safe and last.children_and_dependents_safe):
        return a.Refusal(rule="P5.8", message=(
            "The last safety check found a risk to the complainant or dependents: a witness "
            "summons cannot be applied for."))
    return None


def p6_1_support_needs_consent(case: CaseFile, action: a.ReferToSupportService, actor: Actor,
                               now: datetime) -> a.Refusal | None:
    """P6.1: no referral to a specialist service without the complainant's consent."""
    if not action.referral.consent:
        return a.Refusal(rule="P6.1", message=(
            "A complainant is never referred to a support service without their consent."))
    return None


def p6_7_vps_before_first_hearing(case: CaseFile, action: Any, actor: Actor,
                                  now: datetime) -> a.Refusal | None:
    """P6.7: before the first hearing, each complainant has a VPS (or a reason why not) and a
    preference on how it is presented."""
    gaps = []
    for c in case.complainants:
        ok = [v for v in c.vps if (v.taken_on or (v.not_taken_reason or "").strip())]
        if not ok:
            gaps.append(f"{c.complainant_id}: a VPS or the reason it was not taken")
        elif not any((v.presentation or "").strip() for v in ok):
            gaps.append(f"{c.complainant_id}: how the VPS is to be presented")
    if gaps:
        return a.Refusal(rule="P6.7", message=(
            "Before the first hearing record " + "; ".join(gaps) + "."))
    return None


def p7_2_compelling_reasons(case: CaseFile, action: a.AcceptLesserPlea, actor: Actor,
                            now: datetime) -> a.Refusal | None:
    """P7.2: with stalking charged, a plea to harassment needs compelling reasons on every
    §7.2 point."""
    stalking_charged = any(OFFENCES[o].stalking for o in case.charges)
    if stalking_charged and is_harassment_only(action.charges):
        return _every_point("P7.2", action.compelling_reasons, (
            "Stalking is charged: a plea to harassment is accepted only for compelling "
            "reasons covering every §7.2 point"))
    return None


def p7_3_authority_then_views(case: CaseFile, action: Any, actor: Actor,
                              now: datetime) -> a.Refusal | None:
    """P7.3: a lesser plea or no evidence offered needs a manager's authority and then the
    complainant's views."""
    auth = case.plea_authority
    if auth is None:
        return a.Refusal(rule="P7.3", message=(
            "Seek a manager's authority before the complainant is approached and the decision "
            "is made."))
    if auth.views_taken_at is None:
        return a.Refusal(rule="P7.3", message=(
            "Take the complainant's views on the decision before it is made."))
    return None


def p7_3_authority_before_views(case: CaseFile, action: a.RecordComplainantPleaViews,
                                actor: Actor, now: datetime) -> a.Refusal | None:
    """P7.3: the manager's authority comes before the complainant is approached."""
    if case.plea_authority is None:
        return a.Refusal(rule="P7.3", message=(
            "The manager's authority must be recorded before the complainant is approached "
            "for their views."))
    return None


def p7_3_only_when_offering_no_evidence(case: CaseFile, action: a.Discontinue, actor: Actor,
                                        now: datetime) -> a.Refusal | None:
    """P7.3: offering no evidence at court (pleas or trial) follows the same steps."""
    if case.state in (CaseState.PLEAS, CaseState.TRIAL):
        return p7_3_authority_then_views(case, action, actor, now)
    return None


def p9_1_on_conviction_or_acquittal(case: CaseFile, action: a.ApplyRestrainingOrder,
                                    actor: Actor, now: datetime) -> a.Refusal | None:
    """P9.1: an order is applied for on conviction or on acquittal."""
    if case.verdict is None:
        return a.Refusal(rule="P9.1", message=(
            "A restraining order is applied for on conviction or acquittal: record the "
            "verdict first."))
    return None


def p9_2_views_and_reverified_details(case: CaseFile, action: a.ApplyRestrainingOrder,
                                      actor: Actor, now: datetime) -> a.Refusal | None:
    """P9.2: the application carries each protected person's views and details re-verified
    shortly before the hearing, and after any change of address."""
    ids = {d.protected_person_id for d in action.draft}
    if (unknown := _protected_people_known(case, ids)) is not None:
        return unknown
    no_views = sorted(i for i in ids if not (case.complainant(i).order_views or "").strip())  # type: ignore[union-attr]
    if no_views:
        return a.Refusal(rule="P9.2", message=(
            "Record the complainant's views on the order for: " + ", ".join(no_views) + "."))
    checked = case.details_reverified_at
    if checked is None or now - checked > REVERIFY_VALID_FOR:
        return a.Refusal(rule="P9.2", message=(
            "Re-verify the addresses and prohibitions of the draft order (within 14 days "
            "before the application)."))
    moved = [c.complainant_id for c in case.complainants
             if c.address_changed_at is not None and c.address_changed_at > checked]
    if moved:
        return a.Refusal(rule="P9.2", message=(
            "An address changed after the last check (" + ", ".join(moved) + "): re-verify "
            "the draft order's details."))
    return None


def g_1_totality_of_offending(case: CaseFile, action: a.MakeChargingDecision, actor: Actor,
                              now: datetime) -> a.Refusal | None:
    """G.1: charging the breach alone while new offences are recorded needs reasons."""
    # A stalking protection order's breach is treated as a restraining order's is.
    breach_only = bool(action.charges) and all(o in ORDER_BREACHES for o in action.charges)
    new_offences = [c.offence for c in case.candidate_offences if c.offence not in ORDER_BREACHES]
    if (action.decision is ChargingDecisionKind.CHARGE and breach_only and new_offences
            and not (action.breach_only_reasons or "").strip()):
        return a.Refusal(rule="G.1", message=(
            "New offences are recorded on this breach case; to charge the breach alone, "
            "record why (breach_only_reasons) so the totality of the offending is addressed."))
    return None


# --- lifecycle consistency (not protocol rules, but the facts an action relies on) ---------
def lifecycle_close_matches_facts(case: CaseFile, action: a.CloseCase, actor: Actor,
                                  now: datetime) -> a.Refusal | None:
    """A case closes with the outcome its facts support, and never while an order is in force."""
    from models.enums import Outcome  # local: keeps the guard self-explanatory

    in_force = case.orders_in_force(london_today(now))
    if in_force:
        return a.Refusal(rule="LIFECYCLE", message=(
            f"{len(in_force)} restraining order(s) are in force: the case stays open until "
            "the last one expires or is revoked."))
    wanted = {Outcome.CONVICTED: "convicted", Outcome.ACQUITTED: "acquitted"}
    if action.outcome in wanted and (case.verdict is None or case.verdict.value != wanted[action.outcome]):
        return a.Refusal(rule="LIFECYCLE", message=(
            f"The outcome '{action.outcome}' needs the matching verdict recorded first."))
    if action.outcome is Outcome.ORDER_EXPIRED and not case.orders:
        return a.Refusal(rule="LIFECYCLE", message="No restraining order was made on this case.")
    if action.outcome in (Outcome.NO_FURTHER_ACTION, Outcome.DISCONTINUED):
        return a.Refusal(rule="LIFECYCLE", message=(
            "Use a charging decision (no further action) or 'discontinue' to end proceedings."))
    return None


def lifecycle_convicted(case: CaseFile, action: Any, actor: Actor,
                        now: datetime) -> a.Refusal | None:
    """A sentence follows a conviction."""
    from models.enums import Verdict

    if case.verdict is not Verdict.CONVICTED:
        return a.Refusal(rule="LIFECYCLE", message="A sentence needs a conviction recorded first.")
    return None


def lifecycle_sentence_refers_to_the_case(case: CaseFile, action: a.RecordSentence,
                                          actor: Actor, now: datetime) -> a.Refusal | None:
    """A sentence is passed for charges of the case; the orders it names are of this case, or
    of a case linked to it (the case a breach case breaches, say)."""
    uncharged = [c.offence.value for c in action.charges if c.offence not in case.charges]
    if uncharged:
        return a.Refusal(rule="INPUT", message=(
            f"Sentenced for {', '.join(uncharged)}, which the case does not charge (charges: "
            f"{', '.join(o.value for o in case.charges) or 'none'})."))
    own = {o.order_id for o in case.orders}
    linked = {link.reference for link in case.linked_cases}
    unknown = [order_id for order_id in [*action.orders, *action.orders_revoked]
               if order_id not in own and order_id.rsplit("-RO", 1)[0] not in linked]
    if unknown:
        return a.Refusal(rule="INPUT", message=(
            f"No restraining order {', '.join(unknown)} on this case or a case linked to it."))
    return None


def lifecycle_no_verdict_yet(case: CaseFile, action: Any, actor: Actor,
                             now: datetime) -> a.Refusal | None:
    """Pleas and verdicts are recorded once."""
    if case.verdict is not None:
        return a.Refusal(rule="LIFECYCLE", message=f"A verdict is already recorded: {case.verdict}.")
    return None


def lifecycle_known_order(case: CaseFile, action: Any, actor: Actor,
                          now: datetime) -> a.Refusal | None:
    """A breach or revocation names an order of this case that is in force."""
    order_id = getattr(action, "order_id", None) or getattr(action, "revoke_order_id", None)
    order = next((o for o in case.orders if o.order_id == order_id), None)
    if order is None:
        return a.Refusal(rule="INPUT", message=f"The case has no restraining order '{order_id}'.")
    if not order.in_force_on(london_today(now)):
        return a.Refusal(rule="LIFECYCLE", message=f"Order {order_id} is no longer in force.")
    return None


def lifecycle_protected_people_known(case: CaseFile, action: Any, actor: Actor,
                                     now: datetime) -> a.Refusal | None:
    """Each new order protects a complainant of the case."""
    specs = getattr(action, "orders", None) or getattr(action, "replacements", [])
    return _protected_people_known(case, (s.protected_person_id for s in specs))


def lifecycle_known_action_item(case: CaseFile, action: a.CompleteActionItem, actor: Actor,
                                now: datetime) -> a.Refusal | None:
    if not any(i.item_id == action.item_id for i in case.action_plan):
        return a.Refusal(rule="INPUT", message=f"No action-plan item '{action.item_id}'.")
    return None


def lifecycle_unique_person(case: CaseFile, action: Any, actor: Actor,
                            now: datetime) -> a.Refusal | None:
    """Complainant and suspect ids are unique within a case."""
    if isinstance(action, a.AddComplainant):
        if case.complainant(action.complainant.complainant_id) is not None:
            return a.Refusal(rule="INPUT", message="A complainant with that id already exists.")
    elif any(s.suspect_id == action.suspect.suspect_id for s in case.suspects):
        return a.Refusal(rule="INPUT", message="A suspect with that id already exists.")
    return None


# --- stalking protection orders (Stalking Protection Act 2019) ----------------------------
def lifecycle_spo_protected_people_known(case: CaseFile, action: a.ApplyStalkingProtectionOrder,
                                         actor: Actor, now: datetime) -> a.Refusal | None:
    """Each person an application would protect is a complainant of the case."""
    return _protected_people_known(case, action.protected_person_ids)


def spa_interim_with_the_main_application(case: CaseFile, action: a.ApplyStalkingProtectionOrder,
                                          actor: Actor, now: datetime) -> a.Refusal | None:
    """SPA 2019 s.5: an interim order is applied for with, or after, the application for a
    full order, while that is not yet determined."""
    if action.order_type is SpoKind.INTERIM and not any(
            app.order_type is SpoKind.FULL and app.determined_at is None
            for app in case.spo_applications):
        return a.Refusal(rule="SPA 2019 s.5", message=(
            "An interim stalking protection order is sought with, or after, the application for "
            "a full order, while that is undetermined: record the full application first."))
    return None


def lifecycle_known_spo_application(case: CaseFile, action: a.MakeStalkingProtectionOrder,
                                    actor: Actor, now: datetime) -> a.Refusal | None:
    """An order is made on an application of this case that is not yet determined."""
    app = _spo_application(case, action.application_id)
    if app is None:
        return a.Refusal(rule="INPUT", message=(
            f"The case has no stalking protection order application '{action.application_id}'."))
    if app.determined_at is not None:
        return a.Refusal(rule="LIFECYCLE", message=(
            f"Application {app.application_id} is determined already."))
    return None


def spa_full_order_at_least_two_years(case: CaseFile, action: a.MakeStalkingProtectionOrder,
                                      actor: Actor, now: datetime) -> a.Refusal | None:
    """SPA 2019 s.3: a full order has effect for a fixed period of at least two years,
    beginning with the day it is made, or until further order."""
    app = _spo_application(case, action.application_id)
    if app is None or app.order_type is not SpoKind.FULL or action.ends_on is None:
        return None
    earliest = add_months(action.made_on, 24) - timedelta(days=1)
    if action.ends_on < earliest:
        return a.Refusal(rule="SPA 2019 s.3", message=(
            f"A full stalking protection order lasts at least two years: made on "
            f"{action.made_on.isoformat()}, it ends on {earliest.isoformat()} at the earliest, "
            "or give no end (until further order)."))
    return None


def lifecycle_known_spo(case: CaseFile, action: Any, actor: Actor,
                        now: datetime) -> a.Refusal | None:
    """A review names a stalking protection order of this case."""
    if case.spo(action.order_id) is None:
        return a.Refusal(rule="INPUT", message=(
            f"The case has no stalking protection order '{action.order_id}'."))
    return None


def lifecycle_spo_in_force(case: CaseFile, action: a.ReportStalkingProtectionOrderBreach,
                           actor: Actor, now: datetime) -> a.Refusal | None:
    """A breach names a stalking protection order of this case that is in force."""
    refusal = lifecycle_known_spo(case, action, actor, now)
    if refusal is not None:
        return refusal
    order = case.spo(action.order_id)
    if order is not None and not order.in_force_on(london_today(now)):
        return a.Refusal(rule="LIFECYCLE", message=f"Order {action.order_id} is no longer in force.")
    return None
