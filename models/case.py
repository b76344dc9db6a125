"""The case file: everything the workflow knows about one case, and what it records."""

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator

from models.deadlines import Deadline, DeadlineMarks, DeadlinePolicy
from models.enums import (
    CaseState,
    ChargingDecisionKind,
    ChargingTest,
    DecidedBy,
    Form,
    Outcome,
    RiskLevel,
    Role,
    SentenceKind,
    SpoKind,
    TeamRole,
    Verdict,
)
from models.offences import OFFENCES, Offence
from models.people import Complainant, Suspect

REFERENCE_PATTERN = r"^[A-Z0-9][A-Z0-9-]{2,39}$"
AREA_PATTERN = r"^[a-z0-9][a-z0-9-]{1,39}$"


class Actor(BaseModel):
    """Who performs an action: the authenticated user, their role and their area."""

    user_id: str = Field(min_length=1, max_length=100)
    role: Role
    area: str = Field(pattern=AREA_PATTERN)


# The case team (§6.4 and the SPOC network): the roles a case names a person for. The police
# SPOC is the complainant's named SPOC, shared with the CPS and the Witness Care Unit.
TEAM_ROLES = tuple(Role(r.value) for r in TeamRole)


class TeamMember(BaseModel):
    """The person a case names for one role: who assigned them, when and why."""

    user_id: str = Field(min_length=1, max_length=100)
    assigned_at: datetime
    assigned_by: str = Field(min_length=1, max_length=100)
    reason: str | None = Field(default=None, max_length=2000)


class Reasoned(BaseModel):
    """A decision with its reasons (RECORD rules)."""

    decision: str = Field(min_length=1, max_length=2000)
    reasons: str = Field(min_length=1, max_length=5000)
    at: datetime | None = Field(default=None, description="When it was recorded.")


class CandidateOffence(BaseModel):
    """§3.5 / G.3: other offending in the course of conduct, online or in person."""

    offence: Offence
    note: str = ""
    online: bool = False


class ChecklistItem(BaseModel):
    done: bool = True
    note: str = ""
    at: datetime | None = None


class MultiAgencyReferral(BaseModel):
    """§3.7: whether MARAC and/or MAPPA referral was considered, and the outcome."""

    marac_considered: bool
    mappa_considered: bool
    outcome: str = Field(min_length=1)


class Bail(BaseModel):
    """§4.11: pre-charge conditional bail under PACE s.47."""

    granted_on: date
    conditions: list[str] = Field(min_length=1)
    complainant_views: str | None = None
    expires_on: date | None = None
    extended_by: str | None = Field(default=None, description="inspector, superintendent or court")


class Incident(BaseModel):
    """A new incident, breach or change of circumstances: it makes a risk review due (§3.7)."""

    at: datetime
    description: str
    kind: str = "incident"


class Referral(BaseModel):
    """§4.5: what accompanies a pre-charge referral."""

    referred_at: datetime
    statements: int
    mg2_included: bool
    risk_documentation: bool
    early_advice: bool = False


class HistoryConsidered(BaseModel):
    """§4.6: the history a prosecutor considered before charging."""

    previous_convictions: str
    intelligence: str
    order_breaches: str
    bad_character: str
    other_force_areas: str


class ActionPlanItem(BaseModel):
    """§4.7: an action agreed between CPS and police, with its agreed date."""

    item_id: str = Field(min_length=1, max_length=64)
    description: str = Field(min_length=1)
    owner_role: Role = Role.OFFICER_IN_CASE
    due_on: date
    done_at: datetime | None = None


class ChargingDecision(BaseModel):
    """§4.7: an MG3 (or police decision) with its reasons."""

    at: datetime
    decided_by: DecidedBy
    kind: ChargingDecisionKind
    test: ChargingTest = ChargingTest.FULL_CODE
    charges: list[Offence] = Field(default_factory=list)
    reasons: str
    harassment_reasons: str | None = None
    breach_only_reasons: str | None = None
    postal_requisition: bool = False
    postal_requisition_justification: str | None = None


class ThresholdEvidence(BaseModel):
    """§4.10: the further evidence a Threshold Test charge relies on."""

    expected: str
    due_on: date
    arrived_at: datetime | None = None


class Withdrawal(BaseModel):
    """§5.3 and §5.4: a complainant's withdrawal, the statement and the officer's report."""

    complainant_id: str
    at: datetime
    statement: dict[str, str]
    officer_report: dict[str, str]
    complaint_true: bool


class SafetyCheck(BaseModel):
    """§5.8: enquiries that a witness summons will not endanger complainant or dependents."""

    complainant_id: str
    at: datetime
    complainant_safe: bool
    children_and_dependents_safe: bool
    sources: str


class WitnessSummons(BaseModel):
    complainant_id: str
    at: datetime
    reason: str


class Hearing(BaseModel):
    kind: str = Field(pattern=r"^(first_hearing|plea|trial|sentence|order|breach)$")
    on: datetime
    court: str = ""
    listed_at: datetime | None = None


class PleaAuthority(BaseModel):
    """§7.3: the manager's authority, then the complainant's views, before a lesser plea."""

    authorised_by: str
    authorised_at: datetime
    complainant_views: str | None = None
    views_taken_at: datetime | None = None


class DraftProhibition(BaseModel):
    protected_person_id: str
    prohibitions: list[str] = Field(min_length=1)


class OrderApplication(BaseModel):
    """§9.1-§9.3: the application for a restraining order."""

    on_verdict: Verdict
    applied_at: datetime
    form: Form
    mg5_served: bool
    draft: list[DraftProhibition] = Field(min_length=1)


class RestrainingOrder(BaseModel):
    """An order made by the court, protecting one person, indefinite or to a date."""

    order_id: str
    protected_person_id: str
    conditions: list[str] = Field(min_length=1)
    made_on: date
    expires_on: date | None = None
    revoked_at: datetime | None = None
    replaces: str | None = None
    recorded_at: datetime | None = None

    def in_force_on(self, day: date) -> bool:
        return self.revoked_at is None and (self.expires_on is None or day <= self.expires_on)


class SpoApplication(BaseModel):
    """Stalking Protection Act 2019 s.1 and s.5: the police's application to a magistrates'
    court for a full or an interim stalking protection order, with or without a prosecution."""

    application_id: str
    order_type: SpoKind
    applied_on: date
    court: str = ""
    protected_person_ids: list[str] = Field(min_length=1)
    prohibitions: list[str] = Field(default_factory=list)
    requirements: list[str] = Field(default_factory=list)
    recorded_at: datetime
    determined_at: datetime | None = Field(
        default=None, description="When an order was made on it (an interim application falls "
                                  "when the full one is determined).")


class StalkingProtectionOrder(BaseModel):
    """An order the magistrates' court made: its prohibitions and requirements (s.2), and its
    end: a full order lasts at least two years or until further order (s.3); an interim one
    ends at the latest when the application for the full order is determined (s.5)."""

    order_id: str
    order_type: SpoKind
    application_id: str
    protected_person_ids: list[str] = Field(min_length=1)
    prohibitions: list[str] = Field(default_factory=list)
    requirements: list[str] = Field(default_factory=list)
    made_on: date
    ends_on: date | None = Field(default=None, description="None: until further order.")
    ended_at: datetime | None = Field(
        default=None, description="Ended before its date: an interim order when the full "
                                  "application is determined.")
    recorded_at: datetime
    # SPA 2019 s.7: whether to apply to renew or vary the order before it ends, decided for
    # the end date it had then (a renewal gives it a new end, and a new decision to make).
    review: str | None = None
    reviewed_for: date | None = None
    reviewed_at: datetime | None = None

    def in_force_on(self, day: date) -> bool:
        return self.ended_at is None and (self.ends_on is None or day <= self.ends_on)

    @property
    def awaiting_review(self) -> bool:
        """It ends on a date, and what to do before then is not decided yet."""
        return self.ended_at is None and self.ends_on is not None \
            and self.reviewed_for != self.ends_on


# The kinds of sentence that run for a term that can be consecutive or concurrent.
TERMS = frozenset({SentenceKind.CUSTODIAL, SentenceKind.SUSPENDED})


class ChargeSentence(BaseModel):
    """The sentence passed for one charge: its kind, its term, and how it runs with another.

    "16 months for stalking and 2 months for the breach, consecutive" is two of these: the
    breach's `consecutive_to` names stalking. "5 years, with 2.5 years concurrent": the
    second's `concurrent_with` names the first.
    """

    offence: Offence
    kind: SentenceKind
    months: float | None = Field(
        default=None, gt=0, le=1200,
        description="The term in months: the custodial term (served or suspended), or the "
                    "length of a community order or conditional discharge; none for a fine.")
    consecutive_to: Offence | None = Field(
        default=None, description="Runs after the sentence for this other charge.")
    concurrent_with: Offence | None = Field(
        default=None, description="Runs at the same time as the sentence for this other charge.")

    @model_validator(mode="after")
    def _term_where_it_applies(self) -> "ChargeSentence":
        if self.kind in TERMS and self.months is None:
            raise ValueError(f"A {self.kind.value} sentence needs its term in months.")
        if self.kind is SentenceKind.FINE and self.months is not None:
            raise ValueError("A fine has no term in months.")
        if self.consecutive_to is not None and self.concurrent_with is not None:
            raise ValueError("A sentence is consecutive to one charge or concurrent with one, "
                             "not both.")
        if self.kind not in TERMS and (self.consecutive_to or self.concurrent_with):
            raise ValueError(f"A {self.kind.value} runs neither consecutively nor concurrently.")
        return self

    @property
    def runs_with(self) -> Offence | None:
        return self.consecutive_to or self.concurrent_with

    def describe(self) -> str:
        """In words: "breach of a restraining order: 2 months custodial, consecutive to ..."."""
        term = f"{self.months:g} months " if self.months is not None else ""
        words = f"{OFFENCES[self.offence].title.lower()}: {term}{self.kind.value.replace('_', ' ')}"
        if self.runs_with is not None:
            how = "consecutive to" if self.consecutive_to else "concurrent with"
            words += f", {how} {OFFENCES[self.runs_with].title.lower()}"
        return words


def sentence_problem(charges: list[ChargeSentence]) -> str | None:
    """What makes a set of per-charge sentences inconsistent, in a sentence; None if nothing."""
    by_offence: dict[Offence, ChargeSentence] = {}
    for charge in charges:
        if charge.offence in by_offence:
            return f"{charge.offence.value} is sentenced twice."
        by_offence[charge.offence] = charge
    for charge in charges:
        other = charge.runs_with
        if other is None:
            continue
        if other == charge.offence:
            return f"The sentence for {charge.offence.value} cannot run with itself."
        if other not in by_offence:
            return (f"The sentence for {charge.offence.value} runs with {other.value}, which is "
                    "not sentenced here.")
        if by_offence[other].kind is not charge.kind:
            return (f"The {charge.kind.value} sentence for {charge.offence.value} can run only "
                    f"with another {charge.kind.value} sentence, not the "
                    f"{by_offence[other].kind.value} for {other.value}.")
    for charge in charges:  # each chain of "runs with" ends at a sentence that runs alone
        seen = {charge.offence}
        step = charge.runs_with
        while step is not None:
            if step in seen:
                return f"The sentences for {charge.offence.value} run with each other in a circle."
            seen.add(step)
            step = by_offence[step].runs_with
    return None


def total_term_months(charges: list[ChargeSentence],
                      kind: SentenceKind = SentenceKind.CUSTODIAL) -> float | None:
    """The whole term of the sentences of one kind: consecutive terms add up, concurrent ones
    overlap (a concurrent term starts with the one it runs with). None when there are none."""
    by_offence = {c.offence: c for c in charges}
    starts: dict[Offence, float] = {}

    def start(c: ChargeSentence) -> float:
        if c.offence not in starts:
            if c.consecutive_to is not None:
                starts[c.offence] = end(by_offence[c.consecutive_to])
            elif c.concurrent_with is not None:
                starts[c.offence] = start(by_offence[c.concurrent_with])
            else:
                starts[c.offence] = 0.0
        return starts[c.offence]

    def end(c: ChargeSentence) -> float:
        return start(c) + (c.months or 0.0)

    ends = [end(c) for c in charges if c.kind is kind]
    return round(max(ends), 2) if ends else None


class Sentencing(BaseModel):
    """The sentence passed on the case: per charge, with the total custodial term, and the
    restraining orders made or revoked with it. The free text is its summary."""

    recorded_at: datetime
    sentenced_on: date | None = None
    charges: list[ChargeSentence] = Field(default_factory=list)
    total_custodial_months: float | None = Field(
        default=None, description="The time in custody the sentences add up to.")
    orders: list[str] = Field(default_factory=list, description="Restraining orders made with it.")
    orders_revoked: list[str] = Field(default_factory=list)
    summary: str | None = None


class LinkedCase(BaseModel):
    reference: str
    relation: str
    area: str | None = None
    confidence: float | None = Field(default=None, description="P3.8: for suspect matches.")
    reasons: list[str] = Field(default_factory=list)
    history: str | None = Field(default=None, description="P4.6: what the other case holds.")


class ComplainantNotice(BaseModel):
    """A fact the complainant was told (P4.9, P6.9, P9.4) and by which means."""

    complainant_id: str
    topic: str
    at: datetime
    means: str
    shared_with: list[str] = Field(default_factory=list)


class Conduct(BaseModel):
    """G.3: conduct before, during or after a breach, online or in person."""

    when: str = Field(pattern=r"^(before|during|after)$")
    online: bool
    description: str = Field(max_length=5000)


class BreachAction(BaseModel):
    at: datetime
    action_taken: str
    further_offences_considered: str
    threshold_test_considered: str


class HistoryEntry(BaseModel):
    """One accepted action: who, when, what and why (the RECORD rules).

    The case's log: written once to the read model by case and version, never kept whole in
    the workflow (workflows/retention.py says what the workflow keeps).
    """

    version: int
    at: datetime
    actor: Actor
    action: str
    summary: str
    reasons: str | None = None
    detail: str | None = Field(
        default=None, description="What the action recorded, as JSON, where the case file keeps "
                                  "only the latest of its kind (notes, descriptions, views).")
    request_id: str | None = Field(default=None, description="The request that applied it.")
    state_before: CaseState
    state_after: CaseState
    rules: list[str] = Field(default_factory=list)


class CaseFile(BaseModel):
    """The case's facts as the workflow holds them; the query returns it.

    Bounded by what the guards and deadlines read, not by how much has happened: the log of
    every action (with its reasons and free text) lives in the read model, and the lists that
    grow with each action keep only their latest entries (workflows/retention.py).
    """

    reference: str
    police_area: str
    cps_area: str
    stalking: bool
    domestic_abuse: bool
    complex: bool = False
    state: CaseState = CaseState.INVESTIGATION
    outcome: Outcome | None = None
    opened_at: datetime
    state_since: datetime
    version: int = 0
    suspects: list[Suspect] = Field(default_factory=list)
    complainants: list[Complainant] = Field(default_factory=list)
    candidate_offences: list[CandidateOffence] = Field(default_factory=list)
    last_act_on: date | None = None
    charges: list[Offence] = Field(default_factory=list)
    evidence_checklist: dict[str, ChecklistItem] = Field(default_factory=dict)
    suspect_account: dict[str, str] = Field(default_factory=dict)
    stalking_considered: Reasoned | None = None
    multi_agency: MultiAgencyReferral | None = None
    pin_issued: bool = False
    bail: Bail | None = None
    incidents: list[Incident] = Field(default_factory=list)
    referral: Referral | None = None
    history_considered: HistoryConsidered | None = None
    decisions: list[ChargingDecision] = Field(default_factory=list)
    action_plan: list[ActionPlanItem] = Field(default_factory=list)
    threshold_evidence: ThresholdEvidence | None = None
    withdrawals: list[Withdrawal] = Field(default_factory=list)
    proceed_decision: Reasoned | None = None
    safety_checks: list[SafetyCheck] = Field(default_factory=list)
    witness_summonses: list[WitnessSummons] = Field(default_factory=list)
    guilty_plea_indicated: bool = False
    hearings: list[Hearing] = Field(default_factory=list)
    plea_authority: PleaAuthority | None = None
    lesser_plea_accepted: Reasoned | None = None
    advocate_introduced_at: datetime | None = None
    verdict: Verdict | None = None
    # P6.8: the first plea or verdict action (the addendum VPS counts from it on conviction).
    pleas_or_verdict_at: datetime | None = None
    sentence: str | None = Field(default=None, description="The sentence in words.")
    sentencing: Sentencing | None = Field(default=None, description="The sentence per charge.")
    order_application: OrderApplication | None = None
    details_reverified_at: datetime | None = None
    orders: list[RestrainingOrder] = Field(default_factory=list)
    spo_applications: list[SpoApplication] = Field(default_factory=list)
    stalking_protection_orders: list[StalkingProtectionOrder] = Field(default_factory=list)
    linked_cases: list[LinkedCase] = Field(default_factory=list)
    repeat_perpetrator: bool = Field(
        default=False, description="P3.8: the suspect is very likely in other cases too.")
    notices: list[ComplainantNotice] = Field(default_factory=list)
    conduct: list[Conduct] = Field(default_factory=list)
    breach_actions: list[BreachAction] = Field(default_factory=list)
    policy: DeadlinePolicy = Field(default_factory=DeadlinePolicy)
    deadlines: list[Deadline] = Field(
        default_factory=list, description="Open deadlines, derived from the facts above.")
    deadline_marks: dict[str, DeadlineMarks] = Field(default_factory=dict)
    # NewCase.fingerprint() of what opened it ("" for cases opened before it was kept).
    opened_with: str = ""
    # How many actions of each kind the case has taken (workflows/retention.py), e.g. 3,000
    # evidence items although the file keeps the latest few.
    recorded: dict[str, int] = Field(default_factory=dict)
    # The named people of the case, by role (TEAM_ROLES): a deadline owned by a role is owned
    # by the person named for it, so a reassignment moves every open deadline with it.
    team: dict[Role, TeamMember] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _from_a_file_with_its_whole_history(cls, data: Any) -> Any:
        """Files written before the log left the workflow carried every history entry: the
        facts the deadlines read from it are derived once, and the entries dropped (they were
        projected to the read model by the run that wrote them)."""
        if not isinstance(data, dict) or "history" not in data:
            return data
        data = dict(data)
        history = data.pop("history") or []
        data.setdefault("pleas_or_verdict_at", next(
            (h["at"] for h in history
             if h.get("action") in ("enter_pleas", "record_verdict", "accept_lesser_plea")), None))
        decided = [h["at"] for h in history if h.get("action") == "record_proceed_decision"]
        if decided and isinstance(data.get("proceed_decision"), dict):
            data["proceed_decision"] = {**data["proceed_decision"], "at": decided[-1]}
        return data

    def complainant(self, complainant_id: str) -> Complainant | None:
        return next((c for c in self.complainants if c.complainant_id == complainant_id), None)

    def orders_in_force(self, day: date) -> list[RestrainingOrder]:
        return [o for o in self.orders if o.in_force_on(day)]

    def spo(self, order_id: str) -> StalkingProtectionOrder | None:
        return next((o for o in self.stalking_protection_orders if o.order_id == order_id), None)

    @property
    def latest_decision(self) -> ChargingDecision | None:
        return self.decisions[-1] if self.decisions else None


class OrderInForce(BaseModel):
    """An order of the case as managers see it: which, whom it protects (by id), its dates.
    Never its conditions: they name streets and people."""

    order_id: str
    kind: str = Field(description="restraining_order or stalking_protection_order")
    protected_person_ids: list[str]
    made_on: date
    ends_on: date | None = None

    def in_force_on(self, day: date) -> bool:
        return self.ends_on is None or day <= self.ends_on


class CaseFacts(BaseModel):
    """What lists and managers' views show of a case (its row in the read model): small, with
    no personal data. `case_facts` makes it; each action's answer carries it."""

    reference: str
    police_area: str
    cps_area: str
    state: CaseState
    outcome: Outcome | None = None
    stalking: bool
    domestic_abuse: bool
    version: int
    opened_at: datetime
    state_since: datetime
    complainants: int
    charges: list[Offence]
    linked_cases: list[str]
    next_deadline: datetime | None = None
    overdue: bool = False
    orders_made: int = 0
    breaches: int = 0
    team: dict[str, str] = Field(default_factory=dict,
                                 description="The case team: role -> the named user's id.")
    # Added after cases were running: defaults only, so every answer already in a workflow's
    # history still reads (tests/test_replay.py).
    risk_level: RiskLevel | None = Field(
        default=None, description="The highest latest risk level of the case's complainants.")
    repeat_perpetrator: bool = False
    orders_in_force: list[OrderInForce] = Field(
        default_factory=list, description="Orders neither revoked nor ended early; one whose "
                                          "end date has passed is no longer in force.")


# Lowest to highest: a case is as risky as its most at-risk complainant.
RISK_ORDER = (RiskLevel.STANDARD, RiskLevel.MEDIUM, RiskLevel.HIGH)


def highest_risk(case: CaseFile) -> RiskLevel | None:
    """The highest of the complainants' latest risk levels (an older, higher one is replaced
    by the reassessment)."""
    latest = [r.level for c in case.complainants if (r := c.latest_risk()) is not None]
    return max(latest, key=RISK_ORDER.index) if latest else None


def orders_in_force(case: CaseFile) -> list[OrderInForce]:
    """Restraining orders not revoked and stalking protection orders not ended, with their
    end dates (the reader decides by its own day whether one has run out)."""
    return [OrderInForce(order_id=o.order_id, kind="restraining_order",
                         protected_person_ids=[o.protected_person_id], made_on=o.made_on,
                         ends_on=o.expires_on)
            for o in case.orders if o.revoked_at is None] + [
        OrderInForce(order_id=o.order_id, kind="stalking_protection_order",
                     protected_person_ids=list(o.protected_person_ids), made_on=o.made_on,
                     ends_on=o.ends_on)
        for o in case.stalking_protection_orders if o.ended_at is None]


def orders_made(case: CaseFile) -> int:
    """Every order the case has made (the file keeps only the latest ended ones)."""
    return max(case.recorded.get("orders_made", 0), len(case.orders))


def case_facts(case: CaseFile) -> CaseFacts:
    return CaseFacts(
        reference=case.reference, police_area=case.police_area, cps_area=case.cps_area,
        state=case.state, outcome=case.outcome, stalking=case.stalking,
        domestic_abuse=case.domestic_abuse, version=case.version, opened_at=case.opened_at,
        state_since=case.state_since, complainants=len(case.complainants),
        charges=list(case.charges), linked_cases=[link.reference for link in case.linked_cases],
        next_deadline=case.deadlines[0].due_at if case.deadlines else None,
        overdue=any(case.deadline_marks[d.deadline_id].escalated_at for d in case.deadlines
                    if d.deadline_id in case.deadline_marks),
        # Counted over the case's whole life: the file keeps only the latest orders and breaches.
        orders_made=orders_made(case),
        team={role.value: member.user_id for role, member in case.team.items()},
        risk_level=highest_risk(case), repeat_perpetrator=case.repeat_perpetrator,
        orders_in_force=orders_in_force(case),
        breaches=max(case.recorded.get("report_order_breach", 0)
                     + case.recorded.get("report_stalking_protection_order_breach", 0),
                     sum(1 for i in case.incidents if i.kind == "order_breach")))
