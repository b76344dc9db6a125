"""The protocol as a state machine: every state, every action, who may take it, where it
leads, and the guards (protocol rule ids) it must pass. Pure code: no Temporal, no I/O.

    investigation -> referral -> charging -> preparation -> pleas -> trial
        -> restraining_order -> closed(outcome)

Charging can send a case back to investigation; a police decision can charge straight from
investigation (except where P4.3 forbids it); an order follows conviction or acquittal (P9.1).
"""

from copy import deepcopy
from dataclasses import dataclass, field
from datetime import datetime

from models import actions as a
from models.case import TEAM_ROLES, Actor, CaseFile, HistoryEntry, TeamMember
from models.enums import CPS_ROLES, POLICE_ROLES, CaseState, Role
from workflows import guards as g
from workflows.effects import EFFECTS, SYSTEM_EFFECTS
from workflows.guards import Guard
from workflows.retention import keep_bounded

S = CaseState
OPEN = frozenset(s for s in S if s is not S.CLOSED)
PRE_CHARGE = frozenset({S.INVESTIGATION, S.REFERRAL, S.CHARGING})
COURT = frozenset({S.PREPARATION, S.PLEAS, S.TRIAL})
VERDICT_STAGE = frozenset({S.PLEAS, S.TRIAL})

POLICE = POLICE_ROLES
CPS = CPS_ROLES
PROSECUTOR = frozenset({Role.PROSECUTOR})
WCU = frozenset({Role.WITNESS_CARE})
MANAGER = frozenset({Role.MANAGER})


@dataclass(frozen=True)
class ActionSpec:
    """One row of the lifecycle: where an action is allowed, by whom, where it leads."""

    states: frozenset[CaseState]
    roles: frozenset[Role]
    leads_to: tuple[CaseState, ...] = ()
    guards: tuple[Guard, ...] = field(default=())
    rules: tuple[str, ...] = ()


LIFECYCLE: dict[str, ActionSpec] = {
    # people, risk and victim care: any open state
    "add_complainant": ActionSpec(OPEN - {S.RESTRAINING_ORDER}, POLICE,
                                  guards=(g.lifecycle_unique_person,)),
    "add_suspect": ActionSpec(PRE_CHARGE, POLICE, guards=(g.lifecycle_unique_person,),
                              rules=("P3.8",)),
    "record_risk_assessment": ActionSpec(OPEN, POLICE, guards=(g.p3_7_named_tool,),
                                         rules=("P3.7",)),
    "record_contact_details": ActionSpec(OPEN, POLICE | WCU, rules=("P6.4",)),
    "record_address_change": ActionSpec(OPEN, POLICE | WCU, rules=("P9.2",)),
    "record_altered_behaviour": ActionSpec(OPEN, POLICE, rules=("P3.9",)),
    "record_special_measures_views": ActionSpec(OPEN, POLICE | WCU, rules=("P6.5",)),
    "refer_to_support_service": ActionSpec(OPEN, POLICE | WCU,
                                           guards=(g.p6_1_support_needs_consent,),
                                           rules=("P6.1",)),
    "record_vps": ActionSpec(OPEN, POLICE | WCU, rules=("P6.7", "P6.8")),
    "record_order_views": ActionSpec(OPEN, POLICE, rules=("P5.2", "P9.2")),
    "record_complainant_informed": ActionSpec(OPEN | {S.CLOSED}, POLICE | WCU,
                                              rules=("P4.9", "P6.9", "P9.4")),
    "record_new_incident": ActionSpec(OPEN, POLICE, rules=("P3.7",)),
    "record_multi_agency_referral": ActionSpec(OPEN, POLICE, rules=("P3.7",)),
    # the case team (§6.4): a manager names anyone; a member hands their role to a colleague
    "assign_case_team_member": ActionSpec(OPEN, MANAGER | POLICE | CPS | WCU,
                                          guards=(g.team_assigned_by_manager_or_same_role,),
                                          rules=("P6.4",)),
    # investigation (§3)
    "record_evidence_item": ActionSpec(PRE_CHARGE | {S.PREPARATION}, POLICE | PROSECUTOR,
                                       rules=("P3.1",)),
    "record_suspect_account": ActionSpec(PRE_CHARGE, POLICE, rules=("P3.4",)),
    "add_candidate_offence": ActionSpec(PRE_CHARGE | {S.PREPARATION}, POLICE | PROSECUTOR,
                                        rules=("P3.5", "G.3")),
    "record_stalking_considered": ActionSpec(PRE_CHARGE, POLICE | PROSECUTOR, rules=("P3.10",)),
    "issue_pin": ActionSpec(frozenset({S.INVESTIGATION}), POLICE,
                            guards=(g.p3_11_no_pin_in_stalking,), rules=("P3.11",)),
    "record_bail": ActionSpec(PRE_CHARGE, POLICE, guards=(g.p4_11_bail_conditions_views,),
                              rules=("P4.11",)),
    "report_bail_breach": ActionSpec(PRE_CHARGE | {S.PREPARATION}, POLICE,
                                     guards=(g.p4_13_bail_recorded,), rules=("P4.13",)),
    # referral and charging (§4)
    "refer_to_cps": ActionSpec(frozenset({S.INVESTIGATION}), POLICE, (S.REFERRAL,),
                               guards=(g.p3_7_every_complainant_risk_assessed,
                                       g.p4_5_referral_contents), rules=("P4.5",)),
    "begin_charging_review": ActionSpec(frozenset({S.REFERRAL}), CPS, (S.CHARGING,)),
    "record_history_considered": ActionSpec(frozenset({S.REFERRAL, S.CHARGING}), CPS,
                                            rules=("P4.6",)),
    "make_charging_decision": ActionSpec(
        frozenset({S.INVESTIGATION, S.CHARGING}), POLICE | PROSECUTOR,
        (S.PREPARATION, S.INVESTIGATION, S.CLOSED),
        guards=(g.p4_3_who_may_decide, g.input_action_plan_on_working_days,
                g.p4_7_decision_with_reasons_and_plan,
                g.p3_7_every_complainant_risk_assessed, g.p3_7_high_risk_multi_agency,
                g.p3_10_stalking_considered, g.p4_2_stalking_is_the_starting_point,
                g.p4_8_postal_requisition, g.p4_10_threshold_test_evidence,
                g.g_1_totality_of_offending),
        rules=("P4.7", "G.2")),
    "complete_action_item": ActionSpec(OPEN, POLICE | CPS,
                                       guards=(g.lifecycle_known_action_item,), rules=("P4.7",)),
    "record_further_evidence": ActionSpec(OPEN, POLICE, rules=("P4.10",)),
    # case preparation (§5)
    "record_withdrawal": ActionSpec(PRE_CHARGE | COURT, POLICE,
                                    guards=(g.p5_3_withdrawal_statement, g.p5_4_officer_report),
                                    rules=("P5.3", "P5.4")),
    "record_proceed_decision": ActionSpec(PRE_CHARGE | COURT, PROSECUTOR, rules=("P5.6",)),
    "record_safety_check": ActionSpec(COURT, PROSECUTOR, rules=("P5.8",)),
    "apply_witness_summons": ActionSpec(COURT, PROSECUTOR,
                                        guards=(g.p5_7_summons_is_last_resort,
                                                g.p5_8_safety_check_first),
                                        rules=("P5.7", "P5.8")),
    "indicate_guilty_plea": ActionSpec(frozenset({S.PREPARATION}), POLICE | CPS,
                                       guards=(g.p5_2_guilty_plea_material,), rules=("P5.2",)),
    "list_hearing": ActionSpec(COURT | {S.RESTRAINING_ORDER}, CPS | WCU),
    "record_first_appearance": ActionSpec(frozenset({S.PREPARATION}), PROSECUTOR, (S.PLEAS,),
                                          guards=(g.p6_7_vps_before_first_hearing,),
                                          rules=("P6.7",)),
    # pleas and trial (§7, §8)
    "record_manager_authority": ActionSpec(VERDICT_STAGE, MANAGER, rules=("P7.3",)),
    "record_complainant_plea_views": ActionSpec(VERDICT_STAGE, PROSECUTOR,
                                                guards=(g.p7_3_authority_before_views,),
                                                rules=("P7.3",)),
    "accept_lesser_plea": ActionSpec(VERDICT_STAGE, PROSECUTOR,
                                     guards=(g.lifecycle_no_verdict_yet,
                                             g.p7_2_compelling_reasons,
                                             g.p7_3_authority_then_views),
                                     rules=("P7.2", "P7.3")),
    "enter_pleas": ActionSpec(frozenset({S.PLEAS}), PROSECUTOR, (S.TRIAL,),
                              guards=(g.lifecycle_no_verdict_yet,)),
    "record_advocate_introduction": ActionSpec(frozenset({S.TRIAL}), PROSECUTOR,
                                               rules=("P8.2",)),
    "record_verdict": ActionSpec(frozenset({S.TRIAL}), PROSECUTOR,
                                 guards=(g.lifecycle_no_verdict_yet,)),
    "record_sentence": ActionSpec(VERDICT_STAGE | {S.RESTRAINING_ORDER}, PROSECUTOR,
                                  guards=(g.lifecycle_convicted,
                                          g.lifecycle_sentence_refers_to_the_case)),
    "discontinue": ActionSpec(COURT, PROSECUTOR, (S.CLOSED,),
                              guards=(g.p7_3_only_when_offering_no_evidence,),
                              rules=("P6.9",)),
    # restraining orders and breaches (§9, G)
    "reverify_order_details": ActionSpec(COURT | {S.RESTRAINING_ORDER}, POLICE, rules=("P9.2",)),
    "apply_restraining_order": ActionSpec(VERDICT_STAGE, PROSECUTOR, (S.RESTRAINING_ORDER,),
                                          guards=(g.p9_1_on_conviction_or_acquittal,
                                                  g.p9_2_views_and_reverified_details),
                                          rules=("P9.1", "P9.2", "P9.3")),
    "make_restraining_order": ActionSpec(frozenset({S.RESTRAINING_ORDER}), PROSECUTOR,
                                         guards=(g.lifecycle_protected_people_known,),
                                         rules=("P9.4",)),
    "revoke_and_replace_order": ActionSpec(frozenset({S.RESTRAINING_ORDER}), PROSECUTOR,
                                           guards=(g.lifecycle_known_order,
                                                   g.lifecycle_protected_people_known),
                                           rules=("G.4",)),
    "report_order_breach": ActionSpec(frozenset({S.RESTRAINING_ORDER}), POLICE,
                                      guards=(g.lifecycle_known_order,), rules=("P9.5",)),
    "record_breach_action_taken": ActionSpec(OPEN, POLICE, rules=("P4.13", "P9.5")),
    "record_conduct": ActionSpec(OPEN, POLICE | PROSECUTOR, rules=("G.3",)),
    # stalking protection orders (Stalking Protection Act 2019): sought by the police, with or
    # without a prosecution, so in any open state; a breach is treated as an order breach is
    "apply_stalking_protection_order": ActionSpec(
        OPEN, POLICE, guards=(g.lifecycle_spo_protected_people_known,
                              g.spa_interim_with_the_main_application)),
    "make_stalking_protection_order": ActionSpec(
        OPEN, POLICE, guards=(g.lifecycle_known_spo_application,
                              g.spa_full_order_at_least_two_years)),
    "review_stalking_protection_order": ActionSpec(OPEN, POLICE, guards=(g.lifecycle_known_spo,)),
    "report_stalking_protection_order_breach": ActionSpec(OPEN, POLICE,
                                                          guards=(g.lifecycle_spo_in_force,),
                                                          rules=("P9.5",)),
    "close_case": ActionSpec(VERDICT_STAGE | {S.RESTRAINING_ORDER}, PROSECUTOR, (S.CLOSED,),
                             guards=(g.lifecycle_close_matches_facts,)),
}

assert set(LIFECYCLE) == set(a.ACTION_KINDS) == set(EFFECTS), "every action needs a row"


def check(case: CaseFile, request: a.ActionRequest, now: datetime) -> a.Refusal | None:
    """Decide whether the action may be taken, without changing anything.

    Order matters: whose case (NOT_FOUND) and who may act (ACCESS), then where (STATE), then
    the facts (INPUT and the protocol GUARDs, in the order the row lists them).
    """
    action, actor = request.action, request.actor
    spec = LIFECYCLE[action.kind]
    if actor.area not in (case.police_area, case.cps_area) or \
            request.reference not in (None, case.reference):
        # Another area's case, or a request naming another case: answered as if the case did
        # not exist (as reads are), for a refusal must not say it does.
        return a.Refusal(rule="NOT_FOUND", message=f"No case {case.reference}.")
    if actor.role not in spec.roles:
        allowed = ", ".join(sorted(r.value for r in spec.roles))
        return a.Refusal(rule="ACCESS", message=(
            f"'{action.kind}' is for {allowed}; a {actor.role.value} cannot take it."))
    if case.state not in spec.states:
        allowed = ", ".join(s.value for s in S if s in spec.states)
        return a.Refusal(rule="STATE", message=(
            f"'{action.kind}' is not allowed while the case is in {case.state.value} "
            f"(allowed in: {allowed})."))
    for guard in (g.input_refers_to_known_people, *spec.guards):
        refusal = guard(case, action, actor, now)
        if refusal is not None:
            return refusal
    return None


@dataclass(frozen=True)
class Applied:
    """An accepted action: the case after it, and its entry for the case's history."""

    case: CaseFile
    entry: HistoryEntry


# Actions whose input is personal data held in the case file itself: their history entry says
# what was done, never the details (names, addresses, contact details).
PERSONAL_INPUT = frozenset({"add_complainant", "add_suspect", "record_contact_details",
                            "record_address_change"})


def apply(case: CaseFile, request: a.ActionRequest, now: datetime,
          bounded: bool = True) -> Applied:
    """The case after the (already checked) action, and the action's history entry.

    `bounded` keeps the file to what the guards and deadlines read (workflows/retention.py);
    runs recorded before bounded runs existed keep every record, as they did.
    """
    after = deepcopy(case)
    kind = request.action.kind
    reasons, detail = recorded_text(request)  # before the effect: the file may clip its copy
    action = request.action.model_copy(deep=True)  # the file never shares the request's objects
    next_state, summary = EFFECTS[kind](after, action, request.actor, now)
    before_state = case.state
    if next_state is not None and next_state is not before_state:
        after.state = next_state
        after.state_since = now
    after.version += 1
    after.recorded[kind] = after.recorded.get(kind, 0) + 1
    if bounded:
        keep_bounded(after, now)
    entry = HistoryEntry(
        version=after.version, at=now, actor=request.actor, action=kind, summary=summary,
        reasons=reasons, detail=detail, request_id=request.request_id,
        state_before=before_state, state_after=after.state, rules=list(LIFECYCLE[kind].rules))
    return Applied(after, entry)


# The service's own actions: the rules each entry cites (an escalation cites its deadline's).
SYSTEM_RULES: dict[str, tuple[str, ...]] = {"link_cases": ("P3.8", "P4.6"),
                                            "escalate_deadline": ()}
assert set(SYSTEM_RULES) == set(SYSTEM_EFFECTS), "every action of the service needs a row"


def apply_system(case: CaseFile, action: a.SystemAction, actor: Actor, now: datetime,
                 bounded: bool = True) -> Applied | None:
    """The case after one of the service's own actions (linked cases found, a deadline
    escalated), and its history entry; None when it changes nothing worth an entry. Never
    checked: the service takes these when the protocol says it must (AUTO rules)."""
    after = deepcopy(case)
    summary = SYSTEM_EFFECTS[action.kind](after, action.model_copy(deep=True), actor, now)
    if summary is None:
        return None
    after.version += 1
    after.recorded[action.kind] = after.recorded.get(action.kind, 0) + 1
    if bounded:
        keep_bounded(after, now)
    rules = list(SYSTEM_RULES[action.kind] or (getattr(action, "rule", None),))
    entry = HistoryEntry(version=after.version, at=now, actor=actor, action=action.kind,
                         summary=summary, state_before=case.state, state_after=after.state,
                         rules=[r for r in rules if r])
    return Applied(after, entry)


def recorded_text(request: a.ActionRequest) -> tuple[str | None, str | None]:
    """The free text an action's history entry keeps: its reasons, and what it recorded.

    The workflow's answer leaves both out (the caller sent them); the API puts them back with
    this same function, so the entry it writes is the one the workflow made.
    """
    kind = request.action.kind
    reasons = request.reasons or getattr(request.action, "reasons", None)
    detail = None if kind in PERSONAL_INPUT else request.action.model_dump_json(exclude={"kind"})
    return (reasons if isinstance(reasons, str) else None), detail


def open_case(new_case: a.NewCase, now: datetime) -> Applied:
    """The case file as it stands the moment a case is created, and its first entry."""
    from models.case import CandidateOffence

    case = CaseFile(
        reference=new_case.reference, police_area=new_case.police_area,
        cps_area=new_case.cps_area, stalking=new_case.stalking,
        domestic_abuse=new_case.domestic_abuse, complex=new_case.complex,
        opened_at=now, state_since=now, suspects=list(new_case.suspects),
        complainants=list(new_case.complainants),
        candidate_offences=[CandidateOffence(offence=o) for o in new_case.offences], version=1,
        opened_with=new_case.fingerprint())
    if new_case.linked_from:
        from models.case import LinkedCase

        case.linked_cases.append(LinkedCase(reference=new_case.linked_from, relation="breach of",
                                            area=new_case.police_area))
    actor = new_case.opened_by or Actor(user_id="system", role=Role.ADMIN, area=new_case.police_area)
    if actor.role in TEAM_ROLES:  # the officer who reports the case is its first named member
        case.team[actor.role] = TeamMember(user_id=actor.user_id, assigned_at=now,
                                           assigned_by=actor.user_id, reason="opened the case")
    entry = HistoryEntry(
        version=1, at=now, actor=actor, action="open_case",
        summary="case opened" + (f" (breach of {new_case.linked_from})" if new_case.linked_from else ""),
        state_before=S.INVESTIGATION, state_after=S.INVESTIGATION)
    return Applied(case, entry)


def diagram() -> str:
    """The lifecycle as a Mermaid state diagram, drawn from the table above."""
    lines = ["stateDiagram-v2", "    [*] --> investigation"]
    edges: set[tuple[str, str, str]] = set()
    for kind, spec in LIFECYCLE.items():
        for source in spec.states:
            for target in spec.leads_to:
                if target is not source:
                    edges.add((source.value, target.value, kind))
    lines += [f"    {s} --> {t}: {k}" for s, t, k in sorted(edges)]
    lines.append("    closed --> [*]")
    return "\n".join(lines)
